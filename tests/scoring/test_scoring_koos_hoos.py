"""KOOS (KOOS Scoring 2012) and HOOS (HOOS Scoring 2013): SCORING.md sections 2 and 3.

Expected values are written out from the manuals' formula, 100 - mean x 25, not with the engine's code.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from scoring import get_instrument, score


def codes(prefix: str, last: int) -> list[str]:
    return [f"{prefix}{number}" for number in range(1, last + 1)]


KOOS_SUBSCALES = {
    "pain": codes("P", 9),
    "symptoms": codes("S", 7),
    "adl": codes("A", 17),
    "sport_rec": codes("SP", 5),
    "qol": codes("Q", 4),
}
HOOS_SUBSCALES = {
    "pain": codes("P", 10),
    "symptoms": codes("S", 5),
    "adl": codes("A", 17),
    "sport_rec": codes("SP", 4),
    "qol": codes("Q", 4),
}
# The minimum number of answered items: KOOS Scoring 2012 ("at least half"), HOOS Scoring 2013.
KOOS_MIN = {"pain": 5, "symptoms": 4, "adl": 9, "sport_rec": 3, "qol": 2}
HOOS_MIN = {"pain": 5, "symptoms": 3, "adl": 9, "sport_rec": 2, "qol": 2}


def every_item(subscales: dict[str, list[str]], value: int) -> dict[str, int]:
    return {code: value for items in subscales.values() for code in items}


def test_koos_no_problems_scores_100_everywhere():
    result = score("koos", every_item(KOOS_SUBSCALES, 0))
    assert result.scores == dict.fromkeys(get_instrument("koos").output_keys, 100.0)
    assert result.missing == dict.fromkeys(KOOS_SUBSCALES, 0)


def test_koos_extreme_problems_score_0_everywhere():
    result = score("koos", every_item(KOOS_SUBSCALES, 4))
    assert result.scores == dict.fromkeys(get_instrument("koos").output_keys, 0.0)


def test_hoos_extremes_and_no_aggregate():
    assert score("hoos", every_item(HOOS_SUBSCALES, 0)).scores == dict.fromkeys(HOOS_SUBSCALES, 100.0)
    assert score("hoos", every_item(HOOS_SUBSCALES, 4)).scores == dict.fromkeys(HOOS_SUBSCALES, 0.0)


def test_koos_subscale_is_100_minus_mean_times_25_exactly():
    answers = dict(zip(KOOS_SUBSCALES["pain"], [1, 2, 0, 1, 3, 0, 1, 2, 1], strict=True))  # sum 11 of 9
    result = score("koos", answers)
    assert result.exact["pain"] == 100 - Fraction(11 * 25, 9) == Fraction(625, 9)
    assert result.scores["pain"] == float(Fraction(625, 9))


def test_koos_mean_is_of_the_answered_items_only():
    # Five answered items of value 1, 2, 3, 0, 4: mean 2 -> 50, whatever the four missing would have been.
    answers = {"P1": 1, "P3": 2, "P5": 3, "P7": 0, "P9": 4, "P2": None}
    result = score("koos", answers)
    assert result.scores["pain"] == 50.0
    assert result.missing["pain"] == 4


@pytest.mark.parametrize(
    ("instrument", "subscale", "items", "minimum"),
    [("koos", key, KOOS_SUBSCALES[key], KOOS_MIN[key]) for key in KOOS_SUBSCALES]
    + [("hoos", key, HOOS_SUBSCALES[key], HOOS_MIN[key]) for key in HOOS_SUBSCALES],
)
@pytest.mark.parametrize("from_end", [False, True], ids=["first items", "last items"])
def test_subscale_is_scored_with_exactly_the_minimum_answered_and_not_one_fewer(
    instrument, subscale, items, minimum, from_end
):
    chosen = items[-minimum:] if from_end else items[:minimum]
    enough = score(instrument, dict.fromkeys(chosen, 2))
    assert enough.scores[subscale] == 50.0
    assert enough.missing[subscale] == len(items) - minimum

    too_few = score(instrument, dict.fromkeys(chosen[1:], 2))
    assert too_few.scores[subscale] is None
    assert too_few.missing[subscale] == len(items) - minimum + 1


def test_koos_uses_the_2012_half_rule_not_the_1998_two_missing_rule():
    # Four of nine pain items missing: invalid under the 1998 rule (more than two missing), valid since 2012.
    result = score("koos", dict.fromkeys(KOOS_SUBSCALES["pain"][:5], 1))
    assert result.scores["pain"] == 75.0


def test_koos_s4_and_s5_are_stored_with_always_as_0_and_never_as_4():
    koos = get_instrument("koos")
    for code in ("S4", "S5"):
        item = koos.item(code)
        assert [option.label for option in item.options] == [
            "Always",
            "Often",
            "Sometimes",
            "Rarely",
            "Never",
        ]
        assert [option.value for option in item.options] == [0, 1, 2, 3, 4]
    # S1-S3 run the other way in print: Never = 0.
    assert [option.label for option in koos.item("S1").options][0] == "Never"


def test_koos_never_able_to_straighten_the_knee_lowers_symptoms():
    always = dict.fromkeys(KOOS_SUBSCALES["symptoms"], 0)
    never = {**always, "S4": 4}  # "Never" able to straighten fully: the worst answer
    assert score("koos", always).scores["symptoms"] == 100.0
    assert score("koos", never).scores["symptoms"] == float(100 - Fraction(4 * 25, 7))


def test_koos_subscales_are_independent():
    answers = {**dict.fromkeys(KOOS_SUBSCALES["symptoms"], 1), "P1": 4}
    result = score("koos", answers)
    assert result.scores["symptoms"] == 75.0
    assert result.scores["pain"] is None
    assert result.scores["adl"] is None


def test_koos_aggregates_are_means_of_their_subscales():
    answers = {
        **dict.fromkeys(KOOS_SUBSCALES["pain"], 2),  # 50
        **dict.fromkeys(KOOS_SUBSCALES["symptoms"], 0),  # 100
        **dict.fromkeys(KOOS_SUBSCALES["adl"], 4),  # 0
        **dict.fromkeys(KOOS_SUBSCALES["sport_rec"], 1),  # 75
        **dict.fromkeys(KOOS_SUBSCALES["qol"], 3),  # 25
    }
    scores = score("koos", answers).scores
    assert scores["koos4_kanon"] == (50 + 100 + 75 + 25) / 4  # Frobell 2010: pain, symptoms, sport/rec, QOL
    assert scores["koos4_skou"] == (50 + 100 + 0 + 25) / 4  # Skou 2015: pain, symptoms, ADL, QOL
    assert scores["koos5"] == (50 + 100 + 0 + 75 + 25) / 5


def test_koos_aggregates_are_exact_means_of_exact_subscales():
    answers = {
        **dict.fromkeys(KOOS_SUBSCALES["pain"], 1),
        "P9": 2,  # 100 - 250/9
        **dict.fromkeys(KOOS_SUBSCALES["symptoms"], 1),
        "S7": 0,  # 100 - 150/7
        **dict.fromkeys(KOOS_SUBSCALES["sport_rec"], 3),  # 25
        **dict.fromkeys(KOOS_SUBSCALES["qol"][:3], 1),  # 75
    }
    result = score("koos", answers)
    expected = (100 - Fraction(250, 9) + 100 - Fraction(150, 7) + 25 + 75) / 4
    assert result.exact["koos4_kanon"] == expected
    assert result.scores["koos4_kanon"] == float(expected)


def test_koos_aggregate_is_none_when_one_of_its_parts_is():
    answers = {
        **dict.fromkeys(KOOS_SUBSCALES["pain"], 0),
        **dict.fromkeys(KOOS_SUBSCALES["symptoms"], 0),
        **dict.fromkeys(KOOS_SUBSCALES["sport_rec"], 0),
        **dict.fromkeys(KOOS_SUBSCALES["qol"], 0),
    }  # ADL not answered
    scores = score("koos", answers).scores
    assert scores["adl"] is None
    assert scores["koos4_kanon"] == 100.0  # does not use ADL
    assert scores["koos4_skou"] is None
    assert scores["koos5"] is None


def test_empty_response_gives_none_never_zero():
    for instrument in ("koos", "hoos"):
        result = score(instrument, {})
        assert all(value is None for value in result.scores.values())
        assert sum(result.missing.values()) == len(get_instrument(instrument).items)
