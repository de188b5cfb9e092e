"""Information governance from Python: data-quality findings and their policies, evaluation
options, pseudonyms checked against Python's own HMAC-SHA256, and opt-outs by purpose."""

from __future__ import annotations

import hashlib
import hmac
import pickle

import pyarrow as pa
import pytest

import caas
from conftest import NHS, d, governed_cohort, governed_engine, governed_tables


@pytest.fixture(scope="module")
def engine() -> caas.Engine:
    return governed_engine()


def members(result: caas.Result) -> list[object]:
    return result.members.column(0).to_pylist()


def test_data_quality_counts_bad_nhs_numbers_and_orphan_events(engine: caas.Engine) -> None:
    result = engine.evaluate(governed_cohort(), reference_date="2025-03-31")
    quality = result.data_quality
    assert isinstance(quality, caas.DataQuality)
    assert quality.reference_date == d("2025-03-31")
    assert [(t.table, t.role, t.rows, t.rows_excluded) for t in quality.tables] == [
        ("persons", "person", 6, 0),
        ("gp_events", "events", 2, 0),
    ]
    assert quality.count("persons", "invalid_nhs_number") == 2
    assert quality.count("gp_events", "unknown_person") == 1
    assert quality.count("gp_events", "invalid_nhs_number") is None
    assert quality.total("unknown_person") == 1
    # Person 6's opt-out flags are missing: read as no opt-out, and reported.
    flags = "national_opt_out, type1_opt_out"
    assert [(f.table, f.kind, f.column, f.count, f.policy) for f in quality.findings] == [
        ("persons", "invalid_nhs_number", "nhs_number", 2, "keep"),
        ("persons", "missing_opt_out", flags, 1, "keep"),
        ("gp_events", "unknown_person", "person_id", 1, "keep"),
    ]
    assert str(quality).splitlines() == [
        "Data quality: 3 finding(s)",
        "  `persons`: 2 row(s) have an invalid NHS number (column nhs_number, policy keep)",
        f"  `persons`: 1 row(s) have a missing opt-out flag (column {flags}, policy keep)",
        (
            "  `gp_events`: 1 row(s) have a person id that is not in the person table "
            "(column person_id, policy keep)"
        ),
    ]
    table = quality.to_arrow()
    assert table.column_names == [
        "table",
        "role",
        "kind",
        "column",
        "count",
        "policy",
        "excluded",
    ]
    found = table.filter(pa.compute.greater(table["count"], 0))
    assert found.select(["table", "kind", "count"]).to_pylist() == [
        {"table": "persons", "kind": "invalid_nhs_number", "count": 2},
        {"table": "persons", "kind": "missing_opt_out", "count": 1},
        {"table": "gp_events", "kind": "unknown_person", "count": 1},
    ]
    assert quality.to_dict()["tables"][0]["table"] == "persons"
    html = quality._repr_html_()
    assert (
        "<td>an invalid NHS number</td><td class='n'>2</td><td>keep</td><td class='n'>0</td>"
    ) in html
    # Kept: everyone is in the cohort.
    assert members(result) == [1, 2, 3, 4, 5, 6]


def test_fail_policy_raises_a_data_quality_error_with_attributes(engine: caas.Engine) -> None:
    with pytest.raises(caas.DataQualityError) as raised:
        engine.evaluate(governed_cohort(), quality={"invalid_nhs_number": "fail"})
    err = raised.value
    assert isinstance(err, caas.DataError)
    assert (err.code, err.table, err.column_name, err.kind, err.count) == (
        "data_quality",
        "persons",
        "nhs_number",
        "invalid_nhs_number",
        2,
    )
    assert str(err) == (
        "table `persons`, column `nhs_number`: 2 row(s) have an invalid NHS number "
        "(finding `invalid_nhs_number`, policy `fail`)"
    )
    # The attributes survive a trip to another process.
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is caas.DataQualityError
    assert copy.location() == err.location()
    with pytest.raises(caas.DataQualityError) as raised:
        engine.evaluate(governed_cohort(), quality={"unknown_person": "fail"})
    assert (raised.value.table, raised.value.kind, raised.value.count) == (
        "gp_events",
        "unknown_person",
        1,
    )
    # No message names a person: neither an NHS number nor an id from the tables.
    for message in (str(err), str(raised.value)):
        for value in [*NHS, "9434765918", "99"]:
            assert value not in message


def test_unusable_options_raise_invalid_option_errors(engine: caas.Engine) -> None:
    cohort = governed_cohort()
    cases = [
        ({"quality": {"bogus": "keep"}}, "quality", "unknown field `bogus`"),
        ({"quality": {"invalid_code": "drop"}}, "quality", "unknown variant `drop`"),
        ({"reference_date": "31/03/2025"}, "reference_date", "is not a date (YYYY-MM-DD)"),
        ({"pseudonym_key": "00112233"}, "pseudonym_key", "the key has 4 bytes"),
        ({"pseudonym_key": "zz" * 32}, "pseudonym_key", "not hexadecimal"),
        ({"pseudonym_key": b"short"}, "pseudonym_key", "the key has 5 bytes"),
    ]
    for options, option, said in cases:
        with pytest.raises(caas.InvalidOptionError) as raised:
            engine.evaluate(cohort, **options)  # type: ignore[arg-type]
        err = raised.value
        assert isinstance(err, caas.InvalidArgumentError) and isinstance(err, ValueError)
        assert not isinstance(err, caas.DefinitionError)
        assert (err.code, err.category, err.option) == (
            "invalid_option",
            "invalid_argument",
            option,
        )
        assert said in str(err), str(err)
        # A key is never repeated back.
        assert "00112233" not in str(err) and "short" not in str(err)
    with pytest.raises(TypeError, match="pseudonym_key must be bytes or hexadecimal text"):
        engine.evaluate(cohort, pseudonym_key=12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="quality must be a mapping"):
        engine.evaluate(cohort, quality="exclude")  # type: ignore[arg-type]


def test_finding_kinds_come_from_the_engine() -> None:
    kinds = {k.name: (k.description, k.default_policy) for k in caas.quality.finding_kinds()}
    assert kinds["invalid_nhs_number"] == ("an invalid NHS number", "keep")
    assert kinds["missing_person_id"][1] == "exclude"
    assert kinds["duplicate_person"][1] == "fail"
    assert kinds["non_finite_value"] == ("a value that is not a finite number", "keep")
    assert kinds["missing_opt_out"] == ("a missing opt-out flag", "keep")
    assert kinds["arithmetic_error"][1] == "keep"
    assert kinds["arithmetic_error"][0].startswith("a value that arithmetic left missing")
    assert len(kinds) == 12


KEY = bytes(range(32))


def expected_pseudonyms(nhs_numbers: list[str]) -> list[str]:
    """Independently of caas: HMAC-SHA256 of the NHS number's digits, in hexadecimal."""
    return sorted(
        hmac.new(KEY, n.replace(" ", "").encode(), hashlib.sha256).hexdigest() for n in nhs_numbers
    )


def test_pseudonyms_are_hmac_sha256_of_the_nhs_number(engine: caas.Engine) -> None:
    result = engine.evaluate(governed_cohort(), pseudonym_key=KEY)
    assert result.members.column_names == ["pseudonym", "asthma"]
    assert members(result) == expected_pseudonyms(NHS)
    # The key as hexadecimal text, or as a bytearray, gives the same pseudonyms.
    for key in (KEY.hex(), KEY.hex().upper(), bytearray(KEY)):
        assert members(engine.evaluate(governed_cohort(), pseudonym_key=key)) == members(result)
    # The key is kept nowhere: not on the result, not in the manifest or the report.
    for text in (repr(result), repr(vars(result)), result.provenance_json, str(result)):
        assert KEY.hex() not in text
    assert KEY.hex() not in result.report().markdown


def test_opt_outs_are_the_first_step_for_research(engine: caas.Engine) -> None:
    research = engine.evaluate(governed_cohort("research"))
    assert research.attrition.to_pylist() == [
        {
            "step": 1,
            "rule": "national data opt-out or type 1 opt-out",
            "action": "exclude",
            "before": 6,
            "after": 4,
            "removed": 2,
        },
        {"step": 2, "rule": "adult", "action": "include", "before": 4, "after": 4, "removed": 0},
    ]
    assert members(research) == [1, 4, 5, 6]
    # For direct care nobody is removed and no step is added.
    care = engine.evaluate(governed_cohort("direct_care"))
    assert care.attrition.column("rule").to_pylist() == ["adult"]
    assert members(care) == [1, 2, 3, 4, 5, 6]
    # Research counts in the report are under disclosure control (1 to 7 suppressed).
    assert "| 1 | national data opt-out or type 1 opt-out | exclude | \\* | \\* | \\* |" in (
        research.report().markdown
    )
    # So are they in the notebook view; for direct care they are exact.
    html = research._repr_html_()
    assert "<p>* of * people in the cohort</p>" in html
    assert (
        "<td class='n'>1</td><td>national data opt-out or type 1 opt-out</td><td>exclude</td>"
        "<td class='n'>*</td><td class='n'>*</td><td class='n'>*</td>"
    ) in html
    assert "<p>6 of 6 people in the cohort</p>" in care._repr_html_()
    # The data-quality view too: the 2 invalid NHS numbers are suppressed for research.
    finding = "<td>an invalid NHS number</td><td class='n'>{}</td><td>keep</td><td class='n'>0</td>"
    assert finding.format("*") in research.data_quality._repr_html_()
    assert finding.format("2") in care.data_quality._repr_html_()


def test_opt_out_flags_are_needed_for_research() -> None:
    persons, events = governed_tables()
    engine = caas.Engine()
    engine.register("persons", persons.drop_columns(["type1_opt_out"]), role="person")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    with pytest.raises(caas.DataError) as raised:
        engine.evaluate(governed_cohort("research"))
    assert (raised.value.code, raised.value.table, raised.value.column_name) == (
        "missing_column",
        "persons",
        "type1_opt_out",
    )


def test_evaluate_many_takes_shared_and_per_run_options(engine: caas.Engine) -> None:
    cohort = governed_cohort()
    shared, own, plain = engine.evaluate_many(
        [
            cohort,
            (cohort, None, {"quality": {"invalid_nhs_number": "keep"}, "pseudonym_key": KEY}),
            (cohort, {"index_date": "2025-03-31"}, {"quality": None}),
        ],
        quality={"invalid_nhs_number": "exclude"},
    )
    assert (shared.population, members(shared)) == (4, [1, 2, 3, 6])
    assert (own.population, members(own)) == (6, expected_pseudonyms(NHS))
    # A run's options replace the shared ones: `quality: None` is the defaults.
    assert plain.population == 6
    with pytest.raises(caas.DataQualityError):
        engine.evaluate_many([cohort], quality={"unknown_person": "fail"})
    with pytest.raises(TypeError, match="unknown evaluation option"):
        engine.evaluate_many([(cohort, None, {"pseudonym": KEY})])
