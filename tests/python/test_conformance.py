"""The conformance suite (tests/conformance/cases, format in its README) through Python:
every case, evaluated with its options, must give exactly the members, attrition,
data-quality findings, explanations and provenance, or the error, its file expects, as it
does through the Rust runner (caas-core/tests/integration/conformance.rs), whose rules
these mirror."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

import caas
from conftest import CASES, CLASS_OF_CATEGORY

CASE_FILES = sorted(CASES.glob("*.yaml"))


def test_the_suite_is_there() -> None:
    assert len(CASE_FILES) >= 100


def parse_csv(text: str) -> tuple[list[str], list[list[str]]]:
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text)) if row]
    return rows[0], rows[1:]


def canonical(value: Any) -> str:
    """A cell as text: empty for null, true/false, ISO dates, plain numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def same_cell(actual: Any, expected: str, floating: bool) -> bool:
    if floating and actual is not None and expected != "":
        try:
            return math.isclose(float(actual), float(expected), rel_tol=0, abs_tol=1e-9)
        except ValueError:
            return False
    return canonical(actual) == expected


def compare(what: str, table: pa.Table, expected: str) -> None:
    header, rows = parse_csv(expected)
    missing = [name for name in header if name not in table.column_names]
    assert not missing, f"{what}: no column {missing} (have {table.column_names})"
    if what == "members":
        assert table.column_names == header, f"members: columns {table.column_names}"
    columns = [table.column(name).to_pylist() for name in header]
    floating = [pa.types.is_floating(table.schema.field(name).type) for name in header]
    actual = [[columns[c][r] for c in range(len(header))] for r in range(table.num_rows)]
    same = len(actual) == len(rows) and all(
        same_cell(a, e, f)
        for arow, erow in zip(actual, rows)
        for a, e, f in zip(arow, erow, floating)
    )
    assert same, (
        f"{what} differ\n  expected: {rows}\n  actual:   "
        f"{[[canonical(v) for v in row] for row in actual]}"
    )


@dataclass
class Loaded:
    """A case's tables registered with an engine, its definition and the other cohorts."""

    case: dict[str, Any]
    engine: caas.Engine
    cohort: caas.Cohort
    others: list[caas.Cohort]


def load_case(path: Path, tmp_path: Path) -> Loaded:
    case = yaml.safe_load(path.read_text())
    engine = caas.Engine()
    for name, table in case.get("tables", {}).items():
        file = tmp_path / f"{name}.csv"
        file.write_text(table["csv"])
        engine.register(
            name,
            file,
            role=table["role"],
            mapping=table.get("mapping"),
            code_system=table.get("code_system"),
        )
    others = [caas.Cohort.from_yaml(other, base_dir=CASES) for other in case.get("cohorts", [])]
    for other in others:
        engine.register_cohort(other)
    if case.get("format") == "json":
        cohort = caas.Cohort.from_json(case["definition"], base_dir=CASES)
    else:
        cohort = caas.Cohort.from_yaml(case["definition"], base_dir=CASES)
    return Loaded(case, engine, cohort, others)


def case_options(case: dict[str, Any]) -> dict[str, Any]:
    options = case.get("options") or {}
    assert set(options) <= {"quality", "reference_date", "pseudonym_key"}, options
    return dict(options)


def run_case(path: Path, tmp_path: Path) -> caas.Result:
    """Evaluates a case with a progress callback, so that the suite also checks that
    counting the rows read changes no result: every report names a table the case
    registered and reads no more rows than expected, and each table's count only grows."""
    loaded = load_case(path, tmp_path)
    reports: dict[str, int] = {}

    def progress(table: str, rows_read: int, rows_expected: int | None) -> None:
        assert table in loaded.case.get("tables", {}), table
        assert rows_expected is None or rows_read <= rows_expected, (table, rows_read)
        assert rows_read >= reports.get(table, 0), (table, rows_read)
        reports[table] = rows_read

    result = loaded.engine.evaluate(
        loaded.cohort,
        loaded.case.get("parameters"),
        progress=progress,
        **case_options(loaded.case),
    )
    assert reports, "no progress reported"
    return result


def same_value(actual: Any, expected: Any) -> bool:
    """A value of an explanation against an expectation: numbers within 1e-9, the rest as
    canonical text (a YAML date is the date's text)."""
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        try:
            return math.isclose(float(actual), float(expected), rel_tol=0, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return canonical(actual) == canonical(expected)


def check_data_quality(result: caas.Result, expected: dict[str, Any]) -> None:
    """The tables read are exactly those listed, in order; `rows` and `rows_excluded` are
    compared when given; a kind not listed must have no rows."""
    tables = result.data_quality.tables
    assert [t.table for t in tables] == list(expected), "data quality: the tables read"
    for table in tables:
        want = expected[table.table] or {}
        for key in ("rows", "rows_excluded"):
            if key in want:
                assert getattr(table, key) == want[key], f"data quality of {table.table}: {key}"
        findings = want.get("findings") or {}
        checked = {f.kind for f in table.findings}
        assert set(findings) <= checked, f"data quality of {table.table}: kinds not checked"
        for finding in table.findings:
            listed = findings.get(finding.kind)
            detail = listed if isinstance(listed, dict) else {"count": listed or 0}
            where = f"data quality of {table.table}, {finding.kind}"
            assert finding.count == detail["count"], f"{where}: {finding.count} rows"
            for key in ("excluded", "policy", "column"):
                if key in detail:
                    assert getattr(finding, key) == detail[key], f"{where}: {key}"


def check_arithmetic(quality: caas.DataQuality, expected: dict[str, int]) -> None:
    """Each variable or rule listed has its count of people whose value arithmetic left
    missing; one not listed has none."""
    found = {a.variable or a.rule: a.count for a in quality.arithmetic}
    assert set(expected) <= set(found), (
        f"arithmetic: {sorted(set(expected) - set(found))} not checked"
    )
    for name, count in found.items():
        assert count == expected.get(name, 0), f"arithmetic of {name}: {count} people"


def check_explanation(result: caas.Result, expected: dict[str, Any]) -> None:
    person = expected["person"]
    if "error" in expected:
        with pytest.raises(caas.CaasError) as raised:
            result.explain(person)
        assert raised.value.code == expected["error"], f"explaining {person}"
        return
    why = result.explain(person).to_dict()
    verdict = why["verdict"]
    for key in ("verdict", "step", "rule"):
        if key in expected:
            assert verdict.get(key) == expected[key], f"explaining {person}: {verdict}"
    if "outcomes" in expected:
        outcomes = [r["outcome"] for r in why["rules"]]
        assert outcomes == [canonical(o) for o in expected["outcomes"]], f"explaining {person}"
    values = {v["name"]: v.get("value") for v in why["variables"]}
    for name, value in (expected.get("values") or {}).items():
        assert name in values, f"explaining {person}: no variable {name}"
        assert same_value(values[name], value), f"explaining {person}: {name} = {values[name]}"


def check_provenance(result: caas.Result, expected: dict[str, Any]) -> None:
    manifest = result.provenance
    wanted = {
        "definition_sha256": manifest["definition_sha256"],
        "codelists": [(c["name"], c["sha256"]) for c in manifest["codelists"]],
        "member_of": [(c["id"], c["definition_sha256"]) for c in manifest.get("member_of", [])],
        "purpose": manifest["purpose"],
        "population": manifest["population"],
        "members": manifest["members"],
    }
    for key, value in expected.items():
        if key in ("codelists", "member_of"):
            value = list((value or {}).items())
        assert wanted[key] == value, f"provenance: {key}"


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(path: Path, tmp_path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    assert case["description"]
    # YAML 1.1 (PyYAML) reads some bare words as booleans; no case may rely on that.
    for table in case.get("tables", {}).values():
        assert all(isinstance(k, str) for k in table.get("mapping", {}) or {})
    expect = case["expect"]
    error = expect.get("error")
    if error is None:
        result = run_case(path, tmp_path)
        assert "members" in expect or "attrition" in expect, "the case expects nothing"
        if "members" in expect:
            compare("members", result.members, expect["members"])
        if "attrition" in expect:
            compare("attrition", result.attrition, expect["attrition"])
        if "data_quality" in expect:
            check_data_quality(result, expect["data_quality"])
        if "arithmetic" in expect:
            check_arithmetic(result.data_quality, expect["arithmetic"])
        for explanation in expect.get("explain") or []:
            check_explanation(result, explanation)
        if "provenance" in expect:
            check_provenance(result, expect["provenance"])
        return
    with pytest.raises(caas.CaasError) as raised:
        run_case(path, tmp_path)
    err = raised.value
    assert err.code == error["code"], f"expected a `{error['code']}` error, got {err!r}"
    for part in error.get("message_contains", []):
        assert part in str(err)
    if "line" in error:
        assert (err.line or 0) == error["line"], str(err)
    if "column" in error:
        assert err.column == error["column"], str(err)
    # The class follows the category, which the engine decides for every front end.
    assert err.category == caas.errors.error_codes()[err.code]
    assert isinstance(err, CLASS_OF_CATEGORY[err.category])
