"""The data quality results and every warning's explanation, for auditors and county finance.

Both read from the published release (resolved once per request): `mart_data_quality_results`
(one row per check per return or table per run, with its severity and outcome) and
`mart_return_queries` (the warnings a return raised, with the school's explanation, who gave
it and when). A check's financial year is its period's; a warehouse gate, which is about the
whole warehouse, has no period and shows when no year is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stls_portal.published import QUERY_COLUMNS, RETURN_QUERIES, Release
from stls_warehouse.periods import parse_kpi_month

RESULTS = "mart_data_quality_results"
RESULT_COLUMNS = (
    "run_id",
    "checked_at",
    "stage",
    "suite",
    "rule",
    "code",
    "severity",
    "outcome",
    "table_name",
    "file_sha256",
    "file_name",
    "sla_code",
    "period_key",
    "checked_count",
    "failing_count",
    "row_refs",
    "observed",
    "expected",
    "message",
)
WARNING_COLUMNS = (*QUERY_COLUMNS, "code", "financial_year")
FILTERS = ("year", "sla", "severity", "outcome")


def year_of(period_key: str | None) -> str | None:
    """The financial year of a ledger period (`2021-22-P07`) or a KPI month (`2021-05`)."""
    if not period_key:
        return None
    if "-P" in period_key:
        return period_key.split("-P", 1)[0]
    month = parse_kpi_month(period_key)
    return month.financial_year if month else None


@dataclass
class Quality:
    results: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    chosen: dict[str, str]
    choices: dict[str, list[str]] = field(default_factory=dict)
    published: bool = True

    @property
    def explained(self) -> int:
        return sum(1 for w in self.warnings if w["explanation"])


def read(release: Release, **asked: str) -> Quality:
    """The results and warnings matching the filters; a filter value the release does not
    hold is ignored (the page offers only what is there)."""
    results = release.rows(RESULTS, RESULT_COLUMNS)
    warnings = release.rows(RETURN_QUERIES, WARNING_COLUMNS)
    for row in results:
        row["financial_year"] = year_of(row["period_key"])
    for row in warnings:
        row["financial_year"] = row["financial_year"] or year_of(row["period_key"])
    choices = {
        "year": sorted({r["financial_year"] for r in [*results, *warnings] if r["financial_year"]}),
        "sla": sorted({r["sla_code"] for r in [*results, *warnings] if r["sla_code"]}),
        "severity": sorted({r["severity"] for r in results if r["severity"]}),
        "outcome": sorted({r["outcome"] for r in results if r["outcome"]}),
    }
    chosen = {name: asked.get(name, "") if asked.get(name, "") in choices[name] else "" for name in FILTERS}

    def keep(row: dict[str, Any], names: tuple[str, ...]) -> bool:
        column = {"year": "financial_year", "sla": "sla_code"}
        return all(not chosen[n] or row[column.get(n, n)] == chosen[n] for n in names)

    return Quality(
        results=sorted(
            (r for r in results if keep(r, FILTERS)),
            key=lambda r: (r["checked_at"] is not None, r["checked_at"], r["rule"] or ""),
            reverse=True,
        ),
        warnings=sorted(
            (w for w in warnings if keep(w, ("year", "sla"))),
            key=lambda w: (w["sla_code"] or "", w["period_key"] or "", w["rule"] or ""),
        ),
        chosen=chosen,
        choices=choices,
        published=release.table_path(RESULTS) is not None,
    )
