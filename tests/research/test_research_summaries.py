"""Summaries agree with an independent computation (numpy and scipy; lifelines for Kaplan-Meier), and small
cells are suppressed at the threshold and not one above it, complementary cells included."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest
from django.test import override_settings
from lifelines import KaplanMeierFitter
from scipy import stats

import scoring
from outcomes.models import Score
from registry.models import TreatmentEpisode
from research.summaries import scores as summaries
from tests import factories
from tests.research.conftest import TODAY, add_scores, make_episode, make_patient

pytestmark = pytest.mark.django_db
SCORES = "/api/v1/summaries/scores/"
KM = "/api/v1/summaries/arthroplasty/"


def koos_step(rng: random.Random) -> float:
    return rng.randint(0, 36) * 100 / 36  # KOOS pain moves in steps of 1/36 of its range


@pytest.fixture
def trial(site_a):
    """Knee episodes: 14 BMAC and 13 PRP at KL 2-3 with KOOS pain and ADL at baseline, 3 and 12 months (some
    missing), and 4 HA at KL 4 that the filters leave out."""
    rng = random.Random(20240611)
    data: dict[str, list[dict[str, float | None]]] = {"bmac": [], "prp": []}
    for product, count in (("bmac", 14), ("prp", 13), ("ha", 4)):
        for n in range(count):
            episode = make_episode(
                make_patient(site_a), product=product, kl_grade=4 if product == "ha" else 2 + n % 2, dose=None
            )
            values = {}
            for timepoint in ("baseline", "m3", "m12"):
                if timepoint != "baseline" and rng.random() < 0.15:
                    continue
                pain, adl = koos_step(rng), koos_step(rng)
                if product == "bmac" and n == 0 and timepoint == "m12":
                    pain = values["baseline"][0] + 15.0  # exactly the MCII: counts as reached (inclusive)
                values[timepoint] = (pain, adl)
                add_scores(episode, timepoint, "koos", {"pain": pain, "adl": adl})
            if product in data:
                data[product].append(values)
    return data


def t_interval(values: list[float]) -> tuple[float, float, float, float]:
    array = np.array(values)
    mean, sd = array.mean(), array.std(ddof=1)
    low, high = stats.t.interval(0.95, len(array) - 1, loc=mean, scale=sd / np.sqrt(len(array)))
    return mean, sd, low, high


def oarsi(pain0: float, pain1: float, fun0: float, fun1: float) -> bool | None:
    """Pham 2004 without a patient global, written out independently (inputs 0-100, higher = worse)."""

    def improved(before: float, after: float, rel: float, points: float) -> bool:
        return before > 0 and before - after >= points and before - after >= rel * before - 1e-9

    if improved(pain0, pain1, 0.5, 20) or improved(fun0, fun1, 0.5, 20):
        return True
    moderate = improved(pain0, pain1, 0.2, 10) + improved(fun0, fun1, 0.2, 10)
    return True if moderate == 2 else (None if moderate == 1 else False)


@override_settings(RESEARCH_MIN_CELL_SIZE=1)  # suppression is tested below; here every number is compared
def test_score_summary_agrees_with_numpy_and_scipy(api_a, trial):
    body = api_a.json(SCORES, instrument="koos", key="pain", group_by="product_type", kl_grade="2,3")
    groups = {g["group"]["product_type"]: g for g in body["groups"]}
    assert set(groups) == {"bmac", "prp"}
    threshold = body["mcii"]["thresholds"][0]
    assert threshold["value"] == 15 and threshold["joint"] == "knee" and "Mostafaee" in threshold["citation"]
    for product, episodes in trial.items():
        cells = {c["timepoint"]: c for c in groups[product]["timepoints"]}
        for timepoint in ("baseline", "m3", "m12"):
            present = [e for e in episodes if timepoint in e]
            mean, sd, low, high = t_interval([e[timepoint][0] for e in present])
            level = cells[timepoint]["level"]
            assert level["n"] == level["n_subjects"] == len(present)
            assert level["mean"] == pytest.approx(mean) and level["sd"] == pytest.approx(sd)
            assert (level["ci_low"], level["ci_high"]) == (pytest.approx(low), pytest.approx(high))
            if timepoint == "baseline":
                assert cells[timepoint]["change"] is None and cells[timepoint]["mcii"] is None
                continue
            pairs = [e for e in present if "baseline" in e]
            changes = [e[timepoint][0] - e["baseline"][0] for e in pairs]
            mean, sd, low, high = t_interval(changes)
            change = cells[timepoint]["change"]
            assert change["n"] == len(pairs) and not change["suppressed"]
            assert change["mean"] == pytest.approx(mean) and change["sd"] == pytest.approx(sd)
            assert (change["ci_low"], change["ci_high"]) == (pytest.approx(low), pytest.approx(high))
            reached = sum(c >= 15 - 1e-9 for c in changes)
            mcii = cells[timepoint]["mcii"]
            assert (mcii["n"], mcii["reached"]) == (len(pairs), reached)
            assert mcii["share"] == pytest.approx(reached / len(pairs))
            wilson = stats.binomtest(reached, len(pairs)).proportion_ci(method="wilson")
            assert (mcii["ci_low"], mcii["ci_high"]) == (pytest.approx(wilson.low), pytest.approx(wilson.high))
            status = [
                oarsi(100 - e["baseline"][0], 100 - e[timepoint][0], 100 - e["baseline"][1], 100 - e[timepoint][1])
                for e in pairs
            ]
            determinate = [s for s in status if s is not None]
            responder = cells[timepoint]["omeract_oarsi"]
            assert responder["n"] == len(determinate) and responder["n_indeterminate"] == status.count(None)
            if determinate:
                assert responder["share"] == pytest.approx(sum(determinate) / len(determinate))
                assert responder["share_lower_bound"] == pytest.approx(sum(determinate) / len(status))


def test_the_overall_row_pools_the_groups(api_a, trial):
    body = api_a.json(SCORES, instrument="koos", key="pain", group_by="product_type", kl_grade="2,3", timepoint="m12")
    overall = body["overall"]["timepoints"]
    assert [c["timepoint"] for c in overall] == ["m12"]
    pooled = [e["m12"][0] for episodes in trial.values() for e in episodes if "m12" in e]
    assert overall[0]["level"]["n"] == len(pooled)
    assert overall[0]["level"]["mean"] == pytest.approx(np.mean(pooled))


def test_relative_mcii_is_refused_where_none_is_published(api_a, trial):
    body = api_a.json(SCORES, instrument="koos", key="pain", mcii_kind="relative")
    assert body["mcii"]["thresholds"] == [] and "No relative MCII" in body["mcii"]["note"]


# Kaplan-Meier ---------------------------------------------------------------------------------------------


@pytest.fixture
def survival(site_a):
    """30 knee episodes indexed 200-900 days ago; 9 arthroplasties on known days (two on the same day)."""
    rng = random.Random(99)
    durations, events = [], []
    for n in range(30):
        followed = 200 + 23 * n
        episode = make_episode(make_patient(site_a), index_days_ago=followed, kl_grade=3 if n % 3 else 2)
        day = None
        if n % 3 == 0 and n < 27:
            day = 150 if n in (3, 6) else rng.randint(60, followed - 1)
            factories.SurgeryFactory(
                episode=episode,
                surgery_date=episode.index_date + timedelta(days=day),
                surgery_type="total_arthroplasty",
            )
        if n == 1:  # an arthroscopy is not the event
            factories.SurgeryFactory(
                episode=episode, surgery_date=episode.index_date + timedelta(days=40), surgery_type="arthroscopy"
            )
        durations.append(day if day is not None else followed)
        events.append(day is not None)
    return durations, events


@override_settings(RESEARCH_MIN_CELL_SIZE=1)
def test_kaplan_meier_agrees_with_lifelines(api_a, survival):
    durations, events = survival
    body = api_a.json(KM, censoring="administrative", days="100,365,600")
    curve = body["overall"] or body["groups"][0]
    assert curve["n"] == 30 and curve["n_events"] == sum(events)
    kmf = KaplanMeierFitter(alpha=0.05).fit(durations, events)
    ci = kmf.confidence_interval_
    table = kmf.event_table
    for step in curve["curve"][1:]:
        day = step["day"]
        assert step["survival"] == pytest.approx(kmf.survival_function_.loc[day].iloc[0])
        assert step["ci_low"] == pytest.approx(ci.loc[day].iloc[0])
        assert step["ci_high"] == pytest.approx(ci.loc[day].iloc[1])
        assert step["n_at_risk"] == table.loc[day, "at_risk"]
    for row in curve["table"]:
        if row["suppressed"]:
            assert sum(d >= row["day"] for d in durations) < 11
            continue
        assert row["survival"] == pytest.approx(kmf.survival_function_at_times(row["day"]).iloc[0])
        assert row["n_at_risk"] == sum(d >= row["day"] for d in durations)


def test_kaplan_meier_curve_stops_where_fewer_than_the_real_minimum_are_at_risk(api_a, site_a):
    # The default minimum cell (11), not 1: the cut-off is the number still at risk at each step, never the group's
    # total (15 here, which would release the steps with 10 and 9 at risk too).
    for n in range(15):
        episode = make_episode(make_patient(site_a), index_days_ago=800)
        if n < 7:  # arthroplasties on days 100, 200, ..., 700: 15, 14, ..., 9 at risk at each
            factories.SurgeryFactory(
                episode=episode,
                surgery_date=episode.index_date + timedelta(days=100 * (n + 1)),
                surgery_type="total_arthroplasty",
            )
    body = api_a.json(KM, censoring="administrative", days="450,550,650")
    assert body["min_cell_size"] == 11
    curve = body["groups"][0]
    assert curve["n"] == 15 and curve["n_events"] == 7
    assert [(step["day"], step["n_at_risk"]) for step in curve["curve"]] == [
        (0, 15),
        (100, 15),
        (200, 14),
        (300, 13),
        (400, 12),
        (500, 11),
    ]
    assert curve["curve_truncated_after_day"] == 500
    assert curve["curve"][-1]["survival"] == pytest.approx(10 / 15)
    rows = {row["day"]: row for row in curve["table"]}
    assert rows[450]["n_at_risk"] == 11 and not rows[450]["suppressed"]  # at risk on day 450: 15 - 4 = 11
    for day in (550, 650):  # 10 and 9 at risk: withheld, with no number left behind
        assert rows[day]["suppressed"]
        assert rows[day]["n_at_risk"] is None and rows[day]["survival"] is None
        assert rows[day]["cumulative_events"] is None


def test_kaplan_meier_censors_at_last_contact_by_default(api_a, site_a):
    for n in range(12):
        episode = make_episode(make_patient(site_a), index_days_ago=800)
        if n < 6:
            add_scores(episode, "m12", "vas", {"vas_mm": 20.0})  # last heard of on day 365
        else:
            add_scores(episode, "m3", "vas", {"vas_mm": 20.0})  # last heard of on day 90
    body = api_a.json(KM, days="90,91,365,366")
    rows = {r["day"]: r for r in body["groups"][0]["table"]}
    assert rows[90]["n_at_risk"] == 12
    assert rows[91]["suppressed"]  # 6 left at risk after day 90: fewer than 11
    administrative = api_a.json(KM, days="366", censoring="administrative")
    assert administrative["groups"][0]["table"][0]["n_at_risk"] == 12


def test_spine_episodes_are_left_out_of_time_to_arthroplasty(api_a, site_a):
    for _ in range(11):
        make_episode(make_patient(site_a), joint="spine", side="midline", kl_grade=None)
    body = api_a.json(KM)
    assert body["groups"] == [] and "spine" in body["excluded"]


# Suppression ----------------------------------------------------------------------------------------------


def _subjects(site, count: int, product: str = "bmac", bilateral: bool = False) -> None:
    for n in range(count):
        patient = make_patient(site)
        for side in ("left", "right") if bilateral else ("right",):
            episode = make_episode(patient, product=product, side=side)
            add_scores(episode, "baseline", "vas", {"vas_mm": 40.0 + n})
            add_scores(episode, "m12", "vas", {"vas_mm": 20.0 + n})


@pytest.mark.parametrize("count, suppressed", [(10, True), (11, False), (12, False)])
def test_a_cell_is_suppressed_below_the_threshold_and_shown_at_and_above_it(api_a, site_a, count, suppressed):
    _subjects(site_a, count)
    body = api_a.json(SCORES, instrument="vas", key="vas_mm")
    assert body["min_cell_size"] == 11
    baseline, m12 = (c for c in body["groups"][0]["timepoints"] if c["timepoint"] in ("baseline", "m12"))
    for cell in (baseline["level"], m12["level"], m12["change"], m12["mcii"]):
        assert cell["suppressed"] is suppressed
        if suppressed:
            assert cell["n"] is None and cell["mean" if "mean" in cell else "share"] is None
            assert cell["suppression"].startswith("primary")
        else:
            assert cell["n"] == count
    km = api_a.json(KM)["groups"][0]
    assert km["suppressed"] is suppressed and (km["n"] is None) is suppressed


def test_suppression_counts_subjects_not_episodes(api_a, site_a):
    _subjects(site_a, 6, bilateral=True)  # 12 episodes, 6 subjects
    cell = api_a.json(SCORES, instrument="vas", key="vas_mm")["groups"][0]["timepoints"][0]["level"]
    assert cell["suppressed"]


def test_a_cell_derivable_from_the_overall_row_is_suppressed_too(api_a, site_a):
    _subjects(site_a, 10, "bmac")
    _subjects(site_a, 11, "prp")
    _subjects(site_a, 12, "ha")
    body = api_a.json(SCORES, instrument="vas", key="vas_mm", group_by="product_type", timepoint="baseline")
    level = {g["group"]["product_type"]: g["timepoints"][0]["level"] for g in body["groups"]}
    assert level["bmac"]["suppression"].startswith("primary")
    assert level["prp"]["suppression"].startswith("secondary")  # else bmac = overall - prp - ha
    assert not level["ha"]["suppressed"] and level["ha"]["n"] == 12
    assert body["overall"]["timepoints"][0]["level"]["n"] == 33
    km = {g["group"]["product_type"]: g for g in api_a.json(KM, group_by="product_type")["groups"]}
    assert km["bmac"]["suppressed"] and km["prp"]["suppressed"] and not km["ha"]["suppressed"]


@override_settings(RESEARCH_MIN_CELL_SIZE=3)
def test_the_threshold_is_configurable(api_a, site_a):
    _subjects(site_a, 3)
    body = api_a.json(SCORES, instrument="vas", key="vas_mm")
    assert body["min_cell_size"] == 3 and not body["groups"][0]["timepoints"][0]["level"]["suppressed"]
    with override_settings(RESEARCH_MIN_CELL_SIZE=4):  # one more than the cell holds: the same cell withheld
        body = api_a.json(SCORES, instrument="vas", key="vas_mm")
    level = body["groups"][0]["timepoints"][0]["level"]
    assert body["min_cell_size"] == 4 and level["suppressed"] and level["suppression"].startswith("primary")


# The database's counting against a per-episode computation ------------------------------------------------


@pytest.fixture
def mixed_cohort(site_a, site_b):
    """Random knee, hip and spine episodes, some bilateral, at two sites, with repeat administrations (some
    after today), adverse events with and without resolution, arthroplasties and other surgeries (some dated
    before the index), scores at several timepoints with gaps and unscorable values; plus excluded patients."""
    rng = random.Random(7)
    for n in range(40):
        patient = make_patient(site_a if n % 5 else site_b)
        joint = rng.choice(["knee", "knee", "hip", "spine"])
        sides = (
            ("left", "right")
            if joint != "spine" and rng.random() < 0.4
            else ("midline" if joint == "spine" else "right",)
        )
        for side in sides:
            episode = make_episode(
                patient,
                joint=joint,
                side=side,
                kl_grade=None if joint == "spine" else rng.choice([None, 1, 2, 3, 4]),
                product=rng.choice(["bmac", "prp", "ha"]),
                dose=None,
                index_days_ago=rng.choice([-3, 30, 100, 400, 700, 1000]),
                administrations=rng.choice([1, 1, 2]),
            )
            for _ in range(rng.choice([0, 0, 1, 2])):
                onset = episode.index_date + timedelta(days=rng.randint(-10, 900))
                resolved = onset + timedelta(days=rng.randint(1, 200)) if rng.random() < 0.5 else None
                factories.AdverseEventFactory(episode=episode, onset_date=onset, resolution_date=resolved)
            for _ in range(rng.choice([0, 0, 0, 1, 2])):
                factories.SurgeryFactory(
                    episode=episode,
                    surgery_date=episode.index_date + timedelta(days=rng.randint(-20, 900)),
                    surgery_type=rng.choice(["total_arthroplasty", "partial_arthroplasty", "arthroscopy"]),
                )
            instrument = {"knee": "koos", "hip": "hoos", "spine": "vas"}[joint]
            for timepoint in ("baseline", "m3", "m12", "m24"):
                if rng.random() < 0.25:
                    continue
                if instrument == "vas":
                    add_scores(episode, timepoint, "vas", {"vas_mm": float(rng.randint(0, 100))})
                    continue
                pain = None if rng.random() < 0.1 else koos_step(rng)
                add_scores(episode, timepoint, instrument, {"pain": pain, "adl": rng.randint(0, 68) * 100 / 68})
    for flags in ({"consent_research": False}, {"withdrawn_on": TODAY - timedelta(days=3)}):
        episode = make_episode(make_patient(site_a, **flags), kl_grade=2)
        factories.SurgeryFactory(episode=episode, surgery_type="total_arthroplasty")
        add_scores(episode, "baseline", "koos", {"pain": 50.0, "adl": 50.0})


def reference_durations(censoring: str, sites) -> list[tuple[TreatmentEpisode, int, bool]]:
    """(episode, duration, event) of each released non-spine episode, one episode at a time from the models."""
    out = []
    episodes = TreatmentEpisode.objects.filter(
        patient__site__in=sites, patient__consent_research=True, patient__withdrawn_on__isnull=True
    ).exclude(joint="spine")
    for episode in episodes:
        horizon = (TODAY - episode.index_date).days
        arthroplasties = [s.surgery_date for s in episode.surgeries.all() if s.surgery_type.endswith("arthroplasty")]
        if arthroplasties:
            out.append((episode, max(0, (min(arthroplasties) - episode.index_date).days), True))
            continue
        if censoring == "administrative":
            out.append((episode, max(0, horizon), False))
            continue
        known = [0]
        known += [f.days_from_index for f in episode.follow_ups.all() if f.days_from_index is not None]
        dates = [a.administered_on for a in episode.administrations.all()]
        dates += [d for e in episode.adverse_events.all() for d in (e.onset_date, e.resolution_date) if d]
        dates += [s.surgery_date for s in episode.surgeries.all()]
        known += [(d - episode.index_date).days for d in dates]
        out.append((episode, max(0, min(horizon, max(known))), False))
    return out


@pytest.mark.parametrize("censoring", ["last_contact", "administrative"])
@override_settings(RESEARCH_MIN_CELL_SIZE=1)
def test_kaplan_meier_counted_in_the_database_agrees_per_episode(api_ab, site_a, site_b, mixed_cohort, censoring):
    followed = reference_durations(censoring, [site_a, site_b])
    assert any(event for _, _, event in followed) and any(not event for _, _, event in followed)
    body = api_ab.json(KM, group_by="kl_grade", censoring=censoring, days="0,30,100,365,1000")
    groups = {g["group"]["kl_grade"]: g for g in body["groups"]}
    expected: dict = {}
    for episode, duration, event in followed:
        expected.setdefault(episode.kl_grade, []).append((episode.patient_id, duration, event))
    assert set(groups) == set(expected)
    everyone = [(e.patient_id, d, ev) for e, d, ev in followed]
    for cell, rows in [*((groups[g], rows) for g, rows in expected.items()), (body["overall"], everyone)]:
        durations, events = [d for _, d, _ in rows], [ev for _, _, ev in rows]
        assert (cell["n"], cell["n_subjects"]) == (len(rows), len({p for p, _, _ in rows}))
        assert cell["n_events"] == sum(events)
        for row in cell["table"]:
            if row["suppressed"]:  # none left at risk
                assert not any(d >= row["day"] for d in durations)
                continue
            assert row["n_at_risk"] == sum(d >= row["day"] for d in durations)
            assert row["cumulative_events"] == sum(
                ev and d <= row["day"] for d, ev in zip(durations, events, strict=True)
            )
        if any(events):
            kmf = KaplanMeierFitter(alpha=0.05).fit(durations, events)
            for step in cell["curve"][1:]:
                assert step["survival"] == pytest.approx(kmf.survival_function_.loc[step["day"]].iloc[0])
                assert step["n_at_risk"] == kmf.event_table.loc[step["day"], "at_risk"]
        else:
            assert cell["curve"] == [{"day": 0, "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n_at_risk": len(rows)}]


def shown(cell: dict, subjects: int) -> bool:
    """Whether the cell's numbers are shown; a withheld cell must be so for a reason (min cell size 1 here)."""
    if cell["suppressed"]:
        assert subjects == 0 or cell["suppression"].startswith("secondary"), cell
    return not cell["suppressed"]


@pytest.mark.parametrize("instrument", ["koos", "hoos"])
@override_settings(RESEARCH_MIN_CELL_SIZE=1)
def test_score_cells_agree_per_episode_with_bilateral_subjects(api_ab, site_a, site_b, mixed_cohort, instrument):
    body = api_ab.json(SCORES, instrument=instrument, key="pain", group_by="site")
    episodes = TreatmentEpisode.objects.filter(
        patient__consent_research=True, patient__withdrawn_on__isnull=True, follow_ups__scores__instrument=instrument
    ).distinct()
    values: dict = {}  # site -> [(subject, joint, {(timepoint, key): value})]
    for episode in episodes:
        scores = Score.objects.filter(follow_up__episode=episode, instrument=instrument, value__isnull=False)
        by_slot = {(s.follow_up.timepoint, s.key): s.value for s in scores}
        values.setdefault(episode.patient.site.code, []).append((episode.patient_id, episode.joint, by_slot))
    groups = {g["group"]["site"]: {c["timepoint"]: c for c in g["timepoints"]} for g in body["groups"]}
    assert set(groups) == set(values)
    overall = {c["timepoint"]: c for c in body["overall"]["timepoints"]}
    thresholds = {t["joint"]: t["signed_value"] for t in body["mcii"]["thresholds"]}
    assert all(t > 0 for t in thresholds.values())  # higher is better: reached when the change is at least t
    bilateral = 0
    for cells, eps in [*((groups[site], eps) for site, eps in values.items()), (overall, sum(values.values(), []))]:
        for timepoint in ("baseline", "m3", "m12", "m24"):
            cell = cells[timepoint]
            present = [(p, v[(timepoint, "pain")]) for p, _, v in eps if (timepoint, "pain") in v]
            bilateral += len(present) - len({p for p, _ in present})
            if shown(cell["level"], len({p for p, _ in present})):
                assert cell["level"]["n"] == len(present) and cell["level"]["n_subjects"] == len(
                    {p for p, _ in present}
                )
                assert cell["level"]["mean"] == pytest.approx(np.mean([v for _, v in present]))
            if timepoint == "baseline":
                continue
            pairs = [(p, j, v) for p, j, v in eps if {("baseline", "pain"), (timepoint, "pain")} <= set(v)]
            change = cell["change"]
            if shown(change, len({p for p, _, _ in pairs})):
                assert (change["n"], change["n_subjects"]) == (len(pairs), len({p for p, _, _ in pairs}))
                diffs = [v[(timepoint, "pain")] - v[("baseline", "pain")] for _, _, v in pairs]
                assert change["mean"] == pytest.approx(np.mean(diffs))
            with_threshold = [(p, v, thresholds[j]) for p, j, v in pairs if j in thresholds]
            mcii = cell["mcii"]
            if shown(mcii, len({p for p, _, _ in with_threshold})):
                assert (mcii["n"], mcii["n_subjects"]) == (len(with_threshold), len({p for p, _, _ in with_threshold}))
                assert mcii["n_without_threshold"] == (len(pairs) - len(with_threshold) if thresholds else None)
                assert mcii["reached"] == sum(
                    v[(timepoint, "pain")] - v[("baseline", "pain")] >= t - 1e-9 for _, v, t in with_threshold
                )
            keys = [("baseline", "pain"), (timepoint, "pain"), ("baseline", "adl"), (timepoint, "adl")]
            status = [(p, oarsi(*(100 - v[k] for k in keys))) for p, _, v in eps if set(keys) <= set(v)]
            determinate = [(p, s) for p, s in status if s is not None]
            responder = cell["omeract_oarsi"]
            if shown(responder, len({p for p, _ in determinate})):
                assert (responder["n"], responder["n_subjects"]) == (len(determinate), len({p for p, _ in determinate}))
                assert responder["n_indeterminate"] == len(status) - len(determinate)
                assert responder["responders"] == sum(s for _, s in determinate)
    assert bilateral  # the cohort does test n_subjects < n


@pytest.mark.django_db(False)
def test_the_responder_from_its_two_criteria_is_the_scoring_engines():
    rng = random.Random(3)
    edges = [0.0, 9.9, 10.0, 12.5, 20.0, 30.3, 40.3, 50.0, 60.0, 100.0, -1.0, 100.5]
    for _ in range(20000):
        values = [rng.choice(edges) if rng.random() < 0.5 else rng.randint(0, 72) * 100 / 72 for _ in range(4)]
        try:
            expected = scoring.omeract_oarsi_responder(
                pain_baseline=values[0],
                pain_followup=values[1],
                function_baseline=values[2],
                function_followup=values[3],
            )["responder"]
        except scoring.ScoringError:
            expected = "error"
        got = summaries._omeract(*values)
        assert (got if not isinstance(got, Exception) else "error") == expected, values
