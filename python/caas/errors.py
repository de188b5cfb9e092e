"""The exceptions caas raises.

Every error of the engine is a :class:`CaasError`; its subclass says what kind of thing is
wrong, its ``code`` says exactly what (the engine's stable error codes, e.g.
``"unknown_reference"`` or ``"missing_column"``), and its other attributes say where::

    try:
        cohort = caas.Cohort.from_yaml(text)
    except caas.DefinitionError as err:
        print(err.code, err.line, err.column, err.variable, err.rule)

Attributes that do not apply to an error are ``None``. Messages never contain values read
from patient data: they name tables, columns and types, never cells.
"""

from __future__ import annotations

__all__ = ["CaasError", "DataError", "DefinitionError", "EngineError"]


class CaasError(Exception):
    """An error of caas.

    Attributes:
        code: the kind of error, one of the engine's stable codes: ``syntax``,
            ``expression_syntax``, ``unknown_reference``, ``type_mismatch``, ``cycle``,
            ``empty_window``, ``unknown_parameter``, ``code_system_mismatch``,
            ``invalid_definition``, ``codelist``, ``table``, ``registration``,
            ``missing_column``, ``column_type``, ``io``, ``engine``.
        message: the message, as ``str(err)``.
        line: 1-based line in the definition text (syntax errors).
        column: 1-based column in the definition text (syntax errors), or the 1-based
            character position inside the expression (``expression_syntax``).
        place: the place in the definition, as text (e.g. ``rule 2 (`adults`)``).
        variable: the variable at fault.
        rule: the name of the rule at fault; ``rule_index`` is its 1-based position.
        parameter: the parameter at fault.
        codelist: the codelist at fault.
        reference: the name that refers to nothing (``unknown_reference``).
        cycle: the names along a cycle, the first repeated at the end.
        table: the table at fault.
        column_name: the column of ``table`` at fault.
        path: the file at fault.
    """

    code: str
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
    cycle: list[str] | None
    table: str | None
    column_name: str | None
    path: str | None

    def __init__(
        self,
        message: str,
        *,
        code: str = "engine",
        line: int | None = None,
        column: int | None = None,
        place: str | None = None,
        variable: str | None = None,
        rule: str | None = None,
        rule_index: int | None = None,
        parameter: str | None = None,
        codelist: str | None = None,
        reference: str | None = None,
        cycle: list[str] | None = None,
        table: str | None = None,
        column_name: str | None = None,
        path: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.line = line
        self.column = column
        self.place = place
        self.variable = variable
        self.rule = rule
        self.rule_index = rule_index
        self.parameter = parameter
        self.codelist = codelist
        self.reference = reference
        self.cycle = cycle
        self.table = table
        self.column_name = column_name
        self.path = None if path is None else str(path)

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps the attributes when the exception crosses a process boundary (pickle).
        return (_rebuild, (type(self), self.message, self.location()))

    def location(self) -> dict[str, object]:
        """The attributes that say where the error is, without those that are ``None``."""
        names = [
            "code",
            "line",
            "column",
            "place",
            "variable",
            "rule",
            "rule_index",
            "parameter",
            "codelist",
            "reference",
            "cycle",
            "table",
            "column_name",
            "path",
        ]
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


def _rebuild(cls: type[CaasError], message: str, location: dict[str, object]) -> CaasError:
    return cls(message, **location)  # type: ignore[arg-type]


class DefinitionError(CaasError):
    """The cohort definition, or a run-time parameter, is wrong: its syntax, a reference,
    a type, a cycle, a window, a codelist."""


class DataError(CaasError):
    """A table cannot be read, registered or used as the definition needs: a missing file,
    a missing column, a column of the wrong type, a table not registered."""


class EngineError(CaasError):
    """Evaluation failed inside the engine (DataFusion or Arrow)."""
