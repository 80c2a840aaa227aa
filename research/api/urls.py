"""/api/v1/: the researchers' read-only API (the schema and docs are wired in project/urls.py)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from research.api import views

router = SimpleRouter()
router.register("treatments", views.TreatmentViewSet, basename="research-treatment")
router.register("administrations", views.AdministrationViewSet, basename="research-administration")
router.register("scores", views.ScoreViewSet, basename="research-score")
router.register("adverse-events", views.AdverseEventViewSet, basename="research-adverse-event")
router.register("surgeries", views.SurgeryViewSet, basename="research-surgery")

urlpatterns = [
    *router.urls,
    path("dictionary/", views.DictionaryView.as_view(), name="research-dictionary"),
    path("datapackage/", views.DataPackageView.as_view(), name="research-datapackage"),
    path("summaries/scores/", views.ScoreSummaryView.as_view(), name="research-summary-scores"),
    path("summaries/arthroplasty/", views.ArthroplastySummaryView.as_view(), name="research-summary-arthroplasty"),
]
