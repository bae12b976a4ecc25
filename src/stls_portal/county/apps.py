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

        from django.contrib.admin.models import LogEntry

        from stls_portal import audit

        def administered(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
            """A change made in Django's admin (users and their SLAs among them), with who made it."""
            if created and not raw:
                action = {1: "admin_added", 2: "admin_changed", 3: "admin_deleted"}.get(
                    instance.action_flag, "admin"
                )
                audit.record(
                    None,
                    action,
                    actor=instance.user,
                    target=f"{instance.content_type.model if instance.content_type else ''} {instance.object_repr}",
                    detail={"object_id": instance.object_id, "change": instance.get_change_message()},
                )

        post_save.connect(administered, sender=LogEntry, weak=False, dispatch_uid="stls_county_audit_admin")

        from django.db import transaction
        from django.db.models.signals import post_delete

        from stls_portal.county import contacts
        from stls_portal.models import User

        def user_changed(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
            """Users, roles and SLAs are the contacts: publish them once the change commits
            (a sign-in, which only touches last_login, changes no contact)."""
            if raw or set(kwargs.get("update_fields") or ()) == {"last_login"}:
                return
            transaction.on_commit(contacts.publish_after_change)

        post_save.connect(user_changed, sender=User, weak=False, dispatch_uid="stls_county_contacts_save")
        post_delete.connect(user_changed, sender=User, weak=False, dispatch_uid="stls_county_contacts_delete")
