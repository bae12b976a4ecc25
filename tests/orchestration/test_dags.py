"""The production DAGs as a data engineer meets them: which period a close covers, the
landing watcher, and real `airflow dags test` runs whose alerts arrive at a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from datetime import date
from email import message_from_bytes
from pathlib import Path

import pytest

from stls_warehouse import airflow_local
from stls_warehouse.config import Paths
from stls_warehouse.intake.raw_zone import RawZone
from stls_warehouse.orchestration.calendar import close_for_month, close_for_run
from stls_warehouse.orchestration.triggers import LandingZoneTrigger
from stls_warehouse.synthetic import generate


def test_a_close_covers_the_month_before_its_run_and_april_also_closes_p13() -> None:
    may = close_for_run(date(2022, 5, 20))
    assert may.period_keys == ("2021-22-P13", "2022-23-P01", "2022-04")
    assert may.closes_year == "2021-22"
    assert may.as_of == date(2022, 5, 20)
    january = close_for_month("2022-12")
    assert january.period_keys == ("2022-23-P09", "2022-12")
    assert january.as_of == date(2023, 1, 20) and january.closes_year is None
    assert close_for_run(date(2023, 1, 20)) == january


def test_the_landing_watcher_fires_once_per_settled_set_of_unrecorded_files(tmp_path: Path) -> None:
    landing, raw = tmp_path / "landing", tmp_path / "raw"
    landing.mkdir()
    old = landing / "KPI_THA_2022-10.csv"
    old.write_bytes(b"recorded before")
    RawZone(raw).put_object(__import__("hashlib").sha256(b"recorded before").hexdigest(), old.read_bytes())
    RawZone(raw).record_receipt(__import__("hashlib").sha256(b"recorded before").hexdigest(), old.name)

    async def watch() -> list[dict]:
        trigger = LandingZoneTrigger(landing=str(landing), raw_root=str(raw), poke_interval=0.05)
        events: list[dict] = []
        stream = trigger.run()

        async def collect() -> None:
            async for event in stream:
                events.append(event.payload)

        task = asyncio.create_task(collect())
        await asyncio.sleep(0.3)
        (landing / "LEDGER_SWA_2021-22_P07.csv").write_bytes(b"new")
        await asyncio.sleep(0.5)
        await asyncio.sleep(0.3)  # nothing new: no second event
        task.cancel()
        return events

    events = asyncio.run(watch())
    assert events == [{"count": 1, "files": ["LEDGER_SWA_2021-22_P07.csv"]}]
    assert sorted(p.name for p in landing.iterdir()) == ["KPI_THA_2022-10.csv", "LEDGER_SWA_2021-22_P07.csv"]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_a_failed_task_is_e_mailed_by_the_notifier_every_task_carries(
    smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from stls_warehouse.orchestration.alerts import TaskFailureEmail
    from stls_warehouse.orchestration.dag_defaults import default_args

    inbox, port = smtp_server
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://127.0.0.1:{port}/?disable_ssl=true&disable_tls=true&timeout=10"
    )
    monkeypatch.setenv("STLS_ALERT_TO", "stls-data@example.org")
    notifier = default_args()["on_failure_callback"]
    assert isinstance(notifier, TaskFailureEmail)
    ti = SimpleNamespace(dag_id="stls_on_arrival", task_id="intake", map_index=2, run_id="r1", try_number=3)
    notifier({"ti": ti, "run_id": "r1", "exception": ValueError("bad <file>")})
    _wait_for(inbox, 1)
    (mail,) = inbox.messages
    assert mail["Subject"] == "[STLS] stls_on_arrival.intake[2] failed (r1)"
    assert mail["To"] == "stls-data@example.org"
    body = (
        mail.get_payload(0).get_payload(decode=True).decode() if mail.is_multipart() else mail.get_payload()
    )
    assert "bad &lt;file&gt;" in body and "after try 3" in body


def _dags_test(home: Path, env: dict[str, str], dag_id: str, conf: dict) -> subprocess.CompletedProcess[str]:
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run(
        [airflow, "dags", "test", dag_id, "2022-05-20T07:00:00+00:00", "--conf", json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _wait_for(inbox, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(inbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.integration
def test_a_monthly_close_publishes_announces_the_period_and_mails_overdue_returns(
    stls_home: Path, smtp_server
) -> None:
    inbox, port = smtp_server
    generate(stls_home / "landing", years=["2021-22"], slas=["SWA"], periods=[1])
    env = airflow_local.ensure_metadata(Paths(stls_home))
    env |= {
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{port}/?disable_ssl=true&disable_tls=true&timeout=10",
        "STLS_ALERT_TO": "finance@example.org,stls-data@example.org",
        "STLS_TASK_RETRIES": "0",
    }
    done = _dags_test(stls_home, env, "stls_monthly_close", {"month": "2021-05"})
    assert "state=success" in done.stdout + done.stderr or done.returncode == 0, done.stderr[-4000:]

    _wait_for(inbox, 1)
    subjects = [m["Subject"] for m in inbox.messages]
    assert any("overdue return(s) at the 2021-22-P02, 2021-05 close" in s for s in subjects), subjects
    overdue = next(m for m in inbox.messages if "overdue" in m["Subject"])
    assert overdue["To"] == "finance@example.org, stls-data@example.org"
    body = overdue.get_payload(0).get_payload(decode=True).decode() if overdue.is_multipart() else ""
    assert "SWA" in body and "2021-22-P02" in body  # SWA sent P1 only; P2 was due 2021-06-15

    assert (stls_home / "published" / "parquet" / "fct_ledger_lines.parquet").exists()
    metadata = sqlite3.connect(stls_home / "airflow" / "airflow.db")
    try:
        extras = [
            json.loads(extra)
            for (extra,) in metadata.execute(
                "select e.extra from asset_event e join asset a on a.id = e.asset_id where a.uri = ?",
                ["stls://closed/period"],
            )
        ]
    finally:
        metadata.close()
    assert any(
        e.get("month") == "2021-05" and e.get("period_keys") == ["2021-22-P02", "2021-05"] for e in extras
    )

    failed = _dags_test(stls_home, env, "stls_annual_review", {})  # no year in the events: fails
    assert failed.returncode != 0 or "state=failed" in failed.stdout + failed.stderr
    _wait_for(inbox, 2)
    alert = next((m for m in inbox.messages if "failed" in m["Subject"]), None)
    assert alert is not None, [m["Subject"] for m in inbox.messages]
    assert alert["Subject"].startswith("[STLS] stls_annual_review.which_year failed")
