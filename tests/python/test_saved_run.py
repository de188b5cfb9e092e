"""A run saved for reporting later gives the report its evaluation gave, without the data
or the codelist files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import caas
from conftest import SMALL_COHORT, small_tables


def evaluate(text: str, base_dir: Path | None = None) -> caas.Result:
    persons, events = small_tables()
    engine = caas.Engine()
    engine.register("persons", persons, role="person")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    return engine.evaluate(caas.Cohort.from_yaml(text, base_dir=base_dir))


def test_the_report_of_a_saved_run_is_the_evaluations(tmp_path: Path) -> None:
    # A codelist from a file, removed after the run: the saved run holds its codes.
    (tmp_path / "asthma.csv").write_text("code,term\n195967001,Asthma\n")
    result = evaluate(SMALL_COHORT.replace('codes: ["195967001"]', "file: asthma.csv"), tmp_path)
    (tmp_path / "asthma.csv").unlink()
    saved = result.saved_run_json()
    assert json.loads(saved)["format"] == "caas-run/1"
    for control in (False, True):
        again = caas.Report.from_saved_run(saved, disclosure_control=control)
        expected = result.report(disclosure_control=control)
        assert (again.markdown, again.html, again.funnel_svg) == (
            expected.markdown,
            expected.html,
            expected.funnel_svg,
        )


def test_text_that_is_not_a_saved_run_is_an_error() -> None:
    with pytest.raises(caas.CaasError) as raised:
        caas.Report.from_saved_run("{}")
    assert raised.value.code == "syntax"
    saved = json.loads(evaluate(SMALL_COHORT).saved_run_json())
    saved["format"] = "caas-run/2"
    with pytest.raises(caas.CaasError) as raised:
        caas.Report.from_saved_run(json.dumps(saved))
    assert raised.value.code == "invalid_input"
    assert "caas-run/2" in str(raised.value)
