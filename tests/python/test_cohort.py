"""Cohorts: the builder makes the document the YAML holds; documents round-trip through the
engine; the plain-English summary and the notebook view."""

from __future__ import annotations

import datetime as dt
import json
import string
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import caas
from conftest import FLU, QUICKSTART, SMALL_COHORT


def quickstart_built() -> caas.CohortBuilder:
    return (
        caas.Cohort.builder("quickstart", "Aged 65 or over, or with asthma or diabetes")
        .metadata(version="1", description="A small cohort to show the shape of a definition.")
        .parameter("index_date", dt.date(2025, 3, 31))
        .codelist("asthma", "snomed_ct", codes=["195967001"])
        .codelist("diabetes", "snomed_ct", codes=["44054006"])
        .age("age", on="index_date")
        .alive("alive", on="index_date")
        .events(
            "asthma_recent",
            table="gp_events",
            codelists=["asthma"],
            from_="index_date - 12 months",
            to="index_date",
            returns="exists",
        )
        .events(
            "diabetes_last",
            table="gp_events",
            codelists=["diabetes"],
            to="index_date",
            returns="last_date",
        )
        .derived("at_risk", "asthma_recent or diabetes_last is not null")
        .derived(
            "age_band",
            "CASE WHEN age < 18 THEN 'child' WHEN age < 65 THEN 'adult' ELSE '65+' END",
        )
        .include("alive", "alive")
        .include("eligible", "age >= 65 or at_risk")
        .output("age", "age_band", "at_risk")
    )


def test_the_builder_makes_the_document_of_the_yaml_file() -> None:
    from_file = caas.Cohort.from_path(QUICKSTART)
    built = quickstart_built().build()
    assert built == from_file
    assert built.to_dict() == from_file.to_dict()


def test_the_builder_gives_ages_in_months() -> None:
    built = (
        caas.Cohort.builder("babies", "Under 6 months old")
        .parameter("index_date", dt.date(2025, 3, 1))
        .age("age_months", on="index_date", unit="months")
        .age("age_years", on="index_date")
        .include("under 6 months", "age_months < 6")
        .output("age_months", "age_years")
        .build()
    )
    variables = built.to_dict()["variables"]
    assert variables["age_months"] == {"kind": "age", "on": "index_date", "unit": "months"}
    assert variables["age_years"] == {"kind": "age", "on": "index_date"}
    engine = caas.Engine()
    born = [dt.date(2024, 2, 29), dt.date(2024, 9, 1), dt.date(2024, 9, 2)]
    engine.register(
        "persons", pa.table({"person_id": [1, 2, 3], "date_of_birth": born}), role="person"
    )
    members = engine.evaluate(built).members.to_pylist()
    assert members == [{"person_id": 3, "age_months": 5, "age_years": 0}]


def test_the_builder_chooses_rows_and_windows_of_the_persons_dates() -> None:
    built = (
        caas.Cohort.builder("admissions", "The episode of the latest admission")
        .codelist("asthma", "icd10", codes=["J45"])
        .events("first", table="apc", codelists=["asthma"], returns="first_date")
        .events(
            "latest_episode",
            table="apc",
            codelists=["asthma"],
            from_="first + 1 day",
            returns="last_value",
            order_by=["date", "spell_days"],
            column="episode_id",
        )
        .output("first", "latest_episode")
        .build()
    )
    assert built.to_dict()["variables"]["latest_episode"] == {
        "kind": "events",
        "table": "apc",
        "codelists": ["asthma"],
        "from": "first + 1 day",
        "returns": "last_value",
        "order_by": ["date", "spell_days"],
        "column": "episode_id",
    }
    engine = caas.Engine()
    engine.register("persons", pa.table({"person_id": [1, 2]}), role="person")
    day = dt.date
    apc = pa.table(
        {
            "person_id": [1, 1, 1, 2],
            "date": [day(2024, 1, 1), day(2024, 2, 1), day(2024, 2, 1), day(2024, 3, 1)],
            "code": ["J45", "J451", "J459", "J45"],
            "episode_id": ["E1", "E2", "E3", "E4"],
            "spell_days": [4, 9, 2, 1],
        }
    )
    engine.register("apc", apc, role="events", code_system="icd10")
    members = engine.evaluate(built).members.to_pylist()
    # Person 1: after the first admission, the two of 1 February, the longer spell last;
    # person 2's only admission is the first, and nothing is after it.
    assert members == [
        {"person_id": 1, "first": day(2024, 1, 1), "latest_episode": "E2"},
        {"person_id": 2, "first": day(2024, 3, 1), "latest_episode": None},
    ]


def test_documents_round_trip_through_yaml_json_and_dicts() -> None:
    cohort = caas.Cohort.from_path(FLU / "flu.yaml")
    assert caas.Cohort.from_yaml(cohort.to_yaml(), base_dir=FLU) == cohort
    assert caas.Cohort.from_json(cohort.to_json(), base_dir=FLU) == cohort
    assert caas.Cohort.from_dict(cohort.to_dict(), base_dir=FLU) == cohort
    assert json.loads(cohort.to_json())["id"] == "seasonal_flu_2025_26"


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: (
        n
        not in {
            "and",
            "or",
            "not",
            "is",
            "null",
            "in",
            "between",
            "true",
            "false",
            "case",
            "when",
            "then",
            "else",
            "end",
            "day",
            "days",
            "week",
            "weeks",
            "month",
            "months",
            "year",
            "years",
        }
    )
)
TEXT = st.text(string.ascii_letters + string.digits + " .,-'", min_size=1, max_size=20)
DATES = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """Valid definitions built with the builder, with random names, metadata, parameters,
    codelists, variables of every kind and rules."""
    own_id = draw(NAMES)
    builder = caas.Cohort.builder(
        own_id, draw(TEXT), draw(st.sampled_from(["direct_care", "research", "planning"]))
    )
    if draw(st.booleans()):
        builder.metadata(version=draw(TEXT), owner=draw(TEXT), dpia_reference=draw(TEXT))
    builder.parameter("index_date", draw(DATES))
    names = draw(
        st.lists(NAMES, min_size=1, max_size=6, unique=True).filter(
            lambda ns: "index_date" not in ns
        )
    )
    systems = {"snomed_ct": "gp", "dmd": "meds", "icd10": "apc", "opcs4": "procs"}
    system = draw(st.sampled_from(sorted(systems)))
    codes = draw(
        st.lists(
            st.from_regex(r"[A-Z][0-9]{2,5}", fullmatch=True), min_size=1, max_size=5, unique=True
        )
    )
    builder.codelist("codes", system, codes=codes, description=draw(st.none() | TEXT))
    booleans: list[str] = []
    for name in names:
        kind = draw(st.sampled_from(["age", "alive", "events", "derived", "sex", "member_of"]))
        if kind == "age":
            builder.age(name, on="index_date")
        elif kind == "alive":
            builder.alive(name, on="index_date")
            booleans.append(name)
        elif kind == "sex":
            builder.sex(name)
        elif kind == "member_of":
            builder.member_of(name, draw(NAMES.filter(lambda n: n != own_id)))
            booleans.append(name)
        elif kind == "events":
            months = draw(st.integers(1, 120))
            builder.events(
                name,
                table=systems[system],
                codelists=["codes"],
                from_=f"index_date - {months} months",
                to="index_date",
                min_value=draw(st.none() | st.floats(0, 10)),
                returns="exists",
            )
            booleans.append(name)
        else:
            builder.derived(name, "index_date > DATE '2000-01-01'")
            booleans.append(name)
    for i, name in enumerate(booleans):
        if draw(st.booleans()):
            builder.include(f"r{i}", name)
        else:
            builder.exclude(f"r{i}", f"not {name}", description=draw(st.none() | TEXT))
    builder.output(*draw(st.lists(st.sampled_from(names), unique=True)))
    return builder.to_dict()


@settings(max_examples=60, deadline=None)
@given(documents())
def test_built_documents_round_trip_through_the_engine(document: dict[str, Any]) -> None:
    cohort = caas.Cohort.from_dict(document)
    assert cohort.to_dict() == document
    assert caas.Cohort.from_yaml(cohort.to_yaml()) == cohort
    assert cohort.rule_names == [r["name"] for r in document.get("rules", [])]
    summary = cohort.summary()
    for name in document.get("variables", {}):
        assert f"  {name}: " in summary


def test_summary_reads_as_sentences() -> None:
    cohort = caas.Cohort.from_path(QUICKSTART)
    summary = cohort.summary()
    assert summary.startswith(
        "Aged 65 or over, or with asthma or diabetes (`quickstart`, version 1)"
    )
    assert (
        "asthma_recent: has an `asthma` code in `gp_events` between 31 March 2024 and 31 March 2025"
    ) in summary
    assert (
        "diabetes_last: the date of the latest `diabetes` code in `gp_events` on or before "
        "31 March 2025"
    ) in summary
    assert "2. eligible: keep only people for whom `age` is at least 65 or `at_risk`" in summary
    assert summary.endswith("Output: person_id, age, age_band, at_risk")
    assert str(cohort) == summary
    described = cohort.describe()
    assert described["codelists"] == [
        ["asthma", "SNOMED CT, 1 code"],
        ["diabetes", "SNOMED CT, 1 code"],
    ]


def test_cohort_html_shows_the_summary() -> None:
    cohort = caas.Cohort.from_path(FLU / "flu.yaml")
    html = cohort._repr_html_()
    # The engine's template escapes every value (a slash too).
    assert (
        "<h3>Seasonal influenza vaccination 2025&#x2f;26 — eligible, not yet vaccinated</h3>"
    ) in html
    assert "<h4>Rules, in order</h4>" in html
    assert "<code>astrx_12m</code>" in html
    assert "dm+d, " in html and "Asthma inhaled or systemic steroids" in html
    assert "Example clinical safety officer" in html
    # Names in the sentences show as code, not in backticks.
    assert "keep only people for whom <code>alive</code> is true" in html
    # Escaped: the definition's text never becomes markup.
    weird = caas.Cohort.from_yaml(SMALL_COHORT.replace("title: Aged", "title: <b>Aged"))
    assert "&lt;b&gt;Aged" in weird._repr_html_()
    assert "<b>Aged" not in weird._repr_html_()
