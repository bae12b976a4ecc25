"""Cases 1, 2 and 4 of issue 13, through the pipeline's own stages (route, intake, gate, load).

1. A file still being written when the run starts is never read half-written.
2. A landed file swapped for a symlink (or a FIFO) after discovery is never read.
4. A fault of ours (missing reference data) never rejects a school's file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from stls_warehouse import config, reference
from stls_warehouse.intake import sandbox
from tests.factories import csv_bytes, ledger_rows
from tests.faults.helpers import intake_and_load, submissions

NAME = "LEDGER_CAN_2021-22_P06.csv"

# A writer that copies a file into the landing zone the way a slow SFTP upload does: the
# header and 8 lines, then one more line every `pause` seconds.
_WRITER = r"""
import sys, time
target, source, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
lines = open(source, "rb").read().splitlines(keepends=True)
with open(target, "wb", buffering=0) as out:
    out.write(b"".join(lines[:9]))
    print("started", flush=True)
    for line in lines[9:]:
        time.sleep(pause)
        out.write(line)
"""


def _start_writer(tmp_path: Path, target: Path, data: bytes, pause: float) -> subprocess.Popen[str]:
    source = tmp_path / "source.csv"
    source.write_bytes(data)
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target), str(source), str(pause)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "started"
    return writer


def test_a_file_still_being_written_is_left_for_the_next_run(
    stls_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STLS_LANDING_SETTLE_SECONDS", "1.5")
    rows = ledger_rows(sla="CAN", period=6, n=30)
    whole = sum(Decimal(r["amount"]) for r in rows)
    writer = _start_writer(tmp_path, stls_home / "landing" / NAME, csv_bytes(rows), pause=0.5)
    started = time.monotonic()
    first = intake_and_load("run1")  # the run starts while the school's copy is under way
    assert first["load"]["accepted"] == first["load"]["rejected"] == 0, submissions(stls_home)
    assert not (stls_home / "raw" / "receipts").exists()
    assert time.monotonic() - started < 30
    assert writer.poll() is None, "the writer finished before the run read: the test proves nothing"
    writer.wait(timeout=60)
    time.sleep(1.6)
    intake_and_load("run2")
    [(name, status, sla, period, version, lines, total, _)] = submissions(stls_home)
    assert (name, status, sla, period, version, lines) == (NAME, "ACCEPTED", "CAN", "2021-22-P06", 1, 30)
    assert total == whole


def test_a_file_modified_after_discovery_is_read_only_when_whole(
    stls_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discovery saw a settled file; the school then starts writing it again (an SFTP
    overwrite): the intake task, reading later, leaves it for the next run."""
    monkeypatch.setenv("STLS_LANDING_SETTLE_SECONDS", "1.5")
    target = stls_home / "landing" / NAME
    target.write_bytes(csv_bytes(ledger_rows(sla="CAN", period=6, n=3)))
    old = time.time() - 60
    os.utime(target, (old, old))
    writers: list[subprocess.Popen[str]] = []

    def overwrite(batches: list[dict]) -> None:
        assert any(b["files"] for b in batches)
        writers.append(
            _start_writer(tmp_path, target, csv_bytes(ledger_rows(sla="CAN", period=6, n=30)), 0.1)
        )

    result = intake_and_load("run1", between=overwrite)
    writers[0].wait(timeout=60)
    assert [i["outcomes"] for i in result["intake"]] == [{"STILL_ARRIVING": 1}]
    assert result["load"]["accepted"] == result["load"]["rejected"] == 0


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "payroll.csv"
    secret.parent.mkdir()
    secret.write_bytes(b"sla_code,secret\nCAN,SALARY OF A NAMED PERSON\n")
    secret.chmod(0o600)
    return secret


def _holds(root: Path, text: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text in p.read_bytes()]


def test_a_file_swapped_for_a_symlink_after_discovery_is_refused(stls_home: Path, tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    (stls_home / "landing" / NAME).write_bytes(csv_bytes(ledger_rows(sla="CAN", period=6)))
    other = stls_home / "landing" / "LEDGER_CAN_2021-22_P05.csv"
    other.write_bytes(csv_bytes(ledger_rows(sla="CAN", period=5)))

    def swap(batches: list[dict]) -> None:  # a real rename over the discovered file
        link = stls_home / "landing" / ".swap"
        link.symlink_to(secret)
        os.rename(link, stls_home / "landing" / NAME)

    result = intake_and_load("run1", between=swap)
    assert [i["outcomes"] for i in result["intake"]] == [{"REFUSED": 1, "ACCEPTED": 1}]
    assert [(r[0], r[1]) for r in submissions(stls_home)] == [(other.name, "ACCEPTED")]
    for folder in ("raw", "quarantine", "work", "reports"):
        assert _holds(stls_home / folder, b"NAMED PERSON") == []


def test_an_upload_folder_swapped_for_a_symlink_is_refused(stls_home: Path, tmp_path: Path) -> None:
    from stls_warehouse.intake.landing import deliver

    secret = _secret(tmp_path)
    (tmp_path / "outside" / NAME).write_bytes(secret.read_bytes())
    delivered = deliver(stls_home / "landing", NAME, csv_bytes(ledger_rows(sla="CAN", period=6)))

    def swap(batches: list[dict]) -> None:
        link = stls_home / "landing" / "uploads" / ".swap"
        link.symlink_to(tmp_path / "outside")
        os.rename(delivered.parent, tmp_path / "moved")
        os.rename(link, delivered.parent)

    result = intake_and_load("run1", between=swap)
    assert [i["outcomes"] for i in result["intake"]] == [{"REFUSED": 1}]
    assert _holds(stls_home / "raw", b"NAMED PERSON") == []


def test_a_fifo_swapped_in_after_discovery_does_not_hang_the_run(stls_home: Path) -> None:
    target = stls_home / "landing" / NAME
    target.write_bytes(csv_bytes(ledger_rows(sla="CAN", period=6)))

    def swap(batches: list[dict]) -> None:
        fifo = stls_home / "landing" / ".fifo"
        os.mkfifo(fifo)
        os.rename(fifo, target)

    started = time.monotonic()
    result = intake_and_load("run1", between=swap)
    assert time.monotonic() - started < 60
    assert [i["outcomes"] for i in result["intake"]] == [{"REFUSED": 1}]


def test_missing_reference_data_fails_the_run_and_never_rejects_the_file(
    stls_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (stls_home / "landing" / "LEDGER_THA_2021-22_P01.csv").write_bytes(
        csv_bytes(ledger_rows(sla="THA", period=1))
    )
    seeds = tmp_path / "seeds"
    shutil.copytree(reference.SEEDS_DIR, seeds)
    (seeds / "ref_account_codes.csv").unlink()  # one seed missing for one run
    _use_seeds(monkeypatch, seeds)
    with pytest.raises(Exception, match=r"LEDGER_THA_2021-22_P01\.csv.*ref_account_codes") as raised:
        intake_and_load("run1")  # the task fails (and Airflow alerts): the fault is ours
    assert isinstance(raised.value, sandbox.InternalCheckError)
    assert not (stls_home / "raw" / "receipts").exists()
    assert not (stls_home / "quarantine").exists() or not any((stls_home / "quarantine").iterdir())

    _use_seeds(monkeypatch, config.SEEDS_DIR)  # the seed is back: the file is judged now
    intake_and_load("run2")
    assert [(r[0], r[1]) for r in submissions(stls_home)] == [("LEDGER_THA_2021-22_P01.csv", "ACCEPTED")]


def _use_seeds(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setattr(reference, "SEEDS_DIR", folder)
    for value in vars(reference).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()


def test_a_crash_after_the_ledger_commits_is_completed_by_the_next_run(
    stls_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stls_warehouse.intake import submissions as ledger

    (stls_home / "landing" / "LEDGER_CAN_2021-22_P05.csv").write_bytes(b"not,a,return\n1,2,3\n")
    (stls_home / "landing" / NAME).write_bytes(csv_bytes(ledger_rows(sla="CAN", period=6)))

    def crash(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed after the commit")

    with monkeypatch.context() as patched:
        patched.setattr(ledger, "_quarantine", crash)
        with pytest.raises(SystemExit):
            intake_and_load("run1")
    assert len(submissions(stls_home)) == 2  # committed
    assert not (stls_home / "raw" / "receipts").exists()  # but nothing written after it
    intake_and_load("run2")
    assert len(submissions(stls_home)) == 2
    [rejected] = [r for r in submissions(stls_home) if r[1] == "REJECTED"]
    sha = json.loads(rejected[7]) and _sha_of(stls_home, rejected[0])
    assert (stls_home / "quarantine" / sha / "rejection.json").exists()
    assert (stls_home / "quarantine" / sha / "rejection.xlsx").exists()
    receipts = list((stls_home / "raw" / "receipts").rglob("*.json"))
    assert len(receipts) == 2
    # The record a lost warehouse is rebuilt from was written for the batch too.
    assert len(list((stls_home / "raw" / "record").iterdir())) == 1


def _sha_of(home: Path, name: str) -> str:
    import hashlib

    return hashlib.sha256((home / "landing" / name).read_bytes()).hexdigest()


def test_school_text_in_the_what_changed_page_is_escaped(stls_home: Path) -> None:
    first = ledger_rows(sla="CAN", period=6)
    second = [dict(r) for r in first]
    second[0]["cost_centre"] = "[pay here](http://evil.example) <script>alert(1)</script>"
    second[1]["line_ref"] = "| forged | cell |"
    (stls_home / "landing" / NAME).write_bytes(csv_bytes(first))
    intake_and_load("run1")
    (stls_home / "landing" / "LEDGER_CAN_2021-22_P06.xlsx").write_bytes(b"")  # noise, rejected
    (stls_home / "landing" / NAME).write_bytes(csv_bytes(second))
    intake_and_load("run2")
    [page] = (stls_home / "raw" / "changes").glob("*.md")
    text = page.read_text(encoding="utf-8")
    assert "<script>" not in text
    assert not re.search(r"(?<!\\)\]\(http", text) and not re.search(r"(?<!\\)\| forged", text)
    assert "\\[pay here\\](http://evil.example) &lt;script&gt;" in text


def test_a_dead_runs_work_folder_is_cleaned_and_a_live_one_kept(stls_home: Path) -> None:
    from stls_warehouse import pipeline

    dead = stls_home / "work" / "manual__2026-01-01T06_00_00"
    live = stls_home / "work" / "manual__today"
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "staged.json").write_text("{}")
    old = time.time() - 2 * 24 * 3600
    for path in (dead / "staged.json", dead):
        os.utime(path, (old, old))
    pipeline.route_landing()
    assert not dead.exists() and live.exists()
