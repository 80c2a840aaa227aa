"""Each score carries a copy of its follow-up's episode and timepoint (what research summaries read). Every path
that writes scores fills it, existing scores are filled by migration, and the follow-up's side cannot change."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from outcomes import services
from outcomes.models import FollowUp, Score
from tests import factories
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db


def copies(follow_up: FollowUp) -> set[tuple[int, str]]:
    return set(Score.objects.filter(follow_up=follow_up).values_list("episode_id", "timepoint"))


def mismatched() -> int:
    return Score.objects.filter(~Q(episode=F("follow_up__episode")) | ~Q(timepoint=F("follow_up__timepoint"))).count()


@pytest.fixture
def m3(knee_episode, alice):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    services.response_submit(follow_up=m3, instrument="koos", answers=all_items("koos", 1), by=alice, mode="phone")
    services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 40}, by=alice, mode="phone")
    return m3


def test_scores_of_submitted_answers_carry_the_follow_ups_episode_and_timepoint(m3, knee_episode):
    assert Score.objects.filter(follow_up=m3, instrument="womac_from_koos").exists()  # derived rows too
    assert copies(m3) == {(knee_episode.pk, "m3")}


def test_scores_the_rescore_creates_carry_them_too(m3, knee_episode):
    from django.core.management import call_command

    Score.objects.filter(follow_up=m3, instrument="koos", key="pain").delete()
    Score.objects.filter(follow_up=m3).update(scoring_version="0.9")
    call_command("rescore", stdout=SimpleNamespace(write=lambda *_: None))
    created = Score.objects.get(follow_up=m3, instrument="koos", key="pain")
    assert (created.episode_id, created.timepoint, created.value) == (knee_episode.pk, "m3", 75.0)


def test_a_score_written_without_the_copy_is_refused(m3):
    with pytest.raises(IntegrityError), transaction.atomic():
        Score.objects.create(follow_up=m3, instrument="vas", key="other", value=1.0, scoring_version="x")


def test_the_migration_fills_the_copies_of_existing_scores(m3, knee_episode, patient_a):
    other = factories.EpisodeFactory(patient=patient_a, side="left")
    Score.objects.update(episode_id=other.pk, timepoint="m24")
    assert mismatched() > 0
    migration = importlib.import_module("outcomes.migrations.0006_score_episode_timepoint")
    migration.backfill(django_apps, SimpleNamespace(connection=connection))
    assert mismatched() == 0 and copies(m3) == {(knee_episode.pk, "m3")}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_to_move_a_follow_up_to_another_episode_or_timepoint(m3, patient_a):
    other = factories.EpisodeFactory(patient=patient_a, side="left")
    for change in ({"timepoint": "m24"}, {"episode_id": other.pk}):
        with pytest.raises(IntegrityError, match="episode and timepoint are fixed"), transaction.atomic():
            FollowUp.objects.filter(pk=m3.pk).update(**change)
    m3.status = "completed"
    m3.save()  # other changes save as before
    assert copies(m3) == {(m3.episode_id, "m3")}
