from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class CountyConfig(AppConfig):
    name = "stls_portal.county"
    label = "county"
    verbose_name = "STLS county view"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from stls_portal.county import chain
        from stls_portal.models import AuditEvent

        def sealed(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
            if created and not raw:
                chain.seal(instance)

        post_save.connect(sealed, sender=AuditEvent, weak=False, dispatch_uid="stls_county_audit_seal")
