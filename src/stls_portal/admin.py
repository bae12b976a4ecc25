from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from stls_portal.models import AuditEvent, DecisionRecord, Upload, User


@admin.register(User)
class PortalUserAdmin(UserAdmin):  # type: ignore[type-arg]
    fieldsets = (*UserAdmin.fieldsets, ("STLS access", {"fields": ("role", "sla_codes")}))  # type: ignore[misc]
    list_display = ("username", "email", "role", "sla_codes", "is_active")
    list_filter = ("role", "is_active")


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Upload)
class UploadAdmin(ReadOnly):
    list_display = (
        "uploaded_at",
        "sla_code",
        "return_type",
        "period_key",
        "file_name",
        "status",
        "uploaded_by",
    )
    list_filter = ("status", "sla_code", "return_type")


@admin.register(DecisionRecord)
class DecisionAdmin(ReadOnly):
    list_display = ("decided_at", "kind", "sla_code", "return_type", "period_key", "rule", "actor")
    list_filter = ("kind", "sla_code")


@admin.register(AuditEvent)
class AuditAdmin(ReadOnly):
    list_display = ("at", "actor", "actor_role", "action", "sla_code", "target", "ip_address")
    list_filter = ("action", "sla_code")
