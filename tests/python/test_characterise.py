"""The members' characterisation ("Table 1") from Python: the table of the C assurance case,
computed by hand in tests/c/assurance/characterisation.csv — the file the Rust and C tests
check the core's table against, so that Python gives the table the core gives; its layout
for pandas; the options; disclosure control; and the notebook view."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

import caas

DATA = Path(__file__).resolve().parents[2] / "tests" / "c" / "assurance"

COLUMNS = ["section", "variable", "category", "statistic", "value", "date", "shown"]


def evaluate(purpose: str = "direct_care") -> caas.Result:
    engine = caas.Engine()
    engine.register("persons", DATA / "persons.csv", role="person")
    engine.register("gp", DATA / "gp.csv", role="events", code_system="snomed_ct")
    text = (DATA / "cohort.yaml").read_text().replace("purpose: direct_care", f"purpose: {purpose}")
    if purpose != "direct_care":
        # Purposes other than direct care need the opt-outs: nobody has one.
        persons = pcsv.read_csv(DATA / "persons.csv")
        for flag in ["national_opt_out", "type1_opt_out"]:
            persons = persons.append_column(flag, pa.array([False] * persons.num_rows))
        engine.register("persons", persons, role="person")
    return engine.evaluate(caas.Cohort.from_yaml(text))


def rows(table: pa.Table) -> list[tuple[str, str, str, str, str]]:
    return [
        (r["section"], r["variable"], r["category"] or "", r["statistic"], r["shown"])
        for r in table.to_pylist()
    ]


def test_the_table_is_the_one_computed_by_hand() -> None:
    table = evaluate().characterise()
    assert table.column_names == COLUMNS
    assert table.schema.field("value").type == pa.float64()
    assert table.schema.field("date").type == pa.date32()
    expected = pcsv.read_csv(
        DATA / "characterisation.csv",
        convert_options=pcsv.ConvertOptions(
            column_types={name: pa.string() for name in COLUMNS},
            strings_can_be_null=False,
        ),
    )
    assert rows(table) == [tuple(r.values()) for r in expected.to_pylist()]
    # The numbers and dates themselves, beside their text.
    by_key = {
        (r["section"], r["variable"], r["category"], r["statistic"]): r for r in table.to_pylist()
    }
    assert by_key[("age", "age", None, "mean")]["value"] == pytest.approx(193 / 3)
    assert by_key[("age", "age", "index_date", "on")]["date"] == dt.date(2025, 3, 31)
    assert by_key[("sex", "sex", "M", "percent")]["value"] == pytest.approx(200 / 3)


def test_pandas_lays_it_out() -> None:
    frame = evaluate().characterise().to_pandas()
    counts = frame[frame.statistic == "count"].pivot_table(
        index=["section", "variable"], columns="category", values="value"
    )
    assert counts.loc[("sex", "sex"), "M"] == 2
    assert counts.loc[("age", "age"), "80+"] == 1
    # Each (section, variable, category, statistic) once: a plain pivot lays it all out.
    shown = frame.pivot(
        index=["section", "variable", "category"], columns="statistic", values="shown"
    )
    summary = frame[frame.category.isna()].pivot(
        index=["section", "variable"], columns="statistic", values="shown"
    )
    assert summary.loc[("variable", "age"), "median"] == "74"
    assert summary.loc[("variable", "age"), "q3"] == "79.5"
    assert summary.loc[("cohort", "people"), "count"] == "3"
    assert shown.loc[("age", "age", "30-39"), "percent"] == "33.3"
    assert shown.loc[("age", "age", "index_date"), "on"] == "2025-03-31"


def test_options_choose_bands_and_values_listed() -> None:
    result = evaluate()
    table = result.characterise(age_bands=[0, 65], top=1)
    counts = {(r[0], r[2]): r[4] for r in rows(table) if r[3] == "count"}
    assert counts[("age", "0-64")] == "1"
    assert counts[("age", "65+")] == "2"
    assert counts[("sex", "M")] == "2"
    assert counts[("sex", "(other)")] == "1"
    with pytest.raises(caas.InvalidInputError, match="start at 0 and ascend"):
        result.characterise(age_bands=[18, 65])
    with pytest.raises(caas.InvalidInputError, match="`nowhere` is not a date parameter"):
        result.characterise(age_on="nowhere")
    with pytest.raises(caas.InvalidInputError, match="has no column `area`"):
        result.characterise(region="area")


def test_research_is_under_disclosure_control() -> None:
    table = evaluate("research").characterise()
    shown = {(r[0], r[1], r[2], r[3]): r[4] for r in rows(table)}
    # Three members: every count of 1 to 7 is `*`, every value of fewer than 8 people is in
    # (other), and no age of anyone is shown.
    assert shown[("cohort", "people", "", "count")] == "*"
    assert shown[("sex", "sex", "(other)", "count")] == "*"
    assert ("sex", "sex", "M", "count") not in shown
    for statistic in ["min", "q1", "median", "q3", "max", "mean"]:
        assert shown[("variable", "age", "", statistic)] == "*"
    values = table.column("value").to_pylist()
    assert all(v in (None, 0.0) for v in values)
    # Direct care asks for the same with an option.
    controlled = evaluate().characterise(disclosure_control=True)
    assert rows(controlled) == rows(table)


def test_the_notebook_view_has_the_characterisation() -> None:
    html = evaluate()._repr_html_()
    assert '<details class="characterisation">' in html
    assert "<h4>Age on 31 March 2025 (<code>index_date</code>)</h4>" in html
    assert '<svg class="bars"' in html
    assert "<script" not in html


def test_each_step_of_the_attrition_by_age_sex_and_region() -> None:
    result = evaluate()
    # After `adult`: persons 1 (74), 2 (34), 3 (39) and 4 (85); person 5 is 10 and person
    # 6's age is unknown. The members are three of them.
    table = result.characterise(after_rule="adult")
    counts = {(r[0], r[2]): r[4] for r in rows(table) if r[3] == "count"}
    assert counts[("cohort", "")] == "4"
    assert (counts[("sex", "F")], counts[("sex", "M")]) == ("2", "2")
    assert counts[("age", "30-39")] == "2"
    assert not any(r[0] == "variable" for r in rows(table))
    members = {(r[0], r[2]): r[4] for r in rows(result.characterise()) if r[3] == "count"}
    assert members[("cohort", "")] == "3"
    with pytest.raises(caas.InvalidInputError, match="`adults` is not a rule of the cohort"):
        result.characterise(after_rule="adults")
