"""Tables from every kind of source give the same members: pyarrow, polars, pandas and
DuckDB objects through the Arrow PyCapsule interface, and Parquet, CSV and Arrow IPC files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from pyarrow import feather

import caas
from conftest import SMALL_COHORT, SMALL_MEMBERS, small_tables


def evaluate(persons: Any, events: Any) -> caas.Result:
    engine = caas.Engine()
    engine.register("persons", persons, role="person")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    return engine.evaluate(caas.Cohort.from_yaml(SMALL_COHORT))


def from_duckdb(table: pa.Table) -> Any:
    connection = duckdb.connect()
    connection.register("source", table)
    return connection.sql("SELECT * FROM source")


CONVERSIONS: dict[str, Callable[[pa.Table], Any]] = {
    "pyarrow_table": lambda t: t,
    "pyarrow_reader": lambda t: pa.RecordBatchReader.from_batches(t.schema, t.to_batches(2)),
    "pyarrow_batch": lambda t: t.combine_chunks().to_batches()[0],
    "polars": pl.from_arrow,
    "pandas": lambda t: t.to_pandas(),
    "pandas_arrow_dtypes": lambda t: t.to_pandas(types_mapper=pd.ArrowDtype),
    "duckdb": from_duckdb,
}


@pytest.mark.parametrize("kind", CONVERSIONS)
def test_every_in_memory_source_gives_the_same_members(kind: str) -> None:
    persons, events = small_tables()
    convert = CONVERSIONS[kind]
    result = evaluate(convert(persons), convert(events))
    assert result.members.to_pylist() == SMALL_MEMBERS
    assert result.attrition.select(["rule", "before", "after", "removed"]).to_pylist() == [
        {"rule": "alive", "before": 6, "after": 5, "removed": 1},
        {"rule": "eligible", "before": 5, "after": 3, "removed": 2},
    ]


def test_polars_strings_and_pandas_timestamps() -> None:
    # polars hands strings over as Utf8View; pandas dates are often datetime64 columns.
    persons, events = small_tables()
    frame = persons.to_pandas()
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"])
    result = evaluate(frame, pl.from_arrow(events).with_columns(pl.col("code").cast(pl.String)))
    assert result.members.to_pylist() == SMALL_MEMBERS


def test_a_lazy_polars_frame_and_a_pandas_frame_indexed_by_person() -> None:
    persons, events = small_tables()
    result = evaluate(persons.to_pandas().set_index("person_id"), pl.from_arrow(events).lazy())
    assert result.members.to_pylist() == SMALL_MEMBERS


def test_lazy_frames_and_duckdb_relations_are_scanned_from_files() -> None:
    # Each runs once, streaming, into a Parquet file that caas scans at each evaluation:
    # the plan reads files, and the query of each ran (the filter took person 99 out).
    persons, events = small_tables()
    extra = pa.Table.from_pylist([{"person_id": 99}], schema=persons.schema)
    lazy = pl.from_arrow(pa.concat_tables([persons, extra])).lazy().filter(pl.col("person_id") < 99)
    connection = duckdb.connect()
    connection.register("events_source", events)
    relation = connection.sql("SELECT * FROM events_source WHERE person_id < 99")
    engine = caas.Engine()
    engine.register("persons", lazy, role="person")
    engine.register("gp_events", relation, role="events", code_system="snomed_ct")
    cohort = caas.Cohort.from_yaml(SMALL_COHORT)
    result = engine.evaluate(cohort)
    assert result.members.to_pylist() == SMALL_MEMBERS
    assert result.population == persons.num_rows
    plan = engine.plan(cohort)
    assert plan.count(".parquet") >= 2 and "caas-spill-" in plan
    # The source can go: the engine reads its own copy, and so do explanations.
    connection.close()
    assert engine.evaluate(cohort).member_count == len(SMALL_MEMBERS)
    assert result.explain(SMALL_MEMBERS[0]["person_id"]).verdict == "in"


def uk_dates(table: pa.Table, column: str) -> pa.Table:
    """`table` with the dates of `column` as UK-style text (01/06/1950)."""
    text = [None if d is None else d.strftime("%d/%m/%Y") for d in table[column].to_pylist()]
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pa.array(text, pa.string()))


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow_table"])
def test_text_dates_in_a_date_format_give_the_same_members(kind: str) -> None:
    persons, events = small_tables()
    convert = CONVERSIONS[kind]
    engine = caas.Engine()
    persons_uk = uk_dates(persons, "date_of_birth")
    engine.register("persons", convert(persons_uk), role="person", date_format="%d/%m/%Y")
    events_uk = uk_dates(events, "date")
    engine.register(
        "gp_events",
        convert(events_uk),
        role="events",
        code_system="snomed_ct",
        date_format={"date": "%d/%m/%Y"},
    )
    result = engine.evaluate(caas.Cohort.from_yaml(SMALL_COHORT))
    assert result.members.to_pylist() == SMALL_MEMBERS


def test_text_dates_from_csv_and_iso_text_from_pandas(tmp_path: Path) -> None:
    persons, events = small_tables()
    path = write_csv(uk_dates(persons, "date_of_birth"), tmp_path, "persons")
    engine = caas.Engine()
    # The dates of death are ISO 8601, as the columns without a format.
    engine.register("persons", path, role="person", date_format={"date_of_birth": "%d/%m/%Y"})
    # ISO 8601 text needs no format.
    frame = events.to_pandas()
    frame["date"] = frame["date"].astype(str)
    engine.register("gp_events", frame, role="events", code_system="snomed_ct")
    result = engine.evaluate(caas.Cohort.from_yaml(SMALL_COHORT))
    # Ids read from CSV are text.
    members = [{**m, "person_id": int(m["person_id"])} for m in result.members.to_pylist()]
    assert members == SMALL_MEMBERS


def test_text_that_is_not_a_date_names_table_column_and_format() -> None:
    persons, events = small_tables()
    engine = caas.Engine()
    # The UK dates read as ISO 8601: not dates in that format.
    engine.register("persons", uk_dates(persons, "date_of_birth"), role="person")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    with pytest.raises(caas.DataError) as raised:
        engine.evaluate(caas.Cohort.from_yaml(SMALL_COHORT))
    err = raised.value
    assert (err.code, err.table, err.column_name) == ("column_type", "persons", "date_of_birth")
    assert "`%Y-%m-%d`" in str(err)
    assert "/19" not in str(err)  # no value of the table


def test_sql_backends_refuse_a_date_format_they_cannot_read() -> None:
    persons, events = small_tables()
    engine = caas.Engine()
    persons_uk = uk_dates(persons, "date_of_birth")
    engine.register("persons", persons_uk, role="person", date_format="%d/%m/%Y")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    with pytest.raises(caas.CaasError) as raised:
        engine.to_sql(caas.Cohort.from_yaml(SMALL_COHORT), dialect="duckdb")
    assert raised.value.code == "unsupported"
    assert "written as `%d/%m/%Y`" in str(raised.value)


def write_parquet(table: pa.Table, folder: Path, name: str) -> Path:
    path = folder / f"{name}.parquet"
    pq.write_table(table, path)
    return path


def write_csv(table: pa.Table, folder: Path, name: str) -> Path:
    path = folder / f"{name}.csv"
    pcsv.write_csv(table, path, pcsv.WriteOptions(quoting_style="none"))
    return path


def write_arrow(table: pa.Table, folder: Path, name: str) -> Path:
    path = folder / f"{name}.arrow"
    feather.write_feather(table, path, compression="uncompressed")
    return path


def write_folder(table: pa.Table, folder: Path, name: str) -> Path:
    path = folder / name
    path.mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), path / "part-0.parquet")
    pq.write_table(table.slice(half), path / "part-1.parquet")
    return path


@pytest.mark.parametrize("write", [write_parquet, write_csv, write_arrow, write_folder])
def test_every_file_format_gives_the_same_members(
    write: Callable[[pa.Table, Path, str], Path], tmp_path: Path
) -> None:
    persons, events = small_tables()
    result = evaluate(write(persons, tmp_path, "persons"), write(events, tmp_path, "events"))
    expected = SMALL_MEMBERS
    if write is write_csv:
        # Identifiers read from CSV are text, whatever their digits (`01` is not person 1).
        expected = [{**member, "person_id": str(member["person_id"])} for member in expected]
    assert result.members.to_pylist() == expected


def test_arrow_datasets_are_scanned_lazily_where_they_can_be(tmp_path: Path) -> None:
    import pyarrow.dataset as pads

    persons, events = small_tables()
    folder = write_folder(persons, tmp_path, "persons")
    events_file = write_parquet(events, tmp_path, "events")
    engine = caas.Engine()
    engine.register("persons", pads.dataset(folder), role="person")
    engine.register("gp_events", pads.dataset(events_file), role="events", code_system="snomed_ct")
    cohort = caas.Cohort.from_yaml(SMALL_COHORT)
    assert engine.evaluate(cohort).members.to_pylist() == SMALL_MEMBERS
    # Both are read from their files at evaluation, not copied into memory.
    plan = engine.plan(cohort)
    assert "part-0.parquet" in plan and "events.parquet" in plan
    # A filtered dataset and one with columns from folder names are read through their
    # scanner, with the filter applied.
    everyone = pads.dataset(events_file).filter(pads.field("person_id") >= 0)
    engine.register("gp_events", everyone, role="events", code_system="snomed_ct")
    assert engine.evaluate(cohort).members.to_pylist() == SMALL_MEMBERS
    assert "events.parquet" not in engine.plan(cohort)
    nobody = pads.dataset(events_file).filter(pads.field("person_id") < 0)
    engine.register("gp_events", nobody, role="events", code_system="snomed_ct")
    assert engine.evaluate(cohort).members.to_pylist() != SMALL_MEMBERS


def test_mapping_and_code_columns() -> None:
    persons, events = small_tables()
    persons = persons.rename_columns(["nhs_number", "dob", "sex", "dod"])
    hospital = pa.table(
        {
            "patient": [2, 4],
            "admidate": events.column("date").take([0, 3]),
            "DIAG_4_01": ["I10", "J450"],
            "DIAG_4_02": ["J45X", None],
        }
    )
    engine = caas.Engine()
    engine.register(
        "persons",
        persons,
        role="person",
        mapping={"person_id": "nhs_number", "date_of_birth": "dob", "date_of_death": "dod"},
    )
    engine.register(
        "apc",
        hospital,
        role="events",
        code_system="icd10",
        mapping={"person_id": "patient", "date": "admidate", "codes": ["DIAG_4_01", "DIAG_4_02"]},
    )
    cohort = caas.Cohort.from_yaml(
        """
id: admitted
title: Asthma admission, any position, and in the primary position
purpose: direct_care
codelists: { asthma: { system: icd10, codes: [J45] } }
variables:
  admissions: { kind: events, table: apc, codelists: [asthma], returns: count }
rules: [ { name: admitted, include: admissions > 0 } ]
output: { columns: [admissions] }
"""
    )
    assert engine.evaluate(cohort).members.to_pylist() == [
        {"person_id": 2, "admissions": 1},
        {"person_id": 4, "admissions": 1},
    ]


def test_results_convert_to_polars_pandas_and_duckdb() -> None:
    persons, events = small_tables()
    result = evaluate(persons, events)
    assert isinstance(result.members, pa.Table)
    assert result.to_polars().to_dicts() == SMALL_MEMBERS
    assert result.to_pandas().to_dict("records") == SMALL_MEMBERS
    members = result.members  # noqa: F841 (read by DuckDB's replacement scan)
    assert duckdb.sql("SELECT count(*) FROM members").fetchall() == [(3,)]
    assert pl.from_arrow(result.attrition)["after"].to_list() == [5, 3]


def test_a_table_can_be_replaced_and_removed() -> None:
    persons, events = small_tables()
    engine = caas.Engine()
    engine.register("persons", persons, role="person")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    assert engine.tables == ["persons", "gp_events"]
    engine.register("gp_events", events.slice(1), role="events", code_system="snomed_ct")
    result = engine.evaluate(caas.Cohort.from_yaml(SMALL_COHORT))
    assert [m["person_id"] for m in result.members.to_pylist()] == [1, 4]
    assert engine.deregister("gp_events") is True
    assert engine.deregister("gp_events") is False
    with pytest.raises(caas.DataError) as raised:
        engine.evaluate(caas.Cohort.from_yaml(SMALL_COHORT))
    assert raised.value.table == "gp_events"


def test_objects_without_arrow_data_are_refused() -> None:
    engine = caas.Engine()
    with pytest.raises(TypeError, match="__arrow_c_stream__"):
        engine.register("persons", [1, 2, 3], role="person")
