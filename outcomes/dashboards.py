"""Chart pages of follow-up: the episode charts in the admin, the site dashboard and the patient's own chart. The
views fetch rows (staff: always through `visible_to(user)` / `sites_visible_to`) and hand plain data to
outcomes.charts, which builds the figures. The de-identified cohort dashboard is research's (research.dashboards).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from outcomes.charts import Chart
from outcomes.charts import clinic as clinic_charts
from outcomes.charts import episode as episode_figures
from outcomes.charts import patient as patient_figures
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

# Episode charts (admin) -----------------------------------------------------------------------------------


def episode_charts(*, episode: TreatmentEpisode, user: Any) -> list[Chart]:
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
        episode_figures.ScorePoint(
            instrument=instrument,
            key=key,
            value=value,
            timepoint=timepoint,
            day=day if day is not None else (target - episode.index_date).days,
            mode=str(modes.get(mode, gettext("derived from other answers") if mode is None else mode)),
        )
        for instrument, key, value, timepoint, day, target, mode in rows
    ]
    return episode_figures.episode_charts(points, joint=episode.joint)


# Site dashboard (admin) -----------------------------------------------------------------------------------


def _chosen_site(request: HttpRequest) -> tuple[Any, Any]:
    """(the visible sites, the chosen site or None for all). Another site's id is a 404."""
    visible = sites_visible_to(request.user)
    if not visible.exists():
        raise PermissionDenied(gettext("No site to show."))
    raw = request.GET.get("site", "")
    if raw:
        site = visible.filter(pk=pk_or_404(raw)).first()
        if site is None:
            raise Http404
        return visible, site
    if is_registry_admin(request.user) or visible.count() > 1:
        return visible, None
    return visible, visible.first()


def site_dashboard_charts(*, user: Any, site: Any, today: Any = None) -> list[Chart]:
    today = today or timezone.localdate()
    follow_ups = FollowUp.objects.visible_to(user)
    administrations = Administration.objects.visible_to(user)
    events = AdverseEvent.objects.visible_to(user)
    if site is not None:
        follow_ups = follow_ups.filter(episode__patient__site=site)
        administrations = administrations.filter(episode__patient__site=site)
        events = events.filter(episode__patient__site=site)

    shown = [s for s, _l, _c in clinic_charts.COMPLETION_STATUSES]
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
        clinic_charts.completion_chart(completion),
        clinic_charts.response_rate_chart(months),
        clinic_charts.call_list_chart(call_list),
        clinic_charts.adverse_events_chart(ae, dict(AdverseEventType.choices)),
        clinic_charts.treatments_chart(treatments, dict(ProductType.choices)),
    ]


def site_dashboard(request: HttpRequest) -> HttpResponse:
    """Follow-up, safety and activity of the user's own site (registry administrator: any or all sites)."""
    visible, site = _chosen_site(request)
    return render(
        request,
        "outcomes/charts/site_dashboard.html",
        {
            **admin.site.each_context(request),
            "title": gettext("Site dashboard: %(site)s") % {"site": site.code}
            if site
            else gettext("Site dashboard: all sites"),
            "sites": list(visible),
            "site": site,
            "charts": site_dashboard_charts(user=request.user, site=site),
        },
    )


# Patient --------------------------------------------------------------------------------------------------

_PATIENT_SERIES = {
    # (instrument, key): (name, scale in plain words, which way is better)
    ("vas", "vas_mm"): (_("Your pain"), _("0 = none, 100 = worst"), _("Lower is better.")),
    ("koos", "adl"): (
        _("Your daily activities"),
        _("0 = extreme problems, 100 = no problems"),
        _("Higher is better."),
    ),
    ("hoos", "adl"): (
        _("Your daily activities"),
        _("0 = extreme problems, 100 = no problems"),
        _("Higher is better."),
    ),
    ("odi", "odi"): (_("How much your back limits you"), _("0 = not at all, 100 = completely"), _("Lower is better.")),
}
_PATIENT_TIMEPOINTS = {
    "baseline": patient_figures.PATIENT_BASELINE_LABEL,
    "m3": _("3 months"),
    "m6": _("6 months"),
    "m12": _("1 year"),
    "m24": _("2 years"),
}
_PATIENT_WHERE = {
    ("left", "knee"): _("Your left knee"),
    ("right", "knee"): _("Your right knee"),
    ("left", "hip"): _("Your left hip"),
    ("right", "hip"): _("Your right hip"),
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
            name, scale, better = (str(text) for text in _PATIENT_SERIES[(instrument, key)])
            series = patient_figures.PatientSeries(
                name=name, scale=scale, better=better, points=[(str(_PATIENT_TIMEPOINTS[t]), v) for t, v in points]
            )
            built.append(patient_figures.patient_chart(series, chart_id=f"patient-{episode.pk}-{instrument}-{key}"))
        if built:
            where = str(
                _("Your back")
                if episode.joint == Joint.SPINE
                else _PATIENT_WHERE.get((episode.side, episode.joint), _("Your treated joint"))
            )
            out.append({"where": where, "charts": built})
    return out
