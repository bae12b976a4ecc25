"""Cases 3 and 5 of issue 13 and the publication weak cases, through the real pipeline.

One small STLS_HOME is run once through every stage (`pipeline.run_locally`: intake, gate,
load, dbt, warehouse gate, publish): three CAN ledgers and a rejected CSV whose header starts
with a NUL byte. Each test works on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest

from stls_warehouse import pipeline
from stls_warehouse.config import Paths
from stls_warehouse.publish import postgres
from stls_warehouse.publish.release import (
    current_manifest,
    publication_hold,
    publication_status,
    publish,
    release_hold,
    republish,
    rollback,
)
from stls_warehouse.quality.warehouse_gates import GateFailed
from tests.factories import csv_bytes, ledger_rows
from tests.postgres import database_name, scratch_database

pytestmark = pytest.mark.slow
NUL_FILE = "LEDGER_CAN_2021-22_P05.csv"
DATABASE = database_name("stls_faults_test")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("faults") / "home"
    (home / "landing").mkdir(parents=True)
    for period in (6, 7, 8):
        (home / "landing" / f"LEDGER_CAN_2021-22_P{period:02d}.csv").write_bytes(
            csv_bytes(ledger_rows(sla="CAN", period=period, n=30))
        )
    (home / "landing" / NUL_FILE).write_bytes(b"\x00sla_code,financial_year\nCAN,2021-22\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STLS_HOME", str(home))
        mp.setenv("STLS_AS_OF_DATE", "2022-06-30")
        mp.delenv("STLS_POSTGRES_URL", raising=False)
        pipeline.run_locally("built")
    yield home


@pytest.fixture
def home(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    copy = tmp_path / "home"
    shutil.copytree(built, copy, symlinks=True)
    monkeypatch.setenv("STLS_HOME", str(copy))
    monkeypatch.setenv("STLS_AS_OF_DATE", "2022-06-30")
    monkeypatch.delenv("STLS_POSTGRES_URL", raising=False)
    monkeypatch.delenv("STLS_ALLOW_RELEASE_LOSS", raising=False)
    return Paths(copy)


def published_lines(home: Paths) -> tuple[int, Decimal]:
    path = str(home.published / "parquet" / "fct_ledger_lines.parquet")
    count, total = duckdb.execute("select count(*), sum(amount) from read_parquet(?)", [path]).fetchone()
    return count, total


def test_a_lost_warehouse_is_rebuilt_from_the_record_and_never_published_empty(home: Paths) -> None:
    before = published_lines(home)
    assert before[0] == 90
    shutil.move(home.warehouse, home.home / "stls.duckdb.moved-away")
    result = pipeline.run_locally("after_loss")
    assert published_lines(home) == before
    assert result["release"]["tables"]["fct_ledger_lines"] == 90


def test_a_recreated_empty_warehouse_is_refilled(home: Paths) -> None:
    before = published_lines(home)
    home.warehouse.unlink()
    duckdb.connect(str(home.warehouse)).close()  # recreated, empty
    pipeline.run_locally("after_recreate")
    assert published_lines(home) == before


def test_the_gate_refuses_a_release_that_loses_returns_unless_an_operator_allows_it(
    home: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = current_manifest(home)
    assert before is not None
    shutil.move(home.warehouse, home.home / "stls.duckdb.moved-away")
    shutil.rmtree(home.raw / "record")  # no record to rebuild from
    with pytest.raises(GateFailed, match=r"RELEASE_LOSS.*3 accepted return\(s\) and 90 ledger line"):
        pipeline.run_locally("lost_for_good")
    assert current_manifest(home)["release_id"] == before["release_id"]
    assert published_lines(home)[0] == 90
    monkeypatch.setenv("STLS_ALLOW_RELEASE_LOSS", "yes")
    pipeline.run_locally("loss_allowed")
    assert published_lines(home)[0] == 0


def test_stls_rebuild_restores_every_raw_table(home: Paths) -> None:
    tables = ("submissions", "ledger_lines", "kpi_values", "submission_changes")

    def counts() -> dict[str, int]:
        con = duckdb.connect(str(home.warehouse), read_only=True)
        try:
            return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}
        finally:
            con.close()

    before = counts()
    result = pipeline.rebuild(build=False)
    assert counts() == before and before["ledger_lines"] == 90 and before["submissions"] == 4
    assert result["previous_warehouse"] and Path(result["previous_warehouse"]).exists()
    assert result["unrecorded_receipts"] == 0


def test_a_nul_byte_from_a_school_never_reaches_a_target(home: Paths) -> None:
    results = str(home.published / "parquet" / "mart_data_quality_results.parquet")
    nul = duckdb.execute(
        "select count(*) from read_parquet(?) where contains(coalesce(observed, '') || coalesce(row_refs, '') "
        "|| coalesce(message, '') || coalesce(file_name, ''), chr(0))",
        [results],
    ).fetchone()[0]
    assert nul == 0

    # Every BI user reads the files: no rejected file's name or header text (issue 13, weak case).
    shown = duckdb.execute(
        "select file_name, row_refs, observed, file_sha256 from read_parquet(?) where code = 'HEADER_MISMATCH'",
        [results],
    ).fetchall()
    assert shown and {r[:3] for r in shown} == {(None, None, None)} and shown[0][3]
    everywhere = [p for p in (home.published / "current").resolve().rglob("*") if p.is_file()]
    readable = [p for p in everywhere if "auditor" not in p.parts]
    assert not [p for p in readable if NUL_FILE.encode() in p.read_bytes()]
    # The auditors' copy is the pipeline's own (owner only) and holds the text, made safe.
    [full] = [p for p in everywhere if "auditor" in p.parts]
    assert stat.S_IMODE(full.stat().st_mode) == 0o400 and stat.S_IMODE(full.parent.stat().st_mode) == 0o700
    auditors = duckdb.execute(
        "select file_name, observed from read_parquet(?) where code = 'HEADER_MISMATCH'", [str(full)]
    ).fetchall()
    assert auditors[0][0] == NUL_FILE and "\ufffdsla_code" in auditors[0][1]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with scratch_database(DATABASE) as url:
        yield url


def _change_the_warehouse(home: Paths) -> None:
    con = duckdb.connect(str(home.warehouse))
    con.execute("update marts.fct_ledger_lines set amount = amount + 1 where source_row = 2")
    con.close()


def test_postgresql_gets_the_release_and_a_locked_postgresql_leaves_only_itself_behind(
    home: Paths, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STLS_POSTGRES_URL", pg_url)
    first = republish(home)  # the NUL header's row included: PostgreSQL text takes it
    assert postgres.published_release_id(pg_url) == first["release_id"]
    auditor = psycopg.connect(pg_url, autocommit=True)
    auditor.execute("set role stls_auditor")
    [(name, refs)] = auditor.execute(
        "select file_name, observed from stls_published.mart_data_quality_results where code = 'HEADER_MISMATCH'"
    ).fetchall()
    auditor.close()
    assert name == NUL_FILE and "\ufffdsla_code" in refs
    monkeypatch.setattr(postgres, "SWAP_DEADLINE_SECONDS", 1.0)
    monkeypatch.setenv("STLS_POSTGRES_ATTEMPTS", "2")
    monkeypatch.setenv("STLS_POSTGRES_RETRY_SECONDS", "0.1")
    reader = psycopg.connect(pg_url)  # a BI session holding a read lock
    reader.execute("select count(*) from stls_published.fct_ledger_lines")
    _change_the_warehouse(home)
    try:
        with pytest.raises(postgres.PostgresPublishFailed, match=r"PostgreSQL is behind.*after 2 attempt"):
            publish(home)
    finally:
        reader.rollback()
        reader.close()
    files = current_manifest(home)["release_id"]
    assert files != first["release_id"]  # the files were published first
    status = publication_status(home)
    assert status["targets"]["postgresql"] | {"error": None} == {
        "release_id": first["release_id"],
        "behind": True,
        "error": None,
    }
    republish(home)  # the reader has gone: PostgreSQL catches up
    assert postgres.published_release_id(pg_url) == files
    assert publication_status(home)["targets"]["postgresql"]["behind"] is False


def test_a_rollback_holds_until_an_operator_releases_it(home: Paths) -> None:
    first = current_manifest(home)["release_id"]
    _change_the_warehouse(home)
    second = publish(home)["release_id"]
    assert rollback(home)["release_id"] == first
    assert publication_hold(home)["release_id"] == first
    result = pipeline.publish_release()
    assert result["release_id"] == first and "held at release" in result["held"]
    assert current_manifest(home)["release_id"] == first
    release_hold(home)
    assert publish(home)["release_id"] > second


@pytest.mark.parametrize("damage", ["parquet", "manifest", "current"])
def test_a_damaged_current_release_is_repaired_with_a_clear_message(home: Paths, damage: str) -> None:
    current = home.published / "current"
    release = current.resolve()
    before = published_lines(home)
    if damage == "parquet":
        (release / "parquet" / "fct_ledger_lines.parquet").unlink()
    elif damage == "manifest":
        (release / "manifest.json").chmod(0o644)
        (release / "manifest.json").write_text("{not json", encoding="utf-8")
    else:
        current.unlink()
    manifest = publish(home)
    assert manifest["release_id"] != release.name
    assert published_lines(home) == before
    repaired = publication_status(home)["repaired"]
    assert {"parquet": "fct_ledger_lines.parquet", "manifest": "corrupt", "current": "current is missing"}[
        damage
    ] in repaired


def test_published_files_are_read_only_and_leftovers_are_cleaned(home: Paths) -> None:
    leftover = home.published / "releases" / ".20200101T000000000000Z.tmp"
    leftover.mkdir()
    (leftover / "half.parquet").write_bytes(b"x")
    _change_the_warehouse(home)
    publish(home)
    assert not leftover.exists()
    release = (home.published / "current").resolve()
    modes = {
        stat.S_IMODE(p.stat().st_mode) for p in release.rglob("*") if p.is_file() and "auditor" not in p.parts
    }
    assert modes == {0o444}
    assert {stat.S_IMODE(p.stat().st_mode) for p in (release / "auditor").iterdir()} == {0o400}


def test_raw_quarantine_and_warehouse_are_for_owner_and_group_only(home: Paths) -> None:
    for folder in (home.raw, home.quarantine, home.warehouse.parent):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o007 == 0, folder
    assert stat.S_IMODE(home.warehouse.stat().st_mode) & 0o007 == 0
    objects = [p for p in (home.raw / "objects").rglob("*") if p.is_file()]
    assert objects and all(stat.S_IMODE(p.stat().st_mode) == 0o440 for p in objects)


def test_two_runs_at_once_the_second_says_so_or_waits(home: Paths) -> None:
    import subprocess
    import sys
    import time

    from stls_warehouse.locking import run_lock

    stls = str(Path(sys.executable).with_name("stls"))
    released = threading.Event()
    with run_lock(home, wait=False):
        done = subprocess.run([stls, "run", "--no-wait"], capture_output=True, text=True, check=False)
        assert done.returncode == 1
        assert "another run is in progress" in done.stderr and f"pid {os.getpid()}" in done.stderr

        def later() -> None:
            time.sleep(1)
            released.set()

        threading.Thread(target=later).start()
    waited: list[float] = []

    def second() -> None:
        started = time.monotonic()
        with run_lock(home, wait=True):
            waited.append(time.monotonic() - started)

    with run_lock(home, wait=False):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert not waited  # still waiting its turn
    thread.join(timeout=10)
    assert waited and waited[0] >= 0.4
    json.dumps(waited)
