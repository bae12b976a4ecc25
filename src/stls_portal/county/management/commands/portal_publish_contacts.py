"""Write the schools' contacts for the pipeline (`$STLS_HOME/contacts/sla_contacts.json`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from stls_portal.county import contacts


class Command(BaseCommand):
    help = "Publish each SLA's contacts (its active school users with an e-mail) for the monthly close."

    def handle(self, *args: Any, **options: Any) -> None:
        found = contacts.by_sla()
        path = contacts.publish()
        reached = sum(1 for people in found.values() if people)
        self.stdout.write(f"{path}: {reached} of {len(found)} SLAs have a contact.")
