"""Running a cohort in another engine — Apache Spark, PostgreSQL or DuckDB — from the SQL
that caas generates (:meth:`caas.Engine.to_sql`), with the members and attrition that the
in-process engine gives. The engine modules (:mod:`caas.spark`, :mod:`caas.postgres`,
:mod:`caas.duckdb`) each read their tables' columns, run the statements and wrap the
results; what is common to them is here."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from . import _caas
from .cohort import Cohort, parameter_values
from .engine import Dialect, Engine, _options
from .quality import DataQuality
from .report import Report

__all__ = ["BackendResult", "Prepared", "Sql", "compile_sql", "prepare"]

#: The keywords of a ``tables`` entry besides ``table``: those of :meth:`caas.Engine.register`.
_TABLE_KEYS = ("role", "mapping", "code_system")

#: A cohort's SQL: ``setup`` (the code tables and the cohort table), ``members``,
#: ``attrition``, ``population``, ``code_tables``, ``script`` and its ``sha256``.
Sql = dict[str, Any]


def _engine_over(
    tables: Mapping[str, Mapping[str, Any]],
    schema_of: Callable[[str], pa.Schema],
    cohorts: Iterable[Cohort],
) -> tuple[Engine, dict[str, str]]:
    """An engine whose (empty) tables stand for another engine's, and the names there."""
    engine = Engine()
    names: dict[str, str] = {}
    for name, entry in tables.items():
        unknown = sorted(set(entry) - {"table", *_TABLE_KEYS})
        if unknown:
            raise TypeError(
                f"tables[{name!r}]: unknown key(s) {', '.join(unknown)}; "
                f"the keys are table, {', '.join(_TABLE_KEYS)}"
            )
        if "role" not in entry:
            raise TypeError(f"tables[{name!r}]: no role (person, events or periods)")
        table = str(entry.get("table", name))
        engine.register(
            name,
            schema_of(table).empty_table(),
            role=entry["role"],
            mapping=entry.get("mapping"),
            code_system=entry.get("code_system"),
        )
        names[name] = table
    for other in cohorts:
        engine.register_cohort(other)
    return engine, names


def compile_sql(
    cohort: Cohort,
    parameters: Mapping[str, Any] | None,
    *,
    tables: Mapping[str, Mapping[str, Any]],
    dialect: Dialect,
    schema_of: Callable[[str], pa.Schema],
    cohorts: Iterable[Cohort] = (),
    options: Mapping[str, Any] | None = None,
) -> Sql:
    """The cohort as SQL for ``dialect`` over another engine's tables. ``tables`` maps each
    table a definition names to :meth:`caas.Engine.register`'s keywords plus ``table``, its
    name in that engine (the definition's name when absent); ``schema_of`` gives the Arrow
    schema of a table of that engine, from which caas checks the definition exactly as it
    would over registered files."""
    engine, names = _engine_over(tables, schema_of, cohorts)
    return engine.to_sql(cohort, parameters, dialect=dialect, tables=names, **(options or {}))


@dataclass
class Prepared:
    """A cohort compiled for another engine, with the data-quality findings counted there:
    what every engine module starts from (:func:`prepare`)."""

    backend: str
    cohort: Cohort
    parameters: Mapping[str, Any] | None
    options: Mapping[str, Any]
    #: The engine whose tables stand for the other engine's.
    engine: Engine
    sql: Sql
    data_quality: DataQuality
    started: _dt.datetime

    def pseudonym_parameters(self, count: Callable[[str], int]) -> dict[str, str] | None:
        """The parameters that the members query binds when it makes pseudonyms (``None``
        when it makes none), after checking that every member has an NHS number to make
        one from (``count`` runs a query and returns its one value), as in-process."""
        pseudonyms = self.sql["pseudonyms"]
        key = self.options.get("pseudonym_key")
        if pseudonyms is None or key is None:
            return None
        missing = count(pseudonyms["missing"])
        if missing:
            raise _caas.Engine.pseudonym_failure(pseudonyms, missing)
        parameters: dict[str, str] = _caas.pseudonym_parameters(key)
        return parameters

    def count_arithmetic(self, counts: Callable[[str], list[int]]) -> None:
        """Adds to ``data_quality``, after the setup has run, the people whose values
        arithmetic left missing (``counts`` runs a query and returns its one row), raising
        :class:`caas.DataQualityError` where the policy ``fail`` finds some, as in-process."""
        arithmetic = self.sql["arithmetic"]
        if arithmetic is not None:
            self.data_quality = _caas.Engine.sql_arithmetic(
                self.data_quality, arithmetic, counts(arithmetic["query"])
            )

    def result(
        self,
        members: Any,
        attrition: Any,
        members_arrow: Callable[[], pa.Table],
        attrition_arrow: Callable[[], pa.Table],
    ) -> BackendResult:
        """The result of the run, from the engine's members and attrition and functions
        that read them here."""
        return BackendResult(
            backend=self.backend,
            members=members,
            attrition=attrition,
            data_quality=self.data_quality,
            sql=self.sql,
            provenance={
                "backend": self.backend,
                "dialect": self.sql["dialect"],
                "sql_sha256": self.sql["sha256"],
                "cohort": self.sql["cohort"],
                "started": self.started.isoformat(),
            },
            _prepared=self,
            _members_arrow=members_arrow,
            _attrition_arrow=attrition_arrow,
        )


def prepare(
    backend: Dialect,
    cohort: Cohort,
    parameters: Mapping[str, Any] | None,
    *,
    tables: Mapping[str, Mapping[str, Any]],
    cohorts: Iterable[Cohort],
    schema_of: Callable[[str], pa.Schema],
    counts: Callable[[str], list[int]],
    options: Mapping[str, Any],
) -> Prepared:
    """What every engine module does before running a cohort: compiles it to the SQL of
    ``backend``, then runs the data-quality counts (``counts`` runs a query and returns its
    one row), from which the engine makes the findings, raising the in-process
    :class:`caas.DataQualityError` where a ``fail`` policy finds rows."""
    started = _dt.datetime.now(_dt.timezone.utc)
    engine, names = _engine_over(tables, schema_of, cohorts)
    sql = engine.to_sql(cohort, parameters, dialect=backend, tables=names, **options)
    rows = [counts(q["query"]) for q in sql["quality"]]
    quality = _caas.Engine.sql_data_quality(
        cohort._raw, sql["reference_date"], sql["quality"], rows
    )
    return Prepared(backend, cohort, parameters, options, engine, sql, quality, started)


@dataclass
class BackendResult:
    """A cohort evaluated in another engine.

    ``members`` and ``attrition`` are that engine's own frames or relations (a Spark
    DataFrame, a DuckDB relation; for PostgreSQL, Arrow tables read from the server), so
    that they can be joined to the engine's other tables without leaving it;
    :meth:`to_arrow` brings the members here. ``data_quality`` holds the findings of the
    tables read, counted in the engine; ``provenance`` records the backend, the dialect and
    the SHA-256 of the SQL that ran; :meth:`report` is the report of an in-process run.
    """

    backend: str
    members: Any
    attrition: Any
    #: The data-quality findings, counted in the engine as in-process.
    data_quality: DataQuality
    sql: Sql = field(repr=False)
    provenance: dict[str, Any]
    _prepared: Prepared = field(repr=False)
    _members_arrow: Callable[[], pa.Table] = field(repr=False)
    _attrition_arrow: Callable[[], pa.Table] = field(repr=False)

    def to_arrow(self) -> pa.Table:
        """The members as an Arrow table: ``person_id`` and the output columns, by person."""
        return self._members_arrow()

    def attrition_arrow(self) -> pa.Table:
        """The attrition as an Arrow table: step, rule, action, before, after, removed."""
        return self._attrition_arrow()

    def report(self, *, disclosure_control: bool = False) -> Report:
        """The report that goes with the cohort, as :meth:`caas.Result.report` renders it
        for an in-process run (the members are read here to be counted)."""
        prepared = self._prepared
        options = prepared.options
        raw = prepared.engine._raw.evaluation_of(
            prepared.cohort._raw,
            parameter_values(prepared.parameters),
            *_options(
                options.get("quality"), options.get("reference_date"), options.get("pseudonym_key")
            ),
            self.to_arrow(),
            self.attrition_arrow(),
            self.data_quality,
        )
        return Report(*raw.report(disclosure_control))
