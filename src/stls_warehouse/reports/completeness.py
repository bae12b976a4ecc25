"""Is a financial year complete? The rule the annual review and the evidence pack wait for.

A year is complete when every return expected of it (`mart_return_status.is_expected`) is
ACCEPTED or WAIVED, and every service line's `mart_service_line_budget_outturn.is_complete`
agrees. Both tables are dbt's answer; this module only reads it, from any DuckDB connection
where the two tables can be named: a published release (the default) or the warehouse's
`marts` schema (pass `schema="marts"`), so the quality gates can call the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stls_warehouse.config import Paths

DONE_STATUSES = ("ACCEPTED", "WAIVED")


class YearNotComplete(RuntimeError):
    """An annual output was asked for a year whose returns are not all in."""


@dataclass(frozen=True)
class YearCompleteness:
    financial_year: str
    expected: int
    by_status: dict[str, int]
    outstanding: list[dict[str, Any]] = field(default_factory=list)
    service_lines_complete: dict[str, bool] = field(default_factory=dict)

    @property
    def is_complete(self) -> bool:
        return (
            self.expected > 0
            and not self.outstanding
            and bool(self.service_lines_complete)
            and all(self.service_lines_complete.values())
        )

    def explain(self) -> str:
        if self.is_complete:
            return f"{self.financial_year} is complete: all {self.expected} expected returns are accepted or waived"
        if self.expected == 0:
            return f"{self.financial_year} has no expected returns in the published tables"
        shown = ", ".join(
            f"{r['sla_code']} {r['return_type']} {r['period_key']} ({r['status']})"
            for r in self.outstanding[:12]
        )
        more = len(self.outstanding) - 12
        lines = ", ".join(line for line, done in sorted(self.service_lines_complete.items()) if not done)
        return (
            f"{self.financial_year} is not complete: {len(self.outstanding)} of {self.expected} expected "
            f"returns are neither accepted nor waived"
            + (f": {shown}" if shown else "")
            + (f" and {more} more" if more > 0 else "")
            + (f"; service lines not complete: {lines}" if lines else "")
        )


def year_completeness(con: Any, financial_year: str, *, schema: str | None = None) -> YearCompleteness:
    """Completeness of one year from `mart_return_status` and `mart_service_line_budget_outturn`."""
    prefix = f"{schema}." if schema else ""
    rows = con.execute(
        f"select sla_code, return_type, period_key, status from {prefix}mart_return_status "
        "where financial_year = ? and is_expected order by return_type, period_key, sla_code",
        [financial_year],
    ).fetchall()
    by_status: dict[str, int] = {}
    outstanding = []
    for sla_code, return_type, period_key, status in rows:
        by_status[status] = by_status.get(status, 0) + 1
        if status not in DONE_STATUSES:
            outstanding.append(
                {"sla_code": sla_code, "return_type": return_type, "period_key": period_key, "status": status}
            )
    lines = dict(
        con.execute(
            f"select service_line, is_complete from {prefix}mart_service_line_budget_outturn "
            "where financial_year = ? order by service_line",
            [financial_year],
        ).fetchall()
    )
    return YearCompleteness(
        financial_year, len(rows), by_status, outstanding, {k: bool(v) for k, v in lines.items()}
    )


def published_year_completeness(home: Paths, financial_year: str) -> YearCompleteness:
    """The check on the current published release."""
    from stls_warehouse.reports.source import PublishedRelease

    with PublishedRelease(home) as release:
        return year_completeness(release.con, financial_year)


def require_year_complete(status: YearCompleteness) -> None:
    if not status.is_complete:
        raise YearNotComplete(status.explain())
