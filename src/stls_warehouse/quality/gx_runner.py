"""Run a code-first expectation suite on a pandas DataFrame and return plain results.

Great Expectations is imported here and only here, inside functions, so that DAG parsing
and the CLI paths that do not validate never pay its import cost. GX's SQL path on DuckDB
fails, so every dataset is validated as a DataFrame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")


@dataclass
class CheckResult:
    """One expectation's outcome, with the failing rows' index values."""

    suite: str
    rule: str
    code: str
    severity: str
    description: str
    expectation: str
    column: str | None
    success: bool
    observed: Any
    unexpected_count: int
    failing_rows: list[dict[str, Any]] = field(default_factory=list)


def run_suite(suite_module: Any, frame: Any, index_columns: list[str] | None = None) -> list[CheckResult]:
    """Validate `frame` with `suite_module.build_suite()`; one CheckResult per expectation."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas(f"{suite_module.NAME}_source")
    batch = source.add_dataframe_asset(suite_module.NAME).add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(suite_module.build_suite())
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_module.NAME}_validation", data=batch, suite=suite)
    )
    result_format: dict[str, Any] = {"result_format": "COMPLETE"}
    if index_columns:
        result_format["unexpected_index_column_names"] = index_columns
    validation = definition.run(batch_parameters={"dataframe": frame}, result_format=result_format)
    checks = []
    for outcome in validation.results:
        config = outcome.expectation_config
        assert config is not None  # GX always reports the expectation it ran
        info = config.meta or {}
        details = outcome.result or {}
        checks.append(
            CheckResult(
                suite=suite_module.NAME,
                rule=info.get("rule", config.type),
                code=info.get("code", config.type.upper()),
                severity=info.get("severity", "blocking"),
                description=info.get("description", config.type),
                expectation=config.type,
                column=config.kwargs.get("column"),
                success=bool(outcome.success),
                observed=details.get("observed_value"),
                unexpected_count=int(details.get("unexpected_count") or 0),
                failing_rows=list(details.get("unexpected_index_list") or []),
            )
        )
    return checks
