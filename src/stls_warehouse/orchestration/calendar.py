"""Which returns a close run covers, derived from the month it closes (never from the clock).

The monthly close for month M runs after the latest due date of M's returns (the 20th of
M+1 by default, see `dbt_project/seeds/ref_return_deadlines.csv`) and closes the ledger
period and KPI month of M. Closing April also closes P13 of the year that ended in March
(P13 postings fall in March or April), so the May close finishes a financial year and
announces it to the annual review. Every date here follows from the month alone, which
makes re-running or back-filling a close give the same answer whenever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypedDict

from stls_warehouse.periods import KpiMonth, LedgerPeriod, financial_year_label, parse_kpi_month

CLOSE_DAY = 20  # day of the following month the close runs on; after every due date in the seed


class CloseDetails(TypedDict):
    """A close as the monthly close's tasks pass it on (`Close.as_dict`)."""

    month: str
    period_keys: list[str]
    financial_year: str
    as_of: str  # YYYY-MM-DD
    closes_year: str | None


@dataclass(frozen=True)
class Close:
    month: KpiMonth

    @property
    def ledger_periods(self) -> tuple[LedgerPeriod, ...]:
        start_year = self.month.year if self.month.month >= 4 else self.month.year - 1
        period = (self.month.month - 4) % 12 + 1  # April -> P1, March -> P12
        regular = LedgerPeriod(start_year, period)
        if self.month.month == 4:
            return (LedgerPeriod(start_year - 1, 13), regular)
        return (regular,)

    @property
    def period_keys(self) -> tuple[str, ...]:
        return (*(p.key for p in self.ledger_periods), self.month.key)

    @property
    def as_of(self) -> date:
        """The date statuses are judged at: the close day, after every due date of the month."""
        year, month = (
            (self.month.year + 1, 1) if self.month.month == 12 else (self.month.year, self.month.month + 1)
        )
        return date(year, month, CLOSE_DAY)

    @property
    def closes_year(self) -> str | None:
        """The financial year whose last returns (P12 and P13) this close completes."""
        if self.month.month == 4:
            return financial_year_label(self.month.year - 1)
        return None

    def as_dict(self) -> CloseDetails:
        return {
            "month": self.month.key,
            "period_keys": list(self.period_keys),
            "financial_year": self.ledger_periods[-1].financial_year,
            "as_of": self.as_of.isoformat(),
            "closes_year": self.closes_year,
        }


def close_for_month(text: str) -> Close:
    month = parse_kpi_month(text)
    if month is None:
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    return Close(month)


def close_for_run(run_date: date) -> Close:
    """The close a run on `run_date` performs: the month before it."""
    return Close(KpiMonth(run_date.year, run_date.month).previous())


def annual_review_as_of(financial_year: str) -> date:
    """The annual review judges a year at the May close that finished it."""
    start = int(financial_year[:4])
    return close_for_month(f"{start + 1}-04").as_of
