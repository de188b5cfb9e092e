"""The `caas` command, run as an installed console script."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import caas
from conftest import FLU, QUICKSTART, caas_command


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
    assert [int(r["person_id"]) for r in rows] == expected.column("person_id").to_pylist()
    assert [r["age_band"] for r in rows] == expected.column("age_band").to_pylist()


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
        assert cells[1:] == [row["rule"], cells[2], row["before"], row["after"], row["removed"]]
    assert pq.read_table(out).num_rows == members
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
