"""Concurrency stress of the Python package: threads × engines × registrations ×
cancellations, for a set time, over one synthetic population and the flu cohort.

Every thread, over and over, picks an engine and one of:

- evaluate, and compare the members with the first evaluation's (they must be the same);
- register the population's tables again (the same files: results must not change, and
  evaluations running meanwhile keep the tables they started with);
- evaluate with a progress callback that raises after its first call: the evaluation
  must end with that exception (or, if it finished first, give the same members), and the
  engine must go on working;
- explain a member.

It fails on any difference, any other exception, or a process that grows by more than
``--max-growth-mb`` from the end of the warm-up to the end. Not a test of CI: run by
``scripts/soak.sh``.

    python tests/soak/stress.py --seconds 300 --threads 8 --engines 3 --persons 20000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import caas
from caas import examples


class Cancel(Exception):
    """Raised by a progress callback to cancel an evaluation."""


def rss_mb() -> float:
    """The process's resident memory now, from /proc (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--engines", type=int, default=3)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-growth-mb", type=float, default=256)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="caas-stress-"))
    caas.synth.generate(args.persons, data, seed=args.seed)
    cohort = caas.Cohort.from_path(examples.flu_definition())
    engines = []
    for _ in range(args.engines):
        engine = caas.Engine()
        engine.register_synthetic(data)
        engines.append(engine)
    baseline = engines[0].evaluate(cohort).members.column("person_id").to_pylist()
    member = baseline[len(baseline) // 2]
    print(f"stress: {len(baseline):,} members of {args.persons:,} people", flush=True)

    operations: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def record(what: str, failure: str | None = None) -> None:
        with lock:
            operations[what] += 1
            if failure is not None:
                failures.append(f"{what}: {failure}")

    def evaluate(engine: caas.Engine) -> None:
        members = engine.evaluate(cohort).members.column("person_id").to_pylist()
        record("evaluate", None if members == baseline else "members differ")

    def register(engine: caas.Engine) -> None:
        engine.register_synthetic(data)
        record("register")

    def cancel(engine: caas.Engine) -> None:
        def progress(table: str, rows_read: int, rows_expected: int | None) -> None:
            raise Cancel

        try:
            result = engine.evaluate(cohort, progress=progress)
        except Cancel:
            record("cancel")
            return
        members = result.members.column("person_id").to_pylist()
        record("cancel (finished first)", None if members == baseline else "members differ")

    def explain(engine: caas.Engine) -> None:
        why = engine.evaluate(cohort).explain(member)
        verdict = why.to_dict()["verdict"]["verdict"]
        record("explain", None if verdict == "in" else f"verdict {verdict}")

    actions = [evaluate, evaluate, register, cancel, cancel, explain]

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline and not failures:
            action = rng.choice(actions)
            try:
                action(rng.choice(engines))
            except Exception as e:  # noqa: BLE001 - every failure is reported
                record(action.__name__, f"{type(e).__name__}: {e}")

    # Warm-up: one round of each action, so that the memory measured after it is the
    # engines' steady state.
    for action in actions:
        action(engines[0])
    before = rss_mb()
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    # Resident memory every tenth of the run: growth that levels off is the allocator's
    # arenas filling; growth that goes on is a leak.
    samples = []
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(timeout=args.seconds / 10 / len(threads))
        samples.append(f"{rss_mb():.0f}")
    elapsed = time.monotonic() - started
    after = rss_mb()

    total = sum(operations.values())
    print(
        f"stress: {total:,} operations in {elapsed:.0f} s by {args.threads} threads over "
        f"{args.engines} engines: "
        + ", ".join(f"{what} {n:,}" for what, n in sorted(operations.items()))
    )
    print(f"stress: resident memory {before:.0f} MiB after the warm-up, {after:.0f} MiB at the end")
    print(f"stress: resident memory over the run (MiB): {' '.join(samples)}")
    if after - before > args.max_growth_mb:
        failures.append(f"memory grew by {after - before:.0f} MiB")
    for failure in failures[:20]:
        print(f"stress: FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
