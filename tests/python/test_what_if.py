"""``Result.what_if`` against full re-evaluations of the flu cohort with the same changes
written into its definition, and the changes it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import caas


def rewritten(
    cohort: caas.Cohort, drop: list[str], order: list[str], add: list[dict[str, str]]
) -> caas.Cohort:
    """The cohort with its rules changed, as a definition."""
    document = cohort.to_dict()
    rules: list[dict[str, Any]] = [r for r in document["rules"] if r["name"] not in drop]
    rules += add
    first = [next(r for r in rules if r["name"] == name) for name in order]
    document["rules"] = first + [r for r in rules if r not in first]
    return caas.Cohort.from_dict(document, caas.examples.flu_definition().parent)


CHANGES = [
    ([], [], []),
    (["vaccinated", "declined"], [], []),
    ([], ["eligible", "vaccinated"], []),
    (
        ["50-64 not eligible"],
        ["not a carer"],
        [
            {
                "name": "aged 50+",
                "exclude": "age between 50 and 64 and not (eligible or care_home)",
            },
            {"name": "not a carer", "exclude": "grp_carer"},
        ],
    ),
]


@pytest.mark.parametrize("purpose", ["direct_care", "research"])
@pytest.mark.parametrize(("drop", "order", "add"), CHANGES)
def test_what_if_equals_a_re_evaluation(
    flu_cohort: caas.Cohort,
    population: Path,
    purpose: str,
    drop: list[str],
    order: list[str],
    add: list[dict[str, str]],
) -> None:
    document = flu_cohort.to_dict()
    document["purpose"] = purpose
    cohort = caas.Cohort.from_dict(document, caas.examples.flu_definition().parent)
    engine = caas.Engine()
    engine.register_synthetic(population)
    what_if = engine.evaluate(cohort).what_if(drop=drop, order=order, add=add)
    rerun = engine.evaluate(rewritten(cohort, drop, order, add))
    assert what_if.attrition.equals(rerun.attrition)
    assert (what_if.member_count, what_if.population) == (rerun.member_count, rerun.population)
    assert what_if.attrition_text() == rerun.attrition_text()
    assert str(what_if).splitlines()[1:] == str(rerun).splitlines()[1:]
    assert "what if" in what_if._repr_html_()


def test_what_if_refuses_what_it_cannot_answer(flu_cohort: caas.Cohort, population: Path) -> None:
    engine = caas.Engine()
    engine.register_synthetic(population)
    result = engine.evaluate(flu_cohort)
    with pytest.raises(caas.InvalidInputError, match="`drop` names the rule `vacinated`"):
        result.what_if(drop=["vacinated"])
    with pytest.raises(caas.InvalidInputError, match="the variable `bmi_val` is not held"):
        result.what_if(add=[{"name": "obese", "include": "bmi_val >= 40"}])
    with pytest.raises(caas.InvalidInputError, match="unknown field `when`"):
        result.what_if(add=[{"name": "x", "include": "age > 1", "when": "now"}])
    with pytest.raises(caas.DefinitionError, match="exactly one of `include` and `exclude`"):
        result.what_if(add=[{"name": "x"}])
    with pytest.raises(TypeError, match="drop must be a list"):
        result.what_if(drop="vaccinated")
