"""The second set reaches researchers: long and wide scores, the data dictionary and the summaries carry KOOS JR,
HOOS JR, KOOS-12, PROMIS-10, IKDC, Lysholm, Tegner and EQ-5D-5L, the short forms derived from a full KOOS or HOOS,
and the value set of each EQ-5D-5L index."""

from __future__ import annotations

import pytest

import scoring
from outcomes import services
from outcomes.models import FollowUp, OutcomePlan, OutcomePlanItem
from research import deid
from tests.research.conftest import make_episode, make_patient, second_subject

pytestmark = pytest.mark.django_db

KNEE = ("koos", "koos_jr", "koos12", "promis10", "ikdc", "lysholm", "tegner", "eq5d5l")
SCORED = (*KNEE, "koos_jr_from_koos", "koos12_from_koos", "womac_from_koos")


def answers(instrument):
    out = {}
    for item in scoring.get_instrument(instrument).items:
        out[item.code] = item.options[1].value if item.kind == "choice" else (item.min + item.max) // 2
    return out


@pytest.fixture
def answered(site_a):
    """A knee episode at a Korean site whose plan asks the knee instruments at 3 months, all answered; a hip
    episode whose HOOS gives the HOOS JR."""
    site_a.country = "KR"
    site_a.save()
    for joint, instruments in (("knee", KNEE), ("hip", ("hoos",))):
        plan = OutcomePlan.objects.create(name=f"Second set {joint}", joint=joint, site=site_a)
        OutcomePlanItem.objects.bulk_create(
            [OutcomePlanItem(plan=plan, timepoint="m3", instrument=i) for i in instruments]
        )
    second_subject(site_a, joint="spine")  # a site's rows are released from k subjects (k=2 here)
    patient = make_patient(site_a, given_name="Ottoline", family_name="Wetherby")
    for joint, instruments in (("knee", KNEE), ("hip", ("hoos",))):
        episode = make_episode(patient, joint=joint, index_days_ago=90)
        fu = FollowUp.objects.get(episode=episode, timepoint="m3")
        for instrument in instruments:
            services.response_submit(
                follow_up=fu, instrument=instrument, answers=answers(instrument), by=None, mode="web"
            )
    return patient


def test_long_scores_carry_every_instrument_and_the_value_set(api_a, answered):
    rows = api_a.all_pages("/api/v1/scores/")
    got = {(r["instrument"], r["key"]): (r["value"], r["value_text"]) for r in rows}
    for instrument in (*SCORED, "hoos_jr_from_hoos"):
        for key in scoring.get_instrument(instrument).output_keys:
            assert (instrument, key) in got, (instrument, key)
    index = scoring.score("eq5d5l", answers("eq5d5l"), value_set="KR").scores["index"]
    assert got[("eq5d5l", "index")] == (pytest.approx(index), None)
    assert got[("eq5d5l", "value_set")] == (None, "KR")
    koos = answers("koos")
    jr = {code: koos[source] for code, source in scoring.get_instrument("koos_jr_from_koos").item_map}
    assert got[("koos_jr_from_koos", "interval")][0] == pytest.approx(scoring.score("koos_jr", jr).scores["interval"])
    from_csv = api_a.csv("/api/v1/scores/", instrument="eq5d5l")
    assert sorted((r["key"], r["value_text"]) for r in from_csv) == [("index", ""), ("value_set", "KR")]


def test_wide_scores_have_a_column_per_output_and_the_value_set(api_a, answered):
    wide = api_a.all_pages("/api/v1/scores/wide/", instrument=",".join(SCORED))
    knee = next(r for r in wide if r["koos_pain"] is not None)
    for column in deid.wide_score_columns(SCORED):
        assert column.name in knee
    assert knee["eq5d5l_value_set"] == "KR"
    assert knee["ikdc_ikdc"] == pytest.approx(scoring.score("ikdc", answers("ikdc")).scores["ikdc"])
    assert knee["koos12_from_koos_summary"] is not None and knee["lysholm_lysholm"] is not None
    only = api_a.csv("/api/v1/scores/wide/", instrument="eq5d5l", key="value_set")
    assert [r["eq5d5l_value_set"] for r in only] == ["KR"]


def test_the_dictionary_describes_the_new_instruments_and_the_value_set(api_a):
    body = api_a.json("/api/v1/dictionary/")
    instruments = {i["id"]: i for i in body["instruments"]}
    for instrument in (*SCORED, "hoos_jr", "hoos_jr_from_hoos"):
        keys = [o["key"] for o in instruments[instrument]["outputs"]]
        assert keys[: len(scoring.get_instrument(instrument).outputs)] == list(
            scoring.get_instrument(instrument).output_keys
        )
    value_set = instruments["eq5d5l"]["outputs"][-1]
    assert value_set["key"] == "value_set" and value_set["choices"] == ["US", "DE", "GB-ENG", "JP", "KR", "CN"]
    assert value_set["wide_column"] == "eq5d5l_value_set"


@pytest.mark.parametrize(
    ("instrument", "key"),
    [("koos_jr_from_koos", "interval"), ("koos12", "summary"), ("promis10", "gph_t"), ("eq5d5l", "index")],
)
def test_summaries_take_the_new_scores(api_a, answered, instrument, key):
    body = api_a.json("/api/v1/summaries/scores/", instrument=instrument, key=key)
    assert body["instrument"] == instrument and body["key"] == key


def test_a_summary_of_the_value_set_is_refused(api_a, answered):
    response = api_a.get("/api/v1/summaries/scores/", instrument="eq5d5l", key="value_set")
    assert response.status_code == 400


def test_the_dictionary_lists_the_second_sets_published_thresholds(api_a):
    body = api_a.json("/api/v1/dictionary/")
    rows = {(t["measure"], t["instrument"], t["key"]): t for t in body["thresholds"]}
    koos_jr_pass = rows[("pass", "koos_jr", "interval")]
    assert (koos_jr_pass["value"], koos_jr_pass["better"], koos_jr_pass["joint"]) == (63.7, "higher", "knee")
    assert "Kunze" in koos_jr_pass["citation"] and "TKA" in koos_jr_pass["population"]
    assert rows[("pass", "hoos_jr", "interval")]["value"] == 76.7
    assert rows[("pass", "ikdc", "ikdc")]["value"] == 76.2
    assert rows[("mcii", "koos_jr", "interval")]["value"] == 15.1
    assert rows[("mcii", "hoos_jr", "interval")]["value"] == 18.0
    assert rows[("mcii", "lysholm", "lysholm")]["value"] == 5.5
    # None is published (or none was found) for these: the dictionary invents none.
    assert not {i for (_, i, _) in rows} & {"koos12", "promis10", "tegner", "eq5d5l"}


@pytest.mark.parametrize(
    ("instrument", "value", "cited"),
    [("koos_jr", 15.1, "Hung"), ("koos_jr_from_koos", 15.1, "Hung"), ("lysholm", 5.5, "Lysholm")],
)
def test_a_summary_of_a_knee_short_form_names_its_mcii(api_a, answered, instrument, value, cited):
    key = "lysholm" if instrument == "lysholm" else "interval"
    body = api_a.json("/api/v1/summaries/scores/", instrument=instrument, key=key)
    [threshold] = body["mcii"]["thresholds"]
    assert threshold["value"] == value and threshold["joint"] == "knee" and cited in threshold["citation"]
