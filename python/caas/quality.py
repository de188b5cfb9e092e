"""Data-quality findings of an evaluation (:attr:`caas.Result.data_quality`) and the kinds
of finding with their default policies (:func:`finding_kinds`).

Every evaluation checks the tables it reads and counts, per table and per kind, the rows
with a finding: an invalid NHS number, a missing person id, a person on several rows, an
event of an unknown person, a missing, future, pre-1900 or pre-birth date, a code of no
format of its system; and, per derived variable and rule, the people whose value
arithmetic left missing (a division by zero, a whole number out of range, a date outside
the years 1 to 9999:
:attr:`DataQuality.arithmetic`). A policy per kind (``keep``, ``exclude`` or ``fail``), given to
:meth:`caas.Engine.evaluate` as ``quality={kind: policy}``, says what happens to them.

:class:`DataQuality` is the engine's own record of the findings, not a copy of it: its
counts (:meth:`DataQuality.count`, :meth:`DataQuality.total`), its text (``str()``), its
JSON and its notebook HTML (with counts as the report shows them) come from the engine::

    quality = result.data_quality
    quality.count("persons", "invalid_nhs_number")   # rows with that finding
    quality.total("unknown_person")                  # over every table
    [str(f) for f in quality.findings]               # only what was found
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from . import _caas
from ._caas import ArithmeticFinding, DataQuality, Finding, TableQuality

__all__ = [
    "ArithmeticFinding",
    "DataQuality",
    "Finding",
    "FindingKindInfo",
    "TableQuality",
    "finding_kinds",
]

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
