"""What the returns service does, one function per action; views call these and render.

Every rule here is the warehouse's: the verdict is `validate_return` (what `stls validate`
runs), the rejection workbook is intake's rejection report, what changed is intake's
comparison, a file reaches the pipeline through `landing.deliver`, and a decision through
`decisions.record`. This module only puts them together for one user and one request.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from stls_portal import audit
from stls_portal.models import DecisionRecord, Role, Upload, UploadStatus, User
from stls_portal.published import Release
from stls_warehouse import decisions, reference
from stls_warehouse.config import Paths, Settings
from stls_warehouse.intake import changes, feedback, landing, naming
from stls_warehouse.intake.raw_zone import RawZone
from stls_warehouse.intake.stage import outcome_record
from stls_warehouse.intake.validate import ValidationResult, validate_return
from stls_warehouse.periods import KpiMonth, LedgerPeriod, financial_year_of, kpi_months, ledger_periods

log = logging.getLogger(__name__)

DECLARATION = (
    "I declare that this return is a true and complete record of the SLA's income and "
    "expenditure (or performance) for the period, prepared from the school's accounting records."
)


class NotAllowed(Exception):
    """The user may not do this (the view answers 403)."""


class Refused(Exception):
    """The action cannot be done now; the message says why, in the user's words."""


def home_paths() -> Paths:
    return Paths(settings.HOME)


def as_of() -> date:
    text = Settings.from_env().as_of_date
    return date.fromisoformat(text) if text else timezone.localdate()


def storage(upload_id: str) -> Path:
    """The portal's own copy of an upload and its rejection report (names are never the user's)."""
    return Path(settings.PORTAL_HOME) / "uploads" / upload_id


# --- uploads -----------------------------------------------------------------------------


def receive_upload(request: HttpRequest, user: User, sla_code: str, name: str, data: bytes) -> Upload:
    """Check a file at once, keep it, and deliver it to the landing zone (an accepted file that
    would replace the current version waits for the user to confirm it)."""
    if not user.may_submit(sla_code):
        raise NotAllowed(f"{user} may not send returns for {sla_code}")
    result = validate_return(name, data)
    named_sla = result.sla_code
    if named_sla is not None and named_sla != sla_code:
        audit.record(request, "upload_refused_other_sla", sla_code=sla_code, target=name[:255])
        raise Refused(
            f"The file name says the return is for {named_sla}. You are sending returns for "
            f"{sla_code}: check the file, or rename it LEDGER_{sla_code}_... or KPI_{sla_code}_..."
        )
    upload = Upload(
        sla_code=sla_code,
        return_type=result.return_type or "",
        period_key=result.period_key or "",
        file_name=name[:255],
        size=len(data),
        sha256=result.sha256,
        line_count=result.line_count if result.accepted else 0,
        amount_total=result.amount_total,
        verdict={
            "errors": [p.as_dict() for p in result.errors],
            "warnings": [p.as_dict() for p in result.warnings],
        },
        uploaded_by=user,
    )
    folder = storage(upload.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "upload.bin").write_bytes(data)
    if not result.accepted:
        upload.status = UploadStatus.REJECTED
        feedback.write_rejection_report(
            folder, outcome_record(result, landing_path=None, mtime_ns=None), datetime.now(UTC)
        )
    else:
        previous = current_version(sla_code, upload.return_type, upload.period_key)
        if previous is not None and previous.sha256 != result.sha256:
            upload.status = UploadStatus.AWAITING_CONFIRMATION
            upload.replaces_sha256 = previous.sha256
            upload.comparison = _compare(result, previous)
        else:
            upload.status = UploadStatus.ACCEPTED
    with transaction.atomic():
        upload.save()
        if upload.status != UploadStatus.AWAITING_CONFIRMATION:
            _deliver(upload, name, data)
        audit.record(
            request,
            "upload",
            sla_code=sla_code,
            target=upload.id,
            detail={
                "file_name": name[:255],
                "sha256": upload.sha256,
                "size": upload.size,
                "verdict": upload.status,
                "errors": len(result.errors),
                "warnings": len(result.warnings),
            },
        )
    send_receipt(upload)
    return upload


def _deliver(upload: Upload, name: str, data: bytes) -> None:
    landing.deliver(home_paths().landing, name, data, upload_id=upload.id)
    upload.delivered_at = timezone.now()
    upload.save(update_fields=["delivered_at"])


def confirm_upload(request: HttpRequest, user: User, upload: Upload) -> Upload:
    """The user confirms that an accepted resubmission supersedes the current version."""
    if not user.may_submit(upload.sla_code):
        raise NotAllowed("only the school's users confirm its returns")
    if upload.status != UploadStatus.AWAITING_CONFIRMATION:
        raise Refused("This upload is not waiting for confirmation.")
    with transaction.atomic():
        upload.status = UploadStatus.ACCEPTED
        upload.decided_by = user
        upload.save(update_fields=["status", "decided_by"])
        _deliver(upload, upload.file_name, (storage(upload.id) / "upload.bin").read_bytes())
        audit.record(request, "upload_confirmed", sla_code=upload.sla_code, target=upload.id)
    return upload


def withdraw_upload(request: HttpRequest, user: User, upload: Upload) -> Upload:
    """The user keeps the current version: the new file is not sent to the pipeline."""
    if not user.may_submit(upload.sla_code):
        raise NotAllowed("only the school's users decide on its returns")
    if upload.status != UploadStatus.AWAITING_CONFIRMATION:
        raise Refused("This upload is not waiting for confirmation.")
    upload.status = UploadStatus.WITHDRAWN
    upload.decided_by = user
    upload.save(update_fields=["status", "decided_by"])
    audit.record(request, "upload_withdrawn", sla_code=upload.sla_code, target=upload.id)
    return upload


@dataclass(frozen=True)
class Version:
    """The current version of a return: the latest accepted file the pipeline has or will have."""

    sha256: str
    file_name: str
    data: bytes
    source: str  # "published" | "sent" (delivered by this service, not yet published)


def current_version(sla_code: str, return_type: str, period_key: str) -> Version | None:
    if not return_type or not period_key:
        return None
    release = Release.current(settings.HOME)
    published_sha = (
        release.return_status(sla_code).get((return_type, period_key), {}).get("current_file_sha256")
    )
    sent = (
        Upload.objects.filter(
            sla_code=sla_code,
            return_type=return_type,
            period_key=period_key,
            status=UploadStatus.ACCEPTED,
            delivered_at__isnull=False,
        )
        .order_by("-delivered_at")
        .first()
    )
    if sent is not None and (
        published_sha is None or sent.sha256 not in release.accepted_sha256s() or sent.sha256 == published_sha
    ):
        return Version(sent.sha256, sent.file_name, (storage(sent.id) / "upload.bin").read_bytes(), "sent")
    if published_sha:
        zone = RawZone(home_paths().raw)
        names = zone.names(published_sha)
        path = zone.object_path(published_sha)
        if path.exists():
            data = path.read_bytes()
            name = names[0] if names else _canonical_name(return_type, sla_code, period_key, data)
            return Version(published_sha, name, data, "published")
    return None


def _canonical_name(return_type: str, sla_code: str, period_key: str, data: bytes) -> str:
    extension = ".xlsx" if data[:2] == b"PK" else ".csv"
    if return_type == "ledger":
        from stls_warehouse.intake.template import ledger_period

        return naming.ledger_file_name(sla_code, ledger_period(period_key), extension)
    from stls_warehouse.intake.template import kpi_month

    return naming.kpi_file_name(sla_code, kpi_month(period_key), extension)


def _rows(result: ValidationResult) -> list[dict[str, Any]]:
    records: list[Any] = result.ledger_lines if result.return_type == "ledger" else result.kpi_rows
    return [asdict(r) for r in records]


def _compare(new: ValidationResult, previous: Version) -> dict[str, Any]:
    before = validate_return(previous.file_name, previous.data)
    comparison = changes.compare(
        new.return_type or "",
        _rows(before),
        _rows(new),
        sla_code=new.sla_code,
        period_key=new.period_key,
        version=0,
        file=new.file,
        file_sha256=new.sha256,
        previous_file=previous.file_name,
        previous_sha256=previous.sha256,
    )
    return comparison.as_dict() | {"previous_source": previous.source}


def send_receipt(upload: Upload) -> None:
    """E-mail the uploader the verdict (never fails the upload: a mail server may be down)."""
    address = upload.uploaded_by.email
    if not address:
        return
    verdict = {
        UploadStatus.REJECTED: "REJECTED: nothing from it will be loaded",
        UploadStatus.ACCEPTED: "ACCEPTED",
        UploadStatus.AWAITING_CONFIRMATION: "ACCEPTED, waiting for you to confirm it replaces the current version",
    }.get(UploadStatus(upload.status), upload.status)
    errors = upload.verdict.get("errors", [])
    lines = [
        f"We received {upload.file_name} for {upload.sla_code} at "
        f"{timezone.localtime(upload.uploaded_at):%d %B %Y %H:%M}.",
        f"Verdict: {verdict}.",
        f"Lines: {upload.line_count}." if upload.accepted else f"Problems to fix: {len(errors)}.",
        f"Reference: {upload.id} (SHA-256 {upload.sha256}).",
        "",
        f"See the verdict: {absolute_url(reverse('upload', args=[upload.sla_code, upload.id]))}",
    ]
    try:
        send_mail(
            f"[STLS returns] {upload.file_name}: {verdict.split(':')[0].split(',')[0]}",
            "\n".join(lines),
            None,
            [address],
        )
    except OSError as exc:
        log.warning("receipt for upload %s not sent: %s", upload.id, exc)
        return
    upload.receipt_sent_at = timezone.now()
    upload.save(update_fields=["receipt_sent_at"])


def absolute_url(path: str) -> str:
    return f"{Settings.from_env().portal_base_url}{path}"


def notify_published(home: Path | None = None) -> list[Upload]:
    """One note per accepted upload once the published release holds it (sent once)."""
    release = Release.current(home or settings.HOME)
    published = release.accepted_sha256s()
    if not published:
        return []
    sent: list[Upload] = []
    waiting = Upload.objects.filter(
        status=UploadStatus.ACCEPTED, delivered_at__isnull=False, published_note_sent_at__isnull=True
    ).select_related("uploaded_by")
    for upload in waiting:
        if upload.sha256 not in published:
            continue
        if upload.uploaded_by.email:
            send_mail(
                f"[STLS returns] {upload.file_name} is published",
                f"{upload.file_name} ({upload.sla_code} {upload.return_type} {upload.period_key}) is in the "
                f"published release {release.release_id}.\n\n"
                f"See the return: {absolute_url(reverse('return', args=[upload.sla_code, upload.return_type, upload.period_key]))}",
                None,
                [upload.uploaded_by.email],
            )
        upload.published_note_sent_at = timezone.now()
        upload.save(update_fields=["published_note_sent_at"])
        sent.append(upload)
    return sent


# --- the SLA page --------------------------------------------------------------------------


@dataclass
class ReturnRow:
    return_type: str
    period_key: str
    label: str
    due_date: date
    status: str
    tag: str  # GOV.UK tag colour modifier
    version: int | None
    sent_by: str | None
    sent_at: datetime | None
    open_queries: int
    signed_off: str | None

    @property
    def is_ledger(self) -> bool:
        return self.return_type == "ledger"


def financial_years_for(today: date) -> list[str]:
    years = set(reference.financial_years()) | {financial_year_of(today)}
    return sorted(years, reverse=True)


def return_rows(sla_code: str, financial_year: str, today: date) -> list[ReturnRow]:
    release = Release.current(settings.HOME)
    published = release.return_status(sla_code)
    uploads = list(
        Upload.objects.filter(sla_code=sla_code)
        .exclude(status=UploadStatus.WITHDRAWN)
        .select_related("uploaded_by")
    )
    in_release = release.accepted_sha256s()
    local_answers = _answered_rules(sla_code)
    waivers: dict[tuple[str, str], str] = {}
    for kind, return_type, period_key in (
        DecisionRecord.objects.filter(sla_code=sla_code, kind__in=("waiver_granted", "waiver_revoked"))
        .order_by("decided_at")
        .values_list("kind", "return_type", "period_key")
    ):
        waivers[(return_type, period_key)] = kind
    periods: list[tuple[str, str, str, date]] = []
    has_p13 = any(k == ("ledger", f"{financial_year}-P13") for k in published) or any(
        u.period_key == f"{financial_year}-P13" for u in uploads
    )
    for period in ledger_periods(financial_year, with_p13=has_p13):
        periods.append(("ledger", period.key, _ledger_label(period), period.end_date))
    for month in kpi_months(financial_year):
        periods.append(("kpi", month.key, _kpi_label(month), month.end_date))
    rows = []
    for return_type, key, label, end in periods:
        status_row = published.get((return_type, key), {})
        mine = [u for u in uploads if u.return_type == return_type and u.period_key == key]
        waiver = waivers.get((return_type, key))
        if waiver is not None:  # a waiver decided here counts before the pipeline publishes it
            status_row = status_row | {"status": "WAIVED" if waiver == "waiver_granted" else "MISSING"}
        rows.append(
            period_row(return_type, key, label, end, today, status_row, mine, in_release, local_answers)
        )
    return rows


def _ledger_label(period: LedgerPeriod) -> str:
    year, month = period.months()[-1]
    return f"P{period.period}" + (" (year end)" if period.period == 13 else f" {date(year, month, 1):%B %Y}")


def _kpi_label(month: KpiMonth) -> str:
    return f"{date(month.year, month.month, 1):%B %Y}"


def period_row(
    return_type: str,
    key: str,
    label: str,
    end: date,
    today: date,
    published: dict[str, Any],
    mine: list[Upload],
    in_release: set[str],
    local_answers: set[tuple[str, str]],
) -> ReturnRow:
    due = published.get("due_date") or reference.due_date(return_type, end)
    if isinstance(due, datetime):
        due = due.date()
    current_sha = published.get("current_file_sha256")
    latest = mine[0] if mine else None
    pending = [u for u in mine if u.status == UploadStatus.ACCEPTED and u.sha256 not in in_release]
    status_text = str(published.get("status") or "")
    if status_text == "WAIVED":
        status, tag = "Waived", "grey"
    elif (
        latest is not None
        and latest.status == UploadStatus.REJECTED
        and (not current_sha or latest.uploaded_at > _sent_at(mine, current_sha))
    ):
        status, tag = "Rejected", "red"
    elif latest is not None and latest.status == UploadStatus.AWAITING_CONFIRMATION:
        status, tag = "Received, checking", "blue"
    elif pending:
        status, tag = "Accepted", "turquoise"
    elif current_sha:
        status, tag = "Published", "green"
    elif today <= end:
        status, tag = "Not yet due", "grey"
    elif today <= due:
        status, tag = "Due", "yellow"
    else:
        status, tag = "Overdue", "red"
    version = published.get("versions_received")
    open_queries = int(published.get("open_queries") or 0)
    if current_sha and open_queries:
        answered = {rule for sha, rule in local_answers if sha == current_sha}
        open_queries = max(0, open_queries - len(answered))
    sent_by = sent_at = None
    if mine:
        shown = pending[0] if pending else next((u for u in mine if u.sha256 == current_sha), mine[0])
        sent_by, sent_at = (
            shown.uploaded_by.get_full_name() or shown.uploaded_by.get_username(),
            shown.uploaded_at,
        )
    elif published.get("received_at"):
        sent_by, sent_at = "file received", published["received_at"]
    signed = None
    if published.get("signed_off_by") and published.get("signed_off_file_sha256") == current_sha:
        signed = f"{published['signed_off_by']}"
    return ReturnRow(
        return_type=return_type,
        period_key=key,
        label=label,
        due_date=due,
        status=status,
        tag=tag,
        version=int(version) + len(pending)
        if version is not None and current_sha
        else (len(pending) or None),
        sent_by=sent_by,
        sent_at=sent_at,
        open_queries=open_queries,
        signed_off=signed,
    )


def _sent_at(mine: list[Upload], sha: str) -> datetime:
    for upload in mine:
        if upload.sha256 == sha:
            return upload.uploaded_at
    return datetime.min.replace(tzinfo=UTC)


def _answered_rules(sla_code: str) -> set[tuple[str, str]]:
    return set(
        DecisionRecord.objects.filter(sla_code=sla_code, kind="explanation").values_list(
            "file_sha256", "rule"
        )
    )


# --- queries and sign-off ------------------------------------------------------------------


@dataclass
class Query:
    rule: str
    description: str
    observed: str
    explanation: str | None
    explained_by: str | None
    explained_at: Any
    is_open: bool


@dataclass
class ReturnState:
    sla_code: str
    return_type: str
    period_key: str
    published: dict[str, Any]
    current_sha256: str | None
    queries: list[Query]
    pending_upload: Upload | None  # an accepted upload the pipeline has not published yet
    signed_off: DecisionRecord | None
    uploads: list[Upload]
    waiver: DecisionRecord | None = None  # the latest waiver decision taken here, if any

    @property
    def waived(self) -> bool:
        """Waived: by the latest decision taken here, else as published."""
        if self.waiver is not None:
            return self.waiver.kind == "waiver_granted"
        return self.published.get("status") == "WAIVED"

    @property
    def open_queries(self) -> list[Query]:
        return [q for q in self.queries if q.is_open]


def return_state(sla_code: str, return_type: str, period_key: str) -> ReturnState:
    release = Release.current(settings.HOME)
    published = release.return_status(sla_code).get((return_type, period_key), {})
    current = published.get("current_file_sha256")
    rows = [q for q in release.queries(sla_code, return_type, period_key) if q["file_sha256"] == current]
    answers = {
        d.rule: d
        for d in DecisionRecord.objects.filter(
            sla_code=sla_code,
            return_type=return_type,
            period_key=period_key,
            kind="explanation",
            file_sha256=current,
        ).order_by("decided_at")
    }
    queries = []
    for row in rows:
        local = answers.get(row["rule"])
        answered = row["query_status"] == "ANSWERED" or local is not None
        queries.append(
            Query(
                rule=row["rule"],
                description=row["description"] or "",
                observed=row["observed"] or "",
                explanation=row["explanation"] or (local.text if local else None),
                explained_by=row["explained_by"] or (local.actor.get_username() if local else None),
                explained_at=row["explained_at"] or (local.decided_at if local else None),
                is_open=not answered,
            )
        )
    uploads = list(
        Upload.objects.filter(
            sla_code=sla_code, return_type=return_type, period_key=period_key
        ).select_related("uploaded_by")
    )
    in_release = release.accepted_sha256s()
    pending = next(
        (u for u in uploads if u.status == UploadStatus.ACCEPTED and u.sha256 not in in_release), None
    )
    signed = None
    if current:
        signed = (
            DecisionRecord.objects.filter(
                sla_code=sla_code,
                return_type=return_type,
                period_key=period_key,
                kind="sign_off",
                file_sha256=current,
            )
            .select_related("actor")
            .first()
        )
    waiver = (
        DecisionRecord.objects.filter(
            sla_code=sla_code,
            return_type=return_type,
            period_key=period_key,
            kind__in=("waiver_granted", "waiver_revoked"),
        )
        .select_related("actor")
        .order_by("-decided_at")
        .first()
    )
    return ReturnState(
        sla_code, return_type, period_key, published, current, queries, pending, signed, uploads, waiver
    )


def explain(request: HttpRequest, user: User, state: ReturnState, rule: str, text: str) -> DecisionRecord:
    if not user.may_submit(state.sla_code):
        raise NotAllowed("only the school's users answer its queries")
    query = next((q for q in state.queries if q.rule == rule), None)
    if query is None or state.current_sha256 is None:
        raise Refused("This query is not on the current version of the return.")
    if not query.is_open:
        raise Refused("This query has already been answered.")
    return _decide(request, user, "explanation", state, text=text.strip(), rule=rule)


def sign_off(request: HttpRequest, user: User, state: ReturnState) -> DecisionRecord:
    if not user.may_sign_off(state.sla_code):
        raise NotAllowed("only the school's approver signs off its returns")
    if state.current_sha256 is None:
        raise Refused("There is no published version of this return to sign off yet.")
    if state.pending_upload is not None:
        raise Refused(
            "A newer version has been sent and is not published yet. Sign off once it is published "
            "and its queries are answered."
        )
    if state.open_queries:
        count = len(state.open_queries)
        raise Refused(
            f"You cannot sign off while {count} {'query is' if count == 1 else 'queries are'} not answered. "
            "Answer each query with an explanation, or send a corrected return."
        )
    if state.signed_off is not None:
        raise Refused("This version of the return is already signed off.")
    return _decide(request, user, "sign_off", state, text=DECLARATION)


def grant_waiver(request: HttpRequest, user: User, state: ReturnState, reason: str) -> DecisionRecord:
    """County finance records that a return will not come (the SLA was closed, a period merged)."""
    if not user.may_waive():
        raise NotAllowed("only county finance waives a return")
    if state.waived:
        raise Refused("This return is already waived.")
    return _decide(request, user, "waiver_granted", state, text=reason.strip(), of_version=False)


def revoke_waiver(request: HttpRequest, user: User, state: ReturnState, reason: str) -> DecisionRecord:
    if not user.may_waive():
        raise NotAllowed("only county finance revokes a waiver")
    if not state.waived:
        raise Refused("This return is not waived.")
    return _decide(request, user, "waiver_revoked", state, text=reason.strip(), of_version=False)


def _decide(
    request: HttpRequest,
    user: User,
    kind: str,
    state: ReturnState,
    *,
    text: str,
    rule: str | None = None,
    of_version: bool = True,
) -> DecisionRecord:
    """Record one decision: the JSON file the pipeline loads, the portal's copy, the audit row.
    An explanation or sign-off names the current version; a waiver names none (`of_version`)."""
    sha = state.current_sha256 if of_version else None
    decision = decisions.Decision(
        kind=kind,  # type: ignore[arg-type]
        sla_code=state.sla_code,
        return_type=state.return_type,
        period_key=state.period_key,
        actor=user.get_username(),
        actor_role=user.role,
        text=text,
        file_sha256=sha,
        rule=rule,
    )
    with transaction.atomic():
        path = decisions.record(home_paths().decisions, decision)
        record = DecisionRecord.objects.create(
            decision_id=decision.decision_id,
            kind=kind,
            sla_code=state.sla_code,
            return_type=state.return_type,
            period_key=state.period_key,
            file_sha256=sha or "",
            rule=rule or "",
            text=text,
            actor=user,
            actor_role=user.role,
            decided_at=decision.decided_at,
            path=str(path),
        )
        audit.record(
            request,
            kind,
            sla_code=state.sla_code,
            target=f"{state.return_type} {state.period_key}",
            detail={"decision_id": decision.decision_id, "file_sha256": sha, "rule": rule},
        )
    return record


def role_label(role: str) -> str:
    return Role(role).label if role in Role.values else role


def parse_money(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None
