"""Type stubs of the compiled module ``caas._caas`` (the Rust bindings of caas-core).

The public API is the pure-Python package around it (``caas.Cohort``, ``caas.Engine``,
``caas.Result``); this module is its implementation detail.
"""

import datetime
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from typing import Any, Literal, TypeAlias

import pyarrow as pa

from .synth import SynthSummary

__version__: str

_Progress: TypeAlias = Callable[[str, int, int | None], bool | None] | None
_Parameters: TypeAlias = dict[str, bool | int | float | str | datetime.date] | None
_Key: TypeAlias = bytes | bytearray | str | None
_Quality: TypeAlias = Mapping[str, str] | None
_Date: TypeAlias = datetime.date | str | None
_Run: TypeAlias = tuple[Cohort, dict[str, Any] | None, _Quality, _Date, _Key]
_Spec: TypeAlias = dict[str, Any]
_Difference: TypeAlias = tuple[pa.Table, pa.Table, int]

class Cohort:
    @staticmethod
    def from_yaml(
        text: str, base_dir: PathLike[str] | None = None, limits: str | None = None
    ) -> Cohort: ...
    @staticmethod
    def from_json(
        text: str, base_dir: PathLike[str] | None = None, limits: str | None = None
    ) -> Cohort: ...
    @staticmethod
    def from_path(path: PathLike[str], limits: str | None = None) -> Cohort: ...
    @staticmethod
    def from_document(
        document: Mapping[str, Any], base_dir: PathLike[str] | None = None
    ) -> Cohort: ...
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def rule_names(self) -> list[str]: ...
    @property
    def output_columns(self) -> list[str]: ...
    def to_json(self) -> str: ...
    def to_yaml(self) -> str: ...
    def describe_json(self) -> str: ...
    def summary(self) -> str: ...
    def check_parameters(self, parameters: _Parameters = None) -> None: ...
    def notebook_html(self) -> str: ...

class Evaluation:
    def members(self) -> pa.Table: ...
    def attrition(self) -> pa.Table: ...
    def attrition_text(self) -> str: ...
    def summary(self) -> str: ...
    def shown(self, count: int) -> str: ...
    @property
    def population(self) -> int: ...
    @property
    def member_count(self) -> int: ...
    def explain(self, person: int | str, progress: _Progress = None) -> Explanation: ...
    def audit(self, progress: _Progress = None) -> pa.Table: ...
    def provenance_json(self) -> str: ...
    def saved_run_json(self) -> str: ...
    def data_quality(self) -> DataQuality: ...
    def report(self, disclosure_control: bool = False) -> tuple[str, str, str]: ...
    def notebook_html(self) -> str: ...
    def characterise(self, options: str | None = None, progress: _Progress = None) -> pa.Table: ...
    def diff(self, previous: Any) -> _Difference: ...
    def diff_path(self, path: PathLike[str]) -> _Difference: ...
    def what_if(self, changes: str) -> WhatIf: ...

class WhatIf:
    def attrition(self) -> pa.Table: ...
    def attrition_text(self) -> str: ...
    def summary(self) -> str: ...
    def shown(self, count: int) -> str: ...
    def notebook_html(self) -> str: ...
    @property
    def population(self) -> int: ...
    @property
    def member_count(self) -> int: ...

class EventRow:
    """An event row behind a variable's value."""

    def __init__(
        self, table: str, date: datetime.date, code: str, value: float | None = None
    ) -> None: ...
    @property
    def table(self) -> str:
        """The event table."""
    @property
    def date(self) -> datetime.date:
        """The event's date."""
    @property
    def code(self) -> str:
        """The code that matched."""
    @property
    def value(self) -> float | None:
        """The event's value, if the table has values."""

class PeriodRow:
    """A period row behind a ``registered`` or ``practice`` variable."""

    def __init__(
        self,
        table: str,
        start_date: datetime.date | None,
        end_date: datetime.date | None,
        practice: str | None = None,
    ) -> None: ...
    @property
    def table(self) -> str:
        """The period table."""
    @property
    def start_date(self) -> datetime.date | None:
        """First day of the period."""
    @property
    def end_date(self) -> datetime.date | None:
        """Last day of the period; ``None`` while it is open."""
    @property
    def practice(self) -> str | None:
        """The practice of the period."""

class VariableExplanation:
    """One variable: its value for the person and the rows behind it."""

    def __init__(
        self,
        name: str,
        kind: str,
        sentence: str,
        value: bool | float | datetime.date | str | None,
        selected: int | None = None,
        events: Sequence[EventRow] = (),
        periods: Sequence[PeriodRow] = (),
    ) -> None: ...
    @property
    def name(self) -> str:
        """Its name."""
    @property
    def kind(self) -> str:
        """Its kind, as in the definition (``age``, ``events``, ``derived``, ...)."""
    @property
    def sentence(self) -> str:
        """What it is, in plain English; names in backticks."""
    @property
    def value(self) -> bool | int | float | datetime.date | str | None:
        """Its value: ``None`` (unknown), a bool, an int, a float, a date or a str."""
    @property
    def selected(self) -> int | None:
        """For event, ``registered`` and ``practice`` variables, how many rows it selected."""
    @property
    def events(self) -> tuple[EventRow, ...]:
        """The event rows behind the value."""
    @property
    def periods(self) -> tuple[PeriodRow, ...]:
        """The period rows behind the value."""

class RuleOutcome:
    """One rule: the value of its condition for the person, and whether they passed."""

    def __init__(
        self,
        step: int,
        name: str,
        action: Literal["include", "exclude"],
        condition: str,
        sentence: str,
        outcome: Literal["true", "false", "unknown"],
        passed: bool,
    ) -> None: ...
    @property
    def step(self) -> int:
        """1-based position in the attrition."""
    @property
    def name(self) -> str:
        """The rule's name."""
    @property
    def action(self) -> Literal["include", "exclude"]:
        """``include`` or ``exclude``."""
    @property
    def condition(self) -> str:
        """The condition, in its canonical text."""
    @property
    def sentence(self) -> str:
        """What the rule does, in plain English."""
    @property
    def outcome(self) -> Literal["true", "false", "unknown"]:
        """The condition's value for the person."""
    @property
    def passed(self) -> bool:
        """Whether the person passed the rule."""

class Explanation:
    """Why a person is in the cohort or not: the engine's explanation."""

    @property
    def cohort(self) -> str:
        """The cohort's id."""
    @property
    def person_id(self) -> int | str:
        """The person, as the engine read the id."""
    @property
    def removed_at(self) -> int | None:
        """The step of the rule that removed the person; ``None`` for a member."""
    @property
    def removed_by(self) -> str | None:
        """The name of the rule that removed the person; ``None`` for a member."""
    @property
    def in_cohort(self) -> bool:
        """Whether the person is a member (passed every rule)."""
    @property
    def verdict(self) -> Literal["in", "out"]:
        """``in`` or ``out``."""
    @property
    def rules(self) -> tuple[RuleOutcome, ...]:
        """Each rule, in order."""
    @property
    def variables(self) -> tuple[VariableExplanation, ...]:
        """Each variable, in the definition's order."""
    def variable(self, name: str) -> VariableExplanation: ...
    def rule(self, name: str) -> RuleOutcome: ...
    def to_json(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def _repr_html_(self) -> str: ...

class Finding:
    """How many rows of a table have one kind of finding, and what was done about them."""

    @property
    def table(self) -> str:
        """The table."""
    @property
    def kind(self) -> str:
        """The kind, e.g. ``invalid_nhs_number``."""
    @property
    def column(self) -> str:
        """The column or columns checked, comma-separated."""
    @property
    def count(self) -> int:
        """Rows with the finding."""
    @property
    def policy(self) -> Literal["keep", "exclude", "fail"]:
        """The policy applied."""
    @property
    def excluded(self) -> int:
        """Rows with the finding that were removed (``count`` under ``exclude``, else 0)."""
    @property
    def description(self) -> str:
        """What a row with this finding has, e.g. ``an invalid NHS number``."""

class ArithmeticFinding:
    """How many people's values of a derived variable or a rule arithmetic left missing (a
    division by zero, a whole number out of range, a date outside the years 1 to 9999)."""

    @property
    def variable(self) -> str | None:
        """The derived variable, for a variable's finding."""
    @property
    def rule(self) -> str | None:
        """The rule's name, for a rule's finding."""
    @property
    def count(self) -> int:
        """People whose value it left missing."""
    @property
    def policy(self) -> Literal["keep", "fail"]:
        """The policy applied."""

class TableQuality:
    """The findings in one table."""

    @property
    def table(self) -> str:
        """The table's registered name."""
    @property
    def role(self) -> Literal["person", "events", "periods"]:
        """Its role."""
    @property
    def rows(self) -> int:
        """Rows read."""
    @property
    def rows_excluded(self) -> int:
        """Rows removed by ``exclude`` policies (a row with several findings counts once)."""
    @property
    def findings(self) -> tuple[Finding, ...]:
        """One entry per kind checked in this table, found or not."""

class DataQuality:
    """The data-quality findings of an evaluation: per table read, per kind checked."""

    @property
    def reference_date(self) -> datetime.date | None:
        """The day after which a date is in the future; ``None`` when nothing was checked."""
    @property
    def tables(self) -> tuple[TableQuality, ...]:
        """One entry per table read, the person table first."""
    @property
    def findings(self) -> list[Finding]:
        """The findings with at least one row, over every table."""
    @property
    def arithmetic(self) -> list[ArithmeticFinding]:
        """Per derived variable and rule with arithmetic, the people whose values it left
        missing."""
    def table(self, name: str) -> TableQuality: ...
    def count(self, table: str, kind: str) -> int | None: ...
    def total(self, kind: str) -> int: ...
    def to_arrow(self) -> pa.Table: ...
    def to_json(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def _repr_html_(self) -> str: ...

class Engine:
    def __init__(
        self,
        target_partitions: int | None = None,
        memory_limit: int | None = None,
        batch_size: int | None = None,
        max_expression_depth: int | None = None,
        max_expression_nodes: int | None = None,
        max_definition_bytes: int | None = None,
        max_variables: int | None = None,
        max_variable_depth: int | None = None,
        max_codelist_codes: int | None = None,
        max_file_bytes: int | None = None,
    ) -> None: ...
    def register_file(self, name: str, path: PathLike[str], spec: _Spec) -> None: ...
    def register_arrow(self, name: str, data: Any, spec: _Spec) -> None: ...
    def register_cohort(self, cohort: Cohort) -> None: ...
    def deregister(self, name: str) -> bool: ...
    def table_names(self) -> list[str]: ...
    def evaluate(
        self,
        cohort: Cohort,
        parameters: _Parameters = None,
        quality: _Quality = None,
        reference_date: _Date = None,
        pseudonym_key: _Key = None,
        progress: _Progress = None,
    ) -> Evaluation: ...
    def evaluate_many(
        self, runs: Sequence[_Run], progress: _Progress = None
    ) -> list[Evaluation]: ...
    def variables(self, cohort: Cohort, parameters: _Parameters = None) -> pa.Table: ...
    def plan(self, cohort: Cohort, parameters: _Parameters = None) -> str: ...
    def read_table(self, name: str) -> pa.Table: ...
    def to_sql(
        self,
        cohort: Cohort,
        parameters: _Parameters,
        dialect: str,
        tables: dict[str, str] | None = None,
        quality: _Quality = None,
        reference_date: _Date = None,
        pseudonym_key: _Key = None,
    ) -> dict[str, Any]: ...
    def evaluation_of(
        self,
        cohort: Cohort,
        parameters: _Parameters,
        quality: _Quality,
        reference_date: _Date,
        pseudonym_key: _Key,
        members: pa.Table,
        attrition: pa.Table,
        data_quality: DataQuality,
    ) -> Evaluation: ...
    @staticmethod
    def pseudonym_failure(pseudonyms: dict[str, Any], count: int) -> Exception: ...
    @staticmethod
    def sql_data_quality(
        cohort: Cohort, reference_date: str, quality: list[dict[str, Any]], rows: list[list[int]]
    ) -> DataQuality: ...
    @staticmethod
    def sql_arithmetic(
        data_quality: DataQuality, arithmetic: dict[str, Any], counts: list[int]
    ) -> DataQuality: ...

def pseudonym_parameters(key: bytes | bytearray | str) -> dict[str, str]: ...
def quote_table(dialect: str, name: str) -> str: ...
def parquet_view(dialect: str, table: str, path: PathLike[str]) -> str: ...
def saved_run_report(json: str, disclosure_control: bool) -> tuple[str, str, str]: ...
def read_tables_file(text: str, json: bool) -> list[tuple[str, str, _Spec, str | None]]: ...
def generate(
    persons: int,
    out: PathLike[str],
    codelists: PathLike[str],
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> SynthSummary: ...
def table_specs() -> list[tuple[str, str, _Spec]]: ...
def example_files() -> list[tuple[str, bytes]]: ...
def finding_kinds() -> list[tuple[str, str, str]]: ...
def error_codes() -> list[tuple[str, str]]: ...
