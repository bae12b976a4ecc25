"""`stls-portal`: Django's management commands with the portal's settings (runserver,
migrate, portal_demo_users, portal_notify_published, ...)."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stls_portal.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["stls-portal", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
