"""Moves the hand-edited waivers of dbt_project/seeds/ref_return_waivers.csv into the service.

Each seed row becomes a WaiverEvent (source "seed") and a waiver_granted decision file for the
pipeline, with a decision_id derived from the row, so running this on another database (or
again) writes nothing twice. Reversing removes the events; decision files already handed to the
pipeline stay (decisions are append-only: revoke a waiver in the service instead).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

from django.db import migrations


def seed_decision_id(row: dict[str, str]) -> str:
    key = "|".join(("ref_return_waivers", row["sla_code"], row["return_type"], row["period_key"]))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def move_seed_rows(apps: Any, schema_editor: Any) -> None:
    from django.conf import settings

    from stls_warehouse import decisions, reference
    from stls_warehouse.config import Paths

    WaiverEvent = apps.get_model("county", "WaiverEvent")
    root = Paths(settings.HOME).decisions
    for row in reference.seed_rows("ref_return_waivers"):
        decision_id = seed_decision_id(row)
        if WaiverEvent.objects.filter(decision_id=decision_id).exists():
            continue
        approved_on = date.fromisoformat(row["approved_on"])
        decision = decisions.Decision(
            kind="waiver_granted",
            sla_code=row["sla_code"],
            return_type=row["return_type"],
            period_key=row["period_key"],
            actor=row["approved_by"],
            actor_role="county_finance",
            text=row["reason"],
            decided_at=datetime(approved_on.year, approved_on.month, approved_on.day, tzinfo=UTC),
            decision_id=decision_id,
        )
        if not decisions.path_for(root, decision).exists():
            decisions.record(root, decision)
        WaiverEvent.objects.create(
            action="waiver_granted",
            sla_code=row["sla_code"],
            return_type=row["return_type"],
            period_key=row["period_key"],
            reason=row["reason"],
            approved_by=row["approved_by"],
            approved_on=approved_on,
            decision_id=decision_id,
            source="seed",
        )


def remove_seed_rows(apps: Any, schema_editor: Any) -> None:
    apps.get_model("county", "WaiverEvent").objects.filter(source="seed").delete()


class Migration(migrations.Migration):
    dependencies = [("county", "0001_initial")]
    operations = [migrations.RunPython(move_seed_rows, remove_seed_rows)]
