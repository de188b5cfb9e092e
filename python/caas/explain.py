"""Why a person is in a cohort or not: :class:`Explanation`, made by
:meth:`caas.Result.explain`.

The classes are the engine's own explanation, not a copy of it: its rules and variables,
its text (``str()``), its JSON (:meth:`Explanation.to_json`) and its notebook HTML come from
the engine. The structured parts are attributes::

    why = result.explain(2)
    why.in_cohort, why.removed_by              # False, 'eligible'
    why.rule("eligible").outcome               # 'false'
    why.variable("asthma_dat").events[0].date  # datetime.date(2024, 10, 4)

A variable's ``value`` is ``None`` (unknown), a bool, an int, a float, a
``datetime.date`` or a str; a rule's ``outcome`` is ``true``, ``false`` or ``unknown`` (a
value it needs is missing: an ``include`` rule then removes the person, an ``exclude`` rule
keeps them).
"""

from __future__ import annotations

from ._caas import EventRow, Explanation, PeriodRow, RuleOutcome, VariableExplanation

__all__ = ["EventRow", "Explanation", "PeriodRow", "RuleOutcome", "VariableExplanation"]
