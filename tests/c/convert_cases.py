"""Lays out the conformance cases as plain files that the C runner reads without a YAML parser.

Usage: python3 tests/c/convert_cases.py CASES_DIR OUT_DIR

For each case `NAME.yaml` (format: tests/conformance/README.md) this writes `OUT_DIR/NAME/`:

- `<table>.csv`: each table's CSV text, unchanged;
- `cohort_<i>.yaml`: the other cohorts' definitions; `definition.yaml` or `definition.json`;
- `parameters.json`: the run-time parameters (dates as YYYY-MM-DD text), when there are any;
- `options.json`: the evaluation options as `caas_engine_evaluate_with` takes them, when
  there are any;
- `members.csv`, `attrition.csv`: the expected CSV text, unchanged;
- `case.txt`: one instruction per line, fields separated by tabs, in the order the runner
  acts on them (tables by name, as the Rust runner registers them, then cohorts, then the
  definition):

      base_dir    <absolute cases folder: codelist files are resolved from it>
      table       <name>  <file>  <table spec as one-line JSON>
      cohort      <file>
      definition  <file>  yaml|json
      parameters  <file>
      options     <file>
      members     <file>
      attrition   <file>
      error_code  <code>
      error_contains  <substring>       (one line per substring)
      error_line  <n>
      error_column  <n>
      dq_tables   <the tables read, in order, comma-separated>
      dq_table    <table>  rows|rows_excluded  <n>
      dq_finding  <table>  <kind>  count|excluded|policy|column  <value>
      dq_listed   <table>  <the kinds listed, comma-separated: the others have no rows>
      explain     <person id as text>  verdict|step|rule|error  <value>
      explain     <person id as text>  outcomes  <the rules' outcomes, comma-separated>
      explain     <person id as text>  value  <variable>  <canonical text; null is empty>
      provenance  definition_sha256|purpose|population|members  <value>
      provenance  codelists|member_of  <the names, comma-separated>
      provenance  codelist|member_of_hash  <name>  <sha256>

and `OUT_DIR/index.txt` lists the case names in order. Nothing is interpreted here beyond
the layout: the C runner registers the files, parses the definition text and compares.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import yaml

CASE_KEYS = {
    "description",
    "tables",
    "cohorts",
    "definition",
    "format",
    "parameters",
    "options",
    "expect",
}
TABLE_KEYS = {"role", "code_system", "mapping", "csv"}
OPTION_KEYS = {"quality", "reference_date", "pseudonym_key"}
EXPECT_KEYS = {
    "members",
    "attrition",
    "error",
    "data_quality",
    "arithmetic",
    "explain",
    "provenance",
}
ERROR_KEYS = {"code", "message_contains", "line", "column"}
QUALITY_KEYS = {"rows", "rows_excluded", "findings"}
FINDING_KEYS = {"count", "excluded", "policy", "column"}
EXPLAIN_KEYS = {"person", "verdict", "step", "rule", "outcomes", "values", "error"}
PROVENANCE_KEYS = {
    "definition_sha256",
    "codelists",
    "member_of",
    "purpose",
    "population",
    "members",
}


def field(value: object) -> str:
    """A value fit for one tab-separated field."""
    text = str(value)
    if "\t" in text or "\n" in text:
        raise ValueError(f"{text!r} holds a tab or a newline")
    return text


def parameter(value: object) -> object:
    """A parameter value as JSON: dates as ISO text, the rest as they are."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"unsupported parameter value {value!r}")


def canonical(value: object) -> str:
    """A scalar of an expectation in the canonical text of the suite: null is empty,
    booleans true/false, dates YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def assurance_lines(expect: dict) -> list[list[object]]:
    """The instructions that check data quality, explanations and provenance."""
    lines: list[list[object]] = []
    quality = expect.get("data_quality")
    if quality is not None:
        lines.append(["dq_tables", ",".join(quality)])
        for table, want in quality.items():
            want = want or {}
            unknown(f"data_quality `{table}`", want, QUALITY_KEYS)
            for key in ("rows", "rows_excluded"):
                if key in want:
                    lines.append(["dq_table", table, key, int(want[key])])
            findings = want.get("findings") or {}
            for kind, finding in findings.items():
                detail = finding if isinstance(finding, dict) else {"count": finding}
                unknown(f"finding `{kind}`", detail, FINDING_KEYS)
                for key, value in detail.items():
                    lines.append(["dq_finding", table, kind, key, canonical(value)])
            lines.append(["dq_listed", table, ",".join(findings)])
    arithmetic = expect.get("arithmetic")
    if arithmetic is not None:
        lines.append(["ar_listed", ",".join(arithmetic)])
        for name, count in arithmetic.items():
            lines.append(["ar_count", name, int(count)])
    for explanation in expect.get("explain") or []:
        unknown("explain", explanation, EXPLAIN_KEYS)
        person = canonical(explanation["person"])
        for key in ("verdict", "step", "rule", "error"):
            if key in explanation:
                lines.append(["explain", person, key, canonical(explanation[key])])
        if "outcomes" in explanation:
            outcomes = ",".join(canonical(o) for o in explanation["outcomes"])
            lines.append(["explain", person, "outcomes", outcomes])
        for name, value in (explanation.get("values") or {}).items():
            lines.append(["explain", person, "value", name, canonical(value)])
    provenance = expect.get("provenance")
    if provenance is not None:
        unknown("provenance", provenance, PROVENANCE_KEYS)
        for key in ("definition_sha256", "purpose", "population", "members"):
            if key in provenance:
                lines.append(["provenance", key, canonical(provenance[key])])
        for key, each in (("codelists", "codelist"), ("member_of", "member_of_hash")):
            if key in provenance:
                hashes = provenance[key] or {}
                lines.append(["provenance", key, ",".join(hashes)])
                for name, sha in hashes.items():
                    lines.append(["provenance", each, name, sha])
    return lines


def unknown(what: str, found: dict, allowed: set[str]) -> None:
    extra = set(found) - allowed
    if extra:
        raise ValueError(f"unknown {what} field(s) {sorted(extra)}")


def convert(case_path: Path, out: Path) -> None:
    case = yaml.safe_load(case_path.read_text(encoding="utf-8"))
    unknown("case", case, CASE_KEYS)
    if not case.get("description"):
        raise ValueError("the case has no description")
    out.mkdir(parents=True, exist_ok=True)
    lines = [["base_dir", str(case_path.parent.resolve())]]

    for name, table in sorted((case.get("tables") or {}).items()):
        unknown(f"table `{name}`", table, TABLE_KEYS)
        spec: dict[str, object] = {"role": table["role"]}
        if "code_system" in table:
            spec["code_system"] = table["code_system"]
        mapping = table.get("mapping") or {}
        if not all(isinstance(v, (str, list, bool)) for v in mapping.values()):
            raise ValueError(f"table `{name}`: mapping values must be text, lists or booleans")
        spec["mapping"] = mapping
        file = f"{name}.csv"
        (out / file).write_text(table["csv"], encoding="utf-8")
        lines.append(["table", name, file, json.dumps(spec)])

    for i, text in enumerate(case.get("cohorts") or [], start=1):
        file = f"cohort_{i}.yaml"
        (out / file).write_text(text, encoding="utf-8")
        lines.append(["cohort", file])

    fmt = case.get("format") or "yaml"
    if fmt not in ("yaml", "json"):
        raise ValueError(f"unknown format {fmt!r}")
    file = f"definition.{fmt}"
    (out / file).write_text(case["definition"], encoding="utf-8")
    lines.append(["definition", file, fmt])

    parameters = case.get("parameters") or {}
    if parameters:
        values = {name: parameter(value) for name, value in parameters.items()}
        (out / "parameters.json").write_text(json.dumps(values), encoding="utf-8")
        lines.append(["parameters", "parameters.json"])

    options = case.get("options") or {}
    unknown("options", options, OPTION_KEYS)
    if options:
        values = {name: canonical(value) for name, value in options.items() if name != "quality"}
        if "quality" in options:
            values["quality"] = options["quality"]
        (out / "options.json").write_text(json.dumps(values), encoding="utf-8")
        lines.append(["options", "options.json"])

    expect = case["expect"]
    unknown("expect", expect, EXPECT_KEYS)
    for part in ("members", "attrition"):
        if part in expect:
            (out / f"{part}.csv").write_text(expect[part], encoding="utf-8")
            lines.append([part, f"{part}.csv"])
    error = expect.get("error")
    if error is not None:
        unknown("error", error, ERROR_KEYS)
        lines.append(["error_code", error["code"]])
        for part in error.get("message_contains") or []:
            lines.append(["error_contains", part])
        for key in ("line", "column"):
            if key in error:
                lines.append([f"error_{key}", int(error[key])])
    lines.extend(assurance_lines(expect))

    text = "".join("\t".join(field(f) for f in line) + "\n" for line in lines)
    (out / "case.txt").write_text(text, encoding="utf-8")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    cases, out = Path(sys.argv[1]), Path(sys.argv[2])
    names = []
    for path in sorted(cases.glob("*.yaml")):
        try:
            convert(path, out / path.stem)
        except (KeyError, ValueError, yaml.YAMLError) as err:
            print(f"{path.name}: cannot convert: {err!r}", file=sys.stderr)
            return 1
        names.append(path.stem)
    if not names:
        print(f"no cases in {cases}", file=sys.stderr)
        return 1
    (out / "index.txt").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    print(f"converted {len(names)} cases into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
