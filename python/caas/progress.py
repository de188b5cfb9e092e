"""Progress of an evaluation: the rows it has read of each table, of the rows it expects.

Every method that evaluates (``Engine.evaluate``, ``evaluate_many``, ``Result.explain``,
``audit``, ``characterise``) takes ``progress``: a callable, called as
``progress(table, rows_read, rows_expected)`` about every 50 ms for each table whose count
moved and once more for every table at the end, or ``True`` for a :class:`RowsBar`.
``rows_expected`` is ``None`` when the source cannot say (CSV files), and counts a table
as often as the evaluation reads it (the data-quality checks, then the cohort). A callable
that returns ``False`` cancels the evaluation, which then raises :class:`caas.EngineError`
with the code ``cancelled``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from tqdm.auto import tqdm

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Progress", "RowsBar"]

#: ``progress(table, rows_read, rows_expected)``; returning ``False`` cancels.
Progress: TypeAlias = Callable[[str, int, "int | None"], "bool | None"]


class RowsBar:
    """A tqdm progress bar (a widget in a notebook) of the rows an evaluation has read of
    all its tables, of the rows it expects, naming the table being read. Use it as the
    ``progress`` of one evaluation; ``progress=True`` makes one, shown even where stderr
    is not a terminal, and closes it after. Made here, it stays silent where stderr is not
    a terminal (a log, a pipe), as ``caas run``'s does. ``options`` go to ``tqdm``.

    >>> bar = RowsBar(disable=True)
    >>> bar("gp_events", 500, 1000)
    True
    >>> bar("persons", 100, 100)
    True
    >>> bar.read, bar.expected
    (600, 1100)
    >>> bar.close()
    """

    def __init__(self, description: str = "reading", **options: Any) -> None:
        self._tables: dict[str, tuple[int, int | None]] = {}
        self._bar = tqdm(
            desc=description,
            unit=" rows",
            unit_scale=True,
            dynamic_ncols=True,
            **{"disable": None, "leave": False, **options},
        )

    @property
    def read(self) -> int:
        """Rows read so far, of every table."""
        return sum(read for read, _ in self._tables.values())

    @property
    def expected(self) -> int | None:
        """Rows expected, of every table; None when a source cannot say."""
        counts = [expected for _, expected in self._tables.values()]
        return None if None in counts else sum(c for c in counts if c is not None)

    def __call__(self, table: str, rows_read: int, rows_expected: int | None) -> bool:
        self._tables[table] = (rows_read, rows_expected)
        expected = self.expected
        if self._bar.total != expected:
            self._bar.total = expected
        self._bar.set_postfix_str(table, refresh=False)
        self._bar.update(self.read - self._bar.n)
        return True

    def close(self) -> None:
        """Removes the bar."""
        self._bar.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


_T = TypeVar("_T")


def watched(progress: Progress | bool | None, run: Callable[[Progress | None], _T]) -> _T:
    """``run(callback)`` with ``progress`` as the engine's callback: ``True`` is a
    :class:`RowsBar`, closed when the run ends."""
    if progress is True:
        # Asked for, the bar shows wherever it can (a notebook's stderr is no terminal).
        with RowsBar(disable=False) as bar:
            return run(bar)
    return run(progress or None)
