"""Clinical assurance from Python: explanations of people, the audit table, the provenance
manifest, the report and the difference between runs — each checked against hand-worked
expectations over small tables."""

from __future__ import annotations

import datetime as dt
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import caas
from caas.explain import EventRow, RuleOutcome, VariableExplanation
from conftest import SMALL_COHORT, d, small_tables

#: Four people and their events. Worked out by hand at the index date, 31 March 2025:
#: person 1 (74) has asthma only after the index date, so no asthma: out at `has asthma`,
#: with no marker, so `high marker` is unknown; person 2 (34) has two asthma codes and a
#: latest marker of 7.5: out at `high marker`; person 3 (45) has no events: out at
#: `has asthma`; person 4 (65) has asthma on the index date and a marker of 6.5: in.
EXPLAINED = """
id: explained
title: Asthma without a high marker
purpose: direct_care
parameters: { index_date: 2025-03-31 }
codelists:
  asthma: { system: snomed_ct, codes: ["195967001"], description: Asthma }
  marker: { system: snomed_ct, codes: ["22298006"], description: Marker }
variables:
  age: { kind: age, on: index_date }
  asthma_count:
    { kind: events, table: gp_events, codelists: [asthma], to: index_date, returns: count }
  latest_marker:
    { kind: events, table: gp_events, codelists: [marker], to: index_date, returns: last_value }
rules:
  - { name: adult, include: age >= 18 }
  - { name: has asthma, include: asthma_count >= 1 }
  - { name: high marker, exclude: latest_marker > 7 }
output: { columns: [asthma_count, latest_marker] }
"""

ASTHMA = "195967001"
MARKER = "22298006"


def explained_tables() -> tuple[pa.Table, pa.Table]:
    persons = pa.table(
        {
            "person_id": pa.array([1, 2, 3, 4], pa.int64()),
            "date_of_birth": pa.array(
                [d("1950-06-01"), d("1990-06-01"), d("1980-01-01"), d("1960-01-01")], pa.date32()
            ),
        }
    )
    events = pa.table(
        {
            "person_id": pa.array([2, 2, 2, 2, 1, 4, 4], pa.int64()),
            "date": pa.array(
                [
                    d("2024-10-04"),
                    d("2023-05-01"),
                    d("2025-02-01"),
                    d("2024-06-01"),
                    d("2025-04-10"),
                    d("2025-03-31"),
                    d("2025-01-01"),
                ],
                pa.date32(),
            ),
            "code": [ASTHMA, ASTHMA, MARKER, MARKER, ASTHMA, ASTHMA, MARKER],
            "value": pa.array([None, None, 7.5, 6.0, None, None, 6.5], pa.float64()),
        }
    )
    return persons, events


def explained_engine() -> caas.Engine:
    persons, events = explained_tables()
    engine = caas.Engine()
    engine.register("persons", persons, role="person")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    return engine


@pytest.fixture(scope="module")
def result() -> caas.Result:
    return explained_engine().evaluate(
        caas.Cohort.from_yaml(EXPLAINED), reference_date=dt.date(2025, 12, 31)
    )


AGE_SENTENCE = "age in whole years on 31 March 2025"
COUNT_SENTENCE = "the number of Asthma codes (`asthma`) in `gp_events` on or before 31 March 2025"
MARKER_SENTENCE = (
    "the value of the latest Marker code (`marker`) in `gp_events` on or before 31 March 2025"
)


def rules(adult: str, asthma: str, marker: str) -> tuple[RuleOutcome, ...]:
    return (
        RuleOutcome(
            1,
            "adult",
            "include",
            "age >= 18",
            "keep only people for whom `age` is at least 18",
            adult,  # type: ignore[arg-type]
            adult == "true",
        ),
        RuleOutcome(
            2,
            "has asthma",
            "include",
            "asthma_count >= 1",
            "keep only people for whom `asthma_count` is at least 1",
            asthma,  # type: ignore[arg-type]
            asthma == "true",
        ),
        RuleOutcome(
            3,
            "high marker",
            "exclude",
            "latest_marker > 7",
            "remove people for whom the latest Marker value (`latest_marker`) is more than 7",
            marker,  # type: ignore[arg-type]
            marker != "true",
        ),
    )


def test_explanation_of_a_person_removed_by_an_exclude_rule(result: caas.Result) -> None:
    why = result.explain(2)
    assert isinstance(why, caas.Explanation)
    assert (why.cohort, why.person_id, why.verdict, why.in_cohort) == (
        "explained",
        2,
        "out",
        False,
    )
    assert (why.removed_at, why.removed_by) == (3, "high marker")
    assert why.rules == rules("true", "true", "true")
    assert why.variables == (
        VariableExplanation("age", "age", AGE_SENTENCE, 34, None, (), ()),
        VariableExplanation(
            "asthma_count",
            "events",
            COUNT_SENTENCE,
            2,
            2,
            (
                EventRow("gp_events", d("2023-05-01"), ASTHMA, None),
                EventRow("gp_events", d("2024-10-04"), ASTHMA, None),
            ),
            (),
        ),
        # The latest of the two markers before the index date is the row behind the value.
        VariableExplanation(
            "latest_marker",
            "events",
            MARKER_SENTENCE,
            7.5,
            2,
            (EventRow("gp_events", d("2025-02-01"), MARKER, 7.5),),
            (),
        ),
    )
    assert why.rule("high marker").outcome == "true"
    assert why.variable("latest_marker").events[0].value == 7.5
    with pytest.raises(KeyError):
        why.variable("nothing")
    text = str(why).splitlines()
    assert text[:2] == [
        "Person 2 and cohort `explained`",
        "Verdict: not in the cohort: removed at step 3 by rule `high marker`",
    ]
    assert (
        "   3. high marker (exclude latest_marker > 7): true, not passed  <- removed here" in text
    )
    assert "        gp_events  2025-02-01  code 22298006  value 7.5" in text
    assert repr(why) == (
        "Explanation(cohort='explained', person_id=2, verdict='out', removed_by='high marker')"
    )
    # The JSON is the engine's, and the attributes are read from it.
    assert json.loads(why.to_json()) == why.to_dict()
    assert why.to_dict()["verdict"] == {"verdict": "out", "step": 3, "rule": "high marker"}


def test_explanation_values_are_typed_and_the_engines_own() -> None:
    cohort = caas.Cohort.from_yaml(
        """
id: dated
title: Asthma on record
purpose: direct_care
parameters: { index_date: 2025-03-31 }
codelists:
  asthma: { system: snomed_ct, codes: ["195967001"], description: Asthma }
variables:
  last_asthma:
    { kind: events, table: gp_events, codelists: [asthma], to: index_date, returns: last_date }
rules:
  - { name: asthma, include: last_asthma is not null }
"""
    )
    why = explained_engine().evaluate(cohort).explain(2)
    # A date is a datetime.date, not text; the JSON keeps the engine's text.
    assert why.variable("last_asthma").value == d("2024-10-04")
    assert why.to_dict()["variables"][0]["value"] == "2024-10-04"
    assert type(why).__module__ == "caas.explain"
    assert why.variable("last_asthma").events == (EventRow("gp_events", d("2024-10-04"), ASTHMA),)


def test_explanation_html_shows_verdict_rules_and_rows(result: caas.Result) -> None:
    html = result.explain(2)._repr_html_()
    assert "<h3>Person 2 and cohort <code>explained</code></h3>" in html
    assert "removed at step 3 by rule <code>high marker</code>" in html
    assert (
        "<tr><td class='n'>3</td><td class='nowrap'><code>high marker</code></td>"
        "<td>exclude</td><td><code>latest_marker &gt; 7</code></td><td>true</td>"
        "<td class='nowrap'><b>not passed</b> &larr; removed here</td></tr>"
    ) in html
    assert (
        "<tr><td>gp_events</td><td class='nowrap'>2025-02-01</td><td>22298006</td>"
        "<td class='n'>7.5</td></tr>"
    ) in html
    assert "http" not in html and "<script" not in html


def test_unknown_person_raises_without_the_id(result: caas.Result) -> None:
    for person in (987654, "987654", "not-a-number"):
        with pytest.raises(caas.UnknownPersonError) as raised:
            result.explain(person)
        err = raised.value
        assert isinstance(err, caas.DataError) and isinstance(err, LookupError)
        assert (err.code, err.category, err.table) == ("unknown_person", "data", "persons")
        assert str(err) == "person table `persons` has no person with the given id"
        assert "987654" not in str(err) and "not-a-number" not in str(err)
    with pytest.raises(TypeError, match="person_id must be an int or a str"):
        result.explain(True)


def test_explanations_from_several_threads_agree(result: caas.Result) -> None:
    people = [1, 2, 3, 4] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(lambda p: str(result.explain(p)), people))
    assert texts == [str(result.explain(p)) for p in people]


def test_audit_has_every_persons_rule_outcomes(result: caas.Result) -> None:
    audit = result.audit()
    assert audit.column_names == [
        "person_id",
        "adult",
        "has asthma",
        "high marker",
        "member",
        "removed_by",
    ]
    assert audit.to_pylist() == [
        {
            "person_id": 1,
            "adult": True,
            "has asthma": False,
            "high marker": None,
            "member": False,
            "removed_by": "has asthma",
        },
        {
            "person_id": 2,
            "adult": True,
            "has asthma": True,
            "high marker": True,
            "member": False,
            "removed_by": "high marker",
        },
        {
            "person_id": 3,
            "adult": True,
            "has asthma": False,
            "high marker": None,
            "member": False,
            "removed_by": "has asthma",
        },
        {
            "person_id": 4,
            "adult": True,
            "has asthma": True,
            "high marker": False,
            "member": True,
            "removed_by": None,
        },
    ]


def arrow_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_provenance_manifest(result: caas.Result) -> None:
    manifest = result.provenance
    assert json.loads(result.provenance_json) == manifest
    assert list(manifest) == [
        "format",
        "cohort",
        "purpose",
        "definition_sha256",
        "codelists",
        "tables",
        "parameters",
        "engine",
        "started_at",
        "finished_at",
        "population",
        "members",
        "attrition",
    ]
    assert manifest["format"] == "caas-provenance/1"
    assert manifest["cohort"] == {"id": "explained", "title": "Asthma without a high marker"}
    assert manifest["purpose"] == "direct_care"
    assert len(manifest["definition_sha256"]) == 64
    assert [(c["name"], c["system"], c["size"]) for c in manifest["codelists"]] == [
        ("asthma", "snomed_ct", 1),
        ("marker", "snomed_ct", 1),
    ]
    assert [(t["name"], t["role"], t["rows"]) for t in manifest["tables"]] == [
        ("persons", "person", 4),
        ("gp_events", "events", 7),
    ]
    assert manifest["tables"][0]["columns"] == [
        {"name": "person_id", "data_type": "Int64", "nullable": True},
        {"name": "date_of_birth", "data_type": "Date32", "nullable": True},
    ]
    assert manifest["parameters"] == {"index_date": "2025-03-31"}
    assert manifest["engine"] == {"caas": caas.__version__, "datafusion": "55.2.0"}
    assert (manifest["population"], manifest["members"]) == (4, 1)
    assert [(s["rule"], s["before"], s["after"], s["removed"]) for s in manifest["attrition"]] == [
        ("adult", 4, 4, 0),
        ("has asthma", 4, 2, 2),
        ("high marker", 2, 1, 1),
    ]


def test_two_evaluations_give_identical_hashes_and_members(tmp_path: Path) -> None:
    cohort = caas.Cohort.from_yaml(EXPLAINED)
    first = explained_engine().evaluate(cohort)
    # The same inputs again: from Parquet files, and the definition written as JSON.
    persons, events = explained_tables()
    pq.write_table(persons, tmp_path / "persons.parquet")
    pq.write_table(events, tmp_path / "gp_events.parquet")
    engine = caas.Engine()
    engine.register("persons", tmp_path / "persons.parquet", role="person")
    engine.register(
        "gp_events", tmp_path / "gp_events.parquet", role="events", code_system="snomed_ct"
    )
    second = engine.evaluate(caas.Cohort.from_json(cohort.to_json()))
    a, b = first.provenance, second.provenance
    assert a["definition_sha256"] == b["definition_sha256"]
    assert a["codelists"] == b["codelists"]
    for key in ("parameters", "population", "members", "attrition"):
        assert a[key] == b[key]
    assert arrow_bytes(first.members) == arrow_bytes(second.members)
    # A change of meaning changes the hash.
    changed = explained_engine().evaluate(
        caas.Cohort.from_yaml(EXPLAINED.replace("age >= 18", "age >= 19"))
    )
    assert changed.provenance["definition_sha256"] != a["definition_sha256"]


def test_report_sentences_and_self_contained_html(result: caas.Result, tmp_path: Path) -> None:
    report = result.report()
    assert isinstance(report, caas.Report)
    md = report.markdown
    assert md.startswith("# Asthma without a high marker\n")
    for sentence in [
        "- `index_date`: 31 March 2025",
        f"- `asthma_count`: {COUNT_SENTENCE}.",
        f"- `latest_marker`: {MARKER_SENTENCE}.",
        "1. **adult** (include): keep only people for whom `age` is at least 18.",
        (
            "3. **high marker** (exclude): remove people for whom the latest Marker value "
            "(`latest_marker`) is more than 7."
        ),
        "| 2 | has asthma | include | 4 | 2 | 2 |",
        "| 3 | high marker | exclude | 2 | 1 | 1 |",
        f"| `asthma` | Asthma | SNOMED CT | 1 | `{result.provenance['codelists'][0]['sha256']}` |",
        f"| Definition SHA-256 | `{result.provenance['definition_sha256']}` |",
        "The checks found nothing in the tables read.",
    ]:
        assert sentence in md, sentence
    html = report.html
    assert html.startswith("<!DOCTYPE html>")
    assert (
        "<li><strong>adult</strong> (include): keep only people for whom <code>age</code>" in html
    )
    assert "<svg " in html
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html and "<link" not in html
    assert report.funnel_svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert repr(report) == "Report('Asthma without a high marker')"
    # Saved in the form its suffix names.
    assert report.save(tmp_path / "r.md").read_text() == md
    assert report.save(tmp_path / "r.html").read_text() == html
    assert report.save(tmp_path / "funnel.svg").read_text() == report.funnel_svg
    with pytest.raises(ValueError, match=r"\.md \(Markdown\), \.html \(HTML\)"):
        report.save(tmp_path / "r.txt")
    # In a notebook the page is framed, so that its styles stay inside it.
    framed = report._repr_html_()
    assert framed.startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')


def test_report_under_disclosure_control(result: caas.Result) -> None:
    md = result.report(disclosure_control=True).markdown
    # Counts 1 to 7 are suppressed; 0 stays 0.
    assert "| 1 | adult | include | \\* | \\* | 0 |" in md
    assert "| 2 | has asthma | include | \\* | \\* | \\* |" in md


def small_result(parameters: dict[str, str] | None = None) -> caas.Result:
    persons, events = small_tables()
    engine = caas.Engine()
    engine.register("persons", persons, role="person")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    # Members 1, 2 and 4 (see conftest).
    return engine.evaluate(caas.Cohort.from_yaml(SMALL_COHORT), parameters)


def ids(table: pa.Table) -> list[object]:
    return table.column("person_id").to_pylist()


def test_diff_with_earlier_members_from_arrow_and_files(tmp_path: Path) -> None:
    result = small_result()
    previous = pa.table({"person_id": pa.array([9, 1, 3], pa.int32()), "note": ["a", "b", "c"]})
    diff = result.diff(previous)
    assert isinstance(diff, caas.Difference)
    assert (ids(diff.joined), ids(diff.left), diff.stayed) == ([2, 4], [3, 9], 1)
    assert diff.joined.schema.field("person_id").type == pa.int64()
    assert repr(diff) == "Difference(joined=2, left=2, stayed=1)"
    pq.write_table(previous, tmp_path / "previous.parquet")
    pcsv.write_csv(previous, tmp_path / "previous.csv")
    for path in (tmp_path / "previous.parquet", str(tmp_path / "previous.csv")):
        from_file = result.diff(path)
        assert (ids(from_file.joined), ids(from_file.left), from_file.stayed) == (
            [2, 4],
            [3, 9],
            1,
        )
    from_pandas = result.diff(pd.DataFrame({"person_id": [1, 2, 4]}))
    assert (ids(from_pandas.joined), ids(from_pandas.left), from_pandas.stayed) == ([], [], 3)
    # A year later: members 1, 4 and 5. Compared with this run's result itself.
    later = small_result({"index_date": "2026-03-31"})
    diff = later.diff(result)
    assert (ids(diff.joined), ids(diff.left), diff.stayed) == ([5], [2], 2)


def test_diff_with_unusable_members_names_the_problem() -> None:
    result = small_result()
    with pytest.raises(caas.DataError) as raised:
        result.diff(pa.table({"id": [1]}))
    assert (raised.value.code, raised.value.table, raised.value.column_name) == (
        "missing_column",
        "previous members",
        "person_id",
    )
    with pytest.raises(caas.DataError) as raised:
        result.diff(pa.table({"person_id": ["1"]}))
    assert raised.value.code == "column_type"
    with pytest.raises(caas.InvalidInputError) as raised:
        result.diff(pa.table({"person_id": pa.array([1, None, 3], pa.int64())}))
    err = raised.value
    assert isinstance(err, ValueError)
    assert (err.code, err.input, str(err)) == (
        "invalid_input",
        "previous members",
        "previous members: 1 rows have no person_id",
    )
    with pytest.raises(TypeError, match="cannot compare with a dict"):
        result.diff({"person_id": [1]})
