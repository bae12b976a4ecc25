"""Chasing a school: county finance e-mails the SLA's contacts about its overdue returns.

The contacts are the school's own users of this service (submitters and approvers of the SLA
with an e-mail address): the people who send its returns, and the people the monthly close's
overdue e-mails reach (`county.contacts` publishes them for the pipeline). Each reminder is recorded with who
sent it, when, to whom and about which returns, and audited.
"""

from __future__ import annotations

from datetime import date

from django.core.mail import send_mail
from django.http import HttpRequest
from django.urls import reverse

from stls_portal import audit
from stls_portal.county import contacts as county_contacts
from stls_portal.county import matrix
from stls_portal.county.models import Reminder
from stls_portal.county.waivers import may_act
from stls_portal.models import User
from stls_portal.services import NotAllowed, Refused, absolute_url
from stls_warehouse import reference


def contacts(sla_code: str) -> list[str]:
    """The SLA's contacts' addresses: the people the monthly close mails too (`county.contacts`)."""
    return sorted({c.email for c in county_contacts.of(sla_code)})


def overdue(sla_code: str, year: str, today: date) -> list[matrix.Cell]:
    sla = reference.slas()[sla_code]
    grid = matrix.build(year, today, service_line=sla.service_line, area=sla.area)
    row = next(r for r in grid.rows if r.sla.sla_code == sla_code)
    return [c for c in row.cells if c.row.status == "Overdue"]


def send(request: HttpRequest, user: User, sla_code: str, year: str, today: date) -> Reminder:
    if not may_act(user):
        raise NotAllowed("only county finance sends reminders")
    late = overdue(sla_code, year, today)
    if not late:
        raise Refused(f"{sla_code} has no overdue return in {year}.")
    to = contacts(sla_code)
    if not to:
        raise Refused(f"{sla_code} has no contact with an e-mail address: add one to its users first.")
    sla = reference.slas()[sla_code]
    named = [f"{c.row.return_type} {c.row.period_key}" for c in late]
    lines = "\n".join(
        f"- {'Ledger' if c.row.return_type == 'ledger' else 'KPI'} return {c.row.period_key}, due {c.row.due_date:%d %B %Y}"
        for c in late
    )
    send_mail(
        f"[STLS returns] {sla.sla_name}: {len(late)} overdue return{'s' if len(late) != 1 else ''}",
        f"Dear colleague,\n\nThese returns of {sla.sla_name} ({sla_code}) have not reached us and are past "
        f"their due date:\n\n{lines}\n\nPlease send them through the returns service: "
        f"{absolute_url(reverse('sla', args=[sla_code]))}\n\nIf a return will not come, reply to tell us why.\n\n"
        f"{user.get_full_name() or user.get_username()}, STLS finance, Kent County Council",
        None,
        to,
    )
    reminder = Reminder.objects.create(sla_code=sla_code, returns=named, recipients=to, sent_by=user)
    audit.record(
        request,
        "reminder_sent",
        sla_code=sla_code,
        target=f"{len(named)} overdue",
        detail={"returns": named, "to": to},
    )
    return reminder
