from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from outcomes import dashboards
from registry import audit, otp
from research import dashboards as research_dashboards


def health(request: HttpRequest) -> JsonResponse:
    """Liveness probe for the container healthcheck: answers without touching patient data."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", health, name="health"),
    # Charts: the site dashboard in the admin (outcomes.dashboards); the de-identified cohort dashboard for the
    # registry administrator (admin session) and researchers (their API key, held in the browser): research.dashboards.
    path("admin/dashboard/site/", admin.site.admin_view(dashboards.site_dashboard), name="site_dashboard"),
    path("charts/cohort/", research_dashboards.cohort_dashboard, name="cohort_dashboard"),
    path("charts/cohort/figures/", research_dashboards.cohort_figures, name="cohort_figures"),
    path("admin/audit/export/", admin.site.admin_view(audit.audit_export), name="audit-export"),
    path("admin/account/two-factor/", admin.site.admin_view(otp.two_factor), name="two-factor"),
    # The staff's language switch in the admin header posts here (django.views.i18n.set_language: a cookie).
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("p/", include("outcomes.urls")),
    # Research API (research.api) and its OpenAPI 3 schema with browsable docs.
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("research.api.urls")),
    # FHIR R4 (interop): staff reads, a site's record system posting answers, the researchers' Bulk Data export.
    path("fhir/", include("interop.urls")),
]
