"""The Forum's figures with their provenance, read from one published release.

Budget against outturn per service line (`mart_service_line_budget_outturn`), and each
outturn traced down: service line -> SLA -> period -> the return (file, version, who sent it,
when, sign-off) -> its ledger lines (`fct_ledger_lines`, with `source_file_sha256` and
`source_row`) -> the row of the stored file in the raw zone. Each level's amounts are sums of
the level below, in exact decimals, so the lines listed always add up to the figure above.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from stls_portal.models import DecisionRecord, Upload
from stls_portal.published import Release
from stls_warehouse import reference

FORUM = "mart_service_line_budget_outturn"
LINES = "fct_ledger_lines"
LEDGER = "submission_ledger"
STATUS = "mart_return_status"
# Traded services are paid for by their buyers: from marts spec 1.1 they sit beside the
# outturn (traded_net), never in it. A release from before 1.1 (no traded_net) summed every strand.
# Free text a school typed may name people: the published tables leave it out, so does this view.
FREE_TEXT = frozenset({"description", "comment"})


class NotPublished(Exception):
    """The release has no such table, year or figure (the view answers 404)."""


@dataclass(frozen=True)
class Level:
    key: str
    label: str
    outturn: Decimal
    traded: Decimal
    lines: int


@dataclass(frozen=True)
class Drill:
    rows: list[Level]
    outturn: Decimal  # the sum of the rows
    published: Decimal | None  # the figure the level above published, to compare with

    @property
    def agrees(self) -> bool:
        return self.published is None or self.published == self.outturn


class Reader:
    """One release, one in-memory DuckDB connection: every read of a page comes from it."""

    def __init__(self, release: Release) -> None:
        import duckdb

        if release.folder is None:
            raise NotPublished("nothing is published yet")
        self.release = release
        self.con = duckdb.connect()
        self._schemas: dict[str, set[str]] = {}
        manifest = release.manifest()
        self.release_id = str(manifest.get("release_id") or release.folder.name)
        published = manifest.get("published_at")
        self.published_at = datetime.fromisoformat(str(published)) if published else None

    def close(self) -> None:
        self.con.close()

    def _path(self, table: str) -> str:
        path = self.release.table_path(table)
        if path is None:
            raise NotPublished(f"the release {self.release.release_id} has no {table}")
        return str(path)

    def _columns(self, table: str) -> set[str]:
        if table not in self._schemas:
            sql = "select name from parquet_schema(?)"
            self._schemas[table] = {r[0] for r in self.con.execute(sql, [self._path(table)]).fetchall()}
        return self._schemas[table]

    def _dicts(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _outturn_expression(self) -> str:
        if "traded_net" in self._columns(FORUM):
            return f"coalesce(sum(amount) filter (where {reference.high_needs_condition()}), 0)"
        return "coalesce(sum(amount), 0)"

    def _traded_expression(self) -> str:
        if "traded_net" in self._columns(FORUM):
            return f"coalesce(sum(amount) filter (where not {reference.high_needs_condition()}), 0)"
        return "0::decimal(18,2)"

    # --- the Forum's table --------------------------------------------------------------

    def years(self) -> list[str]:
        sql = "select distinct financial_year from read_parquet(?) order by 1 desc"
        return [r[0] for r in self.con.execute(sql, [self._path(FORUM)]).fetchall()]

    def forum(self, year: str) -> list[dict[str, Any]]:
        rows = self._dicts(
            "select * from read_parquet(?) where financial_year = ? order by service_line",
            [self._path(FORUM), year],
        )
        if not rows:
            raise NotPublished(f"no budget against outturn for {year}")
        return rows

    def published_outturn(self, year: str, service_line: str) -> Decimal:
        for row in self.forum(year):
            if row["service_line"] == service_line:
                return Decimal(row["outturn"])
        raise NotPublished(f"no {service_line} outturn for {year}")

    # --- the drill-down -----------------------------------------------------------------

    def _levels(self, group: str, where: str, params: list[Any]) -> list[Level]:
        sql = (
            f"select {group} as key, {self._outturn_expression()} as outturn, "
            f"{self._traded_expression()} as traded, count(*) as lines "
            f"from read_parquet(?) where {where} group by all order by 1"
        )
        return [
            Level(str(k), str(k), Decimal(o), Decimal(t), int(n))
            for k, o, t, n in self.con.execute(sql, [self._path(LINES), *params]).fetchall()
        ]

    def by_sla(self, year: str, service_line: str) -> Drill:
        rows = self._levels("sla_code", "financial_year = ? and service_line = ?", [year, service_line])
        return Drill(
            rows, sum((r.outturn for r in rows), Decimal(0)), self.published_outturn(year, service_line)
        )

    def by_period(self, year: str, sla_code: str) -> Drill:
        rows = self._levels("period_key", "financial_year = ? and sla_code = ?", [year, sla_code])
        return Drill(rows, sum((r.outturn for r in rows), Decimal(0)), None)

    def lines(self, sla_code: str, period_key: str) -> list[dict[str, Any]]:
        return self._dicts(
            "select account_code, expenditure_category, fund_strand, posting_date, amount, "
            "is_overhead_recharge, source_file_sha256, source_row, submission_version "
            "from read_parquet(?) where sla_code = ? and period_key = ? order by source_row",
            [self._path(LINES), sla_code, period_key],
        )

    def counts_in_outturn(self, line: dict[str, Any]) -> bool:
        return (
            "traded_net" not in self._columns(FORUM) or line["fund_strand"] in reference.high_needs_strands()
        )

    def submission(self, sha256: str) -> dict[str, Any] | None:
        rows = self._dicts(
            "select * from read_parquet(?) where file_sha256 = ?", [self._path(LEDGER), sha256]
        )
        return rows[0] if rows else None

    def return_status(self, sla_code: str, period_key: str) -> dict[str, Any]:
        rows = self.release.rows(
            STATUS,
            (
                "status",
                "versions_received",
                "current_file_sha256",
                "signed_off_by",
                "signed_off_at",
                "signed_off_file_sha256",
            ),
            sla_code=sla_code,
            return_type="ledger",
            period_key=period_key,
        )
        return rows[0] if rows else {}


@dataclass(frozen=True)
class ReturnFile:
    """One version of a return, as the drill-down shows it."""

    sha256: str
    file_name: str | None
    version: int | None
    sent_by: str
    sent_at: datetime | None
    signed_off_by: str | None
    signed_off_at: datetime | None


def return_file(reader: Reader, sla_code: str, period_key: str, sha256: str) -> ReturnFile:
    submission = reader.submission(sha256) or {}
    upload = Upload.objects.filter(sha256=sha256, sla_code=sla_code).select_related("uploaded_by").first()
    status = reader.return_status(sla_code, period_key)
    signed_by = signed_at = None
    if status.get("signed_off_by") and status.get("signed_off_file_sha256") == sha256:
        signed_by, signed_at = status["signed_off_by"], status.get("signed_off_at")
    else:
        local = (
            DecisionRecord.objects.filter(kind="sign_off", file_sha256=sha256).select_related("actor").first()
        )
        if local is not None:
            signed_by, signed_at = local.actor.get_username(), local.decided_at
    if upload is not None:
        sent_by = f"{upload.uploaded_by.get_username()} (through this service)"
        sent_at = upload.uploaded_at
    else:
        sent_by, sent_at = "dropped in the landing zone", submission.get("received_at")
    return ReturnFile(
        sha256=sha256,
        file_name=submission.get("original_name") or (upload.file_name if upload else None),
        version=submission.get("version"),
        sent_by=sent_by,
        sent_at=sent_at,
        signed_off_by=signed_by,
        signed_off_at=signed_at,
    )


@dataclass(frozen=True)
class SourceRow:
    sha256: str
    row: int
    sheet: str | None
    cells: list[tuple[str, str, str]]  # (cell reference, header, value as written)


def source_row(raw_root: Path, sha256: str, row: int) -> SourceRow:
    """One row of a stored file, read from the raw zone exactly as it was sent (read-only)."""
    from stls_warehouse.intake.raw_zone import RawZone
    from stls_warehouse.intake.reader import cell_reference, open_xlsx, read_csv, sniff
    from stls_warehouse.intake.schema import LEDGER

    path = RawZone(raw_root).object_path(sha256)
    if not path.is_file():
        raise NotPublished(f"the raw zone has no file {sha256}")
    data = path.read_bytes()
    if sniff(data) == "zip":
        book = open_xlsx(data, {LEDGER.sheet.lower()})
        grid = next(
            (g for name, g in book.sheets.items() if name.strip().lower() == LEDGER.sheet.lower()), None
        )
        if grid is None:
            raise NotPublished(f"the file {sha256[:12]} has no {LEDGER.sheet} sheet")
    else:
        grid = read_csv(data)
    if row not in grid.rows:
        raise NotPublished(f"the file {sha256[:12]} has no row {row}")
    header = grid.rows[min(grid.rows)]
    cells = [
        (
            cell_reference(row, column) or "",
            header[column].value if column in header else "",
            "(free text, not shown: it may name people)"
            if str(header.get(column, ("", ""))[1]).strip().lower() in FREE_TEXT
            else cell.value,
        )
        for column, cell in sorted(grid.rows[row].items())
    ]
    return SourceRow(sha256=sha256, row=row, sheet=grid.sheet, cells=cells)
