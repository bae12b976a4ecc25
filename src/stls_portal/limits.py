"""The 20 MB limit, enforced before a request body is read in full.

Two guards: the middleware refuses a request whose declared Content-Length is over the limit
without reading a byte of its body; the upload handler stops reading a body that carries no
length (or lies about it) as soon as the bytes received pass the limit. Either way the user
sees a page saying the file is over 20 MB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def too_large_response(request: HttpRequest) -> HttpResponse:
    limit_mb = settings.MAX_RETURN_BYTES // (1024 * 1024)
    body = render_to_string("portal/too_large.html", {"limit_mb": limit_mb}, request=request)
    return HttpResponse(body, status=413)


class RequestSizeLimitMiddleware:
    """Refuse a body declared larger than MAX_REQUEST_BYTES with 413, unread."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.MAX_REQUEST_BYTES:
            from stls_portal import audit

            audit.record(request, "upload_refused_too_large", detail={"content_length": declared})
            response = too_large_response(request)
            response["Connection"] = "close"  # the unread body is not ours to drain
            return response
        return self.get_response(request)


class CappedMemoryUploadHandler(MemoryFileUploadHandler):
    """Keeps an uploaded file in memory and stops reading once it passes the limit."""

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        super().handle_raw_input(input_data, META, content_length, boundary, encoding)
        self.activated = True  # always in memory: MAX_REQUEST_BYTES bounds it
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.MAX_RETURN_BYTES:
            assert self.request is not None
            self.request.upload_too_large = True  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)
