"""`manage.py rescore` recomputes scores of an older scoring version and reports what changed."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

import scoring
from outcomes import services
from outcomes.models import Score
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(knee_episode, alice):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    services.response_submit(follow_up=m3, instrument="koos", answers=all_items("koos", 1), by=alice, mode="phone")
    services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 40}, by=alice, mode="phone")
    return m3


def _age(m3, instrument, key, value):
    """Make one stored score look as if an older engine, with a different rule, had produced it."""
    Score.objects.filter(follow_up=m3, instrument=instrument).update(scoring_version="0.9")
    Score.objects.filter(follow_up=m3, instrument=instrument, key=key).update(value=value)


def run(*args):
    out = StringIO()
    call_command("rescore", *args, stdout=out)
    return out.getvalue()


def test_it_reports_and_fixes_scores_of_an_older_version(scored):
    _age(scored, "koos", "pain", 70.0)
    output = run()
    assert "Rescored 1 follow-ups" in output and "1 values changed" in output
    assert "koos.pain: 70 -> 75" in output
    assert Score.objects.get(follow_up=scored, instrument="koos", key="pain").value == 75.0
    assert not Score.objects.exclude(scoring_version=scoring.SCORING_VERSION).exists()
    assert "Rescored 0 follow-ups" in run()  # nothing stale is left


def test_dry_run_changes_nothing(scored):
    _age(scored, "koos", "pain", 70.0)
    output = run("--dry-run")
    assert "Would rescore 1 follow-ups" in output and "koos.pain: 70 -> 75" in output
    row = Score.objects.get(follow_up=scored, instrument="koos", key="pain")
    assert (row.value, row.scoring_version) == (70.0, "0.9")


def test_it_limits_itself_to_one_instrument(scored):
    _age(scored, "koos", "pain", 70.0)
    Score.objects.filter(follow_up=scored, instrument="vas").update(scoring_version="0.9")
    assert "Rescored 1 follow-ups" in run("--instrument", "vas")
    assert Score.objects.get(follow_up=scored, instrument="koos", key="pain").value == 70.0  # koos untouched
    assert Score.objects.get(follow_up=scored, instrument="vas").scoring_version == scoring.SCORING_VERSION


def test_an_unknown_instrument_is_an_error():
    with pytest.raises(CommandError, match="Unknown instrument 'kooz'"):
        call_command("rescore", "--instrument", "kooz")


def _all_visible() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = %s", [Score._meta.db_table])
        return cursor.fetchone()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="VACUUM is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_after_rewriting_scores_it_vacuums_the_table_so_summaries_read_the_index_alone(scored):
    _age(scored, "koos", "pain", 70.0)
    assert "Vacuumed" not in run("--no-vacuum")
    pages, visible = _all_visible()
    assert visible < max(pages, 1)  # rewritten rows: not all visible until a vacuum
    _age(scored, "koos", "pain", 70.0)
    assert "Vacuumed and analysed the score table" in run()
    pages, visible = _all_visible()
    assert pages >= 1 and visible == pages


@pytest.mark.skipif(connection.vendor != "postgresql", reason="VACUUM is PostgreSQL's")
def test_inside_a_transaction_or_on_a_dry_run_it_leaves_vacuum_to_autovacuum(scored):
    _age(scored, "koos", "pain", 70.0)
    assert "Vacuumed" not in run("--dry-run")
    assert "Vacuumed" not in run()  # the test's transaction is open: VACUUM cannot run in it
    assert Score.objects.get(follow_up=scored, instrument="koos", key="pain").value == 75.0
