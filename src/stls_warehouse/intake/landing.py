"""The landing zone: which files are waiting, in the order they count as received.

Within one batch a later modification time, then a later name, counts as received later
(spec/returns.md). Files are routed to their SLA by name so intake can fan out over the
SLA register; a name that names no SLA goes to the UNROUTED batch and is still checked.

One settle rule for every intake path (the daily pipeline, the monthly close, on arrival):
a file counts as arrived once its size and modification time have held for
`STLS_LANDING_SETTLE_SECONDS` (default 30). Discovery (`settled`) watches a file modified
more recently that long; a file that changes meanwhile, or is modified again before or while
it is read (`read_landed`), is left for the next run. Uploads through the returns service
(`deliver`) are renamed into place whole, so they count as arrived at once.

A landed file is opened without following a link, non-blocking, and checked on the open
descriptor: anything that is not a regular file directly in the landing folder (or in an
upload's folder) is refused, so a file swapped for a symlink or a FIFO after discovery is
never read.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stls_warehouse import reference
from stls_warehouse.config import settings
from stls_warehouse.errors import StlsError
from stls_warehouse.files import write_atomically
from stls_warehouse.text import safe_text

UNROUTED = "UNROUTED"
# Uploads through the returns service: landing/uploads/<upload id>/<the school's file name>,
# so that two uploads of the same name both arrive and the name (which carries the SLA and
# period) is kept as the school gave it.
UPLOADS = "uploads"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_SLA_IN_NAME = re.compile(r"^(?:LEDGER|KPI)_([A-Za-z0-9]+)_", re.IGNORECASE)
# A path that is not UTF-8 text travels between tasks (Airflow's XCom is JSON) as this
# prefix and the base64 of its bytes; every real path is absolute, so none starts with it.
_BYTES_REF = "fsb64:"

log = logging.getLogger(__name__)


def settle_seconds() -> float:
    return settings().landing_settle_seconds


@dataclass(frozen=True)
class LandedFile:
    path: Path
    mtime_ns: int
    size: int = -1

    @property
    def name(self) -> str:
        return self.path.name


class NotLanded(StlsError):
    """A landed path that is not read: refused (not a regular file in the landing zone) or
    still arriving (changed within the settle time); `refused` says which."""

    def __init__(self, reason: str, *, refused: bool) -> None:
        super().__init__(reason)
        self.refused = refused


def _files_in(folder: Path) -> list[LandedFile]:
    found = []
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append(LandedFile(path, info.st_mtime_ns, info.st_size))
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
    """File references (`file_ref`) grouped by the SLA their name gives (UNROUTED when none)."""
    batches: dict[str, list[str]] = {code: [] for code in reference.slas()}
    batches[UNROUTED] = []
    for landed in files:
        match = _SLA_IN_NAME.match(landed.name)
        code = match.group(1).upper() if match else UNROUTED
        batches[code if code in batches else UNROUTED].append(file_ref(landed.path))
    return batches


def file_ref(path: Path) -> str:
    """The path as text any task can pass on (JSON, UTF-8), whatever bytes its name holds."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _BYTES_REF + base64.urlsafe_b64encode(os.fsencode(path)).decode("ascii")
    return text


def path_of(ref: str) -> Path:
    """The path a `file_ref` stands for."""
    if ref.startswith(_BYTES_REF):
        return Path(os.fsdecode(base64.urlsafe_b64decode(ref[len(_BYTES_REF) :])))
    return Path(ref)


def _is_upload(landing: Path, path: Path) -> bool:
    parts = _parts_below(landing, path)
    return parts is not None and len(parts) == 3


def _parts_below(landing: Path, path: Path) -> tuple[str, ...] | None:
    """`(name,)` or `("uploads", id, name)` for a path the landing zone may hold, else None."""
    try:
        parts = path.relative_to(landing).parts
    except ValueError:
        return None
    if len(parts) == 1 and not parts[0].startswith("."):
        return parts
    if (
        len(parts) == 3
        and parts[0] == UPLOADS
        and _UPLOAD_ID.match(parts[1])
        and not parts[2].startswith(".")
    ):
        return parts
    return None


def settled(
    landing: Path,
    files: list[LandedFile],
    settle: float | None = None,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[LandedFile], list[LandedFile]]:
    """The files that have arrived, and those still arriving (left for the next run).

    A file modified within the settle time is watched until it is that old (one wait for all
    of them, at most the settle time); it has arrived if its size and modification time held.
    """
    settle = settle_seconds() if settle is None else settle
    now = clock()
    fresh = [f for f in files if not _is_upload(landing, f.path) and now - f.mtime_ns / 1e9 < settle]
    if not fresh:
        return files, []
    youngest = max(f.mtime_ns for f in fresh) / 1e9
    sleep(max(0.0, min(settle, settle - (now - youngest))))
    arrived, arriving = [], []
    fresh_paths = {f.path for f in fresh}
    for landed in files:
        if landed.path not in fresh_paths:
            arrived.append(landed)
            continue
        try:
            info = landed.path.lstat()
        except FileNotFoundError:
            continue
        if (info.st_mtime_ns, info.st_size) == (landed.mtime_ns, landed.size):
            arrived.append(landed)
        else:
            log.info(
                "%s is still arriving (it changed within %.0f s); left for the next run",
                display(landed.path),
                settle,
            )
            arriving.append(landed)
    return arrived, arriving


def display(path: Path | str) -> str:
    """A path or name as text that can be stored anywhere: bytes that are not UTF-8, and
    control characters, shown as U+FFFD (the name receipts and the ledger record)."""
    return safe_text(os.fsencode(path).decode("utf-8", "replace"))


@dataclass(frozen=True)
class Landed:
    data: bytes
    mtime_ns: int


def read_landed(landing: Path, path: Path, settle: float | None = None) -> Landed:
    """The bytes of a landed file, read without following any link and checked on the open
    descriptor. Raises FileNotFoundError when it has gone, NotLanded when it is refused or
    still arriving."""
    parts = _parts_below(landing, path)
    if parts is None:
        raise NotLanded(f"{display(path)} is not in the landing zone {landing}", refused=True)
    settle = settle_seconds() if settle is None else settle
    folder = os.open(landing, os.O_RDONLY | os.O_DIRECTORY)
    fd = -1
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            except FileNotFoundError:
                raise
            except OSError as exc:  # a link or a file where an upload's folder should be
                raise NotLanded(
                    f"{display(path)}: {part} is not a folder of the landing zone", refused=True
                ) from exc
            os.close(folder)
            folder = inner
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
        try:
            fd = os.open(parts[-1], flags, dir_fd=folder)
        except FileNotFoundError:
            raise
        except OSError as exc:  # ELOOP: a symbolic link; ENXIO: a socket; and the like
            raise NotLanded(
                f"{display(path)} is not a regular file ({exc.strerror}); refused", refused=True
            ) from exc
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise NotLanded(f"{display(path)} is not a regular file; refused", refused=True)
        age = time.time() - before.st_mtime_ns / 1e9
        if len(parts) == 1 and 0 <= age < settle:
            raise NotLanded(
                f"{display(path)} was modified {age:.0f} s ago; left for the next run", refused=False
            )
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        data = b"".join(chunks)
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(
            data
        ) != after.st_size:
            raise NotLanded(
                f"{display(path)} changed while it was read; left for the next run", refused=False
            )
        return Landed(data, before.st_mtime_ns)
    finally:
        if fd >= 0:
            os.close(fd)
        os.close(folder)
