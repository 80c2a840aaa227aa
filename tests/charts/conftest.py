"""Episodes with answered follow-ups for the chart tests: site A (alice) and site B (bob)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

import scoring
from outcomes import services
from tests import factories


def koos_answers(value: int) -> dict[str, int]:
    return {item.code: value for item in scoring.get_instrument("koos").items}


def answered_knee_episode(patient, staff, *, vas=(62, 35), koos=(2, 1)):
    """A knee episode 100 days ago with KOOS and pain VAS at baseline and 3 months, entered by phone."""
    episode = factories.EpisodeFactory(
        patient=patient, joint="knee", side="left", index_date=date.today() - timedelta(days=100)
    )
    for fu, pain, koos_value in zip(
        [episode.follow_ups.get(timepoint="baseline"), episode.follow_ups.get(timepoint="m3")], vas, koos, strict=True
    ):
        when = datetime.combine(fu.target_date, time(12), tzinfo=UTC)
        for instrument, answers in (("vas", {"vas_mm": pain}), ("koos", koos_answers(koos_value))):
            services.response_submit(
                follow_up=fu, instrument=instrument, answers=answers, by=staff, mode="phone", completed_at=when
            )
    return episode


@pytest.fixture
def answered():
    """The episode maker, as a fixture (tests/charts is not a package, so tests cannot import conftest)."""
    return answered_knee_episode


@pytest.fixture
def episode_a(patient_a, alice):
    return answered_knee_episode(patient_a, alice)


@pytest.fixture
def episode_b(patient_b, bob):
    return answered_knee_episode(patient_b, bob, vas=(80, 70))
