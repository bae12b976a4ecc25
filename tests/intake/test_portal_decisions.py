"""Loading the returns service's decision files into raw.portal_decisions.

What the service and finance rely on: every decision recorded reaches the warehouse once,
with who and when; a bad file is named and skipped and never stops the others; a file
still being written (a hidden temporary name) is never read.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from stls_warehouse import decisions, pipeline
from stls_warehouse.config import Paths
from tests.factories import a_decision


def _rows(home: Paths, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def home(stls_home: Path) -> Paths:
    return Paths(stls_home)


def test_every_decision_is_loaded_once_with_who_and_when(home: Paths) -> None:
    summer = timezone(timedelta(hours=1))  # a decision taken on British Summer Time
    signed = a_decision(decided_at=datetime(2021, 7, 3, 10, 30, tzinfo=summer))
    explained = a_decision("explanation", text="Salaries were paid in P08 this year.")
    waived = a_decision(
        "waiver_granted",
        return_type="kpi",
        period_key="2021-08",
        file_sha256=None,
        text="Summer closure",
        actor="finance@kent.example",
        actor_role="county_finance",
    )
    for decision in (signed, explained, waived):
        decisions.record(home.decisions, decision)

    first = pipeline.load_decisions("run-1")
    assert first["decisions_loaded"] == 3 and first["malformed"] == []
    assert first["by_kind"] == {"explanation": 1, "sign_off": 1, "waiver_granted": 1}
    rows = _rows(
        home,
        "select decision_id, kind, actor, decision_text, file_sha256, rule, decided_at "
        "from raw.portal_decisions order by decided_at",
    )
    assert rows[0] == (
        signed.decision_id,
        "sign_off",
        "approver.swa@example.org",
        "I declare this return a true record.",
        "ab" * 32,
        None,
        datetime(2021, 7, 3, 9, 30),  # UTC
    )
    assert {r[1]: r[5] for r in rows}["explanation"] == "payroll_every_month"

    again = pipeline.load_decisions("run-2")
    assert again["decisions_loaded"] == 0 and again["already_loaded"] == 3
    assert _rows(home, "select count(*), count(distinct decision_id) from raw.portal_decisions") == [(3, 3)]


def test_a_malformed_file_is_named_and_skipped_and_the_rest_load(
    home: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    good = decisions.record(home.decisions, a_decision())
    bad = good.parent / ("0" * 32 + ".json")
    bad.write_text('{"schema_version": 1, "kind": "sign_off"', encoding="utf-8")  # cut short
    reasonless = a_decision("waiver_granted", return_type="kpi", period_key="2021-08", text=" ")
    decisions.record(home.decisions, reasonless)
    half_written = good.parent / f".{'1' * 32}.json.abc.tmp"
    half_written.write_text("{", encoding="utf-8")

    loaded = pipeline.load_decisions("run-1")
    assert loaded["decisions_loaded"] == 1
    named = {item["file"] for item in loaded["malformed"]}
    assert named == {f"2021-11-03/{bad.name}", f"2021-11-03/{reasonless.decision_id}.json"}
    assert any("waiver granted gives its reason" in item["problem"] for item in loaded["malformed"])
    log = capsys.readouterr().out
    assert f"decision file skipped: 2021-11-03/{bad.name}" in log
    recorded = _rows(  # recorded now; published by the warehouse gate's rebuild of the mart
        home,
        "select file_name, severity, outcome from audit.dq_results "
        "where stage = 'decision_load' order by file_name",
    )
    assert recorded == sorted((name, "warning", "FAILED") for name in named)

    # Still bad on the next run: reported in the log again, recorded once.
    pipeline.load_decisions("run-2")
    assert _rows(home, "select count(*) from audit.dq_results where stage = 'decision_load'") == [(2,)]

    # Replaced by a valid file of the same name, it loads.
    bad.unlink()
    fixed = a_decision(decision_id="0" * 32)
    bad.write_text(json.dumps(fixed.as_json()), encoding="utf-8")
    assert pipeline.load_decisions("run-3")["decisions_loaded"] == 1
    assert _rows(home, "select count(*) from raw.portal_decisions") == [(2,)]


def test_no_decisions_folder_is_nothing_to_load(home: Paths) -> None:
    assert pipeline.load_decisions("run-1")["decisions_loaded"] == 0
    assert _rows(home, "select count(*) from raw.portal_decisions") == [(0,)]
