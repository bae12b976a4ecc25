"""Reference data, read from its one home: the dbt seeds in dbt_project/seeds/.

The validator, the synthetic-data generator, the templates and the dbt models all read the
same CSV files, so adding an SLA or an account code is a one-line change in one place.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from stls_warehouse.config import SEEDS_DIR
from stls_warehouse.periods import financial_year_label, financial_year_of, parse_financial_year

SERVICE_LINES = ("DISTRICT", "PD", "SENSORY")
EXPENDITURE_CATEGORIES = (
    "DIRECT_STAFFING",
    "INDIRECT_STAFFING",
    "OPERATIONAL",
    "OTHER",
    "INCOME",
)


def seed_rows(name: str) -> list[dict[str, str]]:
    """A seed's rows as text, read from its one home under dbt_project/seeds."""
    path: Path = SEEDS_DIR / f"{name}.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class Sla:
    sla_code: str
    service_line: str
    sla_name: str
    district_name: str
    district_ons_code: str
    area: str
    holder_school: str


@dataclass(frozen=True)
class AccountCode:
    account_code: str
    account_name: str
    expenditure_category: str
    # The CFR framework changes by financial year: a code is valid in a year whose 1 April
    # lies between these dates (inclusive).
    valid_from: date = date(2000, 4, 1)
    valid_to: date = date(9999, 12, 31)

    def is_valid_in(self, financial_year: str) -> bool:
        start = _year_start(financial_year)
        return start is not None and self.valid_from <= start <= self.valid_to

    @property
    def years_in_words(self) -> str:
        """When the code is valid, as a school reads it: `to 2023-24`, `from 2024-25`."""
        parts = []
        if self.valid_from > date(2000, 4, 1):
            parts.append(f"from {financial_year_label(self.valid_from.year)}")
        if self.valid_to < date(9999, 12, 31):
            parts.append(f"to {financial_year_label(self.valid_to.year - 1)}")
        return " ".join(parts) or "in every year"


@dataclass(frozen=True)
class KpiDefinition:
    kpi_code: str
    kpi_name: str
    unit: str  # count, days, percent, score, fte
    required: bool
    polarity: str
    target: Decimal | None
    floor: Decimal | None


@dataclass(frozen=True)
class Budget:
    sla_code: str
    financial_year: str
    core_budget: Decimal
    outreach_budget: Decimal

    @property
    def total(self) -> Decimal:
        return self.core_budget + self.outreach_budget


def _optional_decimal(text: str) -> Decimal | None:
    return Decimal(text) if text.strip() else None


@cache
def slas() -> dict[str, Sla]:
    """The SLA register as it stands today (rows whose validity covers today)."""
    today = date.today().isoformat()
    register = {}
    for row in seed_rows("ref_sla_register"):
        if row["valid_from"] <= today <= row["valid_to"]:
            register[row["sla_code"]] = Sla(**{k: row[k] for k in Sla.__dataclass_fields__})
    return register


def _year_start(financial_year: str) -> date | None:
    start = parse_financial_year(financial_year)
    return None if start is None else date(start, 4, 1)


@cache
def account_codes() -> dict[str, AccountCode]:
    """Every account code of any year, keyed by its upper-cased spelling (codes are
    case-insensitive). Which year a code is valid in: `account_codes_in`."""
    codes: dict[str, AccountCode] = {}
    for row in seed_rows("ref_account_codes"):
        key = row["account_code"].upper()
        if key in codes:
            raise ValueError(f"ref_account_codes: {row['account_code']} is listed twice")
        codes[key] = AccountCode(
            row["account_code"],
            row["account_name"],
            row["expenditure_category"],
            date.fromisoformat(row["valid_from"]),
            date.fromisoformat(row["valid_to"]),
        )
    return codes


@cache
def account_codes_in(financial_year: str) -> dict[str, AccountCode]:
    """The account codes valid in a financial year (the CFR list of that year), keyed by
    their upper-cased spelling; empty for a text that is not a financial year."""
    return {key: code for key, code in account_codes().items() if code.is_valid_in(financial_year)}


@cache
def account_code_eras() -> tuple[tuple[str | None, str | None, frozenset[str]], ...]:
    """The spans of financial years over which the code list does not change, oldest
    first, as (first year, or None for every year before; the year after the span, or None
    for every year after; the canonical codes valid in it). Today: (None, 2024-25, with
    E20) and (2024-25, None, without E20)."""
    codes = account_codes().values()
    bounds = sorted(
        {financial_year_of(c.valid_from) for c in codes if c.valid_from > date(2000, 4, 1)}
        | {
            financial_year_of(c.valid_to + timedelta(days=1))
            for c in codes
            if c.valid_to < date(9999, 12, 31)
        }
    )
    eras = []
    for first, after in zip([None, *bounds], [*bounds, None], strict=True):
        probe = first or financial_year_label(int((after or "2021")[:4]) - 1)
        eras.append((first, after, frozenset(c.account_code for c in codes if c.is_valid_in(probe))))
    return tuple(eras)


@cache
def kpi_definitions() -> dict[str, KpiDefinition]:
    return {
        row["kpi_code"]: KpiDefinition(
            kpi_code=row["kpi_code"],
            kpi_name=row["kpi_name"],
            unit=row["unit"],
            required=row["required"].lower() == "true",
            polarity=row["polarity"],
            target=_optional_decimal(row["target"]),
            floor=_optional_decimal(row["floor"]),
        )
        for row in seed_rows("ref_kpi_definitions")
    }


@cache
def cost_centre_activities() -> tuple[str, ...]:
    """The activities a cost centre's last `-` part may name (CORE, OUTREACH, TRADED)."""
    return tuple(row["activity_code"] for row in seed_rows("ref_cost_centre_activities"))


@cache
def fund_strands() -> tuple[str, ...]:
    return tuple(row["fund_strand"] for row in seed_rows("ref_fund_strands"))


@cache
def high_needs_strands() -> tuple[str, ...]:
    """The strands paid from the High Needs Block (`ref_fund_strands.is_high_needs`): what
    outturn sums. Traded work is paid for by its buyers and stands beside it (marts.md 1.1)."""
    return tuple(
        row["fund_strand"]
        for row in seed_rows("ref_fund_strands")
        if row["is_high_needs"].strip().lower() == "true"
    )


def high_needs_condition(column: str = "fund_strand") -> str:
    """SQL that is true for a High Needs line: `fund_strand in ('CORE', 'OUTREACH', 'PENSION')`.
    The codes come from the seed, never from a user."""
    return f"{column} in ({', '.join(repr(code) for code in high_needs_strands())})"


def fund_strands_in_words() -> str:
    """The fund strands as a school reads them in a message: `CORE, OUTREACH, PENSION or TRADED`."""
    *first, last = fund_strands()
    return f"{', '.join(first)} or {last}" if first else last


@cache
def budgets() -> dict[tuple[str, str], Budget]:
    """Core and outreach budget per (sla_code, financial_year)."""
    return {
        (row["sla_code"], row["financial_year"]): Budget(
            row["sla_code"],
            row["financial_year"],
            Decimal(row["core_budget"]),
            Decimal(row["outreach_budget"]),
        )
        for row in seed_rows("ref_sla_budgets")
    }


@cache
def pension_funding() -> dict[str, Decimal]:
    return {
        row["financial_year"]: Decimal(row["pension_funding"]) for row in seed_rows("ref_pension_funding")
    }


@cache
def financial_years() -> tuple[str, ...]:
    """Financial years the warehouse budgets for, oldest first."""
    return tuple(sorted({fy for (_, fy) in budgets()}))


def due_date(return_type: str, period_end: date) -> date:
    """When a return is due: its period's last day plus ref_return_deadlines' days for the
    return type, under the deadline in force on that last day (as int_returns_scheduled)."""
    from datetime import timedelta

    for row in seed_rows("ref_return_deadlines"):
        if row["return_type"] == return_type and date.fromisoformat(
            row["valid_from"]
        ) <= period_end <= date.fromisoformat(row["valid_to"]):
            return period_end + timedelta(days=int(row["due_days_after_period_end"]))
    raise LookupError(f"ref_return_deadlines has no deadline for {return_type} returns on {period_end}")


@cache
def service_line_names() -> dict[str, str]:
    """DISTRICT -> District STLS, in the Forum's order (ref_service_lines)."""
    rows = sorted(seed_rows("ref_service_lines"), key=lambda r: int(r["sort_order"]))
    return {r["service_line"]: r["service_line_name"] for r in rows}


@cache
def category_names() -> dict[str, str]:
    """DIRECT_STAFFING -> Direct staffing, in the reports' order (ref_expenditure_categories)."""
    rows = sorted(seed_rows("ref_expenditure_categories"), key=lambda r: int(r["sort_order"]))
    return {r["expenditure_category"]: r["category_name"] for r in rows}


def sla_label(code: str) -> str:
    """`Ashford STLS (ASH)`: the register's name with the code finance staff know it by."""
    sla = slas().get(code)
    return f"{sla.sla_name} ({code})" if sla else code
