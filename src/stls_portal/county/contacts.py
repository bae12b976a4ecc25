"""The schools' contacts, published for the pipeline.

An SLA's contacts are the active users with a school role for it (submitters and approvers)
that have an e-mail address: the people who send its returns. County finance's chase
(`reminders`) writes to them from here, and the monthly close writes to the same people from
the file this module publishes (`stls_warehouse.contacts`): the pipeline never reads the
service's database. The file is rewritten after every committed change to a user (signals in
`apps.py`) and by `stls-portal portal_publish_contacts` (after a change to the SLA register).
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from stls_portal.models import SCHOOL_ROLES, User
from stls_warehouse import reference
from stls_warehouse.config import Paths
from stls_warehouse.contacts import Contact, write_contacts

log = logging.getLogger(__name__)


def by_sla() -> dict[str, list[Contact]]:
    """Every SLA of the register, with its contacts (an empty list when it has none)."""
    found: dict[str, set[Contact]] = {code: set() for code in reference.slas()}
    users = User.objects.filter(is_active=True, role__in=list(SCHOOL_ROLES)).exclude(email="")
    for user in users.order_by("username"):
        contact = Contact(email=user.email.strip(), name=user.get_full_name() or user.get_username())
        for code in user.sla_codes or []:
            if code in found:
                found[code].add(contact)
    return {code: sorted(people) for code, people in found.items()}


def of(sla_code: str) -> list[Contact]:
    return by_sla().get(sla_code, [])


def publish(home: Path | None = None) -> Path:
    """Write `$STLS_HOME/contacts/sla_contacts.json` (atomically) from the users as they are."""
    return write_contacts(Paths(home or settings.HOME), by_sla())


def publish_after_change() -> None:
    """For the signals: a file that cannot be written is logged, never undoes the user change
    (`portal_publish_contacts` writes it again)."""
    try:
        path = publish()
    except OSError:
        log.exception("the contacts file could not be written; run portal_publish_contacts")
    else:
        log.info("contacts published to %s", path)
