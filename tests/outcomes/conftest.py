from __future__ import annotations

from datetime import date, timedelta

import pytest

import scoring
from tests import factories


def all_items(instrument: str, value: object) -> dict[str, object]:
    """Every item of an instrument answered with `value` (choice items: the stored value)."""
    return {item.code: value for item in scoring.get_instrument(instrument).items}


def form_data(answers: dict[str, object], **extra: object) -> dict[str, str]:
    data = {f"item_{code}": "" if v is None else str(v) for code, v in answers.items()}
    data.update({k: str(v) for k, v in extra.items()})
    return data


@pytest.fixture
def today() -> date:
    return date.today()


@pytest.fixture
def knee_episode(patient_a, today):
    """A knee episode 100 days ago: baseline and 3 months are the live windows."""
    return factories.EpisodeFactory(
        patient=patient_a, joint="knee", side="left", index_date=today - timedelta(days=100)
    )


@pytest.fixture
def hip_episode(patient_a, today):
    return factories.EpisodeFactory(
        patient=patient_a, joint="hip", side="right", index_date=today - timedelta(days=100)
    )


@pytest.fixture
def spine_episode(patient_a, today):
    return factories.EpisodeFactory(
        patient=patient_a,
        joint="spine",
        side="midline",
        kl_grade=None,
        spinal_level="L4-L5",
        index_date=today - timedelta(days=100),
    )
