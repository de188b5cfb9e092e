"""Progress: ``progress(table, rows_read, rows_expected)`` while an evaluation runs, a
progress bar with ``progress=True``, and cancelling from the callback."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import caas
from caas.progress import RowsBar


def rows_of(population: Path, folder: str) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in (population / folder).glob("*.parquet"))


def test_every_row_read_is_reported(population: Path, flu_cohort: caas.Cohort) -> None:
    engine = caas.Engine()
    engine.register_synthetic(population)
    reports: list[tuple[str, int, int | None]] = []
    result = engine.evaluate(flu_cohort, progress=lambda *report: reports.append(report))
    assert result.member_count == engine.evaluate(flu_cohort).member_count

    last: dict[str, tuple[int, int | None]] = {}
    for table, read, expected in reports:
        assert expected is not None and read <= expected, (table, read, expected)
        assert read >= last.get(table, (0, 0))[0]
        last[table] = (read, expected)
    assert sorted(last) == sorted(engine.tables)
    for table, folder, _ in caas.synth.table_specs():
        read, expected = last[table]
        rows = rows_of(population, folder)
        # Read to the end, once by the data-quality checks and once for the cohort or so.
        assert read == expected and read % rows == 0 and read >= rows, (table, read, rows)


def test_rows_are_counted_only_for_a_callback(population: Path, flu_cohort: caas.Cohort) -> None:
    # Without a callback the plans are the plain ones, with no counting node in them.
    engine = caas.Engine()
    engine.register_synthetic(population)
    assert "CountedScan" not in engine.plan(flu_cohort)


def test_returning_false_cancels(population: Path, flu_cohort: caas.Cohort) -> None:
    engine = caas.Engine()
    engine.register_synthetic(population)
    calls = []
    with pytest.raises(caas.EngineError) as raised:
        engine.evaluate(flu_cohort, progress=lambda *report: calls.append(report) or False)
    assert raised.value.code == "cancelled"
    assert len(calls) == 1
    # The engine is still usable.
    assert engine.evaluate(flu_cohort).member_count > 0


def test_an_exception_in_the_callback_is_raised(population: Path, flu_cohort: caas.Cohort) -> None:
    engine = caas.Engine()
    engine.register_synthetic(population)

    def broken(table: str, rows_read: int, rows_expected: int | None) -> None:
        raise ValueError("the callback's own error")

    with pytest.raises(ValueError, match="the callback's own error"):
        engine.evaluate(flu_cohort, progress=broken)


def test_progress_true_and_the_other_evaluating_methods(
    population: Path, flu_cohort: caas.Cohort
) -> None:
    engine = caas.Engine()
    engine.register_synthetic(population)
    result = engine.evaluate(flu_cohort, progress=True)
    (again,) = engine.evaluate_many([flu_cohort], progress=True)
    assert again.member_count == result.member_count
    tables: set[str] = set()
    person = result.members.column(0)[0].as_py()
    result.explain(person, progress=lambda table, *_: tables.add(table))
    assert "persons" in tables
    assert result.audit(progress=True).num_rows == rows_of(population, "persons")


def test_the_bar_counts_all_tables_and_names_the_one_being_read() -> None:
    out = io.StringIO()
    bar = RowsBar("evaluating flu", file=out, disable=False, mininterval=0)
    bar("persons", 1000, 1000)
    bar("gp_events", 25_000, 100_000)
    assert (bar.read, bar.expected) == (26_000, 101_000)
    bar("apc", 10, None)
    assert bar.expected is None
    bar.close()
    shown = out.getvalue()
    assert "evaluating flu" in shown and "gp_events" in shown and "26.0k/101k" in shown
