"""How `transform.build` chooses between a full dbt build, a targeted one and none.

No dbt here: the dbt command is replaced by a stand-in that writes the manifest a build
would leave, so each rule of `plan_build` is checked on its own in milliseconds. The real
builds (the targeted build gives the marts a full build gives) are in
tests/dbt/test_incremental_build.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from stls_warehouse import transform
from stls_warehouse.config import Paths
from stls_warehouse.warehouse import connect

SOURCES = ("submissions", "ledger_lines", "kpi_values")

MANIFEST: dict[str, Any] = {
    "sources": {
        f"source.stls.returns.{table}": {
            "source_name": "returns",
            "name": table,
            "schema": "raw",
            "identifier": table,
        }
        for table in SOURCES
    },
    "nodes": {
        "model.stls.int_returns_classified": {
            "resource_type": "model",
            "name": "int_returns_classified",
            "schema": "marts",
            "alias": "int_returns_classified",
            "config": {"materialized": "table"},
            "depends_on": {"macros": ["macro.stls.status_sql"]},
        },
        "model.stls.stg_returns__kpi_values": {
            "resource_type": "model",
            "name": "stg_returns__kpi_values",
            "schema": "marts",
            "alias": "stg_returns__kpi_values",
            "config": {"materialized": "table"},
            "depends_on": {"macros": []},
        },
        "model.stls.int_helper": {
            "resource_type": "model",
            "name": "int_helper",
            "schema": "marts",
            "alias": "int_helper",
            "config": {"materialized": "ephemeral"},
            "depends_on": {"macros": []},
        },
    },
    "macros": {
        "macro.stls.as_of_date": {"depends_on": {"macros": []}},
        "macro.stls.status_sql": {"depends_on": {"macros": ["macro.stls.as_of_date"]}},
        "macro.stls.to_pennies": {"depends_on": {"macros": []}},
    },
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small stand-in dbt project: what matters is which files change."""
    root = tmp_path / "dbt_project"
    (root / "seeds").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text("name: stls\n")
    (root / "profiles.yml").write_text("stls: {}\n")
    (root / "seeds" / "ref_account_codes.csv").write_text("account_code,category\nE01,Teachers\n")
    (root / "models" / "mart.sql").write_text("select 1 as one\n")
    return root


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("STLS_AS_OF_DATE", "2021-06-15")
    monkeypatch.delenv("STLS_DBT_TARGET", raising=False)
    where = Paths(tmp_path / "home").ensure()
    con = connect(where.warehouse)
    try:
        con.execute("create schema marts")
        con.execute("create table marts.int_returns_classified as select 1 as one")
        con.execute("create table marts.stg_returns__kpi_values as select 1 as one")
        _add_submission(con, "a" * 64)
    finally:
        con.close()
    return where


def _add_submission(con: Any, sha: str) -> None:
    con.execute(
        "insert into raw.submissions (file_sha256, original_name, received_at, status, error_count, "
        "warning_count, problems_json) values (?, 'x.csv', timestamp '2021-05-05 09:00', 'ACCEPTED', 0, 0, "
        "'[]')",
        [sha],
    )


@pytest.fixture
def dbt_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Replace the dbt process: record its arguments and leave the manifest a build writes."""
    calls: list[tuple[str, ...]] = []

    def fake_run_dbt(paths: Paths, *args: str, project_dir: Path) -> None:
        calls.append(args)
        transform.target_dir(paths).mkdir(parents=True, exist_ok=True)
        (transform.target_dir(paths) / "manifest.json").write_text(json.dumps(MANIFEST))

    monkeypatch.setattr(transform, "run_dbt", fake_run_dbt)
    return calls


def _built(home: Paths, project: Path) -> transform.BuildPlan:
    return transform.build(home, project_dir=project)


def test_first_build_is_full_and_recorded(home: Paths, project: Path, dbt_calls: list) -> None:
    plan = _built(home, project)
    assert plan.mode == "full"
    assert "no successful build is recorded" in plan.reason
    assert dbt_calls == [("build", "--fail-fast")]
    record = json.loads((transform.state_dir(home) / "last_build.json").read_text())
    assert record["sources"]["returns.submissions"][0] == 1
    assert record["as_of_date"] == "2021-06-15"
    assert (transform.state_dir(home) / "manifest.json").exists()


def test_nothing_new_skips_the_build(home: Paths, project: Path, dbt_calls: list) -> None:
    _built(home, project)
    plan = _built(home, project)
    assert plan.mode == "skip"
    assert dbt_calls == [("build", "--fail-fast")]  # the first build only


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "seeds" / "ref_account_codes.csv").write_text(
            "account_code,category\nE01,Teaching staff\n"
        ),
        lambda root: (root / "seeds" / "ref_new.csv").write_text("code\nX\n"),
        lambda root: (root / "models" / "mart.sql").unlink(),
        lambda root: (root / "profiles.yml").write_text("stls: {target: postgres}\n"),
        lambda root: (root / "dbt_project.yml").write_text("name: stls\nvars: {a: 1}\n"),
    ],
    ids=["seed changed", "seed added", "model removed", "profiles", "dbt_project.yml"],
)
def test_a_changed_project_forces_a_full_build(
    home: Paths, project: Path, dbt_calls: list, change: Any
) -> None:
    _built(home, project)
    with connect(home.warehouse) as con:  # new data too: the project change still wins
        _add_submission(con, "b" * 64)
    change(project)
    plan = _built(home, project)
    assert plan.mode == "full"
    assert "the dbt project changed" in plan.reason
    assert dbt_calls[-1] == ("build", "--fail-fast")


def test_the_reason_names_the_changed_seed(home: Paths, project: Path, dbt_calls: list) -> None:
    _built(home, project)
    (project / "seeds" / "ref_account_codes.csv").write_text("account_code,category\nE01,Other\n")
    plan = transform.plan_build(home, project_dir=project)
    assert plan.reason.endswith("seeds/ref_account_codes.csv (changed)")


def test_dbt_target_and_logs_are_not_the_project(home: Paths, project: Path, dbt_calls: list) -> None:
    _built(home, project)
    for folder in ("target", "logs"):  # written by dbt when run by hand from dbt_project/
        (project / folder).mkdir()
        (project / folder / "manifest.json").write_text("{}")
    assert transform.plan_build(home, project_dir=project).mode == "skip"


def test_a_new_dbt_version_forces_a_full_build(
    home: Paths, project: Path, dbt_calls: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    _built(home, project)
    versions = transform.package_versions() | {"dbt-core": "1.11.99"}
    monkeypatch.setattr(transform, "package_versions", lambda: versions)
    plan = transform.plan_build(home, project_dir=project)
    assert plan.mode == "full"
    assert "dbt-core" in plan.reason and "1.11.99" in plan.reason


def test_new_rows_build_only_what_their_source_feeds(home: Paths, project: Path, dbt_calls: list) -> None:
    _built(home, project)
    with connect(home.warehouse) as con:
        _add_submission(con, "b" * 64)
    plan = _built(home, project)
    assert plan.mode == "targeted"
    assert "returns.submissions 1 -> 2 rows" in plan.reason
    assert dbt_calls[-1] == (
        "build",
        "--fail-fast",
        "--select",
        "source:returns.submissions+",
        "--exclude-resource-type",
        "unit_test",
    )
    assert _built(home, project).mode == "skip"  # recorded: the same rows again build nothing


def test_a_replaced_row_is_a_change_even_at_the_same_count(
    home: Paths, project: Path, dbt_calls: list
) -> None:
    _built(home, project)
    with connect(home.warehouse) as con:
        con.execute("update raw.submissions set status = 'REJECTED'")
    plan = transform.plan_build(home, project_dir=project)
    assert plan.mode == "targeted"
    assert "returns.submissions: rows replaced" in plan.reason


def test_a_new_status_date_rebuilds_what_reads_it(
    home: Paths, project: Path, dbt_calls: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    _built(home, project)
    monkeypatch.setenv("STLS_AS_OF_DATE", "2021-06-16")
    plan = transform.plan_build(home, project_dir=project)
    assert plan.mode == "targeted"
    assert "status date 2021-06-15 -> 2021-06-16" in plan.reason
    # int_returns_classified calls as_of_date() through another macro; no source changed
    assert plan.args == (
        "build",
        "--fail-fast",
        "--select",
        "int_returns_classified+",
        "--exclude-resource-type",
        "unit_test",
    )


def test_a_close_passes_its_status_date_to_dbt_as_a_variable(
    home: Paths, project: Path, dbt_calls: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close judges at its own date through `--vars`, never by rewriting the process's
    environment; the date is recorded, so the same close again builds nothing."""
    import os

    plan = transform.build(home, project_dir=project, as_of="2021-07-20")
    assert plan.mode == "full"
    assert dbt_calls == [("build", "--fail-fast", "--vars", '{"as_of_date": "2021-07-20"}')]
    assert os.environ["STLS_AS_OF_DATE"] == "2021-06-15"  # untouched
    record = json.loads((transform.state_dir(home) / "last_build.json").read_text())
    assert record["as_of_date"] == "2021-07-20"
    assert transform.build(home, project_dir=project, as_of="2021-07-20").mode == "skip"

    plan = transform.plan_build(home, project_dir=project, as_of="2021-08-20")
    assert plan.mode == "targeted" and "status date 2021-07-20 -> 2021-08-20" in plan.reason
    assert plan.args[-2:] == ("--vars", '{"as_of_date": "2021-08-20"}')
    monkeypatch.delenv("STLS_AS_OF_DATE")
    assert transform.plan_build(home, project_dir=project).inputs["as_of_date"].startswith("today ")


def test_a_missing_relation_forces_a_full_build(home: Paths, project: Path, dbt_calls: list) -> None:
    _built(home, project)
    with connect(home.warehouse) as con:
        con.execute("drop table marts.stg_returns__kpi_values")
    plan = transform.plan_build(home, project_dir=project)
    assert plan.mode == "full"
    assert "marts.stg_returns__kpi_values" in plan.reason
    assert "int_helper" not in plan.reason  # ephemeral: never a relation


def test_a_failed_build_is_not_recorded(
    home: Paths, project: Path, dbt_calls: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    _built(home, project)
    recorded = (transform.state_dir(home) / "last_build.json").read_text()
    with connect(home.warehouse) as con:
        _add_submission(con, "b" * 64)

    def failing(paths: Paths, *args: str, project_dir: Path) -> None:
        raise transform.DbtFailed("a data test failed")

    monkeypatch.setattr(transform, "run_dbt", failing)
    with pytest.raises(transform.DbtFailed):
        _built(home, project)
    assert (transform.state_dir(home) / "last_build.json").read_text() == recorded
    assert transform.plan_build(home, project_dir=project).mode == "targeted"  # tried again


def test_a_failed_full_build_leaves_the_next_one_full(
    home: Paths, project: Path, dbt_calls: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    _built(home, project)

    def failing(paths: Paths, *args: str, project_dir: Path) -> None:
        raise transform.DbtFailed("a model failed")

    monkeypatch.setattr(transform, "run_dbt", failing)
    with pytest.raises(transform.DbtFailed):
        transform.build(home, project_dir=project, full=True)
    assert transform.plan_build(home, project_dir=project).mode == "full"


def test_a_deleted_state_folder_means_a_full_build(home: Paths, project: Path, dbt_calls: list) -> None:
    _built(home, project)
    shutil.rmtree(transform.state_dir(home))
    assert transform.plan_build(home, project_dir=project).mode == "full"
