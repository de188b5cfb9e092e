"""Guessing the tables file of a data folder (``caas tables init``).

Each Parquet, CSV or Arrow IPC file of the folder, or folder of such files, is one table.
Only its schema is read (and, for CSV, the header and the first rows, to tell the types of
the columns and how their dates are written); from the column names and types, and the
table's name, the guess says which role the table plays (``person``, ``events`` or
``periods``), which of its columns play which part (the mapping of
:meth:`caas.Engine.register`), the code system of an event table and the format of its text
dates. What cannot be told is said, never guessed: a table without a recognisable person-id
column, an event table with two candidate date columns or with codes of an unknown system.
Such a table is written commented out, under a ``# TODO:`` line, so that the file is
usable as it is and the table is added once the question is answered.

Nothing read from the rows is kept or shown: the guess and its messages name columns only.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Column", "Guess", "Inspection", "guess_folder", "tables_yaml"]

#: File extensions the engine reads, by format.
FORMATS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".arrow": "arrow",
    ".ipc": "arrow",
    ".feather": "arrow",
}
#: Rows of a CSV file read to tell its columns' types and date formats.
SAMPLE_ROWS = 200
ISO = "%Y-%m-%d"
#: Formats tried on text dates, in order: day before month where both read every value
#: (the convention of the national data), and ``%Y%m%d`` only for columns named as dates.
DATE_FORMATS = (
    ISO,
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d-%b-%Y",
    "%d %b %Y",
)
COMPACT_DATE = "%Y%m%d"
CODE_SYSTEMS = ("snomed_ct", "dmd", "icd10", "opcs4")


def _norm(name: str) -> str:
    """A column or table name compared without case, spaces or punctuation."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _names(*names: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_norm(n) for n in names))


# Column names of each part, best first (compared by _norm).
PERSON_ID = _names(
    "person_id",
    "patient_id",
    "patid",
    "pseudo_id",
    "pseudonymised_id",
    "token_person_id",
    "subject_id",
    "encrypted_hesid",
    "hesid",
    "eid",
)
NHS_NUMBER = _names("nhs_number", "nhs_no", "nhsno", "nhs_num", "new_nhs_no", "nhs")
DATE_OF_BIRTH = _names("date_of_birth", "dob", "birth_date", "birthdate", "date_birth")
DATE_OF_DEATH = _names(
    "date_of_death", "dod", "death_date", "deathdate", "date_death", "reg_date_of_death"
)
SEX = _names("sex", "gender", "sex_code", "gender_code")
NATIONAL_OPT_OUT = _names("national_opt_out", "national_data_opt_out", "ndoo", "nat_opt_out")
TYPE1_OPT_OUT = _names("type1_opt_out", "type_1_opt_out", "t1_opt_out", "t1oo")
EVENT_DATE = _names(
    "date",
    "event_date",
    "admidate",
    "epistart",
    "apptdate",
    "arrivaldate",
    "consultation_date",
    "effective_date",
    "clinical_effective_date",
    "entry_date",
    "observation_date",
    "obs_date",
    "issue_date",
    "prescription_date",
    "prescribed_date",
    "activity_date",
    "procedure_date",
    "diagnosis_date",
    "recorded_date",
)
END_DATE = _names("end_date", "disdate", "epiend", "discharge_date", "event_end_date")
START_DATE = _names(
    "start_date",
    "registration_start",
    "registration_start_date",
    "reg_start_date",
    "registration_date",
    "date_registered",
    "registered_date",
    "period_start",
    "from_date",
)
PERIOD_END = _names(
    "end_date",
    "registration_end",
    "registration_end_date",
    "reg_end_date",
    "deregistration_date",
    "date_deregistered",
    "deregistered_date",
    "period_end",
    "to_date",
)
PRACTICE = _names("practice", "practice_code", "practice_id", "gp_practice", "ods_code", "gpprac")
VALUE = _names(
    "value", "numeric_value", "value_numeric", "result_value", "value_as_number", "result"
)
GENERIC_CODE = _names("code", "clinical_code", "event_code", "concept_code")
#: Code columns named after their system.
SYSTEM_CODE = {
    "snomed_ct": _names(
        "snomed_code",
        "snomedct_code",
        "snomed",
        "snomedct",
        "snomed_concept_id",
        "snomed_id",
        "concept_id",
        "conceptid",
    ),
    "dmd": _names("dmd_code", "dmd", "dmd_id", "vmp_code", "amp_code"),
    "icd10": _names("icd10_code", "icd10", "icd_code", "icd10code", "diag_code", "diagnosis_code"),
    "opcs4": _names("opcs4_code", "opcs_code", "opcs4", "opcs", "procedure_code", "opertn_code"),
}
#: HES-style numbered code columns (DIAG_4_01 ... DIAG_4_20, OPERTN_4_01 ...).
HES_CODES = {
    "icd10": re.compile(r"^diag_([34])_(\d{2})$", re.IGNORECASE),
    "opcs4": re.compile(r"^opertn_([34])_(\d{2})$", re.IGNORECASE),
}
#: Words in a table's name that suggest its code system, checked in this order (the more
#: particular first: `gp_medications` holds dm+d codes, `apc_procedures` OPCS-4).
NAME_HINTS = (
    ("dmd", ("medication", "prescri", "drug", "meds", "dmd")),
    ("opcs4", ("procedure", "opcs", "operation", "opertn")),
    ("icd10", ("icd", "diag", "apc", "hes", "admission", "inpatient", "episode")),
    ("snomed_ct", ("snomed", "gp", "clinical", "observation", "primarycare")),
)


@dataclass
class Column:
    """A column as the guess sees it."""

    name: str
    #: ``integer``, ``number``, ``text``, ``date``, ``datetime`` (CSV text of dates with
    #: times, which the engine does not read as dates), ``boolean``, ``list`` (of codes),
    #: ``empty`` (no value in the sampled rows of a CSV file, or of Arrow's null type) or
    #: ``other``.
    kind: str
    #: For text dates sampled from CSV: the formats that read every sampled value, best
    #: first.
    date_formats: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return _norm(self.name)


@dataclass
class Guess:
    """One table of the folder, and what was guessed about it."""

    #: The table's name in the tables file.
    name: str
    #: Its file or folder.
    source: Path
    #: ``person``, ``events`` or ``periods``; ``None`` when no role could be told.
    role: str | None = None
    code_system: str | None = None
    #: Why the code system was chosen (``column DIAG_4_01``, ``table name``).
    code_system_from: str | None = None
    mapping: dict[str, Any] = field(default_factory=dict)
    date_format: str | dict[str, str] | None = None
    #: What could not be told and keeps the table out of the file until answered.
    todo: list[str] = field(default_factory=list)
    #: What could not be told but leaves the table usable.
    notes: list[str] = field(default_factory=list)
    #: Column names of the table (for the messages).
    columns: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.role is not None and not self.todo

    def spec(self) -> dict[str, Any]:
        """The table's entry of a tables file (without its path)."""
        entry: dict[str, Any] = {"role": self.role}
        if self.code_system is not None:
            entry["code_system"] = self.code_system
        if self.mapping:
            entry["mapping"] = dict(self.mapping)
        if self.date_format is not None:
            entry["date_format"] = self.date_format
        return entry


@dataclass
class Inspection:
    """What ``caas tables init`` found in a folder."""

    folder: Path
    tables: list[Guess]
    #: Entries of the folder that are not tables, with the reason.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: What could not be told about the folder as a whole (no person table, ...).
    notes: list[str] = field(default_factory=list)


# Reading the columns ------------------------------------------------------------------


def _data_files(folder: Path) -> list[Path]:
    """The files of a folder that the engine would read, in the engine's order."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in FORMATS and not p.name.startswith((".", "_"))
    )


def _arrow_kind(data_type: Any) -> str:
    import pyarrow as pa

    t = data_type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_string_view(t):
        return "text"
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return "date"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_null(t):
        return "empty"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = _arrow_kind(t.value_type)
        return "list" if inner in ("text", "integer") else "other"
    return "other"


def _is_string_view(t: Any) -> bool:
    import pyarrow as pa

    check = getattr(pa.types, "is_string_view", None)
    return bool(check(t)) if check is not None else False


def _arrow_columns(path: Path, kind: str) -> list[Column]:
    import pyarrow as pa

    if kind == "parquet":
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
    else:
        with pa.memory_map(str(path)) as source:
            schema = pa.ipc.open_file(source).schema
    return [Column(f.name, _arrow_kind(f.type)) for f in schema]


def _parses(values: Sequence[str], fmt: str) -> bool:
    try:
        for v in values:
            _dt.datetime.strptime(v, fmt)
    except ValueError:
        return False
    return True


def _is_iso_timestamp(values: Sequence[str]) -> bool:
    try:
        for v in values:
            if len(v) <= 10:
                return False
            _dt.datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


def _named_like_a_date(name: str) -> bool:
    key = _norm(name)
    return (
        "date" in key
        or key in DATE_OF_BIRTH + DATE_OF_DEATH + EVENT_DATE + END_DATE + START_DATE + PERIOD_END
    )


def _text_column(name: str, values: Sequence[str]) -> Column:
    """A CSV column's kind from its sampled values (empty fields are missing values)."""
    present = [v.strip() for v in values if v.strip()]
    if not present:
        return Column(name, "empty")
    if all(re.fullmatch(r"[+-]?\d+", v) for v in present):
        # Eight digits may be a compact date in a column named as one.
        if _named_like_a_date(name) and _parses(present, COMPACT_DATE):
            return Column(name, "date", (COMPACT_DATE,))
        return Column(name, "integer")
    try:
        for v in present:
            float(v)
        return Column(name, "number")
    except ValueError:
        pass
    if all(v.lower() in ("true", "false") for v in present):
        return Column(name, "boolean")
    fits = tuple(fmt for fmt in DATE_FORMATS if _parses(present, fmt))
    if fits:
        return Column(name, "date", fits)
    if _is_iso_timestamp(present):
        return Column(name, "datetime")
    return Column(name, "text")


def _csv_columns(path: Path) -> list[Column]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return []
        rows: list[list[str]] = []
        for row in reader:
            rows.append(row)
            if len(rows) >= SAMPLE_ROWS:
                break
    columns = []
    for i, name in enumerate(header):
        values = [row[i] for row in rows if i < len(row)]
        columns.append(_text_column(name, values))
    return columns


def read_columns(source: Path) -> tuple[str, list[Column]]:
    """The format (``parquet``, ``csv``, ``arrow``) and the columns of a file, or of the
    first file of a folder (as the engine reads a folder)."""
    first = _data_files(source)[0] if source.is_dir() else source
    kind = FORMATS[first.suffix.lower()]
    columns = _csv_columns(first) if kind == "csv" else _arrow_columns(first, kind)
    return kind, columns


# Guessing ------------------------------------------------------------------------------


def _find(columns: Iterable[Column], names: Sequence[str]) -> list[Column]:
    """The columns with one of ``names``, in the order of ``names``."""
    by_key: dict[str, Column] = {}
    for c in columns:
        by_key.setdefault(c.key, c)
    return [by_key[n] for n in dict.fromkeys(names) if n in by_key]


def _listed(columns: Iterable[Column]) -> str:
    return ", ".join(f"`{c.name}`" for c in columns)


def _code_system_of_name(name: str) -> str | None:
    key = _norm(name)
    for system, words in NAME_HINTS:
        if any(w in key for w in words):
            return system
    return None


@dataclass
class _Table:
    """A table being guessed: its columns and which of them are taken."""

    guess: Guess
    columns: list[Column]
    csv: bool
    taken: set[str] = field(default_factory=set)

    def free(self) -> list[Column]:
        return [c for c in self.columns if c.name not in self.taken]

    def canonical(self, part: str) -> Column | None:
        """The column with the part's own name, which the engine takes without a mapping."""
        return next((c for c in self.columns if c.name == part), None)

    def take(self, part: str, column: Column) -> None:
        self.taken.add(column.name)
        if column.name != part:
            self.guess.mapping[part] = column.name

    def pick(
        self, part: str, names: Sequence[str], kinds: Sequence[str], *, required: bool = False
    ) -> Column | None:
        """Chooses the column of ``part`` among those named like it: the one with the
        part's own name, else the only candidate. Two candidates, or a column of a kind the
        part cannot be, are said in the guess: a blocking TODO for a required part or a
        column of the part's own name (the engine would read it), a note otherwise."""
        what = PART_LABELS[part]
        own = self.canonical(part)
        if own is not None and own.name not in self.taken:
            if own.kind not in kinds and own.kind != "empty":
                self.guess.todo.append(
                    f"column `{own.name}` holds {_kind_text(own.kind)}, but caas reads a "
                    f"column of that name as the {what}; rename it or give the table "
                    "another role"
                )
            self.take(part, own)
            return own
        candidates = [c for c in _find(self.free(), names) if c.kind in (*kinds, "empty")]
        wrong = [c for c in _find(self.free(), names) if c not in candidates]
        if len(candidates) > 1:
            message = (
                f"{what}: {len(candidates)} candidate columns ({_listed(candidates)}); "
                f"map one as `{part}`"
            )
            (self.guess.todo if required else self.guess.notes).append(message)
            return None
        if candidates:
            self.take(part, candidates[0])
            return candidates[0]
        if wrong:
            (self.guess.todo if required else self.guess.notes).append(
                f"{what}: column {_listed(wrong[:1])} holds {_kind_text(wrong[0].kind)}, "
                "which caas cannot read as it; not mapped"
            )
        elif required:
            self.guess.todo.append(f"no recognisable {what} column; map one as `{part}`")
        return None


def _kind_text(kind: str) -> str:
    return {
        "integer": "whole numbers",
        "number": "numbers",
        "text": "text",
        "date": "dates",
        "boolean": "true/false values",
        "list": "lists",
        "datetime": "dates with times of day",
        "empty": "no values",
    }.get(kind, "values of another type")


#: What each part is, in messages.
PART_LABELS = {
    "date_of_birth": "date of birth",
    "date_of_death": "date of death",
    "sex": "sex",
    "national_opt_out": "national data opt-out",
    "type1_opt_out": "type 1 opt-out",
    "date": "event date",
    "end_date": "end date",
    "value": "event value",
    "start_date": "start date",
    "practice": "practice",
}

#: Kinds of an id column (``empty``: a CSV file's header without rows).
ID_KINDS = ("integer", "text", "empty")
DATE_KINDS = ("date", "text")


def _person_id(table: _Table, prefer_nhs: bool) -> Column | None:
    """The person-id column: ``person_id``, else a column named like a person id, else
    one named like an NHS number (or that first, when the person table's ids are NHS
    numbers)."""
    own = table.canonical("person_id")
    ids = [c for c in _find(table.columns, PERSON_ID) if c.kind in ID_KINDS]
    nhs = [c for c in _find(table.columns, NHS_NUMBER) if c.kind in ID_KINDS]
    if prefer_nhs and len(nhs) == 1:
        table.take("person_id", nhs[0])
        return nhs[0]
    if own is not None and own.kind in ID_KINDS:
        table.take("person_id", own)
        return own
    order = [ids, nhs]
    for found in order:
        if len(found) == 1:
            table.take("person_id", found[0])
            return found[0]
        if len(found) > 1:
            table.guess.todo.append(
                f"person id: {len(found)} candidate columns ({_listed(found)}); "
                "map one as `person_id`"
            )
            return None
    table.guess.todo.append(
        "no recognisable person-id column (such as `person_id`, `patient_id` or "
        "`nhs_number`); map one as `person_id`"
    )
    return None


def _role(table: _Table) -> str | None:
    cols = table.columns
    if _code_columns(cols):
        return "events"
    if _find(cols, DATE_OF_BIRTH + DATE_OF_DEATH):
        return "person"
    if _find(cols, START_DATE):
        return "periods"
    if _find(cols, SEX + NATIONAL_OPT_OUT + TYPE1_OPT_OUT):
        return "person"
    return None


def _code_columns(columns: Sequence[Column]) -> dict[str, list[Column]]:
    """Candidate code columns by system (``None`` for a generic name): HES numbered
    columns, columns named after a system, and generic code columns."""
    found: dict[str, list[Column]] = {}
    for system, pattern in HES_CODES.items():
        numbered = [(pattern.match(c.name), c) for c in columns]
        by_width: dict[str, list[tuple[str, Column]]] = {}
        for m, c in numbered:
            if m:
                by_width.setdefault(m.group(1), []).append((m.group(2), c))
        if by_width:
            # The four-character codes where both are present.
            width = "4" if "4" in by_width else "3"
            found[f"hes:{system}"] = [c for _, c in sorted(by_width[width])]
    for system, names in SYSTEM_CODE.items():
        named = _find(columns, names)
        if named:
            found[system] = named
    generic = _find(columns, GENERIC_CODE)
    if generic:
        found["generic"] = generic
    return found


def _text_kinds(table: _Table) -> tuple[str, ...]:
    """The kinds of column a text part can be: text, or anything in CSV (whose columns
    the engine reads as the type their part needs)."""
    return ("text", "integer", "number", "boolean") if table.csv else ("text",)


def _person_table(table: _Table) -> None:
    t, g = table, table.guess
    t.pick("date_of_birth", DATE_OF_BIRTH, DATE_KINDS)
    t.pick("date_of_death", DATE_OF_DEATH, DATE_KINDS)
    t.pick("sex", SEX, _text_kinds(t))
    nhs = [c for c in _find(t.columns, NHS_NUMBER) if c.kind in ID_KINDS]
    if t.canonical("nhs_number") is None:
        if len(nhs) == 1:
            # The id may be the NHS number itself: both parts name the column.
            g.mapping["nhs_number"] = nhs[0].name
            t.taken.add(nhs[0].name)
        elif len(nhs) > 1:
            g.notes.append(
                f"NHS number: {len(nhs)} candidate columns ({_listed(nhs)}); map one as "
                "`nhs_number`"
            )
        else:
            person_id = g.mapping.get("person_id", "person_id")
            g.notes.append(
                "no NHS number column: NHS numbers are not checked and pseudonyms are made "
                f"from the person id; if `{person_id}` holds NHS numbers, add "
                f"`nhs_number: {person_id}` to the mapping"
            )
    t.pick("national_opt_out", NATIONAL_OPT_OUT, ("boolean",))
    t.pick("type1_opt_out", TYPE1_OPT_OUT, ("boolean",))


def _event_table(table: _Table) -> list[Guess]:
    """The event table's date, value and codes; a table with HES diagnosis and procedure
    columns gives two tables (the second named ``<name>_procedures``)."""
    t, g = table, table.guess
    _event_date(t)
    t.pick("end_date", END_DATE, DATE_KINDS)
    t.pick("value", VALUE, ("integer", "number"))
    codes = _code_columns(t.free())
    hes = [s for s in ("hes:icd10", "hes:opcs4") if s in codes]
    if hes:
        tables = []
        for i, key in enumerate(hes):
            one = g if i == 0 else _copy(g, f"{g.name}_procedures")
            one.code_system = key.split(":")[1]
            one.code_system_from = f"column `{codes[key][0].name}`"
            one.mapping["codes"] = [c.name for c in codes[key]]
            _check_code_types(t, one, codes[key])
            tables.append(one)
        return tables
    single: list[tuple[str | None, Column]] = []
    if t.canonical("code") is not None:
        own = t.canonical("code")
        assert own is not None
        single = [(None, own)]
    else:
        for named in CODE_SYSTEMS:
            single += [(named, c) for c in codes.get(named, [])]
        if not single:
            single = [(None, c) for c in codes.get("generic", [])]
    if not single:
        g.todo.append("no recognisable code column; map one as `code`")
        return [g]
    if len(single) > 1:
        g.todo.append(
            f"codes: {len(single)} candidate columns ({_listed(c for _, c in single)}); "
            "map one as `code` (and give its `code_system`)"
        )
        return [g]
    system, column = single[0]
    t.take("code", column)
    if column.kind not in ("integer", "text", "empty", "list"):
        g.todo.append(
            f"column `{column.name}` holds {_kind_text(column.kind)}, not codes; map the "
            "code column as `code`"
        )
    if system is not None:
        g.code_system, g.code_system_from = system, f"column `{column.name}`"
    else:
        hinted = _code_system_of_name(g.name)
        if hinted is None:
            g.todo.append(
                f"code system: neither the column `{column.name}` nor the table's name says "
                f"it; give `code_system` ({', '.join(CODE_SYSTEMS)})"
            )
        else:
            g.code_system, g.code_system_from = hinted, "the table's name"
    _check_code_types(t, g, [column])
    return [g]


def _check_code_types(table: _Table, guess: Guess, columns: Sequence[Column]) -> None:
    if table.csv or guess.code_system not in ("icd10", "opcs4"):
        return
    numeric = [c for c in columns if c.kind == "integer"]
    if numeric:
        guess.todo.append(
            f"{guess.code_system} codes are text, but {_listed(numeric[:1])} holds whole "
            "numbers: check the code system"
        )


def _copy(guess: Guess, name: str) -> Guess:
    mapping = {k: v for k, v in guess.mapping.items() if k != "codes"}
    return Guess(
        name=name,
        source=guess.source,
        role=guess.role,
        mapping=mapping,
        date_format=guess.date_format,
        todo=list(guess.todo),
        notes=list(guess.notes),
        columns=list(guess.columns),
    )


def _event_date(table: _Table) -> None:
    """The event date: the column named like one, else the only date column left."""
    t = table
    if t.canonical("date") is not None:
        t.pick("date", EVENT_DATE, DATE_KINDS, required=True)
        return
    named = [c for c in _find(t.free(), EVENT_DATE) if c.kind in (*DATE_KINDS, "empty")]
    if not named:
        ends = {c.name for c in _find(t.columns, END_DATE + DATE_OF_BIRTH + DATE_OF_DEATH)}
        named = [c for c in t.free() if c.kind == "date" and c.name not in ends]
    if len(named) == 1:
        t.take("date", named[0])
    elif named:
        t.guess.todo.append(
            f"event date: {len(named)} candidate columns ({_listed(named)}); map one as `date`"
        )
    else:
        wrong = _find(t.free(), EVENT_DATE)
        t.guess.todo.append(
            f"event date: column {_listed(wrong[:1])} holds {_kind_text(wrong[0].kind)}, "
            "which caas cannot read as it; map a date column as `date`"
            if wrong
            else "no recognisable event date column; map one as `date`"
        )


def _period_table(table: _Table) -> None:
    t = table
    t.pick("start_date", START_DATE, DATE_KINDS, required=True)
    t.pick("end_date", PERIOD_END, DATE_KINDS)
    t.pick("practice", PRACTICE, _text_kinds(t))


DATE_PARTS = ("date_of_birth", "date_of_death", "date", "start_date", "end_date")


def _date_format(table: _Table, guess: Guess) -> None:
    """The ``date_format`` of a CSV table's date columns from their sampled values: one
    format for all where they agree, else one per column."""
    if not table.csv:
        for part in DATE_PARTS:
            column = guess.mapping.get(part) or (part if table.canonical(part) else None)
            found = next((c for c in table.columns if c.name == column), None)
            if found is not None and found.kind == "text":
                guess.notes.append(
                    f"column `{found.name}` holds dates as text: read as YYYY-MM-DD; if they "
                    "are written otherwise, give `date_format`"
                )
        return
    columns = []
    for part in DATE_PARTS:
        name = guess.mapping.get(part) or (part if table.canonical(part) else None)
        found = next((c for c in table.columns if c.name == name), None)
        if found is not None:
            columns.append((part, found))
    # (A column of another kind than text was reported when it was chosen.)
    unreadable = [(p, c) for p, c in columns if c.kind == "text"]
    for part, column in unreadable:
        message = (
            f"column `{column.name}` ({PART_LABELS[part]}) holds values that are not dates in "
            "any format tried; give its `date_format`"
        )
        (guess.todo if part in ("date", "start_date") else guess.notes).append(message)
    dated = [c for _, c in columns if c.date_formats]
    if not dated:
        return
    # One format for the table where one reads every column's sampled dates (a column
    # whose dates are all ambiguous, 01/02/2024, takes the others' order).
    shared = [f for f in dated[0].date_formats if all(f in c.date_formats for c in dated)]
    if shared:
        _ambiguous(guess, shared, "its date columns")
        if shared[0] != ISO:
            guess.date_format = shared[0]
        return
    formats = {}
    for column in dated:
        _ambiguous(guess, list(column.date_formats), f"column `{column.name}`")
        if column.date_formats[0] != ISO:
            formats[column.name] = column.date_formats[0]
    guess.date_format = formats or None
    for _, column in columns:
        if column.kind == "empty":
            guess.notes.append(
                f"column `{column.name}` has no values in the first rows: read as YYYY-MM-DD "
                "dates; if it is written otherwise, give its `date_format`"
            )


def _ambiguous(guess: Guess, formats: Sequence[str], what: str) -> None:
    if formats[0] == "%d/%m/%Y" and "%m/%d/%Y" in formats:
        guess.notes.append(
            f"the dates of {what} read both day-first and month-first in the first rows; "
            "day-first (%d/%m/%Y) assumed"
        )


def _table_name(source: Path) -> str:
    stem = source.name if source.is_dir() else source.stem
    name = re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_")
    return name or "table"


def _guess_table(
    name: str, source: Path, kind: str, columns: list[Column], prefer_nhs: bool
) -> list[Guess]:
    guess = Guess(name=name, source=source, columns=[c.name for c in columns])
    table = _Table(guess, columns, csv=kind == "csv")
    if not columns:
        guess.todo.append("no columns (an empty file?)")
        return [guess]
    _person_id(table, prefer_nhs)
    guess.role = _role(table)
    if guess.role is None:
        guess.todo.append(
            "no role: no code, date of birth, sex or period start column recognised; give "
            "its `role` (person, events or periods) and `mapping`"
        )
        return [guess]
    if guess.role == "person":
        _person_table(table)
        guessed = [guess]
    elif guess.role == "periods":
        _period_table(table)
        guessed = [guess]
    else:
        guessed = _event_table(table)
    for g in guessed:
        _date_format(table, g)
    return guessed


def guess_folder(folder: Path, ignore: Iterable[Path] = ()) -> Inspection:
    """Guesses the tables of ``folder``: one per data file or folder of data files in it
    (``ignore`` leaves some out, such as the tables file being written)."""
    ignored = {p.resolve() for p in ignore}
    sources: list[tuple[Path, str, list[Column]]] = []
    skipped: list[tuple[str, str]] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")) or entry.resolve() in ignored:
            continue
        if entry.is_dir():
            if not _data_files(entry):
                skipped.append((entry.name + "/", "no Parquet, CSV or Arrow files in it"))
                continue
        elif entry.suffix.lower() not in FORMATS:
            if entry.name not in ("tables.yaml", "tables.yml", "tables.json"):
                skipped.append((entry.name, "not a Parquet, CSV or Arrow file"))
            continue
        try:
            kind, columns = read_columns(entry)
        except (OSError, ValueError, UnicodeDecodeError, csv.Error) as err:
            # pyarrow's errors derive from these; the message names the file, not values.
            skipped.append((entry.name, f"cannot read its columns ({type(err).__name__})"))
            continue
        sources.append((entry, kind, columns))

    def guess_all(prefer_nhs: bool) -> list[Guess]:
        names: set[str] = set()
        guesses: list[Guess] = []
        for source, kind, columns in sources:
            name = _table_name(source)
            while name in names:
                name += "_2"
            for g in _guess_table(name, source, kind, columns, prefer_nhs):
                names.add(g.name)
                guesses.append(g)
        return guesses

    guesses = guess_all(prefer_nhs=False)
    persons = [g for g in guesses if g.role == "person" and g.usable]
    # When the person table is keyed by NHS number, so are the others, where they can be
    # (the person table's own choice is the same either way).
    if len(persons) == 1:
        id_column = persons[0].mapping.get("person_id", "person_id")
        if _norm(id_column) in NHS_NUMBER:
            guesses = guess_all(prefer_nhs=True)
    inspection = Inspection(folder, guesses, skipped)
    persons = [g for g in guesses if g.role == "person"]
    if len(persons) > 1:
        names = ", ".join(f"`{g.name}`" for g in persons)
        for g in persons:
            g.todo.append(
                f"{len(persons)} tables look like person tables ({names}); an evaluation "
                "reads one: keep one as `person`"
            )
    elif not persons:
        inspection.notes.append(
            "no person table recognised (a table with a date of birth, sex or date of death "
            "column): every evaluation needs one"
        )
    return inspection


# Writing -------------------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _scalar(value: Any) -> str:
    """A YAML scalar: plain where that is unambiguous, else JSON's double-quoted string
    (which YAML reads as the same string)."""
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def _entry_lines(guess: Guess, path: str) -> list[str]:
    lines = [f"{_scalar(guess.name)}:", f"  path: {_scalar(path)}", f"  role: {guess.role}"]
    if guess.code_system is not None:
        line = f"  code_system: {guess.code_system}"
        if guess.code_system_from == "the table's name":
            line += "  # from the table's name: check it"
        lines.append(line)
    if guess.mapping:
        lines.append("  mapping:")
        for part, column in guess.mapping.items():
            if isinstance(column, list):
                items = ", ".join(_scalar(c) for c in column)
                wrapped = textwrap.wrap(
                    f"    {part}: [{items}]", width=88, subsequent_indent="      "
                )
                lines += wrapped
            else:
                lines.append(f"    {part}: {_scalar(column)}")
    if isinstance(guess.date_format, dict):
        lines.append("  date_format:")
        for column, fmt in guess.date_format.items():
            lines.append(f"    {_scalar(column)}: {_scalar(fmt)}")
    elif guess.date_format is not None:
        lines.append(f"  date_format: {_scalar(guess.date_format)}")
    return lines


def _comment(text: str, indent: str = "") -> list[str]:
    """A ``# TODO:`` comment, wrapped."""
    return textwrap.wrap(
        text,
        width=88,
        initial_indent=f"{indent}# TODO: ",
        subsequent_indent=f"{indent}#   ",
        break_on_hyphens=False,
    )


def _relative(source: Path, base: Path) -> str:
    path = Path(os.path.relpath(source.resolve(), base.resolve())).as_posix()
    return path + "/" if source.is_dir() else path


def tables_yaml(inspection: Inspection, out: Path) -> str:
    """The tables file of the guess, to be written at ``out`` (its paths are relative to
    ``out``'s folder). Tables with something to answer are commented out under their
    ``# TODO:`` lines; notes are comments above their table."""
    lines = [
        "# Written by `caas tables init` from the column names and types of the files in",
        "# this folder: check each guess before use. A `# TODO:` says what could not be",
        "# guessed; a table under one is commented out until it is answered.",
    ]
    for note in inspection.notes:
        lines += _comment(note)
    for name, reason in inspection.skipped:
        lines.append(f"# Skipped {name}: {reason}.")
    usable = [g for g in inspection.tables if g.usable]
    lines.append("tables:" if usable else "tables: {}")
    for i, guess in enumerate(inspection.tables):
        if i:
            lines.append("")
        path = _relative(guess.source, out.parent)
        for text in guess.todo + guess.notes:
            lines += _comment(f"{guess.name}: {text}", "  ")
        if guess.usable:
            lines += ["  " + line for line in _entry_lines(guess, path)]
            continue
        if guess.role is None:
            known = ", ".join(guess.columns)
            lines.append(f"  # {_scalar(guess.name)}: {{ path: {_scalar(path)}, role: ? }}")
            lines.append(f"  #   columns: {known}")
        else:
            lines += ["  # " + line for line in _entry_lines(guess, path)]
    return "\n".join(lines) + "\n"
