"""Check the audit log's hash chain; exit 1 naming the first entry that breaks it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from stls_portal.county import chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain and name the first entry that breaks it."

    def handle(self, *args: Any, **options: Any) -> None:
        verdict = chain.verify()
        if not verdict.intact:
            raise CommandError(
                f"The audit log is broken at entry {verdict.first_broken} ({verdict.entries} checked): {verdict.reason}."
            )
        self.stdout.write(
            f"The audit log is intact: {verdict.entries} entries, last hash {verdict.last_hash}."
        )
