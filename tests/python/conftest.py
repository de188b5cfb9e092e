"""Shared set-up of the Python tests: paths of the repository, small tables in memory and a
small synthetic population (generated once per session)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import caas

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "conformance" / "cases"
FLU = ROOT / "examples" / "flu"
QUICKSTART = ROOT / "examples" / "definitions" / "quickstart.yaml"
EXAMPLE_DATA = ROOT / "examples" / "data"

#: The exception class of each category of error: the Python form of the categories that
#: the engine gives every error code (``caas.errors.error_codes()``).
CLASS_OF_CATEGORY: dict[str, type[caas.CaasError]] = {
    "definition": caas.DefinitionError,
    "data": caas.DataError,
    "invalid_argument": caas.InvalidArgumentError,
    "engine": caas.EngineError,
    "internal": caas.InternalError,
}


#: Per SQL engine, how many conformance cases had each outcome (test_sql_backends.py).
BACKEND_OUTCOMES: dict[str, dict[str, int]] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for backend, outcomes in BACKEND_OUTCOMES.items():
        total = sum(outcomes.values())
        terminalreporter.write_line(f"conformance on {backend}: {total} cases passed")
        for outcome, count in sorted(outcomes.items()):
            terminalreporter.write_line(f"  {count:4} {outcome}")


def pytest_report_header() -> list[str]:
    # The tests must run against the installed wheel, never against python/ in the tree.
    return [f"caas {caas.__version__} from {Path(caas.__file__).parent}"]


@pytest.fixture(scope="session", autouse=True)
def installed_package() -> None:
    assert not Path(caas.__file__).is_relative_to(ROOT / "python"), (
        "tests must import the installed wheel, not the source tree"
    )


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The package writes its embedded example to the user's cache; tests use their own."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


def caas_command() -> list[str]:
    """The installed console script, beside the interpreter running the tests."""
    script = Path(sys.executable).parent / "caas"
    assert script.exists(), f"no console script at {script}"
    return [str(script)]


@pytest.fixture()
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment of CLI subprocesses: a private cache folder."""
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def small_tables() -> tuple[pa.Table, pa.Table]:
    """Six people and their GP events, hand-made so that the expected members are known:
    the cohort of ``SMALL_COHORT`` holds people 1, 2 and 4."""
    persons = pa.table(
        {
            "person_id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
            "date_of_birth": pa.array(
                [
                    d("1950-06-01"),
                    d("1990-06-01"),
                    d("1985-06-01"),
                    d("1940-01-01"),
                    d("2001-02-03"),
                    d("1930-05-05"),
                ],
                pa.date32(),
            ),
            "sex": ["F", "M", "F", "M", None, "F"],
            "date_of_death": pa.array([None, None, None, None, None, d("2024-01-01")], pa.date32()),
        }
    )
    events = pa.table(
        {
            "person_id": pa.array([2, 2, 3, 4, 5, 5], pa.int64()),
            "date": pa.array(
                [
                    d("2024-10-04"),
                    d("2023-01-01"),
                    d("2019-01-01"),
                    d("2025-01-01"),
                    d("2025-06-01"),
                    None,
                ],
                pa.date32(),
            ),
            "code": ["195967001", "22298006", "195967001", "195967001", "195967001", "195967001"],
            "value": pa.array([None, 1.5, None, 2.0, None, None], pa.float64()),
        }
    )
    return persons, events


SMALL_COHORT = """
id: small
title: Aged 65 or over, or asthma in the last year
purpose: direct_care
parameters: { index_date: 2025-03-31 }
codelists:
  asthma: { system: snomed_ct, codes: ["195967001"] }
variables:
  age: { kind: age, on: index_date }
  alive: { kind: alive, on: index_date }
  asthma_recent:
    kind: events
    table: gp_events
    codelists: [asthma]
    from: index_date - 12 months
    to: index_date
    returns: exists
  asthma_count: { kind: events, table: gp_events, codelists: [asthma], returns: count }
rules:
  - { name: alive, include: alive }
  - { name: eligible, include: age >= 65 or asthma_recent }
output: { columns: [age, asthma_recent, asthma_count] }
"""

#: Members of SMALL_COHORT over small_tables(), worked out by hand.
SMALL_MEMBERS = [
    {"person_id": 1, "age": 74, "asthma_recent": False, "asthma_count": 0},
    {"person_id": 2, "age": 34, "asthma_recent": True, "asthma_count": 1},
    {"person_id": 4, "age": 85, "asthma_recent": True, "asthma_count": 1},
]


#: NHS numbers: 1, 2, 3 and 6 pass the Modulus 11 check (2 is written with spaces); 4 fails
#: it and 5 is of the wrong length.
NHS = ["9434765919", "401 023 2137", "4505577104", "9434765918", "12345", "9876543210"]


def governed_tables() -> tuple[pa.Table, pa.Table]:
    """Six people (2 with a national data opt-out, 3 with a type 1 opt-out, 6 with unknown
    flags, which are no opt-out) and their events, one of them of person 99, who is not in
    the person table."""
    persons = pa.table(
        {
            "person_id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
            "nhs_number": NHS,
            "date_of_birth": pa.array([d("1950-01-01")] * 6, pa.date32()),
            "national_opt_out": [False, True, False, False, False, None],
            "type1_opt_out": [False, False, True, False, False, None],
        }
    )
    events = pa.table(
        {
            "person_id": pa.array([1, 99], pa.int64()),
            "date": pa.array([d("2024-01-01"), d("2024-02-01")], pa.date32()),
            "code": ["195967001", "195967001"],
        }
    )
    return persons, events


def governed_engine() -> caas.Engine:
    """An engine with the tables of :func:`governed_tables` registered."""
    persons, events = governed_tables()
    engine = caas.Engine()
    engine.register("persons", persons, role="person")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    return engine


def governed_cohort(purpose: str = "direct_care") -> caas.Cohort:
    return caas.Cohort.from_dict(
        {
            "id": "governed",
            "title": "Adults",
            "purpose": purpose,
            "parameters": {"index_date": "2025-03-31"},
            "codelists": {"asthma": {"system": "snomed_ct", "codes": ["195967001"]}},
            "variables": {
                "age": {"kind": "age", "on": "index_date"},
                "asthma": {
                    "kind": "events",
                    "table": "gp_events",
                    "codelists": ["asthma"],
                    "returns": "exists",
                },
            },
            "rules": [{"name": "adult", "include": "age >= 18"}],
            "output": {"columns": ["asthma"]},
        }
    )


@pytest.fixture(scope="session")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic population of 1,000 people, generated once."""
    out = tmp_path_factory.mktemp("population")
    caas.synth.generate(1000, out, seed=11)
    return out


@pytest.fixture(scope="session")
def flu_cohort() -> caas.Cohort:
    return caas.Cohort.from_path(caas.examples.flu_definition())


@pytest.fixture()
def quickstart_data(tmp_path: Path) -> Path:
    """The quickstart's CSV files in a folder with a tables file."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("persons.csv", "gp_events.csv"):
        shutil.copy(EXAMPLE_DATA / name, data / name)
    (data / "tables.yaml").write_text(
        "tables:\n"
        "  persons: { path: persons.csv, role: person }\n"
        "  gp_events: { path: gp_events.csv, role: events, code_system: snomed_ct }\n"
    )
    return data


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The one Spark session of the run (local mode, two cores)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("caas-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
