"""What can be wrong with a return: the contract's error codes and a located problem.

Every problem a school can meet carries a code from spec/returns.md, where it is (sheet,
row as the user sees it, column), the value found and what was expected, so that the
rejection report can tell the school exactly what to fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TypedDict, cast

from stls_warehouse.errors import StlsError
from stls_warehouse.text import safe_text


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


class ProblemDict(TypedDict):
    """A problem as staged and recorded (`Problem.as_dict()`): every field, None when unset."""

    code: str
    message: str
    sheet: str | None
    row: int | None
    column: str | None
    value: str | None
    expected: str | None
    rule: str | None
    cell: str | None


class ContractProblem(TypedDict):
    """A problem as `stls validate --json` promises it (spec/returns.md)."""

    code: str
    message: str
    sheet: str | None
    row: int | None
    column: str | None


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

    def __post_init__(self) -> None:
        # Messages and values quote the school's file: safe for every target (text.py).
        for name in ("message", "sheet", "column", "value", "expected"):
            text = getattr(self, name)
            if isinstance(text, str):
                object.__setattr__(self, name, safe_text(text))

    def as_dict(self) -> ProblemDict:
        return cast(ProblemDict, asdict(self))

    def contract_dict(self) -> ContractProblem:
        """The fields `stls validate --json` promises (spec/returns.md)."""
        return {
            "code": self.code,
            "message": self.message,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
        }


class ReturnUnreadable(StlsError):
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


@dataclass(frozen=True)
class CodeHelp:
    """What a code means, an example, and how to fix it: the help page a school reads."""

    title: str
    meaning: str
    example: str
    fix: str


# One entry per code, in the words a school business manager uses (spec/returns.md's table).
CODE_HELP: dict[Code, CodeHelp] = {
    Code.FILE_TYPE_NOT_ALLOWED: CodeHelp(
        "The file is not an Excel workbook (.xlsx) or a CSV file",
        "Only .xlsx and .csv files are accepted. Older Excel files (.xls), macro workbooks (.xlsm), "
        "binary workbooks (.xlsb) and OpenDocument files (.ods) are not.",
        "LEDGER_SWA_2021-22_P07.xls",
        "In Excel choose File, Save As, and pick 'Excel Workbook (*.xlsx)' or 'CSV UTF-8'. Send that file.",
    ),
    Code.FILE_UNREADABLE: CodeHelp(
        "The file cannot be opened",
        "The file is damaged or cut short, or its contents are not what its name says (for example a "
        "CSV file renamed to .xlsx).",
        "A workbook copied from an e-mail that did not finish downloading.",
        "Open the return in Excel, save it again as .xlsx or CSV UTF-8, and send the saved file.",
    ),
    Code.MACRO_NOT_ALLOWED: CodeHelp(
        "The workbook contains macros",
        "Workbooks with macros (VBA) are refused, even when renamed to .xlsx.",
        "A return built from a macro-enabled budget tool.",
        "Copy the return's sheets into a new workbook without macros and save it as .xlsx.",
    ),
    Code.ENCRYPTED: CodeHelp(
        "The workbook needs a password to open",
        "A workbook protected with a password to open cannot be read. Protecting a sheet is fine.",
        "A return saved with File, Info, Protect Workbook, Encrypt with Password.",
        "Remove the password (File, Info, Protect Workbook, Encrypt with Password, clear it) and save.",
    ),
    Code.FILE_TOO_LARGE: CodeHelp(
        "The file is over 20 MB",
        "A monthly return is far smaller than 20 MB. Large files usually hold other sheets, pictures "
        "or thousands of empty formatted rows.",
        "A return with a scanned invoice pasted into a sheet.",
        "Remove other sheets, pictures and unused rows, save, and send it again.",
    ),
    Code.ENCODING_INVALID: CodeHelp(
        "The CSV file is not saved as UTF-8",
        "CSV files must be saved as 'CSV UTF-8' so that characters such as £ are read correctly.",
        "A CSV saved as 'CSV (Macintosh)' or 'CSV (MS-DOS)'.",
        "In Excel choose File, Save As, 'CSV UTF-8 (Comma delimited)'.",
    ),
    Code.EMPTY_RETURN: CodeHelp(
        "The return has no lines",
        "The table has a header but no lines. A period with nothing to report is sent as a nil return.",
        "A template sent back without filling it in.",
        "Fill in your lines. For a nil return send one line with account_code NIL and amount 0.",
    ),
    Code.FILENAME_INVALID: CodeHelp(
        "The file name does not follow the pattern",
        "The name says which SLA and period the return is for: LEDGER_<SLA>_<YYYY-YY>_P<nn> for a "
        "ledger, KPI_<SLA>_<YYYY-MM> for a KPI return.",
        "Ledger October.xlsx (should be LEDGER_SWA_2021-22_P07.xlsx)",
        "Download the template for the period: it has the right name. Or rename your file to the pattern.",
    ),
    Code.SHEET_MISSING: CodeHelp(
        "The return's sheet is missing",
        "The workbook does not have the sheet holding the return's table.",
        "A workbook whose only sheet is called 'Sheet1' holding something else.",
        "Start from the template and keep its sheet names.",
    ),
    Code.HEADER_MISMATCH: CodeHelp(
        "The column headings are not the expected ones",
        "Row 1 must hold the return's column names exactly once each; a row must not have more or "
        "fewer fields than the header.",
        "A heading typed as 'Amount (£)' instead of amount.",
        "Copy row 1 from the template and keep your data below it.",
    ),
    Code.MISSING_VALUE: CodeHelp(
        "A required cell is empty",
        "Some columns must have a value on every line.",
        "A ledger line with no posting_date.",
        "Fill in the cell named in the problem, then send the whole file again.",
    ),
    Code.PERIOD_MISMATCH: CodeHelp(
        "The SLA or period in the lines does not match the file name",
        "Every line must be for the SLA and period the file name gives, and each posting date must be "
        "in that period's month (P13: March or April).",
        "A P07 return (October) with a posting date of 2021-11-03.",
        "Correct the line's period or date, or move the line to the right period's return.",
    ),
    Code.UNKNOWN_SLA: CodeHelp(
        "The SLA code is not one of the 14",
        "sla_code must be one of the 14 SLA codes of the register.",
        "SWALE instead of SWA.",
        "Use your SLA's code as the template fills it in.",
    ),
    Code.UNKNOWN_ACCOUNT: CodeHelp(
        "The account code is not a known CFR code",
        "account_code must be a code of the Consistent Financial Reporting list the return uses.",
        "E99",
        "Use a code from the template's Notes sheet, for example E01 for teaching staff.",
    ),
    Code.INVALID_FUND_STRAND: CodeHelp(
        "The fund strand is not one of the four",
        "fund_strand says which money a line belongs to.",
        "CORE FUNDING",
        "Write one of the fund strands the template's Notes sheet lists.",
    ),
    Code.INVALID_FLAG: CodeHelp(
        "is_overhead_recharge is not yes or no",
        "The column says whether the line is an overhead recharge.",
        "maybe",
        "Write Y or N.",
    ),
    Code.AMOUNT_INVALID: CodeHelp(
        "The amount is not an amount in pounds",
        "Amounts are pounds and pence: positive for spend, negative for income, at most two decimals.",
        "12,34.567 or £1,234.56p",
        "Write the amount like 1234.56, -250.00 or (1,234.56).",
    ),
    Code.DATE_INVALID: CodeHelp(
        "The date is not a date",
        "posting_date must be a date written as YYYY-MM-DD or DD/MM/YYYY (a month as YYYY-MM).",
        "31/09/2021 or 'Oct'",
        "Write the date like 2021-10-15 or 15/10/2021.",
    ),
    Code.FORMULA_ERROR: CodeHelp(
        "A cell shows an Excel error",
        "A formula in the cell gives an error value such as #REF! or #DIV/0!.",
        "#REF! in the amount column after a sheet was deleted.",
        "Fix the formula in Excel (or type the value), save, and send again.",
    ),
    Code.FORMULA_NOT_CALCULATED: CodeHelp(
        "A formula has not been calculated",
        "The workbook was saved by a program that did not calculate its formulas.",
        "A workbook produced by a finance system export.",
        "Open the file in Excel, let it calculate, save, and send again.",
    ),
    Code.MERGED_CELLS: CodeHelp(
        "The table has merged cells",
        "Merged cells in the header or the lines make columns ambiguous.",
        "A title merged across A1:L1 above the header.",
        "Select the table, choose Merge & Center, Unmerge Cells, and keep one value per cell.",
    ),
    Code.DUPLICATE_LINE: CodeHelp(
        "The same line reference appears twice",
        "line_ref (ledger) or kpi_code (KPI) must be unique within the return.",
        "Two lines with line_ref L0042.",
        "Give each line its own reference, or remove the repeated line.",
    ),
    Code.CONTROL_TOTAL_MISMATCH: CodeHelp(
        "The Control sheet does not match the lines",
        "The optional Control sheet's control_total must equal the sum of the amounts to the penny, "
        "and line_count the number of lines.",
        "control_total 10,000.00 while the lines add up to 9,990.00.",
        "Correct the lines or the Control sheet so that they agree.",
    ),
    Code.UNKNOWN_KPI: CodeHelp(
        "The KPI code is not known",
        "kpi_code must be one of the KPIs the template lists.",
        "REFERRALS instead of REF_RCVD.",
        "Use the codes in the template's Notes sheet.",
    ),
    Code.KPI_MISSING: CodeHelp(
        "A required KPI is missing",
        "Every required KPI needs a row each month, even when its value is 0.",
        "No row for STAFF_FTE.",
        "Add the KPI's row; the template has one row per required KPI.",
    ),
    Code.VALUE_INVALID: CodeHelp(
        "The KPI value is not valid for its unit",
        "Counts are whole numbers, percentages need numerator and denominator, scores are 1 to 5.",
        "A count of 12.5 referrals.",
        "Follow the unit rule in the KPI row's comment in the template.",
    ),
    Code.HIDDEN_SHEET: CodeHelp(
        "The workbook has a hidden sheet (warning)",
        "Hidden sheets are not read. This does not stop the return.",
        "A hidden 'Workings' sheet.",
        "Nothing to do if the hidden sheet is not part of the return.",
    ),
    Code.PROBLEMS_CAPPED: CodeHelp(
        "More problems of one kind than are listed (warning)",
        "At most 100 problems of each code are listed.",
        "250 AMOUNT_INVALID problems: 100 shown.",
        "Fix the problems shown, then check the file again to see the rest.",
    ),
}
