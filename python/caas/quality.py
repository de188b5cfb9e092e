"""Data-quality findings of an evaluation (:attr:`caas.Result.data_quality`) and the kinds
of finding with their default policies (:func:`finding_kinds`).

Every evaluation checks the tables it reads and counts, per table and per kind, the rows
with a finding: an invalid NHS number, a missing person id, a person on several rows, an
event of an unknown person, a missing, future, pre-1900 or pre-birth date, a code of no
format of its system. A policy per kind (``keep``, ``exclude`` or ``fail``), given to
:meth:`caas.Engine.evaluate` as ``quality={kind: policy}``, says what happens to them.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import pyarrow as pa

from . import _caas
from ._html import data_quality_html

__all__ = ["DataQuality", "Finding", "FindingKindInfo", "TableQuality", "finding_kinds"]

Policy = Literal["keep", "exclude", "fail"]


@dataclass(frozen=True)
class FindingKindInfo:
    """A kind of data-quality finding."""

    #: Its name, as in ``quality={name: policy}``.
    name: str
    #: What a row with it has, e.g. ``an invalid NHS number``.
    description: str
    #: The policy it has unless told otherwise.
    default_policy: Policy


@cache
def finding_kinds() -> tuple[FindingKindInfo, ...]:
    """The kinds of finding, in the order of reports, as the engine defines them::

    >>> import caas
    >>> [k.name for k in caas.quality.finding_kinds()][:3]
    ['invalid_nhs_number', 'missing_person_id', 'duplicate_person']
    >>> caas.quality.finding_kinds()[2].default_policy
    'fail'
    """
    return tuple(FindingKindInfo(n, d, p) for n, d, p in _caas.finding_kinds())  # type: ignore[arg-type]


def _description(kind: str) -> str:
    return next((k.description for k in finding_kinds() if k.name == kind), kind)


@dataclass(frozen=True)
class Finding:
    """How many rows of a table have one kind of finding, and what was done about them."""

    #: The table.
    table: str
    #: The kind, e.g. ``invalid_nhs_number``.
    kind: str
    #: The column or columns checked, comma-separated.
    column: str
    #: Rows with the finding.
    count: int
    #: The policy applied.
    policy: Policy
    #: Rows with the finding that were removed (``count`` under ``exclude``, else 0).
    excluded: int

    @property
    def description(self) -> str:
        """What a row with this finding has, e.g. ``an invalid NHS number``."""
        return _description(self.kind)

    def __str__(self) -> str:
        return (
            f"`{self.table}`: {self.count:,} row(s) have {self.description} "
            f"(column {self.column}, policy {self.policy})"
        )


@dataclass(frozen=True)
class TableQuality:
    """The findings in one table."""

    #: The table's registered name.
    table: str
    #: Its role: ``person``, ``events`` or ``periods``.
    role: str
    #: Rows read.
    rows: int
    #: Rows removed by ``exclude`` policies (a row with several findings counts once).
    rows_excluded: int
    #: One entry per kind checked in this table, found or not.
    findings: tuple[Finding, ...]


class DataQuality:
    """The data-quality findings of an evaluation: per table read, per kind checked.

    ``str()`` lists what was found; :meth:`to_arrow` gives one row per table and kind
    checked; :meth:`count` and :meth:`total` answer the usual questions::

        quality = result.data_quality
        quality.count("persons", "invalid_nhs_number")   # rows with that finding
        quality.total("unknown_person")                  # over every table
        [str(f) for f in quality.findings]               # only what was found
    """

    __slots__ = ("_json", "reference_date", "tables")

    #: The day after which a date is in the future; ``None`` when nothing was checked.
    reference_date: _dt.date | None
    #: One entry per table read, the person table first.
    tables: tuple[TableQuality, ...]

    def __init__(self, json_text: str) -> None:
        """The findings from the engine's JSON (see :attr:`caas.Result.data_quality`)."""
        d = json.loads(json_text)
        self._json = json_text
        self.reference_date = (
            _dt.date.fromisoformat(d["reference_date"]) if d["reference_date"] else None
        )
        self.tables = tuple(
            TableQuality(
                table=t["table"],
                role=t["role"],
                rows=t["rows"],
                rows_excluded=t["rows_excluded"],
                findings=tuple(
                    Finding(
                        table=t["table"],
                        kind=f["kind"],
                        column=f["column"],
                        count=f["count"],
                        policy=f["policy"],
                        excluded=f["excluded"],
                    )
                    for f in t["findings"]
                ),
            )
            for t in d["tables"]
        )

    @property
    def findings(self) -> list[Finding]:
        """The findings with at least one row, over every table."""
        return [f for t in self.tables for f in t.findings if f.count > 0]

    def table(self, name: str) -> TableQuality:
        """The findings of a table; ``KeyError`` if the evaluation did not read it."""
        for t in self.tables:
            if t.table == name:
                return t
        raise KeyError(name)

    def count(self, table: str, kind: str) -> int | None:
        """Rows of ``table`` with findings of ``kind``; ``None`` if that kind was not
        checked there (or the table not read)."""
        for t in self.tables:
            if t.table == table:
                return next((f.count for f in t.findings if f.kind == kind), None)
        return None

    def total(self, kind: str) -> int:
        """Rows with findings of ``kind`` over every table."""
        return sum(f.count for t in self.tables for f in t.findings if f.kind == kind)

    def to_arrow(self) -> pa.Table:
        """One row per table and kind checked: ``table``, ``role``, ``kind``, ``column``,
        ``count``, ``policy``, ``excluded``."""
        rows = [
            {
                "table": t.table,
                "role": t.role,
                "kind": f.kind,
                "column": f.column,
                "count": f.count,
                "policy": f.policy,
                "excluded": f.excluded,
            }
            for t in self.tables
            for f in t.findings
        ]
        schema = pa.schema(
            [
                ("table", pa.string()),
                ("role", pa.string()),
                ("kind", pa.string()),
                ("column", pa.string()),
                ("count", pa.int64()),
                ("policy", pa.string()),
                ("excluded", pa.int64()),
            ]
        )
        return pa.Table.from_pylist(rows, schema=schema)

    def to_dict(self) -> dict[str, Any]:
        """The findings as the engine's JSON, parsed."""
        d: dict[str, Any] = json.loads(self._json)
        return d

    def to_json(self) -> str:
        """The engine's JSON text of the findings."""
        return self._json

    def __str__(self) -> str:
        found = self.findings
        if not found:
            return f"Data quality: nothing found in the {len(self.tables)} table(s) read"
        lines = [f"Data quality: {len(found)} finding(s)"]
        lines += [f"  {f}" for f in found]
        excluded = [t for t in self.tables if t.rows_excluded]
        lines += [f"  `{t.table}`: {t.rows_excluded:,} row(s) excluded" for t in excluded]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"DataQuality(tables={[t.table for t in self.tables]!r}, findings={len(self.findings)})"
        )

    def _repr_html_(self) -> str:
        rows = [
            (f.table, f.column, f.description, f.count, f.policy, f.excluded) for f in self.findings
        ]
        return data_quality_html(len(self.tables), rows)
