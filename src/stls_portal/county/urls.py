"""The county's pages, included under county/ by the portal's root urls."""

from __future__ import annotations

from django.urls import path

from stls_portal.county import views

RETURN = "<str:sla_code>/<str:return_type>/<str:period_key>/"

urlpatterns = [
    path("", views.MatrixView.as_view(), name="county_matrix"),
    path("waivers/", views.WaiverListView.as_view(), name="county_waivers"),
    path(f"waivers/{RETURN}", views.WaiverView.as_view(), name="county_waiver"),
]

FIGURES = "figures/<str:year>/<str:service_line>/"
urlpatterns += [
    path("figures/", views.FiguresView.as_view(), name="county_figures"),
    path(FIGURES, views.ServiceLineView.as_view(), name="county_service_line"),
    path(f"{FIGURES}<str:sla_code>/", views.SlaFiguresView.as_view(), name="county_sla_figures"),
    path(
        f"{FIGURES}<str:sla_code>/<str:period_key>/",
        views.ReturnLinesView.as_view(),
        name="county_return_lines",
    ),
    path("source/<str:sha256>/<int:row>/", views.SourceRowView.as_view(), name="county_source_row"),
]

urlpatterns += [
    path("audit/", views.AuditLogView.as_view(), name="county_audit"),
    path("audit/export.csv", views.AuditExportView.as_view(), name="county_audit_csv"),
    path("audit/verify/", views.AuditVerifyView.as_view(), name="county_audit_verify"),
]

urlpatterns += [
    path("remind/<str:sla_code>/", views.RemindView.as_view(), name="county_remind"),
]

urlpatterns += [
    path("quality/", views.QualityView.as_view(), name="county_quality"),
]

urlpatterns += [
    path("runs/", views.RunsView.as_view(), name="county_runs"),
    path("reports/", views.ReportsView.as_view(), name="county_reports"),
    path("reports/annual-review/", views.AnnualReviewRequestView.as_view(), name="county_annual_request"),
    path("reports/<str:kind>/<str:name>", views.ReportFileView.as_view(), name="county_report"),
]
