"""The flu cohort on Apache Spark: the same members and attrition as in-process.

Generates a small synthetic population as Parquet files, makes each table a view of a
local Spark session, runs the cohort there through the SQL that caas generates, and checks
it against the in-process engine. On a real platform, skip the generation: name your own
tables in ``TABLES`` (``table``), with their roles and column mappings.

    pip install . pyspark && python examples/python/flu_on_spark.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import caas
import caas.spark

#: The flu definition's tables: each as `Engine.register` takes it, plus `table`, its name in
#: Spark (any table or view of the session, e.g. "cdm.gp_events").
TABLES: dict[str, dict[str, Any]] = {
    name: {"table": name, **spec} for name, _, spec in caas.synth.table_specs()
}


def run(spark: Any, data: Path) -> caas.BackendResult:
    """Evaluates the flu cohort on `spark` over the population in `data`; returns the
    result after checking it against the in-process engine."""
    for name, folder, _ in caas.synth.table_specs():
        spark.read.parquet(str(data / folder)).createOrReplaceTempView(name)
    cohort = caas.Cohort.from_path(caas.examples.flu_definition())

    result = caas.spark.evaluate(spark, cohort, tables=TABLES)
    result.attrition.show(truncate=False)  # a Spark DataFrame, as is result.members
    print(f"{result.members.count():,} members; SQL SHA-256 {result.provenance['sql_sha256']}")

    engine = caas.Engine()
    engine.register_synthetic(data)
    in_process = engine.evaluate(cohort)
    assert result.to_arrow().to_pylist() == in_process.members.to_pylist()
    print("the same members as in-process")
    return result


def main() -> int:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    with tempfile.TemporaryDirectory() as tmp:
        caas.synth.generate(2000, tmp, seed=1)
        run(spark, Path(tmp))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
