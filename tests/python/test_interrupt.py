"""Ctrl-C cancels an evaluation: a subprocess evaluating over and over gets SIGINT and ends
promptly with KeyboardInterrupt raised from inside `Engine.evaluate`, and the engine stays
usable afterwards."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys, traceback
    import caas

    engine = caas.Engine()
    engine.register_synthetic(sys.argv[1])
    cohort = caas.Cohort.from_path(caas.examples.flu_definition())
    engine.evaluate(cohort)
    print("ready", flush=True)
    try:
        for _ in range(100_000):
            engine.evaluate(cohort)
        print("finished", flush=True)
    except KeyboardInterrupt:
        # Raised by the compiled module's wait for the evaluation, not between two calls.
        innermost = traceback.extract_tb(sys.exc_info()[2])[-1]
        print("interrupted in", innermost.name, innermost.line.split("(")[0], flush=True)
        # The engine is still usable after a cancelled evaluation.
        print("members", engine.evaluate(cohort).member_count, flush=True)
        sys.exit(130)
    """
)


def interrupted(script: Path, *args: str, after: float) -> tuple[int, str, str]:
    """Runs `script`, sends it SIGINT `after` seconds past its "ready" line, and returns
    its status and output."""
    child = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(after)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    return child.returncode, out, err


def test_sigint_cancels_the_evaluation(population: Path, tmp_path: Path) -> None:
    script = tmp_path / "long.py"
    script.write_text(SCRIPT)
    # After half a second the child is past printing and in the loop, where nearly all of
    # its time is spent inside evaluations; 100,000 take hours, and cancelled it ends at
    # once.
    returncode, out, err = interrupted(script, str(population), after=0.5)
    assert returncode == 130, err
    lines = out.splitlines()
    # The innermost frame is the call of the compiled module's evaluate.
    assert lines[0].startswith("interrupted in ") and lines[0].endswith("self._raw.evaluate"), out
    assert lines[1].startswith("members ") and int(lines[1].split()[1]) > 0


PLANNING = textwrap.dedent(
    """
    import time
    import pyarrow as pa
    import caas

    # The largest definition the limits allow: 1,999 derived variables in chains of 99.
    variables = {"x": {"kind": "person_column", "column": "x"}}
    for i in range(1999):
        earlier = f"v{i - 1} or " if i % 99 else ""
        variables[f"v{i}"] = {"kind": "derived", "expr": f"{earlier}x > {i}"}
    cohort = caas.Cohort.from_dict(
        {"id": "chains", "title": "Chains", "purpose": "direct_care",
         "variables": variables, "rules": [{"include": "v1998"}], "output": {"columns": []}}
    )
    engine = caas.Engine()
    engine.register("persons", pa.table({"person_id": [1, 2, 3], "x": [1, 2, 3]}), role="person")
    print("ready", flush=True)
    try:
        engine.evaluate(cohort)
        print("finished", flush=True)
    except KeyboardInterrupt:
        # No work of the cancelled evaluation goes on: over the next two seconds the
        # process uses next to no CPU time.
        before = time.process_time()
        time.sleep(2)
        print("cpu", round(time.process_time() - before, 3), flush=True)
    """
)


def test_sigint_stops_the_planning_too(tmp_path: Path) -> None:
    # Found: the call returned at Ctrl-C, but planning a large definition went on,
    # keeping a core busy for seconds.
    script = tmp_path / "planning.py"
    script.write_text(PLANNING)
    # Planning it takes seconds (the tests build the wheel with the dev profile).
    returncode, out, err = interrupted(script, after=0.3)
    assert returncode == 0, err
    word, seconds = out.split()
    assert word == "cpu", out
    assert float(seconds) < 0.5, out
