"""A resubmitted return after the first build: the next build reloads only that return
into the incremental period totals, and every mart follows it.

The rebuild is the republish build benchmarks/dbt_bench.py measures (`dbt build --select
source:returns+ --exclude-resource-type unit_test`: what the returns feed, the logic-only
unit tests left out); the incremental model runs the same way under a plain `dbt build`.

Works on a copy of the session's warehouse: SWA resends 2023-24 P07 with one amount raised
by 1,000.00 and THA resends the same period as a nil return (its lines must disappear).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from stls_warehouse.intake.writers import write_ledger
from stls_warehouse.synthetic import LedgerLine, SyntheticReturns
from stls_warehouse.synthetic.render import canonical_ledger_row
from tests.marts.harness import AS_OF, REPUBLISH_BUILD, query, run_pipeline_without_publishing

pytestmark = pytest.mark.slow

YEAR, PERIOD = "2023-24", 7
KEY = f"{YEAR}-P{PERIOD:02d}"
RAISE = Decimal("1000.00")


def _ledger(generated: SyntheticReturns, sla: str) -> tuple[LedgerLine, ...]:
    for ledger in generated.ledgers:
        if (ledger.sla_code, ledger.financial_year, ledger.period) == (sla, YEAR, PERIOD):
            return ledger.lines
    raise LookupError(sla)


@pytest.fixture(scope="module")
def resubmitted(
    forum_home: Path, generated: SyntheticReturns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("resubmitted") / "home"
    shutil.copytree(forum_home, home, symlinks=True)
    swa = list(_ledger(generated, "SWA"))
    swa[0] = replace(swa[0], amount=swa[0].amount + RAISE)
    tha = _ledger(generated, "THA")[0]
    nil = replace(tha, line_ref="NIL-1", account_code="NIL", amount=Decimal("0.00"), description="Nothing")
    later = time.time() + 3600
    for name, lines in (
        (f"LEDGER_SWA_{YEAR}_P{PERIOD:02d}.csv", swa),
        (f"LEDGER_THA_{YEAR}_P{PERIOD:02d}.csv", [nil]),
    ):
        path = write_ledger(home / "landing" / name, [canonical_ledger_row(line) for line in lines])
        os.utime(path, (later, later))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STLS_HOME", str(home))
        patch.setenv("STLS_AS_OF_DATE", AS_OF)
        patch.delenv("STLS_WAREHOUSE_PATH", raising=False)
        run_pipeline_without_publishing("resubmission", REPUBLISH_BUILD)
    yield home


def test_the_resubmissions_are_the_current_versions(resubmitted: Path) -> None:
    rows = query(
        resubmitted,
        "select sla_code, status, versions_received, current_version from marts.mart_return_status "
        "where return_type = 'ledger' and period_key = ? and sla_code in ('SWA', 'THA') order by 1",
        [KEY],
    )
    assert rows == [("SWA", "ACCEPTED", 2, 2), ("THA", "ACCEPTED", 2, 2)]


def test_incremental_totals_equal_the_published_lines(resubmitted: Path, generated: SyntheticReturns) -> None:
    totals = query(
        resubmitted,
        "select sla_code, period_key, sum(amount) from intermediate.int_ledger_lines_aggregated_to_periods "
        "group by all except select sla_code, period_key, sum(amount) from marts.fct_ledger_lines group by all",
    )
    assert totals == []
    assert query(
        resubmitted,
        "select count(*) from intermediate.int_ledger_lines_aggregated_to_periods "
        "where sla_code = 'THA' and period_key = ?",
        [KEY],
    ) == [(0,)]
    swa = query(
        resubmitted,
        "select sum(amount) from intermediate.int_ledger_lines_aggregated_to_periods "
        "where sla_code = 'SWA' and period_key = ?",
        [KEY],
    )
    assert swa == [(sum(line.amount for line in _ledger(generated, "SWA")) + RAISE,)]


def test_the_rebuild_was_incremental(resubmitted: Path) -> None:
    results = json.loads((resubmitted / "dbt" / "target" / "run_results.json").read_text())
    (node,) = [
        r for r in results["results"] if r["unique_id"].endswith("int_ledger_lines_aggregated_to_periods")
    ]
    assert node["status"] == "success"
    compiled = node.get("compiled_code") or ""
    assert "not exists" in compiled  # the incremental branch ran, not a full rebuild


def test_marts_follow_the_resubmission(
    forum_home: Path, resubmitted: Path, generated: SyntheticReturns
) -> None:
    def strand_totals(home: Path, sla: str) -> Decimal:
        (row,) = query(
            home,
            "select sum(spend) from marts.mart_core_outreach_separation "
            "where sla_code = ? and financial_year = ?",
            [sla, YEAR],
        )
        return Decimal(row[0])

    assert strand_totals(resubmitted, "SWA") == strand_totals(forum_home, "SWA") + RAISE
    tha_lines = sum(line.amount for line in _ledger(generated, "THA"))
    assert strand_totals(resubmitted, "THA") == strand_totals(forum_home, "THA") - tha_lines

    def ytd(home: Path) -> list[tuple[str, Decimal]]:
        return query(
            home,
            "select sla_code, ytd_actual from marts.mart_sla_value_options "
            "where financial_year = ? and period = ? order by 1",
            [YEAR, PERIOD],
        )

    before, after = dict(ytd(forum_home)), dict(ytd(resubmitted))
    assert after["SWA"] == before["SWA"] + RAISE
    assert after["THA"] == before["THA"] - tha_lines
    assert {k: v for k, v in after.items() if k not in ("SWA", "THA")} == {
        k: v for k, v in before.items() if k not in ("SWA", "THA")
    }
