"""Run code-first expectation suites on pandas DataFrames and return plain results.

Great Expectations is imported here and only here, inside functions, so that DAG parsing
and the CLI paths that do not validate never pay its import cost (about 5 s). GX's SQL
path on DuckDB fails, so every dataset is validated as a DataFrame.

A `GxSession` is one ephemeral GX context for one task: every suite of a run is validated
in it (start-up is paid once), and its Data Docs are written once at the end into a folder
of the run, as static HTML that works offline (`quality.data_docs`: GX's own site loads
its styles and scripts from public CDNs).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from expectations import severity_of
from stls_warehouse.quality.data_docs import Validation
from stls_warehouse.run_ids import safe_run_id

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
        started = time.monotonic()
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every frame under HASH_THRESHOLD bytes (an md5 over every value, kept
        # only as a batch marker in the results' meta): on a million lines it costs several
        # times the checks themselves, more on Arrow-backed columns, which it hashes value by
        # value in Python. Nothing here reads it; no frame is fingerprinted.
        pandas_execution_engine.HASH_THRESHOLD = 0
        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._source = self.context.data_sources.add_pandas("stls_frames")
        # The run name becomes a folder of the Data Docs: keep it to safe characters.
        self._run_id = gx.RunIdentifier(run_name=safe_run_id(run_name or "stls"))
        self._names: set[str] = set()
        self._suites: dict[str, Any] = {}
        self.seconds = 0.0  # time spent in GX by this session (start-up, validations, docs)
        self.docs_dir = docs_dir
        self.run_name = self._run_id.run_name
        self.validations: list[Validation] = []
        self.seconds += time.monotonic() - started

    def _unique(self, name: str) -> str:
        candidate, number = name, 1
        while candidate in self._names:
            number += 1
            candidate = f"{name}_{number}"
        self._names.add(candidate)
        return candidate

    def _suite(self, suite_module: Any) -> Any:
        """`suite_module.build_suite()`, built and stored once per session: building a suite
        costs about half a second, and more once a suite of its name is stored."""
        suite = self._suites.get(suite_module.NAME)
        if suite is None:
            suite = self.context.suites.add(suite_module.build_suite())
            self._suites[suite_module.NAME] = suite
        return suite

    def run_suite(
        self, suite_module: Any, frame: Any, index_columns: list[str] | None = None
    ) -> list[CheckResult]:
        """Validate `frame` with `suite_module.build_suite()`; one CheckResult per expectation."""
        checks, name = self._validate(suite_module, frame, index_columns)
        self.validations.append(Validation(name, suite_module.NAME, checks))
        return checks

    def _validate(
        self, suite_module: Any, frame: Any, index_columns: list[str] | None
    ) -> tuple[list[CheckResult], str]:
        started = time.monotonic()
        gx = self._gx
        name = self._unique(suite_module.NAME)
        batch = self._source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=self._suite(suite_module))
        )
        result_format: dict[str, Any] = {"result_format": "COMPLETE"}
        if index_columns:
            result_format["unexpected_index_column_names"] = index_columns
        try:
            validation = definition.run(
                batch_parameters={"dataframe": frame}, result_format=result_format, run_id=self._run_id
            )
        finally:
            self._let_go()
        checks = [_check(suite_module.NAME, outcome) for outcome in validation.results]
        self.seconds += time.monotonic() - started
        return checks, name

    def run_suite_chunks(
        self, suite_module: Any, frames: Iterable[Any], index_columns: list[str] | None = None
    ) -> list[CheckResult]:
        """Validate each frame of `frames` (parts of one dataset, e.g. groups of whole
        returns) and merge the parts' results: one CheckResult per expectation, as if the
        dataset had been validated whole. Frames are taken one at a time, so a generator
        keeps one part in memory."""
        merged: list[CheckResult] | None = None
        for frame in frames:
            if frame is None or frame.empty:
                continue
            part, _ = self._validate(suite_module, frame, index_columns)
            # Let the part go before the next one is built: GX's objects around it form
            # reference cycles, which only the cycle collector frees.
            del frame
            gc.collect()
            merged = part if merged is None else [_merge(a, b) for a, b in zip(merged, part, strict=True)]
        if merged:
            self.validations.append(Validation(suite_module.NAME, suite_module.NAME, merged))
        return merged or []

    def _let_go(self) -> None:
        """Drop the batch and metrics GX keeps in the data source's execution engine after a
        validation (they hold the frame and per-row results), so parts do not pile up."""
        engine = self._source.get_execution_engine()
        engine.batch_manager.reset_batch_cache()
        engine.batch_manager.batch_data_cache.clear()  # the frames themselves
        cache = getattr(engine, "_metric_cache", None)
        if isinstance(cache, dict):
            cache.clear()

    def build_docs(self) -> Path | None:
        """Write the Data Docs of every validation of this session; the index page's path."""
        if self.docs_dir is None:
            return None
        from stls_warehouse.quality.data_docs import write_site

        started = time.monotonic()
        index = write_site(self.docs_dir, self.run_name, self.validations)
        self.seconds += time.monotonic() - started
        return index


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
    failing = [_plain(row) for row in details.get("unexpected_index_list") or []]
    pence_of = info.get("pence_of")
    column = config.kwargs.get("column")
    if pence_of and column:
        # An integer-pence column checked in place of a money column: show the money.
        failing = [_in_pounds(row, column, pence_of) for row in failing]
    return CheckResult(
        suite=suite_name,
        rule=info.get("rule", config.type),
        code=info.get("code", config.type.upper()),
        severity=severity_of(config),
        description=config.description or config.type,
        expectation=config.type,
        column=config.kwargs.get("column") or config.kwargs.get("column_A"),
        success=bool(outcome.success),
        observed=details.get("observed_value"),
        unexpected_count=int(details.get("unexpected_count") or 0),
        failing_rows=failing,
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


def _merge(a: CheckResult, b: CheckResult) -> CheckResult:
    """One expectation's results on two parts of a dataset, as one result on the whole."""
    if (a.suite, a.rule, a.expectation, a.column) != (b.suite, b.rule, b.expectation, b.column):
        raise ValueError(f"cannot merge {a.suite}.{a.rule} with {b.suite}.{b.rule}")
    return CheckResult(
        suite=a.suite,
        rule=a.rule,
        code=a.code,
        severity=a.severity,
        description=a.description,
        expectation=a.expectation,
        column=a.column,
        success=a.success and b.success,
        observed=a.observed if a.observed is not None else b.observed,
        unexpected_count=a.unexpected_count + b.unexpected_count,
        failing_rows=a.failing_rows + b.failing_rows,
        expected=a.expected,
        element_count=a.element_count + b.element_count,
        meta=a.meta,
        column_b=a.column_b,
    )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars become Python values and a missing value None, so results serialise
    and compare plainly."""
    import pandas as pd

    plain: dict[str, Any] = {}
    for key, value in row.items():
        if value is pd.NA or value is pd.NaT:
            plain[key] = None
        else:
            plain[key] = value.item() if hasattr(value, "item") else value
    return plain


def _in_pounds(row: dict[str, Any], pence_column: str, money_column: str) -> dict[str, Any]:
    """The failing row with its integer pence shown as the money value (exact, 2 places)."""
    pence = row.get(pence_column)
    shown = {key: value for key, value in row.items() if key != pence_column}
    shown[money_column] = None if pence is None else Decimal(int(pence)).scaleb(-2)
    return shown


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
