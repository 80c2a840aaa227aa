"""Synthetic follow-up for the demo and the scale benchmark: follow-ups on the real schedule, answers that
follow a plausible course (better at 3-6 months, fading by 24), scored by the real engine, bulk inserted."""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from simple_history.utils import bulk_create_with_history

import scoring
from outcomes import asking
from outcomes.models import (
    HHS_EXAM,
    EnteredVia,
    FollowUp,
    FollowUpStatus,
    InstrumentWording,
    MissingCode,
    Mode,
    OutcomePlan,
    OutcomePlanItem,
    Response,
    Score,
    Timepoint,
    encode_missing,
    eq5d5l_value_set,
)
from outcomes.services import _expected_scores, follow_ups_build, instrument_version
from registry.demo import bulk_insert, ensure_protocols, insert_rows, reserve_ids
from registry.models import ProductType, Site, TreatmentEpisode

# Share of follow-ups answered at each timepoint (registries with active follow-up reach about these).
RESPONSE_RATE = {
    Timepoint.BASELINE: 0.95,
    Timepoint.M3: 0.88,
    Timepoint.M6: 0.84,
    Timepoint.M12: 0.76,
    Timepoint.M24: 0.64,
}
# Relative improvement of the latent severity by product and timepoint: synthetic, for charts, not evidence.
EFFECT = {
    "cell": {Timepoint.M3: 0.30, Timepoint.M6: 0.35, Timepoint.M12: 0.30, Timepoint.M24: 0.20},
    ProductType.PRP: {Timepoint.M3: 0.28, Timepoint.M6: 0.30, Timepoint.M12: 0.20, Timepoint.M24: 0.10},
    ProductType.HA: {Timepoint.M3: 0.18, Timepoint.M6: 0.15, Timepoint.M12: 0.08, Timepoint.M24: 0.03},
    ProductType.STEROID: {Timepoint.M3: 0.20, Timepoint.M6: 0.08, Timepoint.M12: 0.02, Timepoint.M24: 0.0},
}
_HHS_EXAM_SHAPE = {  # code -> (value when well, value when worst)
    "fixed_flexion_contracture_deg": (0, 25),
    "fixed_adduction_deg": (0, 8),
    "fixed_internal_rotation_deg": (0, 8),
    "limb_length_discrepancy_cm": (0, 2.5),
    "flexion_deg": (125, 70),
    "abduction_deg": (40, 15),
    "adduction_deg": (30, 10),
    "external_rotation_deg": (40, 15),
    "internal_rotation_deg": (30, 5),
}


_DEMO_LEVEL = {"tegner": (6, 1)}  # code -> (value when well, value when worst)


def _effect(product: str, timepoint: str) -> float:
    family = "cell" if product in ("bmac", "svf", "cultured_msc", "allogeneic_msc") else product
    return EFFECT.get(family, EFFECT[ProductType.HA]).get(timepoint, 0.0)


def _missing(seed: str, instrument: str, answers: dict[str, object], mode: str) -> str:
    """Why the demo's blank items are blank: left blank by the patient online or on the tablet; a reason staff
    recorded on paper or by phone. Its own random stream, so the rest of the demo is unchanged by it."""
    rng = random.Random(seed)  # noqa: S311 (synthetic demo data)
    staff = [MissingCode.DECLINED, MissingCode.NOT_APPLICABLE, MissingCode.UNREADABLE, MissingCode.NOT_ASKED]
    codes = {
        item.code: (MissingCode.SKIPPED if mode in (Mode.WEB, Mode.TABLET) else rng.choice(staff))
        for item in asking.items_asked(instrument)
        if answers.get(item.code) is None
    }
    return encode_missing(codes, [item.code for item in asking.items_asked(instrument)])


def _answers(rng: random.Random, instrument: str, severity: float) -> dict[str, object]:
    source = scoring.get_instrument("hhs" if instrument == HHS_EXAM else instrument)
    out: dict[str, object] = {}
    for item in source.items:
        if instrument == HHS_EXAM and item.respondent != "clinician":
            continue
        if instrument == "mhhs" and item.respondent != "patient":
            continue
        if rng.random() < 0.02 and item.kind == "choice":
            continue  # an unanswered item now and then
        sev = min(1.0, max(0.0, severity + rng.gauss(0, 0.12)))
        if item.code in _DEMO_LEVEL:
            # Tegner: the activity level of people with a painful knee, not elite sport for the mildest.
            best, worst = _DEMO_LEVEL[item.code]
            out[item.code] = round(best + (worst - best) * sev)
        elif item.kind == "choice":
            if isinstance(item.options[0].value, str):
                ranked = sorted(item.options, key=lambda o: -(o.points or 0))  # best first
                out[item.code] = ranked[min(len(ranked) - 1, int(sev * len(ranked)))].value
            else:
                # Printed best answer first (KOOS 0 = none, PROMIS 5 = excellent, Lysholm's most points), but for
                # the few printed worst first (IKDC 6 "yes / no", IKDC 10).
                ranked = list(item.options if item.best_first else reversed(item.options))
                out[item.code] = ranked[min(len(ranked) - 1, int(sev * len(ranked)))].value
        elif item.code in _HHS_EXAM_SHAPE:
            well, worst = _HHS_EXAM_SHAPE[item.code]
            out[item.code] = round(well + (worst - well) * sev, 0 if isinstance(well, int) and worst >= 5 else 1)
        elif item.kind == "decimal":
            out[item.code] = round(min(float(item.max or 100), max(0.0, sev * float(item.max or 100))), 1)
        else:
            out[item.code] = min(int(item.max or 10), max(int(item.min or 0), round(sev * (item.max or 10))))
    return out


def _value_sets(site_ids: Iterable[int]) -> dict[int, str | None]:
    """Each site's EQ-5D-5L value set, read once per chunk rather than once per follow-up."""
    rows = Site.objects.filter(pk__in=set(site_ids)).values_list(
        "pk", "follow_up_settings__eq5d5l_value_set", "country"
    )
    return {pk: eq5d5l_value_set(chosen=chosen or "", country=country or "") for pk, chosen, country in rows}


SCORE_COLUMNS = (
    "follow_up_id",
    "episode_id",
    "timepoint",
    "response_id",
    "instrument",
    "key",
    "value",
    "value_text",
    "scoring_version",
    "computed_at",
)


def seed_outcomes(
    *, rng: random.Random, episodes: Sequence[TreatmentEpisode], products: Mapping[int, str], as_of: date
) -> dict[str, int]:
    """Schedule the episodes' follow-ups and answer those whose window has opened, as a patient would.

    Everything is decided in memory first, then each table is written once (follow-ups with their final status,
    responses, scores), with history rows for the audited ones (registry.demo.bulk_insert)."""
    by_episode = {ep.pk: ep for ep in episodes}
    follow_ups = follow_ups_build(episodes=episodes, today=as_of)  # per episode, in window order
    if connection.vendor == "postgresql":
        # Reserve the ids now: responses and scores point at follow-ups that are inserted with their final status.
        for fu, pk in zip(follow_ups, reserve_ids(FollowUp, len(follow_ups)), strict=True):
            fu.pk = pk
    else:
        bulk_insert(follow_ups, FollowUp, reason="scheduled in bulk")
    severity = {
        ep.pk: min(0.95, max(0.1, 0.3 + 0.07 * (ep.kl_grade if ep.kl_grade is not None else 2.5) + rng.gauss(0, 0.1)))
        for ep in episodes
    }
    responses: list[Response] = []
    answered: list[tuple[FollowUp, dict[str, Response]]] = []
    for fu in follow_ups:
        ep = by_episode[fu.episode_id]
        if fu.window_opens > as_of or ep.patient.withdrawn_on is not None or not fu.instruments:
            continue
        if rng.random() >= RESPONSE_RATE[fu.timepoint]:
            continue
        if ep.patient.consent_pending:
            continue  # not asked anything before they answer the consent document (drawn first: same stream)
        last_day = min(fu.window_closes, as_of)
        day = fu.window_opens + timedelta(days=rng.randint(0, max(0, min(30, (last_day - fu.window_opens).days))))
        when = datetime.combine(day, time(10, 0), tzinfo=UTC) + timedelta(minutes=rng.randint(0, 480))
        sev = severity[ep.pk] * (1 - _effect(products.get(ep.pk, "ha"), fu.timepoint))
        mode = Mode.WEB if rng.random() < 0.7 else rng.choice([Mode.PHONE, Mode.PAPER, Mode.TABLET])
        instruments = fu.instruments if rng.random() < 0.93 else fu.instruments[:1]  # some answer only part
        per_fu: dict[str, Response] = {}
        for instrument in instruments:
            r = Response(
                follow_up=fu,
                instrument=instrument,
                answers=_answers(rng, instrument, sev),
                instrument_version=instrument_version(instrument),
                scoring_version=scoring.SCORING_VERSION,
                entered_via=EnteredVia.PATIENT_LINK,
                mode=Mode.WEB,
                language="en",
                started_at=when - timedelta(minutes=6),
                completed_at=when,
            )
            if instrument == HHS_EXAM or mode != Mode.WEB:
                r.mode = Mode.TABLET if instrument == HHS_EXAM else mode
            r.missing_codes = _missing(f"{fu.pk}:{instrument}", instrument, r.answers, r.mode)
            per_fu[instrument] = r
            responses.append(r)
        answered.append((fu, per_fu))
    # Staff-entered rows need a user; the demo's are all "patient via link" or tablet (also by link in the clinic).
    bulk_insert(responses, Response, reason="entered by patient")
    # Scores are the bulk of the rows (about 90 per patient): plain tuples, not model instances (see insert_rows).
    scores: list[tuple] = []
    now = datetime.now(tz=UTC)
    version = scoring.SCORING_VERSION
    value_sets = _value_sets({by_episode[fu.episode_id].patient.site_id for fu, _ in answered})
    for fu, per_fu in answered:
        value_set = value_sets[by_episode[fu.episode_id].patient.site_id]
        for (instrument, key), (value, text, response) in _expected_scores(fu, per_fu, value_set=value_set).items():
            scores.append(
                (
                    fu.pk,
                    fu.episode_id,
                    fu.timepoint,
                    response.pk if response else None,
                    instrument,
                    key,
                    value,
                    text,
                    version,
                    now,
                )
            )
        owed = set(fu.instruments)
        fu.status = FollowUpStatus.COMPLETED if owed <= set(per_fu) else FollowUpStatus.PARTIAL
        first = min(r.completed_at for r in per_fu.values())
        fu.days_from_index = (first.date() - by_episode[fu.episode_id].index_date).days
        fu.completed_at = (
            max(r.completed_at for r in per_fu.values()) if fu.status == FollowUpStatus.COMPLETED else None
        )
    # Scores keep no history: they are recomputed from the answers.
    insert_rows(Score, SCORE_COLUMNS, scores)
    if connection.vendor == "postgresql":
        # One row per follow-up, in its final state, and one creation history row holding that state.
        bulk_insert(follow_ups, FollowUp, reason="scheduled in bulk", keep_ids=True)
    else:
        FollowUp.objects.bulk_update(
            [fu for fu, _ in answered], ["status", "days_from_index", "completed_at"], batch_size=2000
        )
    return {"follow_ups": len(follow_ups), "responses": len(responses), "scores": len(scores)}


# Demo wording ----------------------------------------------------------------------------------------------

DEMO_WORDING_DIR = Path(__file__).resolve().parent / "demo_wording"


def demo_wording_files() -> list[Path]:
    return sorted(DEMO_WORDING_DIR.glob("*.json"))


@functools.cache
def _demo_wording(path: Path, mtime_ns: int) -> tuple[dict, str, str, str]:
    """(content, instrument, language, source) of one demo wording file, parsed and validated once per version."""
    content = json.loads(path.read_text(encoding="utf-8"))
    wording = scoring.load_wording(content)
    return content, wording.instrument, wording.language, wording.source[:200]


def demo_wording_load(*, sites: Iterable[Any]) -> int:
    """Load the project's demo wording (outcomes/demo_wording/, each marked as demo wording, not the validated
    text) at each site that has none for that instrument and language, so every demo questionnaire can be
    answered by link. A site's own wording is never replaced. Returns how many rows were created.

    One query per site for what it has, one bulk insert (with history rows) for what it lacks: every language
    of every instrument is 75 files, and the tests create a site with them for nearly every test."""
    files = [_demo_wording(path, path.stat().st_mtime_ns) for path in demo_wording_files()]
    rows = []
    for site in sites:
        have = set(InstrumentWording.objects.filter(site=site).values_list("instrument", "language"))
        rows += [
            InstrumentWording(site=site, instrument=instrument, language=language, content=content, source=source)
            for content, instrument, language, source in files
            if (instrument, language) not in have
        ]
    # On PostgreSQL one row per INSERT: Django's multi-row insert there binds each column as an array, and
    # psycopg's client-side binding quotes the big JSON array in Python, which took 2-3 times longer per site.
    batch_size = 1 if connection.vendor == "postgresql" else 500
    with transaction.atomic():
        bulk_create_with_history(
            rows, InstrumentWording, batch_size=batch_size, default_change_reason="demo wording loaded"
        )
    return len(rows)


# Demo outcome plans --------------------------------------------------------------------------------------

_ALL = ("baseline", "m3", "m6", "m12", "m24")
_SEEN = ("baseline", "m6", "m12", "m24")  # the clinic visits of a trial: the longer knee forms are asked there
# Each demo protocol's plans (joint -> instrument -> timepoints), so that every instrument a plan may ask is in the
# demo: the cartilage and biologics trial of BMAC (KOOS, from which KOOS JR and KOOS-12 are derived, with IKDC,
# Lysholm and Tegner), the adipose-cell protocol (KOOS-12 or HOOS, from which HOOS JR is derived, with PROMIS-10
# and EQ-5D-5L), and PRP in the ICHOM and US joint-replacement programmes' short forms (KOOS JR, HOOS JR).
DEMO_PLANS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "BMAC-KNEE": {
        "knee": {
            "koos": _ALL,
            "vas": _ALL,
            "eq5d5l": _ALL,
            "ikdc": _SEEN,
            "lysholm": _SEEN,
            "tegner": ("baseline", "m12", "m24"),
        },
    },
    "ADSC-JOINT": {
        "knee": {"koos12": _ALL, "vas": _ALL, "promis10": _SEEN, "eq5d5l": _ALL},
        "hip": {"hoos": _ALL, "mhhs": _ALL, "vas": _ALL, "promis10": _SEEN, "eq5d5l": _ALL},
    },
    "PRP-STD": {
        "knee": {"koos_jr": _ALL, "vas": _ALL, "promis10": _SEEN},
        "hip": {"hoos_jr": _ALL, "vas": _ALL, "promis10": _SEEN},
    },
}


def demo_plans_load(*, sites: Iterable[Site]) -> int:
    """The demo protocols' outcome plans at each site (DEMO_PLANS), where the protocol has no plan for the joint
    yet: a site's own plans are never changed. Returns how many plans were created."""
    created = 0
    for site in sites:
        for protocol in ensure_protocols(site):
            for joint, instruments in DEMO_PLANS.get(protocol.code, {}).items():
                if OutcomePlan.objects.filter(protocol=protocol, joint=joint).exists():
                    continue
                plan = OutcomePlan.objects.create(
                    name=f"{protocol.code} {joint} (demo)", joint=joint, site=site, protocol=protocol
                )
                OutcomePlanItem.objects.bulk_create(
                    OutcomePlanItem(plan=plan, timepoint=tp, instrument=instrument)
                    for instrument, timepoints in instruments.items()
                    for tp in timepoints
                )
                created += 1
    return created
