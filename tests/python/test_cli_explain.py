"""`caas explain`: one person's explanation from the command line, over a data folder."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq

import caas
from caas.cli import register_folder
from conftest import QUICKSTART, caas_command, governed_cohort, governed_tables


def caas_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        caas_command() + list(args),
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def explain(
    data: Path, person: str, env: dict[str, str], *more: str
) -> subprocess.CompletedProcess[str]:
    return caas_run(
        "explain", str(QUICKSTART), "--data", str(data), "--person", person, *more, env=env
    )


# Person 3 of examples/data: born 1985-06-01, so 39 on 2025-03-31; an asthma code in 2019
# (outside the last 12 months) and a diabetes code on 2025-01-15: at risk, so eligible.
PERSON_3 = """\
Person 3 and cohort `quickstart`
Verdict: in the cohort (passed all 2 rules)

Rules
   1. alive (include alive): true, passed
   2. eligible (include (age >= 65) or at_risk): true, passed

Variables
  age = 39
      age in whole years on 31 March 2025
  alive = true
      alive on 31 March 2025: no date of death on or before that day (birth is not considered)
  asthma_recent = false
      has an `asthma` code in `gp_events` between 31 March 2024 and 31 March 2025
      0 rows selected
  diabetes_last = 2025-01-15
      the date of the latest `diabetes` code in `gp_events` on or before 31 March 2025
      1 row selected, behind the value:
        gp_events  2025-01-15  code 44054006
  at_risk = true
      true when `asthma_recent` or `diabetes_last` is not missing
  age_band = "adult"
      "child" if `age` is less than 18; "adult" if `age` is less than 65; otherwise "65+"
"""


def test_explain_prints_why_a_person_is_in(cli_env: dict[str, str], quickstart_data: Path) -> None:
    done = explain(quickstart_data, "3", cli_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == PERSON_3


def test_explain_shows_the_rule_that_removed_a_person_as_markdown(
    cli_env: dict[str, str], quickstart_data: Path
) -> None:
    # Person 4 died on 2024-12-01, before the index date: removed by the first rule.
    done = explain(quickstart_data, "4", cli_env, "--format", "markdown")
    assert done.returncode == 0, done.stderr
    assert done.stdout == PERSON_4_MARKDOWN


PERSON_4_MARKDOWN = """\
# Person 4 and cohort `quickstart`

**Verdict:** not in the cohort: removed at step 1 by rule `alive`

## Rules

| Step | Rule | Condition | Outcome | Passed |
|---:|---|---|---|---|
| 1 | alive | include `alive` | false | not passed, removed here |
| 2 | eligible | include `(age >= 65) or at_risk` | true | passed |

## Variables

| Variable | Value | What it is | Rows selected |
|---|---|---|---:|
| `age` | `85` | age in whole years on 31 March 2025 |  |
| `alive` | `false` | alive on 31 March 2025: no date of death on or before that day (birth is not considered) |  |
| `asthma_recent` | `false` | has an `asthma` code in `gp_events` between 31 March 2024 and 31 March 2025 | 0 |
| `diabetes_last` | `unknown` | the date of the latest `diabetes` code in `gp_events` on or before 31 March 2025 | 0 |
| `at_risk` | `false` | true when `asthma_recent` or `diabetes_last` is not missing |  |
| `age_band` | `"65+"` | "child" if `age` is less than 18; "adult" if `age` is less than 65; otherwise "65+" |  |
"""


def test_explain_as_json_is_the_engines(cli_env: dict[str, str], quickstart_data: Path) -> None:
    done = explain(quickstart_data, "5", cli_env, "--format", "json")
    assert done.returncode == 0, done.stderr
    engine = caas.Engine()
    register_folder(engine, quickstart_data, None)
    expected = engine.evaluate(caas.Cohort.from_path(QUICKSTART)).explain("5")
    assert json.loads(done.stdout) == expected.to_dict()
    assert done.stdout == expected.to_json() + "\n"
    # Person 5 (born 2010) is 15 with no asthma or diabetes code: not eligible.
    assert (expected.removed_by, expected.removed_at) == ("eligible", 2)


def test_explain_an_unknown_person_is_a_usage_error(
    cli_env: dict[str, str], quickstart_data: Path
) -> None:
    for person in ("42", "03", "x"):
        done = explain(quickstart_data, person, cli_env)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert done.stderr == (
            "caas explain: --person: person table `persons` has no person with the given id\n"
        )
    done = explain(quickstart_data, " ", cli_env)
    assert done.returncode == 2 and "--person takes a person id" in done.stderr


def test_explain_follows_the_engines_governance(cli_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "governed"
    data.mkdir()
    persons, events = governed_tables()
    pq.write_table(persons, data / "persons.parquet")
    pq.write_table(events, data / "gp_events.parquet")
    (data / "tables.yaml").write_text(
        "tables:\n"
        "  persons: { path: persons.parquet, role: person }\n"
        "  gp_events: { path: gp_events.parquet, role: events, code_system: snomed_ct }\n"
    )
    # With pseudonyms the engine explains nobody by id: nothing is printed of the person.
    definition = tmp_path / "governed.json"
    definition.write_text(governed_cohort().to_json())
    key = bytes(range(100, 132)).hex()
    args = ["explain", str(definition), "--data", str(data), "--person", "1"]
    done = caas_run(
        *args, "--pseudonym-key-env", "CAAS_TEST_KEY", env={**cli_env, "CAAS_TEST_KEY": key}
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "caas explain: InvalidInputError: explain: the evaluation gave pseudonyms; an "
        "explanation by person id would undo them\n"
    )
    # For research, a person with a national data opt-out is removed before any rule, and
    # none of their data is read for the explanation.
    research = tmp_path / "research.json"
    research.write_text(governed_cohort("research").to_json())
    done = caas_run("explain", str(research), "--data", str(data), "--person", "2", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "Person 2 and cohort `governed`\n"
        "Verdict: not in the cohort: removed at step 1 by rule `national data opt-out or type 1 opt-out`\n"
        "\nRules\n"
        "\nVariables\n"
    )
