"""Every date a research row gives is relative: whole days from the index date, never a calendar date (issue 21,
item 8: an adverse event's resolution released as a date went unnoticed, as no test cohort resolved one)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from registry.models import AdverseEvent
from research import deid

pytestmark = pytest.mark.django_db

CALENDAR = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}")
ENDPOINTS = {
    "treatments": "/api/v1/treatments/",
    "administrations": "/api/v1/administrations/",
    "scores": "/api/v1/scores/",
    "adverse_events": "/api/v1/adverse-events/",
    "surgeries": "/api/v1/surgeries/",
}


def test_no_dataset_releases_a_calendar_date_and_an_adverse_event_resolves_in_days(api_a, cohort):
    event = AdverseEvent.objects.get(episode=cohort.episodes[0])
    event.resolution_date = event.onset_date + timedelta(days=12)
    event.save()
    assert set(ENDPOINTS) == set(deid.DATASETS)
    for name, path in ENDPOINTS.items():
        rows = api_a.all_pages(path)
        assert rows, name
        for row in rows:
            for column, value in row.items():
                assert not (isinstance(value, str) and CALENDAR.search(value)), (name, column, value)
                if column.endswith("_day") or column == "day":
                    assert value is None or isinstance(value, int), (name, column, value)
        csv_rows = api_a.csv(path)
        for row in csv_rows:
            for column, value in row.items():
                assert not CALENDAR.search(value), (name, column, value)
    (released,) = api_a.json("/api/v1/adverse-events/")["results"]
    index = cohort.episodes[0].index_date
    assert released["onset_day"] == (event.onset_date - index).days
    assert released["resolution_day"] == (event.resolution_date - index).days
