"""The ``caas`` command.

::

    caas demo [--persons N] [--seed S] [--data DIR] [--out FILE]
    caas synth --persons N --out DIR [--seed S]
    caas run DEFINITION --data DIR --out FILE [--param NAME=VALUE ...] [--tables FILE]
             [--policy KIND=POLICY ...] [--reference-date DATE] [--pseudonym-key-env NAME]
             [--memory-limit SIZE] [--report DIR] [--previous FILE]
    caas report RUN [--out DIR] [--disclosure-control]
    caas explain DEFINITION --data DIR --person ID [--format text|markdown|json]
             [--param NAME=VALUE ...] [--tables FILE] [--policy KIND=POLICY ...]
             [--reference-date DATE] [--pseudonym-key-env NAME]
    caas sql DEFINITION --dialect spark|postgres|duckdb --data DIR [--tables FILE]
             [--param NAME=VALUE ...] [--policy KIND=POLICY ...] [--views]
    caas tables init DIR [--out FILE] [--force]
    caas validate DEFINITION [--param NAME=VALUE ...]

Exit codes: 0 done; 1 the definition, the data or the evaluation is at fault (the message
says where); 2 the command line is wrong (including an unusable option value); 130
interrupted (Ctrl-C).

The pseudonym key is read from an environment variable, never from the command line, which
other users of the machine can see.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pyarrow as pa

from . import _caas, examples, synth, tables
from .cohort import Cohort
from .engine import Engine, Quality, Result, memory_size
from .errors import CaasError, InvalidArgumentError, UnknownPersonError
from .explain import Explanation
from .progress import RowsBar
from .quality import finding_kinds
from .report import Report

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

TABLES_FILES = ("tables.yaml", "tables.yml", "tables.json")
OUTPUT_FORMATS = (".parquet", ".csv", ".arrow", ".ipc", ".feather")


class UsageError(Exception):
    """A wrong command line that argparse cannot see (a bad --param, an unknown format)."""


class Elapsed:
    """Shows how long a step has been running, on one line of a terminal's stderr; stays
    silent when stderr is not a terminal (logs and pipes get the step lines only)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.live = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, seconds: float) -> None:
        if self.live and int(seconds) != self.shown:
            self.shown = int(seconds)
            sys.stderr.write(f"\r  {self.label} ... {self.shown} s")
            sys.stderr.flush()

    def done(self) -> None:
        if self.live and self.shown >= 0:
            sys.stderr.write("\r" + " " * (len(self.label) + 16) + "\r")
            sys.stderr.flush()


def _say(text: str = "") -> None:
    print(text, flush=True)


def parse_param(text: str) -> tuple[str, Any]:
    """``NAME=VALUE``: integers, decimals and ``true``/``false`` are numbers and booleans,
    anything else is text (``YYYY-MM-DD`` is a date)."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--param takes NAME=VALUE, got {text!r}")
    raw = raw.strip()
    value: Any = raw
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                continue
    return name.strip(), value


def _params(items: Sequence[str] | None) -> dict[str, Any]:
    return dict(parse_param(p) for p in items or [])


def parse_policy(text: str) -> tuple[str, str]:
    """``KIND=POLICY``, e.g. ``invalid_nhs_number=exclude``."""
    kind, sep, policy = text.partition("=")
    if not sep or not kind.strip() or not policy.strip():
        kinds = ", ".join(k.name for k in finding_kinds())
        raise UsageError(
            f"--policy takes KIND=POLICY (POLICY: keep, exclude or fail; KIND: {kinds}), "
            f"got {text!r}"
        )
    return kind.strip(), policy.strip()


def _policies(items: Sequence[str] | None) -> Quality | None:
    return cast(Quality, dict(parse_policy(p) for p in items)) if items else None


def _pseudonym_key(variable: str | None) -> str | None:
    """The key (hexadecimal text) held by the environment variable ``variable``."""
    if variable is None:
        return None
    key = os.environ.get(variable, "").strip()
    if not key:
        raise UsageError(
            f"--pseudonym-key-env {variable}: the environment variable is not set or is empty"
        )
    return key


def write_table(table: pa.Table, path: Path) -> None:
    """Writes ``table`` in the format of ``path``'s extension."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    else:
        from pyarrow import feather

        feather.write_feather(table, path, compression="uncompressed")


def _check_output(path: str) -> Path:
    out = Path(path)
    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise UsageError(
            f"--out {path}: the file's extension names its format, one of "
            + ", ".join(OUTPUT_FORMATS)
        )
    return out


def register_folder(
    engine: Engine, data: Path, tables_file: Path | None
) -> list[tuple[str, Path, str]]:
    """Registers the tables of a data folder: those its tables file lists, or those of a
    synthetic population. Returns each table's name, files and name in another engine (its
    ``table`` key, else its own name)."""
    if tables_file is None:
        found = [data / n for n in TABLES_FILES if (data / n).is_file()]
        tables_file = found[0] if found else None
    registered = []
    if tables_file is not None:
        text = tables_file.read_text(encoding="utf-8")
        try:
            entries = _caas.read_tables_file(text, tables_file.suffix.lower() == ".json")
        except CaasError as err:
            located = err.location()
            raise type(err)(f"{tables_file}: {err}", **located) from None  # type: ignore[arg-type]
        base = tables_file.parent
        for name, path, spec, table in entries:
            engine._raw.register_file(name, base / path, spec)
            registered.append((name, base / path, table or name))
        return registered
    if synth.is_population(data):
        engine.register_synthetic(data)
        return [(name, data / folder, name) for name, folder, _ in synth.table_specs()]
    raise UsageError(
        f"{data} has no tables file ({', '.join(TABLES_FILES)}) and is not a synthetic "
        "population (see `caas synth`); write a tables.yaml such as:\n"
        "  tables:\n"
        "    persons: { path: persons.parquet, role: person }\n"
        "    gp_events: { path: gp/, role: events, code_system: snomed_ct,\n"
        "                 mapping: { code: snomed_code } }"
    )


def _data_folder(args: argparse.Namespace) -> Path:
    data = Path(args.data)
    if not data.is_dir():
        raise UsageError(f"--data {data}: not a folder")
    return data


def _load(
    args: argparse.Namespace,
) -> tuple[Cohort, dict[str, Any], Engine, list[tuple[str, Path, str]]]:
    """The definition (checked with the parameters) and an engine with the data folder's
    tables: what ``run``, ``explain`` and ``sql`` start from."""
    parameters = _params(args.param)
    data = _data_folder(args)
    cohort = Cohort.from_path(args.definition)
    cohort.validate(parameters)
    engine = Engine(memory_limit=getattr(args, "memory_limit", None))
    registered = register_folder(engine, data, Path(args.tables) if args.tables else None)
    return cohort, parameters, engine, registered


def _evaluation_options(args: argparse.Namespace) -> dict[str, Any]:
    """The evaluation options of the command line: policies, reference date, pseudonym
    key."""
    return {
        "quality": _policies(args.policy),
        "reference_date": args.reference_date,
        "pseudonym_key": _pseudonym_key(args.pseudonym_key_env),
    }


def _evaluate(
    engine: Engine, cohort: Cohort, parameters: dict[str, Any], **options: Any
) -> tuple[Result, float]:
    started = time.perf_counter()
    with RowsBar(f"evaluating {cohort.id}") as bar:
        result = engine.evaluate(cohort, parameters or None, progress=bar, **options)
    return result, time.perf_counter() - started


def _summary(result: Result, seconds: float) -> None:
    _say(f"\n{result.cohort.title} — attrition")
    _say(result.attrition_text())
    _say(
        f"{result.shown(result.member_count)} of {result.shown(result.population)} people "
        f"in the cohort; evaluated in {seconds:.2f} s"
    )
    _say(f"\n{result.data_quality}")


#: The saved run that ``caas run --report`` writes and ``caas report`` reads.
SAVED_RUN = "run.json"


def write_report(result: Result, folder: Path) -> None:
    """Writes ``report.md``, ``report.html``, ``provenance.json`` and the saved run
    ``run.json`` (for ``caas report``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    report = result.report()
    report.save(folder / "report.md")
    report.save(folder / "report.html")
    (folder / "provenance.json").write_text(result.provenance_json, encoding="utf-8")
    (folder / SAVED_RUN).write_text(result.saved_run_json(), encoding="utf-8")
    _say(
        f"Report written to {folder / 'report.html'} (and report.md, provenance.json, {SAVED_RUN})"
    )


def _difference(result: Result, previous: Path, out: Path) -> None:
    """Compares the members with an earlier run's and writes who joined and who left next
    to ``out``."""
    diff = result.diff(previous)
    joined, left = result.shown(diff.joined.num_rows), result.shown(diff.left.num_rows)
    _say(f"\nSince {previous}: {joined} joined, {left} left, {result.shown(diff.stayed)} stayed")
    for name, table in (("joined", diff.joined), ("left", diff.left)):
        path = out.with_name(f"{out.stem}_{name}{out.suffix}")
        write_table(table, path)
        _say(f"  {name}: {path}")


def _generate(persons: int, out: Path, seed: int | None) -> None:
    _say(f"Generating {persons:,} synthetic people into {out} ...")
    progress = Elapsed("generating")
    summary = synth.generate(persons, out, seed=seed, progress=progress)
    progress.done()
    for table, rows in summary["rows"].items():
        _say(f"  {table:<16} {rows:>13,} rows")
    _say(f"  {summary['seconds']:.1f} s")


def cmd_demo(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else 20250901
    if args.data is not None:
        data = Path(args.data)
    else:
        data = examples._cache_root() / "demo" / f"synthetic-{args.persons}-seed{seed}"
    out = _check_output(args.out) if args.out else data / "out" / "flu_members.parquet"
    marker = data / "complete"
    if marker.exists():
        _say(f"Synthetic population: {data} (cached)")
    else:
        _generate(args.persons, data, seed)
        marker.write_text(f"persons={args.persons} seed={seed}\n")
    engine = Engine()
    engine.register_synthetic(data)
    cohort = Cohort.from_path(examples.flu_definition())
    result, seconds = _evaluate(engine, cohort, {})
    _summary(result, seconds)
    write_table(result.members, out)
    _say(f"\nMembers written to {out}")
    write_report(result, out.parent)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    _generate(args.persons, Path(args.out), args.seed)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    out = _check_output(args.out)
    previous = Path(args.previous) if args.previous else None
    if previous is not None and not previous.exists():
        raise UsageError(f"--previous {previous}: no such file or folder")
    options = _evaluation_options(args)
    cohort, parameters, engine, _ = _load(args)
    result, seconds = _evaluate(engine, cohort, parameters, **options)
    _summary(result, seconds)
    write_table(result.members, out)
    _say(f"\nMembers written to {out}")
    if previous is not None:
        _difference(result, previous, out)
    if args.report:
        write_report(result, Path(args.report))
    return 0


def _views(dialect: str, registered: list[tuple[str, Path, str]]) -> list[str]:
    """Statements that make each registered file a view of its name in the engine."""
    for _, path, _ in registered:
        if path.is_file() and path.suffix.lower() != ".parquet":
            raise UsageError(f"--views reads Parquet files only, not {path}")
    return [_caas.parquet_view(dialect, table, path.resolve()) for _, path, table in registered]


def cmd_sql(args: argparse.Namespace) -> int:
    cohort, parameters, engine, registered = _load(args)
    sql = engine.to_sql(
        cohort,
        parameters or None,
        dialect=args.dialect,
        tables={name: table for name, _, table in registered},
        quality=_policies(args.policy),
    )
    if args.views:
        sys.stdout.write("-- The tables, as views over their Parquet files.\n")
        for statement in _views(args.dialect, registered):
            sys.stdout.write(statement + ";\n")
        sys.stdout.write("\n")
    for counts in sql["quality"]:
        kinds = ", ".join(f"{c['kind']} ({c['policy']})" for c in counts["checks"])
        sys.stdout.write(
            f"-- Data quality of `{counts['table']}`: rows, rows excluded, then {kinds}.\n"
            f"{counts['query']};\n\n"
        )
    sys.stdout.write(sql["script"])
    return 0


def _number(x: float) -> str:
    """A decimal number as the engine prints one: no exponent, no trailing ``.0``."""
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    text = format(Decimal(repr(x)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _value(value: Any) -> str:
    """A variable's value as the engine's text explanation writes it."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return f'"{value}"'
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _code(text: str) -> str:
    """``text`` as a Markdown code span."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def explanation_markdown(why: Explanation) -> str:
    """The engine's explanation of one person as Markdown: the verdict, a table of the
    rules, a table of the variables, and the rows behind each value (the same content as
    the text form, laid out for a document)."""
    lines = [f"# Person {why.person_id} and cohort {_code(why.cohort)}", ""]
    if why.in_cohort:
        lines.append(f"**Verdict:** in the cohort (passed all {len(why.rules)} rules)")
    else:
        lines.append(
            f"**Verdict:** not in the cohort: removed at step {why.removed_at} by rule "
            f"{_code(str(why.removed_by))}"
        )
    lines += ["", "## Rules", ""]
    if why.rules:
        lines += ["| Step | Rule | Condition | Outcome | Passed |", "|---:|---|---|---|---|"]
        for r in why.rules:
            passed = "passed" if r.passed else "not passed"
            if why.removed_at == r.step:
                passed += ", removed here"
            condition = f"{r.action} {_code(r.condition)}"
            lines.append(
                f"| {r.step} | {_cell(r.name)} | {_cell(condition)} | {r.outcome} | {passed} |"
            )
    else:
        lines.append("None.")
    lines += ["", "## Variables", ""]
    if why.variables:
        lines += ["| Variable | Value | What it is | Rows selected |", "|---|---|---|---:|"]
        for v in why.variables:
            selected = "" if v.selected is None else str(v.selected)
            lines.append(
                f"| {_code(v.name)} | {_cell(_code(_value(v.value)))} | {_cell(v.sentence)} "
                f"| {selected} |"
            )
    else:
        lines.append("None.")
    behind = [v for v in why.variables if v.events or v.periods]
    if behind:
        lines += ["", "## Rows behind the values"]
    for v in behind:
        lines += ["", f"### {_code(v.name)}", ""]
        if v.events:
            lines += ["| Table | Date | Code | Value |", "|---|---|---|---:|"]
            for e in v.events:
                value = "" if e.value is None else _number(e.value)
                lines.append(
                    f"| {_cell(e.table)} | {e.date.isoformat()} | {_cell(e.code)} | {value} |"
                )
        if v.periods:
            if v.events:
                lines.append("")
            lines += ["| Table | From | To | Practice |", "|---|---|---|---|"]
            for p in v.periods:
                start = p.start_date.isoformat() if p.start_date else "unknown"
                end = p.end_date.isoformat() if p.end_date else "open"
                lines.append(
                    f"| {_cell(p.table)} | {start} | {end} | {_cell(p.practice or 'unknown')} |"
                )
    return "\n".join(lines) + "\n"


def cmd_explain(args: argparse.Namespace) -> int:
    person = args.person.strip()
    if not person:
        raise UsageError("--person takes a person id")
    options = _evaluation_options(args)
    cohort, parameters, engine, _ = _load(args)
    result, _ = _evaluate(engine, cohort, parameters, **options)
    try:
        with RowsBar(f"explaining in {cohort.id}") as bar:
            # As text: the engine reads it as the person table's ids are (`01` is not 1).
            why = result.explain(person, progress=bar)
    except UnknownPersonError as err:
        # The engine's message does not repeat the id, and neither does this one.
        raise UsageError(f"--person: {err}") from None
    if args.format == "json":
        sys.stdout.write(why.to_json() + "\n")
    elif args.format == "markdown":
        sys.stdout.write(explanation_markdown(why))
    else:
        sys.stdout.write(str(why))
    return 0


def _mapping_text(guess: tables.Guess) -> str:
    parts = []
    for part, column in guess.mapping.items():
        if isinstance(column, list):
            shown = column[0] if len(column) == 1 else f"{column[0]}...{column[-1]}"
            parts.append(f"{part}={shown} ({len(column)} columns)")
        else:
            parts.append(f"{part}={column}")
    if isinstance(guess.date_format, str):
        parts.append(f"dates {guess.date_format}")
    elif guess.date_format:
        parts += [f"{column} dates {fmt}" for column, fmt in guess.date_format.items()]
    return ", ".join(parts) if parts else "canonical column names"


def cmd_tables_init(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    out = Path(args.out) if args.out else folder / "tables.yaml"
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(f"--out {out}: the tables file is YAML (.yaml or .yml)")
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; give --force to overwrite it")
    inspection = tables.guess_folder(folder, ignore=[out])
    if not inspection.tables:
        raise UsageError(f"{folder} holds no Parquet, CSV or Arrow files, or folders of them")
    usable = [g for g in inspection.tables if g.usable]
    _say(f"Tables of {folder}, guessed from their column names and types:")
    for g in usable:
        path = g.source.name + ("/" if g.source.is_dir() else "")
        role = g.role if g.code_system is None else f"{g.role} ({g.code_system})"
        _say(f"  {g.name:<16} {role:<20} {path:<20} {_mapping_text(g)}")
        if g.code_system_from == "the table's name":
            _say(f"  {'':<16} the code system comes from the table's name")
    pending = [(g.name, text) for g in inspection.tables for text in g.todo + g.notes]
    pending += [("", text) for text in inspection.notes]
    if pending:
        _say("\nNot guessed (a `# TODO:` in the file):")
        for name, text in pending:
            _say(f"  {name + ': ' if name else ''}{text}")
    if inspection.skipped:
        _say("\nSkipped:")
        for name, reason in inspection.skipped:
            _say(f"  {name}: {reason}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(tables.tables_yaml(inspection, out), encoding="utf-8")
    left_out = len(inspection.tables) - len(usable)
    _say(
        f"\nWritten to {out}: {len(usable)} table(s)"
        + (f", {left_out} commented out until their TODO is answered" if left_out else "")
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    given = Path(args.saved)
    saved = given / SAVED_RUN if given.is_dir() else given
    if not saved.is_file():
        raise UsageError(f"{given}: no saved run (write one with `caas run --report DIR`)")
    out = Path(args.out) if args.out else saved.parent
    report = Report.from_saved_run(
        saved.read_text(encoding="utf-8"), disclosure_control=args.disclosure_control
    )
    out.mkdir(parents=True, exist_ok=True)
    report.save(out / "report.md")
    report.save(out / "report.html")
    report.save(out / "funnel.svg")
    _say(f"Report written to {out / 'report.html'} (and report.md, funnel.svg)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    cohort = Cohort.from_path(args.definition)
    cohort.validate(_params(args.param))
    _say(cohort.summary())
    _say(f"\n{args.definition}: valid")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    top = argparse.ArgumentParser(
        prog="caas",
        description="Cohorting as a service: find cohorts in health data and show how "
        "they were built.",
    )
    top.add_argument("--version", action="version", version=f"caas {_caas.__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="the flu cohort on a synthetic population",
        description="Generates a synthetic population (once; it is cached), evaluates the "
        "seasonal flu cohort on it, prints the attrition and the data-quality findings, and "
        "writes the members with the report (report.md, report.html, provenance.json) "
        "beside them.",
    )
    demo.add_argument("--persons", type=_positive, default=100_000, help="default 100000")
    demo.add_argument("--seed", type=int, help="the population's seed")
    demo.add_argument("--data", help="where the population is kept (default: a cache folder)")
    demo.add_argument("--out", help="the members file (.parquet, .csv, .arrow)")
    demo.set_defaults(run=cmd_demo)

    gen = commands.add_parser(
        "synth",
        help="generate a synthetic population",
        description="Writes a synthetic NHS-like population as Parquet, one folder per table.",
    )
    gen.add_argument("--persons", type=_positive, required=True)
    gen.add_argument("--out", required=True, help="the folder to write")
    gen.add_argument("--seed", type=int)
    gen.set_defaults(run=cmd_synth)

    run = commands.add_parser(
        "run",
        help="evaluate a definition over a data folder",
        description="Evaluates DEFINITION over the tables of a data folder (listed in its "
        "tables.yaml, or a synthetic population) and writes the members.",
    )
    _evaluation_arguments(run)
    run.add_argument("--out", required=True, help="the members file (.parquet, .csv, .arrow)")
    run.add_argument(
        "--report",
        metavar="DIR",
        help="write report.md, report.html, provenance.json and the saved run run.json",
    )
    run.add_argument(
        "--previous",
        metavar="FILE",
        help="an earlier run's members: print who joined and who left, and write them "
        "beside --out (NAME_joined and NAME_left)",
    )
    run.set_defaults(run=cmd_run)

    report = commands.add_parser(
        "report",
        help="render the report of a saved run again",
        description="Renders the report of a run saved by `caas run --report DIR` (its "
        f"{SAVED_RUN}, or the folder holding it) without the data: the report the run "
        "gave, or with --disclosure-control its counts suppressed and rounded for sharing.",
    )
    report.add_argument("saved", metavar="RUN", help=f"the saved run ({SAVED_RUN} or its folder)")
    report.add_argument("--out", metavar="DIR", help="where to write (default: beside RUN)")
    report.add_argument(
        "--disclosure-control",
        action="store_true",
        help="suppress and round the counts even for direct care",
    )
    report.set_defaults(run=cmd_report)

    explain = commands.add_parser(
        "explain",
        help="why one person is in a cohort or not",
        description="Evaluates DEFINITION over the tables of a data folder, as `caas run` "
        "does, and prints the engine's explanation of one person: the verdict, each rule's "
        "outcome, each variable's value and the rows behind it. A run with pseudonyms "
        "explains nobody by id.",
    )
    _evaluation_arguments(explain)
    explain.add_argument(
        "--person", required=True, metavar="ID", help="the person id, as the person table has it"
    )
    explain.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="default text"
    )
    explain.set_defaults(run=cmd_explain)

    sql = commands.add_parser(
        "sql",
        help="print a definition as SQL for Spark, PostgreSQL or DuckDB",
        description="Prints DEFINITION as SQL for another engine, over tables with the "
        "columns of the data folder's (their names there are the tables file's `table` "
        "keys, else their own): the data-quality checks, the statements that create the "
        "code tables and compute the cohort into a temporary table, the members query and "
        "the attrition query.",
    )
    sql.add_argument("definition", metavar="DEFINITION")
    sql.add_argument("--dialect", required=True, choices=("spark", "postgres", "duckdb"))
    sql.add_argument("--data", required=True, help="the data folder (for the tables' columns)")
    sql.add_argument("--tables", help="the tables file (default: DATA/tables.yaml)")
    sql.add_argument("--param", action="append", metavar="NAME=VALUE")
    sql.add_argument("--policy", action="append", metavar="KIND=POLICY")
    sql.add_argument(
        "--views",
        action="store_true",
        help="first make each table a view over its Parquet files (spark, duckdb)",
    )
    sql.set_defaults(run=cmd_sql)

    group = commands.add_parser(
        "tables",
        help="write a data folder's tables file",
        description="Commands about a data folder's tables file (tables.yaml).",
    )
    table_commands = group.add_subparsers(dest="tables_command", required=True, metavar="COMMAND")
    init = table_commands.add_parser(
        "init",
        help="guess a folder's tables.yaml from its files' columns",
        description="Reads the schemas of the Parquet, CSV and Arrow files (or folders of "
        "them) in DIR, and the first rows of CSV files, guesses each table's role, column "
        "mapping, code system and date format from the column names and types, and writes "
        "a tables.yaml that `caas run --data DIR` reads. What it cannot guess is listed, "
        "and written as `# TODO:` comments (a table with an open question is commented "
        "out). No value from the data is printed.",
    )
    init.add_argument("folder", metavar="DIR", help="the data folder")
    init.add_argument("--out", metavar="FILE", help="the file to write (default: DIR/tables.yaml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(run=cmd_tables_init, name="tables init")

    check = commands.add_parser(
        "validate",
        help="check a definition",
        description="Checks DEFINITION and prints it in plain English.",
    )
    check.add_argument("definition", metavar="DEFINITION")
    check.add_argument("--param", action="append", metavar="NAME=VALUE")
    check.set_defaults(run=cmd_validate)
    return top


def _evaluation_arguments(command: argparse.ArgumentParser) -> None:
    """The arguments of an evaluation over a data folder, shared by ``run`` and
    ``explain``."""
    command.add_argument("definition", metavar="DEFINITION")
    command.add_argument("--data", required=True, help="the data folder")
    command.add_argument("--param", action="append", metavar="NAME=VALUE")
    command.add_argument("--tables", help="the tables file (default: DATA/tables.yaml)")
    command.add_argument(
        "--policy",
        action="append",
        metavar="KIND=POLICY",
        help="what to do with rows of a data-quality finding: keep, exclude or fail "
        "(e.g. invalid_nhs_number=exclude)",
    )
    command.add_argument(
        "--reference-date",
        metavar="YYYY-MM-DD",
        help="the day after which a date is in the future (default: today)",
    )
    command.add_argument(
        "--pseudonym-key-env",
        metavar="NAME",
        help="replace person ids by pseudonyms keyed by the hexadecimal key in the "
        "environment variable NAME (never give the key on the command line)",
    )
    command.add_argument(
        "--memory-limit",
        metavar="SIZE",
        type=_memory_size,
        help="memory for the evaluation (e.g. 16G); over it, sorts and aggregates spill "
        "to disk, and a run that cannot fit even so fails (default: no limit)",
    )


def _memory_size(text: str) -> int:
    try:
        size = memory_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if not size:
        raise argparse.ArgumentTypeError("must be more than 0 bytes")
    return size


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command; returns the exit code."""
    args = parser().parse_args(argv)
    command = getattr(args, "name", args.command)
    try:
        code: int = args.run(args)
        return code
    except UsageError as err:
        print(f"caas {command}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except InvalidArgumentError as err:
        print(f"caas {command}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except CaasError as err:
        print(f"caas {command}: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as err:
        print(f"caas {command}: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"caas {command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
