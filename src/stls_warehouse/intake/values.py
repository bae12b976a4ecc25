"""The project's own value parsers: money, dates, flags and whole numbers.

Cells arrive as text (CSV, or an XLSX string cell) or as typed XLSX cells. Nothing here
guesses: a value either matches the returns contract's grammar exactly or raises
CellValueError with the code to report. Money is Decimal with two places, never float.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from stls_warehouse.intake.problems import CellValueError, Code

PENNY = Decimal("0.01")
MONEY_LIMIT = Decimal("10000000.00")
_NUMERIC_TOLERANCE = Decimal("1e-9")
MAX_WHOLE = Decimal(10) ** 15  # beyond any count in a return; fits decimal(18,2) and bigint

# Text money: optional minus and optional pound in either order, digits with optional
# comma thousands separators in groups of three, an optional point and one or two digits.
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?"
_MONEY_PLAIN = re.compile(rf"^(?P<sign>-£|£-|-|£)?(?P<num>{_DIGITS})$")
_MONEY_BRACKETS = re.compile(rf"^\(£?(?P<num>{_DIGITS})\)$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_WHOLE = re.compile(r"^\d+$")
_DECIMAL = re.compile(r"^\d+(?:\.(\d+))?$")

FLAG_WORDS = {
    "Y": True,
    "YES": True,
    "TRUE": True,
    "1": True,
    "N": False,
    "NO": False,
    "FALSE": False,
    "0": False,
}


class Cell(NamedTuple):
    """One cell as read from a return.

    kind: text | number | date | bool | error | uncalculated. `value` is always the raw
    text: the string, the number as written in the file, an ISO date, TRUE/FALSE, or the
    error value such as #REF!.
    """

    kind: str
    value: str
    serial: str = ""  # a date cell's underlying number, as written in the file

    @property
    def numeric(self) -> str | None:
        """The number behind a numeric or date-formatted cell."""
        if self.kind == "number":
            return self.value
        if self.kind == "date" and self.serial:
            return self.serial
        return None

    @property
    def text(self) -> str:
        """The cell shown as text, for columns that hold codes or free text."""
        if self.kind == "number":
            try:
                number = Decimal(self.value)
            except InvalidOperation:
                return self.value
            if not number.is_finite():
                return self.value
            if number == number.to_integral_value():
                return str(int(number))
            return format(number.normalize(), "f")
        return self.value


def text_cell(value: str) -> Cell:
    return Cell("text", value)


def parse_money(cell: Cell) -> Decimal:
    expected = "an amount in pounds such as 1234.56, -1,234.56 or (1,234.56)"
    if cell.numeric is not None:
        value = _finite(cell.numeric, Code.AMOUNT_INVALID, expected)
        _check_money_range(value)
        pence = (value * 100).to_integral_value()
        if abs(value * 100 - pence) > _NUMERIC_TOLERANCE:
            raise CellValueError(Code.AMOUNT_INVALID, "a whole number of pence (at most two decimals)")
        amount = (pence / 100).quantize(PENNY)
    elif cell.kind == "text":
        amount = _parse_money_text(cell.value, expected)
    else:
        raise CellValueError(Code.AMOUNT_INVALID, expected)
    _check_money_range(amount)
    return amount


def _check_money_range(amount: Decimal) -> None:
    if abs(amount) > MONEY_LIMIT:
        raise CellValueError(Code.AMOUNT_INVALID, "an amount between -10,000,000.00 and 10,000,000.00")


def _finite(text: str, code: Code, expected: str) -> Decimal:
    """The number behind a numeric cell; the reader admits only finite decimals, but be sure."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CellValueError(code, expected) from None
    if not value.is_finite():
        raise CellValueError(code, expected)
    return value


def _parse_money_text(text: str, expected: str) -> Decimal:
    negative = False
    match = _MONEY_PLAIN.match(text)
    if match:
        negative = "-" in (match.group("sign") or "")
    else:
        match = _MONEY_BRACKETS.match(text)
        if not match:
            raise CellValueError(Code.AMOUNT_INVALID, expected)
        negative = True
    digits = match.group("num").replace(",", "")
    if len(digits.split(".")[0].lstrip("0")) > 8:  # more than 99,999,999: out of range anyway
        raise CellValueError(Code.AMOUNT_INVALID, "an amount between -10,000,000.00 and 10,000,000.00")
    amount = Decimal(digits).quantize(PENNY)
    return -amount if negative else amount


def format_money(amount: Decimal) -> str:
    """Money as the finance team writes it: 1,234.56 and -1,234.56."""
    return f"{amount:,.2f}"


def excel_serial_to_date(serial: Decimal, *, date1904: bool) -> date:
    """An Excel date serial (time part ignored) in the 1900 or 1904 date system."""
    whole = int(serial.to_integral_value(rounding="ROUND_FLOOR"))
    if date1904:
        if whole < 0:
            raise ValueError("negative date serial")
        return date(1904, 1, 1) + timedelta(days=whole)
    if whole < 1 or whole == 60:  # 0 is 1900-01-00; 60 is Excel's fictitious 1900-02-29
        raise ValueError("not a date in the 1900 date system")
    return date(1899, 12, 31 if whole < 60 else 30) + timedelta(days=whole)


def parse_date(cell: Cell) -> date:
    expected = "a date as YYYY-MM-DD or DD/MM/YYYY"
    if cell.kind == "date":
        try:
            return date.fromisoformat(cell.value[:10])
        except ValueError:
            raise CellValueError(Code.DATE_INVALID, expected) from None
    if cell.kind != "text":
        raise CellValueError(Code.DATE_INVALID, expected)
    try:
        if match := _ISO_DATE.match(cell.value):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if match := _UK_DATE.match(cell.value):
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        raise CellValueError(Code.DATE_INVALID, "a real calendar date") from None
    raise CellValueError(Code.DATE_INVALID, expected)


def parse_flag(cell: Cell) -> bool:
    if cell.kind == "bool":
        return cell.value == "TRUE"
    word = cell.text.upper() if cell.kind in ("text", "number") else ""
    if word in FLAG_WORDS:
        return FLAG_WORDS[word]
    raise CellValueError(Code.INVALID_FLAG, "Y or N (also YES/NO, TRUE/FALSE, 1/0)")


def parse_whole_number(cell: Cell, code: Code) -> int:
    """A whole number >= 0: text digits, or a numeric cell with a whole value.

    Numbers above MAX_WHOLE cannot be a count of anything in a monthly return and would
    not fit the warehouse's columns, so they are refused like any other bad value.
    """
    expected = "a whole number of 0 or more"
    if cell.numeric is not None:
        value = _finite(cell.numeric, code, expected)
        if abs(value) <= MAX_WHOLE and value == value.to_integral_value() and value >= 0:
            return int(value)
    elif cell.kind == "text" and _WHOLE.match(cell.value) and len(cell.value.lstrip("0")) <= 15:
        return int(cell.value)
    raise CellValueError(code, expected)


def parse_decimal(cell: Cell, code: Code, *, places: int) -> Decimal:
    """A number >= 0 with at most `places` decimals, as text or a numeric cell."""
    expected = f"a number of 0 or more with at most {places} decimal place{'s' if places > 1 else ''}"
    if cell.kind == "number":
        value = _finite(cell.value, code, expected)
        if abs(value) > MAX_WHOLE:
            raise CellValueError(code, expected)
        rounded = value.quantize(Decimal(1).scaleb(-places))
        if abs(value - rounded) > _NUMERIC_TOLERANCE or value < 0:
            raise CellValueError(code, expected)
        return rounded
    if cell.kind == "text":
        match = _DECIMAL.match(cell.value)
        if match and len(match.group(1) or "") <= places and len(cell.value.split(".")[0].lstrip("0")) <= 15:
            return Decimal(cell.value)
    raise CellValueError(code, expected)
