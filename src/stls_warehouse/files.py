"""Writing a file so that no reader ever sees it half-written.

Every file the pipeline and the returns service hand to another process is written to a
hidden temporary name in the target's own folder, flushed to disk and renamed into place:
a rename within one file system is atomic, so a reader sees the old file, no file, or the
whole new one. This module is the one home of that pattern: `write_atomically` for bytes
in memory, `atomic_path` for a writer that needs a path of its own (a zip, Parquet, a PDF,
a copy), `replace_symlink` for a link moved to a new target.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The mode `open()` and `Path.write_text` create files with: the process umask decides.
UMASK_MODE = 0o666


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def write_atomically(target: Path, data: bytes, *, mode: int = 0o640) -> Path:
    """Write `data` to `target` by rename; `target`'s folder is created when missing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_text_atomically(target: Path, text: str, *, mode: int = UMASK_MODE) -> Path:
    """`write_atomically` for text, in UTF-8; by default with the mode `write_text` gives."""
    return write_atomically(target, text.encode("utf-8"), mode=mode)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A hidden temporary path beside `target` for a writer that needs a path of its own.

    What the block writes there is renamed onto `target` when the block ends without an
    error, and removed when it fails. `target`'s folder is created when missing.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_symlink(link: Path, target: Path) -> None:
    """Point `link` at `target` in one rename: a reader follows the old link or the new one."""
    tmp = link.with_name(f".{link.name}.swap")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


@contextmanager
def atomic_directory(target: Path, *, mode: int = 0o750) -> Iterator[Path]:
    """A hidden folder beside `target` to fill, renamed to `target` when the block ends
    without an error and removed when it fails; one a crash left behind is removed first."""
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, mode=mode)
    try:
        yield staging
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
