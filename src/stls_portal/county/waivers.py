"""Waivers: county finance grants one for a return that will not come, or revokes it.

Each grant or revocation is an append-only `WaiverEvent` and a decision handed to the
pipeline (`stls_warehouse.decisions.record`, kinds waiver_granted / waiver_revoked), which
loads it so that completeness, the warehouse gate and `mart_return_status` (WAIVED, with the
reason, who and when) use it. The decision itself is the returns service's (`services.grant_waiver`,
`services.revoke_waiver`); `WaiverEvent` adds who approved it and on what date.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from stls_portal import audit, services
from stls_portal.county.models import WaiverAction, WaiverEvent
from stls_portal.models import DecisionRecord, Role, User
from stls_portal.services import NotAllowed, Refused
from stls_warehouse import reference

ACTING_ROLES = frozenset({Role.FINANCE, Role.ADMINISTRATOR})
_PERIOD_KEYS = {
    "ledger": re.compile(r"^\d{4}-\d{2}-P(0[1-9]|1[0-3])$"),
    "kpi": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
}


def may_act(user: Any) -> bool:
    """County finance and administrators change things; auditors only read."""
    return bool(getattr(user, "is_authenticated", False) and user.role in ACTING_ROLES)


def current_waivers() -> dict[tuple[str, str, str], str]:
    """The latest waiver decision taken in this service for every return that has one:
    waiver_granted or waiver_revoked (DecisionRecord, as the school's pages read it)."""
    latest: dict[tuple[str, str, str], str] = {}
    for kind, sla_code, return_type, period_key in (
        DecisionRecord.objects.filter(kind__in=("waiver_granted", "waiver_revoked"))
        .order_by("decided_at")
        .values_list("kind", "sla_code", "return_type", "period_key")
    ):
        latest[(sla_code, return_type, period_key)] = kind
    return latest


def in_force() -> list[dict[str, Any]]:
    """Every waiver in force by this service's decisions or moved from the seed, with its
    reason and approval (the latest WaiverEvent of the return, when there is one)."""
    decided = current_waivers()
    events: dict[tuple[str, str, str], WaiverEvent] = {}
    for event in WaiverEvent.objects.select_related("recorded_by").order_by("recorded_at", "id"):
        events[(event.sla_code, event.return_type, event.period_key)] = event
    keys = {k for k, kind in decided.items() if kind == "waiver_granted"}
    keys |= {k for k, e in events.items() if e.source == "seed" and k not in decided}
    texts = {
        (r.sla_code, r.return_type, r.period_key): r
        for r in DecisionRecord.objects.filter(kind="waiver_granted")
        .select_related("actor")
        .order_by("decided_at")
    }
    found = []
    for key in sorted(keys):
        event, record = events.get(key), texts.get(key)
        found.append(
            {
                "sla_code": key[0],
                "return_type": key[1],
                "period_key": key[2],
                "reason": record.text if record else (event.reason if event else ""),
                "approved_by": event.approved_by if event else "",
                "approved_on": event.approved_on if event else None,
                "recorded_at": record.decided_at if record else (event.recorded_at if event else None),
                "recorded_by": record.actor.get_username() if record else (event.source if event else ""),
            }
        )
    return found


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


def decide(
    request: HttpRequest | None,
    user: User,
    action: str,
    sla_code: str,
    return_type: str,
    period_key: str,
    *,
    reason: str,
    approved_by: str,
    approved_on: date,
) -> WaiverEvent:
    """Grant (WaiverAction.GRANTED) or revoke (REVOKED) the waiver of one return. The decision is the returns service's own (`services.grant_waiver` / `revoke_waiver`:
    the decision file, the portal's DecisionRecord, the audit row); this adds who approved it
    and when, append-only, linked by the decision's id."""
    if not may_act(user):
        raise NotAllowed("only county finance grants and revokes waivers")
    check_return(sla_code, return_type, period_key)
    if not reason.strip():
        raise Refused("Enter the reason the return will not come")
    with transaction.atomic():
        state = services.return_state(sla_code, return_type, period_key)
        decide = services.grant_waiver if action == WaiverAction.GRANTED else services.revoke_waiver
        if request is None:
            raise Refused("a waiver is decided in a request")
        record = decide(request, user, state, reason)
        event = WaiverEvent.objects.create(
            action=action,
            sla_code=sla_code,
            return_type=return_type,
            period_key=period_key,
            reason=record.text,
            approved_by=approved_by.strip() or user.get_full_name() or user.get_username(),
            approved_on=approved_on,
            recorded_by=user,
            decision_id=record.decision_id,
        )
        audit.record(
            request,
            "waiver_approval",
            actor=user,
            sla_code=sla_code,
            target=f"{return_type} {period_key}",
            detail={
                "decision_id": record.decision_id,
                "approved_by": event.approved_by,
                "approved_on": approved_on.isoformat(),
            },
        )
    return event
