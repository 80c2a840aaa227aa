"""While scores wait to be recomputed under new scoring rules, the research API says so on each row: `stale` beside
`scoring_version`, in JSON and CSV, described in the data dictionary; the rows are kept (counts do not jump while
rescoring runs). Once the beat task has run, no row is stale."""

from __future__ import annotations

import pytest

import scoring
from outcomes import tasks
from outcomes.models import Score
from tests.research.conftest import add_scores, make_episode, make_patient

pytestmark = pytest.mark.django_db

SCORES = "/api/v1/scores/"


@pytest.fixture
def two_follow_ups(site_a):
    old = add_scores(make_episode(make_patient(site_a)), "baseline", "vas", {"vas_mm": 40.0})
    current = add_scores(make_episode(make_patient(site_a)), "baseline", "vas", {"vas_mm": 50.0})
    Score.objects.filter(follow_up=old).update(scoring_version="0.9")
    return old, current


def test_each_score_row_says_whether_it_is_stale(api_a, two_follow_ups):
    rows = sorted(api_a.all_pages(SCORES), key=lambda r: r["value"])
    assert [(r["value"], r["scoring_version"], r["stale"]) for r in rows] == [
        (40.0, "0.9", True),
        (50.0, scoring.SCORING_VERSION, False),
    ]
    csv_rows = sorted(api_a.csv(SCORES), key=lambda r: r["value"])
    expected = [("0.9", "true"), (scoring.SCORING_VERSION, "false")]
    assert [(r["scoring_version"], r["stale"]) for r in csv_rows] == expected


def test_once_rescored_no_row_is_stale(api_a, two_follow_ups):
    tasks.rescore_stale_scores()
    assert {(r["scoring_version"], r["stale"]) for r in api_a.all_pages(SCORES)} == {(scoring.SCORING_VERSION, False)}


def test_the_dictionary_describes_the_column(api_a):
    columns = {c["name"]: c for c in api_a.json("/api/v1/dictionary/")["datasets"]["scores"]["columns"]}
    assert columns["stale"]["type"] == "boolean" and "recomputed" in columns["stale"]["description"]


def test_the_wide_format_has_no_stale_column(api_a, two_follow_ups):
    assert "stale" not in api_a.all_pages(SCORES + "wide/")[0]
