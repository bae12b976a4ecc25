"""The ledger return's rules (spec/returns.md, Ledger return): one small function per
column, applied to each data row in the order of LEDGER_RULES."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from stls_warehouse import reference
from stls_warehouse.intake.contract import LEDGER, NIL_ACCOUNT
from stls_warehouse.intake.problems import CellValueError, Code
from stls_warehouse.intake.result import LedgerLine, ValidationResult
from stls_warehouse.intake.rules.base import Collector, Row, Table, check_sla, memoised, remembered
from stls_warehouse.intake.values import Cell, parse_whole_number
from stls_warehouse.periods import LedgerPeriod, parse_financial_year


def _months_text(period: LedgerPeriod) -> str:
    names = [date(year, month, 1).strftime("%B %Y") for year, month in period.months()]
    return " or ".join(names)


def _within(known: dict[tuple[LedgerPeriod, date], bool], period: LedgerPeriod, day: date) -> bool:
    inside = known.get((period, day))
    if inside is None:
        inside = known[(period, day)] = period.contains(day)
    return inside


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


def _parser(column: str) -> Callable[[Cell], Any]:
    """The contract's parser of a column, remembering what each distinct cell gave."""
    parser = LEDGER.column(column).parser
    if parser is None:
        raise LookupError(f"the contract has no parser for {column}")
    return memoised(parser)


class _Ledger:
    """What the rules share across the rows of one return: the file name's period, the
    reference lists, memoised parsers, and what earlier rows held."""

    def __init__(self, result: ValidationResult, problems: Collector, table: Table) -> None:
        name = result.name
        self.result = result
        self.problems = problems
        self.name = name
        self.file_period = name.period if name is not None and isinstance(name.period, LedgerPeriod) else None
        self.parse_date: Callable[[Cell], date] = _parser("posting_date")
        self.parse_money: Callable[[Cell], Decimal] = _parser("amount")
        self.parse_flag: Callable[[Cell], bool] = _parser("is_overhead_recharge")
        self.contains: dict[tuple[LedgerPeriod, date], bool] = {}
        self.year_labels: dict[LedgerPeriod, str] = {}
        self.slas_seen: dict[Any, str] = {}
        self.periods_seen: dict[Any, LedgerPeriod] = {}
        # A missing column is index -1, which no row has (the checks report the column missing).
        self.sla_index, self.year_index, self.period_index = (
            table.columns.get(column, -1) for column in ("sla_code", "financial_year", "period")
        )
        self.seen_refs: dict[str, int] = {}
        self.accounts = reference.account_codes()
        self.strands = reference.fund_strands()
        # Codes the CFR list has only in lettered forms (E20A..E20G, I08a, ...), unlettered.
        self.lettered = {code[:-1] for code in self.accounts if code[-1].isalpha()}

    def year_label(self, period: LedgerPeriod) -> str:
        return self.year_labels.get(period) or self.year_labels.setdefault(period, period.financial_year)


class _Line:
    """What the rules found on one row so far; None where a cell is missing or invalid."""

    __slots__ = (
        "account",
        "account_cell",
        "amount",
        "flag",
        "is_nil",
        "line_ref",
        "period",
        "posting",
        "sla",
        "strand",
    )

    def __init__(self) -> None:
        self.sla: str | None = None
        self.period: LedgerPeriod | None = None
        self.line_ref: Cell | None = None
        self.posting: date | None = None
        self.account: str | None = None
        self.account_cell: Cell | None = None
        self.is_nil = False
        self.strand: str | None = None
        self.amount: Decimal | None = None
        self.flag: bool | None = None


def _sla_code(ledger: _Ledger, row: Row, line: _Line) -> None:
    key = row.cells.get(ledger.sla_index)
    line.sla = remembered(ledger.slas_seen, key, ledger.problems, check_sla, row, ledger.name)


def _financial_year_and_period(ledger: _Ledger, row: Row, line: _Line) -> None:
    key = (row.cells.get(ledger.year_index), row.cells.get(ledger.period_index))
    line.period = remembered(
        ledger.periods_seen, key, ledger.problems, _check_ledger_period, row, ledger.file_period
    )


def _line_ref(ledger: _Ledger, row: Row, line: _Line) -> None:
    line.line_ref = cell = row.required("line_ref")
    if cell is None:
        return
    ref = cell.text
    if ref in ledger.seen_refs:
        row.error(
            Code.DUPLICATE_LINE,
            "line_ref",
            f"line_ref '{ref}' is used again (first on row {ledger.seen_refs[ref]}); give each line "
            "its own reference.",
            cell,
            "a line_ref not used on another row",
        )
    else:
        ledger.seen_refs[ref] = row.number


def _posting_date(ledger: _Ledger, row: Row, line: _Line) -> None:
    if (cell := row.required("posting_date")) is None:
        return
    line.posting = posting = row.parse("posting_date", ledger.parse_date, cell)
    period = ledger.file_period or line.period
    if posting is not None and period is not None and not _within(ledger.contains, period, posting):
        row.error(
            Code.PERIOD_MISMATCH,
            "posting_date",
            f"posting_date {posting.isoformat()} is outside {period.key}; a line of this "
            f"period is posted in {_months_text(period)}. Move the line to the return of "
            "its own period or correct the date.",
            cell,
            f"a date in {_months_text(period)}",
        )


def _account_code(ledger: _Ledger, row: Row, line: _Line) -> None:
    line.account_cell = cell = row.required("account_code")
    if cell is None:
        return
    key = cell.text.upper()
    if key == NIL_ACCOUNT:
        line.is_nil = True
        return
    period = ledger.file_period or line.period
    year = period.financial_year if period is not None else None
    known = ledger.accounts.get(key)
    if known is not None and (year is None or known.is_valid_in(year)):
        line.account = known.account_code
    else:
        row.error(
            Code.UNKNOWN_ACCOUNT,
            "account_code",
            _unknown_account_message(cell.text, key, year, ledger.lettered),
            cell,
            "a CFR code of the year, such as E01, E20A, I08a (or NIL on a nil return)",
        )


def _fund_strand(ledger: _Ledger, row: Row, line: _Line) -> None:
    if (cell := row.required("fund_strand")) is None:
        return
    if cell.text.upper() in ledger.strands:
        line.strand = cell.text.upper()
    else:
        row.error(
            Code.INVALID_FUND_STRAND,
            "fund_strand",
            f"'{cell.text}' is not a fund strand; use {reference.fund_strands_in_words()}.",
            cell,
            reference.fund_strands_in_words(),
        )


def _amount(ledger: _Ledger, row: Row, line: _Line) -> None:
    """Every parsed amount counts towards the Control total, lines with other errors too."""
    if (cell := row.required("amount", _MISSING_AMOUNT)) is not None:
        line.amount = row.parse("amount", ledger.parse_money, cell)
    if line.amount is None:
        ledger.result.amounts_valid = False
    else:
        ledger.result.amount_sum += line.amount


def _is_overhead_recharge(ledger: _Ledger, row: Row, line: _Line) -> None:
    if (cell := row.required("is_overhead_recharge")) is not None:
        line.flag = row.parse("is_overhead_recharge", ledger.parse_flag, cell)


_MISSING_AMOUNT = LEDGER.column("amount").missing_code

# The rules of a ledger row, in the order their problems are listed (the contract's column
# order; financial_year and period are checked together, as one is read against the other).
LEDGER_RULES: tuple[Callable[[_Ledger, Row, _Line], None], ...] = (
    _sla_code,
    _financial_year_and_period,
    _line_ref,
    _posting_date,
    _account_code,
    _fund_strand,
    _amount,
    _is_overhead_recharge,
)


def _ledger_line(ledger: _Ledger, row: Row, line: _Line) -> LedgerLine | None:
    """The row's typed line, when every rule found its cell valid."""
    sla, period, line_ref, posting = line.sla, line.period, line.line_ref, line.posting
    account, strand, amount, flag = line.account, line.strand, line.amount, line.flag
    if not (
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
        return None
    return LedgerLine(
        source_row=row.number,
        sla_code=sla,
        financial_year=ledger.year_label(period),
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


def check_ledger_rows(result: ValidationResult, problems: Collector, table: Table) -> None:
    ledger = _Ledger(result, problems, table)
    nil_rows: list[tuple[Row, Cell | None, Decimal | None]] = []
    lines: list[LedgerLine] = []
    result.line_count = len(table.rows)
    for number, cells in table.rows:
        if number in table.ragged:
            result.amounts_valid = False  # its cells cannot be matched to columns
            continue
        row = Row(problems, table, number, cells)
        line = _Line()
        for rule in LEDGER_RULES:
            rule(ledger, row, line)
        if line.is_nil:
            nil_rows.append((row, line.account_cell, line.amount))
        elif (typed := _ledger_line(ledger, row, line)) is not None:
            lines.append(typed)
    if "amount" not in table.columns:
        result.amounts_valid = False
    _check_nil(result, nil_rows, len(table.rows))
    result.ledger_lines = lines


def _check_ledger_period(row: Row, file_period: LedgerPeriod | None) -> LedgerPeriod | None:
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
    result: ValidationResult, nil_rows: list[tuple[Row, Cell | None, Decimal | None]], line_count: int
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
