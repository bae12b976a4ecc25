"""Export a financial year's audit log and its check for the evidence pack."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from stls_portal.county import chain


class Command(BaseCommand):
    help = (
        "Write $STLS_HOME/audit/audit_log_<year>.jsonl (every event of the financial year, in "
        "order, with its hashes) and audit_log_<year>.check.json (the check of it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", required=True, help="the financial year, e.g. 2021-22")

    def handle(self, *args: Any, **options: Any) -> None:
        year = options["year"]
        if not re.fullmatch(r"\d{4}-\d{2}", year) or int(year[5:]) != (int(year[:4]) + 1) % 100:
            raise CommandError(f"--year {year}: give a financial year such as 2021-22")
        log, check, verdict = chain.export_year(settings.HOME, year)
        self.stdout.write(f"{log} ({verdict.entries} entries)\n{check}")
        if not verdict.intact:
            raise CommandError(f"The {year} log is broken at entry {verdict.first_broken}: {verdict.reason}.")
