"""What checking one return gives: its problems and, when accepted, its typed lines.

The records are the canonical form of a return's table (spec/returns.md): one LedgerLine
per ledger line, one KpiRow per KPI row, each field typed as the warehouse stores it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from stls_warehouse.intake import naming
from stls_warehouse.intake.problems import Problem


@dataclass(frozen=True)
class LedgerLine:
    source_row: int
    sla_code: str
    financial_year: str
    period: int
    line_ref: str
    posting_date: date
    cost_centre: str | None
    account_code: str
    fund_strand: str
    description: str | None
    amount: Decimal
    is_overhead_recharge: bool


@dataclass(frozen=True)
class KpiRow:
    source_row: int
    sla_code: str
    kpi_month: str
    kpi_code: str
    value: Decimal | None
    numerator: int | None
    denominator: int | None
    comment: str | None


@dataclass
class ValidationResult:
    file: str
    sha256: str
    size: int
    return_type: str | None = None
    name: naming.ReturnName | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    ledger_lines: list[LedgerLine] = field(default_factory=list)
    kpi_rows: list[KpiRow] = field(default_factory=list)
    is_nil: bool = False
    line_count: int = 0  # data lines in the table (a nil line counts)
    amounts_valid: bool = True  # every amount parsed: the Control total can be compared
    amount_sum: Decimal = Decimal("0.00")  # of every parsed amount, lines with other errors too

    @property
    def accepted(self) -> bool:
        return not self.errors

    @property
    def status(self) -> str:
        return "accepted" if self.accepted else "rejected"

    @property
    def sla_code(self) -> str | None:
        return self.name.sla_code if self.name else None

    @property
    def period_key(self) -> str | None:
        return self.name.period_key if self.name else None

    @property
    def amount_total(self) -> Decimal | None:
        if self.return_type != "ledger" or not self.accepted:
            return None
        return sum((line.amount for line in self.ledger_lines), Decimal("0.00"))

    def contract_dict(self) -> dict[str, Any]:
        """The object `stls validate --json` prints for this file."""
        return {
            "file": self.file,
            "status": self.status,
            "return_type": self.return_type,
            "sla_code": self.sla_code,
            "period_key": self.period_key,
            "errors": [p.contract_dict() for p in self.errors],
            "warnings": [p.contract_dict() for p in self.warnings],
        }


def group_by_code(problems: list[Problem]) -> dict[str, list[Problem]]:
    grouped: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        grouped[problem.code].append(problem)
    return grouped
