"""What a run tells whoever started it: each stage as it starts and ends, and what it did.

Every pipeline stage reports through `stage()`. In a DAG task the report is one line on the
task's standard output, `::stls:: {json}`, which `airflow dags test` passes through and
`stls run` reads as the run goes (`RunWatcher`); in the CLI's own process (`stls run
--without-airflow`) a listener takes the same reports directly. From them `stls run` shows
its progress and, at the end, what the run received, accepted, rejected, superseded and
ignored as duplicate, with the rejection reports and the release it made or why none.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TextIO, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

MARK = "::stls:: "
# The stages of the daily pipeline, in order (a DAG may run fewer).
STAGES: tuple[tuple[str, str], ...] = (
    ("route_landing", "find new files"),
    ("intake", "read and check each file"),
    ("gate_returns", "quality gate on returns"),
    ("load_returns", "record returns"),
    ("build_warehouse", "dbt build"),
    ("gate_warehouse", "warehouse gate"),
    ("publish", "publish"),
    ("monthly_report", "monthly report"),
)
_listeners: list[Callable[[dict[str, Any]], None]] = []


def listen(callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Take reports in this process instead of printing them; returns the undo."""
    _listeners.append(callback)
    return lambda: _listeners.remove(callback)


def report(event: str, stage: str, **data: Any) -> None:
    message = {"event": event, "stage": stage, **data}
    if _listeners:
        for callback in list(_listeners):
            callback(message)
        return
    sys.stdout.write(MARK + json.dumps(message, default=str, sort_keys=True) + "\n")
    sys.stdout.flush()


@contextmanager
def stage(name: str) -> Iterator[dict[str, Any]]:
    """Report `name` started, then finished with what the body put in the yielded dict (or
    failed with the error's first lines)."""
    report("started", name)
    result: dict[str, Any] = {}
    try:
        yield result
    except BaseException as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        shown = " ".join(lines[:4]) + (f" (and {len(lines) - 4} more lines)" if len(lines) > 4 else "")
        report("failed", name, error=f"{type(error).__name__}: {shown}")
        raise
    report("finished", name, **result)


def reported(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a pipeline stage: it reports its start, and its end with what it returned
    (a dict), or its failure."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with stage(name) as result:
                value = function(*args, **kwargs)
                if isinstance(value, dict):
                    result.update({k: v for k, v in value.items() if k not in ("event", "stage", "tables")})
                elif isinstance(value, list):
                    result["batches"] = len(value)
            return value

        return run

    return decorate


def parse(line: str) -> dict[str, Any] | None:
    """A report from a line of a task's output, or None for any other line."""
    at = line.find(MARK)
    if at < 0:
        return None
    try:
        value = json.loads(line[at + len(MARK) :])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class RunWatcher:
    """Follows a run's reports: shows progress and keeps what the summary needs.

    On a terminal the progress is one line rewritten in place; otherwise one plain line per
    stage start and end, so a log or a CI job reads it in order.
    """

    out: TextIO = field(default_factory=lambda: sys.stderr)
    interactive: bool | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)
    _running: int = 0

    def __post_init__(self) -> None:
        if self.interactive is None:
            self.interactive = bool(getattr(self.out, "isatty", lambda: False)())

    def __call__(self, message: dict[str, Any]) -> None:
        event, name = message.get("event"), str(message.get("stage"))
        number = next((i for i, (s, _) in enumerate(STAGES, 1) if s == name), 0)
        label = dict(STAGES).get(name, name)
        prefix = f"[{number}/{len(STAGES)}] " if number else ""
        if event == "started":
            self._started[name] = time.monotonic()
            self._running += 1
            self._show(f"{prefix}{label}: running", final=False)
        elif event in ("finished", "failed"):
            self._running = max(0, self._running - 1)
            seconds = time.monotonic() - self._started.get(name, time.monotonic())
            data = {k: v for k, v in message.items() if k not in ("event", "stage")}
            if event == "finished":
                self._merge(name, data)
                self._show(f"{prefix}{label}: done in {seconds:.1f} s{_brief(name, data)}", final=True)
            else:
                self.failed[name] = str(data.get("error"))
                self._show(f"{prefix}{label}: FAILED ({self.failed[name]})", final=True)

    def _merge(self, name: str, data: dict[str, Any]) -> None:
        if name == "intake":  # one report per mapped batch: add them up
            merged = self.results.setdefault(name, {"files": 0})
            merged["files"] += int(data.get("files") or 0)
        else:
            self.results[name] = data

    def _show(self, text: str, *, final: bool) -> None:
        if self.interactive:
            self.out.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.out.write(f"stls run: {text}\n")
        self.out.flush()

    def feed(self, line: str) -> bool:
        """Take one line of a task's output; True when it was a report."""
        message = parse(line)
        if message is None:
            return False
        self(message)
        return True


def _brief(name: str, data: dict[str, Any]) -> str:
    if name == "intake" and data.get("sla_code"):
        return f" ({data['sla_code']}, {data.get('files', 0)} files)"
    if name == "load_returns" and "received" in data:
        return f" ({len(data['received'])} files received)"
    if name == "publish" and data.get("release_id"):
        return f" (release {data['release_id']}{'' if data.get('new_release') else ', unchanged'})"
    if name == "build_warehouse" and data.get("dbt_build"):
        return f" ({data['dbt_build']})"
    return ""


def run_summary(watcher: RunWatcher) -> list[str]:
    """The end-of-run summary, line by line."""
    load = watcher.results.get("load_returns")
    lines: list[str] = []
    if load is None:
        lines.append("Received 0 files.")
    else:
        received = load.get("received", [])
        lines.append(
            f"Received {len(received)} file{'' if len(received) == 1 else 's'}: "
            f"{len(load.get('accepted', []))} accepted, {len(load.get('rejected', []))} rejected, "
            f"{len(load.get('superseded', []))} superseded, {len(load.get('duplicate', []))} duplicate"
            + (
                f" ({len(load['already_recorded'])} already recorded, not read again)"
                if load.get("already_recorded")
                else ""
            )
        )
        reports = load.get("rejection_reports", {})
        if reports:
            lines.append("Rejection reports (send each to its school):")
            lines += [f"  {name}: {path}" for name, path in sorted(reports.items())]
    publish = watcher.results.get("publish")
    if publish and publish.get("new_release"):
        lines.append(f"Release {publish['release_id']} published.")
    elif publish:
        lines.append(f"No new release: the warehouse holds what release {publish.get('release_id')} holds.")
    elif watcher.failed:
        stage_name, error = next(iter(watcher.failed.items()))
        lines.append(f"No release: {dict(STAGES).get(stage_name, stage_name)} failed: {error}")
    else:
        lines.append("No release: this run does not publish.")
    gate = watcher.results.get("gate_warehouse") or load or {}
    if gate.get("report"):
        lines.append(f"Data quality summary: {gate['report']}")
    return lines
