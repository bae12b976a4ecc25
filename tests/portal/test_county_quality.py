"""Auditors (and county finance) read the published data quality results, filtered by year,
SLA, severity and outcome, and every warning with the school's explanation, who gave it and
when; the page names the release it read. School users cannot reach it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stls_portal.county.quality import year_of
from tests.portal.conftest import _write, query_row, status_row

pytestmark = pytest.mark.django_db

RESULT_SCHEMA = {
    "run_id": "string",
    "checked_at": "timestamp",
    "stage": "string",
    "suite": "string",
    "rule": "string",
    "code": "string",
    "severity": "string",
    "outcome": "string",
    "table_name": "string",
    "file_sha256": "string",
    "file_name": "string",
    "sla_code": "string",
    "period_key": "string",
    "observed": "string",
    "expected": "string",
    "message": "string",
}
SHA = "a" * 64


def _result(rule: str, severity: str, outcome: str, sla: str | None, period: str | None, **extra: Any):
    return {
        "run_id": "manual__2021-12-01",
        "checked_at": datetime(2021, 12, 1, 9, 0, tzinfo=UTC),
        "stage": "return_gate" if sla else "warehouse_gate",
        "suite": "ledger",
        "rule": rule,
        "code": rule.upper(),
        "severity": severity,
        "outcome": outcome,
        "sla_code": sla,
        "period_key": period,
        "message": f"{rule} {outcome.lower()}",
        **extra,
    }


@pytest.fixture
def quality_release(publisher) -> Path:
    folder = publisher.publish(
        [status_row("SWA", "ledger", "2021-22-P07", SHA, open_queries=1)],
        [
            query_row(
                "SWA",
                "ledger",
                "2021-22-P07",
                SHA,
                "amount_within_history",
                explanation="A one-off roof repair, approved by the governors",
                explained_by="swa.submitter",
                explained_at=datetime(2021, 11, 20, 10, 30, tzinfo=UTC),
                query_status="EXPLAINED",
            ),
            query_row("THA", "kpi", "2022-05", "b" * 64, "kpi_within_range"),
        ],
    )
    _write(
        folder / "parquet" / "mart_data_quality_results.parquet",
        RESULT_SCHEMA,
        [
            _result("amount_within_history", "warning", "FAILED", "SWA", "2021-22-P07"),
            _result("columns_present", "blocking", "PASSED", "SWA", "2021-22-P07"),
            _result("kpi_within_range", "warning", "FAILED", "THA", "2022-05"),
            _result("reconciles_to_ledgers", "blocking", "FAILED", None, None, table_name="mart_x"),
        ],
    )
    return folder


def test_the_year_of_a_period_or_month():
    assert [year_of(k) for k in ("2021-22-P07", "2021-22-P13", "2022-03", "2022-04", None, "x")] == [
        "2021-22",
        "2021-22",
        "2021-22",
        "2022-23",
        None,
        None,
    ]


def test_an_auditor_reads_every_warning_with_its_explanation(quality_release, users, client_for):
    page = client_for(users["auditor"]).get("/county/quality/")
    assert page.status_code == 200
    html = page.content.decode()
    assert quality_release.name in html  # the release it read
    assert "A one-off roof repair, approved by the governors" in html and "swa.submitter" in html
    assert "20 Nov 2021" in html and "Not explained yet" in html
    assert "2 warnings, 1 explained by the school" in html
    assert {r["rule"] for r in page.context["page"]} == {
        "amount_within_history",
        "columns_present",
        "kpi_within_range",
        "reconciles_to_ledgers",
    }
    assert page.context["quality"].choices["year"] == ["2021-22", "2022-23"]


@pytest.mark.parametrize(
    ("query", "rules", "warnings"),
    [
        ("year=2021-22", {"amount_within_history", "columns_present"}, 1),
        ("sla=THA", {"kpi_within_range"}, 1),
        ("severity=blocking", {"columns_present", "reconciles_to_ledgers"}, 2),
        ("severity=blocking&outcome=FAILED", {"reconciles_to_ledgers"}, 2),
        ("year=2022-23&outcome=PASSED", set(), 1),
        (
            "year=1999-00",
            {"amount_within_history", "columns_present", "kpi_within_range", "reconciles_to_ledgers"},
            2,
        ),
    ],
)
def test_finance_filters_the_results(quality_release, users, client_for, query, rules, warnings):
    page = client_for(users["finance"]).get(f"/county/quality/?{query}")
    assert page.status_code == 200
    assert {r["rule"] for r in page.context["page"]} == rules
    assert len(page.context["quality"].warnings) == warnings


def test_schools_cannot_reach_it_and_without_a_release_it_says_so(portal_home, users, client_for):
    assert client_for(users["submitter"]).get("/county/quality/").status_code == 403
    page = client_for(users["auditor"]).get("/county/quality/")
    assert page.status_code == 200 and "Nothing has been published yet" in page.content.decode()
