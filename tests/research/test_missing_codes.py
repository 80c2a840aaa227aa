"""Blanks reach research as missing-data codes in their own column, never as values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outcomes import services
from tests import factories
from tests.outcomes.conftest import all_items
from tests.research.conftest import second_subject

pytestmark = pytest.mark.django_db


def test_scores_csv_and_json_carry_the_missing_codes_in_their_own_column(api_a, site_a, patient_a):
    alice = factories.staff_user("alice", site_a)
    second_subject(site_a, joint="hip")  # a site's rows are released from k subjects (k=2 here)
    episode = factories.EpisodeFactory(
        patient=patient_a, joint="knee", index_date=factories.date.today() - timedelta(days=100)
    )
    m3 = episode.follow_ups.get(timepoint="m3")
    koos = all_items("koos", 1)
    koos["P3"] = koos["Q4"] = None
    services.response_submit(
        follow_up=m3,
        instrument="koos",
        answers=koos,
        by=alice,
        mode="phone",
        missing={"P3": "declined", "Q4": "not_asked"},
    )
    services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 20}, by=alice, mode="phone")
    rows = api_a.csv("/api/v1/scores/")
    assert {r["items_missing"] for r in rows if r["instrument"] == "koos"} == {"P3:declined;Q4:not_asked"}
    assert {r["items_missing"] for r in rows if r["instrument"] == "vas"} == {""}
    pain = next(r for r in rows if r["instrument"] == "koos" and r["key"] == "pain")
    assert float(pain["value"]) == 75.0  # 8 of 9 pain items, the blank not counted as 0
    json_rows = api_a.all_pages("/api/v1/scores/", instrument="vas")
    assert [r["items_missing"] for r in json_rows] == [None]
    dictionary = api_a.json("/api/v1/dictionary/")
    text = str(dictionary)
    assert "items_missing" in text and "declined = declined to answer" in text
