"""The conformance suite on the engines that run caas's generated SQL — DuckDB, PostgreSQL
and Apache Spark (local mode, one session for the whole run). Each case's tables, as caas
read them from the case's CSV, are loaded into the engine, and the cohort's SQL must give
exactly the members and attrition that the case expects, which are the in-process engine's
(test_conformance.py), and exactly the in-process data-quality findings, counted in the
engine; pseudonyms are made in the engine, equal to the in-process ones. An error case
must give its error before the members are read. The count of cases per engine and
outcome is printed at the end of the run.

PostgreSQL is the server that scripts/test-python.sh starts (``CAAS_TEST_POSTGRES``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from test_conformance import (
    CASE_FILES,
    Loaded,
    case_options,
    check_arithmetic,
    check_data_quality,
    compare,
    load_case,
)

import caas
import caas.duckdb
import caas.postgres
import caas.spark
from caas.backend import BackendResult
from conftest import BACKEND_OUTCOMES

BACKENDS = ("duckdb", "postgres", "spark")

#: The PostgreSQL type of each Arrow type the cases' tables have.
PG_TYPES = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE PRECISION",
    pa.string(): "TEXT",
    pa.large_string(): "TEXT",
    pa.string_view(): "TEXT",
    pa.date32(): "DATE",
    pa.bool_(): "BOOLEAN",
    pa.null(): "TEXT",
}


def postgres_dsn() -> str:
    dsn = os.environ.get("CAAS_TEST_POSTGRES")
    assert dsn, "CAAS_TEST_POSTGRES is not set: run the tests through scripts/test-python.sh"
    return dsn


def run_on(backend: str, loaded: Loaded, request: pytest.FixtureRequest) -> BackendResult:
    """Loads the case's tables into ``backend`` and evaluates the cohort there."""
    case = loaded.case
    tables: dict[str, dict[str, Any]] = {}
    data: dict[str, pa.Table] = {}
    for name, table in case.get("tables", {}).items():
        tables[name] = {
            "table": f"case_{name}",
            "role": table["role"],
            "mapping": table.get("mapping"),
            "code_system": table.get("code_system"),
        }
        data[f"case_{name}"] = loaded.engine.read_table(name)
    arguments = {
        "tables": tables,
        "cohorts": loaded.others,
        **case_options(case),
    }
    parameters = case.get("parameters")
    if backend == "duckdb":
        import duckdb

        connection = duckdb.connect()
        for name, table in data.items():
            connection.register(name, table)
        return caas.duckdb.evaluate(connection, loaded.cohort, parameters, **arguments)
    if backend == "postgres":
        import psycopg

        connection = psycopg.connect(postgres_dsn(), autocommit=True)
        request.addfinalizer(connection.close)
        with connection.cursor() as cursor:
            for name, table in data.items():
                columns = ", ".join(f'"{f.name}" {PG_TYPES[f.type]}' for f in table.schema)
                cursor.execute(f'CREATE TEMPORARY TABLE "{name}" ({columns})'.encode())
                if table.num_rows:
                    marks = ", ".join(["%s"] * table.num_columns)
                    rows = [tuple(r.values()) for r in table.to_pylist()]
                    cursor.executemany(f'INSERT INTO "{name}" VALUES ({marks})'.encode(), rows)
        return caas.postgres.evaluate(connection, loaded.cohort, parameters, **arguments)
    session = request.getfixturevalue("spark")
    for name, table in data.items():
        session.createDataFrame(table).createOrReplaceTempView(name)
    return caas.spark.evaluate(session, loaded.cohort, parameters, **arguments)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(backend: str, path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    outcomes = BACKEND_OUTCOMES.setdefault(backend, {})
    case = yaml.safe_load(path.read_text())
    expect = case["expect"]
    error = expect.get("error")
    if error is not None:
        with pytest.raises(caas.CaasError) as raised:
            run_on(backend, load_case(path, tmp_path), request)
        err = raised.value
        assert err.code == error["code"], f"expected a `{error['code']}` error: {err!r}"
        for part in error.get("message_contains", []):
            assert part in str(err)
        outcome = "the expected error, before the members were read"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return
    loaded = load_case(path, tmp_path)
    result = run_on(backend, loaded, request)
    if "members" in expect:
        compare("members", result.to_arrow(), expect["members"])
    if "attrition" in expect:
        compare("attrition", result.attrition_arrow(), expect["attrition"])
    if "data_quality" in expect:
        check_data_quality(result, expect["data_quality"])
    if "arithmetic" in expect:
        check_arithmetic(result.data_quality, expect["arithmetic"])
    in_process = loaded.engine.evaluate(loaded.cohort, case.get("parameters"), **case_options(case))
    assert result.data_quality.to_dict() == in_process.data_quality.to_dict()
    outcome = "same members, attrition and data quality as in-process"
    outcomes[outcome] = outcomes.get(outcome, 0) + 1


def modulus_11_valid(text: str) -> bool:
    """The NHS number check, as the NHS data dictionary writes it: ten digits once spaces
    are removed, the first not 0, the last equal to 11 less the remainder of the first
    nine weighted 10 down to 2 (11 counting as 0; where it is 10, no number has them)."""
    digits = text.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit() or digits[0] == "0":
        return False
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(digits[:9])) % 11
    return check != 10 and check % 11 == int(digits[9])


@pytest.mark.parametrize("backend", BACKENDS)
def test_nhs_numbers_checked_as_in_process(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Invalid NHS numbers are counted alike in-process, in the engine and by the data
    dictionary's rule, over random numbers of every remainder, spaced, short and long."""
    import random

    rng = random.Random(11)
    numbers = []
    for _ in range(3000):
        digits = str(rng.randrange(10**9, 10**10))
        shape = rng.randrange(6)
        if shape == 0:  # made valid, where its first nine allow it
            check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(digits[:9])) % 11
            digits = digits[:9] + str(check % 11 % 10)
        elif shape == 1:
            digits = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
        elif shape == 2:
            digits = digits[: rng.randrange(1, 10)]
        elif shape == 3:
            digits = "0" + digits[1:]
        elif shape == 4:
            digits += str(rng.randrange(10))
        numbers.append(digits)
    # A spaced number first, so that the column is read as text, leading zeros kept.
    numbers.insert(0, "943 476 5919")
    rows = "".join(f"{i},{n},1970-01-01\n" for i, n in enumerate(numbers, start=1))
    case = {
        "tables": {
            "persons": {
                "role": "person",
                "mapping": {"nhs_number": "nhs_number"},
                "csv": "person_id,nhs_number,date_of_birth\n" + rows,
            }
        },
        "definition": (
            "id: nhs\ntitle: Everyone\npurpose: direct_care\n"
            "parameters:\n  index_date: 2026-01-01\n"
            "variables:\n  age: { kind: age, on: index_date }\n"
            "output:\n  columns: [age]\n"
        ),
        "options": {"reference_date": "2026-01-31"},
    }
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(case))
    loaded = load_case(path, tmp_path)
    in_process = loaded.engine.evaluate(loaded.cohort, None, **case_options(case))
    check_data_quality(
        in_process,
        {
            "persons": {
                "rows": len(numbers),
                "findings": {"invalid_nhs_number": sum(not modulus_11_valid(n) for n in numbers)},
            }
        },
    )
    result = run_on(backend, loaded, request)
    assert result.data_quality.to_dict() == in_process.data_quality.to_dict()
