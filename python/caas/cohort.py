"""Cohort definitions: read from YAML, JSON, a dict or a builder, checked by the engine."""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from . import _caas

__all__ = ["Cohort", "CohortBuilder"]

Purpose = Literal["direct_care", "research", "planning"]
CodeSystem = Literal["snomed_ct", "dmd", "icd10", "opcs4"]
Aggregation = Literal[
    "exists",
    "count",
    "first_date",
    "last_date",
    "first_value",
    "last_value",
    "first_code",
    "last_code",
    "min_value",
    "max_value",
    "sum",
    "mean",
    "count_distinct_codes",
    "count_distinct_dates",
    "count_episodes",
]
Ties = Literal["code", "max_value", "min_value"]


def _plain(value: Any) -> Any:
    """A document value with dates as ``YYYY-MM-DD`` text, as the definition format has them."""
    if isinstance(value, _dt.datetime):
        raise TypeError(
            f"{value!r} is a date and time; definitions hold dates (datetime.date or 'YYYY-MM-DD')"
        )
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def parameter_values(parameters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Run-time parameters as the compiled module takes them: a dict of the values as they
    are (the engine reads dates as dates, text as text, numbers as numbers)."""
    if parameters is None:
        return None
    if not isinstance(parameters, Mapping):
        raise TypeError(f"parameters must be a mapping of names to values, not {parameters!r}")
    return dict(parameters)


class Cohort:
    """A checked cohort definition.

    A cohort is read from YAML or JSON text, a file, a dict holding the same document, or
    built with :meth:`Cohort.builder`. Reading checks it completely (names, types, cycles,
    windows, codelist files) and raises :class:`caas.DefinitionError` naming the place at
    fault::

        >>> import caas
        >>> cohort = caas.Cohort.from_yaml('''
        ... id: older
        ... title: Aged 65 or over
        ... purpose: direct_care
        ... parameters: { index_date: 2026-03-31 }
        ... variables:
        ...   age: { kind: age, on: index_date }
        ... rules:
        ...   - { name: aged 65+, include: age >= 65 }
        ... output: { columns: [age] }
        ... ''')
        >>> cohort.id
        'older'
        >>> print(cohort.summary().splitlines()[0])
        Aged 65 or over (`older`)
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: _caas.Cohort) -> None:
        if not isinstance(raw, _caas.Cohort):
            raise TypeError(
                "make a Cohort with Cohort.from_yaml, from_json, from_dict, from_path or "
                "Cohort.builder"
            )
        self._raw = raw

    # Reading -------------------------------------------------------------------------

    @classmethod
    def from_yaml(
        cls,
        text: str,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        limits: Mapping[str, int] | None = None,
    ) -> Cohort:
        """Reads YAML text; codelist files are resolved from ``base_dir`` (default: the
        current folder).

        ``limits``: the limits the definition is read within, by the names of
        :class:`Engine`'s options (``max_expression_depth``, ``max_expression_nodes``,
        ``max_definition_bytes``, ``max_codelist_codes``, ``max_file_bytes``); unset ones take the defaults, which
        real definitions never meet."""
        return cls(_caas.Cohort.from_yaml(text, _dir(base_dir), _limits(limits)))

    @classmethod
    def from_json(
        cls,
        text: str,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        limits: Mapping[str, int] | None = None,
    ) -> Cohort:
        """Reads JSON text; codelist files are resolved from ``base_dir``; ``limits`` as
        for :meth:`from_yaml`."""
        return cls(_caas.Cohort.from_json(text, _dir(base_dir), _limits(limits)))

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], *, limits: Mapping[str, int] | None = None
    ) -> Cohort:
        """Reads a definition file (``.json`` is JSON, anything else YAML); codelist files
        are resolved from the file's folder; ``limits`` as for :meth:`from_yaml`."""
        return cls(_caas.Cohort.from_path(Path(path), _limits(limits)))

    @classmethod
    def from_dict(
        cls, document: Mapping[str, Any], base_dir: str | os.PathLike[str] | None = None
    ) -> Cohort:
        """Checks a definition held as a dict (the YAML/JSON document's structure; dates
        may be ``datetime.date``)."""
        if not isinstance(document, Mapping):
            raise TypeError(f"a definition document is a mapping, not {type(document).__name__}")
        return cls(_caas.Cohort.from_document(_plain(document), _dir(base_dir)))

    @staticmethod
    def builder(id: str, title: str, purpose: Purpose = "direct_care") -> CohortBuilder:
        """A :class:`CohortBuilder` for a definition with this id, title and purpose."""
        return CohortBuilder(id, title, purpose)

    # What it is ----------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The cohort's id."""
        return self._raw.id

    @property
    def title(self) -> str:
        """The cohort's title."""
        return self._raw.title

    @property
    def rule_names(self) -> list[str]:
        """The rules' names, in order (the attrition's steps)."""
        return self._raw.rule_names

    @property
    def output_columns(self) -> list[str]:
        """The members table's columns after ``person_id``."""
        return self._raw.output_columns

    def validate(self, parameters: Mapping[str, Any] | None = None) -> None:
        """Checks run-time parameters against the definition (declared, of the declared
        type, windows that do not end before they start); raises
        :class:`caas.DefinitionError`. The definition itself was checked when read."""
        self._raw.check_parameters(parameter_values(parameters))

    def to_sql(
        self,
        parameters: Mapping[str, Any] | None = None,
        *,
        dialect: Literal["spark", "postgres", "duckdb"],
        tables: Mapping[str, Mapping[str, Any]],
        cohorts: Iterable[Cohort] = (),
        **options: Any,
    ) -> dict[str, Any]:
        """This cohort as SQL for another engine. ``tables`` maps each table the definition
        names to :meth:`caas.Engine.register`'s keywords (``role``, ``mapping``,
        ``code_system``), ``table`` (its name in that engine; default the same name) and
        ``schema``, the ``pyarrow.Schema`` of its columns, from which caas checks the
        definition as it would over registered files. ``options`` are those of
        :meth:`caas.Engine.evaluate`. Returns :meth:`caas.Engine.to_sql`'s dict; the
        modules :mod:`caas.spark`, :mod:`caas.postgres` and :mod:`caas.duckdb` read the
        schemas from the engine themselves and run the SQL."""
        from .backend import compile_sql

        schemas = {}
        entries = {}
        for name, entry in tables.items():
            entry = dict(entry)
            if "schema" not in entry:
                raise TypeError(f"tables[{name!r}]: no schema (a pyarrow.Schema of its columns)")
            table = str(entry.get("table", name))
            schemas[table] = entry.pop("schema")
            entries[name] = entry
        return compile_sql(
            self,
            parameters,
            tables=entries,
            dialect=dialect,
            schema_of=lambda table: schemas[table],
            cohorts=cohorts,
            options=options,
        )

    def summary(self) -> str:
        """The definition in plain English: parameters, codelists, each variable and rule as
        a sentence, and the output."""
        return self._raw.summary()

    def describe(self) -> dict[str, Any]:
        """The plain-English description as a dict: ``id``, ``title``, ``version``,
        ``description``, ``purpose``, ``governance``, ``parameters``, ``codelists``,
        ``variables`` and ``rules`` (lists of ``[name, sentence]``) and ``output``."""
        description: dict[str, Any] = json.loads(self._raw.describe_json())
        return description

    # Writing -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The definition document as a dict (what :meth:`from_dict` reads)."""
        document: dict[str, Any] = json.loads(self._raw.to_json())
        return document

    def to_json(self) -> str:
        """The definition as JSON text."""
        return self._raw.to_json()

    def to_yaml(self) -> str:
        """The definition as YAML text."""
        return self._raw.to_yaml()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cohort):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Cohort(id={self.id!r}, title={self.title!r})"

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return self._raw.notebook_html()


def _dir(base_dir: str | os.PathLike[str] | None) -> Path | None:
    return None if base_dir is None else Path(base_dir)


def _limits(limits: Mapping[str, int] | None) -> str | None:
    """The limits as the JSON of engine options, which the engine checks by name."""
    return None if limits is None else json.dumps(dict(limits))


class CohortBuilder:
    """Builds a definition document in code; :meth:`build` checks it into a :class:`Cohort`.

    The builder produces exactly the document the YAML would hold, so a cohort built here
    and one read from a file are checked and evaluated alike::

        >>> import caas
        >>> cohort = (
        ...     caas.Cohort.builder("older_or_asthma", "Aged 65+ or asthma")
        ...     .parameter("index_date", "2025-08-31")
        ...     .codelist("asthma", "snomed_ct", codes=["195967001"])
        ...     .age("age", on="index_date")
        ...     .events("asthma", table="gp", codelists=["asthma"], to="index_date",
        ...             returns="exists")
        ...     .include("eligible", "age >= 65 or asthma")
        ...     .output("age")
        ...     .build()
        ... )
        >>> cohort.rule_names
        ['eligible']
    """

    def __init__(self, id: str, title: str, purpose: Purpose = "direct_care") -> None:
        self._doc: dict[str, Any] = {"id": id, "title": title, "purpose": purpose}

    def _set(self, key: str, value: Any) -> CohortBuilder:
        if value is not None:
            self._doc[key] = value
        return self

    def metadata(
        self,
        *,
        version: str | None = None,
        description: str | None = None,
        owner: str | None = None,
        legal_basis: str | None = None,
        dpia_reference: str | None = None,
    ) -> CohortBuilder:
        """Sets the descriptive and governance metadata."""
        for key, value in (
            ("version", version),
            ("description", description),
            ("owner", owner),
            ("legal_basis", legal_basis),
            ("dpia_reference", dpia_reference),
        ):
            self._set(key, value)
        return self

    def assurance(
        self,
        signed_off_by: str,
        *,
        role: str | None = None,
        date: str | _dt.date | None = None,
        reference: str | None = None,
    ) -> CohortBuilder:
        """Records the clinical sign-off."""
        sign_off = {"signed_off_by": signed_off_by, "role": role, "date": date}
        sign_off["reference"] = reference
        self._doc["assurance"] = _plain({k: v for k, v in sign_off.items() if v is not None})
        return self

    def parameter(self, name: str, default: bool | float | str | _dt.date) -> CohortBuilder:
        """Declares a parameter with its default value."""
        self._doc.setdefault("parameters", {})[name] = _plain(default)
        return self

    def codelist(
        self,
        name: str,
        system: CodeSystem,
        *,
        codes: Iterable[str] | None = None,
        file: str | os.PathLike[str] | None = None,
        code_column: str | None = None,
        category_column: str | None = None,
        categories: Iterable[str] | None = None,
        description: str | None = None,
    ) -> CohortBuilder:
        """Adds a codelist, written inline (``codes``) or read from an OpenCodelists CSV
        ``file`` (relative to the ``base_dir`` given to :meth:`build`)."""
        spec: dict[str, Any] = {"system": system}
        if codes is not None:
            spec["codes"] = [str(c) for c in codes]
        if file is not None:
            spec["file"] = os.fspath(file)
        for key, value in (
            ("code_column", code_column),
            ("category_column", category_column),
            ("description", description),
        ):
            if value is not None:
                spec[key] = value
        if categories is not None:
            spec["categories"] = list(categories)
        self._doc.setdefault("codelists", {})[name] = spec
        return self

    def variable(self, name: str, kind: str, **fields: Any) -> CohortBuilder:
        """Adds a variable of any kind with its fields as the document names them
        (``where`` may be given as ``where_``, ``from`` as ``from_``)."""
        variable: dict[str, Any] = {"kind": kind}
        for key, value in fields.items():
            if value is not None:
                variable[key.rstrip("_")] = _plain(value)
        self._doc.setdefault("variables", {})[name] = variable
        return self

    def age(self, name: str, *, on: str, unit: str | None = None) -> CohortBuilder:
        """Age in whole years on a date (an expression, e.g. ``index_date``), or in whole
        months with ``unit="months"``."""
        return self.variable(name, "age", on=on, unit=unit)

    def sex(self, name: str) -> CohortBuilder:
        """The person table's ``sex``."""
        return self.variable(name, "sex")

    def alive(self, name: str, *, on: str) -> CohortBuilder:
        """Not dead on the date: no date of death on or before it (birth is not considered)."""
        return self.variable(name, "alive", on=on)

    def registered(self, name: str, *, table: str, on: str) -> CohortBuilder:
        """Whether a period of ``table`` covers the date."""
        return self.variable(name, "registered", table=table, on=on)

    def practice(self, name: str, *, table: str, on: str) -> CohortBuilder:
        """The practice of the period of ``table`` covering the date."""
        return self.variable(name, "practice", table=table, on=on)

    def person_column(self, name: str, *, column: str) -> CohortBuilder:
        """Any column of the person table."""
        return self.variable(name, "person_column", column=column)

    def events(
        self,
        name: str,
        *,
        table: str,
        returns: Aggregation,
        codelists: Iterable[str] | None = None,
        from_: str | None = None,
        to: str | None = None,
        min_value: float | None = None,
        max_value: float | None = None,
        where: str | None = None,
        ties: Ties | None = None,
        order_by: Iterable[str] | None = None,
        column: str | None = None,
        gap_days: int | None = None,
    ) -> CohortBuilder:
        """An aggregate over the person's events of ``table``, filtered by codelists, an
        inclusive window, a value range and a condition (the window and the condition may
        use the person's earlier variables); for ``first_*`` and ``last_*``, ``ties`` says
        which of several events on one date to take (default ``"code"``), or
        ``order_by=["date", column, ...]`` orders them by other columns; ``column`` makes
        ``first_value``/``last_value`` return another column of the chosen event; for
        ``count_episodes``, ``gap_days`` is the days from one event to the next that
        start a new episode."""
        return self.variable(
            name,
            "events",
            table=table,
            codelists=None if codelists is None else list(codelists),
            from_=from_,
            to=to,
            min_value=min_value,
            max_value=max_value,
            where_=where,
            returns=returns,
            ties=ties,
            order_by=None if order_by is None else list(order_by),
            column=column,
            gap_days=gap_days,
        )

    def derived(self, name: str, expr: str) -> CohortBuilder:
        """An expression over other variables and parameters."""
        return self.variable(name, "derived", expr=expr)

    def member_of(self, name: str, cohort: str) -> CohortBuilder:
        """Membership of another cohort registered with the engine."""
        return self.variable(name, "member_of", cohort=cohort)

    def include(self, name: str, expr: str, *, description: str | None = None) -> CohortBuilder:
        """Appends a rule keeping the people for whom ``expr`` is true."""
        return self._rule(name, "include", expr, description)

    def exclude(self, name: str, expr: str, *, description: str | None = None) -> CohortBuilder:
        """Appends a rule removing the people for whom ``expr`` is true."""
        return self._rule(name, "exclude", expr, description)

    def _rule(self, name: str, action: str, expr: str, description: str | None) -> CohortBuilder:
        rule = {"name": name, action: expr}
        if description is not None:
            rule["description"] = description
        self._doc.setdefault("rules", []).append(rule)
        return self

    def output(self, *columns: str) -> CohortBuilder:
        """Sets the members table's columns (after ``person_id``)."""
        # An empty list is the document's default, which the engine writes as no key.
        self._doc["output"] = {"columns": list(columns)} if columns else {}
        return self

    def to_dict(self) -> dict[str, Any]:
        """The document built so far."""
        return json.loads(json.dumps(self._doc))  # type: ignore[no-any-return]

    def build(self, base_dir: str | os.PathLike[str] | None = None) -> Cohort:
        """Checks the document into a :class:`Cohort`; codelist files are resolved from
        ``base_dir``."""
        return Cohort.from_dict(self._doc, base_dir)
