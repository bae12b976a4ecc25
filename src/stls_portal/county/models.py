"""What county finance decides and does: waivers granted and revoked (append-only, the latest
event of a return is its state) and reminders sent to schools."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import QuerySet

from stls_portal.models import AppendOnly, User


class AppendOnlyQuerySet(QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("these records are never changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("these records are never deleted")


class AppendOnlyModel(models.Model):
    """A record that is written once: a change or a deletion raises AppendOnly."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly(f"{type(self).__name__} records are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly(f"{type(self).__name__} records are never deleted")


class WaiverAction(models.TextChoices):
    GRANTED = "waiver_granted", "Granted"
    REVOKED = "waiver_revoked", "Revoked"


class WaiverEvent(AppendOnlyModel):
    """A waiver granted for a return that will not come, or revoked. The return's latest event
    is its state; each event is also a decision the pipeline loads (`decision_id`)."""

    action = models.CharField(max_length=16, choices=WaiverAction.choices)
    sla_code = models.CharField(max_length=16, db_index=True)
    return_type = models.CharField(max_length=8)
    period_key = models.CharField(max_length=16)
    reason = models.TextField()
    approved_by = models.CharField(max_length=150, help_text="who approved the waiver (a name)")
    approved_on = models.DateField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    decision_id = models.CharField(max_length=32, unique=True)
    source = models.CharField(
        max_length=32, default="portal", help_text="portal, or seed (moved from ref_return_waivers.csv)"
    )

    class Meta:
        ordering = ("-recorded_at", "-id")
        indexes = [models.Index(fields=("sla_code", "return_type", "period_key"))]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.sla_code} {self.return_type} {self.period_key}"


class Reminder(AppendOnlyModel):
    """A reminder e-mailed to a school's contacts about its overdue returns."""

    sla_code = models.CharField(max_length=16, db_index=True)
    returns = models.JSONField(help_text='the overdue returns named, e.g. ["ledger 2021-22-P07"]')
    recipients = models.JSONField(help_text="the addresses it was sent to")
    sent_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-sent_at", "-id")


class AuditSeal(AppendOnlyModel):
    """The audit log's hash chain: each event's seal holds the hash of the event before it and
    its own hash over its fields and that previous hash (`county.chain`). Changing, removing or
    reordering an event breaks every hash from there on."""

    event = models.OneToOneField(
        "stls_portal.AuditEvent", on_delete=models.PROTECT, primary_key=True, related_name="seal"
    )
    position = models.BigIntegerField(unique=True, help_text="1, 2, 3, ... in the order sealed")
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ("position",)


class AuditChainHead(models.Model):
    """One row: the last seal's position and hash. Locked while a seal is added, so that two
    requests never chain onto the same previous event."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    position = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
