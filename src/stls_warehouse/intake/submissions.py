"""The submission ledger: the single writer that records staged returns in the warehouse.

Append-only. A byte-identical file under a new name is a DUPLICATE that repeats the first
outcome and changes nothing; the same file seen again under the same name is not even a
new row, so re-running intake over an unchanged landing zone changes nothing. A new
accepted return for an SLA and period gets the next version and supersedes the last.
Everything of one run is committed in one transaction.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from stls_warehouse.intake.raw_zone import RawZone
from stls_warehouse.intake.stage import read_staged
from stls_warehouse.warehouse import connect

_LEDGER_COLUMNS = (
    "source_row, sla_code, financial_year, period, line_ref, posting_date, cost_centre, "
    "account_code, fund_strand, description, amount, is_overhead_recharge"
)
_KPI_COLUMNS = "source_row, sla_code, kpi_month, kpi_code, value, numerator, denominator, comment"


@dataclass
class LoadSummary:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: len(v) for k, v in self.__dict__.items()}


def load_staged(
    run_dir: Path, warehouse: Path, zone: RawZone, quarantine: Path, received_at: datetime
) -> LoadSummary:
    staged = read_staged(run_dir)
    summary = LoadSummary()
    receipts: list[tuple[str, str]] = []
    rejected: list[dict[str, Any]] = []
    con = connect(warehouse)
    try:
        con.begin()
        for record in staged:
            outcome = _record(con, run_dir, record, received_at)
            getattr(summary, outcome).append(record["file"])
            if outcome != "unchanged":
                receipts.append((record["sha256"], record["file"]))
            if outcome == "rejected":
                rejected.append(record)
        con.commit()
        con.execute("checkpoint")
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()
    for record in rejected:
        _quarantine(zone, quarantine, record)
    for sha256, name in receipts:
        zone.record_receipt(sha256, name)
    return summary


def _record(con: Any, run_dir: Path, record: dict[str, Any], received_at: datetime) -> str:
    sha = record["sha256"]
    first = con.execute(
        "select status, problems_json, original_name from raw.submissions "
        "where file_sha256 = ? and status <> 'DUPLICATE' order by received_at limit 1",
        [sha],
    ).fetchone()
    if first is not None:
        seen = con.execute(
            "select 1 from raw.submissions where file_sha256 = ? and original_name = ?",
            [sha, record["file"]],
        ).fetchone()
        if seen:
            return "unchanged"
        problems = json.loads(first[1])
        problems["duplicate_of"] = first[2]
        problems["repeated_status"] = first[0]
        _insert_submission(con, record, received_at, "DUPLICATE", None, None, problems)
        return "duplicate"
    problems = {"errors": record["errors"], "warnings": record["warnings"]}
    if record["status"] != "ACCEPTED":
        _insert_submission(con, record, received_at, "REJECTED", None, None, problems)
        return "rejected"
    previous = con.execute(
        "select file_sha256, version from raw.submissions where status = 'ACCEPTED' "
        "and return_type = ? and sla_code = ? and period_key = ? order by version desc limit 1",
        [record["return_type"], record["sla_code"], record["period_key"]],
    ).fetchone()
    version = (previous[1] + 1) if previous else 1
    _insert_submission(
        con, record, received_at, "ACCEPTED", version, previous[0] if previous else None, problems
    )
    lines = run_dir / f"{sha}.parquet"
    if record["return_type"] == "ledger":
        con.execute(
            f"insert into raw.ledger_lines (file_sha256, {_LEDGER_COLUMNS}) "
            f"select ?, {_LEDGER_COLUMNS} from read_parquet(?)",
            [sha, str(lines)],
        )
    else:
        con.execute(
            f"insert into raw.kpi_values (file_sha256, {_KPI_COLUMNS}) "
            f"select ?, {_KPI_COLUMNS} from read_parquet(?)",
            [sha, str(lines)],
        )
    return "accepted"


def _insert_submission(
    con: Any,
    record: dict[str, Any],
    received_at: datetime,
    status: str,
    version: int | None,
    supersedes: str | None,
    problems: dict[str, Any],
) -> None:
    con.execute(
        """
        insert into raw.submissions (
            file_sha256, original_name, received_at, file_mtime, return_type, sla_code,
            period_key, financial_year, period, kpi_month, status, version,
            supersedes_sha256, is_nil_return, line_count, amount_total, error_count,
            warning_count, problems_json
        ) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            record["sha256"],
            record["file"],
            received_at,
            record["mtime"],
            record["return_type"],
            record["sla_code"],
            record["period_key"],
            record["financial_year"],
            record["period"],
            record["kpi_month"],
            status,
            version,
            supersedes,
            record["is_nil_return"],
            record["line_count"],
            record["amount_total"],
            len(problems.get("errors", [])),
            len(problems.get("warnings", [])),
            json.dumps(problems),
        ],
    )


def _quarantine(zone: RawZone, quarantine: Path, record: dict[str, Any]) -> None:
    """A rejected file's bytes and its report, by hash; the school's name is data only."""
    folder = quarantine / record["sha256"]
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(record["file"]).suffix.lower()
    copy = folder / f"return{suffix if suffix in ('.csv', '.xlsx') else '.bin'}"
    if not copy.exists():
        shutil.copyfile(zone.object_path(record["sha256"]), copy)
    (folder / "rejection.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
