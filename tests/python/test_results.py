"""Results: members and attrition as Arrow, the text and notebook views, several cohorts at
once, and evaluation from several threads at once."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

import caas
from conftest import SMALL_COHORT, small_tables


def small_engine() -> caas.Engine:
    persons, events = small_tables()
    engine = caas.Engine()
    engine.register("persons", persons, role="person")
    engine.register("gp_events", events, role="events", code_system="snomed_ct")
    return engine


def test_members_and_attrition_are_arrow_tables() -> None:
    result = small_engine().evaluate(caas.Cohort.from_yaml(SMALL_COHORT))
    assert [(f.name, f.type) for f in result.members.schema] == [
        ("person_id", pa.int64()),
        ("age", pa.int64()),
        ("asthma_recent", pa.bool_()),
        ("asthma_count", pa.int64()),
    ]
    assert result.attrition.column_names == ["step", "rule", "action", "before", "after", "removed"]
    assert (result.population, result.member_count, len(result)) == (6, 3, 3)
    assert "| 2    | eligible | include | 5      | 3     | 2       |" in result.attrition_text()
    assert str(result).endswith("3 of 6 people in the cohort")
    assert repr(result) == "Result(cohort='small', members=3, population=6)"


def test_parameters_override_the_defaults() -> None:
    engine = small_engine()
    cohort = caas.Cohort.from_yaml(SMALL_COHORT)
    # A year later person 2's asthma code is out of the window and person 5's is in it.
    result = engine.evaluate(cohort, {"index_date": "2026-03-31"})
    assert [m["person_id"] for m in result.members.to_pylist()] == [1, 4, 5]
    assert result.parameters == {"index_date": "2026-03-31"}


def test_variables_table_has_every_variable() -> None:
    table = small_engine().variables(caas.Cohort.from_yaml(SMALL_COHORT))
    assert table.column_names == ["person_id", "age", "alive", "asthma_recent", "asthma_count"]
    assert table.column("person_id").to_pylist() == [1, 2, 3, 4, 5, 6]
    assert table.column("alive").to_pylist() == [True, True, True, True, True, False]


def test_plan_is_datafusion_text() -> None:
    plan = small_engine().plan(caas.Cohort.from_yaml(SMALL_COHORT))
    assert plan.startswith("logical plan:")
    assert "physical plan:" in plan


def test_result_html_has_the_attrition_table_and_a_funnel() -> None:
    result = small_engine().evaluate(caas.Cohort.from_yaml(SMALL_COHORT))
    html = result._repr_html_()
    assert "<h3>Aged 65 or over, or asthma in the last year</h3>" in html
    assert "<p>3 of 6 people in the cohort</p>" in html
    assert (
        "<tr><td class='n'>2</td><td>eligible</td><td>include</td><td class='n'>5</td>"
        "<td class='n'>3</td><td class='n'>2</td></tr>"
    ) in html
    # The funnel is the engine's, as in the report: bars for the population and after each
    # rule, 320 pixels for the largest count.
    svg = re.search(r"<svg .*</svg>", html, re.DOTALL)
    assert svg is not None
    bars = re.findall(
        r'<rect x="\d+" y="\d+" width="(\d+)" height="20" fill="#(?:425563|005eb8)"', svg.group(0)
    )
    # 6 people, 5 after `alive`, 3 after `eligible`.
    assert bars == ["320", "267", "160"]
    assert ">3 (−2)</text>" in svg.group(0)
    assert "http" not in svg.group(0).replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_evaluate_many_gives_each_cohorts_result_in_order(
    flu_cohort: caas.Cohort, population: Path
) -> None:
    engine = caas.Engine()
    engine.register_synthetic(population)
    small = caas.Cohort.from_yaml(SMALL_COHORT.replace("gp_events", "gp_events"))
    alone = [engine.evaluate(flu_cohort), engine.evaluate(small)]
    together = engine.evaluate_many(
        [flu_cohort, (small, None), (flu_cohort, {"index_date": "2025-12-31"})]
    )
    assert [r.cohort.id for r in together] == [
        "seasonal_flu_2025_26",
        "small",
        "seasonal_flu_2025_26",
    ]
    assert together[0].members.equals(alone[0].members)
    assert together[1].members.equals(alone[1].members)
    assert together[0].attrition.equals(alone[0].attrition)
    later = engine.evaluate(flu_cohort, {"index_date": "2025-12-31"})
    assert together[2].members.equals(later.members)


def test_threads_evaluate_at_once_with_the_same_results(
    flu_cohort: caas.Cohort, population: Path
) -> None:
    engine = caas.Engine()
    engine.register_synthetic(population)
    expected = engine.evaluate(flu_cohort)
    assert expected.member_count > 0
    barrier = threading.Barrier(4)

    def run(i: int) -> caas.Result:
        barrier.wait()
        return engine.evaluate(flu_cohort)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    for result in results:
        assert result.members.equals(expected.members)
        assert result.attrition.equals(expected.attrition)


def test_evaluation_releases_the_gil(flu_cohort: caas.Cohort, population: Path) -> None:
    engine = caas.Engine()
    engine.register_synthetic(population)
    done = threading.Event()
    counted = 0

    def evaluate() -> None:
        try:
            for _ in range(3):
                engine.evaluate(flu_cohort)
        finally:
            done.set()

    thread = threading.Thread(target=evaluate)
    thread.start()
    # Pure-Python work on this thread goes on while the other evaluates: with the GIL held
    # through an evaluation this loop could not run until it ended.
    while not done.is_set():
        counted += 1
    thread.join()
    assert counted > 1000
