"""`caas tables init`: a data folder's tables file guessed from its files' columns."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

import caas
from conftest import EXAMPLE_DATA, FLU, QUICKSTART, caas_command


def caas_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        caas_command() + list(args),
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_tables_init_on_a_synthetic_population_gives_its_registration(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "population"
    done = caas_run("synth", "--persons", "300", "--out", str(data), "--seed", "5", env=cli_env)
    assert done.returncode == 0, done.stderr
    done = caas_run("tables", "init", str(data), env=cli_env)
    assert done.returncode == 0, done.stderr
    written = read_yaml(data / "tables.yaml")["tables"]
    # The synthetic registration, but for the NHS numbers (the schema does not say that the
    # person ids are NHS numbers).
    expected = {}
    for name, folder, spec in caas.synth.table_specs():
        mapping = {k: v for k, v in spec["mapping"].items() if k != "nhs_number"}
        expected[name] = {"path": folder + "/", **spec, "mapping": mapping}
        if not mapping:
            del expected[name]["mapping"]
    assert written == expected
    assert written["apc_procedures"]["mapping"] == {
        "date": "admidate",
        "end_date": "disdate",
        "codes": [f"OPERTN_4_{i:02}" for i in range(1, 13)],
    }
    # What it could not tell is said: whether the person ids are NHS numbers, and that two
    # code systems come from the tables' names.
    assert "persons: no NHS number column" in done.stdout
    assert done.stdout.count("the code system comes from the table's name") == 2
    assert f"Written to {data / 'tables.yaml'}: 6 table(s)\n" in done.stdout
    # `caas run` reads the file as it is (it is preferred to the synthetic registration),
    # with the members of the synthetic registration.
    out = tmp_path / "flu.parquet"
    done = caas_run(
        "run", str(FLU / "flu.yaml"), "--data", str(data), "--out", str(out), env=cli_env
    )
    assert done.returncode == 0, done.stderr
    engine = caas.Engine()
    engine.register_synthetic(data)
    expected = engine.evaluate(caas.Cohort.from_path(FLU / "flu.yaml"))
    members = pq.read_table(out)
    assert members.num_rows > 0
    assert members.equals(expected.members)


def uk_date(iso: str) -> str:
    if not iso:
        return iso
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def renamed_csv_folder(folder: Path) -> Path:
    """The quickstart's CSV files with other column names and dates written 01/06/1950."""
    folder.mkdir()
    renames = {
        "persons.csv": {"person_id": "nhs_no", "date_of_birth": "dob", "date_of_death": "dod"},
        "gp_events.csv": {"person_id": "nhs_no", "date": "event_date", "code": "snomed_code"},
    }
    for name, renamed in renames.items():
        with (EXAMPLE_DATA / name).open() as f:
            rows = list(csv.DictReader(f))
        with (folder / name).open("w", newline="") as f:
            columns = [renamed.get(c, c) for c in rows[0]]
            writer = csv.writer(f)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(
                    uk_date(v) if "date" in c or c in ("dob", "dod") else v
                    for c, v in zip(columns, row.values())
                )
    return folder


def test_tables_init_maps_renamed_columns_and_uk_dates(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    data = renamed_csv_folder(tmp_path / "extract")
    done = caas_run("tables", "init", str(data), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert read_yaml(data / "tables.yaml")["tables"] == {
        "gp_events": {
            "path": "gp_events.csv",
            "role": "events",
            "code_system": "snomed_ct",
            "mapping": {"person_id": "nhs_no", "date": "event_date", "code": "snomed_code"},
            "date_format": "%d/%m/%Y",
        },
        "persons": {
            "path": "persons.csv",
            "role": "person",
            "mapping": {
                "person_id": "nhs_no",
                "date_of_birth": "dob",
                "date_of_death": "dod",
                "nhs_number": "nhs_no",
            },
            "date_format": "%d/%m/%Y",
        },
    }
    assert "Not guessed" not in done.stdout
    # Column names only: no value of the data is printed or written.
    text = done.stdout + (data / "tables.yaml").read_text()
    for value in ("01/06/1950", "195967001", "44054006", "41.5"):
        assert value not in text
    # The quickstart gives the same members as over the original files.
    out = tmp_path / "members.csv"
    done = caas_run("run", str(QUICKSTART), "--data", str(data), "--out", str(out), env=cli_env)
    assert done.returncode == 0, done.stderr
    engine = caas.Engine()
    engine.register("persons", EXAMPLE_DATA / "persons.csv", role="person")
    engine.register(
        "gp_events", EXAMPLE_DATA / "gp_events.csv", role="events", code_system="snomed_ct"
    )
    expected = engine.evaluate(caas.Cohort.from_path(QUICKSTART)).members
    with out.open() as f:
        members = list(csv.DictReader(f))
    assert [m["person_id"] for m in members] == expected.column("person_id").to_pylist()
    assert [m["age"] for m in members] == [str(a) for a in expected.column("age").to_pylist()]


def test_tables_init_lists_what_it_could_not_guess(cli_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "extract"
    data.mkdir()
    (data / "persons.csv").write_text("patient_id,date_of_birth,gender\n1,1950-06-01,F\n")
    # No person id, and nothing that says what it holds.
    (data / "lab_notes.csv").write_text("sample_ref,comment\nA1,haemolysed\n")
    # Codes of no system that the column or the table's name tells.
    (data / "events.csv").write_text("patient_id,date,code\n1,2024-01-01,195967001\n")
    # Two candidate event dates.
    (data / "hes_apc.csv").write_text(
        "patient_id,admidate,epistart,DIAG_4_01\n1,2024-01-01,2024-01-02,J45X\n"
    )
    (data / "README.txt").write_text("Extract of 1 January 2025\n")
    done = caas_run("tables", "init", str(data), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\nNot guessed (a `# TODO:` in the file):\n")[1] == (
        "  events: code system: neither the column `code` nor the table's name says it; give "
        "`code_system` (snomed_ct, dmd, icd10, opcs4)\n"
        "  hes_apc: event date: 2 candidate columns (`admidate`, `epistart`); map one as "
        "`date`\n"
        "  lab_notes: no recognisable person-id column (such as `person_id`, `patient_id` or "
        "`nhs_number`); map one as `person_id`\n"
        "  lab_notes: no role: no code, date of birth, sex or period start column "
        "recognised; give its `role` (person, events or periods) and `mapping`\n"
        "  persons: no NHS number column: NHS numbers are not checked and pseudonyms are "
        "made from the person id; if `patient_id` holds NHS numbers, add `nhs_number: "
        "patient_id` to the mapping\n"
        "\nSkipped:\n"
        "  README.txt: not a Parquet, CSV or Arrow file\n"
        f"\nWritten to {data / 'tables.yaml'}: 1 table(s), 3 commented out until their TODO "
        "is answered\n"
    )
    assert "haemolysed" not in done.stdout and "J45X" not in done.stdout
    text = (data / "tables.yaml").read_text()
    assert "# TODO: lab_notes: no recognisable person-id column" in text
    assert "  # hes_apc:\n  #   path: hes_apc.csv\n" in text
    # The file is read as it is: the person table alone.
    assert read_yaml(data / "tables.yaml")["tables"] == {
        "persons": {
            "path": "persons.csv",
            "role": "person",
            "mapping": {"person_id": "patient_id", "sex": "gender"},
        }
    }
    older = tmp_path / "older.yaml"
    older.write_text(
        "id: older\ntitle: Older\npurpose: direct_care\nparameters: { index_date: 2025-03-31 }\n"
        "variables: { age: { kind: age, on: index_date }, sex: { kind: sex } }\n"
        "rules: [ { name: aged 65+, include: age >= 65 and sex = 'F' } ]\n"
    )
    out = tmp_path / "members.parquet"
    done = caas_run("run", str(older), "--data", str(data), "--out", str(out), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).column("person_id").to_pylist() == ["1"]


def test_tables_init_keeps_an_existing_file_and_writes_elsewhere(
    cli_env: dict[str, str], quickstart_data: Path, tmp_path: Path
) -> None:
    before = (quickstart_data / "tables.yaml").read_text()
    done = caas_run("tables", "init", str(quickstart_data), env=cli_env)
    assert done.returncode == 2
    assert done.stderr == (
        f"caas tables init: {quickstart_data / 'tables.yaml'} exists; give --force to "
        "overwrite it\n"
    )
    assert (quickstart_data / "tables.yaml").read_text() == before
    done = caas_run("tables", "init", str(quickstart_data), "--force", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert read_yaml(quickstart_data / "tables.yaml")["tables"] == {
        "gp_events": {"path": "gp_events.csv", "role": "events", "code_system": "snomed_ct"},
        "persons": {"path": "persons.csv", "role": "person"},
    }
    # Elsewhere, with paths relative to the file; `caas run --tables` reads it.
    elsewhere = tmp_path / "config" / "tables.yml"
    done = caas_run("tables", "init", str(quickstart_data), "--out", str(elsewhere), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert read_yaml(elsewhere)["tables"]["persons"]["path"] == "../data/persons.csv"
    out = tmp_path / "members.parquet"
    args = ["run", str(QUICKSTART), "--data", str(quickstart_data), "--out", str(out)]
    done = caas_run(*args, "--tables", str(elsewhere), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).num_rows == 3
    # Usage errors.
    for bad in (
        ["tables", "init", str(tmp_path / "nowhere")],
        ["tables", "init", str(quickstart_data), "--out", str(tmp_path / "tables.json")],
        ["tables", "init", str(tmp_path / "config")],
        ["tables"],
    ):
        assert caas_run(*bad, env=cli_env).returncode == 2, bad
