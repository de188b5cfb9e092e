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
    in_process = loaded.engine.evaluate(loaded.cohort, case.get("parameters"), **case_options(case))
    assert result.data_quality.to_dict() == in_process.data_quality.to_dict()
    outcome = "same members, attrition and data quality as in-process"
    outcomes[outcome] = outcomes.get(outcome, 0) + 1
