"""Spell typed returns the way each school writes them (all spellings valid in v1).

CSV cells are text: money as `1234.56`, `1,234.56`, `£1,234.56`, credits `-…` or in
brackets; dates ISO or UK (`05/10/2021`, `5/10/2021`); flags Y/N, Yes/No, TRUE/FALSE or
y/n; period `7` or `07`. XLSX cells are native where Excel would make them so: numeric
amounts (Decimal or float), date cells, Excel booleans or flag text, integer periods,
and the KPI month as text or as a date cell.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from stls_warehouse import reference
from stls_warehouse.intake.writers import Cell
from stls_warehouse.synthetic.model import KpiReturn, LedgerLine, LedgerReturn
from stls_warehouse.synthetic.profiles import SlaProfile

_FLAG_TEXT = {
    "YN": ("Y", "N"),
    "yn": ("y", "n"),
    "YESNO": ("Yes", "No"),
    "TRUEFALSE": ("TRUE", "FALSE"),
    "bool": ("TRUE", "FALSE"),  # a CSV cannot hold an Excel boolean
}


def money_text(amount: Decimal, style: str) -> str:
    magnitude = abs(amount)
    body = f"{magnitude:.2f}" if style == "plain" else f"{magnitude:,.2f}"
    if style.startswith("pound"):
        body = f"£{body}"
    if amount >= 0:
        return body
    return f"({body})" if style.endswith("bracket") else f"-{body}"


def date_text(day: date, style: str) -> str:
    if style == "uk":
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    if style == "uk_short":
        return f"{day.day}/{day.month}/{day.year}"
    return day.isoformat()


def _strand(profile: SlaProfile, strand: str) -> str:
    return strand.title() if profile.title_case_strand else strand


def ledger_rows(ledger: LedgerReturn, profile: SlaProfile) -> list[dict[str, Cell]]:
    return [_ledger_row(line, profile) for line in ledger.lines]


def canonical_ledger_row(line: LedgerLine) -> dict[str, str]:
    """A line as the contract's plain CSV writes it (ISO dates, Y/N flags, decimal text), for
    tests and benchmarks that build one return by hand."""
    return {
        "sla_code": line.sla_code,
        "financial_year": line.financial_year,
        "period": str(line.period),
        "line_ref": line.line_ref,
        "posting_date": line.posting_date.isoformat(),
        "cost_centre": line.cost_centre,
        "account_code": line.account_code,
        "fund_strand": line.fund_strand,
        "description": line.description,
        "amount": str(line.amount),
        "is_overhead_recharge": "Y" if line.is_overhead_recharge else "N",
    }


def _ledger_row(line: LedgerLine, profile: SlaProfile) -> dict[str, Cell]:
    row: dict[str, Cell] = {
        "sla_code": line.sla_code,
        "financial_year": line.financial_year,
        "line_ref": line.line_ref,
        "cost_centre": line.cost_centre,
        "account_code": line.account_code,
        "fund_strand": _strand(profile, line.fund_strand),
        "description": line.description,
    }
    if profile.ledger_format == "xlsx":
        row["period"] = line.period
        row["posting_date"] = line.posting_date
        row["amount"] = line.amount if profile.xlsx_amount == "decimal" else float(line.amount)
        if profile.flag_style == "bool":
            row["is_overhead_recharge"] = line.is_overhead_recharge
        else:
            row["is_overhead_recharge"] = _flag(line.is_overhead_recharge, profile.flag_style)
    else:
        row["period"] = f"{line.period:02d}" if profile.period_padded else str(line.period)
        row["posting_date"] = date_text(line.posting_date, profile.date_style)
        row["amount"] = money_text(line.amount, profile.money_style)
        row["is_overhead_recharge"] = _flag(line.is_overhead_recharge, profile.flag_style)
    return row


def _flag(value: bool, style: str) -> str:
    yes, no = _FLAG_TEXT[style]
    return yes if value else no


def kpi_rows(kpi: KpiReturn, profile: SlaProfile) -> list[dict[str, Cell]]:
    units = {code: d.unit for code, d in reference.kpi_definitions().items()}
    native = profile.kpi_format == "xlsx"
    month: Cell = kpi.month
    if native and profile.kpi_month_as_date:
        year, number = kpi.month.split("-")
        month = date(int(year), int(number), 1)
    rows: list[dict[str, Cell]] = []
    for row in kpi.rows:
        value: Cell = row.value
        if row.value is not None and units[row.kpi_code] == "count":
            value = int(row.value)
        if not native:
            value = "" if value is None else str(value)
        rows.append(
            {
                "sla_code": row.sla_code,
                "month": month,
                "kpi_code": row.kpi_code,
                "value": value,
                "numerator": _whole(row.numerator, native),
                "denominator": _whole(row.denominator, native),
                "comment": (row.comment or None) if native else row.comment,
            }
        )
    return rows


def _whole(number: int | None, native: bool) -> Cell:
    if number is None:
        return None if native else ""
    return number if native else str(number)
