from __future__ import annotations

from django.apps import AppConfig


class CountyConfig(AppConfig):
    name = "stls_portal.county"
    label = "county"
    verbose_name = "STLS county view"
    default_auto_field = "django.db.models.BigAutoField"
