"""The MkDocs hook of the documentation site: the pages made from the repository, the
checked examples, and the checks that the built site stands on its own.

- The definition and provenance references are rendered from their JSON Schemas
  (``schema/``), the C API reference from the doc comments of ``include/caas.h``, the
  command-line reference from the ``caas`` command's own parser, and the Rust API page links
  the ``cargo doc`` output, which the build copies into the site under ``rust/``.
- A fenced block of the language ``caas-examples`` holds ``expression => value`` lines; each
  expression is evaluated by the engine and the build fails where the value differs. A
  block of ``caas-errors`` holds expressions shown with the message the engine refuses
  them with, and one of ``caas-shell`` commands run in a copy of ``docs/examples/asthma``,
  shown with their output (a command that fails fails the build).
- The built site must work offline: the notebook renderer's loaders of MathJax and Mermaid
  (which the tutorial does not use) are removed, and any page that loads something from
  elsewhere, or links outside the site, fails the build.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[2]
RUST_DOCS = ROOT / "target" / "doc"
#: The crates whose API the Rust page links, as `cargo doc` names their folders.
RUST_CRATES = {
    "caas_core": "the engine",
    "caas_ffi": "the C ABI (its Rust side)",
    "caas_synth": "the synthetic population generator",
}


# Generated pages -------------------------------------------------------------------------


def on_files(files: Files, config: MkDocsConfig) -> Files:
    pages = {
        "reference/definition.md": schema_page(
            ROOT / "schema" / "cohort-definition.schema.json",
            "Cohort definition",
            "A cohort definition is one YAML or JSON document. This reference is generated "
            "from its JSON Schema, `schema/cohort-definition.schema.json`, which is generated "
            "from the engine's own types; the [expression language](expressions.md) of rules, "
            "derived variables and window bounds has a page of its own.",
        ),
        "reference/provenance.md": schema_page(
            ROOT / "schema" / "provenance.schema.json",
            "Provenance manifest",
            "Every evaluation writes a provenance manifest (`result.provenance_json` in "
            "Python, `caas_result_provenance_json` in C, `provenance.json` beside a report): "
            "what was run, over which inputs, and what came out. This reference is generated "
            "from its JSON Schema, `schema/provenance.schema.json`.",
        ),
        "reference/c-api.md": header_page(ROOT / "include" / "caas.h"),
        "reference/rust.md": rust_page(),
        "reference/cli.md": cli_page(),
    }
    for path, content in pages.items():
        files.append(File.generated(config, path, content=content))
    return files


def _anchor(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _cell(text: str) -> str:
    """Text for a table cell: paragraphs kept, lines joined, pipes escaped."""
    paragraphs = [" ".join(p.split("\n")) for p in text.strip().split("\n\n")]
    return "<br><br>".join(paragraphs).replace("|", "\\|")


class SchemaRenderer:
    """A JSON Schema (as schemars writes them) as Markdown: the document's fields, then each
    definition in the order the document first refers to it."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = schema.get("$defs", {})

    def link(self, ref: str) -> str:
        name = ref.rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"

    def type_of(self, node: dict[str, Any]) -> str:
        if "$ref" in node:
            return self.link(node["$ref"])
        if "const" in node:
            return f"`{json.dumps(node['const'])}`"
        for key in ("anyOf", "oneOf"):
            if key in node:
                options = [o for o in node[key] if o.get("type") != "null"]
                return " or ".join(dict.fromkeys(self.type_of(o) for o in options))
        types = node.get("type", [])
        types = [t for t in ([types] if isinstance(types, str) else types) if t != "null"]
        shown = []
        for t in types:
            if t == "array":
                shown.append(f"list of {self.type_of(node.get('items', {}))}")
            elif t == "object" and isinstance(node.get("additionalProperties"), dict):
                shown.append(f"map of names to {self.type_of(node['additionalProperties'])}")
            else:
                shown.append(
                    {
                        "string": "text",
                        "integer": "whole number",
                        "number": "number",
                        "boolean": "`true` or `false`",
                        "object": "object",
                    }[t]
                )
        if not shown:
            raise PluginError(f"schema: no type in {node}")
        return " or ".join(shown)

    def properties(self, node: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
        required = set(node.get("required", []))
        names = sorted(
            (n for n in node.get("properties", {}) if n not in skip),
            key=lambda n: (n not in required, n),
        )
        rows = ["| Field | Type | Required | Description |", "|---|---|---|---|"]
        for name in names:
            prop = node["properties"][name]
            description = prop.get("description", "")
            if "description" not in prop and "$ref" in prop:
                description = self.defs[prop["$ref"].rsplit("/", 1)[-1]].get("description", "")
            if prop.get("default") not in (None, {}, []):
                description += f"\n\nDefault: `{json.dumps(prop['default'])}`."
            if not description:
                raise PluginError(f"schema: the field `{name}` has no description")
            rows.append(
                f"| `{name}` | {self.type_of(prop)} | {'yes' if name in required else ''} "
                f"| {_cell(description)} |"
            )
        return rows

    def definition(self, name: str, node: dict[str, Any]) -> list[str]:
        out = [f"## {name} {{#{_anchor(name)}}}", "", node.get("description", ""), ""]
        variants = node.get("oneOf", [])
        if variants and all("const" in v for v in variants):
            out += ["| Value | Meaning |", "|---|---|"]
            out += [f"| `{v['const']}` | {_cell(v.get('description', ''))} |" for v in variants]
        elif variants and all("kind" in v.get("properties", {}) for v in variants):
            for v in variants:
                kind = v["properties"]["kind"]["const"]
                out += [f"### `kind: {kind}` {{#{_anchor(name + '-' + kind)}}}", ""]
                out += [v.get("description", ""), ""]
                if set(v.get("properties", {})) - {"kind"}:
                    out += self.properties(v, skip=("kind",))
                out.append("")
        elif "anyOf" in node:
            for option in node["anyOf"]:
                out.append(f"- {self.type_of(option)}: {option.get('description', '')}")
        else:
            out += self.properties(node)
        return [*out, ""]

    def order(self) -> list[str]:
        """The definitions, breadth first from the document."""
        found: list[str] = []
        queue = [self.schema]
        while queue:
            for ref in re.findall(r'"#/\$defs/(\w+)"', json.dumps(queue.pop(0))):
                if ref not in found:
                    found.append(ref)
                    queue.append(self.defs[ref])
        return found

    def render(self, title: str, intro: str) -> str:
        out = [f"# {title}", "", intro, "", "## The document {#the-document}", ""]
        out += [self.schema.get("description", ""), "", *self.properties(self.schema), ""]
        for name in self.order():
            out += self.definition(name, self.defs[name])
        return "\n".join(out)


def schema_page(path: Path, title: str, intro: str) -> str:
    return SchemaRenderer(json.loads(path.read_text(encoding="utf-8"))).render(title, intro)


# The C header ------------------------------------------------------------------------------

DOC_COMMENT = re.compile(r"^/\*\*\n(.*?)\n \*/\n", re.MULTILINE | re.DOTALL)
PROTOTYPE = re.compile(r"^[a-z].*?\b(caas_\w+)\(", re.MULTILINE)
#: The sections of the C reference, by the prefix of a function's name.
C_GROUPS = [
    ("caas_engine_", "Engine"),
    ("caas_cohort_", "Cohort"),
    ("caas_result_", "Result"),
    ("caas_", "Library, strings and errors"),
]


def _comment_markdown(body: str, indent: str = " ") -> str:
    lines = [re.sub(rf"^{indent}\* ?", "", line) for line in body.split("\n")]
    # Rust-style sections (`# Safety`) are paragraphs here, not page headings.
    return "\n".join(re.sub(r"^# (.+)$", r"**\1**", line) for line in lines).strip()


def _declaration(text: str, start: int) -> tuple[str, int]:
    """The declaration that starts at `start`: a `#define` line, or text to the `;` that
    ends it outside braces. Returns it and where it ends."""
    if text.startswith("#define", start):
        end = text.index("\n", start)
        return text[start:end], end
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if text[i] == ";" and depth == 0:
            return text[start : i + 1], i + 1
    raise PluginError("caas.h: a declaration does not end")


def _enum_variants(declaration: str) -> list[tuple[str, str]]:
    """The (name, comment) of each variant of an enum declaration."""
    body = declaration[declaration.index("{") + 1 : declaration.rindex("}")]
    variants = re.findall(r"/\*\*\n(.*?)\n\s*\*/\s*(\w+)\s*=", body, re.DOTALL)
    return [(name, _comment_markdown(doc, indent=r"\s*")) for doc, name in variants]


def header_page(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    overview = re.match(r"/\*\n(.*?)\n \*/", text, re.DOTALL)
    if overview is None:
        raise PluginError("caas.h: no overview comment at the top")
    entries: list[tuple[str, str, str]] = []  # (name, declaration, comment)
    for match in DOC_COMMENT.finditer(text):
        declaration, _ = _declaration(text, match.end())
        # A macro, a type or variable, a function, or a typedef of a function pointer.
        name_match = re.search(
            r"^#define (\w+)|(\w+);$|\b(caas_\w+)\(|^typedef \w+ \(\*(\w+)\)",
            declaration,
            re.MULTILINE,
        )
        if name_match is None:
            raise PluginError(f"caas.h: cannot name the declaration {declaration!r}")
        name = next(g for g in name_match.groups() if g)
        entries.append((name, declaration, _comment_markdown(match.group(1))))
    documented = {name for name, _, _ in entries}
    undocumented = sorted(set(PROTOTYPE.findall(text)) - documented)
    if undocumented:
        raise PluginError(f"caas.h: functions without a doc comment: {undocumented}")
    variants = [v for _, d, _ in entries if d.startswith("typedef enum") for v in _enum_variants(d)]
    known = documented | {name for name, _ in variants}

    def linked(markdown: str) -> str:
        return re.sub(
            r"`(\w+)(\(\))?`",
            lambda m: f"[`{m[0][1:-1]}`](#{m[1]})" if m[1] in known else m[0],
            markdown,
        )

    def section(name: str, declaration: str, comment: str) -> list[str]:
        # An enum's variants are described in a table of their own, not in its code.
        code = re.sub(r"\s*/\*\*.*?\*/", "", declaration, flags=re.DOTALL)
        out = [f"### `{name}` {{#{name}}}", "", "```c", code, "```", ""]
        out += [linked(comment), ""]
        if declaration.startswith("typedef enum"):
            out += ["| Value | Meaning |", "|---|---|"]
            for variant, doc in _enum_variants(declaration):
                out.append(f'| <span id="{variant}"></span>`{variant}` | {_cell(linked(doc))} |')
            out.append("")
        return out

    out = [
        "# C API",
        "",
        (
            "The C library `libcaas` and its header `include/caas.h` expose the engine "
            "through opaque handles, JSON text and the Arrow C Data and C Stream interfaces. "
            "This reference is generated from the header's doc comments, which the header "
            "carries from the library's source."
        ),
        "",
        _comment_markdown(overview.group(1)).replace("caas.h — ", "`caas.h`: ", 1),
        "",
        "## Constants and types",
        "",
    ]
    functions = [e for e in entries if not e[1].startswith(("#define", "typedef"))]
    for entry in entries:
        if entry not in functions:
            out += section(*entry)
    for prefix, title in C_GROUPS:
        group = [e for e in functions if e[0].startswith(prefix)]
        functions = [e for e in functions if e not in group]
        out += [f"## {title}", ""]
        for entry in group:
            out += section(*entry)
    return "\n".join(out)


# The Rust API and the command line --------------------------------------------------------


def rust_page() -> str:
    out = [
        "# Rust API",
        "",
        (
            "The engine is the Rust crate `caas-core`; its API documentation is made by "
            "`cargo doc --workspace --no-deps` (which CI runs with warnings as errors) and "
            "copied into this site."
        ),
        "",
    ]
    crates = [c for c in RUST_CRATES if (RUST_DOCS / c / "index.html").is_file()]
    if not crates:
        out.append(
            "This build of the site has no Rust API: run `cargo doc --workspace --no-deps` "
            "before `bash scripts/docs.sh` to include it."
        )
    for crate in crates:
        # Raw HTML: the target is copied in after the pages are built, so MkDocs cannot
        # check it as it checks links to pages.
        out.append(f'- <a href="../../rust/{crate}/index.html">`{crate}`</a>: {RUST_CRATES[crate]}')
    return "\n".join(out) + "\n"


def cli_page() -> str:
    import argparse

    from caas import cli

    # Help text wrapped as on a terminal 100 columns wide, whatever runs the build.
    os.environ["COLUMNS"] = "100"
    parser = cli.parser()
    # The module's own account of the command, less its synopsis: the help below has it.
    prose = [
        p.replace("``", "`")
        for p in (cli.__doc__ or "").strip().split("\n\n")
        if not p.startswith(("::", " "))
    ]
    out = ["# Command line", "", *prose, "", "```text", parser.format_help().strip(), "```", ""]

    def commands(parser: argparse.ArgumentParser, level: int) -> Iterator[str]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from [f"{'#' * level} `{sub.prog}`", "", "```text"]
                    yield from [sub.format_help().strip(), "```", ""]
                    yield from commands(sub, level + 1)

    return "\n".join([*out, *commands(parser, 2)])


# Checked examples -------------------------------------------------------------------------

EXAMPLES = re.compile(r"^```caas-(examples|errors|shell)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
#: The folder that the commands of `caas-shell` blocks run in, a fresh copy for each page.
SHELL_FOLDER = ROOT / "docs" / "examples" / "asthma"
MARK = "\x1e"


def _expected(text: str) -> Any:
    """An example's value as written: `missing`, `true`/`false`, a date, a number or
    quoted text."""
    if text == "missing":
        return None
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        return dt.date.fromisoformat(text)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    if re.fullmatch(r"'.*'", text):
        return text[1:-1]
    raise PluginError(f"an example's value {text!r} is not a value the examples write")


def _shown(value: Any) -> str:
    """A value as the page shows it: text quoted, as written in expressions."""
    if value is None:
        return "*missing*"
    if isinstance(value, str):
        return f"`'{value}'`"
    return f"`{str(value).lower()}`"


def _evaluate(expressions: list[str]) -> list[Any]:
    """Each expression's value for one person, as a derived variable `example` of a
    definition in which `index_date` is 2026-03-31, `dob` 1950-06-15 and `unknown` and
    `missing` are a boolean and a whole number whose values are missing (the page says so);
    an expression that the engine refuses gives its `caas.CaasError`."""
    import pyarrow as pa

    import caas

    engine = caas.Engine()
    person = {
        "person_id": pa.array([1]),
        "dob": pa.array([dt.date(1950, 6, 15)]),
        "unknown": pa.array([None], pa.bool_()),
        "missing": pa.array([None], pa.int64()),
    }
    engine.register("persons", pa.table(person), role="person")
    columns = {n: {"kind": "person_column", "column": n} for n in person if n != "person_id"}
    values: list[Any] = []
    for expression in expressions:
        document = {
            "id": "examples",
            "title": "Examples",
            "purpose": "direct_care",
            "parameters": {"index_date": "2026-03-31"},
            "variables": {**columns, "example": {"kind": "derived", "expr": expression}},
            "output": {"columns": ["example"]},
        }
        # A person column's type is known once the table is seen: some errors come from
        # reading the definition, others from evaluating it.
        try:
            result = engine.evaluate(caas.Cohort.from_dict(document))
        except caas.CaasError as err:
            values.append(err)
            continue
        values.append(result.members.column("example")[0].as_py())
    return values


def _examples_table(block: str, where: str) -> str:
    """`expression => value # note` lines as a table, each value checked."""
    cases = []
    for line in filter(str.strip, block.split("\n")):
        expression, _, rest = line.rpartition(" => ")
        value, _, note = rest.partition(" # ")
        if not expression:
            raise PluginError(f"{where}: an example is `expression => value`: {line!r}")
        cases.append((expression.strip(), value.strip(), note.strip()))
    rows = ["| Expression | Value | |", "|---|---|---|"]
    for (expression, value, note), actual in zip(cases, _evaluate([c[0] for c in cases])):
        if value.startswith("error: "):
            code = value.removeprefix("error: ")
            wrong = getattr(actual, "code", None) != code
            shown = f"error `{code}`"
        else:
            wanted = _expected(value)
            wrong = actual != wanted or type(actual) is not type(wanted)
            shown = _shown(wanted)
        if wrong:
            raise PluginError(f"{where}: the example `{expression}` gives {actual!r}, not {value}")
        rows.append(f"| `{expression}` | {shown} | {_cell(note)} |")
    return "\n".join(rows) + "\n"


def _errors_block(block: str, where: str) -> str:
    """Expressions that the engine refuses, each shown with the engine's message."""
    messages = []
    expressions = [line.strip() for line in filter(str.strip, block.split("\n"))]
    for expression, actual in zip(expressions, _evaluate(expressions)):
        if not isinstance(actual, Exception):
            raise PluginError(f"{where}: the example `{expression}` is not an error")
        messages.append(str(actual))
    return "```text\n" + "\n".join(messages) + "\n```\n"


def _shell_block(block: str, where: str, folder: Path) -> str:
    """Commands run in `folder`, each shown with what it printed. A command that fails
    fails the build."""
    lines = [line for line in block.split("\n") if line.strip()]
    script = ["set -euo pipefail"]
    for i, line in enumerate(lines):
        # A marker before each command's output, on a line of its own.
        script += [f"printf '\\n{MARK}%d\\n' {i}", line]
    # `caas` and `python` are those of the environment that builds the site.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        check=False,
        cwd=folder,
        env={**os.environ, "PATH": path},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise PluginError(f"{where}: the commands failed:\n{done.stdout}")
    outputs = dict.fromkeys(range(len(lines)), "")
    for part in done.stdout.split(f"\n{MARK}")[1:]:
        number, _, output = part.partition("\n")
        outputs[int(number)] = output.rstrip()
    shown = []
    for i, line in enumerate(lines):
        shown += [line] if line.startswith("#") else [f"$ {line}", outputs[i]]
    return "```console\n" + "\n".join(s for s in shown if s) + "\n```\n"


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    where = page.file.src_uri
    # A code formatter run over the pages reads a snippet line as Python and spaces it out,
    # and the snippet is then shown as text instead of included.
    if re.search(r"^--8 +< +--", markdown, re.MULTILINE):
        raise PluginError(f'{where}: a snippet line reformatted: write --8<-- "file"')
    if "```caas-" not in markdown:
        return markdown
    with tempfile.TemporaryDirectory(prefix="caas-docs-") as scratch:
        folder = Path(scratch) / SHELL_FOLDER.name
        shutil.copytree(SHELL_FOLDER, folder, ignore=shutil.ignore_patterns("__pycache__"))
        render = {
            "examples": _examples_table,
            "errors": _errors_block,
            "shell": lambda block, where: _shell_block(block, where, folder),
        }
        return EXAMPLES.sub(lambda m: render[m.group(1)](m.group(2), where), markdown)


# The site on its own -----------------------------------------------------------------------

#: Script tags that nbconvert's templates always write, for notebooks with formulas or
#: Mermaid diagrams, loading from a CDN.
CDN_SCRIPTS = re.compile(
    r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->"
    r"|<script type=\"module\">\s*document\.addEventListener\(\"DOMContentLoaded\", "
    r"async \(\) => \{\s*const diagrams = .*?</script>",
    re.DOTALL,
)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri.endswith(".ipynb"):
        return CDN_SCRIPTS.sub("", html)
    return html


#: An attribute that loads a resource or links a page, with an address outside the site.
EXTERNAL = re.compile(
    r"""<(\w+)\b[^>]*?\s(src|href|srcset|poster|data)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]*)""",
    re.IGNORECASE,
)
CSS_IMPORT = re.compile(r"""(?:@import|url\()\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def _external(path: Path, links_too: bool) -> Iterator[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    for tag, attribute, address in EXTERNAL.findall(text):
        hyperlink = tag.lower() == "a" and attribute.lower() == "href"
        if links_too or not hyperlink:
            yield f"<{tag} {attribute}={address}>"
    if CSS_IMPORT.search(text):
        yield "a stylesheet that loads from elsewhere"


def on_post_build(config: MkDocsConfig) -> None:
    site = Path(config.site_dir)
    for crate in RUST_CRATES:
        if (RUST_DOCS / crate / "index.html").is_file():
            shutil.copytree(RUST_DOCS, site / "rust", dirs_exist_ok=True)
            break
    problems = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        relative = path.relative_to(site)
        # rustdoc links the standard library's documentation online; those are links to
        # read, not resources the pages need.
        links_too = relative.parts[0] != "rust"
        problems += [f"{relative}: {p}" for p in _external(path, links_too)]
    if problems:
        raise PluginError(
            "the site must work offline and link only to itself:\n  " + "\n  ".join(problems)
        )
