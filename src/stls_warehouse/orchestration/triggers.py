"""The landing-zone watcher: an event trigger the triggerer runs for the on-arrival DAG.

It polls the landing folder and fires when files are waiting that the raw zone has no
receipt for (the receipt is written only after the submission ledger committed, so a file
is "waiting" until it has really been recorded). A file is announced only once its size
and modification time have held for one poll, so a file still being copied is not picked
up half-written. Files stay where the school put them: nothing here moves or deletes them.

Firing twice for the same files is harmless (the DAG's intake is idempotent), and after a
triggerer restart the watcher announces only what is still unrecorded.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

_Key = tuple[str, int, int]  # path relative to the landing folder, size, mtime_ns


def waiting_files(landing: Path, raw_root: Path, hashes: dict[_Key, str] | None = None) -> set[_Key]:
    """Files in the landing zone (uploads included) the raw zone has not recorded under that name."""
    from stls_warehouse.intake.landing import NotLanded, discover, display, read_landed
    from stls_warehouse.intake.raw_zone import RawZone

    zone = RawZone(raw_root)
    hashes = {} if hashes is None else hashes
    waiting: set[_Key] = set()
    present: set[_Key] = set()
    if not landing.is_dir():
        return waiting
    for landed in discover(landing):
        path = landed.path
        key = (path.relative_to(landing).as_posix(), landed.size, landed.mtime_ns)
        if key not in hashes:
            try:  # never through a link, never blocking on a FIFO (the settle rule is the caller's)
                hashes[key] = hashlib.sha256(read_landed(landing, path, settle=0).data).hexdigest()
            except (FileNotFoundError, NotLanded):
                continue
        present.add(key)
        if not zone.has(hashes[key], display(path.name)):
            waiting.add(key)
    for gone in set(hashes) - present:
        del hashes[gone]  # a file that went away or changed is hashed afresh
    return waiting


class LandingZoneTrigger(BaseEventTrigger):
    """Fires an event naming the waiting files whenever a new, settled set is waiting."""

    def __init__(self, landing: str, raw_root: str, poke_interval: float = 10.0, **kwargs: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.landing = landing
        self.raw_root = raw_root
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "stls_warehouse.orchestration.triggers.LandingZoneTrigger",
            {"landing": self.landing, "raw_root": self.raw_root, "poke_interval": self.poke_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hashes: dict[_Key, str] = {}
        previous: set[_Key] = set()
        announced: set[_Key] = set()
        while True:
            waiting = await asyncio.to_thread(waiting_files, Path(self.landing), Path(self.raw_root), hashes)
            settled = waiting & previous
            if not waiting:
                announced = set()
            elif settled == waiting and waiting != announced:
                from stls_warehouse.intake.landing import display

                names = sorted(display(name) for name, _, _ in waiting)
                self.log.info("%d file(s) waiting in %s", len(names), self.landing)
                yield TriggerEvent({"count": len(names), "files": names[:50]})  # type: ignore[no-untyped-call]
                announced = waiting
            previous = waiting
            await asyncio.sleep(self.poke_interval)
