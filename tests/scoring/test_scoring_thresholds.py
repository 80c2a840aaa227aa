"""MCII and PASS thresholds as data, with their citations: SCORING.md section 8 and the second set's published
figures (scoring/thresholds.py names each source)."""

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
    # The second set: KOOS JR 15.1 and HOOS JR 18.0 (Hung 2018), Lysholm 5.5 (ACL reconstruction).
    ("koos_jr", "interval", "knee", "absolute", 50, 65.1, 65, "Hung"),
    ("koos_jr_from_koos", "interval", "knee", "absolute", 50, 65.1, 65, "Hung"),
    ("hoos_jr", "interval", "hip", "absolute", 50, 68, 67.9, "Hung"),
    ("hoos_jr_from_hoos", "interval", "hip", "absolute", 50, 68, 67.9, "Hung"),
    ("lysholm", "lysholm", "knee", "absolute", 80, 86, 85, "Lysholm score"),
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


@pytest.mark.parametrize(
    ("instrument", "key", "joint", "value", "reached", "cited"),
    [
        # Higher is better on all three: at or above the published figure is acceptable.
        ("koos_jr", "interval", "knee", 63.7, True, "Kunze"),
        ("koos_jr", "interval", "knee", 63.6, False, "Kunze"),
        ("koos_jr_from_koos", "interval", "knee", 63.7, True, "Kunze"),
        ("hoos_jr", "interval", "hip", 76.7, True, "Kunze"),
        ("hoos_jr", "interval", "hip", 76.6, False, "Kunze"),
        ("hoos_jr_from_hoos", "interval", "hip", 76.6, False, "Kunze"),
        ("ikdc", "ikdc", "knee", 76.2, True, "Urhausen"),
        ("ikdc", "ikdc", "knee", Fraction(761, 10), False, "Urhausen"),
        ("ikdc", "ikdc", "knee", 100, True, "Urhausen"),
    ],
)
def test_the_second_sets_pass_is_inclusive_and_higher_is_better(instrument, key, joint, value, reached, cited):
    result = pass_reached(instrument, key, joint, value)
    assert result.reached is reached
    assert cited in result.citation
    assert result.threshold is not None and result.threshold.better == "higher"


def test_a_scored_koos_jr_is_judged_on_its_table_value():
    # Raw 7 is 68.284 on the KOOS JR table (SCORING-2.md): acceptable (>= 63.7). Raw 14 is 52.465: not.
    seven = score("koos_jr", {"S6": 1, "P2": 1, "P3": 1, "P6": 1, "P9": 1, "A3": 1, "A5": 1})
    fourteen = score("koos_jr", {"S6": 2, "P2": 2, "P3": 2, "P6": 2, "P9": 2, "A3": 2, "A5": 2})
    assert pass_reached("koos_jr", "interval", "knee", seven.exact["interval"]).reached is True
    assert pass_reached("koos_jr", "interval", "knee", fourteen.exact["interval"]).reached is False
    # 52.465 -> 68.284 is 15.819 points: past the MCII of 15.1.
    change = mcii_change("koos_jr", "interval", "knee", fourteen.exact["interval"], seven.exact["interval"])
    assert change.reached is True


def test_instruments_without_a_published_threshold_have_none():
    for instrument, key in [
        ("koos12", "summary"),
        ("koos12_from_koos", "pain"),
        ("promis10", "gph_t"),
        ("tegner", "tegner"),
        ("eq5d5l", "index"),
    ]:
        assert find_thresholds(instrument, key) == ()
    assert mcii_change("ikdc", "ikdc", "knee", 40, 90).reached is None  # a PASS but no MCII found
    assert pass_reached("lysholm", "lysholm", "knee", 95).reached is None  # an MCII but no PASS
    assert pass_reached("koos_jr", "interval", "hip", 90).reached is None  # a knee score's threshold


def test_pass_has_no_threshold_outside_knee_oa():
    assert pass_reached("vas", "vas_mm", "hip", 10).reached is None
    assert pass_reached("koos", "pain", "knee", 90).reached is None
    assert pass_reached("vas", "vas_mm", "knee", None).reached is None


def test_every_threshold_is_sourced_and_names_a_real_output():
    # SCORING.md: 23 MCII rows (absolute and relative counted apart) and 2 PASS rows; the second set: 3 MCII rows
    # (KOOS JR, HOOS JR, Lysholm) and 3 PASS rows (KOOS JR, HOOS JR, IKDC).
    assert len(THRESHOLDS) == 31
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
