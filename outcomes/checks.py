"""`manage.py check` warns when a site's outcome plans ask instruments for which it has no patient-facing wording in
its language: those are never sent by link (outcomes.asking) and staff must collect them by phone, on paper or in
the clinic."""

from __future__ import annotations

from typing import Any

from django.core.checks import Warning, register
from django.db import DatabaseError

import scoring
from outcomes import asking, services
from outcomes.models import HHS_EXAM, OutcomePlan
from registry.models import Site


def missing_wording() -> dict[Any, list[str]]:
    """Site -> the patient-answered instruments its active plans ask that have no wording in the site's language."""
    plans = list(OutcomePlan.objects.filter(active=True).prefetch_related("items"))
    out = {}
    for site in Site.objects.order_by("code"):
        asked = {
            item.instrument
            for plan in plans
            if plan.site_id in (None, site.pk)
            and (plan.protocol_id is None or plan.protocol.site_id == site.pk)
            for item in plan.items.all()
            if item.instrument != HHS_EXAM
        }
        worded = asking.worded_instruments(site.pk, site.language)
        missing = sorted(i for i in asked if asking.wording_instrument(i) not in worded)
        if missing:
            out[site] = missing
    return out


@register()
def check_patient_wording(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    try:
        missing = missing_wording()
    except (DatabaseError, RuntimeError):
        return []  # not migrated yet, or no database here (a test without one): nothing to check
    return [
        Warning(
            f"Site {site.code} has no patient wording in {site.language!r} for: {', '.join(names)}.",
            hint="These questionnaires are never sent by link: staff collect them by phone, on paper or in the "
            "clinic. Load the validated wording under Outcomes > Instrument wordings.",
            obj=site.code,
            id="outcomes.W001",
        )
        for site, names in missing.items()
    ]


@register()
def check_stale_scores(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Scores computed by other scoring rules than the engine's: after a deploy with a new scoring version, until
    the beat task (or `manage.py rescore`) has recomputed them. One row read through the scoring_version index."""
    try:
        # A slice, not first(): first() would order by id and walk the whole table to find none.
        version = next(iter(services.scores_stale().values_list("scoring_version", flat=True)[:1]), None)
    except (DatabaseError, RuntimeError):
        return []  # not migrated yet, or no database here
    if version is None:
        return []
    return [
        Warning(
            f"Stored scores of scoring version {version!r} (perhaps others too) differ from the engine's "
            f"{scoring.SCORING_VERSION!r}: they are being rescored.",
            hint="Celery beat rescores them in batches every few minutes (outcomes.tasks.rescore_stale_scores); "
            "`manage.py rescore` does it at once. Research rows say `stale: true` until then.",
            id="outcomes.W002",
        )
    ]
