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
    assert TODAY  # the cohort is dated from today
