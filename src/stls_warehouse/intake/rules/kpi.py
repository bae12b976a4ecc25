"""The KPI return's rules (spec/returns.md, KPI return): the row's SLA, month and code,
then its value by the KPI's unit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from stls_warehouse import reference
from stls_warehouse.intake.problems import CellValueError, Code
from stls_warehouse.intake.result import KpiRow, ValidationResult
from stls_warehouse.intake.rules.base import Collector, Row, Table, check_sla
from stls_warehouse.intake.values import parse_decimal, parse_whole_number
from stls_warehouse.periods import KpiMonth, parse_kpi_month

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


def check_kpi_rows(result: ValidationResult, problems: Collector, table: Table) -> None:
    name = result.name
    file_month = name.period if name is not None and isinstance(name.period, KpiMonth) else None
    definitions = reference.kpi_definitions()
    first_row: dict[str, int] = {}
    parsed: list[tuple[Row, str, str | None, str | None]] = []  # row, kpi code, sla, month
    result.line_count = len(table.rows)
    for number, cells in table.rows:
        if number in table.ragged:
            continue
        row = Row(problems, table, number, cells)
        sla = check_sla(row, name)
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


def _check_kpi_month(row: Row, file_month: KpiMonth | None) -> str | None:
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


def _training_sessions(parsed: list[tuple[Row, str, str | None, str | None]]) -> int | None:
    for row, code, _, _ in parsed:
        if code == "TRN_SESS" and (cell := row.cell("value")) is not None:
            try:
                return parse_whole_number(cell, Code.VALUE_INVALID)
            except CellValueError:
                return None
    return None


def _check_kpi_value(
    row: Row, definition: reference.KpiDefinition, sessions: int | None
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
