"""Thin views: each checks who may do what (SlaScopedMixin), calls one service function and
renders a template."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from stls_portal import audit, rules, services
from stls_portal.forms import ExplanationForm, SignInForm, SignOffForm, UploadForm, WaiverForm
from stls_portal.limits import too_large_response
from stls_portal.models import Upload, UploadStatus, User
from stls_portal.permissions import SlaScopedMixin
from stls_warehouse import reference
from stls_warehouse.intake.template import TemplateError, kpi_template, ledger_template
from stls_warehouse.periods import financial_year_of

_PERIOD_KEYS = {
    "ledger": re.compile(r"^\d{4}-\d{2}-P(0[1-9]|1[0-3])$"),
    "kpi": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
}
_YEAR = re.compile(r"^\d{4}-\d{2}$")


def service_context(request: HttpRequest) -> dict[str, Any]:
    return {
        "service_name": settings.SERVICE_NAME,
        "organisation": settings.ORGANISATION,
        "oidc_enabled": settings.OIDC_ENABLED,
    }


def _check_return(return_type: str, period_key: str) -> None:
    pattern = _PERIOD_KEYS.get(return_type)
    if pattern is None or not pattern.match(period_key):
        raise Http404("No such return")


class SignInView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class HomeView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        slas = user.visible_slas()
        if len(slas) == 1:
            return redirect("sla", slas[0])
        register = reference.slas()
        return render(request, "portal/home.html", {"slas": [register[code] for code in slas]})


class SlaView(SlaScopedMixin, View):
    def get(self, request: HttpRequest, sla_code: str) -> HttpResponse:
        today = services.as_of()
        years = services.financial_years_for(today)
        year = request.GET.get("year") or financial_year_of(today)
        if not _YEAR.match(year) or year not in years:
            raise Http404("No such financial year")
        rows = services.return_rows(self.sla_code, year, today)
        return render(
            request,
            "portal/sla.html",
            {
                "sla": reference.slas()[self.sla_code],
                "year": year,
                "years": years,
                "ledger_rows": [r for r in rows if r.is_ledger],
                "kpi_rows": [r for r in rows if not r.is_ledger],
                "may_submit": self.portal_user.may_submit(self.sla_code),
                "recent_uploads": self.uploads().select_related("uploaded_by")[:10],
            },
        )


class TemplateView(SlaScopedMixin, View):
    def get(
        self, request: HttpRequest, sla_code: str, return_type: str, period_key: str, fmt: str
    ) -> FileResponse:
        _check_return(return_type, period_key)
        if fmt not in ("xlsx", "csv"):
            raise Http404("No such format")
        build = ledger_template if return_type == "ledger" else kpi_template
        try:
            name, data = build(self.sla_code, period_key, fmt)
        except TemplateError as exc:
            raise Http404(str(exc)) from exc
        audit.record(request, "download_template", sla_code=self.sla_code, target=name)
        return _attachment(data, name)


class UploadView(SlaScopedMixin, View):
    def get(self, request: HttpRequest, sla_code: str) -> HttpResponse:
        if not self.portal_user.may_submit(self.sla_code):
            raise services.NotAllowed("only the school's users send its returns")
        return self._render(request, UploadForm())

    def post(self, request: HttpRequest, sla_code: str) -> HttpResponse:
        if not self.portal_user.may_submit(self.sla_code):
            raise services.NotAllowed("only the school's users send its returns")
        form = UploadForm(request.POST, request.FILES)
        if getattr(request, "upload_too_large", False):
            audit.record(request, "upload_refused_too_large", sla_code=self.sla_code)
            return too_large_response(request)
        if not form.is_valid():
            return self._render(request, form, status=400)
        uploaded = form.cleaned_data["file"]
        try:
            upload = services.receive_upload(
                request, self.portal_user, self.sla_code, uploaded.name, uploaded.read()
            )
        except services.Refused as refused:
            form.add_error("file", str(refused))
            return self._render(request, form, status=400)
        return HttpResponseRedirect(reverse("upload", args=[self.sla_code, upload.id]))

    def _render(self, request: HttpRequest, form: UploadForm, status: int = 200) -> HttpResponse:
        return render(
            request,
            "portal/upload.html",
            {
                "sla": reference.slas()[self.sla_code],
                "form": form,
                "limit_mb": settings.MAX_RETURN_BYTES // 2**20,
                "max_bytes": settings.MAX_RETURN_BYTES,
            },
            status=status,
        )


class UploadDetailView(SlaScopedMixin, View):
    def get(self, request: HttpRequest, sla_code: str, upload_id: str) -> HttpResponse:
        upload = self.get_upload(upload_id)
        return render(request, "portal/verdict.html", _verdict_context(self, upload))

    def post(self, request: HttpRequest, sla_code: str, upload_id: str) -> HttpResponse:
        upload = self.get_upload(upload_id)
        action = request.POST.get("action")
        try:
            if action == "confirm":
                services.confirm_upload(request, self.portal_user, upload)
            elif action == "keep":
                services.withdraw_upload(request, self.portal_user, upload)
            else:
                raise Http404("No such action")
        except services.Refused as refused:
            context = _verdict_context(self, upload) | {"refusal": str(refused)}
            return render(request, "portal/verdict.html", context, status=409)
        return HttpResponseRedirect(reverse("upload", args=[self.sla_code, upload.id]))


def _verdict_context(view: SlaScopedMixin, upload: Upload) -> dict[str, Any]:
    errors = upload.verdict.get("errors", [])
    return {
        "sla": reference.slas()[upload.sla_code],
        "upload": upload,
        "errors": errors,
        "warnings": upload.verdict.get("warnings", []),
        "groups": _grouped(errors),
        "comparison": upload.comparison,
        "may_submit": view.portal_user.may_submit(upload.sla_code),
        "awaiting": upload.status == UploadStatus.AWAITING_CONFIRMATION,
    }


def _grouped(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Problems by code, in the order first met, each with the code's help title."""
    groups: dict[str, dict[str, Any]] = {}
    for number, problem in enumerate(errors, start=1):
        code = str(problem.get("code"))
        if code not in groups:
            help_ = rules.error_help(code)
            groups[code] = {"code": code, "title": help_.title if help_ else code, "problems": []}
        groups[code]["problems"].append(problem | {"number": number})
    return list(groups.values())


class RejectionView(SlaScopedMixin, View):
    def get(self, request: HttpRequest, sla_code: str, upload_id: str) -> FileResponse:
        upload = self.get_upload(upload_id)
        path = services.storage(upload.id) / "rejection.xlsx"
        if upload.status != UploadStatus.REJECTED or not path.exists():
            raise Http404("No rejection report")
        audit.record(request, "download_rejection", sla_code=self.sla_code, target=upload.id)
        # The school's file name is data: only its safe characters make the download's name.
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", upload.file_name.rsplit(".", 1)[0])[:80] or "return"
        return _attachment(path.read_bytes(), f"rejection_{stem}.xlsx")


class _ReturnPage(SlaScopedMixin, View):
    """The return's page: its queries, explanations and sign-off."""

    def _context(self, state: services.ReturnState, **extra: Any) -> dict[str, Any]:
        user = self.portal_user
        return {
            "sla": reference.slas()[self.sla_code],
            "state": state,
            "may_submit": user.may_submit(self.sla_code),
            "may_sign_off": user.may_sign_off(self.sla_code),
            "declaration": services.DECLARATION,
            "sign_off_form": SignOffForm(),
            "may_waive": user.may_waive(),
            "waiver_form": WaiverForm(),
            "forms": {},
            **extra,
        }


class ReturnView(_ReturnPage):
    def get(self, request: HttpRequest, sla_code: str, return_type: str, period_key: str) -> HttpResponse:
        _check_return(return_type, period_key)
        state = services.return_state(self.sla_code, return_type, period_key)
        return render(request, "portal/return.html", self._context(state))


class ExplainView(_ReturnPage):
    def post(
        self, request: HttpRequest, sla_code: str, return_type: str, period_key: str, rule: str
    ) -> HttpResponse:
        _check_return(return_type, period_key)
        if not self.portal_user.may_submit(self.sla_code):
            raise services.NotAllowed("only the school's users answer its queries")
        state = services.return_state(self.sla_code, return_type, period_key)
        form = ExplanationForm(request.POST)
        if form.is_valid():
            try:
                services.explain(request, self.portal_user, state, rule, form.cleaned_data["explanation"])
                return HttpResponseRedirect(reverse("return", args=[self.sla_code, return_type, period_key]))
            except services.Refused as refused:
                form.add_error("explanation", str(refused))
        return render(
            request,
            "portal/return.html",
            self._context(state, forms={rule: form}, error_rule=rule),
            status=400,
        )


class SignOffView(_ReturnPage):
    def post(self, request: HttpRequest, sla_code: str, return_type: str, period_key: str) -> HttpResponse:
        _check_return(return_type, period_key)
        if not self.portal_user.may_sign_off(self.sla_code):
            raise services.NotAllowed("only the school's approver signs off its returns")
        state = services.return_state(self.sla_code, return_type, period_key)
        form = SignOffForm(request.POST)
        if form.is_valid():
            try:
                services.sign_off(request, self.portal_user, state)
                return HttpResponseRedirect(reverse("return", args=[self.sla_code, return_type, period_key]))
            except services.Refused as refused:
                form.add_error(None, str(refused))
        return render(request, "portal/return.html", self._context(state, sign_off_form=form), status=400)


class WaiverView(_ReturnPage):
    """County finance grants a waiver (the return will not come) or revokes one."""

    def post(self, request: HttpRequest, sla_code: str, return_type: str, period_key: str) -> HttpResponse:
        _check_return(return_type, period_key)
        if not self.portal_user.may_waive():
            raise services.NotAllowed("only county finance waives a return")
        state = services.return_state(self.sla_code, return_type, period_key)
        form = WaiverForm(request.POST)
        if form.is_valid():
            decide = services.revoke_waiver if state.waived else services.grant_waiver
            try:
                decide(request, self.portal_user, state, form.cleaned_data["reason"])
                return HttpResponseRedirect(reverse("return", args=[self.sla_code, return_type, period_key]))
            except services.Refused as refused:
                form.add_error("reason", str(refused))
        return render(request, "portal/return.html", self._context(state, waiver_form=form), status=400)


class HelpIndexView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request, "portal/help_index.html", {"codes": rules.error_codes(), "warnings": rules.warnings()}
        )


class ErrorHelpView(View):
    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        help_ = rules.error_help(code)
        if help_ is None:
            raise Http404("No such code")
        return render(request, "portal/help_error.html", {"code": code, "help": help_})


class WarningHelpView(View):
    def get(self, request: HttpRequest, rule: str) -> HttpResponse:
        warning = rules.warnings().get(rule)
        if warning is None:
            raise Http404("No such rule")
        return render(request, "portal/help_warning.html", {"warning": warning})


def _attachment(data: bytes, name: str) -> FileResponse:
    """A download: always an attachment, never shown inline, its type not guessed."""
    import io

    response = FileResponse(io.BytesIO(data), as_attachment=True, filename=name)
    response["Content-Type"] = (
        "text/csv; charset=utf-8"
        if name.endswith(".csv")
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Cache-Control"] = "no-store"
    return response
