"""The engine: tables in, cohorts evaluated, results out as Arrow."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from . import _caas
from ._html import result_html
from .cohort import CodeSystem, Cohort, parameter_values

if TYPE_CHECKING:
    import pandas
    import polars

__all__ = ["Engine", "Result"]

Role = Literal["person", "events", "periods"]
Progress = Callable[[float], None]


def _spec(role: str, mapping: Mapping[str, Any] | None, code_system: str | None) -> str:
    spec: dict[str, Any] = {"role": role, "mapping": dict(mapping or {})}
    if code_system is not None:
        spec["code_system"] = code_system
    return json.dumps(spec)


def _arrow_source(source: Any) -> Any:
    """An object the compiled module reads through the Arrow PyCapsule interface."""
    if hasattr(source, "__arrow_c_stream__") or hasattr(source, "__arrow_c_array__"):
        return source
    # pandas before 2.2 and other data frames without the interface go through pyarrow.
    module = type(source).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(source, preserve_index=False)
    if module == "duckdb" and hasattr(source, "arrow"):
        return source.arrow()
    raise TypeError(
        f"cannot register a {type(source).__name__}: give a file or folder path, or an object "
        "with __arrow_c_stream__ (a pyarrow Table or RecordBatchReader, a polars, pandas or "
        "DuckDB relation)"
    )


def _cohort(cohort: Any) -> _caas.Cohort:
    if not isinstance(cohort, Cohort):
        raise TypeError(f"expected a caas.Cohort, got {type(cohort).__name__}")
    return cohort._raw


class Engine:
    """Evaluates cohort definitions over registered tables.

    Tables are registered by name with a role (``person``, ``events``, ``periods``), a
    column mapping and, for event tables, a code system; the source is a Parquet, CSV or
    Arrow IPC file or folder, or any object with ``__arrow_c_stream__`` (pyarrow,
    polars, pandas, DuckDB), taken without copying where the source allows it::

        >>> import datetime, pyarrow as pa, caas
        >>> engine = caas.Engine()
        >>> engine.register("persons", pa.table({
        ...     "person_id": [1, 2],
        ...     "date_of_birth": [datetime.date(1950, 1, 1), datetime.date(2000, 1, 1)],
        ... }), role="person")
        >>> cohort = caas.Cohort.from_yaml('''
        ... id: older
        ... title: Aged 65 or over
        ... purpose: direct_care
        ... parameters: { index_date: 2026-03-31 }
        ... variables: { age: { kind: age, on: index_date } }
        ... rules: [ { name: aged 65+, include: age >= 65 } ]
        ... output: { columns: [age] }
        ... ''')
        >>> result = engine.evaluate(cohort)
        >>> result.members.to_pylist()
        [{'person_id': 1, 'age': 76}]

    An engine is safe to share between threads; evaluation releases the GIL, and Ctrl-C
    cancels it.
    """

    __slots__ = ("_raw",)

    def __init__(
        self,
        *,
        target_partitions: int | None = None,
        memory_limit: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        """``target_partitions``: partitions (and threads) per plan, default the machine's
        cores; ``memory_limit``: bytes for evaluation, over which sorts and aggregates
        spill to disk, default no limit; ``batch_size``: rows per batch."""
        self._raw = _caas.Engine(target_partitions, memory_limit, batch_size)

    def register(
        self,
        name: str,
        source: str | os.PathLike[str] | Any,
        *,
        role: Role,
        mapping: Mapping[str, str | list[str] | bool] | None = None,
        code_system: CodeSystem | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Registers a table.

        ``source`` is a path to a Parquet, CSV or Arrow IPC file or a folder of them, or an
        object with ``__arrow_c_stream__``. ``mapping`` says which columns play which part
        when they do not have the canonical names (``person_id``, ``date_of_birth``,
        ``sex``, ``date_of_death``, ``date``, ``code``, ``codes``, ``code_delimiter``,
        ``primary_code_only``, ``value``, ``start_date``, ``end_date``, ``practice``).
        Event tables need a ``code_system``: ``snomed_ct``, ``dmd``, ``icd10``, ``opcs4``.
        Raises :class:`caas.DataError` naming the table and column at fault.
        """
        spec = _spec(role, mapping, code_system)
        if isinstance(source, (str, os.PathLike)):
            self._raw.register_file(name, Path(source), spec, progress)
        else:
            self._raw.register_arrow(name, _arrow_source(source), spec)

    def register_cohort(self, cohort: Cohort) -> None:
        """Registers a cohort so that others can use its membership (``kind: member_of``)."""
        self._raw.register_cohort(_cohort(cohort))

    def register_synthetic(self, directory: str | os.PathLike[str]) -> None:
        """Registers a population made by :func:`caas.synth.generate` (or ``caas synth``)
        under its table names: ``persons``, ``registrations``, ``gp_events``,
        ``gp_medications``, ``apc`` and ``apc_procedures``."""
        for name, folder, spec in _caas.table_specs():
            self._raw.register_file(name, Path(directory) / folder, spec, None)

    def deregister(self, name: str) -> bool:
        """Removes a table; returns whether it was registered."""
        return self._raw.deregister(name)

    @property
    def tables(self) -> list[str]:
        """The names of the registered tables."""
        return self._raw.table_names()

    def evaluate(
        self,
        cohort: Cohort,
        parameters: Mapping[str, Any] | None = None,
        *,
        progress: Progress | None = None,
    ) -> Result:
        """Evaluates a cohort. ``parameters`` override the definition's defaults (dates as
        ``datetime.date`` or ``'YYYY-MM-DD'``). ``progress``, if given, is called with the
        seconds elapsed while the evaluation runs."""
        raw = self._raw.evaluate(_cohort(cohort), parameter_values(parameters), progress)
        return Result(raw, cohort, parameters)

    def evaluate_many(
        self,
        runs: Iterable[Cohort | tuple[Cohort, Mapping[str, Any] | None]],
        *,
        progress: Progress | None = None,
    ) -> list[Result]:
        """Evaluates several cohorts concurrently; each run is a cohort or a (cohort,
        parameters) pair. The results come in the order of the runs."""
        pairs: list[tuple[Cohort, Mapping[str, Any] | None]] = [
            run if isinstance(run, tuple) else (run, None) for run in runs
        ]
        raw = self._raw.evaluate_many(
            [(_cohort(c), parameter_values(p)) for c, p in pairs], progress
        )
        return [Result(r, c, p) for r, (c, p) in zip(raw, pairs)]

    def variables(self, cohort: Cohort, parameters: Mapping[str, Any] | None = None) -> pa.Table:
        """Every person's value of every variable (one row per person, sorted by person id):
        what the rules were evaluated on."""
        return self._raw.variables(_cohort(cohort), parameter_values(parameters))

    def plan(self, cohort: Cohort, parameters: Mapping[str, Any] | None = None) -> str:
        """The optimised DataFusion logical plan and the physical plan of a cohort, as text."""
        return self._raw.plan(_cohort(cohort), parameter_values(parameters))

    def __repr__(self) -> str:
        return f"Engine(tables={self.tables!r})"


class Result:
    """What an evaluation returns.

    ``members`` (one row per member, sorted by ``person_id``, with the output columns) and
    ``attrition`` (per rule in order: ``step``, ``rule``, ``action``, ``before``, ``after``,
    ``removed``) are pyarrow Tables, which polars, pandas and DuckDB read directly.
    """

    def __init__(
        self, raw: _caas.Evaluation, cohort: Cohort, parameters: Mapping[str, Any] | None
    ) -> None:
        self._raw = raw
        #: The cohort evaluated.
        self.cohort = cohort
        #: The run-time parameters given (``None``: the defaults).
        self.parameters = parameters

    @cached_property
    def members(self) -> pa.Table:
        """The members: ``person_id`` and the output columns, sorted by ``person_id``."""
        return self._raw.members()

    @cached_property
    def attrition(self) -> pa.Table:
        """Per rule, in order: ``step``, ``rule``, ``action``, ``before``, ``after``,
        ``removed`` (people)."""
        return self._raw.attrition()

    @property
    def population(self) -> int:
        """People in the person table."""
        return self._raw.population

    @property
    def member_count(self) -> int:
        """People in the cohort."""
        return self._raw.member_count

    def __len__(self) -> int:
        return self.member_count

    def to_polars(self) -> polars.DataFrame:
        """The members as a polars DataFrame (needs polars)."""
        import polars as pl

        frame = pl.from_arrow(self.members)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def to_pandas(self) -> pandas.DataFrame:
        """The members as a pandas DataFrame (needs pandas)."""
        frame: pandas.DataFrame = self.members.to_pandas()
        return frame

    def attrition_text(self) -> str:
        """The attrition as a text table."""
        return self._raw.attrition_text()

    def __repr__(self) -> str:
        return (
            f"Result(cohort={self.cohort.id!r}, members={self.member_count}, "
            f"population={self.population})"
        )

    def __str__(self) -> str:
        return (
            f"{self.cohort.title}\n{self.attrition_text()}\n"
            f"{self.member_count:,} of {self.population:,} people in the cohort"
        )

    def _repr_html_(self) -> str:
        return result_html(
            self.cohort.title, self.population, self.member_count, self.attrition.to_pylist()
        )
