"""Financial years, ledger periods and KPI months, as the returns contract defines them.

A financial year runs April to March and is written `2021-22`. P1 is April, P12 is March,
P13 holds year-end adjustments posted in March or April of the year in which it ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

FINANCIAL_YEAR_RE = re.compile(r"^(\d{4})-(\d{2})$")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_financial_year(text: str) -> int | None:
    """The starting calendar year of `YYYY-YY`, or None when the text is not one."""
    match = FINANCIAL_YEAR_RE.match(text)
    if not match:
        return None
    start = int(match.group(1))
    if int(match.group(2)) != (start + 1) % 100:
        return None
    return start


def financial_year_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def financial_year_of(day: date) -> str:
    return financial_year_label(day.year if day.month >= 4 else day.year - 1)


@dataclass(frozen=True, order=True)
class LedgerPeriod:
    start_year: int
    period: int  # 1..13

    @property
    def financial_year(self) -> str:
        return financial_year_label(self.start_year)

    @property
    def key(self) -> str:
        return f"{self.financial_year}-P{self.period:02d}"

    def months(self) -> tuple[tuple[int, int], ...]:
        """The calendar (year, month) pairs a posting date of this period may fall in."""
        if self.period == 13:
            return ((self.start_year + 1, 3), (self.start_year + 1, 4))
        month = (self.period + 2) % 12 + 1  # P1 -> 4, P9 -> 12, P10 -> 1
        year = self.start_year if self.period <= 9 else self.start_year + 1
        return ((year, month),)

    def contains(self, day: date) -> bool:
        return (day.year, day.month) in self.months()

    @property
    def end_date(self) -> date:
        year, month = self.months()[-1]
        return _month_end(year, month)


@dataclass(frozen=True, order=True)
class KpiMonth:
    year: int
    month: int

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def financial_year(self) -> str:
        return financial_year_of(date(self.year, self.month, 1))

    @property
    def end_date(self) -> date:
        return _month_end(self.year, self.month)

    def previous(self) -> KpiMonth:
        return KpiMonth(self.year, self.month - 1) if self.month > 1 else KpiMonth(self.year - 1, 12)


def parse_kpi_month(text: str) -> KpiMonth | None:
    match = MONTH_RE.match(text)
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1900:
        return None
    return KpiMonth(year, month)


def ledger_periods(financial_year: str, *, with_p13: bool = False) -> list[LedgerPeriod]:
    start = parse_financial_year(financial_year)
    if start is None:
        raise ValueError(f"not a financial year: {financial_year!r}")
    return [LedgerPeriod(start, p) for p in range(1, 14 if with_p13 else 13)]


def kpi_months(financial_year: str) -> list[KpiMonth]:
    return [KpiMonth(*p.months()[0]) for p in ledger_periods(financial_year)]


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)
