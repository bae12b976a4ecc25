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
