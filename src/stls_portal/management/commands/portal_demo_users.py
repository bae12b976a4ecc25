"""Create the demo set of accounts: one submitter and one approver per SLA, county finance,
an auditor and an administrator, each with a generated password printed once (only its
Argon2 hash is stored). Running it again leaves existing accounts alone unless --reset."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from stls_portal.models import Role, User
from stls_warehouse import reference


def demo_accounts() -> list[tuple[str, str, list[str], str]]:
    """(username, role, SLA codes, full name) of every demo account."""
    accounts: list[tuple[str, str, list[str], str]] = []
    for code, sla in reference.slas().items():
        lower = code.lower()
        accounts.append(
            (f"{lower}.submitter", str(Role.SUBMITTER), [code], f"{sla.holder_school} business manager")
        )
        accounts.append((f"{lower}.approver", str(Role.APPROVER), [code], f"{sla.holder_school} headteacher"))
    accounts.append(("finance", str(Role.FINANCE), [], "County finance officer"))
    accounts.append(("auditor", str(Role.AUDITOR), [], "Internal auditor"))
    accounts.append(("admin", str(Role.ADMINISTRATOR), [], "Service administrator"))
    return accounts


class Command(BaseCommand):
    help = "Create the demo accounts and print their generated passwords once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", action="store_true", help="give existing demo accounts new passwords")
        parser.add_argument("--domain", default="example.org", help="e-mail domain of the demo accounts")

    def handle(self, *args: Any, **options: Any) -> None:
        created: list[tuple[str, str, str, str]] = []
        for username, role, slas, name in demo_accounts():
            user = User.objects.filter(username=username).first()
            if user is not None and not options["reset"]:
                continue
            password = secrets.token_urlsafe(12)
            if user is None:
                first, _, last = name.partition(" ")
                user = User(username=username, first_name=first[:150], last_name=last[:150])
            user.role = role
            user.sla_codes = slas
            user.email = f"{username}@{options['domain']}"
            user.is_staff = user.is_superuser = role == Role.ADMINISTRATOR
            user.set_password(password)
            user.save()
            created.append((username, role, ",".join(slas), password))
        if not created:
            self.stdout.write("The demo accounts exist already (--reset gives them new passwords).")
            return
        self.stdout.write("Demo accounts (the passwords are shown this once; only their hashes are kept):")
        for username, role, codes, password in created:
            self.stdout.write(f"  {username:<18} {password}  {role}{f' {codes}' if codes else ''}")
