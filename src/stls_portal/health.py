"""The health check the deployment polls (compose's `returns-service` healthcheck).

It answers without signing in and says only "ok" or "unavailable": no version, no counts, no
error text (a failure is logged here, not shown). Healthy means the process serves requests
and its database answers a query; the published release is not part of it, so a new
deployment with nothing published yet is healthy. It reads no session, writes no audit row
and sets no cookie, so being polled every 30 seconds leaves no trace in the audit log.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

log = logging.getLogger(__name__)


@never_cache
@require_safe
def health(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        log.exception("health check: the database did not answer")
        return HttpResponse("unavailable\n", status=503, content_type="text/plain; charset=utf-8")
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")
