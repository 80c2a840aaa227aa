"""WOMAC LK3.1 and WOMAC derived from KOOS or HOOS: SCORING.md section 4."""

from __future__ import annotations

from fractions import Fraction

import pytest

from scoring import ScoringError, get_instrument, score

PAIN = [f"P{n}" for n in range(1, 6)]
STIFFNESS = ["S1", "S2"]
FUNCTION = [f"F{n}" for n in range(1, 18)]
ALL = PAIN + STIFFNESS + FUNCTION

# The mapping as SCORING.md section 4 states it, written out here rather than taken from the package.
FROM_KOOS = {
    **dict(zip(PAIN, ["P5", "P6", "P7", "P8", "P9"], strict=True)),
    "S1": "S6",
    "S2": "S7",
    **{f"F{n}": f"A{n}" for n in range(1, 18)},
}
FROM_HOOS = {
    **dict(zip(PAIN, ["P4", "P5", "P6", "P7", "P8"], strict=True)),
    "S1": "S4",
    "S2": "S5",
    **{f"F{n}": f"A{n}" for n in range(1, 18)},
}


def test_no_symptoms_scores_0_raw_0_normalised_and_100_inverted():
    scores = score("womac", dict.fromkeys(ALL, 0)).scores
    for key in ("pain", "stiffness", "function", "total"):
        assert scores[key] == 0.0
        assert scores[f"{key}_0_100"] == 0.0
        assert scores[f"{key}_0_100_inv"] == 100.0


def test_extreme_symptoms_reach_each_maximum():
    scores = score("womac", dict.fromkeys(ALL, 4)).scores
    assert (scores["pain"], scores["stiffness"], scores["function"], scores["total"]) == (20, 8, 68, 96)
    for key in ("pain", "stiffness", "function", "total"):
        assert scores[f"{key}_0_100"] == 100.0  # 100 = worst
        assert scores[f"{key}_0_100_inv"] == 0.0  # 100 = best


def test_subscales_are_sums_and_normalised_by_their_maximum():
    answers = {**dict.fromkeys(PAIN, 1), "S1": 2, "S2": 1, **dict.fromkeys(FUNCTION, 1)}
    scores = score("womac", answers).scores
    assert scores["pain"] == 5.0
    assert scores["stiffness"] == 3.0
    assert scores["function"] == 17.0
    assert scores["total"] == 25.0
    assert scores["pain_0_100"] == 25.0
    assert scores["stiffness_0_100"] == 37.5
    assert scores["function_0_100"] == 25.0
    assert scores["total_0_100"] == float(Fraction(2500, 96))
    assert scores["total_0_100_inv"] == float(100 - Fraction(2500, 96))


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        # (number of function items missing, mean of the answered x 17)
        (1, Fraction(17 * 17, 16)),  # 16 answered summing to 17: 18.0625
        (2, Fraction(16 * 17, 15)),  # 15 answered summing to 16
        (3, Fraction(15 * 17, 14)),  # 14 answered summing to 15
    ],
)
def test_function_with_one_to_three_missing_substitutes_the_mean_giving_a_fractional_sum(missing, expected):
    answered = FUNCTION[: 17 - missing]
    answers = {**dict.fromkeys(answered, 1), answered[-1]: 2}
    result = score("womac", answers)
    assert result.exact["function"] == expected
    assert result.scores["function"] == float(expected)
    assert result.scores["function_0_100"] == float(expected * 100 / 68)
    assert result.missing["function"] == missing


def test_function_with_four_missing_is_invalid():
    result = score("womac", dict.fromkeys(FUNCTION[:13], 1))
    assert result.scores["function"] is None
    assert result.scores["function_0_100"] is None
    assert result.scores["function_0_100_inv"] is None
    assert result.missing["function"] == 4


def test_pain_allows_one_missing_item_with_the_mean_substituted():
    result = score("womac", {"P1": 1, "P2": 1, "P3": 1, "P4": 2})
    assert result.exact["pain"] == Fraction(5 * 5, 4)
    assert result.scores["pain"] == 6.25
    assert score("womac", {"P1": 1, "P2": 1, "P3": 1}).scores["pain"] is None


def test_stiffness_allows_no_missing_item():
    assert score("womac", {"S1": 2, "S2": 3}).scores["stiffness"] == 5.0
    assert score("womac", {"S1": 2}).scores["stiffness"] is None


def test_total_only_when_all_three_subscales_are_valid():
    complete = dict.fromkeys(ALL, 1)
    assert score("womac", complete).scores["total"] == 24.0
    without_stiffness = {**complete, "S2": None}
    scores = score("womac", without_stiffness).scores
    assert scores["total"] is None
    assert scores["total_0_100"] is None
    assert scores["total_0_100_inv"] is None
    assert scores["pain"] == 5.0


def test_total_adds_substituted_sums_exactly():
    answers = {**dict.fromkeys(ALL, 1), "F17": None, "F16": 2}  # function = 17/16 x 17
    assert score("womac", answers).exact["total"] == 5 + 2 + Fraction(17 * 17, 16)


@pytest.mark.parametrize(
    ("derived", "mapping", "source"),
    [("womac_from_koos", FROM_KOOS, "koos"), ("womac_from_hoos", FROM_HOOS, "hoos")],
)
def test_derived_womac_uses_the_mapped_items(derived, mapping, source):
    # Give every WOMAC item a distinct pattern so a wrong or shifted mapping shows.
    womac_answers = {code: (index * 7) % 5 for index, code in enumerate(ALL)}
    source_answers = {mapping[code]: value for code, value in womac_answers.items()}
    derived_result = score(derived, source_answers)
    assert derived_result.instrument == derived
    assert derived_result.scores == score("womac", womac_answers).scores
    assert derived_result.missing == {"pain": 0, "stiffness": 0, "function": 0}
    assert get_instrument(derived).derived_from == source


@pytest.mark.parametrize("derived", ["womac_from_koos", "womac_from_hoos"])
def test_derived_womac_ignores_the_other_items(derived):
    source = get_instrument(derived).derived_from
    mapping = FROM_KOOS if source == "koos" else FROM_HOOS
    base = {mapping[code]: 1 for code in ALL}
    others = [item.code for item in get_instrument(source).items if item.code not in base]
    assert score(derived, base).scores == score(derived, {**base, **dict.fromkeys(others, 4)}).scores


@pytest.mark.parametrize(("derived", "other_item"), [("womac_from_koos", "P1"), ("womac_from_hoos", "SP3")])
def test_derived_womac_still_rejects_an_invalid_item_outside_womac(derived, other_item):
    with pytest.raises(ScoringError, match=other_item):
        score(derived, {other_item: 7})


def test_derived_womac_takes_source_codes_not_womac_codes():
    with pytest.raises(ScoringError, match="F1"):
        score("womac_from_koos", {"F1": 1})


def test_derived_womac_missing_counts_womac_items_only():
    answers = {"P5": 1, "P6": 1, "P7": 1, "P8": 1, "S6": 0, "S7": 0, "P1": None}
    result = score("womac_from_koos", answers)
    assert result.missing == {"pain": 1, "stiffness": 0, "function": 17}
    assert result.scores["pain"] == 5.0


def test_derived_womac_notes_the_different_recall_period():
    for derived in ("womac_from_koos", "womac_from_hoos"):
        notes = " ".join(get_instrument(derived).notes)
        assert "last week" in notes
        assert "48 hours" in notes
