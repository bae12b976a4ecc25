"""Send each uploader one note when the published release holds their accepted return.

Run after each publication (the pipeline's cron, or by hand); a note is sent once per
upload, so running it often is safe."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from stls_portal.services import notify_published


class Command(BaseCommand):
    help = "E-mail a note for every accepted upload that is now published (once each)."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = notify_published()
        self.stdout.write(f"{len(sent)} publication note(s) sent")
