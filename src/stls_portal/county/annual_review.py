"""The annual review produced on request, for a complete financial year.

County finance asks for it on the reports page; the review is the pipeline's own
(`stls_warehouse.reports.annual.write_annual_report`, as `stls report annual` writes it),
built from the current published release in a background process so the request returns at
once. The job's state is one small file per year, `$STLS_HOME/reports/annual/.requests/<year>.json`
(producing, done or failed, who asked and when, the release it read or the error), written
atomically by the page and by the job; its output goes to `<year>.log` beside it. The request
is audited. A year that is not complete (every expected return accepted or waived in the
release) is refused with the completeness check's own explanation.

Run as a module (`python -m stls_portal.county.annual_review HOME YEAR`) it is the job itself,
and needs neither Django nor the service's database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stls_warehouse.config import Paths
from stls_warehouse.files import write_atomically

PRODUCING, DONE, FAILED = "producing", "done", "failed"
# A job still "producing" after this long, or whose process is gone, has stopped.
STALLED_AFTER = timedelta(hours=1)
NOT_STARTED_AFTER = timedelta(minutes=5)
_children: list[subprocess.Popen[bytes]] = []  # reaped as pages are read


def jobs_folder(home: Paths) -> Path:
    return home.reports / "annual" / ".requests"


@dataclass(frozen=True)
class Job:
    year: str
    state: str
    requested_by: str
    requested_at: datetime
    finished_at: datetime | None = None
    release_id: str | None = None
    error: str | None = None
    pid: int | None = None

    @property
    def producing(self) -> bool:
        return self.state == PRODUCING


def read_job(home: Paths, year: str) -> Job | None:
    path = jobs_folder(home) / f"{year}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    job = Job(
        year=data["year"],
        state=data["state"],
        requested_by=data.get("requested_by", ""),
        requested_at=datetime.fromisoformat(data["requested_at"]),
        finished_at=datetime.fromisoformat(data["finished_at"]) if data.get("finished_at") else None,
        release_id=data.get("release_id"),
        error=data.get("error"),
        pid=data.get("pid"),
    )
    if job.producing and _stopped(job):
        return Job(**{**job.__dict__, "state": FAILED, "error": "The job stopped before it finished."})
    return job


def _write_job(home: Paths, job: Job) -> None:
    data = {
        k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in job.__dict__.items() if v is not None
    }
    write_atomically(jobs_folder(home) / f"{job.year}.json", json.dumps(data, indent=2).encode() + b"\n")


def _stopped(job: Job) -> bool:
    for child in _children[:]:
        if child.poll() is not None:
            _children.remove(child)
    if datetime.now(UTC) - job.requested_at > STALLED_AFTER:
        return True
    if job.pid is None:  # asked for, the process has not said it started
        return datetime.now(UTC) - job.requested_at > NOT_STARTED_AFTER
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# --- the job ---------------------------------------------------------------------------------


def produce(home: Paths, year: str) -> Job:
    """Write the review and record the outcome in the job file (the background process)."""
    from stls_warehouse.reports.annual import write_annual_report

    asked = read_job(home, year)
    job = Job(
        year,
        PRODUCING,
        asked.requested_by if asked else "",
        asked.requested_at if asked else datetime.now(UTC),
        pid=os.getpid(),
    )
    _write_job(home, job)  # the page now follows this process
    try:
        result = write_annual_report(home, year)
    except Exception as exc:  # recorded for the page; the process exits non-zero
        _write_job(
            home,
            Job(**{**job.__dict__, "state": FAILED, "finished_at": datetime.now(UTC), "error": str(exc)}),
        )
        raise
    done = Job(
        **{
            **job.__dict__,
            "state": DONE,
            "finished_at": datetime.now(UTC),
            "release_id": result["release_id"],
        }
    )
    _write_job(home, done)
    return done


# --- for the page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class YearReview:
    year: str
    complete: bool
    explain: str
    files: tuple[str, ...]  # the review's files present (html, pdf)
    job: Job | None


def years(home: Paths) -> list[YearReview]:
    """Each financial year of the current release: complete or not, its review, its job."""
    from stls_warehouse.quality.completeness import year_completeness
    from stls_warehouse.reports.source import NothingPublished, PublishedRelease

    try:
        release = PublishedRelease(home)
    except NothingPublished:
        return []
    with release:
        needed = {"financial_year", "is_expected", "is_waived", "status", "status_as_of"}
        if (
            not release.has("mart_return_status")
            or not release.has("mart_service_line_budget_outturn")
            or not needed <= set(release.columns("mart_return_status"))
        ):
            return []  # a release older than the completeness check: no year can be asked for
        listed = [
            str(row[0])
            for row in release.con.execute(
                "select distinct financial_year from mart_return_status "
                "where financial_year is not null order by 1 desc"
            ).fetchall()
        ]
        statuses = {year: year_completeness(release.con, year) for year in listed}
    folder = home.reports / "annual"
    return [
        YearReview(
            year=year,
            complete=status.is_complete,
            explain=status.explain(),
            files=tuple(
                name
                for name in (f"annual_review_{year}.html", f"annual_review_{year}.pdf")
                if (folder / name).is_file()
            ),
            job=read_job(home, year),
        )
        for year, status in statuses.items()
    ]


def request(http_request: Any, user: Any, year: str) -> Job:
    """Start producing the year's review in the background; refuse an incomplete year."""
    from django.conf import settings

    from stls_portal import audit
    from stls_portal.county.waivers import may_act
    from stls_portal.services import NotAllowed, Refused

    if not may_act(user):
        raise NotAllowed("only county finance asks for the annual review")
    home = Paths(settings.HOME)
    found = {y.year: y for y in years(home)}
    review = found.get(year)
    if review is None:
        raise Refused(f"The published release has no returns for {year}: choose a year it holds.")
    if not review.complete:
        raise Refused(
            f"The annual review is produced only for a complete year, and {review.explain}. "
            "Every expected return must be accepted or waived first."
        )
    if review.job is not None and review.job.producing:
        raise Refused(
            f"The annual review for {year} is being produced already: refresh this page in a minute."
        )
    # written before the process starts, which then adds its pid and its outcome: the page
    # never writes the file after the process might have
    job = Job(year, PRODUCING, user.get_username(), datetime.now(UTC))
    _write_job(home, job)
    folder = jobs_folder(home)
    try:
        with (folder / f"{year}.log").open("ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "stls_portal.county.annual_review", str(home.home), year],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "STLS_HOME": str(home.home)},
                start_new_session=True,
            )
    except OSError as exc:
        _write_job(home, Job(**{**job.__dict__, "state": FAILED, "error": f"could not start: {exc}"}))
        raise Refused(f"The annual review for {year} could not be started: {exc}.") from exc
    _children.append(child)
    audit.record(
        http_request,
        "annual_review_requested",
        target=year,
        detail={"regenerate": bool(review.files), "pid": child.pid},
    )
    return job


def main(argv: list[str]) -> int:
    home, year = Paths(Path(argv[0])), argv[1]
    try:
        job = produce(home, year)
    except Exception as exc:
        print(f"annual review {year} failed: {exc}", file=sys.stderr)
        return 1
    print(f"annual review {year} written from release {job.release_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
