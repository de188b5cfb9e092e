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


def test_sigint_cancels_the_evaluation(population: Path, tmp_path: Path) -> None:
    script = tmp_path / "long.py"
    script.write_text(SCRIPT)
    child = subprocess.Popen(
        [sys.executable, str(script), str(population)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    # Let the child get past printing and into the loop, where nearly all of its time is
    # spent inside evaluations.
    time.sleep(0.5)
    child.send_signal(signal.SIGINT)
    # 100,000 evaluations take hours; cancelled, the child ends at once.
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    lines = out.splitlines()
    assert lines[0] == "interrupted in evaluate raw = self._raw.evaluate", out
    assert lines[1].startswith("members ") and int(lines[1].split()[1]) > 0
