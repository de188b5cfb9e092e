"""The flu example on a 5,000-person synthetic population, on every engine: in-process, and
through the generated SQL on DuckDB, PostgreSQL and Apache Spark (the suite's one session),
and as the script that ``caas sql --views`` prints, run by the ``spark-sql`` command over
the population's Parquet files. Every engine must give the in-process members, with their
output values, and attrition exactly."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from test_sql_backends import PG_TYPES, postgres_dsn

import caas
import caas.duckdb
import caas.postgres
import caas.spark
from caas import _caas
from caas.backend import BackendResult
from conftest import ROOT

PERSONS = 5000


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flu-5000")
    caas.synth.generate(PERSONS, out, seed=5)
    return out


@pytest.fixture(scope="module")
def in_process(population: Path, flu_cohort: caas.Cohort) -> caas.Result:
    engine = caas.Engine()
    engine.register_synthetic(population)
    return engine.evaluate(flu_cohort)


def tables() -> dict[str, dict[str, Any]]:
    return {name: {"table": name, **spec} for name, _, spec in caas.synth.table_specs()}


def files(population: Path) -> Iterator[tuple[str, Path]]:
    for name, folder, _ in caas.synth.table_specs():
        yield name, population / folder


def rows(table: pa.Table) -> list[tuple[str, ...]]:
    """Each row as text, as ``spark-sql`` prints it: NULL, true/false, dates ISO."""

    def text(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)

    return [tuple(text(v) for v in row.values()) for row in table.to_pylist()]


def same_report(result: BackendResult, in_process: caas.Result) -> bool:
    """Whether the report of a backend run reads as the in-process one, but for the times
    of the runs, the Arrow type of text columns (DataFusion reads Parquet text as Utf8View,
    the other engines give Utf8) and the members' age, sex and region, which need the
    person ids of the run (the practices and the output variables are compared)."""
    times = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
    demographics = re.compile(r"(## Characteristics of the members\n).*?(### Practices)", re.DOTALL)

    def masked(markdown: str) -> str:
        markdown = demographics.sub(r"\1\2", markdown)
        return times.sub("TIME", markdown).replace("Utf8View", "Utf8")

    report = result.report().markdown
    assert "Age, sex and region are not given: the evaluation ran in another engine" in report
    return masked(report) == masked(in_process.report().markdown)


def test_the_population_has_members(in_process: caas.Result) -> None:
    assert in_process.members.num_rows > 500, "too few members to compare engines on"


def test_duckdb(population: Path, flu_cohort: caas.Cohort, in_process: caas.Result) -> None:
    import duckdb

    connection = duckdb.connect()
    for name, path in files(population):
        connection.execute(_caas.parquet_view("duckdb", name, path))
    result = caas.duckdb.evaluate(connection, flu_cohort, tables=tables())
    assert rows(result.to_arrow()) == rows(in_process.members)
    assert rows(result.attrition_arrow()) == rows(in_process.attrition)
    assert result.data_quality.to_dict() == in_process.data_quality.to_dict()
    assert same_report(result, in_process)


def test_postgres(
    population: Path,
    flu_cohort: caas.Cohort,
    in_process: caas.Result,
    request: pytest.FixtureRequest,
) -> None:
    import psycopg

    connection = psycopg.connect(postgres_dsn(), autocommit=True)
    request.addfinalizer(connection.close)
    with connection.cursor() as cursor:
        for name, path in files(population):
            data = ds.dataset(path, format="parquet").to_table()
            columns = ", ".join(f'"{f.name}" {PG_TYPES[f.type]}' for f in data.schema)
            cursor.execute(f'CREATE TEMPORARY TABLE "{name}" ({columns})'.encode())
            with cursor.copy(f'COPY "{name}" FROM STDIN'.encode()) as copy:
                for row in data.to_pylist():
                    copy.write_row(tuple(row.values()))
    result = caas.postgres.evaluate(connection, flu_cohort, tables=tables())
    assert rows(result.to_arrow()) == rows(in_process.members)
    assert rows(result.attrition_arrow()) == rows(in_process.attrition)
    assert result.data_quality.to_dict() == in_process.data_quality.to_dict()
    assert same_report(result, in_process)


def test_spark(population: Path, in_process: caas.Result, spark: Any) -> None:
    """Through examples/python/flu_on_spark.py, the README's example, which checks the
    members itself too."""
    example = importlib.util.spec_from_file_location(
        "flu_on_spark", ROOT / "examples" / "python" / "flu_on_spark.py"
    )
    assert example is not None and example.loader is not None
    module = importlib.util.module_from_spec(example)
    example.loader.exec_module(module)
    result = module.run(spark, population)
    assert rows(result.to_arrow()) == rows(in_process.members)
    assert rows(result.attrition_arrow()) == rows(in_process.attrition)
    assert result.data_quality.to_dict() == in_process.data_quality.to_dict()
    assert same_report(result, in_process)
    assert result.provenance["backend"] == "spark"
    assert result.provenance["sql_sha256"] == result.sql["sha256"]


def test_the_printed_script_in_spark_sql(
    population: Path, in_process: caas.Result, tmp_path: Path
) -> None:
    """``caas sql --dialect spark --views`` prints a script that ``spark-sql`` runs as it
    is: it prints the data-quality counts of each table read (the in-process ones), the
    members' rows, then the attrition's."""
    import pyspark

    script = tmp_path / "flu.sql"
    with script.open("w") as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "caas",
                "sql",
                caas.examples.flu_definition(),
                "--dialect",
                "spark",
                "--data",
                str(population),
                "--views",
            ],
            stdout=out,
            check=True,
        )
    spark_sql = Path(pyspark.__file__).parent / "bin" / "spark-sql"
    env = {**os.environ, "SPARK_HOME": str(spark_sql.parent.parent)}
    started = dt.datetime.now()
    printed = subprocess.run(
        [
            str(spark_sql),
            "--master",
            "local[2]",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.sql.session.timeZone=UTC",
            "-S",
            "-f",
            str(script),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert printed.returncode == 0, printed.stderr[-3000:]
    lines = [tuple(line.split("\t")) for line in printed.stdout.splitlines() if line]
    quality = [
        tuple(str(n) for n in (t.rows, t.rows_excluded, *(f.count for f in t.findings)))
        for t in in_process.data_quality.tables
    ]
    members = rows(in_process.members)
    assert lines[: len(quality)] == quality
    lines = lines[len(quality) :]
    assert lines[: len(members)] == members
    assert lines[len(members) :] == rows(in_process.attrition)
    print(f"spark-sql ran the flu script in {(dt.datetime.now() - started).total_seconds():.0f} s")
