"""Waivers: county finance grants one for a return that will not come, or revokes it.

Each grant or revocation is an append-only `WaiverEvent` and a decision handed to the
pipeline (`stls_warehouse.decisions.record`, kinds waiver_granted / waiver_revoked), which
loads it so that completeness, the warehouse gate and `mart_return_status` (WAIVED, with the
reason, who and when) use it. The portal keeps its own copy in `DecisionRecord` too, like
every other decision it takes.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from stls_portal import audit
from stls_portal.county.models import WaiverAction, WaiverEvent
from stls_portal.models import DecisionRecord, Role, User
from stls_portal.services import NotAllowed, Refused, home_paths
from stls_warehouse import decisions, reference

ACTING_ROLES = frozenset({Role.FINANCE, Role.ADMINISTRATOR})
_PERIOD_KEYS = {
    "ledger": re.compile(r"^\d{4}-\d{2}-P(0[1-9]|1[0-3])$"),
    "kpi": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
}


def may_act(user: Any) -> bool:
    """County finance and administrators change things; auditors only read."""
    return bool(getattr(user, "is_authenticated", False) and user.role in ACTING_ROLES)


def current_waivers() -> dict[tuple[str, str, str], WaiverEvent]:
    """The latest waiver event of every return that has one (granted or revoked)."""
    latest: dict[tuple[str, str, str], WaiverEvent] = {}
    for event in WaiverEvent.objects.order_by("recorded_at", "id"):
        latest[(event.sla_code, event.return_type, event.period_key)] = event
    return latest


def history(sla_code: str, return_type: str, period_key: str) -> list[WaiverEvent]:
    return list(
        WaiverEvent.objects.filter(sla_code=sla_code, return_type=return_type, period_key=period_key)
        .select_related("recorded_by")
        .order_by("-recorded_at", "-id")
    )


def check_return(sla_code: str, return_type: str, period_key: str) -> None:
    if sla_code not in reference.slas():
        raise Refused(f"{sla_code} is not an SLA of the register")
    pattern = _PERIOD_KEYS.get(return_type)
    if pattern is None or not pattern.match(period_key):
        raise Refused(f"{return_type} {period_key} is not a return period")


def grant(
    request: HttpRequest | None,
    user: User,
    sla_code: str,
    return_type: str,
    period_key: str,
    *,
    reason: str,
    approved_by: str,
    approved_on: date,
) -> WaiverEvent:
    return _decide(
        request,
        user,
        "waiver_granted",
        sla_code,
        return_type,
        period_key,
        reason,
        approved_by,
        approved_on,
    )


def revoke(
    request: HttpRequest | None,
    user: User,
    sla_code: str,
    return_type: str,
    period_key: str,
    *,
    reason: str,
    approved_by: str,
    approved_on: date,
) -> WaiverEvent:
    return _decide(
        request,
        user,
        "waiver_revoked",
        sla_code,
        return_type,
        period_key,
        reason,
        approved_by,
        approved_on,
    )


def _decide(
    request: HttpRequest | None,
    user: User,
    action: str,
    sla_code: str,
    return_type: str,
    period_key: str,
    reason: str,
    approved_by: str,
    approved_on: date,
) -> WaiverEvent:
    if not may_act(user):
        raise NotAllowed("only county finance grants and revokes waivers")
    check_return(sla_code, return_type, period_key)
    if not reason.strip():
        raise Refused("Enter the reason for the waiver")
    with transaction.atomic():
        latest = (
            WaiverEvent.objects.select_for_update()
            .filter(sla_code=sla_code, return_type=return_type, period_key=period_key)
            .order_by("-recorded_at", "-id")
            .first()
        )
        waived = latest is not None and latest.action == WaiverAction.GRANTED
        if action == WaiverAction.GRANTED and waived:
            raise Refused("This return is already waived. Revoke the waiver first to change it.")
        if action == WaiverAction.REVOKED and not waived:
            raise Refused("This return has no waiver to revoke.")
        decision = decisions.Decision(
            kind=action,  # type: ignore[arg-type]
            sla_code=sla_code,
            return_type=return_type,
            period_key=period_key,
            actor=user.get_username(),
            actor_role=user.role,
            text=reason.strip(),
            decided_at=datetime.now(UTC),
        )
        event = WaiverEvent.objects.create(
            action=action,
            sla_code=sla_code,
            return_type=return_type,
            period_key=period_key,
            reason=reason.strip(),
            approved_by=approved_by.strip() or user.get_full_name() or user.get_username(),
            approved_on=approved_on,
            recorded_by=user,
            decision_id=decision.decision_id,
        )
        path = decisions.record(home_paths().decisions, decision)
        DecisionRecord.objects.create(
            decision_id=decision.decision_id,
            kind=action,
            sla_code=sla_code,
            return_type=return_type,
            period_key=period_key,
            text=decision.text,
            actor=user,
            actor_role=user.role,
            decided_at=decision.decided_at,
            path=str(path),
        )
        audit.record(
            request,
            action,
            actor=user,
            sla_code=sla_code,
            target=f"{return_type} {period_key}",
            detail={
                "reason": event.reason,
                "approved_by": event.approved_by,
                "approved_on": approved_on.isoformat(),
                "decision_id": decision.decision_id,
            },
        )
    return event
