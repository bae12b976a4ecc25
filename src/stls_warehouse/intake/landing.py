"""The landing zone: which files are waiting, in the order they count as received.

Within one batch a later modification time, then a later name, counts as received later
(spec/returns.md). Files are routed to their SLA by name so intake can fan out over the
SLA register; a name that names no SLA goes to the UNROUTED batch and is still checked.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from stls_warehouse import reference
from stls_warehouse.files import write_atomically

UNROUTED = "UNROUTED"
# Uploads through the returns service: landing/uploads/<upload id>/<the school's file name>,
# so that two uploads of the same name both arrive and the name (which carries the SLA and
# period) is kept as the school gave it.
UPLOADS = "uploads"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_SLA_IN_NAME = re.compile(r"^(?:LEDGER|KPI)_([A-Za-z0-9]+)_", re.IGNORECASE)


@dataclass(frozen=True)
class LandedFile:
    path: Path
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.path.name


def _files_in(folder: Path) -> list[LandedFile]:
    found = []
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
            found.append(LandedFile(path, path.stat().st_mtime_ns))
    return found


def discover(landing: Path) -> list[LandedFile]:
    """Every regular file directly in the landing folder or in an upload's folder, oldest first."""
    if not landing.exists():
        return []
    found = _files_in(landing)
    uploads = landing / UPLOADS
    if uploads.is_dir() and not uploads.is_symlink():
        for folder in uploads.iterdir():
            if _UPLOAD_ID.match(folder.name) and folder.is_dir() and not folder.is_symlink():
                found.extend(_files_in(folder))
    return sorted(found, key=lambda f: (f.mtime_ns, f.name))


def deliver(landing: Path, name: str, data: bytes, *, upload_id: str | None = None) -> Path:
    """Put an uploaded file in the landing zone whole, under the name the school gave it.

    The file is written in full to a hidden folder and the folder renamed into place, so
    discovery never sees it half-written. `name` is data: only its last component is used,
    and a name that could not be a file name is refused.
    """
    upload_id = upload_id or uuid.uuid4().hex
    if not _UPLOAD_ID.match(upload_id):
        raise ValueError(f"upload id {upload_id!r} is not 32 hex digits")
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base in ("", ".", "..") or base.startswith(".") or "\x00" in base or len(base.encode()) > 255:
        raise ValueError(f"{name!r} cannot be used as a file name")
    uploads = landing / UPLOADS
    uploads.mkdir(parents=True, exist_ok=True)
    hidden = uploads / f".{upload_id}"
    hidden.mkdir(mode=0o750)
    write_atomically(hidden / base, data)
    final = uploads / upload_id
    os.rename(hidden, final)
    return final / base


def route(files: list[LandedFile]) -> dict[str, list[str]]:
    """File paths grouped by the SLA their name gives (UNROUTED when it gives none)."""
    batches: dict[str, list[str]] = {code: [] for code in reference.slas()}
    batches[UNROUTED] = []
    for landed in files:
        match = _SLA_IN_NAME.match(landed.name)
        code = match.group(1).upper() if match else UNROUTED
        batches[code if code in batches else UNROUTED].append(str(landed.path))
    return batches
