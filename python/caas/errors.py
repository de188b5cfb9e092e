"""The exceptions caas raises.

Every error of the engine is a :class:`CaasError`; its subclass says what kind of thing is
wrong, its ``code`` says exactly what (the engine's stable error codes, e.g.
``"unknown_reference"`` or ``"missing_column"``), and its other attributes say where::

    try:
        cohort = caas.Cohort.from_yaml(text)
    except caas.DefinitionError as err:
        print(err.code, err.line, err.column, err.variable, err.rule)

Attributes that do not apply to an error are ``None``. Messages never contain values read
from patient data: they name tables, columns and types, never cells (nor the id of a person
asked about).

The engine decides the ``category`` of every code, once for Rust, C and Python
(:func:`error_codes` lists them); the category chooses the class, by who has to act::

    CaasError
    ├── DefinitionError           ``definition``: the definition or a run-time parameter
    ├── DataError                 ``data``: the tables, or data handed in after an evaluation
    │   ├── DataQualityError      rows with a finding whose policy is ``fail``
    │   ├── UnknownPersonError    a person to explain is not in the person table (a LookupError)
    │   └── InvalidInputError     unusable input, e.g. previous members (also a ValueError)
    ├── InvalidArgumentError      ``invalid_argument``: an argument of the program (a ValueError)
    │   └── InvalidOptionError    an evaluation option
    ├── EngineError               ``engine``: a failure inside the engine (DataFusion, Arrow,
    │                             memory, the report)
    └── InternalError             ``internal``: a bug in caas; please report it

A pipeline that quarantines bad extracts catches :class:`DataQualityError` and reads its
``table``, ``column_name``, ``kind`` and ``count``::

    try:
        result = engine.evaluate(cohort, quality={"invalid_nhs_number": "fail"})
    except caas.DataQualityError as err:
        print(err.table, err.column_name, err.kind, err.count)
"""

from __future__ import annotations

import functools

from . import _caas

__all__ = [
    "CaasError",
    "DataError",
    "DataQualityError",
    "DefinitionError",
    "EngineError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidInputError",
    "InvalidOptionError",
    "UnknownPersonError",
    "error_codes",
]

_LOCATION = (
    "code",
    "category",
    "line",
    "column",
    "place",
    "variable",
    "rule",
    "rule_index",
    "parameter",
    "codelist",
    "reference",
    "suggestion",
    "cycle",
    "table",
    "column_name",
    "row",
    "path",
    "kind",
    "count",
    "option",
    "input",
)


class CaasError(Exception):
    """An error of caas.

    Attributes:
        code: the kind of error, one of the engine's stable codes (the keys of
            :func:`error_codes`), e.g. ``syntax``, ``unknown_reference``,
            ``missing_column``, ``data_quality``, ``invalid_option``.
        category: the broad kind of the code, decided by the engine: ``definition``,
            ``data``, ``invalid_argument``, ``engine`` or ``internal``. It chooses the
            class of the exception.
        message: the message, as ``str(err)``.
        line: 1-based line in the definition text (syntax errors; for
            ``expression_syntax``, the line of the expression, when the definition was read
            from text and the expression found in it).
        column: 1-based column in the definition text (syntax errors), or the 1-based
            character position inside the expression (``expression_syntax``).
        place: the place in the definition, as text (e.g. ``rule 2 (`adults`)``).
        variable: the variable at fault.
        rule: the name of the rule at fault; ``rule_index`` is its 1-based position.
        parameter: the parameter at fault.
        codelist: the codelist at fault.
        reference: the name that refers to nothing (``unknown_reference``).
        suggestion: the name or keyword most likely meant (``unknown_reference``,
            ``expression_syntax``), where one is near what was written.
        cycle: the names along a cycle, the first repeated at the end.
        table: the table at fault.
        column_name: the column of ``table`` at fault (for ``data_quality``, the column or
            columns checked, comma-separated).
        row: the first row of ``table`` (1-based, in the table's order, not counting a
            header) whose text in ``column_name`` is not a date in the table's format.
        path: the file at fault.
        kind: the kind of data-quality finding (``data_quality``), e.g.
            ``invalid_nhs_number``, or ``arithmetic_error`` (with ``variable`` or ``rule``).
        count: how many rows have the finding (``data_quality``; for ``arithmetic_error``,
            how many people's values arithmetic left missing).
        option: the evaluation option at fault (``invalid_option``), e.g.
            ``pseudonym_key``, or the limit a definition is over (``limit_exceeded``), e.g.
            ``max_expression_depth``.
        input: what was given that cannot be used (``invalid_input``), e.g.
            ``previous members``.
    """

    code: str
    category: str
    message: str
    line: int | None
    column: int | None
    place: str | None
    variable: str | None
    rule: str | None
    rule_index: int | None
    parameter: str | None
    codelist: str | None
    reference: str | None
    suggestion: str | None
    cycle: list[str] | None
    table: str | None
    column_name: str | None
    row: int | None
    path: str | None
    kind: str | None
    count: int | None
    option: str | None
    input: str | None

    def __init__(
        self,
        message: str,
        *,
        code: str = "engine",
        category: str | None = None,
        line: int | None = None,
        column: int | None = None,
        place: str | None = None,
        variable: str | None = None,
        rule: str | None = None,
        rule_index: int | None = None,
        parameter: str | None = None,
        codelist: str | None = None,
        reference: str | None = None,
        suggestion: str | None = None,
        cycle: list[str] | None = None,
        table: str | None = None,
        column_name: str | None = None,
        row: int | None = None,
        path: object = None,
        kind: str | None = None,
        count: int | None = None,
        option: str | None = None,
        input: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.category = _category_of(code) if category is None else category
        self.line = line
        self.column = column
        self.place = place
        self.variable = variable
        self.rule = rule
        self.rule_index = rule_index
        self.parameter = parameter
        self.codelist = codelist
        self.reference = reference
        self.suggestion = suggestion
        self.cycle = cycle
        self.table = table
        self.column_name = column_name
        self.row = row
        self.path = None if path is None else str(path)
        self.kind = kind
        self.count = count
        self.option = option
        self.input = input

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps the attributes when the exception crosses a process boundary (pickle).
        return (_rebuild, (type(self), self.message, self.location()))

    def location(self) -> dict[str, object]:
        """The attributes that say what and where the error is (its code and category
        among them), without those that are ``None``."""
        return {n: getattr(self, n) for n in _LOCATION if getattr(self, n) is not None}


def _rebuild(cls: type[CaasError], message: str, location: dict[str, object]) -> CaasError:
    return cls(message, **location)  # type: ignore[arg-type]


def error_codes() -> dict[str, str]:
    """Every error code of the engine with its category, as the engine decides them for
    all of caas's front ends (the C library returns each category as its own status)::

        >>> import caas
        >>> caas.errors.error_codes()["unknown_person"]
        'data'
        >>> caas.errors.error_codes()["invalid_option"]
        'invalid_argument'
    """
    return dict(_error_codes())


@functools.cache
def _error_codes() -> dict[str, str]:
    return dict(_caas.error_codes())


def _category_of(code: str) -> str:
    """The category of ``code``; ``internal`` for text that is no code of the engine, as the
    engine itself holds it."""
    return _error_codes().get(code, "internal")


class DefinitionError(CaasError):
    """The cohort definition or a run-time parameter is wrong: its syntax, a reference, a
    type, a cycle, a window, a codelist (category ``definition``)."""


class DataError(CaasError):
    """A table cannot be read, registered or used as the definition needs (a missing file,
    a missing column, a column of the wrong type, a table not registered, rows failing a
    data-quality policy), or data handed in after an evaluation cannot be used (category
    ``data``)."""


class DataQualityError(DataError):
    """Rows of a table have a data-quality finding whose policy is ``fail`` (code
    ``data_quality``): ``table``, ``column_name``, ``kind`` and ``count`` say which, and
    how many. No value from the rows is given."""


class UnknownPersonError(DataError, LookupError):
    """The person asked about is not in the person table (code ``unknown_person``). The id
    is not in the message: it identifies a patient. ``table`` is the person table."""


class InvalidInputError(DataError, ValueError):
    """Something given to a result cannot be used (code ``invalid_input``): previous members
    without a ``person_id`` column, with ids of the other kind or missing ids, in a file of
    unknown format. ``input`` says what was given."""


class InvalidArgumentError(CaasError, ValueError):
    """An argument given by the program cannot be used (category ``invalid_argument``)."""


class InvalidOptionError(InvalidArgumentError):
    """An evaluation option cannot be used (code ``invalid_option``): an unknown finding
    kind or policy in ``quality``, a ``reference_date`` that is not a date, a pseudonym key
    that is too short or not hexadecimal. ``option`` names it; the key is never printed."""


class EngineError(CaasError):
    """Evaluation failed inside the engine (DataFusion or Arrow), memory ran out under the
    engine's memory limit (code ``resources_exhausted``), a report could not be rendered
    (code ``report``), or the work was cancelled (code ``cancelled``: a progress callback
    returned ``False``; Ctrl-C raises ``KeyboardInterrupt`` instead): category ``engine``."""


class InternalError(CaasError):
    """A bug in caas: the engine found one of its own invariants broken (category and code
    ``internal``). Please report it, with the message."""


#: The class of each category of error. The engine decides the category of each code.
_CATEGORY_CLASSES: dict[str, type[CaasError]] = {
    "definition": DefinitionError,
    "data": DataError,
    "invalid_argument": InvalidArgumentError,
    "engine": EngineError,
    "internal": InternalError,
}

#: The subclasses that carry attributes of one code's own; each derives from the class of
#: that code's category.
_CODE_CLASSES: dict[str, type[CaasError]] = {
    "data_quality": DataQualityError,
    "unknown_person": UnknownPersonError,
    "invalid_input": InvalidInputError,
    "invalid_option": InvalidOptionError,
}


def from_core(message: str, *, code: str, category: str, **location: object) -> CaasError:
    """The exception for an error of the engine with this ``code`` and ``category``: the
    class of the category, or the code's own subclass of it. A category this package does
    not know (from a newer engine) gives a plain :class:`CaasError`."""
    cls = _CODE_CLASSES.get(code) or _CATEGORY_CLASSES.get(category, CaasError)
    return cls(message, code=code, category=category, **location)  # type: ignore[arg-type]
