"""A griffe extension that reads the package's reStructuredText-flavoured docstrings as the
Markdown mkdocstrings renders, and leaves classes' special members out of the reference.

The docstrings are written for ``help()`` and doctest: Sphinx roles (``:class:`Cohort```)
name other objects, and a paragraph ending in ``::`` introduces an indented example. Here a
role becomes a link to the object where the reference renders it (and inline code where it
does not), and each example becomes a fenced, highlighted block.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|exc|obj):`~?([^`]+)`")
DIRECTIVE = re.compile(r"^::: +(\S+)", re.MULTILINE)


class SphinxRoles(griffe.Extension):
    """Rewrites roles and ``::`` examples. ``pages`` is the folder of the Python reference's
    pages: a role links only to what their ``:::`` directives render."""

    def __init__(self, pages: str = "docs/reference/python") -> None:
        self.modules = sorted(
            {m for page in Path(pages).glob("*.md") for m in DIRECTIVE.findall(page.read_text())}
        )

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        rendered = set()
        for module in self.modules:
            name = module.removeprefix(f"{pkg.name}.")
            root = pkg if module == pkg.name else pkg.get_member(name)
            rendered.update(_public_paths(root, top=True))
        for obj in _objects(pkg):
            if obj.is_class:
                # Special members (`__repr__`, `__slots__`...) are how a class works, not
                # what it offers; the constructor's parameters are shown with the class.
                for name in [n for n in obj.members if n.startswith("__") and n != "__init__"]:
                    obj.del_member(name)
            if obj.docstring is not None:
                obj.docstring.value = _fence_examples(
                    ROLE.sub(partial(_role, obj, pkg, rendered), obj.docstring.value)
                )


def _objects(obj: griffe.Object) -> list[griffe.Object]:
    """``obj`` and every object defined in it (not the names it imports)."""
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_objects(member))  # type: ignore[arg-type]
    return found


def _target(obj: griffe.Object | griffe.Alias) -> griffe.Object | None:
    """The object an alias finally names (``None`` outside the package), or ``obj``."""
    if not obj.is_alias:
        return obj  # type: ignore[return-value]
    try:
        return obj.final_target  # type: ignore[return-value]
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _public_paths(module: griffe.Object, top: bool) -> set[str]:
    """The canonical paths of what a rendered module shows: its public members, and theirs."""
    paths = {module.path} if top else set()
    for member in module.members.values():
        if member.name.startswith("_") or (top and not member.is_public):
            continue
        target = _target(member)
        if target is not None:
            paths.add(target.path)
            if target.is_class:
                paths.update(_public_paths(target, top=False))
    return paths


def _role(obj: griffe.Object, pkg: griffe.Module, rendered: set[str], match: re.Match[str]) -> str:
    """A role's text as a link where the reference renders its object, else as code."""
    name = match[1]
    first, _, rest = name.partition(".")
    try:
        path = pkg.path if first == pkg.name else obj.resolve(first)
    except griffe.NameResolutionError:
        return f"`{name}`"
    target: griffe.Object | None = pkg
    for part in [*path.split(".")[1:], *(rest.split(".") if rest else [])]:
        member = target.members.get(part) if target is not None else None
        target = _target(member) if member is not None else None
    if target is None or target.path not in rendered:
        return f"`{name}`"
    return f"[`{name}`][{target.path}]"


def _fence_examples(text: str) -> str:
    """Each example as a fenced block: the indented block after a paragraph ending in ``::``
    (which becomes ``:``), and each doctest session (``pycon``), indented or not."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out.extend(_fenced(block))
            continue
        if not line.rstrip().endswith("::"):
            out.append(line)
            i += 1
            continue
        # A lone `::` introduces the block silently; after text it reads as a colon.
        out.append("" if line.strip() == "::" else line.rstrip()[:-1])
        i += 1
        while i < len(lines) and not lines[i].strip():
            i += 1
        block = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
            block.append(lines[i])
            i += 1
        while block and not block[-1].strip():
            block.pop()
        if block:
            out.extend(_fenced(block))
    return "\n".join(out)


def _fenced(block: list[str]) -> list[str]:
    """Lines of code as a fenced block, dedented."""
    indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
    code = [b[indent:] for b in block]
    language = "pycon" if code[0].startswith(">>>") else "python"
    return ["", f"```{language}", *code, "```", ""]
