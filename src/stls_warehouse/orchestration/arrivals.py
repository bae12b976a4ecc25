"""On arrival: which landed files are new, and the feedback each school gets for its file.

Intake, the gate and the submission ledger are the pipeline's own stages; this module
only plans the fan-out over newly arrived files and writes, after the ledger committed,
one feedback note per file from what the ledger recorded (intake.notes).
"""

from __future__ import annotations

import hashlib
from typing import Any

from stls_warehouse.config import paths
from stls_warehouse.intake.notes import feedback_notes
from stls_warehouse.pipeline import Batch

MAX_FANOUT = 64  # above this many new files, fan out per SLA instead of per file


def plan_arrivals() -> list[Batch]:
    """The newly arrived files as intake batches: one per file, or one per SLA for a backlog."""
    from stls_warehouse.intake.landing import discover, path_of, route, settled
    from stls_warehouse.intake.stage import display_name
    from stls_warehouse.orchestration.triggers import waiting_files

    home = paths().ensure()
    waiting = {name for name, _, _ in waiting_files(home.landing, home.raw)}
    landed = [f for f in discover(home.landing) if f.path.relative_to(home.landing).as_posix() in waiting]
    landed, _still_arriving = settled(home.landing, landed)  # the rule every intake path follows
    batches: list[Batch] = [
        {"sla_code": sla, "files": files, "label": sla} for sla, files in route(landed).items() if files
    ]
    if len(landed) > MAX_FANOUT:
        return batches
    return [
        {"sla_code": batch["sla_code"], "files": [file], "label": display_name(path_of(file).name)}
        for batch in batches
        for file in batch["files"]
    ]


def school_feedback(files: list[str]) -> list[dict[str, Any]]:
    """Write one feedback note per file as the ledger recorded it; call inside the writer pool."""
    from stls_warehouse.intake.landing import NotLanded, path_of, read_landed
    from stls_warehouse.intake.stage import display_name

    home = paths().ensure()
    wanted: list[tuple[str, str]] = []
    for text in files:
        path = path_of(text)
        try:
            data = read_landed(home.landing, path, settle=0).data
        except (FileNotFoundError, NotLanded):
            continue
        wanted.append((hashlib.sha256(data).hexdigest(), display_name(path.name)))
    return feedback_notes(home, wanted)
