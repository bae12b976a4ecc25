"""Run code-first expectation suites on pandas DataFrames and return plain results.

Great Expectations is imported here and only here, inside functions, so that DAG parsing
and the CLI paths that do not validate never pay its import cost (about 5 s). GX's SQL
path on DuckDB fails, so every dataset is validated as a DataFrame.

A `GxSession` is one ephemeral GX context for one task: every suite of a run is validated
in it (start-up is paid once), and its Data Docs are built once at the end into a folder
of the run, as static HTML.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")

DOCS_SITE = "stls_run"


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
    expected: str | None = None
    element_count: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    column_b: str | None = None  # the second column of a column-pair expectation

    @property
    def blocking(self) -> bool:
        return self.severity == "blocking"


class GxSession:
    """One ephemeral Great Expectations context: validate many suites, build Data Docs once."""

    def __init__(self, docs_dir: Path | None = None, run_name: str | None = None) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._source = self.context.data_sources.add_pandas("stls_frames")
        # The run name becomes a folder of the Data Docs: keep it to safe characters.
        self._run_id = gx.RunIdentifier(run_name=re.sub(r"[^A-Za-z0-9_.-]", "_", run_name or "stls"))
        self._names: set[str] = set()
        self.docs_dir = docs_dir
        if docs_dir is not None:
            docs_dir.mkdir(parents=True, exist_ok=True)
            self.context.add_data_docs_site(
                DOCS_SITE,
                {
                    "class_name": "SiteBuilder",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(docs_dir),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )

    def _unique(self, name: str) -> str:
        candidate, number = name, 1
        while candidate in self._names:
            number += 1
            candidate = f"{name}_{number}"
        self._names.add(candidate)
        return candidate

    def run_suite(
        self, suite_module: Any, frame: Any, index_columns: list[str] | None = None
    ) -> list[CheckResult]:
        """Validate `frame` with `suite_module.build_suite()`; one CheckResult per expectation."""
        gx = self._gx
        name = self._unique(suite_module.NAME)
        batch = self._source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        built = suite_module.build_suite()
        built.name = name
        suite = self.context.suites.add(built)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        result_format: dict[str, Any] = {"result_format": "COMPLETE"}
        if index_columns:
            result_format["unexpected_index_column_names"] = index_columns
        validation = definition.run(
            batch_parameters={"dataframe": frame}, result_format=result_format, run_id=self._run_id
        )
        return [_check(suite_module.NAME, outcome) for outcome in validation.results]

    def build_docs(self) -> Path | None:
        """Write the Data Docs of every validation of this session; the index page's path."""
        if self.docs_dir is None:
            return None
        self.context.build_data_docs(site_names=[DOCS_SITE])
        return self.docs_dir / "index.html"


def run_suite(suite_module: Any, frame: Any, index_columns: list[str] | None = None) -> list[CheckResult]:
    """Validate one frame in a session of its own (tests and one-off checks)."""
    return GxSession().run_suite(suite_module, frame, index_columns)


def _check(suite_name: str, outcome: Any) -> CheckResult:
    config = outcome.expectation_config
    assert config is not None  # GX always reports the expectation it ran
    info = dict(config.meta or {})
    details = outcome.result or {}
    error = _raised(outcome.exception_info)
    if error is not None:
        # An expectation that could not run (a missing column, a bad condition) is a defect
        # of the suite or its frame: stop, never report it as a plain failure or a pass.
        raise RuntimeError(f"{suite_name}: expectation {config.type} ({info.get('rule')}) raised: {error}")
    return CheckResult(
        suite=suite_name,
        rule=info.get("rule", config.type),
        code=info.get("code", config.type.upper()),
        severity=info.get("severity", "blocking"),
        description=info.get("description", config.type),
        expectation=config.type,
        column=config.kwargs.get("column") or config.kwargs.get("column_A"),
        success=bool(outcome.success),
        observed=details.get("observed_value"),
        unexpected_count=int(details.get("unexpected_count") or 0),
        failing_rows=[_plain(row) for row in details.get("unexpected_index_list") or []],
        expected=info.get("expected") or _expected_text(config.kwargs),
        element_count=int(details.get("element_count") or 0),
        meta=info,
        column_b=config.kwargs.get("column_B"),
    )


def _raised(info: Any) -> str | None:
    """The exception message GX recorded, in either of its shapes (flat, or per metric)."""
    if not isinstance(info, dict) or not info:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    for nested in info.values():
        if isinstance(nested, dict) and (
            nested.get("exception_message") or nested.get("exception_traceback")
        ):
            message = nested.get("exception_message") or nested.get("exception_traceback")
            return str(message).strip().splitlines()[-1]
    return None


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars become Python values, so results serialise and compare plainly."""
    return {key: value.item() if hasattr(value, "item") else value for key, value in row.items()}


def _expected_text(kwargs: dict[str, Any]) -> str | None:
    """What the expectation asked for, in words, for the results table."""
    if "value_set" in kwargs:
        values = [str(v) for v in kwargs["value_set"]]
        shown = ", ".join(values[:12]) + (", ..." if len(values) > 12 else "")
        return f"one of {shown}"
    if "min_value" in kwargs or "max_value" in kwargs:
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        if low is not None and high is not None:
            return f"between {low} and {high}"
        return f"at least {low}" if low is not None else f"at most {high}"
    if "column_A" in kwargs and "column_B" in kwargs:
        relation = "equal to"
        if "or_equal" in kwargs:
            relation = "at least" if kwargs.get("or_equal") else "greater than"
        return f"{kwargs['column_A']} {relation} {kwargs['column_B']}"
    if "regex" in kwargs:
        return f"not matching {kwargs['regex']}"
    return None
