"""What a run tells its operator: progress per stage, the end summary, one log per run, and
retention that never deletes what a release or an evidence pack refers to."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from stls_warehouse import pipeline, progress, retention
from stls_warehouse.config import Paths
from stls_warehouse.quality.data_docs import prune_data_docs
from tests.factories import csv_bytes, ledger_rows


def _take_in(home: Paths, run_id: str) -> progress.RunWatcher:
    """The stages of every path that takes returns in, as the DAG tasks call them."""
    out = io.StringIO()
    watcher = progress.RunWatcher(out=out, interactive=False)
    stop = progress.listen(watcher)
    try:
        for batch in pipeline.route_landing():
            if batch["files"]:
                pipeline.intake_batch(batch["sla_code"], batch["files"], run_id)
        pipeline.gate_returns(run_id)
        pipeline.load_returns(run_id)
    finally:
        stop()
    return watcher


def test_a_run_with_2_accepted_1_rejected_1_duplicate_says_exactly_that(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STLS_HOME", str(tmp_path))
    home = Paths(tmp_path).ensure()
    first = csv_bytes(ledger_rows("SWA", period=7))
    (home.landing / "LEDGER_SWA_2021-22_P07.csv").write_bytes(first)
    (home.landing / "LEDGER_SWA_2021-22_P08.csv").write_bytes(csv_bytes(ledger_rows("SWA", period=8)))
    bad = ledger_rows("CAN", period=7)
    bad[1]["amount"] = "12,5"
    (home.landing / "LEDGER_CAN_2021-22_P07.csv").write_bytes(csv_bytes(bad))
    (home.landing / "LEDGER_SWA_2021-22_P07 (copy).csv").write_bytes(first)  # the same bytes again

    watcher = _take_in(home, "run_one")
    lines = progress.run_summary(watcher)

    sha = json.loads(next(home.quarantine.glob("*/rejection.json")).read_text())["sha256"]
    report = home.quarantine / sha / "rejection.xlsx"
    assert report.is_file()
    assert lines[:4] == [
        "Received 4 files: 2 accepted, 1 rejected, 0 superseded, 1 duplicate",
        "Rejection reports (send each to its school):",
        f"  LEDGER_CAN_2021-22_P07.csv: {report}",
        "No release: this run does not publish.",
    ]
    # Progress: a plain line per stage start and end when not on a terminal.
    shown = watcher.out.getvalue().splitlines()  # type: ignore[attr-defined]
    assert "stls run: [4/8] record returns: running" in shown
    assert any(line.startswith("stls run: [4/8] record returns: done in ") for line in shown)
    assert not any("\r" in line for line in shown)
    # Every path that takes returns in tells each school and updates the data quality summary.
    notes = [json.loads(p.read_text(encoding="utf-8")) for p in home.feedback.rglob("*.json")]
    assert sorted((n["file"], n["status"]) for n in notes) == [
        ("LEDGER_CAN_2021-22_P07.csv", "REJECTED"),
        ("LEDGER_SWA_2021-22_P07 (copy).csv", "DUPLICATE"),
        ("LEDGER_SWA_2021-22_P07.csv", "ACCEPTED"),
        ("LEDGER_SWA_2021-22_P08.csv", "ACCEPTED"),
    ]
    page = (home.reports / "dq" / "latest.html").read_text(encoding="utf-8")
    assert "Rejected at intake (1 file)" in page and "LEDGER_CAN_2021-22_P07.csv" in page
    assert "AMOUNT_INVALID (row 3, column amount)" in page  # where in the file, not just the rule
    assert "Not decided by this run" in page and "Every blocking check passed" not in page

    # A second run over the same landing zone receives nothing new.
    again = progress.run_summary(_take_in(home, "run_two"))
    assert again[0] == "Received 0 files: 0 accepted, 0 rejected, 0 superseded, 0 duplicate"


def test_the_terminal_progress_rewrites_one_line() -> None:
    out = io.StringIO()
    watcher = progress.RunWatcher(out=out, interactive=True)
    assert watcher.feed(progress.MARK + json.dumps({"event": "started", "stage": "publish"}))
    assert not watcher.feed("an ordinary log line")
    watcher.feed(
        progress.MARK
        + json.dumps({"event": "finished", "stage": "publish", "release_id": "R1", "new_release": True})
    )
    text = out.getvalue()
    assert text.startswith("\r\033[K[7/8] publish: running\r\033[K[7/8] publish: done in ")
    assert text.endswith("(release R1)\n")
    assert progress.run_summary(watcher)[-1] == "Release R1 published."


def _pack(home: Paths, year: str, release_id: str, docs_run: str) -> None:
    index = {
        "release_id": release_id,
        "members": {f"data_quality/data_docs/{docs_run}/warehouse/index.html": {}},
    }
    target = home.reports / "evidence" / f"evidence_pack_{year}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("index.json", json.dumps(index))


def test_retention_keeps_the_newest_and_whatever_a_release_or_an_evidence_pack_refers_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Paths(tmp_path).ensure()
    releases = home.published / "releases"
    ids = [f"2026010{n}T000000000000Z" for n in range(1, 9)]
    for n, rid in enumerate(ids):
        (releases / rid).mkdir(parents=True)
        docs = home.reports / "data_docs" / f"run_{n}" / "warehouse"
        docs.mkdir(parents=True)
        (docs / "index.html").write_text("x")
        os.utime(docs.parent, (1_700_000_000 + n, 1_700_000_000 + n))
    (home.published / "current").symlink_to(Path("releases") / ids[1])  # rolled back to an old one
    _pack(home, "2021-22", ids[0], "run_0")
    monkeypatch.setenv("STLS_KEEP_RELEASES", "3")
    monkeypatch.setenv("STLS_KEEP_DATA_DOCS_RUNS", "2")

    removed = retention.prune_releases(home)

    kept = sorted(p.name for p in releases.iterdir())
    assert kept == sorted([ids[0], ids[1], *ids[-3:]])  # the pack's, the current, the newest 3
    assert sorted(removed) == sorted(ids[2:5])
    prune_data_docs(home, current="run_3")
    assert sorted(p.name for p in (home.reports / "data_docs").iterdir() if p.is_dir()) == [
        "run_0",  # an evidence pack was built with it
        "run_3",  # the run being written
        "run_6",
        "run_7",
    ]
    assert (home.reports / "data_docs" / "index.html").is_file()

    monkeypatch.setenv("STLS_KEEP_RELEASES", "many")
    with pytest.raises(retention.BadRetentionSetting, match="STLS_KEEP_RELEASES='many'"):
        retention.prune_releases(home)


def test_each_run_keeps_its_own_log_and_the_oldest_go_past_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stls_warehouse import airflow_local

    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    home = Paths(tmp_path)
    folder = airflow_local.run_log_dir(home)
    assert folder == tmp_path / "airflow" / "runs"
    folder.mkdir(parents=True)
    for n in range(5):
        log = folder / f"run_2026010{n}T000000000000Z.log"
        log.write_text(f"run {n}\n")
        os.utime(log, (1_700_000_000 + n, 1_700_000_000 + n))
    assert airflow_local.last_run_log(home).read_text() == "run 4\n"
    monkeypatch.setenv("STLS_KEEP_RUN_LOGS", "2")
    assert sorted(retention.prune_run_logs(folder)) == [f"run_2026010{n}T000000000000Z.log" for n in range(3)]
    assert sorted(p.read_text() for p in folder.iterdir()) == ["run 3\n", "run 4\n"]


def test_a_local_runs_output_is_filed_as_task_logs_where_the_airflow_ui_reads_them(tmp_path: Path) -> None:
    import sqlite3

    from stls_warehouse import airflow_local

    db = tmp_path / "airflow.db"
    con = sqlite3.connect(db)
    con.execute("create table dag_run (id integer, dag_id text, run_id text)")
    con.execute(
        "create table task_instance (dag_id text, run_id text, task_id text, map_index integer, "
        "try_number integer, rendered_map_index text)"
    )
    con.execute("insert into dag_run values (1, 'd', 'manual__1')")
    con.executemany(
        "insert into task_instance values ('d', 'manual__1', ?, ?, ?, ?)",
        [("route_landing", -1, 1, None), ("intake", 0, 1, "ASH"), ("intake", 1, 2, "CAN")],
    )
    con.commit()
    con.close()

    def mark(event: str, stage: str, **data: object) -> str:
        return progress.MARK + json.dumps({"event": event, "stage": stage, **data}) + "\n"

    lines = [
        "airflow preamble\n",
        mark("started", "route_landing"),
        mark("finished", "route_landing", files=2),
        mark("started", "intake"),
        "reading CAN\n",
        mark("finished", "intake", sla_code="CAN", files=1),
        mark("started", "intake"),
        "reading ASH\n",
        mark("finished", "intake", sla_code="ASH", files=1),
    ]
    env = {"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}"}
    written = airflow_local.file_task_logs(env, "d", lines)

    base = tmp_path / "logs" / "dag_id=d" / "run_id=manual__1"
    assert written == [
        base / "task_id=route_landing" / "attempt=1.log",
        base / "task_id=intake" / "map_index=1" / "attempt=2.log",
        base / "task_id=intake" / "map_index=0" / "attempt=1.log",
    ]
    assert "reading CAN" in written[1].read_text() and "reading ASH" not in written[1].read_text()
    assert written[0].read_text().startswith("airflow preamble")


def test_stls_run_prints_what_its_run_received_and_the_release_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole run as an operator starts it (the stages in process: dbt, gates, publication)."""
    from stls_warehouse import cli

    monkeypatch.setenv("STLS_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setenv("STLS_AS_OF_DATE", "2021-12-31")
    home = Paths(tmp_path).ensure()
    first = csv_bytes(ledger_rows("SWA", period=7))
    (home.landing / "LEDGER_SWA_2021-22_P07.csv").write_bytes(first)
    (home.landing / "LEDGER_SWA_2021-22_P08.csv").write_bytes(csv_bytes(ledger_rows("SWA", period=8)))
    bad = ledger_rows("CAN", period=7)
    bad[1]["amount"] = "12,5"
    (home.landing / "LEDGER_CAN_2021-22_P07.csv").write_bytes(csv_bytes(bad))
    (home.landing / "LEDGER_SWA_2021-22_P07 (copy).csv").write_bytes(first)

    assert cli.main(["run", "--without-airflow"]) == 0

    captured = capsys.readouterr()
    out = captured.out.splitlines()
    out = out[
        out.index("Received 4 files: 2 accepted, 1 rejected, 0 superseded, 1 duplicate") :
    ]  # dbt's output first
    (report,) = home.quarantine.glob("*/rejection.xlsx")
    release = (home.published / "current").resolve().name
    assert out[:4] == [
        "Received 4 files: 2 accepted, 1 rejected, 0 superseded, 1 duplicate",
        "Rejection reports (send each to its school):",
        f"  LEDGER_CAN_2021-22_P07.csv: {report}",
        f"Release {release} published.",
    ]
    assert out[4].startswith(f"Data quality summary: {home.reports / 'dq'}")
    assert "stls run: [7/8] publish: done in" in captured.err
    record = json.loads((tmp_path / "airflow" / "runs" / "last_run.json").read_text(encoding="utf-8"))
    assert record["outcome"] == "succeeded" and record["summary"] == out[:5]


def test_a_failed_stage_ends_the_summary_with_why_nothing_was_published() -> None:
    from stls_warehouse.quality.warehouse_gates import GateFailed

    watcher = progress.RunWatcher(out=io.StringIO(), interactive=False)
    stop = progress.listen(watcher)
    try:
        with pytest.raises(GateFailed), progress.stage("gate_warehouse"):
            raise GateFailed(
                ["ledger_lines_sum_to_return_total (RECONCILE) on fct_ledger_lines: off by 0.01"], None
            )
    finally:
        stop()
    assert progress.run_summary(watcher)[-1] == (
        "No release: warehouse gate failed: GateFailed: Publication stopped by the warehouse gate: "
        "- ledger_lines_sum_to_return_total (RECONCILE) on fct_ledger_lines: off by 0.01"
    )
