"""Checking a return under a memory and time limit.

Reading a file costs memory in proportion to what it inflates to, not to its size on disk:
a few megabytes of XML can hold millions of cells. Every real monthly return is small, so
it is checked in the calling process (fast: no new interpreter). A file that could need
much memory (over 8 MB of content: a CSV's bytes, or what a workbook declares its parts
inflate to) is checked in a
child interpreter whose address space is capped with RLIMIT_AS and whose run time is capped
by a timeout; if it runs out of either, the file is rejected as FILE_TOO_LARGE and the
worker carries on.

Only a fault in the file rejects it. A fault of ours while checking it (reference data
missing, a bug in the checker, an OS error on our side) raises InternalCheckError: the task
fails and alerts, nothing is recorded for the file, and the next run validates it again.

Limits can be changed with STLS_INTAKE_MEMORY_MB (default 2048) and STLS_INTAKE_TIMEOUT_S
(default 120).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import subprocess
import sys

from stls_warehouse.config import settings
from stls_warehouse.errors import StlsError
from stls_warehouse.intake import naming
from stls_warehouse.intake.check import check_return
from stls_warehouse.intake.problems import Code, Problem
from stls_warehouse.intake.reader import (
    MAX_FILE_BYTES,
    MAX_XLSX_INFLATED_BYTES,
    declared_inflated_size,
    sniff,
)
from stls_warehouse.intake.result import ValidationResult

log = logging.getLogger(__name__)

# Checking a CSV in process costs about 21 MB of peak memory per MB of file (80,000 lines,
# 5.7 MB: 120 MB), so 8 MB keeps a worker's extra peak under about 200 MB. A workbook's
# declared content is XML, which costs less per MB.
IN_PROCESS_CSV_BYTES = 8 * 1024 * 1024
IN_PROCESS_XLSX_INFLATED_BYTES = 8 * 1024 * 1024
_EXIT_OUT_OF_MEMORY = 3


def memory_limit_bytes() -> int:
    return settings().intake_memory_mb * 1024 * 1024


def timeout_seconds() -> float:
    return settings().intake_timeout_seconds


def needs_child(name: str, data: bytes) -> bool:
    """Whether reading this file could need more memory than the worker should risk."""
    if len(data) > MAX_FILE_BYTES or naming.extension_of(name) not in naming.ALLOWED_EXTENSIONS:
        return False  # rejected before anything is read
    kind = sniff(data)
    if kind == "text":
        return naming.extension_of(name) == ".csv" and len(data) > IN_PROCESS_CSV_BYTES
    if kind == "zip" and naming.extension_of(name) == ".xlsx":
        declared = declared_inflated_size(data)
        return declared is not None and IN_PROCESS_XLSX_INFLATED_BYTES < declared <= MAX_XLSX_INFLATED_BYTES
    return False


class InternalCheckError(StlsError, RuntimeError):
    """Checking a file failed for a reason that is ours, not the file's; it was not judged."""

    run_note = "nothing was published by this run; the data team must fix this"


def check_here(name: str, data: bytes) -> ValidationResult:
    """Check in this process; a fault of ours raises InternalCheckError naming the file."""
    try:
        return check_return(name, data)
    except MemoryError:
        return _refused(name, data, Code.FILE_TOO_LARGE, "needs more memory to read than is allowed")
    except Exception as exc:
        raise InternalCheckError(
            f"checking {name!r} failed on our side ({type(exc).__name__}: {exc}); the file was not "
            "judged and is validated again by the next run"
        ) from exc


def check_in_child(name: str, data: bytes) -> ValidationResult:
    """Check in a child interpreter capped at `memory_limit_bytes()` and `timeout_seconds()`."""
    limit, timeout = memory_limit_bytes(), timeout_seconds()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "stls_warehouse.intake.sandbox", str(limit)],
            input=pickle.dumps((name, data)),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _refused(name, data, Code.FILE_TOO_LARGE, f"takes longer than {timeout:.0f} seconds to read")
    if done.returncode == 0:
        result = pickle.loads(done.stdout)
        if isinstance(result, ValidationResult):
            return result
    if done.returncode == _EXIT_OUT_OF_MEMORY or done.returncode < 0:
        return _refused(
            name,
            data,
            Code.FILE_TOO_LARGE,
            f"needs more than {limit // (1024 * 1024)} MB of memory to read",
        )
    raise InternalCheckError(
        f"checking {name!r} in a child process failed on our side (exit {done.returncode}): "
        f"{done.stderr.decode(errors='replace')[-2000:]}; the file was not judged and is validated "
        "again by the next run"
    )


def _refused(name: str, data: bytes, code: Code, why: str) -> ValidationResult:
    parsed, _ = naming.parse_return_name(name)
    result = ValidationResult(
        file=name,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        return_type=parsed.return_type if parsed else naming.return_type_from_prefix(name),
        name=parsed,
    )
    fix = (
        "Copy only the return's table into a new file and send that."
        if code == Code.FILE_TOO_LARGE
        else "Save the file again from Excel and send it; if that does not help, ask the STLS data team."
    )
    result.errors.append(Problem(code=code, message=f"The file {why}. {fix}"))
    return result


def _child_main(argv: list[str]) -> int:
    import resource

    limit = int(argv[0])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    name, data = pickle.loads(sys.stdin.buffer.read())
    try:
        result = check_return(name, data)
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return _EXIT_OUT_OF_MEMORY
    sys.stdout.buffer.write(payload)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
