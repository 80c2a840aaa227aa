"""The schedule: five follow-ups with windows for every episode, moving with the index date, closed by withdrawal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from outcomes import services
from outcomes.models import FollowUp, FollowUpStatus, OutcomePlan, OutcomePlanItem
from outcomes.schedule import WINDOWS, timepoint_for_day
from tests import factories
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db


def test_windows_do_not_overlap_and_hold_their_targets():
    for earlier, later in zip(WINDOWS, WINDOWS[1:], strict=False):
        assert earlier.closes < later.opens
    assert [timepoint_for_day(d) for d in (-90, 0, 1, 59, 60, 91, 120, 121, 182, 365, 730, 851)] == [
        "baseline",
        "baseline",
        None,
        None,
        "m3",
        "m3",
        "m3",
        None,
        "m6",
        "m12",
        "m24",
        None,
    ]


def test_saving_an_episode_creates_five_follow_ups_with_windows(knee_episode):
    fus = {fu.timepoint: fu for fu in knee_episode.follow_ups.all()}
    assert list(fus) == ["baseline", "m3", "m6", "m12", "m24"]
    index = knee_episode.index_date
    assert (fus["m3"].window_opens, fus["m3"].target_date, fus["m3"].window_closes) == (
        index + timedelta(days=60),
        index + timedelta(days=91),
        index + timedelta(days=120),
    )
    assert fus["baseline"].window_closes == index
    assert all(fu.instruments == ["koos", "vas"] for fu in fus.values())
    # Day 100: baseline has closed unanswered, 3 months is open, the rest are ahead.
    assert [fus[t].status for t in fus] == ["missed", "open", "scheduled", "scheduled", "scheduled"]


def test_hip_and_spine_follow_the_default_plans(hip_episode, spine_episode):
    hip = {fu.timepoint: fu.instruments for fu in hip_episode.follow_ups.all()}
    assert hip["m3"] == ["hoos", "mhhs", "vas"]
    assert hip["baseline"] == hip["m12"] == hip["m24"] == ["hhs_exam", "hoos", "mhhs", "vas"]
    assert {tuple(fu.instruments) for fu in spine_episode.follow_ups.all()} == {("odi", "vas")}


def test_a_protocol_plan_beats_a_site_plan_beats_the_default(patient_a, today):
    protocol = factories.ProtocolFactory(site=patient_a.site)
    site_plan = OutcomePlan.objects.create(name="Site knee", joint="knee", site=patient_a.site)
    OutcomePlanItem.objects.create(plan=site_plan, timepoint="m3", instrument="nrs")
    proto_plan = OutcomePlan.objects.create(name="Protocol knee", joint="knee", protocol=protocol)
    OutcomePlanItem.objects.create(plan=proto_plan, timepoint="m3", instrument="womac")
    plain = factories.EpisodeFactory(patient=patient_a, index_date=today - timedelta(days=10))
    with_protocol = factories.EpisodeFactory(
        patient=patient_a, protocol=protocol, index_date=today - timedelta(days=10)
    )
    other_site = factories.EpisodeFactory(index_date=today - timedelta(days=10))
    assert plain.follow_ups.get(timepoint="m3").instruments == ["nrs"]
    assert with_protocol.follow_ups.get(timepoint="m3").instruments == ["womac"]
    assert other_site.follow_ups.get(timepoint="m3").instruments == ["koos", "vas"]


def test_a_changed_index_date_moves_pending_follow_ups_and_keeps_completed_answers(knee_episode, alice, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    for instrument, answers in (("koos", all_items("koos", 1)), ("vas", {"vas_mm": 40})):
        services.response_submit(follow_up=m3, instrument=instrument, answers=answers, by=alice, mode="phone")
    m3.refresh_from_db()
    assert m3.status == FollowUpStatus.COMPLETED and m3.days_from_index == 100
    knee_episode.index_date = knee_episode.index_date - timedelta(days=10)
    knee_episode._change_reason = "index date corrected"
    knee_episode.save()
    m3.refresh_from_db()
    m6 = knee_episode.follow_ups.get(timepoint="m6")
    assert m3.status == FollowUpStatus.COMPLETED
    assert m3.days_from_index == 110  # same answers, counted from the new date
    assert m3.responses.count() == 2 and m3.scores.filter(instrument="koos").exists()
    assert m6.window_opens == knee_episode.index_date + timedelta(days=150)
    assert m6.target_date == knee_episode.index_date + timedelta(days=182)


def test_a_later_index_date_reopens_a_missed_window(knee_episode):
    baseline = knee_episode.follow_ups.get(timepoint="baseline")
    assert baseline.status == FollowUpStatus.MISSED
    knee_episode.index_date = knee_episode.index_date + timedelta(days=100)  # the treatment is in fact today
    knee_episode.save()
    baseline.refresh_from_db()
    assert baseline.status == FollowUpStatus.OPEN
    assert baseline.window_closes == knee_episode.index_date


def test_withdrawal_closes_every_unfinished_follow_up_and_undo_restores(knee_episode, alice, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    services.response_submit(follow_up=m3, instrument="koos", answers=all_items("koos", 2), by=alice, mode="paper")
    services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 12.5}, by=alice, mode="paper")
    patient = knee_episode.patient
    patient.withdrawn_on, patient.withdrawal_reason = today, "No longer wishes to take part"
    patient.save()
    statuses = dict(knee_episode.follow_ups.values_list("timepoint", "status"))
    assert statuses == {
        "baseline": "withdrawn",
        "m3": "completed",
        "m6": "withdrawn",
        "m12": "withdrawn",
        "m24": "withdrawn",
    }
    patient.withdrawn_on, patient.withdrawal_reason = None, ""
    patient.save()
    statuses = dict(knee_episode.follow_ups.values_list("timepoint", "status"))
    assert statuses == {
        "baseline": "missed",
        "m3": "completed",
        "m6": "scheduled",
        "m12": "scheduled",
        "m24": "scheduled",
    }


def test_a_bilateral_treatment_is_two_episodes_with_their_own_follow_ups(patient_a, today):
    left = factories.EpisodeFactory(patient=patient_a, side="left", index_date=today - timedelta(days=70))
    right = factories.EpisodeFactory(patient=patient_a, side="right", index_date=today - timedelta(days=70))
    assert left.follow_ups.count() == right.follow_ups.count() == 5
    assert not set(left.follow_ups.values_list("pk", flat=True)) & set(right.follow_ups.values_list("pk", flat=True))


def test_status_refresh_opens_and_misses_on_the_sites_calendar(patient_a, today):
    episode = factories.EpisodeFactory(patient=patient_a, index_date=today - timedelta(days=50))
    m3 = episode.follow_ups.get(timepoint="m3")
    assert m3.status == FollowUpStatus.SCHEDULED
    opens = datetime.combine(m3.window_opens, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    with time_machine.travel(opens, tick=False):
        assert services.follow_ups_refresh_statuses()["opened"] >= 1
        m3.refresh_from_db()
        assert m3.status == FollowUpStatus.OPEN
        assert services.follow_ups_refresh_statuses() == {"opened": 0, "missed": 0}  # idempotent
    after = datetime.combine(m3.window_closes, datetime.min.time(), tzinfo=UTC) + timedelta(days=1, hours=12)
    with time_machine.travel(after, tick=False):
        services.follow_ups_refresh_statuses()
        m3.refresh_from_db()
        assert m3.status == FollowUpStatus.MISSED


def test_one_follow_up_per_episode_and_timepoint_is_enforced_by_the_database(knee_episode):
    from django.db import IntegrityError, transaction

    fu = knee_episode.follow_ups.get(timepoint="m6")
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUp.objects.create(
            episode=knee_episode,
            timepoint="m6",
            target_date=fu.target_date,
            window_opens=fu.window_opens,
            window_closes=fu.window_closes,
        )
