"""Completeness of returns against what is expected: the one home of the rule.

A return is done when it is ACCEPTED, or WAIVED (waivers: dbt_project/seeds/
ref_return_waivers.csv, and those granted in the returns service and not revoked since,
each with a reason and who approved it; dbt's int_return_waivers_current) — a waived
return that also received a rejected file counts as done, as `mart_return_status.is_waived`
says.
A year is complete when every return expected of it (ledger P1..P12 and KPI April..March
for every SLA) is done and every service line's `is_complete` agrees. Which returns are
expected, their due dates and statuses are dbt's answer; this module only reads it:

- from the published release (readers open what has been published) for the annual
  review, its report and its evidence pack;
- from the working warehouse's `marts` schema, inside the writer pool, for a monthly close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stls_warehouse.config import paths
from stls_warehouse.errors import StlsError

# Late: never received by its due date, or received only in rejected form.
LATE_STATUSES = ("OVERDUE", "REJECTED")


class YearNotComplete(StlsError, RuntimeError):
    """An annual output was asked for a year whose returns are not all in."""


@dataclass
class Completeness:
    """The expected returns of a year or a close, and which are still outstanding."""

    label: str
    as_of: str
    by_status: dict[str, int] = field(default_factory=dict)
    outstanding: list[dict[str, Any]] = field(default_factory=list)
    late: list[dict[str, Any]] = field(default_factory=list)
    service_lines_complete: dict[str, bool] | None = None  # years only

    @property
    def expected(self) -> int:
        return sum(self.by_status.values())

    @property
    def is_complete(self) -> bool:
        lines_ok = self.service_lines_complete is None or (
            bool(self.service_lines_complete) and all(self.service_lines_complete.values())
        )
        return self.expected > 0 and not self.outstanding and lines_ok

    def explain(self) -> str:
        if self.is_complete:
            return f"{self.label} is complete: all {self.expected} expected returns are accepted or waived"
        if self.expected == 0:
            return f"{self.label} has no expected returns; is the year in ref_sla_budgets?"
        shown = ", ".join(
            f"{r['sla_code']} {r['return_type']} {r['period_key']} ({r['status']})"
            for r in self.outstanding[:12]
        )
        more = len(self.outstanding) - 12
        lines = ", ".join(
            line for line, done in sorted((self.service_lines_complete or {}).items()) if not done
        )
        return (
            f"{self.label} is not complete: {len(self.outstanding)} of {self.expected} expected "
            f"returns are neither accepted nor waived"
            + (f": {shown}" if shown else "")
            + (f" and {more} more" if more > 0 else "")
            + (f"; service lines not complete: {lines}" if lines else "")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "as_of": self.as_of,
            "expected": self.expected,
            "by_status": self.by_status,
            "complete": self.is_complete,
            "late": self.late,
            "outstanding": len(self.outstanding),
        }


def _read(con: Any, relation: str, where: str, params: Sequence[Any], label: str, as_of: str) -> Completeness:
    cursor = con.execute(
        f"select sla_code, return_type, period_key, status, is_waived, "
        f"cast(due_date as varchar) as due_date from {relation} "
        f"where is_expected and {where} order by return_type, period_key, sla_code",
        list(params),
    )
    result = Completeness(label, as_of)
    for sla_code, return_type, period_key, status, is_waived, due_date in cursor.fetchall():
        row = {
            "sla_code": sla_code,
            "return_type": return_type,
            "period_key": period_key,
            "status": status,
            "due_date": due_date,
        }
        result.by_status[status] = result.by_status.get(status, 0) + 1
        if status in LATE_STATUSES or (status == "MISSING" and due_date and as_of and due_date < as_of):
            result.late.append(row)
        if not (status == "ACCEPTED" or is_waived):
            result.outstanding.append(row)
    return result


def year_completeness(con: Any, financial_year: str, *, schema: str | None = None) -> Completeness:
    """One year, from any connection where the two marts can be named (a published release
    by default, or the warehouse with schema="marts")."""
    prefix = f"{schema}." if schema else ""
    as_of_row = con.execute(
        f"select cast(max(status_as_of) as varchar) from {prefix}mart_return_status"
    ).fetchone()
    result = _read(
        con,
        f"{prefix}mart_return_status",
        "financial_year = ?",
        [financial_year],
        financial_year,
        str(as_of_row[0]) if as_of_row and as_of_row[0] else "",
    )
    result.service_lines_complete = {
        line: bool(done)
        for line, done in con.execute(
            f"select service_line, is_complete from {prefix}mart_service_line_budget_outturn "
            "where financial_year = ? order by service_line",
            [financial_year],
        ).fetchall()
    }
    return result


def period_completeness(warehouse: Path, period_keys: Sequence[str], as_of: str) -> Completeness:
    """The returns of a monthly close, from the working warehouse (inside the writer pool)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        marks = ", ".join("?" for _ in period_keys)
        return _read(
            con,
            "marts.mart_return_status",
            f"period_key in ({marks})",
            period_keys,
            ", ".join(period_keys),
            as_of,
        )
    finally:
        con.close()


def require_year_complete(status: Completeness) -> None:
    if not status.is_complete:
        raise YearNotComplete(status.explain())


def _parquet_year(financial_year: str, source: Path | None) -> Completeness | None:
    import duckdb

    table = source or paths().parquet / "mart_return_status.parquet"
    if not table.exists():
        return None
    con = duckdb.connect()
    try:
        return _read(
            con, f"read_parquet('{table}')", "financial_year = ?", [financial_year], financial_year, ""
        )
    finally:
        con.close()


def outstanding_returns(financial_year: str, source: Path | None = None) -> list[dict[str, Any]]:
    """The required returns of the year that are neither accepted nor waived."""
    result = _parquet_year(financial_year, source)
    if result is None:
        return []
    return [
        {k: r[k] for k in ("sla_code", "return_type", "period_key", "status")} for r in result.outstanding
    ]


def year_is_complete(financial_year: str, source: Path | None = None) -> bool:
    """True when every required return of the year in the published `mart_return_status`
    is accepted or waived; False for an unknown year or before anything is published."""
    result = _parquet_year(financial_year, source)
    return result is not None and result.expected > 0 and not result.outstanding
