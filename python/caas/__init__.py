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

The command line is ``caas`` (``caas demo``, ``caas synth``, ``caas run``,
``caas validate``).
"""

from . import examples, quality, synth
from ._caas import __version__
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

__all__ = [
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
    "__version__",
    "examples",
    "quality",
    "synth",
]
