"""raw.return_warnings, the source of the returns' queries, kept in step with the return
gate's recorded results: a warehouse loaded before the table existed gets its earlier
warnings, recording twice adds nothing, and a retried run's rows replace its first ones."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from stls_warehouse.quality.results import ensure_tables, record_return_warnings
from stls_warehouse.warehouse import FAILED, PASSED, CheckRow, append_rows, connect


def _row(
    run_id: str, rule: str, outcome: str = FAILED, severity: str = "warning", **extra: object
) -> CheckRow:
    fields: dict[str, object] = {
        "run_id": run_id,
        "checked_at": datetime(2021, 11, 2, 6),
        "stage": "return_gate",
        "suite": "ledger_return_summary",
        "rule": rule,
        "code": rule.upper(),
        "severity": severity,
        "outcome": outcome,
        "message": f"What {rule} means.",
        "file_sha256": "ab" * 32,
        "sla_code": "SWA",
        "period_key": "2021-22-P05",
        "failing_count": 1 if outcome == FAILED else 0,
        "observed": "payroll_lines=0" if outcome == FAILED else None,
    }
    return CheckRow(**{**fields, **extra})  # type: ignore[arg-type]


def test_only_failed_warnings_of_the_return_gate_become_query_rows(tmp_path: Path) -> None:
    con = connect(tmp_path / "stls.duckdb")
    ensure_tables(con)
    append_rows(
        con,
        [
            _row("r1", "payroll_every_month"),
            _row("r1", "overhead_share_of_spend", outcome=PASSED),
            _row("r1", "control_total_matches", severity="blocking"),
            _row("r1", "returns_contract_warnings", stage="intake"),
        ],
    )
    assert record_return_warnings(con) == 1  # what an older warehouse already held
    assert record_return_warnings(con) == 0
    assert con.execute("select rule, description, observed from raw.return_warnings").fetchall() == [
        ("payroll_every_month", "What payroll_every_month means.", "payroll_lines=0")
    ]

    # The same run retried finds the return clean: its earlier warning goes.
    append_rows(con, [_row("r1", "payroll_every_month", outcome=PASSED)])
    record_return_warnings(con)
    assert con.execute("select count(*) from raw.return_warnings").fetchall() == [(0,)]
    con.close()
