"""The Python examples run and print what they should; the embedded flu example is the one
in the repository."""

from __future__ import annotations

import subprocess
import sys

import caas
from conftest import FLU, ROOT


def test_quickstart_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python" / "quickstart.py")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "3 of 5 people in the cohort" in done.stdout
    assert "Person 2 and cohort `quickstart`\nVerdict: in the cohort (passed all" in done.stdout
    assert "definition SHA-256: " in done.stdout
    assert "{'person_id': 9000000017, 'age': 34, 'asthma': True}" in done.stdout


def test_the_embedded_flu_example_is_the_repositorys(tmp_path) -> None:
    folder = caas.examples.flu_folder(tmp_path / "flu")
    written = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    expected = [FLU.joinpath("flu.yaml").relative_to(FLU)] + sorted(
        p.relative_to(FLU) for p in (FLU / "codelists").glob("*.csv")
    )
    assert written == sorted(expected)
    for relative in written:
        assert (folder / relative).read_bytes() == (FLU / relative).read_bytes()
