"""Never stale: after the scoring rules change, `manage.py check` warns (outcomes.W002) while stored scores of
another version remain, and a beat task rescores them in batches (a transaction each, idempotent, resumable),
leaving a history row on each rescored response. The research API's marking is in tests/research."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

import scoring
from outcomes import checks, services, tasks
from outcomes.models import Response, Score
from tests import factories
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(site_a, alice, today):
    """Three follow-ups (one knee episode each, 3 months' window open) with KOOS and VAS answered and scored by
    the current rules."""
    follow_ups = []
    for _ in range(3):
        episode = factories.EpisodeFactory(
            patient=factories.PatientFactory(site=site_a), joint="knee", side="left", index_date=today - timedelta(100)
        )
        m3 = episode.follow_ups.get(timepoint="m3")
        for instrument, answers in (("koos", all_items("koos", 1)), ("vas", {"vas_mm": 40})):
            services.response_submit(follow_up=m3, instrument=instrument, answers=answers, by=alice, mode="phone")
        follow_ups.append(m3)
    return follow_ups


def _as_if_older_rules(follow_up, pain: float = 70.0) -> None:
    """An older engine scored this follow-up (and scored KOOS pain differently)."""
    Response.objects.filter(follow_up=follow_up).update(scoring_version="0.9")
    Score.objects.filter(follow_up=follow_up).update(scoring_version="0.9")
    Score.objects.filter(follow_up=follow_up, instrument="koos", key="pain").update(value=pain)


def _warnings() -> list[str]:
    return [w.id for w in checks.check_stale_scores()]


def test_the_check_says_nothing_without_scores_or_with_current_ones(answered):
    assert _warnings() == []
    Score.objects.all().delete()
    assert _warnings() == []


def test_the_check_warns_while_scores_of_another_version_remain(answered):
    _as_if_older_rules(answered[0])
    [warning] = checks.check_stale_scores()
    assert warning.id == "outcomes.W002" and "'0.9'" in warning.msg and f"'{scoring.SCORING_VERSION}'" in warning.msg
    tasks.rescore_stale_scores()
    assert _warnings() == []


def test_a_newer_engine_makes_every_score_stale_and_the_task_brings_them_up_to_it(answered, monkeypatch):
    # A deploy with new scoring rules: the engine's version moves on, every stored score is now of an older one.
    monkeypatch.setattr(scoring, "SCORING_VERSION", "9.0")
    assert _warnings() == ["outcomes.W002"]
    assert tasks.rescore_stale_scores()["follow_ups"] == 3
    assert set(Score.objects.values_list("scoring_version", flat=True)) == {"9.0"}
    assert set(Response.objects.values_list("scoring_version", flat=True)) == {"9.0"}
    assert _warnings() == []


def test_the_task_fixes_values_in_batches_and_a_second_run_writes_nothing(answered, monkeypatch):
    for follow_up in answered:
        _as_if_older_rules(follow_up)
    monkeypatch.setattr(tasks, "RESCORE_BATCH", 2)  # two batches: 2 follow-ups, then 1, then none is left
    batches = []
    real = services.scores_rescore_batch
    monkeypatch.setattr(services, "scores_rescore_batch", lambda **kw: batches.append(real(**kw)) or batches[-1])
    result = tasks.rescore_stale_scores()
    assert [b.follow_ups for b in batches] == [2, 1, 0]
    # Every row of an older version rewritten; the three KOOS pains the only values that changed.
    assert result == {"follow_ups": 3, "rows_written": Score.objects.count(), "values_changed": 3}
    assert set(Score.objects.filter(instrument="koos", key="pain").values_list("value", flat=True)) == {75.0}
    assert not services.scores_stale().exists()
    # Idempotent: nothing stale, nothing found, nothing written.
    batches.clear()
    assert tasks.rescore_stale_scores() == {"follow_ups": 0, "rows_written": 0, "values_changed": 0}
    assert [b.follow_ups for b in batches] == [0]


def test_a_run_out_of_time_leaves_the_rest_to_the_next_run(answered, monkeypatch):
    for follow_up in answered:
        _as_if_older_rules(follow_up)
    monkeypatch.setattr(tasks, "RESCORE_BATCH", 1)
    monkeypatch.setattr(tasks, "RESCORE_SECONDS", 0.0)  # one batch per run
    assert [tasks.rescore_stale_scores()["follow_ups"] for _ in range(4)] == [1, 1, 1, 0]
    assert not services.scores_stale().exists()


def test_each_rescored_response_keeps_a_history_row_saying_why(answered):
    follow_up = answered[0]
    _as_if_older_rules(follow_up)
    before = {r.pk: r.history.count() for r in Response.objects.filter(follow_up=follow_up)}
    tasks.rescore_stale_scores()
    for response in Response.objects.filter(follow_up=follow_up):
        assert response.history.count() == before[response.pk] + 1
        latest = response.history.latest()
        assert latest.history_change_reason == f"rescored: scoring version 0.9 -> {scoring.SCORING_VERSION}"
        assert (latest.scoring_version, latest.history_type, latest.history_user) == (
            scoring.SCORING_VERSION,
            "~",
            None,
        )
    # Responses of follow-ups that were not stale were not touched.
    assert {r.history.count() for r in Response.objects.exclude(follow_up=follow_up)} == {1}


def test_the_rescore_command_and_the_task_are_the_same_work(answered):
    _as_if_older_rules(answered[0])
    call_command("rescore", "--no-vacuum", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert tasks.rescore_stale_scores()["follow_ups"] == 0  # nothing left for the task
    assert Response.objects.get(follow_up=answered[0], instrument="koos").history.latest().history_change_reason


def test_beat_runs_the_task():
    entry = settings.CELERY_BEAT_SCHEDULE["stale-score-rescore"]
    assert entry["task"] == tasks.rescore_stale_scores.name and entry["schedule"] <= 600


def test_a_response_of_another_version_whose_scores_are_current_is_brought_up_too(answered):
    Response.objects.filter(follow_up=answered[1]).update(scoring_version="0.9")
    assert tasks.rescore_stale_scores()["follow_ups"] == 1
    assert set(Response.objects.values_list("scoring_version", flat=True)) == {scoring.SCORING_VERSION}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="VACUUM is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_run_that_leaves_nothing_stale_vacuums_the_score_table(answered):
    for follow_up in answered:
        _as_if_older_rules(follow_up)
    tasks.rescore_stale_scores()
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = %s", [Score._meta.db_table])
        pages, visible = cursor.fetchone()
    assert pages >= 1 and visible == pages  # vacuumed: summaries read the covering index alone again
