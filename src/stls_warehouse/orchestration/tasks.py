"""Every task and task group of the STLS DAGs, each defined once; the DAG files compose them.

As in Airflow's own TaskFlow and Asset examples, a task is a module-level `@task` function
and a chain of tasks that several DAGs run alike is a `@task_group`. A DAG file only wires
these together (`dags/*.py`); a task's body calls one function of `stls_warehouse.pipeline`
or `orchestration.closing`, importing it inside the task so that parsing a DAG file imports
nothing heavy. The two groups keep their tasks' ids (`prefix_group_id=False`): the ids are
what logs, alerts, `stls run`'s progress and the pool settings name.

- `take_in_returns`: intake (mapped, one task per batch) -> the return gate -> the returns
  load -> the returns service's decisions. Run by `stls_on_arrival`, `stls_returns_pipeline`
  and `stls_monthly_close`. A batch list with no files maps no intake task; the gate runs
  anyway (`none_failed`), so the load, the decisions and what follows still run.
- `gate_and_publish`: the warehouse gates, then publication (the `stls://published/marts`
  asset). Run by `stls_returns_pipeline`, `stls_monthly_close` and `stls_annual_review`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from airflow.sdk import Asset, get_current_context, task, task_group

from stls_warehouse.orchestration.assets import PERIOD_CLOSED, PUBLISHED, YEAR_CLOSED
from stls_warehouse.orchestration.calendar import CloseDetails
from stls_warehouse.orchestration.closing import CloseBuild, LateAlert
from stls_warehouse.orchestration.dag_defaults import WAREHOUSE_POOL
from stls_warehouse.pipeline import Batch, BuildResult, IntakeResult, PublishResult
from stls_warehouse.reports.annual import AnnualReportFiles
from stls_warehouse.reports.evidence import EvidencePackFile
from stls_warehouse.reports.monthly import MonthlyReportFile

# The tasks' return types are imported at run time, not under TYPE_CHECKING: Airflow reads a
# task's return annotation to decide `multiple_outputs` (True for a dict type), and falls back
# to False for a name it cannot resolve. `Result`: another module's summary, passed on as it is.
Result = dict[str, Any]

# --- taking returns in --------------------------------------------------------------------------


@task
def route_landing() -> list[Batch]:
    """The landing zone's settled files grouped by SLA, one batch per SLA that has files."""
    from stls_warehouse import pipeline

    return [batch for batch in pipeline.route_landing() if batch["files"]]


@task
def plan_arrivals() -> list[Batch]:
    """The newly arrived files as batches: one per file, or one per SLA for a backlog."""
    from stls_warehouse.orchestration.arrivals import plan_arrivals as plan

    return plan()


@task(map_index_template="{{ batch_label }}")
def intake(batch: Batch, run_id: str | None = None) -> IntakeResult:
    """Read and check one batch's files; the map index shows the batch's label (the file's
    name on arrival) or its SLA."""
    from stls_warehouse import pipeline

    label = batch.get("label") or batch["sla_code"]
    get_current_context()["batch_label"] = label  # type: ignore[typeddict-unknown-key]
    return pipeline.intake_batch(batch["sla_code"], batch["files"], run_id or "manual")


@task(pool=WAREHOUSE_POOL, trigger_rule="none_failed")  # reads each SLA's history: no writer meanwhile
def gate_returns(intakes: list[IntakeResult] | None = None, run_id: str | None = None) -> Result:
    """The Great Expectations gate on the run's staged returns. `none_failed`: when no batch
    had files the mapped intake is skipped, and the gate, the load and the decisions still run."""
    from stls_warehouse import pipeline

    return pipeline.gate_returns(run_id or "manual")


@task(pool=WAREHOUSE_POOL)
def load_returns(gate: Result, run_id: str | None = None) -> Result:
    """Record the returns; write each school's feedback note and the data quality summary."""
    from stls_warehouse import pipeline

    return pipeline.load_returns(run_id or "manual")


@task(pool=WAREHOUSE_POOL)
def load_decisions(load: Result, run_id: str | None = None) -> Result:
    """The returns service's explanations, sign-offs and waivers not loaded yet; a bad
    file is named in this task's log and skipped."""
    from stls_warehouse import pipeline

    return pipeline.load_decisions(run_id or "manual")


@task_group(prefix_group_id=False)
def take_in_returns(batches: Any, loaded: Iterable[Asset] = ()) -> Any:
    """Intake of each batch, the return gate, the returns load, the service's decisions;
    `loaded`: the assets the last task updates (the on-arrival DAG's `stls://warehouse/returns`).
    (A group's arguments and results are XComArgs, standing for the tasks' values: `Any`.)"""
    outlets = list(loaded)
    decisions = load_decisions.override(outlets=outlets) if outlets else load_decisions
    intakes: Any = intake.expand(batch=batches)
    gate: Any = gate_returns(intakes)
    load: Any = load_returns(gate)
    return decisions(load)


# --- building, gating and publishing ------------------------------------------------------------


@task(pool=WAREHOUSE_POOL)
def build_warehouse(load: Result, close: CloseDetails | None = None) -> BuildResult:
    """dbt: a full build when the dbt project changed, else only what the changed returns
    feed, or nothing when no source row changed; the decision and its reason are written to
    this task's log before dbt starts, and returned. A close's build judges return statuses
    at the close's date (`close["as_of"]`, a dbt variable), else at STLS_AS_OF_DATE or today."""
    if close is not None:
        from stls_warehouse.orchestration.closing import build_as_of

        return build_as_of(close["as_of"])
    from stls_warehouse import pipeline

    return pipeline.build_warehouse()


@task(pool=WAREHOUSE_POOL)
def build_annual_marts(year: str) -> CloseBuild:
    """The warehouse rebuilt with statuses judged at the close that finished the year."""
    from stls_warehouse.orchestration.closing import annual_as_of, build_as_of

    return build_as_of(annual_as_of(year))


@task(pool=WAREHOUSE_POOL)
def gate_warehouse(build: BuildResult, run_id: str | None = None) -> Result:
    """Reconciliation, completeness and no-personal-data gates; a blocking failure fails
    this task at once (no retry: the data will not change) and publication never runs."""
    from stls_warehouse.orchestration.closing import warehouse_gates

    return warehouse_gates(run_id)


@task(pool=WAREHOUSE_POOL, outlets=[PUBLISHED])
def publish(gates: Result) -> PublishResult:
    """Write, audit and publish the marts (an unchanged release is not published again)."""
    from stls_warehouse import pipeline

    return pipeline.publish_release()


@task_group(prefix_group_id=False)
def gate_and_publish(build: Any) -> Any:
    """The warehouse gates on what `build` (or the step after it) left, then publication."""
    gates: Any = gate_warehouse(build)
    return publish(gates)


@task
def monthly_report(release: PublishResult) -> MonthlyReportFile:
    """The latest period's monthly report, read from the release just published."""
    from stls_warehouse import pipeline

    return pipeline.write_monthly_report()


# --- the monthly close --------------------------------------------------------------------------


@task
def which_close(
    params: Mapping[str, Any] | None = None, logical_date: datetime | None = None
) -> CloseDetails:
    """The close of the `month` parameter, else of the month before the run's logical date."""
    from stls_warehouse.orchestration.calendar import close_for_month, close_for_run

    month = (params or {}).get("month")
    if month:
        return close_for_month(month).as_dict()
    if logical_date is None:
        raise ValueError("a close needs a logical date or a `month` parameter")
    return close_for_run(logical_date.date()).as_dict()


@task(pool=WAREHOUSE_POOL)
def check_completeness(build: BuildResult, close: CloseDetails) -> Result:
    from stls_warehouse.orchestration.closing import close_completeness

    return close_completeness(close)


@task
def alert_overdue(completeness: Result) -> LateAlert:
    from stls_warehouse.orchestration.closing import alert_late_returns

    return alert_late_returns(completeness)


@task(outlets=[PERIOD_CLOSED])
def announce_period_closed(release: PublishResult, close: CloseDetails) -> Result:
    extra: Result = {  # the asset event's extra
        "month": close["month"],
        "period_keys": close["period_keys"],
        "release_id": release["release_id"],
    }
    get_current_context()["outlet_events"][PERIOD_CLOSED].extra = extra
    return extra


@task.short_circuit
def closes_a_year(release: PublishResult, close: CloseDetails) -> bool:
    return close["closes_year"] is not None


@task(outlets=[YEAR_CLOSED])
def announce_year_closed(close: CloseDetails) -> Result:
    extra: Result = {"financial_year": close["closes_year"], "month": close["month"]}
    get_current_context()["outlet_events"][YEAR_CLOSED].extra = extra
    return extra


# --- what the closes announce starts: the monthly report and the annual review ------------------


def _announced(events: Mapping[str, Any] | None, key: str) -> list[str]:
    """The `key` values of the triggering asset events' extras, sorted, each once."""
    return sorted(
        {
            event.extra[key]
            for triggered in (events or {}).values()
            for event in triggered
            if event.extra and event.extra.get(key)
        }
    )


@task
def closed_months(
    params: Mapping[str, Any] | None = None, triggering_asset_events: Mapping[str, Any] | None = None
) -> list[str]:
    """The `month` parameter, else every month the triggering close events announced."""
    if (params or {}).get("month"):
        return [str(params["month"])]  # type: ignore[index]
    months = _announced(triggering_asset_events, "month")
    if not months:
        raise ValueError("no closed month in the triggering asset events; pass `month`")
    return months


@task
def write_monthly_report(month: str) -> list[MonthlyReportFile]:
    from stls_warehouse.orchestration.closing import monthly_report as write

    return write(month)


@task
def which_year(
    params: Mapping[str, Any] | None = None, triggering_asset_events: Mapping[str, Any] | None = None
) -> str:
    """The `financial_year` parameter, else the latest year the triggering events closed."""
    if (params or {}).get("financial_year"):
        return str(params["financial_year"])  # type: ignore[index]
    years = _announced(triggering_asset_events, "financial_year")
    if not years:
        raise ValueError("no financial year in the triggering asset events; pass `financial_year`")
    return years[-1]


@task
def completeness_gate(release: PublishResult, year: str) -> Result:
    from stls_warehouse.orchestration.closing import year_gate

    return year_gate(year)


@task
def annual_report(gate: Result, year: str) -> AnnualReportFiles:
    from stls_warehouse.orchestration.closing import annual_report as write

    return write(year)


@task(pool=WAREHOUSE_POOL)  # may read line_ref from the warehouse's staged lines: no writer meanwhile
def evidence_pack(report: AnnualReportFiles, year: str) -> EvidencePackFile:
    from stls_warehouse.orchestration.closing import evidence_pack as write

    return write(year)
