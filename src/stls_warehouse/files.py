"""Writing a file so that no reader ever sees it half-written.

Every file the pipeline and the returns service hand to another process is written to a
hidden temporary name in the target's own folder, flushed to disk and renamed into place:
a rename within one file system is atomic, so a reader sees the old file, no file, or the
whole new one.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomically(target: Path, data: bytes, *, mode: int = 0o640) -> Path:
    """Write `data` to `target` by rename; `target`'s folder is created when missing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
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
