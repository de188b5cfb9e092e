"""caas — cohorting as a service.

Finds cohorts in national health data: the people who share characteristics (age on a
date, registration, clinical codes within time windows, measured values), and shows how
each cohort was built. One engine in Rust (Apache DataFusion over Arrow); this package
hands it data from pyarrow, polars, pandas and DuckDB and returns Arrow tables::

    import caas

    engine = caas.Engine()
    engine.register("persons", "data/persons.parquet", role="person")
    engine.register("gp_events", "data/gp/", role="events", code_system="snomed_ct")
    cohort = caas.Cohort.from_path("definitions/quickstart.yaml")
    result = engine.evaluate(cohort, parameters={"index_date": "2025-08-31"})
    print(result.attrition_text())
    members = result.members          # a pyarrow Table, sorted by person_id
    print(result.explain(members["person_id"][0].as_py()))   # why this person is in
    result.report().save("report.html")                    # plain English, attrition, provenance

The same cohort runs in other engines from the SQL caas generates: ``caas.spark``,
``caas.postgres`` and ``caas.duckdb`` (each ``evaluate(connection, cohort, tables=...)``),
or ``caas sql`` for the text.

The command line is ``caas`` (``caas demo``, ``caas synth``, ``caas run``, ``caas sql``,
``caas validate``).
"""

import importlib
from typing import Any

from . import examples, quality, synth
from ._caas import __version__
from .backend import BackendResult
from .cohort import Cohort, CohortBuilder
from .diff import Difference
from .engine import Engine, Result
from .errors import (
    CaasError,
    DataError,
    DataQualityError,
    DefinitionError,
    EngineError,
    InternalError,
    InvalidArgumentError,
    InvalidInputError,
    InvalidOptionError,
    UnknownPersonError,
)
from .explain import Explanation
from .quality import DataQuality
from .report import Report
from .what_if import WhatIf

__all__ = [
    "BackendResult",
    "CaasError",
    "Cohort",
    "CohortBuilder",
    "DataError",
    "DataQuality",
    "DataQualityError",
    "DefinitionError",
    "Difference",
    "Engine",
    "EngineError",
    "Explanation",
    "InternalError",
    "InvalidArgumentError",
    "InvalidInputError",
    "InvalidOptionError",
    "Report",
    "Result",
    "UnknownPersonError",
    "WhatIf",
    "__version__",
    "examples",
    "quality",
    "synth",
]


#: The modules that run cohorts in other engines, imported when first used: each needs that
#: engine's own Python package.
_BACKENDS = ("spark", "postgres", "duckdb")


def __getattr__(name: str) -> Any:
    if name in _BACKENDS:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'caas' has no attribute {name!r}")
