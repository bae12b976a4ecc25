"""Every return of a financial year at a glance: the 14 SLAs by ledger period and by KPI month.

Each cell is the same row the school sees on its own page (`services.period_row`: the published
`mart_return_status` plus this service's own uploads still being checked), read here once for
all SLAs instead of once per SLA, with the portal's waivers not yet published laid over it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.urls import reverse

from stls_portal import services
from stls_portal.county.waivers import current_waivers
from stls_portal.models import DecisionRecord, Upload, UploadStatus
from stls_portal.published import RETURN_STATUS, STATUS_COLUMNS, Release
from stls_warehouse import reference
from stls_warehouse.periods import kpi_months, ledger_periods

# Status words a cell can carry (services.period_row), in the order the filter offers them.
STATUSES = (
    "Overdue",
    "Rejected",
    "Due",
    "Received, checking",
    "Accepted",
    "Published",
    "Waived",
    "Not yet due",
)
AWAITING_SIGN_OFF = "Awaiting sign-off"


@dataclass
class Cell:
    sla_code: str
    row: services.ReturnRow
    waiver_pending: str | None = None  # "granted" / "revoked": decided here, not yet published

    @property
    def awaiting_sign_off(self) -> bool:
        return self.row.status in ("Published", "Accepted") and not self.row.signed_off

    @property
    def href(self) -> str:
        """The return's page once a version exists, else its waiver page."""
        r = self.row
        name = "return" if r.version else "county_waiver"
        return reverse(name, args=[self.sla_code, r.return_type, r.period_key])

    @property
    def label(self) -> str:
        """What a screen reader hears after the status: whose return and which period."""
        return f"{self.sla_code} {self.row.return_type} {self.row.period_key}"

    @property
    def meta(self) -> str:
        r = self.row
        parts = []
        if r.version:
            parts.append(f"v{r.version}")
            if r.open_queries:
                parts.append(f"{r.open_queries} quer{'y' if r.open_queries == 1 else 'ies'}")
            if r.signed_off:
                parts.append("signed")
            elif r.status in ("Published", "Accepted"):
                parts.append("not signed")
        if self.waiver_pending:
            parts.append(f"{self.waiver_pending} here, next run publishes it")
        return ", ".join(parts)

    def matches(self, status: str) -> bool:
        if status == AWAITING_SIGN_OFF:
            return self.awaiting_sign_off
        return self.row.status == status


@dataclass
class SlaRow:
    sla: reference.Sla
    ledger: list[Cell]
    kpi: list[Cell]

    @property
    def cells(self) -> list[Cell]:
        return self.ledger + self.kpi

    @property
    def overdue(self) -> int:
        return sum(c.row.status == "Overdue" for c in self.cells)


@dataclass
class Matrix:
    year: str
    release_id: str | None
    ledger_columns: list[tuple[str, str]]  # (period_key, short label)
    kpi_columns: list[tuple[str, str]]
    rows: list[SlaRow]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ledger_rows(self) -> list[tuple[reference.Sla, list[Cell], int]]:
        """(SLA, its ledger cells, how many of all its returns are overdue)."""
        return [(r.sla, r.ledger, r.overdue) for r in self.rows]

    @property
    def kpi_rows(self) -> list[tuple[reference.Sla, list[Cell], int]]:
        return [(r.sla, r.kpi, r.overdue) for r in self.rows]


def build(year: str, today: date, *, service_line: str = "", area: str = "", status: str = "") -> Matrix:
    release = Release.current(settings.HOME)
    ledger_keys = [p.key for p in ledger_periods(year, with_p13=True)]
    kpi_keys = [m.key for m in kpi_months(year)]
    published: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for r in _status_rows(release, [*ledger_keys, *kpi_keys]):
        published[r["sla_code"]][(r["return_type"], r["period_key"])] = r
    uploads: dict[str, list[Upload]] = defaultdict(list)
    for upload in (
        Upload.objects.exclude(status=UploadStatus.WITHDRAWN)
        .filter(period_key__in=[*ledger_keys, *kpi_keys])
        .select_related("uploaded_by")
    ):
        uploads[upload.sla_code].append(upload)
    answered: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for sla_code, sha, rule in DecisionRecord.objects.filter(kind="explanation").values_list(
        "sla_code", "file_sha256", "rule"
    ):
        answered[sla_code].add((sha, rule))
    in_release = _accepted(release, {u.sha256 for mine in uploads.values() for u in mine})
    waivers = current_waivers()

    has_p13 = any(("ledger", f"{year}-P13") in by_return for by_return in published.values()) or any(
        u.period_key == f"{year}-P13" for mine in uploads.values() for u in mine
    )
    ledger = [(p.key, f"P{p.period}", p.end_date) for p in ledger_periods(year, with_p13=has_p13)]
    kpi = [(m.key, f"{date(m.year, m.month, 1):%b}", m.end_date) for m in kpi_months(year)]

    rows = []
    for sla in reference.slas().values():
        if service_line and sla.service_line != service_line:
            continue
        if area and sla.area != area:
            continue
        reading = _Reading(
            today,
            published[sla.sla_code],
            uploads.get(sla.sla_code, []),
            in_release,
            answered[sla.sla_code],
            waivers,
        )
        row = SlaRow(
            sla=sla,
            ledger=reading.cells(sla.sla_code, "ledger", ledger),
            kpi=reading.cells(sla.sla_code, "kpi", kpi),
        )
        if status and not any(c.matches(status) for c in row.cells):
            continue
        rows.append(row)
    every = [c for r in rows for c in r.cells]
    return Matrix(
        year=year,
        release_id=release.release_id,
        ledger_columns=[(k, label) for k, label, _ in ledger],
        kpi_columns=[(k, label) for k, label, _ in kpi],
        rows=rows,
        counts={
            "Overdue": sum(c.row.status == "Overdue" for c in every),
            "Rejected": sum(c.row.status == "Rejected" for c in every),
            AWAITING_SIGN_OFF: sum(c.awaiting_sign_off for c in every),
        },
    )


@dataclass
class _Reading:
    """What one SLA's cells are built from, read once for the whole matrix."""

    today: date
    published: dict[tuple[str, str], dict[str, Any]]
    uploads: list[Upload]
    in_release: set[str]
    answered: set[tuple[str, str]]
    waivers: dict[tuple[str, str, str], str]

    def cells(self, sla_code: str, return_type: str, columns: list[tuple[str, str, date]]) -> list[Cell]:
        found = []
        for key, label, end in columns:
            own = [u for u in self.uploads if u.return_type == return_type and u.period_key == key]
            status_row = self.published.get((return_type, key), {})
            waiver = self.waivers.get((sla_code, return_type, key))
            pending = _waiver_pending(status_row, waiver)
            if waiver is not None:  # as the school's page does (services.return_rows)
                status_row = status_row | {"status": "WAIVED" if waiver == "waiver_granted" else "MISSING"}
            row = services.period_row(
                return_type, key, label, end, self.today, status_row, own, self.in_release, self.answered
            )
            if status_row.get("status") == "REJECTED" and row.status in ("Overdue", "Due", "Not yet due"):
                # rejected files that came through the landing zone, not this service
                row.status, row.tag = "Rejected", "red"
            found.append(Cell(sla_code, row, pending))
        return found


def _waiver_pending(status_row: dict[str, Any], waiver: str | None) -> str | None:
    """A waiver decided here that the published release does not show yet."""
    published_waived = status_row.get("status") == "WAIVED"
    if waiver == "waiver_granted" and not published_waived:
        return "granted"
    if waiver == "waiver_revoked" and published_waived:
        return "revoked"
    return None


def _status_rows(release: Release, period_keys: list[str]) -> list[dict[str, Any]]:
    """mart_return_status of the year's periods (a column the release lacks reads None)."""
    path = release.table_path(RETURN_STATUS)
    if path is None:
        return []
    import duckdb

    with duckdb.connect() as con:
        present = {r[0] for r in con.execute("select name from parquet_schema(?)", [str(path)]).fetchall()}
        selected = ", ".join(f'"{c}"' if c in present else f'null as "{c}"' for c in STATUS_COLUMNS)
        cursor = con.execute(
            f"select {selected} from read_parquet(?) where list_contains(?, period_key)",
            [str(path), period_keys],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _accepted(release: Release, shas: set[str]) -> set[str]:
    """Which of these files the published submission ledger records as accepted."""
    if not shas:
        return set()
    return release.accepted_sha256s() & shas


def filter_choices() -> dict[str, list[str]]:
    register = reference.slas().values()
    return {
        "service_lines": sorted({s.service_line for s in register}),
        "areas": sorted({s.area for s in register}),
        "statuses": [*STATUSES, AWAITING_SIGN_OFF],
    }
