"""The generator's in-memory returns: typed values, before any school's spelling is applied."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from stls_warehouse.intake.contract import KPI, LEDGER


@dataclass(frozen=True)
class LedgerLine:
    sla_code: str
    financial_year: str
    period: int
    line_ref: str
    posting_date: date
    cost_centre: str
    account_code: str
    fund_strand: str
    description: str
    amount: Decimal  # pounds, two places; positive = spend, negative = income or credit
    is_overhead_recharge: bool


@dataclass(frozen=True)
class LedgerReturn:
    sla_code: str
    financial_year: str
    period: int
    lines: tuple[LedgerLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def period_key(self) -> str:
        return f"{self.financial_year}-P{self.period:02d}"

    def file_name(self, extension: str) -> str:
        return f"{LEDGER.prefix}_{self.sla_code}_{self.financial_year}_P{self.period:02d}.{extension}"


@dataclass(frozen=True)
class KpiRow:
    sla_code: str
    month: str  # YYYY-MM
    kpi_code: str
    value: Decimal | None  # None = empty cell (a % with denominator 0, TRN_EVAL with no sessions)
    numerator: int | None
    denominator: int | None
    comment: str = ""


@dataclass(frozen=True)
class KpiReturn:
    sla_code: str
    month: str
    rows: tuple[KpiRow, ...]

    def value(self, kpi_code: str) -> Decimal | None:
        for row in self.rows:
            if row.kpi_code == kpi_code:
                return row.value
        raise KeyError(kpi_code)

    def file_name(self, extension: str) -> str:
        return f"{KPI.prefix}_{self.sla_code}_{self.month}.{extension}"


@dataclass(frozen=True)
class SyntheticReturns:
    ledgers: tuple[LedgerReturn, ...]
    kpis: tuple[KpiReturn, ...]

    def ledger_lines(self) -> Iterator[LedgerLine]:
        for ledger in self.ledgers:
            yield from ledger.lines

    def kpi_rows(self) -> Iterator[KpiRow]:
        for kpi in self.kpis:
            yield from kpi.rows
