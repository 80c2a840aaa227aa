from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.generic import RedirectView


def health(request: HttpRequest) -> JsonResponse:
    """Liveness probe for the container healthcheck: answers without touching patient data."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", health, name="health"),
    path("admin/", admin.site.urls),
]
