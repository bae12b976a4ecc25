from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from stls_portal import health, views

RETURN = "sla/<str:sla_code>/returns/<str:return_type>/<str:period_key>/"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("health/", health.health, name="health"),
    path("sign-in/", views.SignInView.as_view(), name="login"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path("sla/<str:sla_code>/", views.SlaView.as_view(), name="sla"),
    path(
        "sla/<str:sla_code>/template/<str:return_type>/<str:period_key>.<str:fmt>",
        views.TemplateView.as_view(),
        name="template",
    ),
    path("sla/<str:sla_code>/upload/", views.UploadView.as_view(), name="upload_form"),
    path("sla/<str:sla_code>/uploads/<str:upload_id>/", views.UploadDetailView.as_view(), name="upload"),
    path(
        "sla/<str:sla_code>/uploads/<str:upload_id>/rejection.xlsx",
        views.RejectionView.as_view(),
        name="rejection",
    ),
    path(RETURN, views.ReturnView.as_view(), name="return"),
    path(f"{RETURN}queries/<str:rule>/explain/", views.ExplainView.as_view(), name="explain"),
    path(f"{RETURN}sign-off/", views.SignOffView.as_view(), name="sign_off"),
    path(f"{RETURN}waiver/", views.WaiverView.as_view(), name="waiver"),
    path("help/", views.HelpIndexView.as_view(), name="help"),
    path("help/errors/<str:code>/", views.ErrorHelpView.as_view(), name="help_error"),
    path("help/warnings/<str:rule>/", views.WarningHelpView.as_view(), name="help_warning"),
    path("county/", include("stls_portal.county.urls")),
    path("admin/", admin.site.urls),
    # OpenID Connect sign-in; its views answer only when STLS_OIDC_ISSUER is configured.
    path("oidc/", include("mozilla_django_oidc.urls")),
]
