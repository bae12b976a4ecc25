from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "stls_portal"
    label = "stls_portal"
    verbose_name = "STLS returns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from stls_portal import audit

        audit.connect_signals()
