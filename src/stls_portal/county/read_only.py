"""Auditors read everything finance reads and change nothing: one middleware refuses every
request that could change something (any method but GET, HEAD, OPTIONS) from an auditor, before
any view runs, whatever the view. Only signing out is let through."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from stls_portal import audit
from stls_portal.models import Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuditorReadOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            request.method not in SAFE_METHODS
            and user is not None
            and user.is_authenticated
            and getattr(user, "role", None) == Role.AUDITOR
            and request.path != reverse("logout")
        ):
            audit.record(request, "refused_read_only", target=f"{request.method} {request.path}"[:255])
            raise PermissionDenied("auditors have read-only access")
        return self.get_response(request)
