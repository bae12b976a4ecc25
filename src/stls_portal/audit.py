"""The audit log: every action with who, when, what and from where.

Sign-in, sign-out, failed sign-in and lock-out come from Django's and django-axes' signals;
every other action is recorded by the service function that performs it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    request: HttpRequest | None,
    action: str,
    *,
    actor: Any = None,
    sla_code: str = "",
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    from stls_portal.models import AuditEvent

    user = actor if actor is not None else getattr(request, "user", None)
    authenticated = bool(user is not None and getattr(user, "is_authenticated", False))
    name = (
        user.get_username() if authenticated and user is not None else (user if isinstance(user, str) else "")
    )
    AuditEvent.objects.create(
        actor=name[:150],
        actor_role=getattr(user, "role", "") if authenticated else "",
        action=action,
        sla_code=sla_code,
        target=target[:255],
        detail=detail or {},
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:255],
    )


def connect_signals() -> None:
    from axes.signals import user_locked_out
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    def logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
        record(request, "sign_in", actor=user)

    def logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
        if user is not None:
            record(request, "sign_out", actor=user)

    def login_failed(
        sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        record(request, "sign_in_failed", actor=str(credentials.get("username", "")))

    def locked_out(sender: Any, request: HttpRequest, username: str | None = None, **kwargs: Any) -> None:
        record(request, "locked_out", actor=str(username or ""))

    user_logged_in.connect(logged_in, weak=False, dispatch_uid="stls_portal_audit_in")
    user_logged_out.connect(logged_out, weak=False, dispatch_uid="stls_portal_audit_out")
    user_login_failed.connect(login_failed, weak=False, dispatch_uid="stls_portal_audit_failed")
    user_locked_out.connect(locked_out, weak=False, dispatch_uid="stls_portal_audit_locked")
