"""The county's pages: each checks the county role (CountyMixin), calls one function of the
county services and renders."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from stls_portal import audit, services
from stls_portal.county import matrix, provenance, waivers
from stls_portal.county.forms import WaiverForm
from stls_portal.county.models import WaiverAction
from stls_portal.models import COUNTY_ROLES, User
from stls_portal.published import Release
from stls_warehouse import reference
from stls_warehouse.config import Paths


class CountyMixin(LoginRequiredMixin):
    """County finance, auditors and administrators only; a school user gets 403."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        user: User = request.user
        if user.role not in COUNTY_ROLES and not user.is_superuser:
            raise PermissionDenied("the county's pages are for county finance and auditors")
        try:
            return super().dispatch(request, *args, **kwargs)
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
        return render(request, "county/waivers.html", {"waivers": waivers.in_force()})


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
            "waived": services.return_state(sla_code, return_type, period_key).waived,
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
        action = WaiverAction.REVOKED if context["waived"] else WaiverAction.GRANTED
        if form.is_valid():
            try:
                waivers.decide(
                    request,
                    self.portal_user,
                    action,
                    sla_code,
                    return_type,
                    period_key,
                    **form.cleaned_data,
                )
                return HttpResponseRedirect(
                    reverse("county_waiver", args=[sla_code, return_type, period_key])
                )
            except services.Refused as refused:
                form.add_error(None, str(refused))
        return render(request, "county/waiver.html", context | {"form": form}, status=400)


# --- figures with their provenance ----------------------------------------------------------


class _FiguresPage(CountyMixin, View):
    """Every page of figures reads one release (resolved once) and says which."""

    template_name = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.release = Release.current(settings.HOME)
        try:
            self.reader = provenance.Reader(self.release)
        except provenance.NotPublished as missing:
            raise Http404(str(missing)) from missing
        try:
            return super().dispatch(request, *args, **kwargs)
        except provenance.NotPublished as missing:
            raise Http404(str(missing)) from missing
        finally:
            self.reader.close()

    def render(self, request: HttpRequest, **context: Any) -> HttpResponse:
        context["release"] = self.reader
        return render(request, self.template_name, context)


def _check_figures(service_line: str, sla_code: str | None = None) -> reference.Sla | None:
    if service_line not in {s.service_line for s in reference.slas().values()}:
        raise Http404("No such service line")
    if sla_code is None:
        return None
    sla = reference.slas().get(sla_code)
    if sla is None or sla.service_line != service_line:
        raise Http404("No such SLA in this service line")
    return sla


class FiguresView(_FiguresPage):
    template_name = "county/figures.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        years = self.reader.years()
        year = request.GET.get("year") or (years[-1] if years else "")
        if year not in years:
            raise Http404("No such financial year in the release")
        rows = self.reader.forum(year)
        totals = {
            name: sum((Decimal(r[name]) for r in rows if r.get(name) is not None), Decimal(0))
            for name in (
                "total_budget",
                "outturn",
                "variance",
                "pension_allocation",
                "variance_after_pension",
            )
        }
        return self.render(request, year=year, years=years, rows=rows, totals=totals)


class ServiceLineView(_FiguresPage):
    template_name = "county/service_line.html"

    def get(self, request: HttpRequest, year: str, service_line: str) -> HttpResponse:
        _check_figures(service_line)
        drill = self.reader.by_sla(year, service_line)
        register = reference.slas()
        levels = [
            {
                "label": f"{register[level.key].sla_name} ({level.key})"
                if level.key in register
                else level.key,
                "href": reverse("county_sla_figures", args=[year, service_line, level.key]),
                "outturn": level.outturn,
                "traded": level.traded,
                "lines": level.lines,
            }
            for level in drill.rows
        ]
        return self.render(request, year=year, service_line=service_line, drill=drill, levels=levels)


class SlaFiguresView(_FiguresPage):
    template_name = "county/sla_figures.html"

    def get(self, request: HttpRequest, year: str, service_line: str, sla_code: str) -> HttpResponse:
        sla = _check_figures(service_line, sla_code)
        drill = self.reader.by_period(year, sla_code)
        levels = [
            {
                "label": level.key,
                "href": reverse("county_return_lines", args=[year, service_line, sla_code, level.key]),
                "outturn": level.outturn,
                "traded": level.traded,
                "lines": level.lines,
            }
            for level in drill.rows
        ]
        return self.render(request, year=year, service_line=service_line, sla=sla, drill=drill, levels=levels)


class ReturnLinesView(_FiguresPage):
    template_name = "county/return_lines.html"

    def get(
        self, request: HttpRequest, year: str, service_line: str, sla_code: str, period_key: str
    ) -> HttpResponse:
        sla = _check_figures(service_line, sla_code)
        lines = self.reader.lines(sla_code, period_key)
        if not lines or not period_key.startswith(year):
            raise Http404("No ledger lines for this return in the release")
        files = [
            provenance.return_file(self.reader, sla_code, period_key, sha)
            for sha in dict.fromkeys(line["source_file_sha256"] for line in lines)
        ]
        counted = [line for line in lines if self.reader.counts_in_outturn(line)]
        total = sum((Decimal(line["amount"]) for line in counted), Decimal(0))
        return self.render(
            request,
            year=year,
            service_line=service_line,
            sla=sla,
            period_key=period_key,
            lines=lines,
            files=files,
            total=total,
            traded=len(lines) - len(counted),
        )


class SourceRowView(_FiguresPage):
    template_name = "county/source_row.html"

    def get(self, request: HttpRequest, sha256: str, row: int) -> HttpResponse:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise Http404("No such file")
        submission = self.reader.submission(sha256)
        if submission is None:
            raise Http404("The release does not record this file")
        found = provenance.source_row(Paths(settings.HOME).raw, sha256, row)
        audit.record(
            request,
            "view_source_row",
            sla_code=str(submission.get("sla_code") or ""),
            target=f"{sha256}:{row}",
        )
        return self.render(request, source=found, submission=submission)


# --- the audit log -----------------------------------------------------------------------


def _audit_events(request: HttpRequest) -> tuple[Any, dict[str, str]]:
    """The audit events matching the search form (every field optional)."""
    from django.db.models import Q

    from stls_portal.models import AuditEvent

    chosen = {
        name: request.GET.get(name, "").strip() for name in ("q", "action", "actor", "sla", "from", "to")
    }
    events = AuditEvent.objects.select_related("seal").order_by("-id")
    if chosen["q"]:
        q = chosen["q"]
        events = events.filter(
            Q(actor__icontains=q) | Q(action__icontains=q) | Q(target__icontains=q) | Q(sla_code__iexact=q)
        )
    if chosen["action"]:
        events = events.filter(action=chosen["action"])
    if chosen["actor"]:
        events = events.filter(actor=chosen["actor"])
    if chosen["sla"]:
        events = events.filter(sla_code=chosen["sla"].upper())
    for name, lookup in (("from", "at__date__gte"), ("to", "at__date__lte")):
        if chosen[name]:
            try:
                events = events.filter(**{lookup: date.fromisoformat(chosen[name])})
            except ValueError:
                chosen[name] = ""
    return events, chosen


class AuditLogView(CountyMixin, View):
    PAGE = 100

    def get(self, request: HttpRequest) -> HttpResponse:
        from django.core.paginator import Paginator

        from stls_portal.models import AuditEvent

        events, chosen = _audit_events(request)
        page = Paginator(events, self.PAGE).get_page(request.GET.get("page"))
        actions = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        query = "&".join(f"{k}={v}" for k, v in chosen.items() if v)
        return render(
            request,
            "county/audit.html",
            {"page": page, "chosen": chosen, "actions": list(actions), "query": query},
        )


class AuditExportView(CountyMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        import csv
        import io
        import json

        from stls_portal.county import chain

        events, chosen = _audit_events(request)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*chain.FIELDS, "position", "previous_hash", "hash"])
        for entry in chain._sealed(events.order_by("id")):
            row = [entry[f] for f in chain.FIELDS]
            row[chain.FIELDS.index("detail")] = json.dumps(
                entry["detail"], sort_keys=True, ensure_ascii=False
            )
            writer.writerow(
                [_csv_safe(v) for v in row] + [entry.get("position"), entry["previous_hash"], entry["hash"]]
            )
        audit.record(request, "download_audit_log", target=json.dumps(chosen, sort_keys=True)[:255])
        response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="stls_audit_log.csv"'
        response["Cache-Control"] = "no-store"
        return response


def _csv_safe(value: Any) -> Any:
    """Text a spreadsheet would read as a formula gets a leading apostrophe (as the published CSVs)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


class AuditVerifyView(CountyMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        from stls_portal.county import chain

        verdict = chain.verify()
        audit.record(request, "verify_audit_log", detail=verdict.as_json())
        return render(request, "county/audit_verify.html", {"verdict": verdict})


# --- chasing ------------------------------------------------------------------------------


class RemindView(CountyMixin, View):
    def _context(self, request: HttpRequest, sla_code: str) -> dict[str, Any]:
        from stls_portal.county import reminders
        from stls_portal.county.models import Reminder

        sla = reference.slas().get(sla_code)
        if sla is None:
            raise Http404("No such SLA")
        year, _ = _year(request)
        return {
            "sla": sla,
            "year": year,
            "overdue": reminders.overdue(sla_code, year, services.as_of()),
            "contacts": reminders.contacts(sla_code),
            "sent": Reminder.objects.filter(sla_code=sla_code).select_related("sent_by")[:20],
            "may_act": waivers.may_act(self.portal_user),
        }

    def get(self, request: HttpRequest, sla_code: str) -> HttpResponse:
        return render(request, "county/remind.html", self._context(request, sla_code))

    def post(self, request: HttpRequest, sla_code: str) -> HttpResponse:
        from stls_portal.county import reminders

        context = self._context(request, sla_code)
        try:
            reminders.send(request, self.portal_user, sla_code, context["year"], services.as_of())
        except services.Refused as refused:
            return render(request, "county/remind.html", context | {"refusal": str(refused)}, status=400)
        return HttpResponseRedirect(
            f"{reverse('county_remind', args=[sla_code])}?year={context['year']}&sent=1"
        )


# --- data quality --------------------------------------------------------------------------


class QualityView(CountyMixin, View):
    """The published check results and every warning with its explanation (one release)."""

    PAGE = 200

    def get(self, request: HttpRequest) -> HttpResponse:
        from django.core.paginator import Paginator

        from stls_portal.county import quality

        release = Release.current(settings.HOME)
        found = quality.read(release, **{name: request.GET.get(name, "") for name in quality.FILTERS})
        page = Paginator(found.results, self.PAGE).get_page(request.GET.get("page"))
        query = "&".join(f"{k}={v}" for k, v in found.chosen.items() if v)
        return render(
            request,
            "county/quality.html",
            {"release": release, "quality": found, "page": page, "query": query},
        )


# --- runs, releases and reports ------------------------------------------------------------


class RunsView(CountyMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        from stls_portal.county import operations

        return render(
            request,
            "county/runs.html",
            {
                "release": operations.release_summary(settings.HOME),
                "run": operations.last_run(settings.HOME),
                "airflow": operations.dag_runs(settings),
                "dq": operations.report_file(settings.HOME, "dq", "latest.html"),
            },
        )


class ReportsView(CountyMixin, View):
    def get(self, request: HttpRequest, **extra: Any) -> HttpResponse:
        from stls_portal.county import annual_review, operations

        return render(
            request,
            "county/reports.html",
            {
                "kinds": operations.reports(settings.HOME),
                "annual_years": annual_review.years(Paths(settings.HOME)),
                "may_act": waivers.may_act(self.portal_user),
                **extra,
            },
            status=400 if "refusal" in extra else 200,
        )


class AnnualReviewRequestView(ReportsView):
    """County finance asks for a complete year's annual review (produced in the background)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        from stls_portal.county import annual_review

        year = request.POST.get("year", "")
        try:
            annual_review.request(request, self.portal_user, year)
        except services.Refused as refused:
            return self.get(request, refusal=str(refused), refused_year=year)
        return HttpResponseRedirect(f"{reverse('county_reports')}?requested={year}#annual-review")


class ReportFileView(CountyMixin, View):
    def get(self, request: HttpRequest, kind: str, name: str) -> HttpResponseBase:
        from django.http import FileResponse

        from stls_portal.county import operations

        found = operations.report_file(settings.HOME, kind, name)
        if found is None:
            raise Http404("No such report")
        audit.record(request, "download_report", target=f"{kind}/{name}")
        inline = found.path.suffix in (".html", ".pdf")
        response = FileResponse(found.path.open("rb"), as_attachment=not inline, filename=found.name)
        response["Content-Type"] = operations.CONTENT_TYPES[found.path.suffix]
        if found.path.suffix == ".html":
            # a report is a document, not part of the service: no script runs in it
            response["Content-Security-Policy"] = (
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
            )
        return response
