"""Blank returns for schools, built from the same contract and reference data the validator uses.

A ledger template holds the header and one line with its SLA, financial year and period
filled in (copy it down, one row per ledger line). A KPI template holds one row per required
KPI with its SLA, month and code filled in and, in the comment column, the KPI's unit and
rule; the XLSX adds a Notes sheet listing every KPI (the optional PARENT_SAT too: add its
row in months with survey results). The table itself is exactly the contract's table, so a
filled template validates; left blank it is rejected, never mistaken for a nil return.
"""

from __future__ import annotations

import re
from pathlib import Path

from stls_warehouse import reference
from stls_warehouse.errors import StlsError
from stls_warehouse.intake import naming
from stls_warehouse.intake.contract import KPI, LEDGER
from stls_warehouse.intake.writers import Cell, Row, render_table, write_if_changed
from stls_warehouse.periods import KpiMonth, LedgerPeriod, parse_financial_year, parse_kpi_month

_LEDGER_KEY = re.compile(r"^(\d{4}-\d{2})-P(\d{1,2})$", re.IGNORECASE)

UNIT_NOTES = {
    "count": "count: a whole number of 0 or more",
    "days": "days: 0 or more, at most one decimal (e.g. 7.5)",
    "percent": (
        "%: give numerator and denominator (whole numbers, numerator <= denominator); value is "
        "100 x numerator / denominator to one decimal, or empty"
    ),
    "score": "score: 1.00 to 5.00, at most two decimals; empty when TRN_SESS is 0",
    "fte": "FTE: 0 or more, at most two decimals",
}


class TemplateError(StlsError, ValueError):
    """A template was asked for with an unknown SLA or an impossible period."""

    exit_code = 2


def ledger_period(key: str) -> LedgerPeriod:
    match = _LEDGER_KEY.match(key.strip())
    start = parse_financial_year(match.group(1)) if match else None
    if match is None or start is None or not 1 <= int(match.group(2)) <= 13:
        raise TemplateError(f"'{key}' is not a ledger period; write it like 2021-22-P07 (P01 to P13)")
    return LedgerPeriod(start, int(match.group(2)))


def kpi_month(key: str) -> KpiMonth:
    month = parse_kpi_month(key.strip())
    if month is None:
        raise TemplateError(f"'{key}' is not a KPI month; write it like 2022-10")
    return month


def _sla(code: str) -> str:
    sla = code.strip().upper()
    if sla not in reference.slas():
        raise TemplateError(f"'{code}' is not one of the 14 SLA codes ({', '.join(reference.slas())})")
    return sla


def _row(*cells: Cell) -> list[Cell]:
    return list(cells)


def ledger_template(sla_code: str, period_key: str, fmt: str) -> tuple[str, bytes]:
    """(file name, bytes) of a blank ledger return."""
    sla, period = _sla(sla_code), ledger_period(period_key)
    row: Row = {"sla_code": sla, "financial_year": period.financial_year, "period": period.period}
    notes: list[list[Cell]] = []
    if fmt == "xlsx":
        notes = [
            ["column", "required", "what to write"],
            *[
                _row(
                    column.name,
                    "yes" if column.required else "no",
                    column.template_help(period.financial_year),
                )
                for column in LEDGER.fields
            ],
            [],
            ["Copy row 2 down, one row per ledger line. A period with nothing to report: one line with"],
            ["account_code NIL and amount 0. An optional 'Control' sheet may hold control_total and"],
            ["line_count (labels in column A, values in column B)."],
            [],
            [f"Account codes of the CFR list for {period.financial_year} (the list changes by year)"],
            ["account_code", "CFR name", "reported under", "valid"],
            *[
                _row(code.account_code, code.account_name, code.expenditure_category, code.years_in_words)
                for code in reference.account_codes_in(period.financial_year).values()
            ],
        ]
    data = render_table(fmt, LEDGER, [row], notes=notes)
    return naming.ledger_file_name(sla, period, f".{fmt}"), data


def kpi_template(sla_code: str, month_key: str, fmt: str) -> tuple[str, bytes]:
    """(file name, bytes) of a blank KPI return: one row per required KPI."""
    sla, month = _sla(sla_code), kpi_month(month_key)
    definitions = reference.kpi_definitions()
    rows: list[Row] = [
        {
            "sla_code": sla,
            "month": month.key,
            "kpi_code": code,
            "comment": f"{definition.kpi_name}. Unit: {UNIT_NOTES[definition.unit]}",
        }
        for code, definition in definitions.items()
        if definition.required
    ]
    notes: list[list[Cell]] = []
    if fmt == "xlsx":
        notes = [
            ["kpi_code", "meaning", "unit", "required", "rule"],
            *[
                _row(
                    code,
                    d.kpi_name,
                    d.unit,
                    "yes" if d.required else "no: add a row in months you have it",
                    UNIT_NOTES[d.unit],
                )
                for code, d in definitions.items()
            ],
        ]
    data = render_table(fmt, KPI, rows, notes=notes)
    return naming.kpi_file_name(sla, month, f".{fmt}"), data


def write_template(return_type: str, sla_code: str, period_key: str, fmt: str, out_dir: Path) -> Path:
    if fmt not in ("xlsx", "csv"):
        raise TemplateError(f"format '{fmt}' is not xlsx or csv")
    build = ledger_template if return_type == "ledger" else kpi_template
    name, data = build(sla_code, period_key, fmt)
    target = out_dir / name
    write_if_changed(target, data)
    return target


def optional_kpi_note() -> str:
    """What a CSV template cannot show: the optional KPIs and how to add them."""
    optional = [d for d in reference.kpi_definitions().values() if not d.required]
    lines = [
        f"Optional: {d.kpi_code} ({d.kpi_name}; {UNIT_NOTES[d.unit]}): add its row in months you have it."
        for d in optional
    ]
    return "\n".join(lines)
