"""The contract's checks of one return, in this process (the unguarded core of
`validate.validate_return`): find the table, check it as a whole, then apply the return
type's rules to every row."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from stls_warehouse.intake import naming
from stls_warehouse.intake.contract import CONTRACTS, LEDGER
from stls_warehouse.intake.problems import FILE_LEVEL_CODES, UNREADABLE_CODES, Code, ReturnUnreadable
from stls_warehouse.intake.reader import MAX_FILE_BYTES, Grid
from stls_warehouse.intake.result import ValidationResult
from stls_warehouse.intake.rules.base import Collector, Table
from stls_warehouse.intake.rules.control import check_control
from stls_warehouse.intake.rules.kpi import check_kpi_rows
from stls_warehouse.intake.rules.ledger import check_ledger_rows
from stls_warehouse.intake.rules.table import check_cells, check_header, read_table


def check_return(name: str, data: bytes) -> ValidationResult:
    """The contract's checks, in this process: the unguarded core of `validate_return`."""
    with _collector_paused():
        return _check_return(name, data)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a return is read: reading allocates a cell, a
    dict per row and a record per line, none of them in a reference cycle, and the
    collector would otherwise walk the growing heap again and again (a fifth of the time of
    a 50,000-line return). Anything cyclic is collected once it runs again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_return(name: str, data: bytes) -> ValidationResult:
    result = ValidationResult(file=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    problems = Collector(result)
    extension = naming.extension_of(name)
    if extension not in naming.ALLOWED_EXTENSIONS:
        problems.error(
            Code.FILE_TYPE_NOT_ALLOWED,
            f"Files ending '{extension or '(nothing)'}' are not accepted; save the return as an "
            "Excel Workbook (.xlsx) or as CSV UTF-8 (.csv) and send that.",
            value=extension or None,
            expected=".csv or .xlsx",
        )
        return result
    parsed, reason = naming.parse_return_name(name)
    result.name = parsed
    result.return_type = parsed.return_type if parsed else naming.return_type_from_prefix(name)
    if parsed is None:
        problems.error(
            Code.FILENAME_INVALID,
            f"The file name '{name}' is not valid: {reason}. Rename the file and send it again.",
            value=name,
            expected="LEDGER_<SLA>_<YYYY-YY>_P<nn>.xlsx or KPI_<SLA>_<YYYY-MM>.csv",
        )
    if len(data) > MAX_FILE_BYTES:
        problems.error(
            Code.FILE_TOO_LARGE,
            f"The file is {len(data) / (1024 * 1024):.1f} MB, over the 20 MB limit; a monthly return "
            "is far smaller. Remove other sheets, pictures and unused rows, then send it again.",
            value=f"{len(data)} bytes",
            expected="at most 20 MB",
        )
        return result
    try:
        grid, control = read_table(result, extension, data)
    except ReturnUnreadable as unreadable:
        result.errors = [p for p in result.errors if p.code in FILE_LEVEL_CODES]
        result.errors.append(unreadable.problem)
        return result
    if grid is None:
        return result  # SHEET_MISSING, already reported
    _check_table(result, problems, grid, control)
    if any(p.code in UNREADABLE_CODES for p in result.errors):
        result.errors = [p for p in result.errors if p.code in FILE_LEVEL_CODES]
    problems.close()
    if not result.accepted:
        result.ledger_lines, result.kpi_rows = [], []
    return result


def _check_table(result: ValidationResult, problems: Collector, grid: Grid, control: Grid | None) -> None:
    if not grid.rows:
        problems.error(
            Code.EMPTY_RETURN,
            "The return is empty; fill in the template's table (a period with nothing to report "
            "is a single NIL line) and send it again.",
            sheet=grid.sheet,
        )
        return
    if result.return_type is None:
        problems.error(
            Code.HEADER_MISMATCH,
            "The header does not look like a ledger or a KPI return and the file name does not say "
            "which it is; use the template's header row.",
            sheet=grid.sheet,
            row=min(grid.rows),
        )
        return
    schema = CONTRACTS[result.return_type]
    if grid.hidden:
        problems.warning(
            Code.HIDDEN_SHEET,
            f"The '{grid.sheet}' sheet is hidden; it was read anyway. Unhide it so that what you "
            "see is what is sent.",
            sheet=grid.sheet,
        )
    header_row = 1 if grid.sheet is not None else min(grid.rows)
    if header_row not in grid.rows:
        problems.error(
            Code.HEADER_MISMATCH,
            f"Row 1 of the '{grid.sheet}' sheet is empty; the header must be in row 1. Delete the "
            "empty rows above the header.",
            sheet=grid.sheet,
            row=1,
            cell="A1",
            expected=", ".join(schema.columns),
        )
        return
    data_rows = sorted((n, cells) for n, cells in grid.rows.items() if n > header_row)
    if not data_rows:
        problems.error(
            Code.EMPTY_RETURN,
            "The return has a header but no lines; send every line of the period (or, with "
            "nothing to report, a single line with account_code NIL and amount 0).",
            sheet=grid.sheet,
        )
        return
    columns = check_header(problems, schema, grid, header_row)
    table = Table(schema, grid.sheet, columns, data_rows, frozenset(r for r, _ in grid.ragged_rows))
    check_cells(problems, table, grid, header_row)
    if schema is LEDGER:
        check_ledger_rows(result, problems, table)
        if control is not None:
            check_control(result, problems, control)
    else:
        check_kpi_rows(result, problems, table)
