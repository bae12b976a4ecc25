"""The one permission mechanism: every view that names an SLA goes through `SlaScopedMixin`,
and every object it looks up comes from a queryset scoped to the user's SLAs.

A user who may not see an SLA gets 404 for every URL under it (the SLA's existence is not
confirmed to them); a user who may see but not act (finance, auditor, a submitter asked to
sign off) gets 403 for the action.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from stls_portal.models import Upload, User
from stls_portal.services import NotAllowed


class SlaScopedMixin(LoginRequiredMixin):
    """Resolves `sla_code` from the URL against the user's SLAs before the view runs."""

    sla_code: str

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        code = str(kwargs.get("sla_code", "")).upper()
        user: User = request.user
        if code not in user.visible_slas():
            raise Http404("No such SLA")
        self.sla_code = code
        try:
            return super().dispatch(request, *args, **kwargs)
        except NotAllowed as refused:
            raise PermissionDenied(str(refused)) from refused

    @property
    def portal_user(self) -> User:
        return self.request.user  # type: ignore[attr-defined,no-any-return]

    def uploads(self) -> Any:
        """Uploads this user may see, of this SLA."""
        return Upload.objects.visible_to(self.portal_user).filter(sla_code=self.sla_code)

    def get_upload(self, upload_id: str) -> Upload:
        upload = self.uploads().filter(pk=upload_id).first()
        if upload is None:
            raise Http404("No such upload")
        return upload  # type: ignore[no-any-return]
