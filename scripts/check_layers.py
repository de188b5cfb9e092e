#!/usr/bin/env python3
"""Checks that caas-core's top-level modules form layers: each module may import only the
modules listed before it in LAYERS, so the imports form no cycle and none runs up.

An import is any `crate::name` path in code (not in comments), including names that
`lib.rs` re-exports, which count as imports of the module they come from. Unit tests at
the end of a file (from `#[cfg(test)]` on) are exempt: they may drive the whole engine.

Usage: python3 scripts/check_layers.py   (exit status 1 and the offending imports if any)
"""

import re
import sys
from pathlib import Path

# Lowest first: the order in which a definition flows through the engine.
LAYERS = [
    "vocabulary",
    "error",
    "limits",
    "runtime",
    "nhs",
    "codelist",
    "model",
    "source",
    "compile",
    "execute",
    "results",
    "assure",
    "engine",
]

SRC = Path(__file__).resolve().parent.parent / "caas-core" / "src"


def code_lines(path: Path):
    """The lines of a file without comments, up to its unit tests."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip() == "#[cfg(test)]":
            return
        code = line.split("//", 1)[0]
        if code.strip():
            yield number, code


def top_module(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs")


def reexports() -> dict[str, str]:
    """Names that lib.rs re-exports, mapped to the top-level module they come from."""
    names: dict[str, str] = {}
    text = SRC.joinpath("lib.rs").read_text()
    for match in re.finditer(r"pub use (\w+)::(?:\{([^}]*)\}|(\w+))", text):
        module, group, single = match.groups()
        for item in (group or single).split(","):
            item = item.strip().split("::")[-1].replace("self", "").strip("{} ")
            if item:
                names[item] = module
    return names


def imported_names(code: str):
    """The first segment of every `crate::` path on a line, `crate::{a, b::c}` included."""
    for match in re.finditer(r"crate::(\{[^}]*\}|\w+)", code):
        segment = match.group(1)
        if segment.startswith("{"):
            for item in segment.strip("{}").split(","):
                head = item.strip().split("::")[0]
                if head:
                    yield head
        else:
            yield segment


def main() -> int:
    exported = reexports()
    rank = {name: i for i, name in enumerate(LAYERS)}
    problems = []
    for path in sorted(SRC.rglob("*.rs")):
        module = top_module(path)
        if module == "lib":
            continue
        if module not in rank:
            problems.append(f"{path.relative_to(SRC)}: module `{module}` is not in LAYERS")
            continue
        # `use crate::{...}` may span lines: join them before matching.
        text = " ".join(code for _, code in code_lines(path))
        for name in sorted(set(imported_names(text))):
            target = name if name in rank else exported.get(name)
            if target is None or target == module:
                continue
            if rank[target] > rank[module]:
                problems.append(
                    f"{path.relative_to(SRC)}: `{module}` imports `{name}` from `{target}`, "
                    f"a layer above it"
                )
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} import(s) against the layers {' < '.join(LAYERS)}")
        return 1
    print(f"layers hold: {' < '.join(LAYERS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
