"""Django's admin: administrators manage the users, their role and their SLAs here; the rest
is read only. Every change is audited (the admin's LogEntry, sealed into the audit log by
`county.apps`, and the access a change gave or took away, before and after)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest

from stls_portal import audit
from stls_portal.models import SCHOOL_ROLES, AuditEvent, DecisionRecord, Role, Upload, User

# What a user may do follows from these; the admin records them before and after a change.
ACCESS_FIELDS = ("role", "sla_codes", "is_active", "is_staff", "is_superuser")


def _sla_choices() -> list[tuple[str, str]]:
    from stls_warehouse import reference

    return [(code, f"{sla.sla_name} ({code})") for code, sla in sorted(reference.slas().items())]


class AccessForm(forms.ModelForm):  # type: ignore[type-arg]
    """A user's SLAs are ticked from the register (never typed as JSON); a school user needs at
    least one, and a county user has none (they see every SLA by their role)."""

    sla_codes = forms.MultipleChoiceField(
        label="SLAs",
        choices=_sla_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The SLAs a school submitter or approver sends and signs off returns for.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        role, codes = cleaned.get("role"), cleaned.get("sla_codes") or []
        if role in SCHOOL_ROLES and not codes:
            self.add_error("sla_codes", "Tick the SLAs this school user acts for.")
        elif role is not None and role not in SCHOOL_ROLES:
            cleaned["sla_codes"] = []
        return cleaned


class PortalUserChangeForm(AccessForm, UserChangeForm):  # type: ignore[type-arg]
    pass


class PortalUserCreationForm(AccessForm, AdminUserCreationForm):
    pass


def _access(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in ACCESS_FIELDS}


@admin.register(User)
class PortalUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Roles are the one permission mechanism: an administrator is Django staff and superuser,
    nobody else is (as for OIDC sign-ins and the demo accounts), so groups and per-user
    permissions are not offered."""

    form = PortalUserChangeForm
    add_form = PortalUserCreationForm
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("STLS access", {"fields": ("role", "sla_codes", "is_active")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("STLS access", {"fields": ("role", "sla_codes")}),
    )
    readonly_fields = ("last_login", "date_joined")
    list_display = ("username", "email", "role", "sla_codes", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("username", "first_name", "last_name", "email")

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        before = _access(User.objects.get(pk=obj.pk)) if change else {}
        if not change or "role" in form.changed_data:
            obj.is_staff = obj.is_superuser = obj.role == Role.ADMINISTRATOR
        super().save_model(request, obj, form, change)
        after = _access(obj)
        changed = {
            name: [before.get(name), after[name]] for name in ACCESS_FIELDS if before.get(name) != after[name]
        }
        if changed:
            audit.record(
                request,
                "user_access_changed" if change else "user_created",
                sla_code=obj.sla_codes[0] if len(obj.sla_codes) == 1 else "",
                target=f"user {obj.get_username()}",
                detail={"changed": changed},
            )

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        """One LogEntry saved per user (Django bulk-creates them for several, which sends no
        signal): each deletion reaches the audit log."""
        entries: list[LogEntry] = []
        for obj in queryset:
            logged = super().log_deletions(request, self.model.objects.filter(pk=obj.pk))
            entries.extend(logged if isinstance(logged, list) else [logged])
        return entries


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
