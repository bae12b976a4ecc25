"""Validate one return against the returns contract (spec/returns.md, version 1).

`validate_return(name, data)` never raises for anything a school can send: every problem
becomes a located Problem with a contract code, every problem in the file is listed (capped
per code), and an accepted return comes back as canonical, typed records ready to load.
"""

from __future__ import annotations

import gc
import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from stls_warehouse import reference
from stls_warehouse.intake import contract, naming
from stls_warehouse.intake.contract import CONTRACTS, CONTROL_SHEET, KPI, LEDGER, NIL_ACCOUNT, ReturnContract
from stls_warehouse.intake.problems import (
    FILE_LEVEL_CODES,
    UNREADABLE_CODES,
    CellValueError,
    Code,
    Problem,
    ReturnUnreadable,
)
from stls_warehouse.intake.reader import (
    MAX_FILE_BYTES,
    TRIM,
    Grid,
    cell_reference,
    column_letter,
    open_xlsx,
    read_csv,
)
from stls_warehouse.intake.values import (
    Cell,
    format_money,
    parse_date,
    parse_decimal,
    parse_flag,
    parse_money,
    parse_whole_number,
)
from stls_warehouse.periods import (
    KpiMonth,
    LedgerPeriod,
    parse_financial_year,
    parse_kpi_month,
)

MAX_PROBLEMS_PER_CODE = 100
T = TypeVar("T")


@dataclass(frozen=True)
class LedgerLine:
    source_row: int
    sla_code: str
    financial_year: str
    period: int
    line_ref: str
    posting_date: date
    cost_centre: str | None
    account_code: str
    fund_strand: str
    description: str | None
    amount: Decimal
    is_overhead_recharge: bool


@dataclass(frozen=True)
class KpiRow:
    source_row: int
    sla_code: str
    kpi_month: str
    kpi_code: str
    value: Decimal | None
    numerator: int | None
    denominator: int | None
    comment: str | None


@dataclass
class ValidationResult:
    file: str
    sha256: str
    size: int
    return_type: str | None = None
    name: naming.ReturnName | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    ledger_lines: list[LedgerLine] = field(default_factory=list)
    kpi_rows: list[KpiRow] = field(default_factory=list)
    is_nil: bool = False
    line_count: int = 0  # data lines in the table (a nil line counts)
    amounts_valid: bool = True  # every amount parsed: the Control total can be compared
    amount_sum: Decimal = Decimal("0.00")  # of every parsed amount, lines with other errors too

    @property
    def accepted(self) -> bool:
        return not self.errors

    @property
    def status(self) -> str:
        return "accepted" if self.accepted else "rejected"

    @property
    def sla_code(self) -> str | None:
        return self.name.sla_code if self.name else None

    @property
    def period_key(self) -> str | None:
        return self.name.period_key if self.name else None

    @property
    def amount_total(self) -> Decimal | None:
        if self.return_type != "ledger" or not self.accepted:
            return None
        return sum((line.amount for line in self.ledger_lines), Decimal("0.00"))

    def contract_dict(self) -> dict[str, Any]:
        """The object `stls validate --json` prints for this file."""
        return {
            "file": self.file,
            "status": self.status,
            "return_type": self.return_type,
            "sla_code": self.sla_code,
            "period_key": self.period_key,
            "errors": [p.contract_dict() for p in self.errors],
            "warnings": [p.contract_dict() for p in self.warnings],
        }


class _Collector:
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


def validate_return(name: str, data: bytes) -> ValidationResult:
    """Check one file, given its original name and its bytes; never raises for a bad file.

    Small files (every real monthly return) are checked in this process. A file whose
    reading could need much memory (a large CSV, a workbook declaring many megabytes) is
    checked in a child process under a memory and time limit, so that one hostile file
    cannot take down the worker that met it.
    """
    from stls_warehouse.intake import sandbox

    if sandbox.needs_child(name, data):
        return sandbox.check_in_child(name, data)
    return sandbox.check_here(name, data)


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
    problems = _Collector(result)
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
        grid, control = _read_table(result, extension, data)
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


def _read_table(result: ValidationResult, extension: str, data: bytes) -> tuple[Grid | None, Grid | None]:
    if extension == ".csv":
        grid = read_csv(data)
        if result.return_type is None:
            result.return_type = _guess_type(grid)
        return grid, None
    wanted = {LEDGER.sheet.lower(), KPI.sheet.lower(), CONTROL_SHEET.lower()}
    book = open_xlsx(data, wanted)
    by_lower: dict[str, Grid] = {}
    for sheet_name, sheet_grid in book.sheets.items():
        by_lower.setdefault(sheet_name.strip(TRIM).lower(), sheet_grid)
    if result.return_type is None:
        found = [s for s in CONTRACTS.values() if s.sheet.lower() in by_lower]
        result.return_type = found[0].return_type if len(found) == 1 else None
        if len(found) > 1:
            result.errors.append(
                Problem(
                    Code.SHEET_MISSING,
                    "The workbook has both a 'Ledger' and a 'KPI' sheet and its name does not say "
                    "which return it is; name it like LEDGER_SWA_2021-22_P07.xlsx or KPI_THA_2022-10.xlsx.",
                )
            )
            return None, None
    if result.return_type is None:
        result.errors.append(
            Problem(
                Code.SHEET_MISSING,
                "The workbook has no 'Ledger' or 'KPI' sheet; put the return's table on a sheet of "
                "that name (the template has it).",
                expected="a sheet named Ledger or KPI",
            )
        )
        return None, None
    schema = CONTRACTS[result.return_type]
    table_grid = by_lower.get(schema.sheet.lower())
    if table_grid is None:
        found_names = ", ".join(f"'{n}'" for n in book.sheets) or "none"
        result.errors.append(
            Problem(
                Code.SHEET_MISSING,
                f"The workbook has no sheet named '{schema.sheet}'; put the table on a sheet of that "
                "name (the template has it).",
                sheet=schema.sheet,
                expected=f"a sheet named {schema.sheet} (sheets read: {found_names})",
            )
        )
        return None, None
    control = by_lower.get(CONTROL_SHEET.lower()) if schema is LEDGER else None
    return table_grid, control


def _guess_type(grid: Grid) -> str | None:
    first = min(grid.rows) if grid.rows else None
    names = {cell.text.lower() for cell in grid.rows[first].values()} if first else set()
    if "line_ref" in names:
        return "ledger"
    if "kpi_code" in names:
        return "kpi"
    return None


@dataclass
class _Table:
    """The table's header mapped to columns, and its data rows."""

    schema: ReturnContract
    sheet: str | None
    columns: dict[str, int]  # column name -> 0-based index
    rows: list[tuple[int, dict[int, Cell]]]
    ragged: frozenset[int] = frozenset()  # CSV rows whose field count differs from the header's


def _check_table(result: ValidationResult, problems: _Collector, grid: Grid, control: Grid | None) -> None:
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
    columns = _check_header(problems, schema, grid, header_row)
    table = _Table(schema, grid.sheet, columns, data_rows, frozenset(r for r, _ in grid.ragged_rows))
    _check_cells(problems, table, grid, header_row)
    if schema is LEDGER:
        _check_ledger_rows(result, problems, table)
        if control is not None:
            _check_control(result, problems, control)
    else:
        _check_kpi_rows(result, problems, table)


def _check_header(
    problems: _Collector, schema: ReturnContract, grid: Grid, header_row: int
) -> dict[str, int]:
    cells = grid.rows[header_row]
    width = max(max(cells) + 1, grid.header_width or 0)
    columns: dict[str, int] = {}
    expected = ", ".join(schema.columns)
    for index in range(width):
        cell = cells.get(index)
        where = {"sheet": grid.sheet, "row": header_row, "cell": cell_reference(header_row, index)}
        letter = column_letter(index)
        if cell is None:
            problems.error(
                Code.HEADER_MISMATCH,
                f"Column {letter} has no name in the header; delete the column (or its stray "
                "values) or give it one of the return's column names.",
                column=letter,
                expected=expected,
                **where,
            )
            continue
        if cell.kind in ("error", "uncalculated"):
            continue  # reported by _check_cells
        name = cell.text.lower()
        if name in columns:
            problems.error(
                Code.HEADER_MISMATCH,
                f"The column '{cell.text}' appears twice in the header; delete one of them.",
                column=cell.text,
                value=cell.text,
                expected="each column once",
                **where,
            )
        elif name not in schema.columns:
            problems.error(
                Code.HEADER_MISMATCH,
                f"'{cell.text}' is not a column of the {schema.return_type} return; delete the column "
                f"or rename it. The columns are: {expected}.",
                column=cell.text,
                value=cell.text,
                expected=expected,
                **where,
            )
        else:
            columns[name] = index
    for name in schema.columns:
        if name not in columns:
            problems.error(
                Code.HEADER_MISMATCH,
                f"The column '{name}' is missing from the header; add it (it may be left empty only "
                "where the contract says so).",
                sheet=grid.sheet,
                row=header_row,
                column=name,
                expected=expected,
            )
    grid.header_width = width
    return columns


def _check_cells(problems: _Collector, table: _Table, grid: Grid, header_row: int) -> None:
    """Error values, uncalculated formulas, ragged rows and merged cells, anywhere in the table."""
    names = {index: name for name, index in table.columns.items()}
    width = grid.header_width or 0
    # A CSV holds text cells only, within the header's width (ragged rows are reported below).
    checked = [(header_row, grid.rows[header_row]), *table.rows] if grid.sheet is not None else []
    for row_number, cells in checked:
        outside = row_number != header_row and max(cells) >= width
        if not outside and all(cell.kind not in _FORMULA_KINDS for cell in cells.values()):
            continue  # nearly every row: nothing in it to report
        for index, cell in cells.items():
            column = names[index] if index in names else column_letter(index)
            _report_formula_cell(problems, cell, table.sheet, row_number, column, index)
            if grid.sheet is not None and index >= width and row_number != header_row:
                problems.error(
                    Code.HEADER_MISMATCH,
                    f"Cell {column_letter(index)}{row_number} holds '{cell.text}' in a column with no "
                    "header; delete it or move it into the table.",
                    sheet=table.sheet,
                    row=row_number,
                    column=column_letter(index),
                    cell=cell_reference(row_number, index),
                    value=cell.text,
                    expected="nothing outside the table's columns",
                )
    for row_number, count in grid.ragged_rows:
        problems.error(
            Code.HEADER_MISMATCH,
            f"Row {row_number} has {count} fields but the header has {grid.header_width}; check the "
            "row for a stray comma, or a value with a comma that needs double quotes around it.",
            row=row_number,
            value=f"{count} fields",
            expected=f"{grid.header_width} fields",
        )
    last_row = max(n for n, _ in table.rows)
    for r1, c1, r2, c2 in grid.merged:
        if r1 <= last_row and c1 < width and r2 >= header_row:
            problems.error(
                Code.MERGED_CELLS,
                f"Cells {column_letter(c1)}{r1}:{column_letter(c2)}{r2} are merged; unmerge them "
                "(Home > Merge & Center > Unmerge Cells) and put each value in its own cell.",
                sheet=table.sheet,
                row=r1,
                column=names.get(c1, column_letter(c1)),
                cell=f"{column_letter(c1)}{r1}:{column_letter(c2)}{r2}",
                expected="no merged cells in the table",
            )


_FORMULA_KINDS = frozenset({"error", "uncalculated"})


def _report_formula_cell(
    problems: _Collector, cell: Cell, sheet: str | None, row: int, column: str, index: int
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


class _Row:
    """One data row: typed access to its cells, reporting problems where they are."""

    __slots__ = ("cells", "columns", "number", "ok", "problems", "table")

    def __init__(self, problems: _Collector, table: _Table, number: int, cells: dict[int, Cell]) -> None:
        self.problems = problems
        self.table = table
        self.columns = table.columns
        self.number = number
        self.cells = cells
        self.ok = True

    def cell(self, column: str) -> Cell | None:
        index = self.columns.get(column)
        cell = self.cells.get(index) if index is not None else None
        if cell is not None and cell.kind in _FORMULA_KINDS:
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
        if raw is not None and raw.kind in _FORMULA_KINDS:
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


def _check_sla(row: _Row, name: naming.ReturnName | None) -> str | None:
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


def _months_text(period: LedgerPeriod) -> str:
    names = [date(year, month, 1).strftime("%B %Y") for year, month in period.months()]
    return " or ".join(names)


def _memoised(parser: Callable[[Cell], T]) -> Callable[[Cell], T]:
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


def _within(known: dict[tuple[LedgerPeriod, date], bool], period: LedgerPeriod, day: date) -> bool:
    inside = known.get((period, day))
    if inside is None:
        inside = known[(period, day)] = period.contains(day)
    return inside


def _remembered(
    known: dict[Any, Any], key: Any, problems: _Collector, check: Callable[..., T | None], *args: Any
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


def _unknown_account_message(text: str, key: str, year: str | None, lettered: set[str]) -> str:
    """Why a code is refused, and what to use: the CFR list changes by financial year."""
    known = reference.account_codes().get(key)
    forms = sorted(
        code.account_code
        for upper, code in reference.account_codes().items()
        if upper[:-1] == key and upper[-1].isalpha() and (year is None or code.is_valid_in(year))
    )
    if known is not None and year is not None:
        hint = f"; use its lettered form ({forms[0]}..{forms[-1]})" if forms else "; use a code of that year"
        return f"'{text}' is not a CFR account code in {year}: it is valid {known.years_in_words}{hint}."
    hint = f" (use its lettered form, e.g. {forms[0]})" if key in lettered and forms else ""
    return f"'{text}' is not a CFR account code of the contract's list{hint}; use one of the listed codes."


def _check_ledger_rows(result: ValidationResult, problems: _Collector, table: _Table) -> None:
    name = result.name
    file_period = name.period if name is not None and isinstance(name.period, LedgerPeriod) else None
    parse_date_of, parse_money_of, parse_flag_of = (
        _memoised(parse_date),
        _memoised(parse_money),
        _memoised(parse_flag),
    )
    contains: dict[tuple[LedgerPeriod, date], bool] = {}
    year_labels: dict[LedgerPeriod, str] = {}
    slas_seen: dict[Any, str] = {}
    periods_seen: dict[Any, LedgerPeriod] = {}
    # A missing column is index -1, which no row has (the checks report the column missing).
    sla_index, year_index, period_index = (
        table.columns.get(column, -1) for column in ("sla_code", "financial_year", "period")
    )
    seen_refs: dict[str, int] = {}
    nil_rows: list[tuple[_Row, Cell | None, Decimal | None]] = []
    lines: list[LedgerLine] = []
    accounts = reference.account_codes()
    strands = reference.fund_strands()
    # Codes the CFR list has only in lettered forms (E20A..E20G, I08a, ...), unlettered.
    lettered = {code[:-1] for code in accounts if code[-1].isalpha()}
    result.line_count = len(table.rows)
    for number, cells in table.rows:
        if number in table.ragged:
            result.amounts_valid = False  # its cells cannot be matched to columns
            continue
        row = _Row(problems, table, number, cells)
        sla = _remembered(slas_seen, cells.get(sla_index), problems, _check_sla, row, name)
        period = _remembered(
            periods_seen,
            (cells.get(year_index), cells.get(period_index)),
            problems,
            _check_ledger_period,
            row,
            file_period,
        )
        line_ref = row.required("line_ref")
        if line_ref is not None:
            ref = line_ref.text
            if ref in seen_refs:
                row.error(
                    Code.DUPLICATE_LINE,
                    "line_ref",
                    f"line_ref '{ref}' is used again (first on row {seen_refs[ref]}); give each line "
                    "its own reference.",
                    line_ref,
                    "a line_ref not used on another row",
                )
            else:
                seen_refs[ref] = number
        posting = None
        if (cell := row.required("posting_date")) is not None:
            posting = row.parse("posting_date", parse_date_of, cell)
            check_period = file_period or period
            if (
                posting is not None
                and check_period is not None
                and not _within(contains, check_period, posting)
            ):
                row.error(
                    Code.PERIOD_MISMATCH,
                    "posting_date",
                    f"posting_date {posting.isoformat()} is outside {check_period.key}; a line of this "
                    f"period is posted in {_months_text(check_period)}. Move the line to the return of "
                    "its own period or correct the date.",
                    cell,
                    f"a date in {_months_text(check_period)}",
                )
        account = None
        is_nil = False
        account_cell = row.required("account_code")
        if account_cell is not None:
            key = account_cell.text.upper()
            if key == NIL_ACCOUNT:
                is_nil = True
            else:
                year_period = file_period or period
                year = year_period.financial_year if year_period is not None else None
                known = accounts.get(key)
                if known is not None and (year is None or known.is_valid_in(year)):
                    account = known.account_code
                else:
                    row.error(
                        Code.UNKNOWN_ACCOUNT,
                        "account_code",
                        _unknown_account_message(account_cell.text, key, year, lettered),
                        account_cell,
                        "a CFR code of the year, such as E01, E20A, I08a (or NIL on a nil return)",
                    )
        strand = None
        if (cell := row.required("fund_strand")) is not None:
            if cell.text.upper() in strands:
                strand = cell.text.upper()
            else:
                row.error(
                    Code.INVALID_FUND_STRAND,
                    "fund_strand",
                    f"'{cell.text}' is not a fund strand; use {reference.fund_strands_in_words()}.",
                    cell,
                    reference.fund_strands_in_words(),
                )
        amount = None
        if (cell := row.required("amount", Code.AMOUNT_INVALID)) is not None:
            amount = row.parse("amount", parse_money_of, cell)
        if amount is None:
            result.amounts_valid = False
        else:
            result.amount_sum += amount
        flag = None
        if (cell := row.required("is_overhead_recharge")) is not None:
            flag = row.parse("is_overhead_recharge", parse_flag_of, cell)
        if is_nil:
            nil_rows.append((row, account_cell, amount))
            continue
        if (
            row.ok
            and sla
            and period
            and line_ref
            and posting
            and account
            and strand
            and amount is not None
            and flag is not None
        ):
            lines.append(
                LedgerLine(
                    source_row=number,
                    sla_code=sla,
                    financial_year=year_labels.get(period)
                    or year_labels.setdefault(period, period.financial_year),
                    period=period.period,
                    line_ref=line_ref.text,
                    posting_date=posting,
                    cost_centre=row.text("cost_centre"),
                    account_code=account,
                    fund_strand=strand,
                    description=row.text("description"),
                    amount=amount,
                    is_overhead_recharge=flag,
                )
            )
    if "amount" not in table.columns:
        result.amounts_valid = False
    _check_nil(result, nil_rows, len(table.rows))
    result.ledger_lines = lines


def _check_ledger_period(row: _Row, file_period: LedgerPeriod | None) -> LedgerPeriod | None:
    start = None
    if (cell := row.required("financial_year")) is not None:
        start = parse_financial_year(cell.text)
        if start is None:
            row.error(
                Code.PERIOD_MISMATCH,
                "financial_year",
                f"'{cell.text}' is not a financial year written like 2021-22"
                f"{f'; this return is for {file_period.financial_year}' if file_period else ''}.",
                cell,
                file_period.financial_year if file_period else "YYYY-YY, e.g. 2021-22",
            )
        elif file_period is not None and start != file_period.start_year:
            row.error(
                Code.PERIOD_MISMATCH,
                "financial_year",
                f"financial_year {cell.text} differs from the file name's {file_period.financial_year}; "
                "correct the cell or the file name.",
                cell,
                file_period.financial_year,
            )
    number = None
    if (cell := row.required("period")) is not None:
        try:
            number = parse_whole_number(cell, Code.PERIOD_MISMATCH)
        except CellValueError:
            number = None
        expected = str(file_period.period) if file_period else "a whole number 1 to 13"
        if number is None or not 1 <= number <= 13:
            row.error(
                Code.PERIOD_MISMATCH,
                "period",
                f"'{cell.text}' is not a period number from 1 to 13 (write 7 or 07, not P07).",
                cell,
                expected,
            )
            number = None
        elif file_period is not None and number != file_period.period:
            row.error(
                Code.PERIOD_MISMATCH,
                "period",
                f"period {number} differs from the file name's P{file_period.period:02d}; correct the "
                "cell or the file name.",
                cell,
                expected,
            )
    if start is None or number is None:
        return None
    return LedgerPeriod(start, number)


def _check_nil(
    result: ValidationResult, nil_rows: list[tuple[_Row, Cell | None, Decimal | None]], line_count: int
) -> None:
    for row, cell, amount in nil_rows:
        if line_count > 1:
            row.error(
                Code.UNKNOWN_ACCOUNT,
                "account_code",
                "NIL is only for a nil return, whose single line says there is nothing to report; "
                "remove the NIL line or the other lines.",
                cell,
                "a CFR account code (NIL only as the one line of a nil return)",
            )
        elif amount is not None and amount != 0:
            row.error(
                Code.AMOUNT_INVALID,
                "amount",
                "A nil return's NIL line must have amount 0; if there is something to report, "
                "send the lines with their account codes instead.",
                row.cell("amount"),
                "0",
            )
        elif row.ok:
            result.is_nil = True


def _check_control(result: ValidationResult, problems: _Collector, control: Grid) -> None:
    sheet = control.sheet
    labels: dict[str, tuple[int, Cell | None]] = {}
    for number, cells in sorted(control.rows.items()):
        for index, cell in cells.items():
            _report_formula_cell(problems, cell, sheet, number, column_letter(index), index)
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


# --- KPI -------------------------------------------------------------------------------

_ONE_DECIMAL = Decimal("0.1")
UNIT_FORMS = {
    "count": "a whole number of 0 or more",
    "days": "a number of days of 0 or more, at most one decimal",
    "percent": "empty, or 100 x numerator / denominator to one decimal",
    "score": "a number from 1.00 to 5.00, at most two decimals",
    "fte": "a number of 0 or more, at most two decimals",
}


def percent_value(numerator: int, denominator: int) -> Decimal | None:
    """100 * numerator / denominator, rounded half-up to one decimal; None when 0/0."""
    if denominator == 0:
        return None
    return (Decimal(100 * numerator) / Decimal(denominator)).quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP)


def _check_kpi_rows(result: ValidationResult, problems: _Collector, table: _Table) -> None:
    name = result.name
    file_month = name.period if name is not None and isinstance(name.period, KpiMonth) else None
    definitions = reference.kpi_definitions()
    first_row: dict[str, int] = {}
    parsed: list[tuple[_Row, str, str | None, str | None]] = []  # row, kpi code, sla, month
    result.line_count = len(table.rows)
    for number, cells in table.rows:
        if number in table.ragged:
            continue
        row = _Row(problems, table, number, cells)
        sla = _check_sla(row, name)
        month = _check_kpi_month(row, file_month)
        code_cell = row.required("kpi_code")
        if code_cell is None:
            continue
        code = code_cell.text.upper()
        if code not in definitions:
            row.error(
                Code.UNKNOWN_KPI,
                "kpi_code",
                f"'{code_cell.text}' is not a KPI code of the contract's list; correct the code or "
                "delete the row.",
                code_cell,
                "one of " + ", ".join(definitions),
            )
            continue
        if code in first_row:
            row.error(
                Code.DUPLICATE_LINE,
                "kpi_code",
                f"KPI {code} appears again (first on row {first_row[code]}); give each KPI once "
                "and delete the other row.",
                code_cell,
                "each KPI once",
            )
            continue
        first_row[code] = number
        parsed.append((row, code, sla, month))
    for code, definition in definitions.items():
        if definition.required and code not in first_row:
            problems.error(
                Code.KPI_MISSING,
                f"The required KPI {code} ({definition.kpi_name}) is missing; add a row for it.",
                sheet=table.sheet,
                column="kpi_code",
                value=None,
                expected=f"a row with kpi_code {code}",
            )
    sessions = _training_sessions(parsed)
    rows: list[KpiRow] = []
    for row, code, sla, month in parsed:
        value, numerator, denominator = _check_kpi_value(row, definitions[code], sessions)
        if row.ok and sla and month:
            rows.append(
                KpiRow(row.number, sla, month, code, value, numerator, denominator, row.text("comment"))
            )
    result.kpi_rows = rows


def _check_kpi_month(row: _Row, file_month: KpiMonth | None) -> str | None:
    cell = row.required("month")
    if cell is None:
        return None
    month = None
    if cell.kind == "date":
        month = parse_kpi_month(cell.value[:7])
    elif cell.kind == "text":
        month = parse_kpi_month(cell.text)
    if month is None:
        row.error(
            Code.DATE_INVALID,
            "month",
            f"'{cell.text}' is not a month written like 2022-10.",
            cell,
            file_month.key if file_month else "YYYY-MM, e.g. 2022-10",
        )
        return None
    if file_month is not None and month != file_month:
        row.error(
            Code.PERIOD_MISMATCH,
            "month",
            f"month {month.key} differs from the file name's {file_month.key}; correct the cell or "
            "the file name.",
            cell,
            file_month.key,
        )
    return month.key


def _training_sessions(parsed: list[tuple[_Row, str, str | None, str | None]]) -> int | None:
    for row, code, _, _ in parsed:
        if code == "TRN_SESS" and (cell := row.cell("value")) is not None:
            try:
                return parse_whole_number(cell, Code.VALUE_INVALID)
            except CellValueError:
                return None
    return None


def _check_kpi_value(
    row: _Row, definition: reference.KpiDefinition, sessions: int | None
) -> tuple[Decimal | None, int | None, int | None]:
    code, unit = definition.kpi_code, definition.unit
    value_cell, num_cell, den_cell = row.cell("value"), row.cell("numerator"), row.cell("denominator")
    invalid = Code.VALUE_INVALID
    if unit == "percent":
        if num_cell is None or den_cell is None:
            for column, missing in (("numerator", num_cell), ("denominator", den_cell)):
                if missing is None and row.present(column):
                    row.error(
                        invalid,
                        column,
                        f"{code} is a percentage: give its {column} (a whole number); the value is "
                        "worked out from numerator and denominator.",
                        expected="a whole number of 0 or more",
                    )
            return None, None, None
        numerator = row.parse("numerator", lambda c: parse_whole_number(c, invalid), num_cell)
        denominator = row.parse("denominator", lambda c: parse_whole_number(c, invalid), den_cell)
        if numerator is None or denominator is None:
            return None, None, None
        if numerator > denominator:
            row.error(
                invalid,
                "numerator",
                f"{code}: the numerator {numerator} is larger than the denominator {denominator}; a "
                "percentage counts part of a whole.",
                num_cell,
                f"at most {denominator}",
            )
            return None, None, None
        expected = percent_value(numerator, denominator)
        if value_cell is not None:
            given = row.parse("value", lambda c: parse_decimal(c, invalid, places=6), value_cell)
            if given is not None and (expected is None or given != expected):
                row.error(
                    invalid,
                    "value",
                    f"{code}: the value {value_cell.text} does not equal 100 x {numerator} / {denominator}"
                    f" ({'empty, as the denominator is 0' if expected is None else expected}).",
                    value_cell,
                    str(expected) if expected is not None else "empty",
                )
        return expected, numerator, denominator
    for column, cell in (("numerator", num_cell), ("denominator", den_cell)):
        if cell is not None:
            row.error(invalid, column, f"{code} is not a percentage: leave '{column}' empty.", cell, "empty")
    if code == "TRN_EVAL" and sessions == 0:
        if value_cell is not None:
            row.error(
                invalid,
                "value",
                "TRN_EVAL must be empty when no training sessions were held (TRN_SESS = 0); "
                "clear the cell or correct TRN_SESS.",
                value_cell,
                "empty, as TRN_SESS is 0",
            )
        return None, None, None
    if value_cell is None:
        if row.present("value"):
            row.error(
                invalid,
                "value",
                f"{code} ({definition.kpi_name}) needs a value; fill it in.",
                expected=UNIT_FORMS.get(unit, "a value"),
            )
        return None, None, None
    if unit == "count":
        parsed = row.parse("value", lambda c: Decimal(parse_whole_number(c, invalid)), value_cell)
    elif unit == "days":
        parsed = row.parse("value", lambda c: parse_decimal(c, invalid, places=1), value_cell)
    elif unit == "score":
        parsed = row.parse("value", lambda c: parse_decimal(c, invalid, places=2), value_cell)
        if parsed is not None and not Decimal(1) <= parsed <= Decimal(5):
            row.error(
                invalid,
                "value",
                f"TRN_EVAL {value_cell.text} is outside 1.00 to 5.00.",
                value_cell,
                "1.00 to 5.00",
            )
            parsed = None
    else:  # fte
        parsed = row.parse("value", lambda c: parse_decimal(c, invalid, places=2), value_cell)
    return parsed, None, None


def group_by_code(problems: list[Problem]) -> dict[str, list[Problem]]:
    grouped: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        grouped[problem.code].append(problem)
    return grouped
