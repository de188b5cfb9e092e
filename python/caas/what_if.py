"""An evaluation's attrition had its rules been others (:meth:`caas.Result.what_if`), and
what it shares with a :class:`caas.Result`: the attrition and the counts, printed under
the disclosure control of the cohort's purpose."""

from __future__ import annotations

from functools import cached_property

import pyarrow as pa

from . import _caas

__all__ = ["WhatIf"]


class _Counts:
    """The attrition and the counts of an evaluation, or of its rules changed."""

    _raw: _caas.Evaluation | _caas.WhatIf

    @cached_property
    def attrition(self) -> pa.Table:
        """Per step, in order: ``step``, ``rule``, ``action``, ``before``, ``after``,
        ``removed`` (people); the opt-out step first when the purpose applies opt-outs."""
        return self._raw.attrition()

    @property
    def population(self) -> int:
        """People in the person table."""
        return self._raw.population

    @property
    def member_count(self) -> int:
        """People in the cohort (kept by the rules)."""
        return self._raw.member_count

    def __len__(self) -> int:
        return self.member_count

    def shown(self, count: int) -> str:
        """``count`` as this evaluation's purpose lets it be printed: for purposes other
        than direct care under the report's disclosure control (1 to 7 as ``*``, others
        rounded to 5), as everything caas prints."""
        return self._raw.shown(count)

    def attrition_text(self) -> str:
        """The attrition as a text table. For purposes other than direct care its counts
        are under the report's disclosure control (1 to 7 shown as ``*``, others rounded
        to 5), as in everything printed; :attr:`attrition` holds the exact counts."""
        return self._raw.attrition_text()

    def __str__(self) -> str:
        return self._raw.summary()

    def _repr_html_(self) -> str:
        # The engine's view: the attrition and the report's funnel, counts under the
        # report's disclosure control for purposes other than direct care.
        return self._raw.notebook_html()


class WhatIf(_Counts):
    """The attrition and member count of an evaluation's population under changed rules,
    recounted from the rule outcomes the evaluation holds for every person: nothing is read
    again. Printed, in a notebook and in :meth:`attrition_text`, counts are under the
    disclosure control of the cohort's purpose, as the evaluation's are."""

    def __init__(self, raw: _caas.WhatIf) -> None:
        self._raw = raw

    def __repr__(self) -> str:
        members, population = self._raw.shown(self.member_count), self._raw.shown(self.population)
        return f"WhatIf(members={members}, population={population})"
