"""Why a person is in a cohort or not: :class:`Explanation`, made by
:meth:`caas.Result.explain` from the engine's explanation (its JSON and its text)."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._html import explanation_html

__all__ = ["EventRow", "Explanation", "PeriodRow", "RuleOutcome", "VariableExplanation"]


def _date(text: str | None) -> _dt.date | None:
    return None if text is None else _dt.date.fromisoformat(text)


@dataclass(frozen=True)
class EventRow:
    """An event row behind a variable's value."""

    #: The event table.
    table: str
    #: The event's date.
    date: _dt.date
    #: The code that matched.
    code: str
    #: The event's value, if the table has values.
    value: float | None


@dataclass(frozen=True)
class PeriodRow:
    """A period row behind a ``registered`` or ``practice`` variable."""

    #: The period table.
    table: str
    #: First day of the period.
    start_date: _dt.date | None
    #: Last day of the period; ``None`` while it is open.
    end_date: _dt.date | None
    #: The practice of the period.
    practice: str | None


@dataclass(frozen=True)
class VariableExplanation:
    """One variable: its value for the person and the rows behind it."""

    #: Its name.
    name: str
    #: Its kind, as in the definition (``age``, ``events``, ``derived``, ...).
    kind: str
    #: What it is, in plain English; names in backticks.
    sentence: str
    #: Its value: ``None`` (unknown), a boolean, a number or text; dates as
    #: ``YYYY-MM-DD`` text, as in the engine's JSON.
    value: Any
    #: For event, ``registered`` and ``practice`` variables, how many rows it selected.
    selected: int | None
    #: The event rows behind the value: the row chosen for ``first_*``/``last_*``, every
    #: row counted for ``count``, the first row for ``exists``.
    events: tuple[EventRow, ...]
    #: The period rows behind the value.
    periods: tuple[PeriodRow, ...]


@dataclass(frozen=True)
class RuleOutcome:
    """One rule: the value of its condition for the person, and whether they passed."""

    #: 1-based position.
    step: int
    #: The rule's name.
    name: str
    #: ``include`` or ``exclude``.
    action: Literal["include", "exclude"]
    #: The condition, in its canonical text.
    condition: str
    #: What the rule does, in plain English.
    sentence: str
    #: The condition's value: ``true``, ``false`` or ``unknown`` (a value it needs is
    #: missing: an ``include`` rule then removes the person, an ``exclude`` rule keeps them).
    outcome: Literal["true", "false", "unknown"]
    #: Whether the person passed the rule.
    passed: bool


def _variable(d: Mapping[str, Any]) -> VariableExplanation:
    return VariableExplanation(
        name=d["name"],
        kind=d["kind"],
        sentence=d["sentence"],
        value=d["value"],
        selected=d.get("selected"),
        events=tuple(
            EventRow(e["table"], _dt.date.fromisoformat(e["date"]), e["code"], e["value"])
            for e in d.get("events", ())
        ),
        periods=tuple(
            PeriodRow(p["table"], _date(p["start_date"]), _date(p["end_date"]), p["practice"])
            for p in d.get("periods", ())
        ),
    )


class Explanation:
    """Why a person is in the cohort or not: each variable's value with the event rows
    behind it, each rule's outcome, and the verdict.

    ``str()`` is the engine's plain-text explanation, :meth:`to_json` its JSON, and in a
    notebook it renders as HTML. The structured parts are attributes::

        why = result.explain(2)
        why.in_cohort, why.removed_by              # False, 'eligible'
        why.rule("eligible").outcome               # 'false'
        why.variable("asthma_dat").events[0].date  # datetime.date(2024, 10, 4)
    """

    __slots__ = (
        "_json",
        "_text",
        "cohort",
        "person_id",
        "removed_at",
        "removed_by",
        "rules",
        "variables",
    )

    #: The cohort's id.
    cohort: str
    #: The person, as the engine read the id.
    person_id: int | str
    #: The step of the rule that removed the person; ``None`` for a member.
    removed_at: int | None
    #: The name of the rule that removed the person; ``None`` for a member.
    removed_by: str | None
    #: Each rule, in order.
    rules: tuple[RuleOutcome, ...]
    #: Each variable, in the definition's order.
    variables: tuple[VariableExplanation, ...]

    def __init__(self, json_text: str, text: str) -> None:
        """An explanation from the engine's JSON and text (see :meth:`caas.Result.explain`)."""
        d = json.loads(json_text)
        self._json = json_text
        self._text = text
        self.cohort = d["cohort"]
        self.person_id = d["person_id"]
        verdict = d["verdict"]
        self.removed_at = verdict.get("step")
        self.removed_by = verdict.get("rule")
        self.rules = tuple(RuleOutcome(**r) for r in d["rules"])
        self.variables = tuple(_variable(v) for v in d["variables"])

    @property
    def in_cohort(self) -> bool:
        """Whether the person is a member (passed every rule)."""
        return self.removed_by is None

    @property
    def verdict(self) -> Literal["in", "out"]:
        """``in`` or ``out``."""
        return "in" if self.in_cohort else "out"

    def variable(self, name: str) -> VariableExplanation:
        """A variable by name; ``KeyError`` if the definition has none of that name."""
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)

    def rule(self, name: str) -> RuleOutcome:
        """A rule by name; ``KeyError`` if the definition has none of that name."""
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The explanation as the engine's JSON, parsed."""
        d: dict[str, Any] = json.loads(self._json)
        return d

    def to_json(self) -> str:
        """The engine's JSON text of the explanation."""
        return self._json

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        removed = "" if self.in_cohort else f", removed_by={self.removed_by!r}"
        return (
            f"Explanation(cohort={self.cohort!r}, person_id={self.person_id!r}, "
            f"verdict={self.verdict!r}{removed})"
        )

    def _repr_html_(self) -> str:
        return explanation_html(self.to_dict())
