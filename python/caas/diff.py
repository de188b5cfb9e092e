"""Who joined a cohort and who left it since an earlier run (:meth:`caas.Result.diff`)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["Difference"]


@dataclass(frozen=True, repr=False)
class Difference:
    """The difference between a run's members and an earlier run's, so that a campaign
    refreshed every week invites nobody twice."""

    #: People in this run's members and not in the earlier ones: ``person_id``, sorted.
    joined: pa.Table
    #: People in the earlier members and not in this run's: ``person_id``, sorted, each once.
    left: pa.Table
    #: How many people are in both.
    stayed: int

    def __repr__(self) -> str:
        return (
            f"Difference(joined={self.joined.num_rows}, left={self.left.num_rows}, "
            f"stayed={self.stayed})"
        )
