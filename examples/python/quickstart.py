"""Quick start of the Python package: evaluate the quickstart definition over the example
CSV files, explain one person and report on the run, then the same cohort over data held in
pyarrow, polars or pandas.

    pip install .            # from the repository's root
    python examples/python/quickstart.py
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

import caas

EXAMPLES = Path(__file__).resolve().parents[1]


def from_files() -> caas.Result:
    engine = caas.Engine()
    engine.register("persons", EXAMPLES / "data" / "persons.csv", role="person")
    engine.register(
        "gp_events", EXAMPLES / "data" / "gp_events.csv", role="events", code_system="snomed_ct"
    )
    cohort = caas.Cohort.from_path(EXAMPLES / "definitions" / "quickstart.yaml")
    print(cohort.summary(), end="\n\n")
    return engine.evaluate(cohort, parameters={"index_date": dt.date(2025, 3, 31)})


def from_memory() -> caas.Result:
    # Any object with __arrow_c_stream__ will do: a pyarrow Table, a polars or pandas
    # DataFrame, a DuckDB relation. Columns are mapped to the parts they play.
    persons = pa.table(
        {
            "nhs_number": [9000000009, 9000000017],
            "dob": [dt.date(1950, 6, 1), dt.date(1990, 6, 1)],
        }
    )
    events = pa.table(
        {
            "nhs_number": [9000000017],
            "recorded": [dt.date(2024, 10, 4)],
            "snomed": ["195967001"],
        }
    )
    engine = caas.Engine()
    engine.register(
        "persons",
        persons,
        role="person",
        mapping={"person_id": "nhs_number", "date_of_birth": "dob"},
    )
    engine.register(
        "gp_events",
        events,
        role="events",
        code_system="snomed_ct",
        mapping={"person_id": "nhs_number", "date": "recorded", "code": "snomed"},
    )
    cohort = (
        caas.Cohort.builder("older_or_asthma", "Aged 65+, or asthma in the last year")
        .parameter("index_date", dt.date(2025, 3, 31))
        .codelist("asthma", "snomed_ct", codes=["195967001"])
        .age("age", on="index_date")
        .events(
            "asthma",
            table="gp_events",
            codelists=["asthma"],
            from_="index_date - 12 months",
            to="index_date",
            returns="exists",
        )
        .include("eligible", "age >= 65 or asthma")
        .output("age", "asthma")
        .build()
    )
    return engine.evaluate(cohort)


def assurance(result: caas.Result) -> None:
    # Why person 2 is in the cohort: each rule's outcome and the rows behind each variable.
    print(result.explain(2))
    print(result.data_quality, end="\n\n")
    print("definition SHA-256:", result.provenance["definition_sha256"], end="\n\n")
    # The report (plain English, codelists, attrition funnel, data quality, provenance)
    # is result.report().save("report.html").


if __name__ == "__main__":
    result = from_files()
    print(result, end="\n\n")
    print(result.members.to_pylist(), end="\n\n")
    assurance(result)

    result = from_memory()
    print(result, end="\n\n")
    print(result.members.to_pylist())
