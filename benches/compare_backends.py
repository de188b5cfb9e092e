#!/usr/bin/env python3
"""The flu cohort (examples/flu/flu.yaml) on every engine caas runs on, in one run: caas
in-process, and the SQL that caas generates run by DuckDB, PostgreSQL and Apache Spark
(local mode), beside the hand-tuned DuckDB query of benches/flu_duckdb.sql.

Each engine runs in a child process of its own with 2 threads (Spark `local[2]`,
PostgreSQL at most 2 parallel workers), over the same synthetic population (kept under
target/caas-bench, as compare_duckdb.py makes it); DuckDB and Spark read its Parquet files,
PostgreSQL tables loaded from them beforehand (the load is timed apart). Every engine's
members must equal the in-process ones, on every output column, or the script fails.
It prints, per engine, the median wall time of the evaluation (definition to members
written), the first run's (Spark's includes compiling its generated code), the ratio to
the hand-tuned DuckDB query, and the CPU seconds of the worker process (for PostgreSQL,
of the server's processes); for the SQL engines, also the medians of the checks
(compiling the SQL and the data-quality counts) and of the cohort after them.

    python3 benches/compare_backends.py [--persons 1000000] [--repeat 3]
        [--engines duckdb postgres spark]

The caas package is built in release mode into a virtual environment of its own,
target/caas-bench/venv, with the test suite's pinned DuckDB, PySpark and psycopg; the
PostgreSQL server is started and stopped by scripts/postgres.sh.
"""

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import compare_duckdb as base

ROOT = base.ROOT
VENV = base.DATA_ROOT / "venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "tests" / "python" / "requirements.txt"
THREADS = base.THREADS
BACKENDS = ("duckdb", "postgres", "spark")
ENGINES = ("caas", "duckdb (hand-tuned)", *(f"{b} (caas SQL)" for b in BACKENDS))


def log(message):
    base.log(message)


def setup_venv():
    """The benchmark's Python: the caas wheel in release mode and the engines' clients."""
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run(
        [PYTHON, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS], check=True
    )
    log("building the caas wheel (release)")
    wheels = base.DATA_ROOT / "wheels"
    subprocess.run(
        [VENV / "bin" / "maturin", "build", "--release", "--locked", "--interpreter",
         PYTHON, "--out", wheels, "--quiet"],
        cwd=ROOT,
        check=True,
    )
    wheel = max(wheels.glob("caas-*.whl"), key=os.path.getmtime)
    subprocess.run(
        [PYTHON, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", wheel],
        check=True,
    )


def tables():
    import caas

    return {name: {"table": name, **spec} for name, _, spec in caas.synth.table_specs()}


def folders(data):
    import caas

    return [(name, Path(data) / folder) for name, folder, _ in caas.synth.table_specs()]


def write_members(result, members, schema):
    """Writes a backend's members as Parquet with the in-process column types."""
    import pyarrow.parquet as pq

    table = result.to_arrow()
    pq.write_table(table.rename_columns(schema.names).cast(schema), members)


def worker(engine, data, members, repeat, dsn):
    """One engine's runs, in this process: prints the wall times and CPU seconds as JSON."""
    import pyarrow.parquet as pq

    import caas

    cohort = caas.Cohort.from_path(base.FLU)
    schema = pq.read_schema(members + ".caas")
    seconds, cpu, checks = [], [], []
    module = importlib.import_module(f"caas.{engine}")
    prepare = module.prepare

    def timed_prepare(*args, **kwargs):
        # Compiling the SQL and the data-quality counts, timed apart from the cohort.
        started = time.perf_counter()
        prepared = prepare(*args, **kwargs)
        checks.append(time.perf_counter() - started)
        return prepared

    module.prepare = timed_prepare
    if engine == "duckdb":
        import duckdb

        connection = duckdb.connect()
        connection.execute(f"SET threads = {THREADS}")
        for name, path in folders(data):
            connection.execute(caas._caas.parquet_view("duckdb", name, path))
        run = lambda: caas.duckdb.evaluate(connection, cohort, tables=tables())  # noqa: E731
    elif engine == "spark":
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master(f"local[{THREADS}]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "6g")
            .config("spark.sql.shuffle.partitions", str(4 * THREADS))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("OFF")
        for name, path in folders(data):
            spark.read.parquet(str(path)).createOrReplaceTempView(name)
        run = lambda: caas.spark.evaluate(spark, cohort, tables=tables())  # noqa: E731
    else:
        import psycopg

        connection = psycopg.connect(dsn, autocommit=True)
        connection.execute(f"SET max_parallel_workers_per_gather = {THREADS}")
        connection.execute("SET work_mem = '256MB'")
        run = lambda: caas.postgres.evaluate(connection, cohort, tables=tables())  # noqa: E731
    for _ in range(repeat):
        started, used = time.perf_counter(), tree_cpu(os.getpid())
        result = run()
        write_members(result, members, schema)
        seconds.append(time.perf_counter() - started)
        cpu.append(tree_cpu(os.getpid()) - used)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "checks": checks}))


def load_postgres(dsn, data):
    """Loads the population into PostgreSQL tables, through CSV files that DuckDB writes
    and COPY reads; returns the seconds it took."""
    import duckdb
    import psycopg

    started = time.perf_counter()
    con = duckdb.connect()
    with psycopg.connect(dsn, autocommit=True) as pg, tempfile.TemporaryDirectory() as tmp:
        for name, path in folders(data):
            relation = con.sql(f"SELECT * FROM read_parquet('{path}/*.parquet')")
            types = {"BIGINT": "BIGINT", "INTEGER": "INTEGER", "VARCHAR": "TEXT",
                     "DATE": "DATE", "BOOLEAN": "BOOLEAN", "DOUBLE": "DOUBLE PRECISION",
                     "FLOAT": "REAL", "SMALLINT": "SMALLINT"}
            columns = ", ".join(
                f'"{c}" {types[str(t)]}' for c, t in zip(relation.columns, relation.types)
            )
            csv = Path(tmp) / f"{name}.csv"
            relation.write_csv(str(csv))
            pg.execute(f'DROP TABLE IF EXISTS "{name}"'.encode())
            pg.execute(f'CREATE UNLOGGED TABLE "{name}" ({columns})'.encode())
            with pg.cursor() as cursor, cursor.copy(
                f'COPY "{name}" FROM STDIN (FORMAT csv, HEADER)'.encode()
            ) as copy, csv.open("rb") as f:
                while block := f.read(1 << 20):
                    copy.write(block)
            csv.unlink()
            pg.execute(f'ANALYZE "{name}"'.encode())
    return time.perf_counter() - started


def tree_cpu(root):
    """CPU seconds used so far by process `root` and every process below it, from /proc:
    the JVM of a Spark worker, the backends of the PostgreSQL server."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # After the name: state, ppid, ..., utime, stime, cutime, cstime (12th to 15th):
            # the children's times count the finished ones, such as a closed connection's
            # PostgreSQL backend.
            used = sum(int(f) for f in fields[11:15])
            stats[int(pid)] = (int(fields[1]), used / tick)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == pid]
    return total


def postmaster(pgdir):
    """The PostgreSQL server's process id (the first line of its postmaster.pid)."""
    return int((Path(pgdir) / "data" / "postmaster.pid").read_text().split()[0])


def measure(persons, repeat, engines):
    data = base.population(persons)
    rows, problems = [], []
    pgdir = tempfile.mkdtemp(prefix="caas-bench-pg-")
    dsn = subprocess.run(
        ["bash", ROOT / "scripts" / "postgres.sh", "start", pgdir],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    try:
        with tempfile.TemporaryDirectory(prefix="caas-bench-") as tmp:
            reference = Path(tmp) / "caas.parquet"
            log(f"caas: {repeat} runs over {persons:,} people")
            caas_run = base.run_caas(data, repeat, reference)
            log(f"DuckDB (hand-tuned): {repeat} runs")
            hand = base.run_duckdb(data, repeat, Path(tmp) / "hand.parquet")
            # The CPU time of their whole process per run (reading the codelists included).
            results = {
                "caas": (caas_run["seconds"], [caas_run["cpu"] / repeat], None),
                "duckdb (hand-tuned)": (hand["seconds"], [hand["cpu"] / repeat], None),
            }
            _, differ = base.compare_members(reference, Path(tmp) / "hand.parquet")
            problems += [f"hand-tuned DuckDB: {p}" for p in differ]
            load = "0"
            if "postgres" in engines:
                log("PostgreSQL: loading the population")
                load = subprocess.run(
                    [PYTHON, __file__, "--load-postgres", dsn, data],
                    check=True, capture_output=True, text=True,
                ).stdout.strip()
                log(f"PostgreSQL: loaded in {float(load):.0f} s")
            for engine in engines:
                log(f"{engine} (caas SQL): {repeat} runs")
                members = Path(tmp) / f"{engine}.parquet"
                os.link(reference, str(members) + ".caas")
                server = tree_cpu(postmaster(pgdir))
                report, _, _ = base.run_measured(
                    [PYTHON, __file__, "--worker", engine, data, members, str(repeat), dsn]
                )
                if engine == "postgres":
                    # The server's work, shared out evenly: it is not timed per run.
                    used = (tree_cpu(postmaster(pgdir)) - server) / repeat
                    report["cpu"] = [c + used for c in report["cpu"]]
                results[f"{engine} (caas SQL)"] = (
                    report["seconds"], report["cpu"], report["checks"]
                )
                _, differ = base.compare_members(reference, members)
                problems += [f"{engine}: {p}" for p in differ]
    finally:
        subprocess.run(["bash", ROOT / "scripts" / "postgres.sh", "stop", pgdir], check=False)
    hand_median = statistics.median(results["duckdb (hand-tuned)"][0])
    for engine in (e for e in ENGINES if e in results):
        seconds, cpu, checks = results[engine]
        median = statistics.median(seconds)
        # A SQL engine's run is its checks (compiling, data-quality counts), then the cohort.
        split = None
        if checks:
            cohort = statistics.median(s - c for s, c in zip(seconds, checks))
            split = (statistics.median(checks), cohort, cohort / hand_median)
        rows.append(
            (engine, median, seconds[0], median / hand_median, statistics.median(cpu), split)
        )
    return rows, problems, float(load)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--engines", nargs="+", choices=BACKENDS, default=list(BACKENDS),
        help="the engines that run caas's SQL (default: all)",
    )
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--load-postgres", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        engine, data, members, repeat, dsn = args.worker
        worker(engine, data, members, int(repeat), dsn)
        return
    if args.load_postgres:
        print(load_postgres(*args.load_postgres))
        return
    started = time.perf_counter()
    base.install_dependencies()
    base.build_driver()
    setup_venv()
    rows, problems, load = measure(args.persons, args.repeat, args.engines)
    print(f"\nflu cohort, {args.persons:,} people, {THREADS} threads, {args.repeat} runs each "
          f"(PostgreSQL load: {load:.0f} s, not counted):\n")
    print("| engine | median s | first run s | / hand-tuned DuckDB | CPU s (median) "
          "| checks s | cohort s | cohort / hand-tuned |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for engine, median, first, ratio, cpu, split in rows:
        split = " | ".join(f"{x:.2f}" for x in split) if split else " |  | "
        print(f"| {engine} | {median:.2f} | {first:.2f} | {ratio:.2f} | {cpu:.1f} | {split} |")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if problems:
        sys.exit("the engines found different members:\n" + "\n".join(problems))


if __name__ == "__main__":
    main()
