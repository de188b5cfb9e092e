"""Cohorts evaluated inside DuckDB, from the SQL that caas generates, over a connection's
tables and views::

    import duckdb, caas

    con = duckdb.connect()
    con.sql("CREATE VIEW clinical_events AS SELECT * FROM 'gp/*.parquet'")
    con.sql("CREATE VIEW patients AS SELECT * FROM 'persons.parquet'")
    result = caas.duckdb.evaluate(con, cohort, tables={
        "persons": {"table": "patients", "role": "person"},
        "gp_events": {"table": "clinical_events", "role": "events", "code_system": "snomed_ct"},
    })
    result.members.show()          # a DuckDB relation
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
    import duckdb

__all__ = ["evaluate"]


def _arrow(relation: Any) -> pa.Table:
    table: pa.Table = relation.to_arrow_table()
    return table


def evaluate(
    connection: duckdb.DuckDBPyConnection,
    cohort: Cohort,
    parameters: Mapping[str, Any] | None = None,
    *,
    tables: Mapping[str, Mapping[str, Any]],
    cohorts: Iterable[Cohort] = (),
    quality: Mapping[str, str] | None = None,
    reference_date: _dt.date | str | None = None,
    pseudonym_key: bytes | str | None = None,
) -> BackendResult:
    """Evaluates ``cohort`` over the tables or views of a DuckDB connection.

    ``tables`` maps each table the definition names to :meth:`caas.Engine.register`'s
    keywords (``role``, ``mapping``, ``code_system``) plus ``table``, the table or view in
    DuckDB. ``cohorts`` are the cohorts that ``member_of`` variables use; the options are
    those of :meth:`caas.Engine.evaluate` (see :meth:`caas.Engine.to_sql` for what the SQL
    honours so far). The data-quality counts run first, in DuckDB, and fail as in-process
    where a ``fail`` policy finds rows; rows that an ``exclude`` policy removes are left out
    of the cohort, as in-process. The code
    tables, and the table of every person's outputs and rule results, are created as
    temporary tables of the connection (the cohort is computed once, here); ``members`` and
    ``attrition`` are DuckDB relations over them, with the members and attrition of
    :meth:`caas.Engine.evaluate` over the same rows.
    """

    def schema_of(table: str) -> pa.Schema:
        name = _caas.quote_table("duckdb", table)
        return _arrow(connection.sql(f"SELECT * FROM {name} LIMIT 0")).schema

    def counts(query: str) -> list[int]:
        return [int(c[0].as_py()) for c in _arrow(connection.sql(query)).columns]

    prepared = prepare(
        "duckdb",
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
    for statement in sql["setup"]:
        connection.execute(statement)
    prepared.count_arithmetic(counts)
    bound = prepared.pseudonym_parameters(lambda query: counts(query)[0])
    members = connection.sql(sql["members"], params=bound)
    attrition = connection.sql(sql["attrition"])
    return prepared.result(
        members,
        attrition,
        members_arrow=lambda: _arrow(connection.sql(sql["members"], params=bound)),
        attrition_arrow=lambda: _arrow(connection.sql(sql["attrition"])),
    )
