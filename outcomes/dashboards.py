"""Chart pages: the episode charts in the admin, the site dashboard, the cohort dashboard and the patient's own
chart. The views fetch rows (staff: always through `visible_to(user)` / `sites_visible_to`) and hand plain data
to outcomes.charts, which builds the figures.

The cohort dashboard is de-identified and built on registry.research.summaries, the very functions behind
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
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from outcomes import charts
from outcomes.models import FollowUp, FollowUpStatus, Mode, Score, Timepoint
from registry.access import is_registry_admin, pk_or_404, sites_visible_to
from registry.models import (
    Administration,
    AdverseEvent,
    AdverseEventType,
    Joint,
    ProductType,
    TreatmentEpisode,
)
from registry.research import deid
from registry.research.access import patient_path, research_queryset
from registry.research.api.views import ResearchAPIMixin
from registry.research.summaries import GROUPS, arthroplasty_summary, score_summary

# Episode charts (admin) -----------------------------------------------------------------------------------


def episode_charts(*, episode: TreatmentEpisode, user: Any) -> list[charts.Chart]:
    """The charts of one episode the user may see (the caller found the episode through visible_to)."""
    rows = (
        Score.objects.visible_to(user)
        .filter(follow_up__episode=episode, value__isnull=False)
        .values_list(
            "instrument",
            "key",
            "value",
            "follow_up__timepoint",
            "follow_up__days_from_index",
            "follow_up__target_date",
            "response__mode",
        )
    )
    modes = dict(Mode.choices)
    points = [
        charts.ScorePoint(
            instrument=instrument,
            key=key,
            value=value,
            timepoint=timepoint,
            day=day if day is not None else (target - episode.index_date).days,
            mode=str(modes.get(mode, "derived from other answers" if mode is None else mode)),
        )
        for instrument, key, value, timepoint, day, target, mode in rows
    ]
    return charts.episode_charts(points, joint=episode.joint)


# Site dashboard (admin) -----------------------------------------------------------------------------------


def _chosen_site(request: HttpRequest) -> tuple[Any, Any]:
    """(the visible sites, the chosen site or None for all). Another site's id is a 404."""
    visible = sites_visible_to(request.user)
    if not visible.exists():
        raise PermissionDenied("No site to show.")
    raw = request.GET.get("site", "")
    if raw:
        site = visible.filter(pk=pk_or_404(raw)).first()
        if site is None:
            raise Http404
        return visible, site
    if is_registry_admin(request.user) or visible.count() > 1:
        return visible, None
    return visible, visible.first()


def site_dashboard_charts(*, user: Any, site: Any, today: Any = None) -> list[charts.Chart]:
    today = today or timezone.localdate()
    follow_ups = FollowUp.objects.visible_to(user)
    administrations = Administration.objects.visible_to(user)
    events = AdverseEvent.objects.visible_to(user)
    if site is not None:
        follow_ups = follow_ups.filter(episode__patient__site=site)
        administrations = administrations.filter(episode__patient__site=site)
        events = events.filter(episode__patient__site=site)

    shown = [s for s, _l, _c in charts.COMPLETION_STATUSES]
    completion = {
        (tp, status): n
        for tp, status, n in follow_ups.filter(status__in=shown)
        .order_by()
        .values("timepoint", "status")
        .annotate(n=Count("id"))
        .values_list("timepoint", "status", "n")
    }
    closed = (
        follow_ups.filter(window_closes__lt=today)
        .exclude(status=FollowUpStatus.WITHDRAWN)
        .order_by()
        .annotate(month=TruncMonth("window_closes"))
        .values("month")
        .annotate(n=Count("id"), done=Count("id", filter=Q(status=FollowUpStatus.COMPLETED)))
        .order_by("month")
        .values_list("month", "n", "done")
    )
    months = [(m.strftime("%Y-%m"), n, done) for m, n, done in closed][-24:]
    call_list = dict(
        follow_ups.filter(status__in=(FollowUpStatus.OPEN, FollowUpStatus.PARTIAL), call_list_since__isnull=False)
        .order_by()
        .values("timepoint")
        .annotate(n=Count("id"))
        .values_list("timepoint", "n")
    )
    ae = {
        (t, g): n
        for t, g, n in events.order_by()
        .values("event_type", "grade")
        .annotate(n=Count("id"))
        .values_list("event_type", "grade", "n")
    }
    treatments = {
        (m.strftime("%Y-%m"), p): n
        for m, p, n in administrations.order_by()
        .annotate(month=TruncMonth("administered_on"))
        .values("month", "product_type")
        .annotate(n=Count("id"))
        .values_list("month", "product_type", "n")
    }
    return [
        charts.completion_chart(completion),
        charts.response_rate_chart(months),
        charts.call_list_chart(call_list),
        charts.adverse_events_chart(ae, dict(AdverseEventType.choices)),
        charts.treatments_chart(treatments, dict(ProductType.choices)),
    ]


def site_dashboard(request: HttpRequest) -> HttpResponse:
    """Follow-up, safety and activity of the user's own site (registry administrator: any or all sites)."""
    from django.contrib import admin

    visible, site = _chosen_site(request)
    return render(
        request,
        "outcomes/charts/site_dashboard.html",
        {
            **admin.site.each_context(request),
            "title": "Site dashboard" + (f": {site.code}" if site else ": all sites"),
            "sites": list(visible),
            "site": site,
            "charts": site_dashboard_charts(user=request.user, site=site),
        },
    )


# Cohort dashboard (de-identified) -------------------------------------------------------------------------

COHORT_SCORES = [
    ("koos", "pain"),
    ("koos", "adl"),
    ("hoos", "pain"),
    ("hoos", "adl"),
    ("odi", "odi"),
    ("vas", "vas_mm"),
]
COHORT_GROUPS = ["", *GROUPS]


class CohortQuery(serializers.Serializer):
    score = serializers.ChoiceField(choices=[f"{i}.{k}" for i, k in COHORT_SCORES], default="koos.pain")
    group_by = serializers.ChoiceField(choices=COHORT_GROUPS, default="product_type", allow_blank=True)


def registry_research_queryset(model: Any) -> Any:
    """The registry administrator's release: every site, otherwise `research_queryset`'s rule (consent to research
    use, not withdrawn). Kept beside it in spirit: a change there must be mirrored here (a test compares)."""
    from registry.research.access import _episode_path

    patient = patient_path(model)
    prefix = f"{patient}__" if patient else ""
    rules = {f"{prefix}consent_research": True, f"{prefix}withdrawn_on__isnull": True}
    episode = _episode_path(model)
    if episode is not None:
        rules[f"{episode}status"] = "done"  # only treatments that happened, as research_queryset
    return model._default_manager.filter(**rules)


def cohort_charts(*, scores_qs: Any, treatments_qs: Any, score: str, group_by: str) -> list[charts.Chart]:
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
        "group_choices": [(g, g.replace("_", " ") if g else "no grouping") for g in COHORT_GROUPS],
        "query": query,
        "min_cell": settings.RESEARCH_MIN_CELL_SIZE,
    }


def _score_label(instrument: str, key: str) -> str:
    import scoring

    return charts._short_label(scoring.get_instrument(instrument).output(key).label)


def cohort_dashboard(request: HttpRequest) -> HttpResponse:
    """Registry administrator: drawn here from all sites. Anyone else: the page shell; the researcher's key,
    kept in sessionStorage, fetches the figures from `cohort_figures`."""
    query = CohortQuery(data=request.GET)
    if not query.is_valid():
        return HttpResponse("Bad parameters.", status=400)
    context = _cohort_context(dict(query.validated_data))
    if is_registry_admin(request.user):
        from django.contrib import admin

        context.update(admin.site.each_context(request))
        context["charts"] = cohort_charts(
            scores_qs=deid.SCORES.annotate(registry_research_queryset(deid.SCORES.model)),
            treatments_qs=deid.TREATMENTS.annotate(registry_research_queryset(deid.TREATMENTS.model)),
            **query.validated_data,
        )
        context["title"] = "Cohort dashboard (de-identified, all sites)"
        return render(request, "outcomes/charts/cohort_dashboard.html", context)
    context["title"] = "Cohort dashboard (de-identified)"
    response = render(request, "outcomes/charts/cohort_researcher.html", context)
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


# Patient --------------------------------------------------------------------------------------------------

_PATIENT_SERIES = {
    # (instrument, key): (name, scale in plain words, which way is better)
    ("vas", "vas_mm"): ("Your pain", "0 = none, 100 = worst", "Lower is better."),
    ("koos", "adl"): ("Your daily activities", "0 = extreme problems, 100 = no problems", "Higher is better."),
    ("hoos", "adl"): ("Your daily activities", "0 = extreme problems, 100 = no problems", "Higher is better."),
    ("odi", "odi"): ("How much your back limits you", "0 = not at all, 100 = completely", "Lower is better."),
}
_PATIENT_TIMEPOINTS = {
    "baseline": charts.PATIENT_BASELINE_LABEL,
    "m3": "3 months",
    "m6": "6 months",
    "m12": "1 year",
    "m24": "2 years",
}


def patient_charts(*, patient: Any) -> list[dict[str, Any]]:
    """The patient's own pain and function, per treated joint, baseline first. Only this patient's rows."""
    order = list(Timepoint.values)
    out = []
    episodes = TreatmentEpisode.objects.filter(patient=patient).order_by("index_date", "id")
    for episode in episodes:
        rows = Score.objects.filter(
            follow_up__episode=episode,
            value__isnull=False,
            **{"instrument__in": {i for i, _k in _PATIENT_SERIES}},
        ).values_list("instrument", "key", "follow_up__timepoint", "value")
        by_series: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for instrument, key, tp, value in rows:
            if (instrument, key) in _PATIENT_SERIES:
                by_series.setdefault((instrument, key), []).append((tp, value))
        built = []
        for (instrument, key), points in sorted(by_series.items(), key=lambda kv: kv[0] != ("vas", "vas_mm")):
            points.sort(key=lambda p: order.index(p[0]))
            name, scale, better = _PATIENT_SERIES[(instrument, key)]
            series = charts.PatientSeries(
                name=name, scale=scale, better=better, points=[(_PATIENT_TIMEPOINTS[t], v) for t, v in points]
            )
            built.append(charts.patient_chart(series, chart_id=f"patient-{episode.pk}-{instrument}-{key}"))
        if built:
            where = (
                "Your back"
                if episode.joint == Joint.SPINE
                else f"Your {episode.get_side_display().lower()} {episode.get_joint_display().lower()}"
            )
            out.append({"where": where, "charts": built})
    return out
