"""The ledger's optional Control sheet: its control_total and line_count must agree with
the table (spec/returns.md, Control)."""

from __future__ import annotations

from collections.abc import Callable

from stls_warehouse.intake.problems import CellValueError, Code
from stls_warehouse.intake.reader import Grid, column_letter
from stls_warehouse.intake.result import ValidationResult
from stls_warehouse.intake.rules.base import Collector, T, report_formula_cell
from stls_warehouse.intake.values import Cell, format_money, parse_money, parse_whole_number


def check_control(result: ValidationResult, problems: Collector, control: Grid) -> None:
    sheet = control.sheet
    labels: dict[str, tuple[int, Cell | None]] = {}
    for number, cells in sorted(control.rows.items()):
        for index, cell in cells.items():
            report_formula_cell(problems, cell, sheet, number, column_letter(index), index)
        label_cell = cells.get(0)
        if label_cell is not None and label_cell.kind == "text":
            labels.setdefault(label_cell.text.lower(), (number, cells.get(1)))
    for label in ("control_total", "line_count"):
        if label not in labels:
            problems.error(
                Code.CONTROL_TOTAL_MISMATCH,
                f"The Control sheet has no '{label}' label in column A; add the label with its value "
                "in column B, or delete the Control sheet.",
                sheet=sheet,
                column="A",
                expected=f"a row '{label}' in column A",
            )
    if "line_count" in labels:
        number, given = labels["line_count"]
        count = _control_value(given, lambda c: parse_whole_number(c, Code.CONTROL_TOTAL_MISMATCH))
        if count != result.line_count and not _is_formula_cell(given):
            problems.error(
                Code.CONTROL_TOTAL_MISMATCH,
                f"Control line_count is {given.text if given else 'empty'} but the table has "
                f"{result.line_count} lines; correct the count or the table.",
                sheet=sheet,
                row=number,
                column="B",
                cell=f"B{number}",
                value=given.text if given else None,
                expected=str(result.line_count),
            )
    if "control_total" in labels and result.amounts_valid:
        number, given = labels["control_total"]
        total = _control_value(given, parse_money)
        if total != result.amount_sum and not _is_formula_cell(given):
            shown = given.text if given else "empty"
            if given is not None and total is None:
                shown += " (not an amount the contract accepts, which is at most 10,000,000.00)"
            problems.error(
                Code.CONTROL_TOTAL_MISMATCH,
                f"Control control_total is {shown} but the amounts add up "
                f"to {format_money(result.amount_sum)}; correct the total or the lines.",
                sheet=sheet,
                row=number,
                column="B",
                cell=f"B{number}",
                value=given.text if given else None,
                expected=format_money(result.amount_sum),
            )


def _is_formula_cell(cell: Cell | None) -> bool:
    """An error or uncalculated cell is reported as FORMULA_ERROR / FORMULA_NOT_CALCULATED."""
    return cell is not None and cell.kind in ("error", "uncalculated")


def _control_value(cell: Cell | None, parser: Callable[[Cell], T]) -> T | None:
    if cell is None or cell.kind in ("error", "uncalculated"):
        return None
    try:
        return parser(cell)
    except CellValueError:
        return None
