"""The cohort dashboard: de-identified, built on research.summaries, the very functions behind
`/api/v1/summaries/...`, so its numbers are the API's:

- a registry administrator opens it in the admin session: all sites, the research release rule (consent to
  research use, not withdrawn) applied as `research_queryset` applies it to a key;
- a researcher has no admin account. The page itself holds no data; the researcher pastes their API key, which
  stays in the browser's sessionStorage (gone when the tab closes, never in a cookie or the server session), and
  the page fetches `charts/cohort/figures/` with it in the Authorization header. That endpoint is a research API
  view (same key authentication, read-only permission, throttles and key scope through `research_queryset`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

import scoring
from outcomes.charts import Chart, short_label
from registry.access import is_registry_admin
from research import charts, deid
from research.access import registry_research_queryset, research_queryset
from research.api.views import ResearchAPIMixin
from research.summaries import GROUPS
from research.summaries.scores import score_summary
from research.summaries.survival import arthroplasty_summary

# Cohort dashboard (de-identified) -------------------------------------------------------------------------

COHORT_SCORES = [
    ("koos", "pain"),
    ("koos", "adl"),
    ("hoos", "pain"),
    ("hoos", "adl"),
    ("odi", "odi"),
    ("vas", "vas_mm"),
    # The second set. No EQ-5D-5L index: sites compute it in different value sets, which a cohort must not pool.
    ("koos_jr", "interval"),
    ("koos_jr_from_koos", "interval"),
    ("koos12", "summary"),
    ("koos12_from_koos", "summary"),
    ("hoos_jr", "interval"),
    ("hoos_jr_from_hoos", "interval"),
    ("promis10", "gph_t"),
    ("promis10", "gmh_t"),
    ("ikdc", "ikdc"),
    ("lysholm", "lysholm"),
]
COHORT_GROUPS = ["", *GROUPS]
# The page's names for the groupings (the figures and the research API keep the codes).
GROUP_LABELS = {
    "": _("no grouping"),
    "product_type": _("product type"),
    "source": _("source"),
    "kl_grade": _("Kellgren-Lawrence grade"),
    "joint": _("joint"),
    "site": _("site"),
}


class CohortQuery(serializers.Serializer):
    score = serializers.ChoiceField(choices=[f"{i}.{k}" for i, k in COHORT_SCORES], default="koos.pain")
    group_by = serializers.ChoiceField(choices=COHORT_GROUPS, default="product_type", allow_blank=True)


def cohort_charts(*, scores_qs: Any, treatments_qs: Any, score: str, group_by: str) -> list[Chart]:
    """The cohort charts from the research summaries. `scores_qs` / `treatments_qs` are the research datasets,
    already scoped: exactly what the summary API views pass."""
    instrument, key = score.split(".")
    groups = [group_by] if group_by else []
    summary = score_summary(
        queryset=scores_qs,
        instrument=instrument,
        key=key,
        group_by=groups,
        mcii_kind="absolute",
        timepoints=None,
        min_cell=settings.RESEARCH_MIN_CELL_SIZE,
    )
    km = arthroplasty_summary(
        queryset=treatments_qs,
        group_by=groups,
        censoring="last_contact",
        min_cell=settings.RESEARCH_MIN_CELL_SIZE,
        today=timezone.localdate(),
    )
    return [charts.trajectory_chart(summary), charts.responder_chart(summary), charts.km_chart(km)]


def _cohort_context(query: dict[str, Any]) -> dict[str, Any]:
    return {
        "score_choices": [(f"{i}.{k}", _score_label(i, k)) for i, k in COHORT_SCORES],
        "group_choices": [(g, GROUP_LABELS.get(g) or g.replace("_", " ")) for g in COHORT_GROUPS],
        "query": query,
        "min_cell": settings.RESEARCH_MIN_CELL_SIZE,
    }


def _score_label(instrument: str, key: str) -> str:
    definition = scoring.get_instrument(instrument)
    label = short_label(definition.output(key).label)
    if definition.derived_from:  # the same score as the short form asked on its own: say where it comes from
        label += f" (from the {definition.derived_from.upper()})"
    return label


def cohort_dashboard(request: HttpRequest) -> HttpResponse:
    """Registry administrator: drawn here from all sites. Anyone else: the page shell; the researcher's key,
    kept in sessionStorage, fetches the figures from `cohort_figures`."""
    query = CohortQuery(data=request.GET)
    if not query.is_valid():
        return HttpResponse(gettext("Bad parameters."), status=400)
    context = _cohort_context(dict(query.validated_data))
    if is_registry_admin(request.user):
        context.update(admin.site.each_context(request))
        context["charts"] = cohort_charts(
            scores_qs=deid.SCORES.annotate(registry_research_queryset(deid.SCORES.model)),
            treatments_qs=deid.TREATMENTS.annotate(registry_research_queryset(deid.TREATMENTS.model)),
            **query.validated_data,
        )
        context["title"] = gettext("Cohort dashboard (de-identified, all sites)")
        return render(request, "research/charts/cohort_dashboard.html", context)
    context["title"] = gettext("Cohort dashboard (de-identified)")
    response = render(request, "research/charts/cohort_researcher.html", context)
    response["Cache-Control"] = "no-store"
    return response


class CohortFiguresView(ResearchAPIMixin, generics.GenericAPIView):
    """The cohort charts as JSON for a researcher's key: the same summaries, scoped by the key."""

    schema = None  # a page's helper, not part of the documented research API

    def get(self, request: Request) -> ApiResponse:
        query = CohortQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        built = cohort_charts(
            scores_qs=deid.SCORES.annotate(research_queryset(deid.SCORES.model, request.auth)),
            treatments_qs=deid.TREATMENTS.annotate(research_queryset(deid.TREATMENTS.model, request.auth)),
            **query.validated_data,
        )
        return ApiResponse(
            {
                "charts": [
                    {
                        "id": c.id,
                        "figure": c.figure,
                        "html": render_to_string("outcomes/charts/_chart.html", {"chart": c, "deferred": True}),
                    }
                    for c in built
                ]
            }
        )


cohort_figures = CohortFiguresView.as_view()
