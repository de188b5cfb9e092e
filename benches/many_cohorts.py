#!/usr/bin/env python3
"""Many cohorts in one pass: the flu cohort and the four programmes of examples/programmes
(COVID-19 autumn, shingles, RSV older adults, pneumococcal), each evaluated alone and all
five in one `evaluate_many`, in one process with 2 threads, interleaved round by round.

It reports the median wall time of each cohort alone and of the five together, and the
ratio of together to five times one cohort (the flu cohort, the largest) and to the sum of
the five alone. A first round, not reported, counts the data quality of every table, which
the later rounds reuse. The driver (`flu_bench many`) fails if any cohort's members or
attrition together differ from its own.

    python3 benches/many_cohorts.py [--persons 1000000] [--repeat 3]

The populations are those of benches/compare_duckdb.py (target/caas-bench), generated
once.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_duckdb import DRIVER, THREADS, build_driver, log, population  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-build", action="store_true", help="use the built driver")
    args = parser.parse_args()
    if not args.no_build:
        build_driver()
    for persons in args.persons:
        data = population(persons)
        log(f"evaluating at {persons:,} people, {args.repeat} rounds")
        command = [DRIVER, "many", "--data", data, "--repeat", str(args.repeat)]
        command += ["--threads", str(THREADS)]
        out = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        alone = [statistics.median(r[i] for r in out["alone"]) for i in range(len(out["cohorts"]))]
        together = statistics.median(out["together"])
        print(f"\n{persons:,} people, medians of {args.repeat} rounds")
        print("| cohort | alone s | members |")
        print("|---|---:|---:|")
        for cohort, seconds, members in zip(out["cohorts"], alone, out["members"]):
            print(f"| {cohort} | {seconds:.3f} | {members:,} |")
        print(f"| all five, one evaluate_many | {together:.3f} | |")
        print(f"\ntogether / (5 x flu alone) = {together / (5 * alone[0]):.2f}")
        print(f"together / (sum of the five alone) = {together / sum(alone):.2f}")


if __name__ == "__main__":
    main()
