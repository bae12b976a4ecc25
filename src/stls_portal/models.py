"""Who may do what (users with a role and their SLAs), what they sent, what they decided, and
the append-only audit log of every action."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import QuerySet


def new_id() -> str:
    """32 hex digits: the upload's id, also its folder in landing/uploads/."""
    return uuid.uuid4().hex


class Role(models.TextChoices):
    SUBMITTER = "school_submitter", "School submitter"
    APPROVER = "school_approver", "School approver"
    FINANCE = "county_finance", "County finance"
    AUDITOR = "auditor", "Auditor"
    ADMINISTRATOR = "administrator", "Administrator"


SCHOOL_ROLES = frozenset({Role.SUBMITTER, Role.APPROVER})
COUNTY_ROLES = frozenset({Role.FINANCE, Role.AUDITOR, Role.ADMINISTRATOR})


class User(AbstractUser):
    """A person: one role, and for a school role the SLAs they act for."""

    role = models.CharField(max_length=32, choices=Role.choices, default=Role.SUBMITTER)
    sla_codes = models.JSONField(
        default=list, blank=True, help_text='The SLA codes a school user acts for, e.g. ["SWA"].'
    )

    def visible_slas(self) -> list[str]:
        """The SLAs whose returns this user may see: their own, or all for county roles."""
        from stls_warehouse import reference

        if self.role in COUNTY_ROLES or self.is_superuser:
            return list(reference.slas())
        return [code for code in self.sla_codes if code in reference.slas()]

    def may_submit(self, sla_code: str) -> bool:
        return self.role in SCHOOL_ROLES and sla_code in self.sla_codes

    def may_sign_off(self, sla_code: str) -> bool:
        return self.role == Role.APPROVER and sla_code in self.sla_codes

    def may_waive(self) -> bool:
        """County finance (and administrators) decide that a return will not come."""
        return self.role in (Role.FINANCE, Role.ADMINISTRATOR)


class ScopedQuerySet(QuerySet[Any]):
    def visible_to(self, user: User) -> ScopedQuerySet:
        """The one permission filter: rows of the SLAs the user may see."""
        return self.filter(sla_code__in=user.visible_slas())


class UploadStatus(models.TextChoices):
    REJECTED = "REJECTED", "Rejected"
    ACCEPTED = "ACCEPTED", "Accepted"
    AWAITING_CONFIRMATION = "AWAITING_CONFIRMATION", "Waiting for you to confirm"
    WITHDRAWN = "WITHDRAWN", "Not sent (you chose to keep the current version)"


class Upload(models.Model):
    """One file a user sent, its verdict, and whether it went to the landing zone."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    sla_code = models.CharField(max_length=16, db_index=True)
    return_type = models.CharField(max_length=8, blank=True)
    period_key = models.CharField(max_length=16, blank=True)
    file_name = models.CharField(max_length=255, help_text="As the user named it: data only.")
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=32, choices=UploadStatus.choices)
    line_count = models.IntegerField(default=0)
    amount_total = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    verdict = models.JSONField(default=dict, help_text="errors and warnings as the validator gave them")
    comparison = models.JSONField(null=True, blank=True, help_text="what changed against the current version")
    replaces_sha256 = models.CharField(max_length=64, blank=True)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="uploads")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    published_note_sent_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ("-uploaded_at",)
        indexes = [models.Index(fields=("sla_code", "return_type", "period_key"))]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"

    @property
    def accepted(self) -> bool:
        return self.status in (UploadStatus.ACCEPTED, UploadStatus.AWAITING_CONFIRMATION)


class DecisionRecord(models.Model):
    """The portal's copy of a decision it handed to the pipeline (stls_warehouse.decisions):
    the page knows at once that a query is answered, before the pipeline's next run."""

    decision_id = models.CharField(primary_key=True, max_length=32)
    kind = models.CharField(max_length=16)
    sla_code = models.CharField(max_length=16, db_index=True)
    return_type = models.CharField(max_length=8)
    period_key = models.CharField(max_length=16)
    file_sha256 = models.CharField(max_length=64, blank=True)
    rule = models.CharField(max_length=128, blank=True)
    text = models.TextField(blank=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT)
    actor_role = models.CharField(max_length=32)
    decided_at = models.DateTimeField()
    path = models.CharField(max_length=500)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ("-decided_at",)


class AppendOnly(Exception):
    """The audit log is never changed or deleted."""


class AuditQuerySet(QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("audit events are never changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit events are never deleted")


class AuditEvent(models.Model):
    """Who did what, when and from where. Append-only: the model refuses changes and the
    database refuses them too (triggers in migration 0002)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=150, help_text="the username, or what was typed at a failed sign-in")
    actor_role = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    sla_code = models.CharField(max_length=16, blank=True)
    target = models.CharField(max_length=255, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ("-at",)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("audit events are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit events are never deleted")
