"""Cohorts evaluated inside PostgreSQL (15 and later), from the SQL that caas generates,
over a psycopg 3 connection::

    import psycopg, caas

    with psycopg.connect("dbname=cdm") as con:
        result = caas.postgres.evaluate(con, cohort, tables={
            "persons": {"table": "cdm.person", "role": "person"},
            "gp_events": {"table": "cdm.gp_events", "role": "events", "code_system": "snomed_ct"},
        })
        print(result.attrition)     # a pyarrow Table
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from . import _caas
from .backend import BackendResult, prepare
from .cohort import Cohort

if TYPE_CHECKING:
    import psycopg

__all__ = ["evaluate"]

#: The Arrow type of each PostgreSQL type caas reads, by type oid.
_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1700: pa.float64(),
    1009: pa.list_(pa.string()),
    1015: pa.list_(pa.string()),
    1016: pa.list_(pa.int64()),
}


def _schema(cursor: psycopg.Cursor[Any], what: str) -> pa.Schema:
    fields = []
    for column in cursor.description or []:
        arrow = _TYPES.get(column.type_code)
        if arrow is None:
            raise TypeError(
                f"{what}, column {column.name!r}: PostgreSQL type oid {column.type_code} is "
                "not one caas reads (integers, decimals, text, dates, timestamps, booleans, "
                "text or bigint arrays)"
            )
        fields.append(pa.field(column.name, arrow))
    return pa.schema(fields)


def _query(
    connection: psycopg.Connection[Any], query: str, parameters: dict[str, str] | None = None
) -> pa.Table:
    with connection.cursor() as cursor:
        cursor.execute(query.encode(), parameters)
        schema = _schema(cursor, "a query of caas")
        rows = cursor.fetchall()
    columns = [[row[i] for row in rows] for i in range(len(schema))]
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, schema)], schema=schema
    )


def evaluate(
    connection: psycopg.Connection[Any],
    cohort: Cohort,
    parameters: Mapping[str, Any] | None = None,
    *,
    tables: Mapping[str, Mapping[str, Any]],
    cohorts: Iterable[Cohort] = (),
    quality: Mapping[str, str] | None = None,
    reference_date: _dt.date | str | None = None,
    pseudonym_key: bytes | str | None = None,
) -> BackendResult:
    """Evaluates ``cohort`` over the tables or views of a PostgreSQL database.

    As :func:`caas.duckdb.evaluate`; the code tables and the cohort table are temporary
    tables of the connection's session, and ``members`` and ``attrition`` are Arrow tables read from the
    server (PostgreSQL has no lazy frames on the client).
    """

    def schema_of(table: str) -> pa.Schema:
        name = _caas.quote_table("postgres", table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {name} LIMIT 0".encode())
            return _schema(cursor, f"table {table!r}")

    def counts(query: str) -> list[int]:
        return [int(c[0].as_py()) for c in _query(connection, query).columns]

    prepared = prepare(
        "postgres",
        cohort,
        parameters,
        tables=tables,
        cohorts=cohorts,
        schema_of=schema_of,
        counts=counts,
        options={
            "quality": quality,
            "reference_date": reference_date,
            "pseudonym_key": pseudonym_key,
        },
    )
    sql = prepared.sql
    with connection.cursor() as cursor:
        for statement in sql["setup"]:
            cursor.execute(statement.encode())
    prepared.count_arithmetic(counts)
    bound = prepared.pseudonym_parameters(lambda query: counts(query)[0])
    members = _query(connection, sql["members"], bound)
    attrition = _query(connection, sql["attrition"])
    return prepared.result(
        members,
        attrition,
        members_arrow=lambda: members,
        attrition_arrow=lambda: attrition,
    )
