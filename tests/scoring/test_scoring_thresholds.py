"""MCII and PASS thresholds as data, with their citations: SCORING.md section 8."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from scoring import THRESHOLDS, ScoringError, find_thresholds, mcii_change, pass_reached, score

# (instrument, key, joint, kind, baseline, follow-up just reaching, follow-up just missing, citation word)
_MCII_CASES = [
    ("vas", "vas_mm", "knee", "absolute", 60, 40.1, 40.2, "Tubach"),  # -19.9 mm
    ("vas", "vas_mm", "knee", "relative", 50, 29.6, 29.7, "Tubach"),  # -40.8%
    ("vas", "vas_mm", "hip", "absolute", 50, 34.7, 34.8, "Tubach"),  # -15.3 mm
    ("vas", "vas_mm", "hip", "relative", 50, 34, 34.1, "Tubach"),  # -32.0%
    ("womac", "function_0_100", "knee", "absolute", 50, 40.9, 41, "Tubach"),  # -9.1
    ("womac", "function_0_100", "hip", "absolute", 50, 42.1, 42.2, "Tubach"),  # -7.9
    ("koos", "pain", "knee", "absolute", 50, 65, 64.9, "Mostafaee"),
    ("koos", "symptoms", "knee", "absolute", 50, 62.5, 62.4, "Mostafaee"),
    ("koos", "adl", "knee", "absolute", 50, 65.5, 65.4, "Mostafaee"),
    ("koos", "sport_rec", "knee", "absolute", 50, 67.5, 67.4, "Mostafaee"),
    ("koos", "qol", "knee", "absolute", 50, 62.5, 62.4, "Mostafaee"),
    *(
        ("hoos", key, "hip", "absolute", 50, 59.1, 59, "Clin Orthop Relat Res")
        for key in ("pain", "symptoms", "adl", "sport_rec", "qol")
    ),
    ("mhhs", "mhhs", "hip", "absolute", 60, 68, 67.9, "Arthroscopy 2021"),
    ("odi", "odi", "spine", "absolute", 40, 30, 30.1, "Ostelo"),  # 10 points
    ("odi", "odi", "spine", "relative", 40, 28, 28.1, "Ostelo"),  # 30%
    ("vas", "vas_mm", "spine", "absolute", 40, 25, 25.1, "Ostelo"),  # 15 mm
    ("vas", "vas_mm", "spine", "relative", 40, 28, 28.1, "Ostelo"),  # 30%
    ("nrs", "nrs", "spine", "absolute", 6, 4, 5, "Ostelo"),  # 2 points
    ("nrs", "nrs", "spine", "relative", 10, 7, 8, "Ostelo"),  # 30%
]


@pytest.mark.parametrize(
    ("instrument", "key", "joint", "kind", "baseline", "reaching", "missing", "cited"), _MCII_CASES
)
def test_mcii_is_reached_at_the_threshold_and_not_just_below(
    instrument, key, joint, kind, baseline, reaching, missing, cited
):
    reached = mcii_change(instrument, key, joint, baseline, reaching, kind=kind)
    assert reached.reached is True
    assert reached.threshold is not None and reached.threshold.kind == kind
    assert cited in reached.citation
    assert reached.citation == reached.threshold.citation
    assert mcii_change(instrument, key, joint, baseline, missing, kind=kind).reached is False


def test_mcii_reports_the_signed_change():
    result = mcii_change("vas", "vas_mm", "knee", 60, 40.1)
    assert result.change == -19.9
    assert result.relative_change == float(Fraction(-199, 600) * 100)
    assert result.threshold.signed_value == Decimal("-19.9")
    assert mcii_change("koos", "pain", "knee", 50, 65).threshold.signed_value == Decimal("15")


def test_worsening_does_not_reach_the_mcii():
    assert mcii_change("vas", "vas_mm", "knee", 20, 60).reached is False
    assert mcii_change("koos", "pain", "knee", 80, 40).reached is False


def test_relative_mcii_from_a_baseline_of_0_is_not_reached():
    result = mcii_change("odi", "odi", "spine", 0, 0, kind="relative")
    assert result.reached is False
    assert result.relative_change is None


def test_no_threshold_gives_reached_none():
    result = mcii_change("koos", "pain", "hip", 40, 80)
    assert (result.reached, result.threshold, result.citation) == (None, None, None)
    assert result.change == 40.0
    assert mcii_change("womac", "pain_0_100", "knee", 40, 10).reached is None
    assert mcii_change("hhs", "total", "hip", 40, 90).reached is None


def test_a_missing_score_gives_reached_none_but_names_the_threshold():
    result = mcii_change("koos", "pain", "knee", None, 80)
    assert result.reached is None
    assert result.threshold is not None


def test_derived_womac_uses_the_womac_thresholds():
    result = mcii_change("womac_from_koos", "function_0_100", "knee", 50, 40.9)
    assert result.reached is True
    assert result.threshold.instrument == "womac"
    assert pass_reached("womac_from_hoos", "function_0_100", "knee", 31).reached is True


def test_joint_may_be_left_out_where_the_threshold_exists_for_one_joint_only():
    assert mcii_change("koos", "pain", None, 50, 65).threshold.joint == "knee"
    assert mcii_change("odi", "odi", None, 40, 30).reached is True
    with pytest.raises(ScoringError, match="joint"):
        mcii_change("vas", "vas_mm", None, 60, 30)  # knee, hip and back pain differ


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("koos", "pain", "elbow", 50, 60), "joint"),
        (("koos", "total", "knee", 50, 60), "unknown output"),
        (("oks", "total", "knee", 50, 60), "unknown instrument"),
        (("koos", "pain", "knee", 50, 101), "outside"),
        (("koos", "pain", "knee", True, 60), "bool"),
        (("koos", "pain", "knee", "50", 60), "string"),
    ],
)
def test_invalid_arguments_are_errors(args, message):
    with pytest.raises(ScoringError, match=message):
        mcii_change(*args)
    with pytest.raises(ScoringError):
        mcii_change("vas", "vas_mm", "knee", 60, 40, kind="percent")


def test_exact_scores_reach_a_threshold_that_floats_might_miss():
    # Symptoms 6 of 7 answered: baseline 100 - 125/6, follow-up 100 - 50/6; the change is exactly 12.5.
    baseline = score("koos", {"S1": 1, "S2": 1, "S3": 1, "S4": 1, "S5": 1, "S6": 0})
    followup = score("koos", {"S1": 1, "S2": 1, "S3": 0, "S4": 0, "S5": 0, "S6": 0})
    assert followup.exact["symptoms"] - baseline.exact["symptoms"] == Fraction(25, 2)
    result = mcii_change("koos", "symptoms", "knee", baseline.exact["symptoms"], followup.exact["symptoms"])
    assert result.reached is True


@pytest.mark.parametrize(
    ("instrument", "key", "value", "reached"),
    [
        ("vas", "vas_mm", 32.3, True),  # <= 32.3 inclusive
        ("vas", "vas_mm", 32.4, False),
        ("vas", "vas_mm", 0, True),
        ("womac", "function_0_100", 31.0, True),  # <= 31.0 inclusive
        ("womac", "function_0_100", Fraction(311, 10), False),
    ],
)
def test_pass_for_knee_oa_is_inclusive(instrument, key, value, reached):
    result = pass_reached(instrument, key, "knee", value)
    assert result.reached is reached
    assert "Tubach" in result.citation
    assert "acceptable symptom state" in result.citation


def test_pass_has_no_threshold_outside_knee_oa():
    assert pass_reached("vas", "vas_mm", "hip", 10).reached is None
    assert pass_reached("koos", "pain", "knee", 90).reached is None
    assert pass_reached("vas", "vas_mm", "knee", None).reached is None


def test_every_threshold_is_sourced_and_names_a_real_output():
    assert len(THRESHOLDS) == 25  # 23 MCII rows (absolute and relative counted apart) and 2 PASS rows
    for row in THRESHOLDS:
        assert row.citation and row.population
        assert row.value > 0
        assert row.key in set(score(row.instrument, {}).scores)
        assert row.joint in ("knee", "hip", "spine")


def test_find_thresholds_lists_an_instruments_rows():
    assert {row.key for row in find_thresholds("koos")} == {"pain", "symptoms", "adl", "sport_rec", "qol"}
    assert {(row.joint, row.kind) for row in find_thresholds("vas", measure="mcii")} == {
        (joint, kind) for joint in ("knee", "hip", "spine") for kind in ("absolute", "relative")
    }
    assert [row.value for row in find_thresholds("vas", measure="pass")] == [Decimal("32.3")]
