from __future__ import annotations

from django.contrib import admin

from stls_portal.admin import ReadOnly
from stls_portal.county.models import AuditSeal, Reminder, WaiverEvent


@admin.register(WaiverEvent)
class WaiverEventAdmin(ReadOnly):
    list_display = (
        "recorded_at",
        "action",
        "sla_code",
        "return_type",
        "period_key",
        "approved_by",
        "recorded_by",
    )
    list_filter = ("action", "sla_code", "source")


@admin.register(Reminder)
class ReminderAdmin(ReadOnly):
    list_display = ("sent_at", "sla_code", "sent_by")
    list_filter = ("sla_code",)


@admin.register(AuditSeal)
class AuditSealAdmin(ReadOnly):
    list_display = ("position", "event", "hash")
