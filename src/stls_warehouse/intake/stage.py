"""Intake stage: validate landed files and stage the results for the warehouse writer.

Intake workers never write the warehouse (DuckDB has one writer). Each file's outcome is
staged in the run's work folder as `<sha256>.json` plus, for accepted returns,
`<sha256>.parquet` with its typed lines; the single writer (`submissions.load_staged`)
then records it in the submission ledger. Files already in the raw zone were received
before and are not parsed again, which makes re-running intake cheap and idempotent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict, cast

from stls_warehouse.files import atomic_path, write_text_atomically
from stls_warehouse.intake.contract import CONTRACTS, ReturnContract
from stls_warehouse.intake.problems import ProblemDict
from stls_warehouse.intake.raw_zone import RawZone
from stls_warehouse.intake.validate import ValidationResult, validate_return

log = logging.getLogger(__name__)


class StagedOutcome(TypedDict):
    """One file's staged outcome (`<sha256>.<name digest>.json` in the run's work folder):
    what the return gates read and rewrite, and what the single writer records."""

    file: str
    landing_path: str | None
    sha256: str
    size: int
    mtime: str | None
    mtime_ns: int | None
    return_type: str | None
    sla_code: str | None
    period_key: str | None
    financial_year: str | None
    period: int | None
    kpi_month: str | None
    status: str  # ACCEPTED or REJECTED (the return gates may turn ACCEPTED to REJECTED)
    is_nil_return: bool
    line_count: int
    amount_total: str | None  # exact decimal, as text
    errors: list[ProblemDict]
    warnings: list[ProblemDict]


def arrow_schema(contract: ReturnContract) -> Any:
    """The Arrow schema of a return type's staged lines, from the contract's column types."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "date32": pa.date32(),
        "money": pa.decimal128(18, 2),
        "bool": pa.bool_(),
    }
    return pa.schema(
        [("source_row", pa.int32()), *((c.staged_name, types[c.staged]) for c in contract.fields)]
    )


def outcome_record(
    result: ValidationResult, *, landing_path: Path | None, mtime_ns: int | None
) -> StagedOutcome:
    """The staged outcome of one file, as JSON-ready data."""
    name = result.name
    period = getattr(name.period, "period", None) if name else None
    return {
        "file": result.file,
        "landing_path": display_name(str(landing_path)) if landing_path else None,
        "sha256": result.sha256,
        "size": result.size,
        "mtime": datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat() if mtime_ns else None,
        "mtime_ns": mtime_ns,
        "return_type": result.return_type,
        "sla_code": result.sla_code,
        "period_key": result.period_key,
        "financial_year": name.period.financial_year if name else None,
        "period": period,
        "kpi_month": name.period.key if name and name.return_type == "kpi" else None,
        "status": "ACCEPTED" if result.accepted else "REJECTED",
        "is_nil_return": result.is_nil,
        "line_count": result.line_count,
        "amount_total": str(result.amount_total) if result.amount_total is not None else None,
        "errors": [p.as_dict() for p in result.errors],
        "warnings": [p.as_dict() for p in result.warnings],
    }


def write_lines(result: ValidationResult, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(CONTRACTS[result.return_type or ""])
    records: Sequence[Any] = result.ledger_lines if result.return_type == "ledger" else result.kpi_rows
    # Column by column: dataclasses.asdict per record copies deeply and costs more than the write.
    table = pa.Table.from_pydict(
        {name: [getattr(r, name) for r in records] for name in schema.names}, schema=schema
    )
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)


def stage_files(
    paths: list[str], run_dir: Path, raw_zone: RawZone, *, landing: Path | None = None
) -> list[dict[str, Any]]:
    """Validate each file not received before; stage its outcome. Returns short summaries.

    `paths` are `landing.file_ref`s of files in `landing` (default: each file's own folder,
    without the landing zone's settle time).
    A file is read only through `landing.read_landed`: a path that is no longer a regular
    file of the landing zone is refused, and one still arriving is left for the next run.
    An error of ours (missing reference data, a bug, an OS error) raises: the file is not
    judged, and the next run validates it again.
    """
    from stls_warehouse.intake.landing import NotLanded, path_of, read_landed

    run_dir.mkdir(parents=True, exist_ok=True)
    summaries: list[dict[str, Any]] = []
    for text in paths:
        path = path_of(text)
        name = display_name(path.name)
        try:
            # The settle rule is the landing zone's; files handed over directly (validation
            # benchmarks, tools) are only checked for changing while they are read.
            landed = read_landed(landing or path.parent, path, settle=None if landing else 0)
        except FileNotFoundError:
            continue  # picked up by an earlier run and moved away: nothing to do
        except NotLanded as not_landed:
            status = "REFUSED" if not_landed.refused else "STILL_ARRIVING"
            log.warning("%s: %s", status, not_landed)
            summaries.append({"file": name, "status": status, "reason": str(not_landed)})
            continue
        data, mtime_ns = landed.data, landed.mtime_ns
        result_sha = _sha256(data)
        if raw_zone.has(result_sha, name):
            summaries.append({"file": name, "sha256": result_sha, "status": "ALREADY_RECEIVED"})
            continue
        raw_zone.put_object(result_sha, data)
        result = validate_return(name, data)  # raises InternalCheckError on a fault of ours
        record = outcome_record(result, landing_path=path, mtime_ns=mtime_ns)
        if result.accepted:  # the lines depend on the bytes only, so one file serves every name
            write_lines(result, run_dir / f"{result.sha256}.parquet")
        _write_json(run_dir / f"{stage_key(record)}.json", record)
        summaries.append(
            {
                "file": name,
                "sha256": result.sha256,
                "status": record["status"],
                "errors": len(result.errors),
            }
        )
    return summaries


def display_name(name: str) -> str:
    """The file's name as text that can be stored anywhere (undecodable bytes shown as U+FFFD)."""
    from stls_warehouse.intake.landing import display

    return display(name)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _write_json(target: Path, record: StagedOutcome) -> None:
    write_text_atomically(target, json.dumps(record, indent=1, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value))


def read_staged(run_dir: Path) -> list[StagedOutcome]:
    """Staged outcomes of a run, in received order (modification time, then name)."""
    records = [cast(StagedOutcome, json.loads(p.read_text(encoding="utf-8"))) for p in run_dir.glob("*.json")]
    return sorted(records, key=received_order)


def received_order(record: StagedOutcome) -> tuple[int, str]:
    """Within one batch a later modification time, then a later name, is received later."""
    return (record["mtime_ns"] or 0, record["file"])


def rewrite_staged(run_dir: Path, record: StagedOutcome) -> None:
    _write_json(run_dir / f"{stage_key(record)}.json", record)


def stage_key(record: StagedOutcome) -> str:
    """One staged outcome per (bytes, name): the same bytes landed under two names are two
    receipts (the later a DUPLICATE), so neither may overwrite the other's record."""
    import hashlib

    name_digest = hashlib.sha256(record["file"].encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{record['sha256']}.{name_digest}"
