"""Run the dbt project against the warehouse: a full build, or only what new returns change.

dbt runs as a subprocess of the same environment so that its logging and global state stay
out of the Airflow task process; its output is streamed into the task log. (In process,
`dbtRunner` would save nothing that matters: importing dbt is most of a process's start-up
and is paid either way, and dbt-duckdb would keep its read-write handle on the warehouse
open in the task process.)

Which build (`plan_build`), in order:

- **full** `dbt build`: every seed, model, data test and unit test. When no successful build
  is recorded under $STLS_HOME/dbt/state; when the dbt project changed since it (any file
  under dbt_project/ other than dbt's own target/ and logs/: models, macros, seeds, tests,
  dbt_project.yml, profiles.yml), or dbt, its adapter or DuckDB changed version, or the
  target or warehouse file differs; or when a relation the last build made is missing.
- **targeted** `dbt build --select source:returns.<table>+ ... --exclude-resource-type
  unit_test`: when only the data changed. Each source table (every dbt source: the
  submissions, ledger lines, KPI values and return warnings intake appends to, and the
  returns service's decisions, `source:portal.decisions`; not the check results of
  `source:audit.dq_results`, whose recorders rebuild the one model they feed) whose rows
  changed, and
  everything downstream of it, is rebuilt and its data tests run; on a new status date, so
  is every model that calls `as_of_date()` and everything downstream of it. Nothing else
  can change: seeds, models built from seeds and unchanged sources alone, the seeds' tests
  and the unit tests (which test logic, not data; `make test` runs them) were built or
  passed by a build of this very project on these very rows. dbt's indirect selection
  still runs every data test that touches a rebuilt model, relationships to seeds included.
- **skip**: the sources hold exactly the rows the last successful build read (a count and
  an order-free hash of every row) and the status date (the `as_of` a close passes to dbt
  as the var `as_of_date`, else STLS_AS_OF_DATE, else today) is
  the one it judged at: a build would rebuild the same tables.

dbt's own `state:modified+` (against a saved manifest) was considered for the first rule and
not used: it does not see a change of dbt or adapter version, of profiles.yml or of an
environment variable read at run time, and it reports what changed, not that nothing did.
The file fingerprint is stricter: any change at all means a full build. `--defer` is not
needed either: the unselected relations already sit in the same warehouse. A copy of the
last successful build's manifest is kept beside the record (`--state $STLS_HOME/dbt/state`
for a hand-run `dbt ls --select state:modified+`). Delete that folder to force a full build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from stls_warehouse.config import DBT_PROJECT_DIR, Paths, settings
from stls_warehouse.errors import StlsError
from stls_warehouse.files import atomic_path, write_text_atomically

BUILD_FULL = ("build", "--fail-fast")
# Python packages whose version changes what a build produces.
VERSIONED_PACKAGES = ("dbt-core", "dbt-adapters", "dbt-duckdb", "dbt-postgres", "duckdb")
# Under the project but written by dbt itself when run by hand from dbt_project/.
_NOT_PROJECT = {"target", "logs", "dbt_packages", "__pycache__"}
_RECORD_VERSION = 1

Mode = Literal["full", "targeted", "skip"]


class BuildContext(TypedDict):
    """Everything but the data that decides what a build produces (`build_context`)."""

    record_version: int
    project_dir: str
    project_files: dict[str, str]  # path under the project -> SHA-256
    packages: dict[str, str | None]  # package -> version, None when not installed
    target: str
    warehouse: str


class BuildInputs(TypedDict):
    """What a plan was decided on: recorded with the build when it succeeds."""

    context: BuildContext
    as_of_date: str
    sources: NotRequired[dict[str, list[int]]]  # source -> [rows, hash]; once the warehouse was read


class BuildRecord(BuildContext):
    """`last_build.json`: the last successful build's inputs, mode and time."""

    sources: dict[str, list[int]]
    as_of_date: str
    mode: Mode
    finished_at: str


class DbtFailed(StlsError, RuntimeError):
    """dbt exited non-zero: a model failed to build or a data test failed."""

    refusal = True
    run_note = "nothing was published by this run"


@dataclass(frozen=True)
class BuildPlan:
    """What `build` will run, and why (written to the task log and returned to the DAG)."""

    mode: Mode
    reason: str
    args: tuple[str, ...] = ()
    inputs: BuildInputs = field(kw_only=True, repr=False, compare=False)

    def summary(self) -> str:
        command = f"dbt {' '.join(self.args)}" if self.args else "no dbt command"
        return f"dbt build plan: {self.mode} ({command}): {self.reason}"


def dbt_env(paths: Paths) -> dict[str, str]:
    env = dict(os.environ)
    env["STLS_HOME"] = str(paths.home)
    env["STLS_WAREHOUSE_PATH"] = str(paths.warehouse)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault(
        "DBT_LOG_FILE_MAX_BYTES", str(settings().dbt_log_max_bytes)
    )  # dbt rotates dbt.log (5 kept)
    return env


def target_dir(paths: Paths) -> Path:
    return paths.home / "dbt" / "target"


def log_dir(paths: Paths) -> Path:
    return paths.home / "dbt" / "logs"


def state_dir(paths: Paths) -> Path:
    """The last successful build: `last_build.json` and a copy of its manifest."""
    return paths.home / "dbt" / "state"


def run_dbt(paths: Paths, *args: str, project_dir: Path = DBT_PROJECT_DIR) -> None:
    """Run `dbt <args>` on the project; raise DbtFailed with the tail of its output."""
    executable = Path(sys.executable).with_name("dbt")
    command = [
        str(executable),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_dir(paths)),
        "--log-path",
        str(log_dir(paths)),
    ]
    process = subprocess.run(command, env=dbt_env(paths), capture_output=True, text=True, check=False)
    sys.stdout.write(process.stdout)
    if process.returncode != 0:
        tail = "\n".join(process.stdout.splitlines()[-40:])
        raise DbtFailed(
            f"dbt {' '.join(args)} failed (exit {process.returncode}):\n{tail}\n{process.stderr[-2000:]}"
        )


# --- what a build depends on -------------------------------------------------------------------


def project_files(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, str]:
    """SHA-256 of every file of the dbt project, by path relative to it."""
    hashes: dict[str, str] = {}
    for root, folders, files in os.walk(project_dir):
        folders[:] = sorted(f for f in folders if f not in _NOT_PROJECT and not f.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue  # .user.yml and editor files
            path = Path(root) / name
            hashes[path.relative_to(project_dir).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def as_of_date(day: str | None = None) -> str:
    """The status date dbt will judge at (macros/as_of_date.sql): `day` (passed to dbt as the
    var `as_of_date`), else STLS_AS_OF_DATE, else today. Today in both the local and the UTC
    calendar, so a build near midnight is never skipped on a date DuckDB's current_date may
    not share."""
    fixed = (day or settings().as_of_date).strip()
    if fixed:
        return fixed
    return f"today {date.today().isoformat()} / {datetime.now(UTC).date().isoformat()} UTC"


def build_context(paths: Paths, project_dir: Path = DBT_PROJECT_DIR) -> BuildContext:
    """Everything but the data that decides what a build produces."""
    return {
        "record_version": _RECORD_VERSION,
        "project_dir": str(project_dir.resolve()),
        "project_files": project_files(project_dir),
        "packages": package_versions(),
        "target": settings().dbt_target,
        "warehouse": str(paths.warehouse.resolve()),
    }


def _manifest_relations(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    relations = []
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") not in ("model", "seed"):
            continue
        if node.get("config", {}).get("materialized") == "ephemeral":
            continue
        relations.append((node["schema"], node.get("alias") or node["name"]))
    return sorted(relations)


def _manifest_sources(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(`source_name.table` as dbt selects it, schema, table) of every source whose rows
    call for a build: not those marked `rebuilt_by_recorder` (audit.dq_results), whose
    recorder rebuilds what they feed itself (quality.results.rebuild_mart)."""
    return sorted(
        (
            f"{source['source_name']}.{source['name']}",
            source["schema"],
            source.get("identifier") or source["name"],
        )
        for source in manifest.get("sources", {}).values()
        if not _meta_of(source).get("rebuilt_by_recorder")
    )


def _meta_of(node: dict[str, Any]) -> dict[str, Any]:
    return {**(node.get("meta") or {}), **(node.get("config", {}).get("meta") or {})}


def status_date_nodes(manifest: dict[str, Any], macro: str = "macro.stls.as_of_date") -> list[str]:
    """The names of the models and tests that call `macro`, directly or through other macros:
    their result depends on the status date as well as on their inputs."""
    callers = {macro}
    macros = manifest.get("macros", {})
    grew = True
    while grew:
        grew = False
        for name, body in macros.items():
            if name not in callers and callers & set(body.get("depends_on", {}).get("macros", [])):
                callers.add(name)
                grew = True
    return sorted(
        node["name"]
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") in ("model", "test", "snapshot")
        and callers & set(node.get("depends_on", {}).get("macros", []))
    )


def _quoted(schema: str, name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, name))


def warehouse_state(warehouse: Path, manifest: dict[str, Any]) -> tuple[list[str], dict[str, list[int]]]:
    """The relations of `manifest` missing from the warehouse, and each source table's row
    count and order-free hash of its rows (raw tables are append-only, but a hash also sees
    a replaced row)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        present = {
            (schema, name)
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        missing = [f"{s}.{n}" for s, n in _manifest_relations(manifest) if (s, n) not in present]
        sources: dict[str, list[int]] = {}
        for source, schema, name in _manifest_sources(manifest):
            if (schema, name) not in present:
                missing.append(f"{schema}.{name}")
                continue
            count, digest = con.execute(
                f"select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar "
                f"from {_quoted(schema, name)} as t"
            ).fetchone() or (0, "0")
            sources[source] = [int(count), int(digest)]
    finally:
        con.close()
    return missing, sources


# --- the decision -------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _changed_files(before: dict[str, str], now: dict[str, str]) -> list[str]:
    changed = sorted(p for p in before.keys() & now.keys() if before[p] != now[p])
    return (
        [f"{p} (changed)" for p in changed]
        + [f"{p} (added)" for p in sorted(now.keys() - before.keys())]
        + [f"{p} (removed)" for p in sorted(before.keys() - now.keys())]
    )


def _listed(items: list[str], limit: int = 5) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _context_change(recorded: dict[str, Any], context: BuildContext) -> str | None:
    if recorded.get("record_version") != context["record_version"]:
        return "the build record is from another version of this code"
    files = _changed_files(recorded.get("project_files", {}), context["project_files"])
    if files:
        return f"the dbt project changed since the last successful build: {_listed(files)}"
    versions = [
        f"{package} {recorded.get('packages', {}).get(package)} -> {version}"
        for package, version in context["packages"].items()
        if recorded.get("packages", {}).get(package) != version
    ]
    if versions:
        return f"versions changed since the last successful build: {_listed(versions)}"
    for key, label, now in (
        ("target", "dbt target", context["target"]),
        ("warehouse", "warehouse file", context["warehouse"]),
        ("project_dir", "project", context["project_dir"]),
    ):
        if recorded.get(key) != now:
            return f"the {label} is not the last successful build's ({recorded.get(key)} -> {now})"
    return None


def _data_change(
    recorded: dict[str, Any], sources: dict[str, list[int]], as_of: str, manifest: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """What changed since the last successful build, and the dbt selectors of what it feeds:
    each changed source and everything downstream of it; on a new status date, every model
    or test that reads it and everything downstream of those."""
    before = recorded.get("sources", {})
    changes: list[str] = []
    selectors: list[str] = []
    for source, (count, digest) in sources.items():
        old = before.get(source)
        if old == [count, digest]:
            continue
        if old is None:
            changes.append(f"source {source} is new")
        elif old[0] != count:
            changes.append(f"source {source} {old[0]:,} -> {count:,} rows")
        else:
            changes.append(f"source {source}: rows replaced")
        selectors.append(f"source:{source}+")
    if recorded.get("as_of_date") != as_of:
        changes.append(f"status date {recorded.get('as_of_date')} -> {as_of}")
        selectors += [f"{name}+" for name in status_date_nodes(manifest)]
    return changes, selectors


def dbt_vars(as_of: str | None) -> tuple[str, ...]:
    """`--vars` for a build judged at `as_of` (the dbt var `as_of_date`); none without one, so
    dbt reads STLS_AS_OF_DATE or today, as a hand-run `dbt build` does."""
    return ("--vars", json.dumps({"as_of_date": as_of})) if as_of else ()


def plan_build(
    paths: Paths, *, project_dir: Path = DBT_PROJECT_DIR, full: bool = False, as_of: str | None = None
) -> BuildPlan:
    """Decide between a full, a targeted and no build (see the module docstring); `as_of`
    is the status date to judge at, given to dbt as a variable (`dbt_vars`)."""
    context = build_context(paths, project_dir)
    inputs: BuildInputs = {"context": context, "as_of_date": as_of_date(as_of)}

    def plan(mode: Literal["full", "skip"], reason: str) -> BuildPlan:
        return BuildPlan(
            mode, reason, (*BUILD_FULL, *dbt_vars(as_of)) if mode == "full" else (), inputs=inputs
        )

    if full:
        return plan("full", "a full build was asked for")
    state = state_dir(paths)
    recorded = _read_json(state / "last_build.json")
    manifest = _read_json(state / "manifest.json")
    if recorded is None or manifest is None:
        return plan("full", f"no successful build is recorded in {state}")
    changed = _context_change(recorded, context)
    if changed:
        return plan("full", changed)
    if context["target"] != "duckdb":
        return plan("full", f"target {context['target']}: only DuckDB warehouses are built incrementally")
    missing, sources = warehouse_state(paths.warehouse, manifest)
    inputs["sources"] = sources
    if missing:
        return plan("full", f"the warehouse lacks relations of the last successful build: {_listed(missing)}")
    changes, selectors = _data_change(recorded, sources, inputs["as_of_date"], manifest)
    if not changes:
        return plan(
            "skip",
            f"the project, the sources' rows and the status date ({inputs['as_of_date']}) are those of the "
            f"last successful build ({recorded.get('finished_at')}): nothing it built can change",
        )
    return BuildPlan(
        "targeted",
        f"the project is unchanged since the last successful build; {'; '.join(changes)}",
        (*BUILD_FULL, "--select", *selectors, "--exclude-resource-type", "unit_test", *dbt_vars(as_of)),
        inputs=inputs,
    )


def _record(paths: Paths, plan: BuildPlan) -> None:
    """Write down a successful build: what it depended on and the manifest it built from."""
    state = state_dir(paths)
    state.mkdir(parents=True, exist_ok=True)
    manifest = target_dir(paths) / "manifest.json"
    with atomic_path(state / "manifest.json") as tmp:
        shutil.copyfile(manifest, tmp)
    sources = plan.inputs.get("sources")
    if sources is None:  # a full build on a first run: fingerprint what it read
        _, sources = warehouse_state(paths.warehouse, _read_json(state / "manifest.json") or {})
    record: BuildRecord = {
        **plan.inputs["context"],
        "sources": sources,
        "as_of_date": plan.inputs["as_of_date"],
        "mode": plan.mode,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_text_atomically(state / "last_build.json", json.dumps(record, indent=1, sort_keys=True))
    _record_results(paths, full=plan.mode == "full")


def results_path(paths: Paths) -> Path:
    """dbt's run results of every node as its latest successful build left it (for auditors):
    a targeted build's run_results.json lists only the nodes it ran."""
    return state_dir(paths) / "run_results.json"


def _record_results(paths: Paths, *, full: bool) -> None:
    """Fold the build's run_results.json into `results_path`: a full build replaces it; a
    targeted one replaces the results of the nodes it ran and keeps the others' (built or
    passed by an earlier build of the same project on rows that have not changed since)."""
    latest = _read_json(target_dir(paths) / "run_results.json")
    if latest is None:
        return
    kept = None if full else _read_json(results_path(paths))
    if kept is not None:
        ran = {r["unique_id"] for r in latest.get("results", [])}
        earlier = [r for r in kept.get("results", []) if r["unique_id"] not in ran]
        latest["results"] = sorted(earlier + latest["results"], key=lambda r: r["unique_id"])
    write_text_atomically(results_path(paths), json.dumps(latest, indent=1, sort_keys=True))


def build(
    paths: Paths, *, project_dir: Path = DBT_PROJECT_DIR, full: bool = False, as_of: str | None = None
) -> BuildPlan:
    """Build the warehouse as `plan_build` decides, and record it when it succeeds. The
    decision and its reason go to stdout (the task log) before dbt starts."""
    plan = plan_build(paths, project_dir=project_dir, full=full, as_of=as_of)
    sys.stdout.write(plan.summary() + "\n")
    sys.stdout.flush()
    if plan.mode == "skip":
        return plan
    state = state_dir(paths) / "last_build.json"
    if plan.mode == "full":
        state.unlink(missing_ok=True)  # a failed full build must not leave an older record valid
    run_dbt(paths, *plan.args, project_dir=project_dir)
    _record(paths, plan)
    return plan
