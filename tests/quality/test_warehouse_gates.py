"""The gates on the built warehouse before publication, and the results auditors read.

Built on the session's complete 2021-22 year (tests/publish/year_fixture.py: the real
pipeline, including these gates, over 336 generated returns); tests that change the
warehouse work on a private copy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import duckdb
import pytest

from stls_warehouse import pipeline
from stls_warehouse.config import REPO_ROOT, Paths
from stls_warehouse.quality.completeness import outstanding_returns, year_is_complete
from stls_warehouse.quality.warehouse_gates import GateFailed
from tests.publish.year_fixture import AS_OF, YEAR, copy_home
from tests.publish.year_fixture import year_home as build_year_home

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_year_home(tmp_path_factory)


@pytest.fixture
def home(year: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    copy = copy_home(year, tmp_path / "home")
    monkeypatch.setenv("STLS_HOME", str(copy.home))
    monkeypatch.setenv("STLS_AS_OF_DATE", AS_OF)
    monkeypatch.delenv("STLS_POSTGRES_URL", raising=False)
    return copy


def published_bytes(home: Paths) -> dict[str, str]:
    """Every published file's checksum, and where the current-release link points."""
    found = {"parquet ->": os.readlink(home.parquet)}
    for folder, _, names in os.walk(home.published):
        for name in names:
            path = Path(folder) / name
            found[str(path.relative_to(home.published))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def dag_task(task_id: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "stls_returns_pipeline", REPO_ROOT / "dags" / "stls_returns_pipeline.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.stls_returns_pipeline().get_task(task_id)


def test_a_complete_year_passes_every_gate_and_its_checks_are_published(year: Path) -> None:
    published = year / "published" / "parquet"
    rows = duckdb.execute(
        "select stage, severity, outcome, count(*), count(distinct file_sha256) from read_parquet(?) group by all",
        [str(published / "mart_data_quality_results.parquet")],
    ).fetchall()
    by_stage = {(stage, severity, outcome): (count, files) for stage, severity, outcome, count, files in rows}
    assert by_stage[("intake", "blocking", "PASSED")][1] == 14 * 12 * 2  # every return received
    assert by_stage[("return_gate", "blocking", "PASSED")][1] == 14 * 12 * 2  # and checked
    assert ("return_gate", "blocking", "FAILED") not in by_stage
    assert ("warehouse_gate", "blocking", "FAILED") not in by_stage
    rules = {
        r
        for (r,) in duckdb.execute(
            "select distinct rule from read_parquet(?) where stage = 'warehouse_gate'",
            [str(published / "mart_data_quality_results.parquet")],
        ).fetchall()
    }
    assert {
        "ledger_lines_sum_to_return_total",
        "service_line_outturn_ties_to_ledger_lines",
        "expenditure_breakdown_ties_to_ledger_lines",
        "is_complete_matches_return_status",
        "no_personal_data_columns",
    } <= rules
    latest = year / "reports" / "dq" / "latest.html"  # the last run's one-page summary
    assert "The warehouse gate passed" in latest.read_text()
    run = max((p for p in latest.parent.glob("*.html") if p != latest), key=lambda p: p.stat().st_mtime).stem
    for stage in ("returns", "warehouse"):
        assert (year / "reports" / "data_docs" / run / stage / "index.html").exists()
    # The year is complete, so its annual review may be produced; the next year is not.
    assert year_is_complete(YEAR, published / "mart_return_status.parquet")
    assert not year_is_complete("2022-23", published / "mart_return_status.parquet")


def test_a_reconciliation_failure_stops_publication_through_the_dag_task(home: Paths) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    before = published_bytes(home)
    con = duckdb.connect(str(home.warehouse))
    con.execute(
        "delete from marts.fct_ledger_lines where (source_file_sha256, source_row) in "
        "(select source_file_sha256, source_row from marts.fct_ledger_lines "
        " where sla_code = 'SWA' and period_key = '2021-22-P07' limit 1)"
    )
    con.close()

    gate = dag_task("gate_warehouse")
    assert gate.downstream_task_ids == {"publish"}  # publish runs only after the gate passed
    with pytest.raises(AirflowFailException) as failed:
        gate.python_callable(build={}, run_id="tampered")
    message = str(failed.value)
    assert "ledger_lines_sum_to_return_total" in message and "SWA 2021-22-P07" in message
    assert "service_line_outturn_ties_to_ledger_lines" in message

    assert published_bytes(home) == before
    report = (home.reports / "dq" / "tampered.html").read_text()
    assert "Publication blocked" in report and "ledger_lines_sum_to_return_total" in report
    recorded = (
        duckdb.connect(str(home.warehouse), read_only=True)
        .execute(
            "select table_name, outcome, row_refs from marts.mart_data_quality_results "
            "where run_id = 'tampered' and rule = 'ledger_lines_sum_to_return_total'"
        )
        .fetchall()
    )
    assert recorded == [("fct_ledger_lines", "FAILED", "SWA 2021-22-P07")]


def test_the_personal_data_gate_catches_a_description_column(home: Paths) -> None:
    con = duckdb.connect(str(home.warehouse))
    con.execute("alter table marts.mart_expenditure_breakdown add column description varchar")
    con.close()
    with pytest.raises(GateFailed) as failed:
        pipeline.gate_warehouse("pii")
    assert any(
        "no_personal_data_columns" in reason and "mart_expenditure_breakdown" in reason
        for reason in failed.value.reasons
    )


def test_a_waiver_without_an_approver_blocks_publication(home: Paths) -> None:
    con = duckdb.connect(str(home.warehouse))
    con.execute(
        "insert into ref.ref_return_waivers (sla_code, return_type, period_key, reason, approved_by, approved_on) "
        "values ('SWA', 'kpi', '2021-08', 'Summer closure', null, null)"
    )
    con.close()
    with pytest.raises(GateFailed) as failed:
        pipeline.gate_warehouse("waiver")
    assert {r.split(" ")[0] for r in failed.value.reasons} == {
        "waiver_has_approved_by",
        "waiver_has_approved_on",
    }


def test_an_unchanged_warehouse_records_nothing_new_and_publishes_nothing_new(home: Paths) -> None:
    manifest = (home.parquet / "manifest.json").read_text()
    checked = pipeline.gate_warehouse("again")
    assert checked["blocking_failures"] == 0 and checked["recorded"] is False
    pipeline.publish_release()
    assert (home.parquet / "manifest.json").read_text() == manifest


def test_a_year_is_complete_only_when_every_required_return_is_accepted_or_waived(
    year: Path, tmp_path: Path
) -> None:
    source = year / "published" / "parquet" / "mart_return_status.parquet"
    changed = tmp_path / "status.parquet"

    def publish_with(status: str, waived: bool) -> Path:
        duckdb.execute(
            f"copy (select * replace ("
            f"  case when sla_code = 'MAI' and period_key = '2021-22-P03' then '{status}' else status end as status,"
            f"  case when sla_code = 'MAI' and period_key = '2021-22-P03' then {waived} else is_waived end"
            f"  as is_waived) from read_parquet('{source}')) to '{changed}' (format parquet)"
        )
        return changed

    assert not year_is_complete(YEAR, publish_with("OVERDUE", False))
    assert outstanding_returns(YEAR, changed) == [
        {"sla_code": "MAI", "return_type": "ledger", "period_key": "2021-22-P03", "status": "OVERDUE"}
    ]
    assert year_is_complete(YEAR, publish_with("WAIVED", True))
    assert year_is_complete(YEAR, publish_with("REJECTED", True))  # a rejected file, then waived
