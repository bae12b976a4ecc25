"""The marts reproduce the seed's 2021-22 table (spec/marts.md) from the synthetic returns.

The whole way in, as the pipeline runs it: synthetic returns in the landing zone, intake,
the submission ledger, then the pipeline's own `dbt build` command line. One build for the
module; every test reads the warehouse it left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

YEAR = "2021-22"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from stls_warehouse import pipeline
    from stls_warehouse.config import paths
    from stls_warehouse.synthetic.generator import generate

    home = tmp_path_factory.mktemp("stls_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STLS_HOME", str(home))
        patch.setenv("STLS_AS_OF_DATE", "2022-06-30")
        patch.delenv("STLS_WAREHOUSE_PATH", raising=False)
        generate(paths().ensure().landing, years=[YEAR])
        run_id = "dbt_seed_reconciliation"
        for batch in pipeline.route_landing():
            if batch["files"]:
                pipeline.intake_batch(batch["sla_code"], batch["files"], run_id)
        pipeline.load_returns(run_id)
        pipeline.build_warehouse()  # raises DbtFailed unless every model and test passed
        yield paths().warehouse


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_budget_outturn_matches_the_seed(warehouse: Path) -> None:
    rows = query(
        warehouse,
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


def test_pension_and_total_variance_match_the_seed(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select sum(pension_allocation), sum(variance_after_pension) "
        f"from marts.mart_service_line_budget_outturn where financial_year = '{YEAR}'",
    )
    assert rows == [(Decimal("333063.00"), Decimal("-501396.00"))]


def test_district_expenditure_mix_matches_the_seed(warehouse: Path) -> None:
    rows = query(
        warehouse,
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


def test_every_2021_22_return_is_accepted(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select return_type, status, count(*) from marts.mart_return_status "
        f"where financial_year = '{YEAR}' group by 1, 2 order by 1, 2",
    )
    assert rows == [("kpi", "ACCEPTED", 14 * 12), ("ledger", "ACCEPTED", 14 * 12)]
