"""The marts reproduce the seed's 2021-22 table (spec/marts.md) from the synthetic returns,
after four years went through intake and the pipeline's `dbt build` (moved here from
tests/dbt so the suite builds one four-year warehouse instead of two)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.marts.harness import query

pytestmark = pytest.mark.slow

YEAR = "2021-22"


def test_budget_outturn_matches_the_seed(forum_home: Path) -> None:
    rows = query(
        forum_home,
        "select service_line, total_budget, outturn, variance, is_complete, periods_received "
        f"from marts.mart_service_line_budget_outturn where financial_year = '{YEAR}' "
        "order by service_line",
    )
    d = Decimal
    assert rows == [
        ("DISTRICT", d("5882036.00"), d("6488791.00"), d("-606755.00"), True, 12),
        ("PD", d("425200.00"), d("476217.00"), d("-51017.00"), True, 12),
        ("SENSORY", d("1894637.00"), d("2071324.00"), d("-176687.00"), True, 12),
    ]


def test_pension_and_total_variance_match_the_seed(forum_home: Path) -> None:
    rows = query(
        forum_home,
        "select sum(pension_allocation), sum(variance_after_pension) "
        f"from marts.mart_service_line_budget_outturn where financial_year = '{YEAR}'",
    )
    assert rows == [(Decimal("333063.00"), Decimal("-501396.00"))]


def test_district_expenditure_mix_matches_the_seed(forum_home: Path) -> None:
    rows = query(
        forum_home,
        "select expenditure_category, round(amount / 1000), share_pct "
        "from marts.mart_expenditure_breakdown "
        f"where financial_year = '{YEAR}' and service_line = 'DISTRICT' order by 1",
    )
    assert [(c, int(k), p) for c, k, p in rows] == [
        ("DIRECT_STAFFING", 5865, Decimal("90.4")),
        ("INDIRECT_STAFFING", 144, Decimal("2.2")),
        ("OPERATIONAL", 146, Decimal("2.2")),
        ("OTHER", 334, Decimal("5.2")),
    ]


def test_every_return_of_the_four_years_is_accepted(forum_home: Path) -> None:
    rows = query(
        forum_home,
        "select financial_year, return_type, status, count(*) from marts.mart_return_status "
        "where is_expected group by all order by all",
    )
    years = ["2021-22", "2022-23", "2023-24", "2024-25"]
    assert rows == [(y, t, "ACCEPTED", 14 * 12) for y in years for t in ("kpi", "ledger")]
