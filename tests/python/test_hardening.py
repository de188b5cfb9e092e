"""Hostile input from Python: definitions too deep or too large, parameters no engine holds,
codelist paths that are not files, and the output paths that must keep governance: each
ends in a caas error (never a crash of the interpreter, a hang or a plain TypeError), and
nothing printed is finer than the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import caas
from conftest import FLU, governed_cohort, governed_engine


def one_rule(rule: str, purpose: str = "direct_care") -> dict[str, Any]:
    return {
        "id": "hostile",
        "title": "Hostile",
        "purpose": purpose,
        "variables": {"x": {"kind": "person_column", "column": "x"}},
        "rules": [{"name": "rule", "include": rule}],
        "output": {"columns": ["x"]},
    }


@pytest.fixture(scope="module")
def people() -> pa.Table:
    return pa.table({"person_id": pa.array([1, 2, 3], pa.int64()), "x": [1, 2, 3]})


@pytest.mark.parametrize(
    "rule",
    [
        "not " * 1000 + "true",
        " or ".join(["x = 1"] * 1000),
        " + ".join(["x"] * 1000) + " > 0",
        "(" * 10_000 + "true" + ")" * 10_000,
    ],
    ids=["not", "or", "plus", "brackets"],
)
def test_deep_expressions_are_a_limit_error_on_any_thread(rule: str) -> None:
    # Run on a thread of its own, with the smallest stack Python allows: the parser and
    # every later walk of the expression must not need more.
    errors: list[BaseException] = []

    def load() -> None:
        try:
            caas.Cohort.from_dict(one_rule(rule))
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            errors.append(e)

    old = threading.stack_size(256 * 1024)
    try:
        thread = threading.Thread(target=load)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old)
    assert len(errors) == 1
    err = errors[0]
    assert isinstance(err, caas.DefinitionError)
    assert (err.code, err.option, err.rule) == ("limit_exceeded", "max_expression_depth", "rule")


def test_limits_are_keywords_of_the_engine_and_of_reading(people: pa.Table) -> None:
    deep = one_rule("not not not (x > 0)")
    cohort = caas.Cohort.from_dict(deep)
    strict = caas.Engine(max_expression_depth=4)
    strict.register("persons", people, role="person")
    with pytest.raises(caas.DefinitionError) as raised:
        strict.evaluate(cohort)
    assert (raised.value.code, raised.value.option) == ("limit_exceeded", "max_expression_depth")
    text = "id: x\ntitle: x\npurpose: direct_care\nrules: [{include: not not not true}]\n"
    with pytest.raises(caas.DefinitionError, match="max_expression_depth"):
        caas.Cohort.from_yaml(text, limits={"max_expression_depth": 3})
    assert caas.Cohort.from_yaml(text, limits={"max_expression_depth": 4}).id == "x"
    with pytest.raises(caas.InvalidOptionError, match="max_depth"):
        caas.Cohort.from_yaml(text, limits={"max_depth": 4})
    chained = one_rule("y")
    chained["variables"]["y"] = {"kind": "derived", "expr": "x > 1"}
    short = caas.Engine(max_variable_depth=1, max_variables=10)
    short.register("persons", people, role="person")
    with pytest.raises(caas.DefinitionError) as raised:
        short.evaluate(caas.Cohort.from_dict(chained))
    assert (raised.value.option, raised.value.variable) == ("max_variable_depth", "y")
    with pytest.raises(caas.DefinitionError, match="max_variables"):
        caas.Cohort.from_json(json.dumps(chained), limits={"max_variables": 1})


def test_values_that_arithmetic_left_missing_are_findings(people: pa.Table) -> None:
    definition = one_rule("9223372036854775806 + x > 0")
    definition["variables"]["v"] = {"kind": "derived", "expr": "10 / (x - 2)"}
    cohort = caas.Cohort.from_dict(definition)
    engine = caas.Engine()
    engine.register("persons", people, role="person")
    quality = engine.evaluate(cohort).data_quality
    found = [(a.variable, a.rule, a.count, a.policy) for a in quality.arithmetic]
    assert found == [("v", None, 1, "keep"), (None, "rule", 2, "keep")]
    assert quality.total("arithmetic_error") == 3
    assert "variable `v`: 1 person(s) have a value that arithmetic left missing" in str(quality)
    assert quality.to_dict()["arithmetic"][0] == {
        "variable": "v",
        "rule": None,
        "count": 1,
        "policy": "keep",
    }
    with pytest.raises(caas.DataQualityError) as raised:
        engine.evaluate(cohort, quality={"arithmetic_error": "fail"})
    error = raised.value
    assert (error.code, error.kind, error.count, error.variable) == (
        "data_quality",
        "arithmetic_error",
        1,
        "v",
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (2**70, "outside the 64-bit range"),
        ([1], "got list"),
        (None, "got NoneType"),
        (float("nan"), "not finite"),
    ],
    ids=["huge", "list", "none", "nan"],
)
def test_parameters_no_engine_holds_are_caas_errors(
    people: pa.Table, value: object, problem: str
) -> None:
    engine = caas.Engine()
    engine.register("persons", people, role="person")
    document = one_rule("x > limit")
    document["parameters"] = {"limit": 1}
    with pytest.raises(caas.DefinitionError, match=problem) as raised:
        engine.evaluate(caas.Cohort.from_dict(document), {"limit": value})
    assert (raised.value.code, raised.value.parameter) == ("type_mismatch", "limit")


def test_codelist_paths_must_be_regular_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    for path in ["/dev/zero", str(fifo)]:
        document = one_rule("x > 0")
        document["codelists"] = {"c": {"system": "snomed_ct", "file": path}}
        with pytest.raises(caas.DefinitionError, match="is not a regular file"):
            caas.Cohort.from_dict(document, base_dir=tmp_path)


def test_a_research_cohort_shows_no_variables_by_id_and_no_small_counts() -> None:
    engine = governed_engine()
    research = governed_cohort("research")
    with pytest.raises(caas.InvalidInputError, match="only for direct care"):
        engine.variables(research)
    result = engine.evaluate(research, pseudonym_key="2f" * 32)
    # 4 members of 6 people (2 opted out): both under 8, so neither is printed.
    assert (result.member_count, result.population) == (4, 6)
    assert repr(result) == "Result(cohort='governed', members=*, population=*)"
    assert str(result).endswith("* of * people in the cohort")
    opted_out = [line for line in result.attrition_text().splitlines() if "opt-out" in line]
    assert [cell.strip() for cell in opted_out[0].split("|")[3:7]] == ["exclude", "*", "*", "*"]
    with pytest.raises(caas.InvalidInputError, match="pseudonyms"):
        result.explain(1)
    # Direct care sees everything, exactly.
    direct = engine.evaluate(governed_cohort())
    assert repr(direct) == "Result(cohort='governed', members=6, population=6)"
    assert engine.variables(governed_cohort()).num_rows == 6


def test_threads_engines_registrations_and_cancellations_hold(tmp_path: Path) -> None:
    # The soak's concurrency stress (scripts/soak.sh runs it for minutes), briefly.
    stress = Path(__file__).resolve().parents[1] / "soak" / "stress.py"
    arguments = ["--seconds", "5", "--persons", "1000", "--threads", "4", "--engines", "2"]
    done = subprocess.run(
        [sys.executable, str(stress), *arguments],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = next(line for line in done.stdout.splitlines() if " operations in " in line)
    assert " cancel " in summary and " evaluate " in summary and " register " in summary, summary


def test_a_memory_limit_nothing_fits_in_is_an_error_not_a_crash(population: Path) -> None:
    cohort = caas.Cohort.from_path(FLU / "flu.yaml")
    engine = caas.Engine(memory_limit="4K")
    engine.register_synthetic(population)
    with pytest.raises(caas.EngineError) as raised:
        engine.evaluate(cohort)
    assert raised.value.code == "resources_exhausted"
    # Bytes or a binary suffix; text that is no size is refused before any work.
    assert caas.engine.memory_size("16GiB") == caas.engine.memory_size("16G") == 16 << 30
    with pytest.raises(ValueError, match="memory size '16 gigs'"):
        caas.Engine(memory_limit="16 gigs")
