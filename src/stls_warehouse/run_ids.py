"""Run ids: what names one run of the pipeline in its results, reports and folders.

Airflow names its runs (`scheduled__...`, `manual__...`); a run started without Airflow is
named here the same way, `<kind>__<UTC time>`, so every run id sorts by when it started.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime


def new_run_id(kind: str, *, microseconds: bool = False) -> str:
    """`<kind>__YYYYMMDDTHHMMSS` in UTC, to the microsecond when runs can follow each other
    within a second (tests and debugging runs in one process)."""
    return datetime.now(UTC).strftime(f"{kind}__%Y%m%dT%H%M%S{'%f' if microseconds else ''}")


def safe_run_id(run_id: str) -> str:
    """The run id as a folder or file name: anything but letters, digits, `_`, `.`, `-` becomes `_`."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
