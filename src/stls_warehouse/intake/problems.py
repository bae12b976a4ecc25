"""What can be wrong with a return: the contract's error codes and a located problem.

Every problem a school can meet carries a code from spec/returns.md, where it is (sheet,
row as the user sees it, column), the value found and what was expected, so that the
rejection report can tell the school exactly what to fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    FILE_TYPE_NOT_ALLOWED = "FILE_TYPE_NOT_ALLOWED"
    FILE_UNREADABLE = "FILE_UNREADABLE"
    MACRO_NOT_ALLOWED = "MACRO_NOT_ALLOWED"
    ENCRYPTED = "ENCRYPTED"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    ENCODING_INVALID = "ENCODING_INVALID"
    EMPTY_RETURN = "EMPTY_RETURN"
    FILENAME_INVALID = "FILENAME_INVALID"
    SHEET_MISSING = "SHEET_MISSING"
    HEADER_MISMATCH = "HEADER_MISMATCH"
    MISSING_VALUE = "MISSING_VALUE"
    PERIOD_MISMATCH = "PERIOD_MISMATCH"
    UNKNOWN_SLA = "UNKNOWN_SLA"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    INVALID_FUND_STRAND = "INVALID_FUND_STRAND"
    INVALID_FLAG = "INVALID_FLAG"
    AMOUNT_INVALID = "AMOUNT_INVALID"
    DATE_INVALID = "DATE_INVALID"
    FORMULA_ERROR = "FORMULA_ERROR"
    FORMULA_NOT_CALCULATED = "FORMULA_NOT_CALCULATED"
    MERGED_CELLS = "MERGED_CELLS"
    DUPLICATE_LINE = "DUPLICATE_LINE"
    CONTROL_TOTAL_MISMATCH = "CONTROL_TOTAL_MISMATCH"
    UNKNOWN_KPI = "UNKNOWN_KPI"
    KPI_MISSING = "KPI_MISSING"
    VALUE_INVALID = "VALUE_INVALID"
    # Warnings: never reject.
    HIDDEN_SHEET = "HIDDEN_SHEET"
    PROBLEMS_CAPPED = "PROBLEMS_CAPPED"


# The codes after which the file cannot be read, so only file-level problems are listed.
# (The contract's first seven codes.)
UNREADABLE_CODES = frozenset(
    {
        Code.FILE_TYPE_NOT_ALLOWED,
        Code.FILE_UNREADABLE,
        Code.MACRO_NOT_ALLOWED,
        Code.ENCRYPTED,
        Code.FILE_TOO_LARGE,
        Code.ENCODING_INVALID,
        Code.EMPTY_RETURN,
    }
)

# Problems about the file as a whole, listed even when its rows cannot be read.
FILE_LEVEL_CODES = UNREADABLE_CODES | {Code.FILENAME_INVALID}


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None
    expected: str | None = None
    rule: str | None = None  # the quality rule's name, for content checks
    cell: str | None = None  # the spreadsheet reference, e.g. J7 (CSV: as Excel shows it)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def contract_dict(self) -> dict[str, Any]:
        """The fields `stls validate --json` promises (spec/returns.md)."""
        return {
            "code": self.code,
            "message": self.message,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
        }


class ReturnUnreadable(Exception):
    """The file cannot be read as a return at all; carries the file-level problem."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(code=code, message=message)


class CellValueError(ValueError):
    """A cell's value is not of the expected form; carries the code to report."""

    def __init__(self, code: Code, expected: str) -> None:
        super().__init__(expected)
        self.code = code
        self.expected = expected
