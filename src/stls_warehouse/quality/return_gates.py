"""The Great Expectations gate on incoming returns.

All of a run's newly staged, accepted returns are validated in one process and one suite
run per return type (GX start-up is paid once). A blocking failure rejects its return
through the same path as an intake error, naming the rule in plain English; warnings are
recorded on the return and never block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stls_warehouse import reference
from stls_warehouse.intake.problems import Problem
from stls_warehouse.intake.stage import read_staged, rewrite_staged
from stls_warehouse.quality.gx_runner import CheckResult, run_suite


def _frame(run_dir: Path, records: list[dict[str, Any]]) -> Any:
    import pandas as pd
    import pyarrow.parquet as pq

    frames = []
    for record in records:
        table = pq.read_table(run_dir / f"{record['sha256']}.parquet")
        frame = table.to_pandas()
        frame.insert(0, "file_sha256", record["sha256"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def gate_staged_returns(run_dir: Path) -> list[CheckResult]:
    """Validate the run's staged returns; rejects blocking failures in the staged records."""
    from expectations import kpi_return, ledger_return

    staged = [r for r in read_staged(run_dir) if r["status"] == "ACCEPTED"]
    by_sha = {r["sha256"]: r for r in staged}
    checks: list[CheckResult] = []
    for return_type, module in (("ledger", ledger_return), ("kpi", kpi_return)):
        records = [r for r in staged if r["return_type"] == return_type and r["line_count"]]
        frame = _frame(run_dir, [r for r in records if not r["is_nil_return"]])
        if frame is None or frame.empty:
            continue
        if return_type == "ledger":
            budgets = reference.budgets()
            frame["outreach_budget"] = [
                budgets[(sla, fy)].outreach_budget if (sla, fy) in budgets else None
                for sla, fy in zip(frame["sla_code"], frame["financial_year"], strict=True)
            ]
        else:
            units = {code: d.unit for code, d in reference.kpi_definitions().items()}
            frame["unit"] = frame["kpi_code"].map(units)
        checks.extend(run_suite(module, frame, module.INDEX_COLUMNS))
    changed: set[str] = set()
    for check in checks:
        for failing in check.failing_rows:
            record = by_sha[failing["file_sha256"]]
            problem = Problem(
                code=check.code,
                message=check.description,
                sheet=_sheet(record),
                row=int(failing["source_row"]),
                column=check.column,
                value=str(failing.get(check.column)) if check.column else None,
                rule=check.rule,
            ).as_dict()
            if check.severity == "blocking":
                record["errors"].append(problem)
                record["status"] = "REJECTED"
            else:
                record["warnings"].append(problem)
            changed.add(record["sha256"])
    for sha in changed:
        rewrite_staged(run_dir, by_sha[sha])
    return checks


def _sheet(record: dict[str, Any]) -> str | None:
    if not record["file"].lower().endswith(".xlsx"):
        return None
    return "Ledger" if record["return_type"] == "ledger" else "KPI"
