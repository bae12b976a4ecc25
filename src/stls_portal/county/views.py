"""The county's pages: each checks the county role (CountyMixin), calls one function of the
county services and renders."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from stls_portal import services
from stls_portal.county import matrix, waivers
from stls_portal.county.forms import WaiverForm
from stls_portal.models import COUNTY_ROLES, User
from stls_warehouse import reference


class CountyMixin(LoginRequiredMixin):
    """County finance, auditors and administrators only; a school user gets 403."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        user: User = request.user  # type: ignore[assignment]
        if user.role not in COUNTY_ROLES and not user.is_superuser:
            raise PermissionDenied("the county's pages are for county finance and auditors")
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]
        except services.NotAllowed as refused:
            raise PermissionDenied(str(refused)) from refused

    @property
    def portal_user(self) -> User:
        return self.request.user  # type: ignore[attr-defined,no-any-return]


def _year(request: HttpRequest) -> tuple[str, list[str]]:
    years = services.financial_years_for(services.as_of())
    year = request.GET.get("year") or years[0]
    if year not in years:
        raise Http404("No such financial year")
    return year, years


class MatrixView(CountyMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        year, years = _year(request)
        choices = matrix.filter_choices()
        chosen = {
            "service_line": request.GET.get("service_line", ""),
            "area": request.GET.get("area", ""),
            "status": request.GET.get("status", ""),
        }
        for name, allowed in (
            ("service_line", choices["service_lines"]),
            ("area", choices["areas"]),
            ("status", choices["statuses"]),
        ):
            if chosen[name] and chosen[name] not in allowed:
                chosen[name] = ""
        grid = matrix.build(year, services.as_of(), **chosen)
        return render(
            request,
            "county/matrix.html",
            {"matrix": grid, "year": year, "years": years, "choices": choices, "chosen": chosen},
        )


class WaiverListView(CountyMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        current = [e for e in waivers.current_waivers().values() if e.action == "waiver_granted"]
        current.sort(key=lambda e: (e.sla_code, e.return_type, e.period_key))
        return render(request, "county/waivers.html", {"waivers": current})


class WaiverView(CountyMixin, View):
    def _context(self, sla_code: str, return_type: str, period_key: str, **extra: Any) -> dict[str, Any]:
        try:
            waivers.check_return(sla_code, return_type, period_key)
        except services.Refused as refused:
            raise Http404(str(refused)) from refused
        events = waivers.history(sla_code, return_type, period_key)
        return {
            "sla": reference.slas()[sla_code],
            "return_type": return_type,
            "period_key": period_key,
            "events": events,
            "waived": bool(events) and events[0].action == "waiver_granted",
            "may_act": waivers.may_act(self.portal_user),
            **extra,
        }

    def get(self, request: HttpRequest, sla_code: str, return_type: str, period_key: str) -> HttpResponse:
        user = self.portal_user
        form = WaiverForm(
            initial={
                "approved_by": user.get_full_name() or user.get_username(),
                "approved_on": timezone.localdate(),
            }
        )
        return render(
            request, "county/waiver.html", self._context(sla_code, return_type, period_key, form=form)
        )

    def post(self, request: HttpRequest, sla_code: str, return_type: str, period_key: str) -> HttpResponse:
        context = self._context(sla_code, return_type, period_key)
        if not context["may_act"]:
            raise services.NotAllowed("only county finance grants and revokes waivers")
        form = WaiverForm(request.POST)
        decide = waivers.revoke if context["waived"] else waivers.grant
        if form.is_valid():
            try:
                decide(request, self.portal_user, sla_code, return_type, period_key, **form.cleaned_data)
                return HttpResponseRedirect(
                    reverse("county_waiver", args=[sla_code, return_type, period_key])
                )
            except services.Refused as refused:
                form.add_error(None, str(refused))
        return render(request, "county/waiver.html", context | {"form": form}, status=400)
