"""The `caas` command, run as an installed console script."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import caas
from conftest import (
    EXAMPLE_DATA,
    FLU,
    NHS,
    QUICKSTART,
    caas_command,
    governed_cohort,
    governed_tables,
)


def caas_run(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        caas_command() + list(args),
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_validate_prints_the_summary(cli_env: dict[str, str]) -> None:
    done = caas_run("validate", str(QUICKSTART), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "Aged 65 or over, or with asthma or diabetes (`quickstart`, version 1)" in done.stdout
    assert done.stdout.rstrip().endswith(f"{QUICKSTART}: valid")


def test_validate_reports_the_place_and_fails(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: y\npurpose: care\n")
    done = caas_run("validate", str(bad), env=cli_env)
    assert done.returncode == 1
    assert "DefinitionError: YAML error at line 3, column 10" in done.stderr
    done = caas_run("validate", str(QUICKSTART), "--param", "index_dat=2025-01-01", env=cli_env)
    assert done.returncode == 1
    assert "unknown parameter `index_dat`" in done.stderr
    done = caas_run("validate", str(tmp_path / "missing.yaml"), env=cli_env)
    assert done.returncode == 1
    assert "missing.yaml" in done.stderr


def test_usage_errors_exit_2(
    cli_env: dict[str, str], quickstart_data: Path, tmp_path: Path
) -> None:
    assert caas_run("frobnicate", env=cli_env).returncode == 2
    assert caas_run("synth", "--persons", "0", "--out", str(tmp_path), env=cli_env).returncode == 2
    out = str(tmp_path / "m.parquet")
    done = caas_run(
        "run", str(QUICKSTART), "--data", str(tmp_path / "nowhere"), "--out", out, env=cli_env
    )
    assert done.returncode == 2 and "not a folder" in done.stderr
    done = caas_run(
        "run",
        str(QUICKSTART),
        "--data",
        str(quickstart_data),
        "--out",
        str(tmp_path / "m.txt"),
        env=cli_env,
    )
    assert done.returncode == 2 and ".parquet" in done.stderr
    done = caas_run(
        "run",
        str(QUICKSTART),
        "--data",
        str(quickstart_data),
        "--out",
        out,
        "--param",
        "index_date",
        env=cli_env,
    )
    assert done.returncode == 2 and "NAME=VALUE" in done.stderr
    done = caas_run("run", str(QUICKSTART), "--data", str(tmp_path), "--out", out, env=cli_env)
    assert done.returncode == 2 and "tables.yaml" in done.stderr


def test_run_over_a_folder_with_a_tables_file(
    cli_env: dict[str, str], quickstart_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "members.csv"
    done = caas_run(
        "run",
        str(QUICKSTART),
        "--data",
        str(quickstart_data),
        "--out",
        str(out),
        "--param",
        "index_date=2025-03-31",
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    assert "people in the cohort" in done.stdout
    # The same as through the API.
    engine = caas.Engine()
    engine.register("persons", quickstart_data / "persons.csv", role="person")
    engine.register(
        "gp_events", quickstart_data / "gp_events.csv", role="events", code_system="snomed_ct"
    )
    expected = engine.evaluate(caas.Cohort.from_path(QUICKSTART)).members
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["person_id"] for r in rows] == expected.column("person_id").to_pylist()
    assert [r["age_band"] for r in rows] == expected.column("age_band").to_pylist()


def test_a_tables_file_gives_the_date_format(
    cli_env: dict[str, str], quickstart_data: Path, tmp_path: Path
) -> None:
    # The persons' dates rewritten as 01/06/1950, and the tables file saying so.
    persons = quickstart_data / "persons.csv"
    with persons.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for column in ("date_of_birth", "date_of_death"):
            if row[column]:
                year, month, day = row[column].split("-")
                row[column] = f"{day}/{month}/{year}"
    with persons.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tables = quickstart_data / "tables.yaml"
    tables.write_text(
        tables.read_text().replace("role: person }", "role: person, date_format: '%d/%m/%Y' }")
    )
    out = tmp_path / "members.csv"
    args = ["run", str(QUICKSTART), "--data", str(quickstart_data), "--out", str(out)]
    done = caas_run(*args, "--param", "index_date=2025-03-31", env=cli_env)
    assert done.returncode == 0, done.stderr
    engine = caas.Engine()
    engine.register("persons", EXAMPLE_DATA / "persons.csv", role="person")
    engine.register(
        "gp_events", EXAMPLE_DATA / "gp_events.csv", role="events", code_system="snomed_ct"
    )
    expected = engine.evaluate(caas.Cohort.from_path(QUICKSTART)).members
    with out.open() as f:
        members = list(csv.DictReader(f))
    assert [r["age"] for r in members] == [str(a) for a in expected.column("age").to_pylist()]


def test_a_bad_tables_file_names_its_line(
    cli_env: dict[str, str], quickstart_data: Path, tmp_path: Path
) -> None:
    (quickstart_data / "tables.yaml").write_text(
        "tables:\n  persons: { path: persons.csv, rol: person }\n"
    )
    done = caas_run(
        "run",
        str(QUICKSTART),
        "--data",
        str(quickstart_data),
        "--out",
        str(tmp_path / "m.parquet"),
        env=cli_env,
    )
    assert done.returncode == 1
    assert "tables.yaml: YAML error at line 2" in done.stderr
    assert "unknown field `rol`" in done.stderr


def test_synth_then_run_the_flu_cohort(cli_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "population"
    done = caas_run("synth", "--persons", "300", "--out", str(data), "--seed", "3", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert pq.read_table(data / "persons").num_rows == 300
    out = tmp_path / "flu.parquet"
    done = caas_run(
        "run", str(FLU / "flu.yaml"), "--data", str(data), "--out", str(out), env=cli_env
    )
    assert done.returncode == 0, done.stderr
    engine = caas.Engine()
    engine.register_synthetic(data)
    expected = engine.evaluate(caas.Cohort.from_path(FLU / "flu.yaml"))
    assert pq.read_table(out).equals(expected.members)
    # Within a memory limit the same members; under one that nothing fits in, an error
    # that says so (never a killed process); a size that is no size, a usage error.
    args = ["run", str(FLU / "flu.yaml"), "--data", str(data), "--out", str(out)]
    done = caas_run(*args, "--memory-limit", "1G", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).equals(expected.members)
    done = caas_run(*args, "--memory-limit", "4K", env=cli_env)
    assert done.returncode == 1
    assert done.stderr.startswith("caas run: EngineError: "), done.stderr
    assert "Resources exhausted" in done.stderr, done.stderr
    done = caas_run(*args, "--memory-limit", "lots", env=cli_env)
    assert done.returncode == 2
    assert "memory size 'lots'" in done.stderr


def test_demo_gives_the_golden_attrition(cli_env: dict[str, str], tmp_path: Path) -> None:
    # The installed package carries the example: run from a folder without the repository.
    out = tmp_path / "members.parquet"
    done = caas_run(
        "demo",
        "--persons",
        "5000",
        "--seed",
        "7",
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(out),
        env=cli_env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    golden = (FLU / "golden" / "attrition-5000-seed7.csv").read_text().splitlines()
    members = int(golden[0].split(",")[1])
    assert f"{members:,} of 5,000 people in the cohort" in done.stdout
    for row in csv.DictReader(golden[1:]):
        line = next(line for line in done.stdout.splitlines() if f"| {row['rule']} " in line)
        cells = [c.strip() for c in line.strip("|").split("|")]
        counts = [c.replace(",", "") for c in cells[3:]]  # printed as 4,953
        assert [cells[1], *counts] == [row["rule"], row["before"], row["after"], row["removed"]]
    assert pq.read_table(out).num_rows == members
    assert "Data quality: " in done.stdout
    # The report is written beside the members.
    assert (tmp_path / "report.md").read_text().startswith("# ")
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    manifest = json.loads((tmp_path / "provenance.json").read_text())
    assert manifest["members"] == members
    # A second run uses the cached population.
    again = caas_run(
        "demo",
        "--persons",
        "5000",
        "--seed",
        "7",
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(out),
        env=cli_env,
    )
    assert again.returncode == 0 and "(cached)" in again.stdout


@pytest.mark.parametrize("argv", [["--version"], ["demo", "--help"], ["run", "--help"]])
def test_help_and_version(cli_env: dict[str, str], argv: list[str]) -> None:
    done = caas_run(*argv, env=cli_env)
    assert done.returncode == 0
    assert done.stdout


@pytest.fixture()
def governed_data(tmp_path: Path) -> tuple[Path, Path]:
    """The governance tests' tables in a data folder, and their definition in a file."""
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
    definition = tmp_path / "governed.json"
    definition.write_text(governed_cohort().to_json())
    return data, definition


def test_run_with_policy_previous_and_report(
    cli_env: dict[str, str], governed_data: tuple[Path, Path], tmp_path: Path
) -> None:
    data, definition = governed_data
    previous = tmp_path / "last_week.parquet"
    pq.write_table(pa.table({"person_id": pa.array([1, 7], pa.int64())}), previous)
    out = tmp_path / "out" / "members.parquet"
    report = tmp_path / "report"
    done = caas_run(
        "run",
        str(definition),
        "--data",
        str(data),
        "--out",
        str(out),
        "--policy",
        "invalid_nhs_number=exclude",
        "--reference-date",
        "2025-03-31",
        "--previous",
        str(previous),
        "--report",
        str(report),
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    # People 4 and 5 have invalid NHS numbers and are excluded.
    assert pq.read_table(out).column("person_id").to_pylist() == [1, 2, 3, 6]
    assert (
        "  `persons`: 2 row(s) have an invalid NHS number (column nhs_number, policy exclude)"
        in (done.stdout)
    )
    assert f"Since {previous}: 3 joined, 1 left, 1 stayed" in done.stdout
    joined = pq.read_table(out.with_name("members_joined.parquet"))
    left = pq.read_table(out.with_name("members_left.parquet"))
    assert joined.column("person_id").to_pylist() == [2, 3, 6]
    assert left.column("person_id").to_pylist() == [7]
    assert sorted(p.name for p in report.iterdir()) == [
        "provenance.json",
        "report.html",
        "report.md",
        "run.json",
    ]
    assert (report / "report.md").read_text().startswith("# Adults\n")
    # The saved run renders the same report again, without the data.
    again = tmp_path / "again"
    done = caas_run("report", str(report), "--out", str(again), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert (again / "report.md").read_text() == (report / "report.md").read_text()
    assert (again / "report.html").read_text() == (report / "report.html").read_text()
    assert (again / "funnel.svg").read_text().startswith("<svg")
    # With disclosure control for sharing: 4 people are shown as `*`.
    done = caas_run(
        "report", str(report / "run.json"), "--out", str(again), "--disclosure-control", env=cli_env
    )
    assert done.returncode == 0, done.stderr
    assert "| 1 | adult | include | \\* | \\* | 0 |" in (again / "report.md").read_text()
    missing = caas_run("report", str(tmp_path), env=cli_env)
    assert missing.returncode == 2
    assert "no saved run" in missing.stderr
    html = (report / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "https://" not in html
    manifest = json.loads((report / "provenance.json").read_text())
    assert (manifest["format"], manifest["population"], manifest["members"]) == (
        "caas-provenance/1",
        4,
        4,
    )


def test_a_research_run_prints_its_counts_under_disclosure_control(
    cli_env: dict[str, str], governed_data: tuple[Path, Path], tmp_path: Path
) -> None:
    data, definition = governed_data
    definition.write_text(governed_cohort("research").to_json())
    previous = tmp_path / "last_week.parquet"
    pq.write_table(pa.table({"person_id": pa.array([1, 7], pa.int64())}), previous)
    out = tmp_path / "members.parquet"
    args = ["run", str(definition), "--data", str(data), "--out", str(out)]
    done = caas_run(
        *args, "--reference-date", "2025-03-31", "--previous", str(previous), env=cli_env
    )
    assert done.returncode == 0, done.stderr
    # Every count of 1 to 7 is `*`: the summary's and the difference's too.
    assert "* of * people in the cohort" in done.stdout
    assert f"Since {previous}: * joined, * left, * stayed" in done.stdout


def test_run_with_pseudonyms_reads_the_key_from_the_environment(
    cli_env: dict[str, str], governed_data: tuple[Path, Path], tmp_path: Path
) -> None:
    data, definition = governed_data
    key = bytes(range(100, 132))
    out = tmp_path / "members.csv"
    args = ["run", str(definition), "--data", str(data), "--out", str(out)]
    done = caas_run(
        *args,
        "--pseudonym-key-env",
        "CAAS_TEST_KEY",
        env={**cli_env, "CAAS_TEST_KEY": key.hex()},
    )
    assert done.returncode == 0, done.stderr
    with out.open() as f:
        pseudonyms = [row["pseudonym"] for row in csv.DictReader(f)]
    assert pseudonyms == sorted(
        hmac.new(key, n.replace(" ", "").encode(), hashlib.sha256).hexdigest() for n in NHS
    )
    assert key.hex() not in done.stdout + done.stderr
    # A missing variable, or a key that is too short, is a usage error that shows no key.
    missing = caas_run(*args, "--pseudonym-key-env", "CAAS_NO_SUCH_KEY", env=cli_env)
    assert missing.returncode == 2
    assert "CAAS_NO_SUCH_KEY: the environment variable is not set" in missing.stderr
    short = caas_run(
        *args, "--pseudonym-key-env", "CAAS_TEST_KEY", env={**cli_env, "CAAS_TEST_KEY": "abcdef"}
    )
    assert short.returncode == 2
    assert "evaluation option `pseudonym_key`: the key has 3 bytes" in short.stderr
    assert "abcdef" not in short.stderr


def test_run_with_bad_or_failing_policies(
    cli_env: dict[str, str], governed_data: tuple[Path, Path], tmp_path: Path
) -> None:
    data, definition = governed_data
    args = ["run", str(definition), "--data", str(data), "--out", str(tmp_path / "m.parquet")]
    done = caas_run(*args, "--policy", "invalid_nhs_number", env=cli_env)
    assert done.returncode == 2 and "--policy takes KIND=POLICY" in done.stderr
    done = caas_run(*args, "--policy", "bogus=keep", env=cli_env)
    assert done.returncode == 2 and "unknown field `bogus`" in done.stderr
    done = caas_run(*args, "--policy", "unknown_person=fail", env=cli_env)
    assert done.returncode == 1
    assert (
        "DataQualityError: table `gp_events`, column `person_id`: 1 row(s) have a person id "
        "that is not in the person table (finding `unknown_person`, policy `fail`)"
    ) in done.stderr
