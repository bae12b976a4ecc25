"""Re-running changes nothing; a back-fill, in order or shuffled, equals one run; a crash heals.

The stages are the ones every DAG task calls (`stls_warehouse.pipeline`), driven here
directly for speed; the DAGs themselves run through Airflow in test_dags.py and
test_celery_deployment.py. Published tables are compared by canonical checksum
(`orchestration.checksums`), which leaves out only when and in which run things happened.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import duckdb
import psutil
import pytest

from stls_warehouse import pipeline
from stls_warehouse.config import Paths
from stls_warehouse.orchestration.checksums import published_checksums
from stls_warehouse.orchestration.closing import build_as_of
from stls_warehouse.synthetic import generate

pytestmark = [pytest.mark.slow, pytest.mark.integration]

YEARS = ["2021-22", "2022-23", "2023-24"]
SLAS = ["CSN", "SWA"]
AS_OF = "2024-05-20"  # the close of April 2024: every return of the three years is due
# How many monthly loads between two warehouse builds in the in-order back-fill; the
# builds in between are what exercise dbt's incremental model. STLS_BACKFILL_BUILD_EVERY=1
# builds after every month (36 builds: the full back-fill, a few minutes longer).
BUILD_EVERY = int(os.environ.get("STLS_BACKFILL_BUILD_EVERY", "12"))


def _month_of(name: str) -> str:
    ledger = re.match(r"LEDGER_[A-Z]+_(\d{4})-\d{2}_P(\d{2})\.", name)
    if ledger:
        start, period = int(ledger.group(1)), int(ledger.group(2))
        if period == 13:
            return f"{start + 1}-04"  # P13 is closed by the April close
        month = (period + 2) % 12 + 1
        return f"{start if period <= 9 else start + 1}-{month:02d}"
    return re.match(r"KPI_[A-Z]+_(\d{4}-\d{2})\.", name).group(1)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def returns_by_month(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, bytes]]]:
    folder = tmp_path_factory.mktemp("generated")
    by_month: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for path in generate(folder, years=YEARS, slas=SLAS):
        by_month[_month_of(path.name)].append((path.name, path.read_bytes()))
    assert len(by_month) >= 36  # 36 months (and the April after the last year, for its P13)
    return dict(by_month)


def _home(root: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    home = Paths(root)
    (root / "landing").mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("STLS_HOME", str(root))
    monkeypatch.setenv("STLS_AS_OF_DATE", AS_OF)
    return home


def _land(home: Paths, files: list[tuple[str, bytes]]) -> None:
    for name, data in files:
        (home.landing / name).write_bytes(data)


def _load(run_id: str) -> None:
    for batch in pipeline.route_landing():
        if batch["files"]:
            pipeline.intake_batch(batch["sla_code"], batch["files"], run_id)
    pipeline.gate_returns(run_id)
    pipeline.load_returns(run_id)


def _build_and_publish() -> dict:
    build_as_of(AS_OF)
    return pipeline.publish_release()


def _one_run_over_everything(root: Path, months: dict, monkeypatch: pytest.MonkeyPatch) -> Paths:
    home = _home(root, monkeypatch)
    _land(home, [f for files in months.values() for f in files])
    _load("everything")
    _build_and_publish()
    return home


@pytest.fixture(scope="module")
def reference(tmp_path_factory, returns_by_month) -> dict:
    """One run over all 36 months' files, then the same run again."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        home = _one_run_over_everything(tmp_path_factory.mktemp("one_run"), returns_by_month, monkeypatch)
        first = published_checksums(home)
        manifest = (home.parquet / "manifest.json").read_text()
        submissions = _count(home, "raw.submissions")
        _load("everything-again")
        _build_and_publish()
        return {
            "checksums": first,
            "again": published_checksums(home),
            "manifest_unchanged": (home.parquet / "manifest.json").read_text() == manifest,
            "submissions": (submissions, _count(home, "raw.submissions")),
        }


def _count(home: Paths, table: str) -> int:
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return int(con.execute(f"select count(*) from {table}").fetchone()[0])
    finally:
        con.close()


def test_running_the_same_run_again_changes_nothing(reference: dict) -> None:
    assert reference["again"] == reference["checksums"]
    assert reference["manifest_unchanged"], "an unchanged release is not published again"
    before, after = reference["submissions"]
    assert before == after
    assert reference["checksums"]["fct_ledger_lines"][0] > 0


def test_a_monthly_backfill_in_order_gives_the_checksums_of_one_run(
    reference: dict, returns_by_month: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home(tmp_path / "in_order", monkeypatch)
    months = sorted(returns_by_month)
    for number, month in enumerate(months, start=1):
        _land(home, returns_by_month[month])
        _load(f"close_{month}")
        if number % BUILD_EVERY == 0 and number < len(months):
            build_as_of(AS_OF)  # an intermediate build: incremental models carry state
    _build_and_publish()
    assert published_checksums(home) == reference["checksums"]


# --- crash safety ------------------------------------------------------------------------

_CHILD = r"""
import os, signal, sys
from stls_warehouse import pipeline
from stls_warehouse.orchestration.closing import build_as_of

point, run_id, as_of = sys.argv[1], sys.argv[2], sys.argv[3]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "load_transaction":
    from stls_warehouse.intake import submissions
    real, calls = submissions._record, []
    def record(*args, **kwargs):
        calls.append(1)
        result = real(*args, **kwargs)
        if len(calls) == 3:
            die()  # three returns written inside the open transaction
        return result
    submissions._record = record
elif point == "after_commit":
    from stls_warehouse.intake.raw_zone import RawZone
    RawZone.record_receipt = die  # committed, no receipt written yet
elif point == "publish":
    from stls_warehouse.publish import release
    release._make_current = die  # the new release is written, not yet current

if point in ("load_transaction", "after_commit"):
    for batch in pipeline.route_landing():
        if batch["files"]:
            pipeline.intake_batch(batch["sla_code"], batch["files"], run_id)
    pipeline.gate_returns(run_id)
    pipeline.load_returns(run_id)
else:
    build_as_of(as_of)
    pipeline.publish_release()
"""


def _child(point: str, run_id: str, *, kill_when_dbt_runs: bool = False) -> int:
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, point, run_id, AS_OF],
        env=dict(os.environ),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if kill_when_dbt_runs:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            children = psutil.Process(process.pid).children(recursive=True)
            if any("build" in " ".join(c.cmdline()) for c in children if c.is_running()):
                time.sleep(3)  # let dbt get well into the build
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.2)
    process.wait(timeout=600)
    return process.returncode


def test_a_shuffled_backfill_killed_at_every_stage_then_rerun_gives_the_clean_checksums(
    reference: dict, returns_by_month: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run per month in a shuffled order; four of the runs are SIGKILLed part-way (in the
    ledger's transaction, between its commit and the receipts, during dbt build, during
    publication) and simply run again."""
    home = _home(tmp_path / "shuffled", monkeypatch)
    months = sorted(returns_by_month)
    random.Random(20240520).shuffle(months)
    crashes = {5: "load_transaction", 17: "after_commit"}
    for number, month in enumerate(months):
        _land(home, returns_by_month[month])
        if number in crashes:
            assert _child(crashes[number], f"crash_{month}") == -signal.SIGKILL
        _load(f"close_{month}")
    assert _count(home, "raw.submissions") == sum(len(files) for files in returns_by_month.values())
    assert _child("dbt_build", "crash_build", kill_when_dbt_runs=True) == -signal.SIGKILL
    assert _child("publish", "crash_publish") == -signal.SIGKILL
    _build_and_publish()

    assert published_checksums(home) == reference["checksums"]
    con = duckdb.connect(str(home.warehouse))  # opens (and replays its WAL) without error
    try:
        lines = con.execute(
            "select count(*), count(distinct (file_sha256, source_row)) from raw.ledger_lines"
        )
        count, distinct = lines.fetchone()
    finally:
        con.close()
    assert count == distinct
    manifest = json.loads((home.parquet / "manifest.json").read_text())
    assert manifest["tables"]
