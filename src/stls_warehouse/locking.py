"""One `stls run` (or `stls rebuild`) at a time on one STLS_HOME.

A second run started while one is going waits its turn, saying so, instead of failing on the
DuckDB lock half-way; `stls run --no-wait` says plainly that a run is in progress and stops.
The lock is an flock on `$STLS_HOME/.run.lock`, released by the kernel when the holder
exits, so a killed run never leaves it held. The holder writes its pid and start time there.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from stls_warehouse.config import Paths
from stls_warehouse.errors import StlsError


class RunInProgress(StlsError, RuntimeError):
    """Another run holds this STLS_HOME (raised only when asked not to wait for it)."""

    def format_message(self) -> str:
        return f"{self}; not started (run again later, or without --no-wait to wait)"


@contextmanager
def run_lock(home: Paths, *, wait: bool) -> Iterator[None]:
    path = home.home / ".run.lock"
    home.home.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            message = f"another run is in progress on {home.home} ({holder})"
            if not wait:
                raise RunInProgress(message) from None
            print(f"stls: {message}; waiting for it to finish", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
            print("stls: the other run finished; starting", file=sys.stderr, flush=True)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now(UTC).isoformat(timespec='seconds')}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
