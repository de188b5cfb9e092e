"""The flagship example shipped with the package: the seasonal flu cohort of
``examples/flu`` (its definition and codelists), embedded in the compiled module."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from . import _caas

__all__ = ["flu_definition", "flu_folder"]


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "caas"


def flu_folder(directory: str | os.PathLike[str] | None = None) -> Path:
    """Writes the flu example (``flu.yaml`` and ``codelists/``) into ``directory``, by
    default a folder of the user's cache named after the files' content, and returns it.
    Files already there with the same content are left alone."""
    files = _caas.example_files()
    if directory is None:
        digest = hashlib.sha256()
        for name, content in files:
            digest.update(name.encode())
            digest.update(content)
        folder = _cache_root() / f"flu-{digest.hexdigest()[:12]}"
    else:
        folder = Path(directory)
    for name, content in files:
        target = folder / name
        if target.exists() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed, so a concurrent reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(content)
        os.replace(tmp.name, target)
    return folder


def flu_definition(directory: str | os.PathLike[str] | None = None) -> Path:
    """The path of the flu example's definition, written out by :func:`flu_folder`."""
    return flu_folder(directory) / "flu.yaml"
