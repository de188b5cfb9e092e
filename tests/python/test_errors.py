"""Bad input raises the documented exception class, with the place at fault as attributes."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import pyarrow as pa
import pytest

import caas
from conftest import SMALL_COHORT, small_tables


def test_yaml_syntax_error_has_line_and_column() -> None:
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml("id: x\ntitle: y\npurpose: care\n")
    err = raised.value
    assert (err.code, err.line, err.column) == ("syntax", 3, 10)
    assert "unknown variant `care`" in str(err)
    assert isinstance(err, caas.CaasError)


def test_json_syntax_error_has_line_and_column() -> None:
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_json('{\n  "id": "x",\n  "title": "y",\n  "purpose": 3\n}')
    assert (raised.value.code, raised.value.line) == ("syntax", 4)


def test_unknown_field_in_a_dict_names_the_field() -> None:
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_dict({"id": "x", "title": "y", "purpose": "direct_care", "rulez": []})
    err = raised.value
    assert (err.code, err.category) == ("syntax", "definition")
    assert "unknown field `rulez`" in str(err)
    assert err.line is None


def test_expression_error_names_the_rule_and_the_character() -> None:
    text = SMALL_COHORT.replace("age >= 65 or asthma_recent", "age >= or asthma_recent")
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml(text)
    err = raised.value
    assert err.code == "expression_syntax"
    assert (err.rule, err.rule_index) == ("eligible", 2)
    assert err.place == "rule 2 (`eligible`)"
    assert err.column == 8
    # The expression's line of the YAML text, quoted with a caret under the place.
    line = text.splitlines().index(next(x for x in text.splitlines() if "age >= or" in x)) + 1
    assert err.line == line
    assert f"line {line}: age >= or asthma_recent\n" in str(err)
    assert str(err).endswith(" " * (len(f"line {line}: ") + 7) + "^")


def test_expression_error_suggests_the_keyword_meant() -> None:
    text = SMALL_COHORT.replace("index_date - 12 months", "index_date - 12 mnths")
    assert text != SMALL_COHORT
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml(text)
    assert (raised.value.code, raised.value.suggestion) == ("expression_syntax", "months")
    assert "(did you mean `months`?)" in str(raised.value)


def test_unknown_reference_names_the_variable_and_the_name() -> None:
    text = SMALL_COHORT.replace("codelists: [asthma]\n    from", "codelists: [asthmaa]\n    from")
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml(text)
    err = raised.value
    assert (err.code, err.variable, err.reference, err.suggestion) == (
        "unknown_reference",
        "asthma_recent",
        "asthmaa",
        "asthma",
    )
    assert str(err).endswith("unknown codelist `asthmaa` (did you mean `asthma`?)")


def test_type_mismatch_names_the_rule() -> None:
    text = SMALL_COHORT.replace("age >= 65 or asthma_recent", "age >= index_date")
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml(text)
    assert (raised.value.code, raised.value.rule) == ("type_mismatch", "eligible")


def test_cycle_lists_the_names() -> None:
    doc = {
        "id": "c",
        "title": "cycle",
        "purpose": "direct_care",
        "variables": {
            "a": {"kind": "derived", "expr": "b"},
            "b": {"kind": "derived", "expr": "a"},
        },
    }
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_dict(doc)
    assert raised.value.code == "cycle"
    assert raised.value.cycle in (["a", "b", "a"], ["b", "a", "b"])


def test_parameters_are_checked() -> None:
    cohort = caas.Cohort.from_yaml(SMALL_COHORT)
    cohort.validate({"index_date": dt.date(2024, 1, 1)})
    cohort.validate({"index_date": dt.datetime(2024, 1, 1)})
    with pytest.raises(caas.DefinitionError) as raised:
        cohort.validate({"index_dat": "2024-01-01"})
    assert (raised.value.code, raised.value.parameter) == ("unknown_parameter", "index_dat")
    with pytest.raises(caas.DefinitionError) as raised:
        cohort.validate({"index_date": 3})
    assert (raised.value.code, raised.value.parameter) == ("type_mismatch", "index_date")
    # A date and time is the engine's error naming the parameter, as any other wrong type.
    with pytest.raises(caas.DefinitionError, match="time of day") as raised:
        cohort.validate({"index_date": dt.datetime(2024, 1, 1, 12)})
    assert (raised.value.code, raised.value.parameter) == ("type_mismatch", "index_date")
    # A value that is no parameter type at all is the engine's error too, not a TypeError.
    with pytest.raises(caas.DefinitionError, match="got list") as raised:
        cohort.validate({"index_date": [2024]})
    assert (raised.value.code, raised.value.parameter) == ("type_mismatch", "index_date")


def test_parameters_cross_as_typed_values() -> None:
    engine = caas.Engine()
    persons, _ = small_tables()
    engine.register("persons", persons, role="person")
    # A text parameter keeps text that looks like a date; a date parameter takes a date,
    # or text that is a date written YYYY-MM-DD.
    cohort = caas.Cohort.from_yaml(
        """
id: batch
title: Everyone, labelled with a batch
purpose: direct_care
parameters: { index_date: 2025-03-31, batch: first }
variables:
  alive: { kind: alive, on: index_date }
  batch_label: { kind: derived, expr: batch }
rules:
  - { name: alive, include: alive }
output: { columns: [batch_label] }
"""
    )
    for index_date in (dt.date(2025, 3, 31), "2025-03-31"):
        result = engine.evaluate(cohort, {"batch": "2025-01-01", "index_date": index_date})
        assert set(result.members.column("batch_label").to_pylist()) == {"2025-01-01"}
    with pytest.raises(caas.DefinitionError) as raised:
        cohort.validate({"index_date": "31/03/2025"})
    assert (raised.value.code, raised.value.parameter) == ("type_mismatch", "index_date")
    assert "given text that is not a date (YYYY-MM-DD)" in str(raised.value)
    # A date for a text parameter is a type mismatch, not text.
    with pytest.raises(caas.DefinitionError) as raised:
        cohort.validate({"batch": dt.date(2025, 1, 1)})
    assert (raised.value.code, raised.value.parameter) == ("type_mismatch", "batch")
    with pytest.raises(caas.DefinitionError, match="a date and time with a time zone") as raised:
        cohort.validate({"index_date": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)})
    assert (raised.value.code, raised.value.parameter) == ("type_mismatch", "index_date")


def test_options_of_a_wrong_type_name_the_option() -> None:
    engine = caas.Engine()
    persons, _ = small_tables()
    engine.register("persons", persons, role="person")
    cohort = caas.Cohort.from_yaml(
        "{id: all, title: Everyone, purpose: direct_care, output: {columns: []}}"
    )
    with pytest.raises(
        TypeError, match="reference_date must be a datetime.date or 'YYYY-MM-DD', not int"
    ):
        engine.evaluate(cohort, reference_date=20250331)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reference_date: a date and time with a time of day"):
        engine.evaluate(cohort, reference_date=dt.datetime(2025, 3, 31, 9))
    with pytest.raises(TypeError, match="quality must be a mapping"):
        engine.evaluate(cohort, quality=["exclude"])  # type: ignore[arg-type]


def test_missing_column_names_the_table_and_column() -> None:
    persons, _ = small_tables()
    engine = caas.Engine()
    with pytest.raises(caas.DataError) as raised:
        engine.register("persons", persons, role="person", mapping={"date_of_birth": "dob"})
    err = raised.value
    assert (err.code, err.table, err.column_name) == ("missing_column", "persons", "dob")


def test_column_type_names_the_table_and_column() -> None:
    engine = caas.Engine()
    table = pa.table({"person_id": [1.5], "date_of_birth": ["x"]})
    with pytest.raises(caas.DataError) as raised:
        engine.register("persons", table, role="person")
    err = raised.value
    assert (err.code, err.table, err.column_name) == ("column_type", "persons", "person_id")


def test_bad_specifications_are_registration_errors() -> None:
    persons, events = small_tables()
    engine = caas.Engine()
    with pytest.raises(caas.DataError) as raised:
        engine.register("gp", events, role="events")
    assert (raised.value.code, raised.value.table) == ("registration", "gp")
    with pytest.raises(caas.DataError) as raised:
        engine.register("persons", persons, role="persn")  # type: ignore[arg-type]
    assert (raised.value.code, raised.value.table) == ("registration", "persons")
    assert "persn" in str(raised.value)


def test_missing_file_is_an_io_error(tmp_path: Path) -> None:
    engine = caas.Engine()
    with pytest.raises(caas.DataError) as raised:
        engine.register("persons", tmp_path / "nowhere.parquet", role="person")
    assert raised.value.code == "io"
    assert raised.value.path == str(tmp_path / "nowhere.parquet")


def test_codelist_files_are_read_from_the_base_folder(tmp_path: Path) -> None:
    text = SMALL_COHORT.replace('codes: ["195967001"]', "file: asthma.csv")
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml(text, base_dir=tmp_path)
    assert (raised.value.code, raised.value.codelist) == ("codelist", "asthma")
    assert raised.value.path == str(tmp_path / "asthma.csv")
    assert "codelist `asthma`" in str(raised.value)
    (tmp_path / "asthma.csv").write_text("code,term\n195967001,Asthma\n")
    assert caas.Cohort.from_yaml(text, base_dir=tmp_path).id == "small"
    (tmp_path / "asthma.csv").write_text("term\nAsthma\n")
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml(text, base_dir=tmp_path)
    assert (raised.value.code, raised.value.codelist) == ("codelist", "asthma")


def test_unregistered_table_at_evaluation() -> None:
    persons, _ = small_tables()
    engine = caas.Engine()
    engine.register("persons", persons, role="person")
    with pytest.raises(caas.DataError) as raised:
        engine.evaluate(caas.Cohort.from_yaml(SMALL_COHORT))
    err = raised.value
    assert (err.code, err.table, err.variable) == ("table", "gp_events", "asthma_recent")


def test_messages_do_not_show_row_values() -> None:
    persons = pa.table({"person_id": ["9434765919"], "date_of_birth": ["ZEBRA-1950"]})
    engine = caas.Engine()
    # Text dates are read when the cohort reads them; these are no dates.
    engine.register("persons", persons, role="person")
    cohort = caas.Cohort.from_yaml(
        "id: a\ntitle: Ages\npurpose: direct_care\n"
        "variables: { age: { kind: age, on: DATE '2025-01-01' } }\n"
    )
    with pytest.raises(caas.DataError) as raised:
        engine.evaluate(cohort)
    assert (raised.value.table, raised.value.column_name) == ("persons", "date_of_birth")
    assert "9434765919" not in str(raised.value)
    assert "ZEBRA" not in str(raised.value)


def test_errors_survive_pickling() -> None:
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml("id: x\ntitle: y\npurpose: care\n")
    copy = pickle.loads(pickle.dumps(raised.value))
    assert type(copy) is caas.DefinitionError
    assert (copy.code, copy.category, copy.line, copy.column, str(copy)) == (
        "syntax",
        "definition",
        3,
        10,
        str(raised.value),
    )


def test_errors_made_in_python_take_their_category_from_the_engine() -> None:
    assert caas.DataError("gone", code="io").category == "data"
    assert caas.InvalidOptionError("bad", code="invalid_option").category == "invalid_argument"
    # Text that is no code of the engine is a bug, as the engine holds it.
    assert caas.CaasError("odd", code="no_such_code").category == "internal"
    assert caas.CaasError("odd", code="io", category="data").location() == {
        "code": "io",
        "category": "data",
    }


def test_non_cohorts_are_refused() -> None:
    engine = caas.Engine()
    with pytest.raises(TypeError, match="caas.Cohort"):
        engine.evaluate("cohort.yaml")  # type: ignore[arg-type]
