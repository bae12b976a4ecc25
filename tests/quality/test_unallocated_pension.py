"""Pension funding that cannot be allocated is a data quality warning, never a silent 0.

The warehouse gate's completeness frame is read from real (small) mart tables in DuckDB and
validated with the real suite: a year whose funding had no basis to be shared by draws the
PENSION_UNALLOCATED warning with the unallocated amount, and never blocks publication.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from expectations import warehouse_completeness
from stls_warehouse.quality.gx_runner import run_suite
from stls_warehouse.quality.warehouse_gates import completeness_frame


def test_a_year_without_a_pension_basis_warns_with_the_unallocated_amount() -> None:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.mart_service_line_budget_outturn as select * from (values "
        "('2021-22', 'DISTRICT', true, true, 0.00::decimal(18,2)), "
        "('2022-23', 'DISTRICT', false, false, 333063.00::decimal(18,2))) "
        "t(financial_year, service_line, is_complete, is_pension_allocated, year_pension_unallocated)"
    )
    con.execute(
        "create table marts.mart_return_status as select * from (values "
        "('2021-22', 'DISTRICT', 'ledger', 'ACCEPTED', false, true), "
        "('2021-22', 'DISTRICT', 'kpi', 'ACCEPTED', false, true), "
        "('2022-23', 'DISTRICT', 'ledger', 'MISSING', false, true)) "
        "t(financial_year, service_line, return_type, status, is_waived, is_expected)"
    )
    frame = completeness_frame(con)
    checks = {
        c.rule: c for c in run_suite(warehouse_completeness, frame, warehouse_completeness.INDEX_COLUMNS)
    }
    pension = checks["pension_funding_allocated"]
    assert not pension.success and not pension.blocking and pension.code == "PENSION_UNALLOCATED"
    assert [row["key"] for row in pension.failing_rows] == ["2022-23 DISTRICT"]
    assert Decimal(
        str(frame.set_index("key").loc["2022-23 DISTRICT", "year_pension_unallocated"])
    ) == Decimal("333063.00")
    assert checks["is_complete_matches_return_status"].success
