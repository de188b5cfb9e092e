"""The synthetic NHS-like population of the engine (the crate ``caas-synth``): a person table,
practice registrations, GP events and medications and hospital episodes, as Parquet, with
codes at realistic prevalence drawn from the flu example's codelists."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from . import _caas
from .examples import flu_folder

__all__ = ["SynthSummary", "generate", "is_population", "table_specs"]


class SynthSummary(TypedDict):
    """What :func:`generate` wrote."""

    #: Rows written per table.
    rows: dict[str, int]
    #: Files per table.
    files: int
    #: Wall time in seconds.
    seconds: float


def generate(
    persons: int,
    out: str | os.PathLike[str],
    *,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> SynthSummary:
    """Generates ``persons`` synthetic people into the folder ``out`` (one folder of Parquet
    files per table); the same seed gives the same population. Register it with
    :meth:`caas.Engine.register_synthetic`."""
    if persons < 1:
        raise ValueError("persons must be at least 1")
    codelists = flu_folder() / "codelists"
    summary: SynthSummary = _caas.generate(persons, Path(out), codelists, seed, progress)
    return summary


def table_specs() -> list[tuple[str, str, dict[str, Any]]]:
    """The tables of a generated population: (table name, folder, specification: ``role``,
    ``code_system`` and ``mapping``, as :meth:`caas.Engine.register` takes them)."""
    return _caas.table_specs()


def is_population(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` holds a generated population (a folder per table)."""
    return all((Path(directory) / folder).is_dir() for _, folder, _ in table_specs())
