"""Pain VAS and NRS (SCORING.md section 6) and the Oswestry Disability Index v2.1a (section 7)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from scoring import ScoringError, score

SECTIONS = [f"S{n}" for n in range(1, 11)]


@pytest.mark.parametrize(
    ("given", "expected"),
    [(0, 0.0), (100, 100.0), (55.5, 55.5), (Decimal("55.55"), 55.55), (Fraction(1, 3), 1 / 3), (37, 37.0)],
)
def test_vas_is_any_real_from_0_to_100_mm(given, expected):
    result = score("vas", {"vas_mm": given})
    assert result.scores == {"vas_mm": expected}
    assert isinstance(result.scores["vas_mm"], float)
    assert result.missing == {"vas_mm": 0}


@pytest.mark.parametrize("given", [100.1, -0.1, Decimal("100.0001"), 101])
def test_vas_outside_0_to_100_is_rejected_not_clamped(given):
    with pytest.raises(ScoringError, match="out of range"):
        score("vas", {"vas_mm": given})


def test_vas_not_answered():
    for answers in ({}, {"vas_mm": None}):
        result = score("vas", answers)
        assert result.scores == {"vas_mm": None}
        assert result.missing == {"vas_mm": 1}


@pytest.mark.parametrize("given", range(11))
def test_nrs_takes_each_integer_from_0_to_10(given):
    result = score("nrs", {"nrs": given})
    assert result.scores == {"nrs": given}
    assert type(result.scores["nrs"]) is int


@pytest.mark.parametrize("given", [5.0, 5.5, Decimal("5"), Fraction(5), -1, 11])
def test_nrs_rejects_non_integers_and_out_of_range(given):
    with pytest.raises(ScoringError, match="nrs"):
        score("nrs", {"nrs": given})


def test_vas_and_nrs_are_not_interchangeable():
    with pytest.raises(ScoringError):
        score("nrs", {"vas_mm": 50})
    with pytest.raises(ScoringError):
        score("vas", {"nrs": 5})


def test_odi_with_every_section_answered():
    answers = dict(zip(SECTIONS, [2, 2, 2, 2, 2, 2, 1, 1, 1, 1], strict=True))  # 16 of 50
    assert score("odi", answers).scores == {"odi": 32.0, "answered": 10, "band": "moderate"}


def test_odi_with_one_section_missing_follows_the_forms_example():
    # The form's own example: 16 points over 9 answered sections is 16/45 = 35.56%.
    answers = dict(zip(SECTIONS[:9], [2, 2, 2, 2, 2, 2, 2, 1, 1], strict=True))
    result = score("odi", answers)
    assert result.exact["odi"] == Fraction(1600, 45)
    assert result.scores == {"odi": float(Fraction(320, 9)), "answered": 9, "band": "moderate"}
    assert round(result.scores["odi"], 2) == 35.56
    assert result.missing == {"odi": 1}


def test_odi_with_two_sections_missing_has_no_score():
    result = score("odi", dict.fromkeys(SECTIONS[:8], 3))
    assert result.scores == {"odi": None, "answered": 8, "band": None}
    assert result.missing == {"odi": 2}


def test_odi_with_nothing_answered():
    assert score("odi", {}).scores == {"odi": None, "answered": 0, "band": None}


def spread(total: int, sections: int) -> dict[str, int]:
    """Answers for the first ``sections`` sections adding up to ``total``."""
    values = [min(5, max(0, total - 5 * index)) for index in range(sections)]
    assert sum(values) == total
    return dict(zip(SECTIONS, values, strict=False))


@pytest.mark.parametrize(
    ("total", "sections", "odi", "band"),
    [
        (0, 10, 0, "minimal"),
        (10, 10, 20, "minimal"),  # <= 20
        (9, 9, 20, "minimal"),  # 9/45 is exactly 20
        (11, 10, 22, "moderate"),
        (20, 10, 40, "moderate"),  # <= 40
        (18, 9, 40, "moderate"),
        (21, 10, 42, "severe"),
        (30, 10, 60, "severe"),  # <= 60
        (27, 9, 60, "severe"),
        (31, 10, 62, "crippled"),
        (40, 10, 80, "crippled"),  # <= 80
        (36, 9, 80, "crippled"),
        (41, 10, 82, "bed_bound"),
        (50, 10, 100, "bed_bound"),
    ],
)
def test_odi_band_ceilings_are_inclusive_and_exact(total, sections, odi, band):
    result = score("odi", spread(total, sections))
    assert result.exact["odi"] == odi
    assert result.scores["band"] == band


@pytest.mark.parametrize("given", [6, -1, 2.0, True, "2", ""])
def test_odi_sections_are_integers_0_to_5(given):
    with pytest.raises(ScoringError, match="odi item S1"):
        score("odi", {"S1": given})
