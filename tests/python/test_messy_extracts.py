"""A real extract's untidiness, from pandas, polars and CSV: every case gives the right
members, or a finding or error that names the table and the column — never a silent loss.

The extract: NHS numbers as person ids, spaced as people write them in one table and not in
the other, one that fails the Modulus 11 check; UK dates as text; no date of death; a code
with a trailing space; an event of nobody in the person table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

import caas

PERSONS = pa.table(
    {
        "person_id": ["943 476 5919", "9000000009", "6000000007"],
        "date_of_birth": ["01/06/1950", "15/03/1980", "02/02/1960"],
    }
)

GP = pa.table(
    {
        "person_id": ["9434765919", "900 000 0009", "900 000 0009", "123"],
        "date": ["01/01/2024", "01/02/2024", "05/02/2024", "01/01/2024"],
        "code": ["195967001", "195967001 ", "195967001", "195967001"],
    }
)

COHORT = """
id: messy
title: Asthma in a messy extract
purpose: direct_care
parameters: { index_date: 2025-06-01 }
codelists:
  asthma: { system: snomed_ct, codes: ["195967001"] }
variables:
  alive: { kind: alive, on: index_date }
  age: { kind: age, on: index_date }
  asthma_events: { kind: events, table: gp, codelists: [asthma], returns: count }
rules:
  - { name: alive, include: alive }
output:
  columns: [age, asthma_events]
"""


def to_csv(table: pa.Table, folder: Path, name: str) -> Path:
    path = folder / f"{name}.csv"
    pcsv.write_csv(table, path)
    return path


SOURCES: dict[str, Callable[[pa.Table, Path, str], Any]] = {
    "pandas": lambda t, _folder, _name: t.to_pandas(),
    "polars": lambda t, _folder, _name: pl.from_arrow(t),
    "csv": to_csv,
}


def register(engine: caas.Engine, kind: str, folder: Path) -> None:
    source = SOURCES[kind]
    engine.register(
        "persons",
        source(PERSONS, folder, "persons"),
        role="person",
        mapping={"nhs_number": "person_id"},
        date_format="%d/%m/%Y",
    )
    engine.register(
        "gp",
        source(GP, folder, "gp"),
        role="events",
        code_system="snomed_ct",
        date_format="%d/%m/%Y",
    )


@pytest.mark.parametrize("kind", SOURCES)
def test_a_messy_extract_gives_its_members_and_counts_what_it_cannot_use(
    kind: str, tmp_path: Path
) -> None:
    engine = caas.Engine()
    register(engine, kind, tmp_path)
    result = engine.evaluate(caas.Cohort.from_yaml(COHORT))
    # No date of death: everyone is alive. Spaced and unspaced NHS numbers are one person;
    # the code with a trailing space is not asthma.
    assert result.members.to_pylist() == [
        {"person_id": "6000000007", "age": 65, "asthma_events": 0},
        {"person_id": "9000000009", "age": 45, "asthma_events": 1},
        {"person_id": "9434765919", "age": 75, "asthma_events": 1},
    ]
    findings = {
        (f.table, f.kind): (f.column, f.count) for f in result.data_quality.findings if f.count
    }
    assert findings == {
        ("persons", "invalid_nhs_number"): ("person_id", 1),
        ("gp", "invalid_code"): ("code", 1),
        ("gp", "unknown_person"): ("person_id", 1),
    }
    # The report says why everyone is alive.
    assert "no dates of death" in result.report().markdown


def test_a_text_date_that_is_not_a_date_names_table_column_and_row(tmp_path: Path) -> None:
    # Row 3 of the GP extract is written the American way round.
    dates = pa.array(["01/01/2024", "01/02/2024", "02/13/2024", "01/01/2024"])
    american = GP.set_column(1, "date", dates)
    for kind, source in SOURCES.items():
        engine = caas.Engine()
        register(engine, kind, tmp_path)
        engine.register(
            "gp",
            source(american, tmp_path, "gp"),
            role="events",
            code_system="snomed_ct",
            date_format="%d/%m/%Y",
        )
        with pytest.raises(caas.DataError) as raised:
            engine.evaluate(caas.Cohort.from_yaml(COHORT))
        err = raised.value
        assert (err.code, err.table, err.column_name, err.row) == ("column_type", "gp", "date", 3)
        assert "02/13" not in str(err), kind


def test_opencodelists_downloads_and_missing_codelist_files(tmp_path: Path) -> None:
    engine = caas.Engine()
    register(engine, "csv", tmp_path)
    # A dm+d download names its code column `dmd_id`: the error says what to set.
    (tmp_path / "asthma.csv").write_text("dmd_id,dmd_name\n195967001,Asthma\n")
    from_file = COHORT.replace('codes: ["195967001"]', "file: asthma.csv")
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml(from_file, base_dir=tmp_path)
    assert raised.value.codelist == "asthma"
    assert "set `code_column: dmd_id`" in str(raised.value)
    with_column = from_file.replace("file: asthma.csv", "file: asthma.csv, code_column: dmd_id")
    result = engine.evaluate(caas.Cohort.from_yaml(with_column, base_dir=tmp_path))
    assert [m["asthma_events"] for m in result.members.to_pylist()] == [0, 1, 1]
    # A codelist file that is not there: the error names the codelist and the file.
    missing = from_file.replace("asthma.csv", "asthma_v2.csv")
    with pytest.raises(caas.DefinitionError) as raised:
        caas.Cohort.from_yaml(missing, base_dir=tmp_path)
    assert (raised.value.codelist, raised.value.path) == ("asthma", str(tmp_path / "asthma_v2.csv"))


def test_pandas_integer_nhs_numbers_meet_spaced_text() -> None:
    # The person table from a warehouse holds NHS numbers as integers.
    persons = PERSONS.to_pandas()
    persons["person_id"] = persons["person_id"].str.replace(" ", "").astype("int64")
    engine = caas.Engine()
    engine.register(
        "persons",
        persons,
        role="person",
        mapping={"nhs_number": "person_id"},
        date_format="%d/%m/%Y",
    )
    engine.register(
        "gp",
        pd.DataFrame(GP.to_pydict()),
        role="events",
        code_system="snomed_ct",
        date_format="%d/%m/%Y",
    )
    result = engine.evaluate(caas.Cohort.from_yaml(COHORT))
    assert [(m["person_id"], m["asthma_events"]) for m in result.members.to_pylist()] == [
        (6000000007, 0),
        (9000000009, 1),
        (9434765919, 1),
    ]
