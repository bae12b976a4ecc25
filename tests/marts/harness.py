"""Running the pipeline's stages on a temporary STLS_HOME and reading what they built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AS_OF = "2025-06-30"


# Rebuild after returns change while the project does not: what the returns feed.
REPUBLISH_BUILD = (
    "build",
    "--fail-fast",
    "--select",
    "source:returns+",
    "--exclude-resource-type",
    "unit_test",
)


def run_pipeline_without_publishing(run_id: str, dbt_command: tuple[str, ...] | None = None) -> None:
    """Intake, load (returns, then decisions) and build, as the DAG runs them (STLS_HOME set
    by the caller); the
    pipeline's own `dbt build` unless another dbt command is given."""
    from stls_warehouse import pipeline, transform
    from stls_warehouse.config import paths

    for batch in pipeline.route_landing():
        if batch["files"]:
            pipeline.intake_batch(batch["sla_code"], batch["files"], run_id)
    pipeline.load_returns(run_id)
    pipeline.load_decisions(run_id)
    if dbt_command is None:
        pipeline.build_warehouse()  # raises DbtFailed unless every model and test passed
    else:
        transform.run_dbt(paths(), *dbt_command)


def query(home: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(home / "warehouse" / "stls.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
