"""Cohorts evaluated on Apache Spark (4.x), from the SQL that caas generates, over a live
``SparkSession``'s tables::

    import caas
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    spark.read.parquet("gp/").createOrReplaceTempView("clinical_events")
    spark.read.parquet("persons.parquet").createOrReplaceTempView("patients")
    result = caas.spark.evaluate(spark, cohort, tables={
        "persons": {"table": "patients", "role": "person"},
        "gp_events": {"table": "clinical_events", "role": "events", "code_system": "snomed_ct"},
    })
    result.members.write.parquet("members/")     # a Spark DataFrame
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
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["evaluate"]


def _arrow(frame: DataFrame) -> pa.Table:
    table: pa.Table = frame.toArrow()
    return table


def evaluate(
    spark: SparkSession,
    cohort: Cohort,
    parameters: Mapping[str, Any] | None = None,
    *,
    tables: Mapping[str, Mapping[str, Any]],
    cohorts: Iterable[Cohort] = (),
    quality: Mapping[str, str] | None = None,
    reference_date: _dt.date | str | None = None,
    pseudonym_key: bytes | str | None = None,
) -> BackendResult:
    """Evaluates ``cohort`` over the tables or views of a Spark session.

    As :func:`caas.duckdb.evaluate`; the code tables are temporary views of the session
    and the cohort table a cached one (computed here, once), and ``members`` and
    ``attrition`` are Spark DataFrames over them.
    """

    def schema_of(table: str) -> pa.Schema:
        # Read from the catalog: no Spark job.
        from pyspark.sql.pandas.types import to_arrow_schema

        name = _caas.quote_table("spark", table)
        schema: pa.Schema = to_arrow_schema(spark.sql(f"SELECT * FROM {name}").schema)
        return schema

    def counts(query: str) -> list[int]:
        return [int(n) for n in spark.sql(query).collect()[0]]

    prepared = prepare(
        "spark",
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
        spark.sql(statement)
    prepared.count_arithmetic(counts)
    bound = prepared.pseudonym_parameters(lambda query: counts(query)[0])
    members = spark.sql(sql["members"], args=bound)
    attrition = spark.sql(sql["attrition"])
    return prepared.result(
        members,
        attrition,
        members_arrow=lambda: _arrow(members),
        attrition_arrow=lambda: _arrow(attrition),
    )
