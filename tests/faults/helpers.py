"""Running the pipeline's own stages, as the DAG's tasks call them, for the fault cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from stls_warehouse import pipeline


def intake_and_load(run_id: str, between: Any = None) -> dict[str, Any]:
    """route -> intake (per SLA batch) -> return gate -> load, like stls_returns_pipeline.

    `between(batches)` runs after discovery and before any file is read, as a later task would.
    Batches go through JSON on their way to the intake tasks, as through Airflow's XCom.
    """
    batches = json.loads(json.dumps(pipeline.route_landing(), ensure_ascii=False).encode("utf-8"))
    if between is not None:
        between(batches)
    intakes = [pipeline.intake_batch(b["sla_code"], b["files"], run_id) for b in batches if b["files"]]
    gate = pipeline.gate_returns(run_id)
    load = pipeline.load_returns(run_id)
    load = {k: (len(v) if isinstance(v, list) else v) for k, v in load.items()}  # counts, not names
    return {"intake": intakes, "gate": gate, "load": load}


def submissions(home: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(home / "warehouse" / "stls.duckdb"), read_only=True)
    try:
        return con.execute(
            "select original_name, status, sla_code, period_key, version, line_count, amount_total, "
            "problems_json from raw.submissions order by received_at, original_name"
        ).fetchall()
    finally:
        con.close()
