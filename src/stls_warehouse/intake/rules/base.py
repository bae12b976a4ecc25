"""The machinery every rule uses: the problem collector, the table, one data row with typed
access to its cells, and the check of the SLA code both return types share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from stls_warehouse import reference
from stls_warehouse.intake import contract, naming
from stls_warehouse.intake.contract import ReturnContract
from stls_warehouse.intake.problems import CellValueError, Code, Problem
from stls_warehouse.intake.reader import cell_reference
from stls_warehouse.intake.result import ValidationResult
from stls_warehouse.intake.values import Cell

MAX_PROBLEMS_PER_CODE = 100
T = TypeVar("T")


class Collector:
    """Collects problems, listing at most MAX_PROBLEMS_PER_CODE of each code."""

    def __init__(self, result: ValidationResult) -> None:
        self.result = result
        self.counts: Counter[str] = Counter()
        self.reported = 0  # errors found so far, listed or not

    def error(self, code: Code, message: str, **where: Any) -> None:
        self.reported += 1
        self.counts[code] += 1
        if self.counts[code] <= MAX_PROBLEMS_PER_CODE:
            self.result.errors.append(Problem(code=code, message=message, **where))

    def warning(self, code: Code, message: str, **where: Any) -> None:
        self.result.warnings.append(Problem(code=code, message=message, **where))

    def close(self) -> None:
        for code, count in sorted(self.counts.items()):
            if count > MAX_PROBLEMS_PER_CODE:
                self.warning(
                    Code.PROBLEMS_CAPPED,
                    f"{count - MAX_PROBLEMS_PER_CODE} more {code} problems are not listed; "
                    f"fix the {MAX_PROBLEMS_PER_CODE} shown and validate again.",
                )


@dataclass
class Table:
    """The table's header mapped to columns, and its data rows."""

    schema: ReturnContract
    sheet: str | None
    columns: dict[str, int]  # column name -> 0-based index
    rows: list[tuple[int, dict[int, Cell]]]
    ragged: frozenset[int] = frozenset()  # CSV rows whose field count differs from the header's


FORMULA_KINDS = frozenset({"error", "uncalculated"})


def report_formula_cell(
    problems: Collector, cell: Cell, sheet: str | None, row: int, column: str, index: int
) -> None:
    if cell.kind == "error":
        problems.error(
            Code.FORMULA_ERROR,
            f"The cell shows the Excel error {cell.value}; correct the formula or type the value itself.",
            sheet=sheet,
            row=row,
            column=column,
            cell=cell_reference(row, index),
            value=cell.value,
            expected="a value, not an Excel error",
        )
    elif cell.kind == "uncalculated":
        problems.error(
            Code.FORMULA_NOT_CALCULATED,
            "The cell holds a formula with no saved result (the file was not saved by Excel); open "
            "it in Excel, let it calculate, save it and send it again.",
            sheet=sheet,
            row=row,
            column=column,
            cell=cell_reference(row, index),
            value="(formula)",
            expected="a formula with its calculated value saved",
        )


class Row:
    """One data row: typed access to its cells, reporting problems where they are."""

    __slots__ = ("cells", "columns", "number", "ok", "problems", "table")

    def __init__(self, problems: Collector, table: Table, number: int, cells: dict[int, Cell]) -> None:
        self.problems = problems
        self.table = table
        self.columns = table.columns
        self.number = number
        self.cells = cells
        self.ok = True

    def cell(self, column: str) -> Cell | None:
        index = self.columns.get(column)
        cell = self.cells.get(index) if index is not None else None
        if cell is not None and cell.kind in FORMULA_KINDS:
            self.ok = False
            return None
        return cell

    def present(self, column: str) -> bool:
        return column in self.columns

    def error(
        self, code: Code, column: str, message: str, cell: Cell | None = None, expected: str | None = None
    ) -> None:
        self.ok = False
        self.problems.error(
            code,
            message,
            sheet=self.table.sheet,
            row=self.number,
            column=column,
            cell=cell_reference(self.number, self.table.columns.get(column)),
            value=cell.text if cell is not None else None,
            expected=expected,
        )

    def required(self, column: str, missing_code: Code = Code.MISSING_VALUE) -> Cell | None:
        """The cell, or None after reporting it empty (or None if the column is absent)."""
        index = self.columns.get(column)
        if index is None:
            self.ok = False
            return None
        raw = self.cells.get(index)
        if raw is not None and raw.kind in FORMULA_KINDS:
            self.ok = False
            return None
        if raw is None:
            self.error(
                missing_code,
                column,
                f"'{column}' is empty on row {self.number}; it is required, fill it in.",
                expected=contract.column(column).required_form(),
            )
        return raw

    def parse(self, column: str, parser: Callable[[Cell], T], cell: Cell) -> T | None:
        try:
            return parser(cell)
        except CellValueError as exc:
            self.error(
                exc.code,
                column,
                f"'{cell.text}' in '{column}' is not valid: expected {exc.expected}.",
                cell,
                exc.expected,
            )
            return None

    def text(self, column: str) -> str | None:
        cell = self.cell(column)
        return cell.text if cell is not None else None


def check_sla(row: Row, name: naming.ReturnName | None) -> str | None:
    cell = row.required("sla_code")
    if cell is None:
        return None
    code = cell.text.upper()
    if code not in reference.slas():
        row.error(
            Code.UNKNOWN_SLA,
            "sla_code",
            f"'{cell.text}' is not one of the 14 SLA codes; use your SLA's code"
            f"{f', {name.sla_code}' if name else ''}.",
            cell,
            name.sla_code if name else "one of " + ", ".join(sorted(reference.slas())),
        )
        return None
    if name is not None and code != name.sla_code:
        row.error(
            Code.PERIOD_MISMATCH,
            "sla_code",
            f"sla_code '{cell.text}' differs from the file name's {name.sla_code}; correct the cell "
            "or the file name.",
            cell,
            name.sla_code,
        )
    return code


def memoised(parser: Callable[[Cell], T]) -> Callable[[Cell], T]:
    """`parser` remembering what each distinct cell parsed to (a return repeats its dates,
    codes and flags on every line); a cell it refuses is parsed, and refused, every time."""
    known: dict[Cell, T] = {}

    def parse(cell: Cell) -> T:
        try:
            return known[cell]
        except KeyError:
            value = known[cell] = parser(cell)
            return value

    return parse


def remembered(
    known: dict[Any, Any], key: Any, problems: Collector, check: Callable[..., T | None], *args: Any
) -> T | None:
    """`check(*args)`, or what it gave for the same cells before when it then found nothing
    wrong: a check of a row's own cells that reports no problem has no other effect, so its
    answer can be reused for any row holding the same cells."""
    if key in known:
        return known[key]  # type: ignore[no-any-return]
    before = problems.reported
    value = check(*args)
    if value is not None and problems.reported == before:
        known[key] = value
    return value
