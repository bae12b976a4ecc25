"""The landing zone: which files are waiting, in the order they count as received.

Within one batch a later modification time, then a later name, counts as received later
(spec/returns.md). Files are routed to their SLA by name so intake can fan out over the
SLA register; a name that names no SLA goes to the UNROUTED batch and is still checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from stls_warehouse import reference

UNROUTED = "UNROUTED"
_SLA_IN_NAME = re.compile(r"^(?:LEDGER|KPI)_([A-Za-z0-9]+)_", re.IGNORECASE)


@dataclass(frozen=True)
class LandedFile:
    path: Path
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.path.name


def discover(landing: Path) -> list[LandedFile]:
    """Every regular file directly in the landing folder, oldest first."""
    if not landing.exists():
        return []
    found = []
    for path in landing.iterdir():
        if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
            found.append(LandedFile(path, path.stat().st_mtime_ns))
    return sorted(found, key=lambda f: (f.mtime_ns, f.name))


def route(files: list[LandedFile]) -> dict[str, list[str]]:
    """File paths grouped by the SLA their name gives (UNROUTED when it gives none)."""
    batches: dict[str, list[str]] = {code: [] for code in reference.slas()}
    batches[UNROUTED] = []
    for landed in files:
        match = _SLA_IN_NAME.match(landed.name)
        code = match.group(1).upper() if match else UNROUTED
        batches[code if code in batches else UNROUTED].append(str(landed.path))
    return batches
