"""The engine: tables in, cohorts evaluated, results out as Arrow."""

from __future__ import annotations

import atexit
import datetime as _dt
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import pyarrow as pa

from . import _caas
from .cohort import CodeSystem, Cohort, parameter_values
from .diff import Difference
from .explain import Explanation
from .progress import Progress, watched
from .quality import DataQuality, Policy
from .report import Report
from .what_if import WhatIf, _Counts

if TYPE_CHECKING:
    import pandas
    import polars

__all__ = ["Engine", "Result"]

Role = Literal["person", "events", "periods"]
#: Data-quality policies: finding kind (see :func:`caas.quality.finding_kinds`) to policy.
Quality: TypeAlias = Mapping[str, Policy]
#: A dialect of the SQL that caas generates.
Dialect = Literal["spark", "postgres", "duckdb"]
#: A pseudonym key: bytes, or the same bytes in hexadecimal (at least 16 bytes).
PseudonymKey: TypeAlias = "bytes | bytearray | str"
Run: TypeAlias = (
    "Cohort | tuple[Cohort, Mapping[str, Any] | None] "
    "| tuple[Cohort, Mapping[str, Any] | None, Mapping[str, Any]]"
)

_OPTIONS = ("quality", "reference_date", "pseudonym_key")


def _spec(
    role: str,
    mapping: Mapping[str, Any] | None,
    code_system: str | None,
    date_format: str | Mapping[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"role": role, "mapping": dict(mapping or {})}
    if code_system is not None:
        spec["code_system"] = code_system
    if date_format is not None:
        spec["date_format"] = date_format if isinstance(date_format, str) else dict(date_format)
    return spec


_BINARY_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def memory_size(size: int | str | None) -> int | None:
    """Bytes of a memory size given as bytes or as text with a binary suffix::

    >>> memory_size("16G") == 16 * 2**30
    True
    >>> memory_size("512m"), memory_size(4096), memory_size(None)
    (536870912, 4096, None)
    """
    if not isinstance(size, str):
        return size
    text = size.strip().upper().removesuffix("IB").removesuffix("B")
    digits, suffix = (text[:-1], text[-1]) if text[-1:] in _BINARY_SUFFIXES else (text, "")
    if not digits.isdigit():
        raise ValueError(
            f"memory size {size!r}: give bytes, or a whole number with K, M, G or T (16G)"
        )
    return int(digits) * _BINARY_SUFFIXES[suffix]


def _files_of(source: Any) -> Path | None:
    """The file or folder that a pyarrow dataset reads, when caas can scan it itself at
    evaluation instead of holding a copy in memory: a dataset of local Parquet or Arrow IPC
    files, without a filter or columns taken from folder names, that is one file or every
    file of its format in one folder."""
    if type(source).__name__ != "FileSystemDataset" or not hasattr(source, "files"):
        return None
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    formats = {
        pads.ParquetFileFormat: (".parquet",),
        pads.IpcFileFormat: (".arrow", ".ipc", ".feather"),
    }
    suffixes = next((s for f, s in formats.items() if isinstance(source.format, f)), None)
    if suffixes is None or not isinstance(source.filesystem, pafs.LocalFileSystem):
        return None
    if getattr(source, "_scan_options", {}).get("filter") is not None:
        return None
    files = sorted(Path(f) for f in source.files)
    if not files or any(f.suffix.lower() not in suffixes for f in files):
        return None
    # Columns made from a partitioned layout's folder names are not in the files.
    if source.schema != source.format.inspect(str(files[0]), source.filesystem):
        return None
    if len(files) == 1:
        return files[0]
    folder = files[0].parent
    every = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    return folder if every == files else None


def _spilled(source: Any) -> Path | None:
    """A polars LazyFrame or a DuckDB relation run by its own engine, streaming, into a
    Parquet file of the process's spill folder: held in memory by neither engine, and
    scanned at each evaluation like any file (with its statistics and filters). The files
    stay until the process ends, since results read them again to explain people."""
    kind = (type(source).__module__.split(".")[0], type(source).__name__)
    if kind not in {("polars", "LazyFrame"), ("duckdb", "DuckDBPyRelation")}:
        return None
    global _SPILL
    if _SPILL is None:
        _SPILL = Path(tempfile.mkdtemp(prefix="caas-spill-"))
        atexit.register(shutil.rmtree, _SPILL, True)
    path = _SPILL / f"{uuid.uuid4().hex}.parquet"
    if kind[0] == "polars":
        source.sink_parquet(path)
    else:
        source.write_parquet(str(path))
    return path


#: The folder of the tables that `_spilled` wrote, made when first needed.
_SPILL: Path | None = None


def _arrow_source(source: Any, action: str = "register") -> Any:
    """An object the compiled module reads through the Arrow PyCapsule interface."""
    module = type(source).__module__.split(".")[0]
    # A pandas frame whose index is a column (``person_id``, after a ``set_index``) would
    # otherwise lose it: the index becomes a column again.
    if module == "pandas":
        names = [n for n in source.index.names if n is not None and n not in source.columns]
        if names:
            source = source.reset_index(level=names)
    if hasattr(source, "__arrow_c_stream__") or hasattr(source, "__arrow_c_array__"):
        return source
    # A polars LazyFrame given elsewhere than to `register` runs its query into a frame.
    if module == "polars" and hasattr(source, "collect"):
        return source.collect(engine="streaming")
    # pandas before 2.2 and other data frames without the interface go through pyarrow.
    if module == "pandas":
        return pa.Table.from_pandas(source, preserve_index=False)
    if module == "duckdb" and hasattr(source, "arrow"):
        return source.arrow()
    # Any other pyarrow dataset (filtered, partitioned, remote) is scanned with its filter.
    if module == "pyarrow" and hasattr(source, "scanner"):
        return source.scanner().to_reader()
    raise TypeError(
        f"cannot {action} a {type(source).__name__}: give a file or folder path, or an object "
        "with __arrow_c_stream__ (a pyarrow Table or RecordBatchReader, a polars, pandas or "
        "DuckDB relation)"
    )


def _options(
    quality: Quality | None,
    reference_date: _dt.date | str | None,
    pseudonym_key: PseudonymKey | None,
) -> tuple[Quality | None, _dt.date | str | None, bytes | bytearray | str | None]:
    """Evaluation options as the compiled module takes them: as they are (the engine checks
    their types and values: a wrong type is a TypeError naming the option, an unknown kind
    or policy, a bad date or key an InvalidOptionError)."""
    key = bytes(pseudonym_key) if isinstance(pseudonym_key, memoryview) else pseudonym_key
    return quality, reference_date, key


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
        memory_limit: int | str | None = None,
        batch_size: int | None = None,
        max_expression_depth: int | None = None,
        max_expression_nodes: int | None = None,
        max_definition_bytes: int | None = None,
        max_variables: int | None = None,
        max_variable_depth: int | None = None,
        max_codelist_codes: int | None = None,
        max_file_bytes: int | None = None,
    ) -> None:
        """``target_partitions``: partitions (and threads) per plan, default the machine's
        cores; ``memory_limit``: memory for evaluation, in bytes or as text with a binary
        suffix (``"16G"`` is 16 GiB; ``K``, ``M``, ``G``, ``T``), over which sorts and
        aggregates spill to disk and, when even that cannot fit, the evaluation fails
        with an :class:`caas.EngineError` of code ``resources_exhausted``; default no
        limit; ``batch_size``: rows per batch.

        The ``max_*`` options are the limits a cohort must keep to be evaluated here (how
        deep its expressions nest, how large they grow once lowered, how many variables
        there are and how long a chain of them, how many codes a codelist holds; a
        definition's text and
        files are limited when it is read): their defaults are far above what real
        definitions need, and going over one raises a :class:`caas.DefinitionError` with
        the code ``limit_exceeded`` whose ``option`` names the limit."""
        self._raw = _caas.Engine(
            target_partitions,
            memory_size(memory_limit),
            batch_size,
            max_expression_depth,
            max_expression_nodes,
            max_definition_bytes,
            max_variables,
            max_variable_depth,
            max_codelist_codes,
            max_file_bytes,
        )

    def register(
        self,
        name: str,
        source: str | os.PathLike[str] | Any,
        *,
        role: Role,
        mapping: Mapping[str, str | list[str] | bool] | None = None,
        code_system: CodeSystem | None = None,
        date_format: str | Mapping[str, str] | None = None,
    ) -> None:
        """Registers a table.

        ``source`` is a path to a Parquet, CSV or Arrow IPC file or a folder of them, or an
        object with ``__arrow_c_stream__`` (a pandas frame's named index is read as its
        columns), or a ``pyarrow.dataset`` Dataset, a polars LazyFrame or a DuckDB relation.
        Files are scanned at each evaluation, not held in memory; so is a dataset of local
        Parquet or Arrow IPC files that is one file or a whole folder (others are read in).
        A LazyFrame or a DuckDB relation runs once, streaming, into a Parquet file of a
        temporary folder kept until the process ends, which is then scanned like any file:
        neither engine holds the table in memory.
        ``mapping`` says which columns play which part when they do not have the canonical
        names (``person_id``, ``date_of_birth``, ``sex``, ``date_of_death``, ``date``,
        ``code``, ``codes``, ``code_delimiter``, ``primary_code_only``, ``value``,
        ``start_date``, ``end_date``, ``practice``).
        Event tables need a ``code_system``: ``snomed_ct``, ``dmd``, ``icd10``, ``opcs4``.
        Date columns may hold dates or text: ``date_format`` says how the text is written
        (strftime, e.g. ``"%d/%m/%Y"``; ISO ``%Y-%m-%d`` without it), for every date column
        or, as a mapping, per column; text that is not a date in it fails the evaluation
        with an error naming the table and column.
        Raises :class:`caas.DataError` naming the table and column at fault.
        """
        spec = _spec(role, mapping, code_system, date_format)
        if not isinstance(source, (str, os.PathLike)):
            source = _files_of(source) or _spilled(source) or source
        if isinstance(source, (str, os.PathLike)):
            self._raw.register_file(name, Path(source), spec)
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
            self._raw.register_file(name, Path(directory) / folder, spec)

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
        quality: Quality | None = None,
        reference_date: _dt.date | str | None = None,
        pseudonym_key: PseudonymKey | None = None,
        progress: Progress | bool | None = None,
    ) -> Result:
        """Evaluates a cohort.

        ``parameters`` override the definition's defaults (dates as ``datetime.date`` or
        ``'YYYY-MM-DD'``). ``quality`` sets the policy of kinds of data-quality finding
        (``{"invalid_nhs_number": "exclude", "unknown_person": "fail"}``; see
        :func:`caas.quality.finding_kinds` for the kinds and their defaults).
        ``reference_date`` is the day after which a date is in the future (the extract's
        date; default today). With a ``pseudonym_key`` (bytes, or hexadecimal text; 32
        random bytes recommended) the members' ``person_id`` is replaced by a
        ``pseudonym`` column, the HMAC-SHA256 of the NHS number; the key is not kept.
        ``progress``: ``True`` for a progress bar of the rows read, or a callable
        ``progress(table, rows_read, rows_expected)`` that may return ``False`` to cancel
        (see :mod:`caas.progress`).

        Raises :class:`caas.DataQualityError` when rows have a finding whose policy is
        ``fail``, and :class:`caas.InvalidOptionError` for an unusable option.
        """
        raw = watched(
            progress,
            lambda callback: self._raw.evaluate(
                _cohort(cohort),
                parameter_values(parameters),
                *_options(quality, reference_date, pseudonym_key),
                callback,
            ),
        )
        return Result(raw, cohort, parameters)

    def evaluate_many(
        self,
        runs: Iterable[Run],
        *,
        quality: Quality | None = None,
        reference_date: _dt.date | str | None = None,
        pseudonym_key: PseudonymKey | None = None,
        progress: Progress | bool | None = None,
    ) -> list[Result]:
        """Evaluates several cohorts in one pass over the tables where they allow it.
        Each run is a cohort, a (cohort, parameters) pair, or a (cohort, parameters,
        options) triple where options is a mapping with any of ``quality``,
        ``reference_date`` and ``pseudonym_key``; a run's options replace those given here
        for every run. Runs with the same quality policies and reference date share their
        scans: each table is read and aggregated per person once for all of them, and a
        measure that several compute alike (the same codes, window and aggregate) once;
        each result is what :meth:`evaluate` gives for that run alone. The results come in
        the order of the runs; the first error of any run is raised and stops the others.
        ``progress`` counts the rows that all of them read, as for :meth:`evaluate`."""
        shared = {
            "quality": quality,
            "reference_date": reference_date,
            "pseudonym_key": pseudonym_key,
        }
        cohorts: list[tuple[Cohort, Mapping[str, Any] | None]] = []
        raw_runs = []
        for run in runs:
            if isinstance(run, tuple):
                cohort, parameters, *rest = run
                own: Mapping[str, Any] = rest[0] if rest else {}
            else:
                cohort, parameters, own = run, None, {}
            unknown = sorted(set(own) - set(_OPTIONS))
            if unknown:
                raise TypeError(
                    f"unknown evaluation option(s) {', '.join(unknown)}; "
                    f"the options are {', '.join(_OPTIONS)}"
                )
            options = {**shared, **own}
            cohorts.append((cohort, parameters))
            raw_runs.append(
                (
                    _cohort(cohort),
                    parameter_values(parameters),
                    *_options(
                        options["quality"], options["reference_date"], options["pseudonym_key"]
                    ),
                )
            )
        raw = watched(progress, lambda callback: self._raw.evaluate_many(raw_runs, callback))
        return [Result(r, c, p) for r, (c, p) in zip(raw, cohorts)]

    def variables(self, cohort: Cohort, parameters: Mapping[str, Any] | None = None) -> pa.Table:
        """Every person's value of every variable (one row per person, sorted by person id):
        what the rules were evaluated on."""
        return self._raw.variables(_cohort(cohort), parameter_values(parameters))

    def plan(self, cohort: Cohort, parameters: Mapping[str, Any] | None = None) -> str:
        """The optimised DataFusion logical plan and the physical plan of a cohort, as text."""
        return self._raw.plan(_cohort(cohort), parameter_values(parameters))

    def read_table(self, name: str) -> pa.Table:
        """The rows of a registered table as caas reads them (CSV text parsed to the types
        caas inferred): to load the same rows into another engine."""
        table: pa.Table = self._raw.read_table(name)
        return table

    def to_sql(
        self,
        cohort: Cohort,
        parameters: Mapping[str, Any] | None = None,
        *,
        dialect: Dialect,
        tables: Mapping[str, str] | None = None,
        quality: Quality | None = None,
        reference_date: _dt.date | str | None = None,
        pseudonym_key: PseudonymKey | None = None,
    ) -> dict[str, Any]:
        """The cohort as SQL for another engine whose tables have the columns of the
        registered ones; ``tables`` maps a definition's table names to that engine's names
        where they differ. A dict of ``quality`` (per table read, a query of one row: its
        ``rows``, the rows ``excluded`` and a count per check of ``checks``, as of the
        ``reference_date``), ``setup`` (the statements to run next: they create the code
        tables, then compute every person's outputs and rule results into the temporary
        table ``cohort_table``), ``members``, ``attrition`` and ``population`` (queries that
        read it), ``code_tables``, the whole ``script`` and its ``sha256``. With a
        ``pseudonym_key``, the members query makes the pseudonyms from the parameters
        ``caas_ipad`` and ``caas_opad`` (:func:`caas._caas.pseudonym_parameters`: the key
        never appears in the SQL), and ``pseudonyms["missing"]`` must count 0 first. The
        definition is checked as for an evaluation, with the same errors; what the dialect
        cannot express raises a :class:`caas.DefinitionError` with code ``unsupported``.
        To run it, see :mod:`caas.spark`, :mod:`caas.postgres` and :mod:`caas.duckdb`."""
        sql: dict[str, Any] = self._raw.to_sql(
            _cohort(cohort),
            parameter_values(parameters),
            dialect,
            dict(tables or {}),
            *_options(quality, reference_date, pseudonym_key),
        )
        return sql

    def __repr__(self) -> str:
        return f"Engine(tables={self.tables!r})"


class Result(_Counts):
    """What an evaluation returns.

    ``members`` (one row per member, sorted by ``person_id``, with the output columns) and
    ``attrition`` (per rule in order: ``step``, ``rule``, ``action``, ``before``, ``after``,
    ``removed``) are pyarrow Tables, which polars, pandas and DuckDB read directly.

    For assurance and governance: :meth:`explain` says why a person is in or out,
    :meth:`audit` gives every person's rule outcomes, :attr:`provenance` is the run's
    manifest, :attr:`data_quality` its findings, :meth:`report` the documentation that goes
    with the cohort, and :meth:`diff` who joined and left since an earlier run::

        >>> import datetime, pyarrow as pa, caas
        >>> engine = caas.Engine()
        >>> engine.register("persons", pa.table({
        ...     "person_id": [1, 2, 3],
        ...     "date_of_birth": [datetime.date(1950, 1, 1), datetime.date(2000, 1, 1), None],
        ... }), role="person")
        >>> cohort = caas.Cohort.from_yaml('''
        ... id: older
        ... title: Aged 65 or over
        ... purpose: direct_care
        ... parameters: { index_date: 2026-03-31 }
        ... variables: { age: { kind: age, on: index_date } }
        ... rules: [ { name: aged 65+, include: age >= 65 } ]
        ... ''')
        >>> result = engine.evaluate(cohort)
        >>> why = result.explain(2)
        >>> why.removed_by, why.rule("aged 65+").outcome, why.variable("age").value
        ('aged 65+', 'false', 26)
        >>> result.audit().column("aged 65+").to_pylist()
        [True, False, None]
        >>> print(result.data_quality)
        Data quality: 1 finding(s)
          `persons`: 1 row(s) have a missing date (column date_of_birth, policy keep)
        >>> result.provenance["attrition"][0]["removed"]
        2
        >>> "keep only people for whom `age` is at least 65" in result.report().markdown
        True
        >>> result.diff(pa.table({"person_id": [1, 3]})).left.to_pylist()
        [{'person_id': 3}]
    """

    _raw: _caas.Evaluation

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

    def explain(
        self, person_id: int | str, *, progress: Progress | bool | None = None
    ) -> Explanation:
        """Why a person is in the cohort or not: each variable's value with the event rows
        behind it, each rule's outcome (true, false or unknown) and the verdict.

        Reads only that person's rows of the tables the evaluation read (it does not run
        the cohort again), with the GIL released. ``person_id`` is an integer or a text,
        as the person table holds it. A person who is not in the person table raises
        :class:`caas.UnknownPersonError`, whose message does not contain the id.
        """
        if isinstance(person_id, bool) or not isinstance(person_id, (int, str)):
            raise TypeError(f"person_id must be an int or a str, not {type(person_id).__name__}")
        return watched(progress, lambda callback: self._raw.explain(person_id, callback))

    def audit(self, *, progress: Progress | bool | None = None) -> pa.Table:
        """Every person's rule outcomes, sorted by person id: ``person_id``, one nullable
        boolean column per rule named after it (the value of its condition; null for
        unknown), ``member`` and ``removed_by`` (the first rule the person did not pass;
        null for members). This runs the cohort's plan again over every person."""
        return watched(progress, self._raw.audit)

    @cached_property
    def provenance_json(self) -> str:
        """The provenance manifest as the engine wrote it (JSON, format
        ``caas-provenance/1``): store this text beside the members."""
        return self._raw.provenance_json()

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """The provenance manifest, parsed: ``definition_sha256`` (of the definition's
        canonical form), ``codelists`` (each with its ``sha256`` and ``size``), ``tables``
        (name, role, rows, columns), ``parameters``, ``purpose``, ``engine`` versions,
        ``started_at``/``finished_at``, ``population``, ``members`` and ``attrition``."""
        manifest: dict[str, Any] = json.loads(self.provenance_json)
        return manifest

    @cached_property
    def data_quality(self) -> DataQuality:
        """The data-quality findings: per table read, per kind checked, how many rows had
        it and what the policy did."""
        return self._raw.data_quality()

    def report(self, *, disclosure_control: bool = False) -> Report:
        """The report that goes with the cohort, as Markdown, self-contained HTML and a
        funnel SVG. Counts are under disclosure control (1-7 suppressed, others rounded to
        the nearest 5) for every purpose but direct care, and for direct care too with
        ``disclosure_control=True``."""
        return Report(*self._raw.report(disclosure_control))

    def saved_run_json(self) -> str:
        """The run saved for reporting later (JSON, format ``caas-run/1``): the definition
        with its codelists' codes, the provenance and the data-quality findings, without
        the members. :meth:`caas.Report.from_saved_run` renders its report again, without
        the data — as ``caas report`` does."""
        return self._raw.saved_run_json()

    def characterise(
        self,
        *,
        disclosure_control: bool = False,
        age_on: str | None = None,
        age_bands: Iterable[int] | None = None,
        region: str | None = None,
        top: int = 10,
        after_rule: str | None = None,
        progress: Progress | bool | None = None,
    ) -> pa.Table:
        """The characterisation of the members ("Table 1"), computed in the engine as the
        report shows it: one row per statistic, with the columns ``section`` (``cohort``,
        ``age``, ``sex``, ``region``, ``practice``, ``variable``), ``variable``,
        ``category`` (a value, an age band, ``(other)``, ``(missing)``, or null),
        ``statistic`` (``count``, ``percent``, ``on``, ``n``, ``missing``, ``min``, ``q1``,
        ``median``, ``q3``, ``max``, ``mean``, ``earliest``, ``latest``, ``practices``),
        ``value`` (the number shown), ``date`` (for dates) and ``shown`` (the report's
        text), each ``(section, variable, category, statistic)`` once:
        ``table.to_pandas().pivot(index=["section", "variable", "category"],
        columns="statistic", values="shown")`` lays it out (as numbers with
        ``values="value"``).

        Ages are whole years on ``age_on`` (a date parameter; by default ``index_date``, else
        the first date parameter), in bands from the lower bounds ``age_bands`` (by default
        0, 18, 30, ..., 80); sex and region (the person table's column ``region``, or the one
        named) come from the person table, read for the members only, with the GIL
        released; text variables, sex and region list their ``top`` most frequent values.
        For every purpose but direct care (and with ``disclosure_control=True``) it is under
        the report's disclosure control: counts of 1 to 7 are null (shown ``*``), others
        rounded to the nearest 5; values held by 1 to 7 people are counted in ``(other)``;
        minima, maxima, earliest and latest dates are never shown; a median needs 16
        values, quartiles 32 and a mean 8.

        With ``after_rule`` (a rule's name, as in the attrition) it characterises the
        people still in after that rule instead of the members — who each step keeps —
        by age, sex and region only."""
        options: dict[str, Any] = {"disclosure_control": disclosure_control, "top": top}
        if age_on is not None:
            options["age_on"] = age_on
        if age_bands is not None:
            options["age_bands"] = list(age_bands)
        if region is not None:
            options["region"] = region
        if after_rule is not None:
            options["after_rule"] = after_rule
        return watched(
            progress, lambda callback: self._raw.characterise(json.dumps(options), callback)
        )

    def diff(self, previous: Result | str | os.PathLike[str] | Any) -> Difference:
        """Who joined and who left since an earlier run. ``previous`` is its members: a
        :class:`Result`, an object with ``__arrow_c_stream__`` (a pyarrow Table, a polars
        or pandas DataFrame, ...) or the path of a Parquet, Arrow IPC or CSV file, with a
        ``person_id`` column of the same kind as this run's (other columns are ignored)."""
        if isinstance(previous, (str, os.PathLike)):
            joined, left, stayed = self._raw.diff_path(Path(previous))
        else:
            table = previous.members if isinstance(previous, Result) else previous
            joined, left, stayed = self._raw.diff(_arrow_source(table, "compare with"))
        return Difference(joined, left, stayed)

    def what_if(
        self,
        *,
        drop: Iterable[str] = (),
        order: Iterable[str] = (),
        add: Iterable[Mapping[str, str]] = (),
    ) -> WhatIf:
        """The attrition and member count had the rules been changed, from the outcomes the
        evaluation holds for every person (no table is read again): ``drop`` leaves rules
        out by name; ``order`` names rules (kept or added) to apply first, in that order,
        the others following in theirs; ``add`` appends rules written as in a definition,
        ``{"name": ..., "include": ...}`` or ``{"name": ..., "exclude": ...}``, over the
        parameters and the variables the evaluation holds — those its rules name and every
        true/false one. A rule is checked as a definition's would be::

            >>> import datetime, pyarrow as pa, caas
            >>> engine = caas.Engine()
            >>> engine.register("persons", pa.table({
            ...     "person_id": [1, 2, 3],
            ...     "date_of_birth": [datetime.date(1940, 1, 1), datetime.date(1970, 1, 1),
            ...                       datetime.date(2000, 1, 1)],
            ... }), role="person")
            >>> result = engine.evaluate(caas.Cohort.from_yaml('''
            ... id: older
            ... title: Older adults
            ... purpose: direct_care
            ... parameters: { index_date: 2026-03-31 }
            ... variables: { age: { kind: age, on: index_date } }
            ... rules:
            ...   - { name: adult, include: age >= 18 }
            ...   - { name: aged 65+, include: age >= 65 }
            ... '''))
            >>> result.what_if(drop=["aged 65+"], add=[{"name": "aged 50+", "include": "age >= 50"}])
            WhatIf(members=2, population=3)
        """
        lists = {"drop": drop, "order": order, "add": add}
        for name, value in lists.items():
            if isinstance(value, (str, Mapping)):
                raise TypeError(f"{name} must be a list, not a {type(value).__name__}")
        changes = {
            "drop": list(drop),
            "order": list(order),
            "add": [dict(rule) for rule in add],
        }
        return WhatIf(self._raw.what_if(json.dumps(changes)))

    def __repr__(self) -> str:
        # Counts as the report shows them: printed text is as far from the data as it.
        members, population = self._raw.shown(self.member_count), self._raw.shown(self.population)
        return f"Result(cohort={self.cohort.id!r}, members={members}, population={population})"
