"""The pipeline's build after new returns: targeted when only the data changed, and the
warehouse it leaves is the one a full build from scratch leaves.

Runs `transform.build` (the pipeline's own dbt processes) on a copy of the dbt project, so a
seed can be changed, with the tiny warehouse of test_dbt_build.py:

1. first build: full; the same rows again: nothing to build;
2. CPD resubmits 2021-22 P01 (a second accepted version): targeted, only what the
   submissions and ledger lines feed (the KPI values did not change), no seed, no unit test;
3. the same raw rows loaded into an empty warehouse and built in full: every table and view
   the two builds made, row for row (an order-free checksum of each), is the same;
4. then a seed changes in the project: the next build is full.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stls_warehouse import transform
from stls_warehouse.config import DBT_PROJECT_DIR, Paths
from stls_warehouse.warehouse import connect
from tests.dbt.test_dbt_build import AS_OF, _load_raw, _submission

pytestmark = pytest.mark.slow

RESUBMISSION = _submission(
    "cpd-p01-v2",
    sla="CPD",
    period_key="2021-22-P01",
    status="ACCEPTED",
    received="2021-06-05 09:00:00",
    version=2,
)
LINES = [("E01", "850.00"), ("E26", "210.00")]


def _resubmit(warehouse: Path) -> None:
    con = connect(warehouse)
    try:
        columns = ", ".join(RESUBMISSION)
        marks = ", ".join("?" for _ in RESUBMISSION)
        con.execute(f"insert into raw.submissions ({columns}) values ({marks})", list(RESUBMISSION.values()))
        for row, (account, amount) in enumerate(LINES, start=2):
            con.execute(
                "insert into raw.ledger_lines values (?, ?, 'CPD', '2021-22', 1, ?, date '2021-04-10', "
                "'CC1', ?, 'CORE', 'Corrected', ?, false)",
                ["cpd-p01-v2", row, f"L{row}", account, Decimal(amount)],
            )
    finally:
        con.close()


def checksums(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Every relation dbt builds (all but the raw and audit tables, its sources): row count
    and an order-free hash of its rows."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        relations = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('raw', 'audit', 'information_schema', 'pg_catalog') order by 1, 2"
        ).fetchall()
        found = {}
        for schema, name in relations:
            count, digest = con.execute(
                f'select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar from "{schema}"."{name}" t'
            ).fetchone()
            found[f"{schema}.{name}"] = (count, int(digest))
        return found
    finally:
        con.close()


def executed(home: Paths) -> dict[str, str]:
    """The nodes the last dbt build ran: unique_id -> status (dbt's run_results.json)."""
    results = json.loads((transform.target_dir(home) / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in results["results"]}


@dataclass
class Sequence:
    project: Path
    incremental: Paths
    scratch: Paths
    plans: dict[str, transform.BuildPlan]
    ran: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def sequence(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sequence]:
    root = tmp_path_factory.mktemp("incremental_build")
    project = root / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    incremental, scratch = Paths(root / "incremental").ensure(), Paths(root / "scratch").ensure()
    plans: dict[str, transform.BuildPlan] = {}
    ran: dict[str, dict[str, str]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STLS_AS_OF_DATE", AS_OF)
        patch.setenv("STLS_DBT_TARGET", "duckdb")
        patch.setenv("DO_NOT_TRACK", "1")
        _load_raw(incremental.warehouse)
        plans["first"] = transform.build(incremental, project_dir=project)
        ran["first"] = executed(incremental)
        plans["again"] = transform.build(incremental, project_dir=project)
        _resubmit(incremental.warehouse)
        plans["resubmitted"] = transform.build(incremental, project_dir=project)
        ran["resubmitted"] = executed(incremental)
        ran["folded"] = {
            r["unique_id"]: r["status"]
            for r in json.loads(transform.results_path(incremental).read_text())["results"]
        }

        _load_raw(scratch.warehouse)
        _resubmit(scratch.warehouse)
        plans["scratch"] = transform.build(scratch, project_dir=project)
    yield Sequence(project, incremental, scratch, plans, ran)


def test_first_build_is_full_then_nothing(sequence: Sequence) -> None:
    assert sequence.plans["first"].mode == "full"
    kinds = {uid.split(".")[0] for uid in sequence.ran["first"]}
    assert kinds == {"seed", "model", "test", "unit_test"}
    assert set(sequence.ran["first"].values()) <= {"success", "pass"}
    assert sequence.plans["again"].mode == "skip"


def test_a_resubmission_builds_only_what_the_returns_feed(sequence: Sequence) -> None:
    plan = sequence.plans["resubmitted"]
    assert plan.mode == "targeted", plan.reason
    assert "source:returns.submissions+" in plan.args
    assert "source:returns.ledger_lines+" in plan.args
    assert "source:returns.kpi_values+" not in plan.args
    ran = sequence.ran["resubmitted"]
    kinds = {uid.split(".")[0] for uid in ran}
    assert kinds == {"model", "test"}  # no seed, no unit test
    assert set(ran.values()) <= {"success", "pass"}
    models = {uid.split(".")[-1] for uid in ran if uid.startswith("model.")}
    # what the lines feed, down to the published marts; and the return statuses
    assert {"stg_returns__ledger_lines", "fct_ledger_lines", "mart_return_status"} <= models
    assert "int_ledger_lines_aggregated_to_periods" in models
    assert "stg_returns__kpi_values" not in models
    assert len(ran) < len(sequence.ran["first"]) / 2


def test_the_targeted_build_leaves_the_warehouse_a_full_build_leaves(sequence: Sequence) -> None:
    assert sequence.plans["scratch"].mode == "full"
    incremental = checksums(sequence.incremental.warehouse)
    scratch = checksums(sequence.scratch.warehouse)
    assert {name.split(".")[0] for name in incremental} == {"ref", "staging", "intermediate", "marts"}
    assert len(incremental) == len(scratch) >= 60  # every seed, view and table
    assert {name for name in incremental if name.startswith("marts.")} >= {
        "marts.fct_ledger_lines",
        "marts.mart_return_status",
        "marts.mart_service_line_budget_outturn",
        "marts.mart_expenditure_breakdown",
    }
    different = sorted(
        name for name in incremental.keys() | scratch.keys() if incremental.get(name) != scratch.get(name)
    )
    assert different == []
    # and the resubmission is in it: CPD's P01 lines are its second version's
    import duckdb

    con = duckdb.connect(str(sequence.incremental.warehouse), read_only=True)
    try:
        rows = con.execute(
            "select sum(amount) from marts.fct_ledger_lines where sla_code = 'CPD' and period = 1"
        ).fetchall()
    finally:
        con.close()
    assert rows == [(Decimal("1060.00"),)]


def test_a_changed_seed_forces_a_full_build(sequence: Sequence, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STLS_AS_OF_DATE", AS_OF)
    assert transform.plan_build(sequence.incremental, project_dir=sequence.project).mode == "skip"
    seed = sequence.project / "seeds" / "ref_kpi_definitions.csv"
    text = seed.read_text()
    seed.write_text(text.replace("Referrals received", "Referrals received (all)"))
    try:
        plan = transform.plan_build(sequence.incremental, project_dir=sequence.project)
    finally:
        seed.write_text(text)
    assert plan.mode == "full"
    assert "seeds/ref_kpi_definitions.csv (changed)" in plan.reason
    assert plan.args == ("build", "--fail-fast")


def test_a_new_status_date_rebuilds_the_statuses(sequence: Sequence, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STLS_AS_OF_DATE", "2021-07-15")
    plan = transform.plan_build(sequence.scratch, project_dir=sequence.project)
    assert plan.mode == "targeted"
    assert plan.args[3:-2] == ("int_returns_classified+",)


def test_every_model_reading_a_raw_table_does_so_through_a_source(sequence: Sequence) -> None:
    """A model that read raw.* by name would be missed by the targeted selection."""
    manifest: dict[str, Any] = json.loads(
        (transform.state_dir(sequence.incremental) / "manifest.json").read_text()
    )
    readers = [
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "test", "snapshot")
        and re.search(r"\braw\.", (node.get("raw_code") or "").lower().replace('"', ""))
    ]
    assert readers == []
    assert {s["name"] for s in manifest["sources"].values()} == {
        "submissions",
        "ledger_lines",
        "kpi_values",
        "return_warnings",
        "decisions",
        "dq_results",
    }


def test_the_auditors_results_keep_every_node_after_a_targeted_build(sequence: Sequence) -> None:
    """The evidence pack's dbt/run_results.json: every node of the last full build, the ones
    the targeted build ran with its results, so no test silently drops out of the record."""
    folded, first, targeted = (sequence.ran[k] for k in ("folded", "first", "resubmitted"))
    assert folded.keys() == first.keys()
    assert {uid: folded[uid] for uid in targeted} == targeted
    assert any(uid.startswith("unit_test.") for uid in folded)  # kept from the full build
