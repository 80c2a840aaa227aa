"""OMERACT-OARSI responder criteria (Pham 2004): SCORING.md section 8."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from scoring import OMERACT_OARSI_CITATION, ScoringError, omeract_oarsi_responder

KEYS = {"responder", "high_pain", "high_function", "pain_20", "function_20", "global_20"}


def responder(pain=(50, 50), function=(50, 50), global_=(None, None)):
    return omeract_oarsi_responder(
        pain_baseline=pain[0],
        pain_followup=pain[1],
        function_baseline=function[0],
        function_followup=function[1],
        global_baseline=global_[0],
        global_followup=global_[1],
    )


def test_the_specs_example():
    result = omeract_oarsi_responder(
        pain_baseline=60,
        pain_followup=30,
        function_baseline=50,
        function_followup=45,
        global_baseline=None,
        global_followup=None,
    )
    assert set(result) == KEYS
    assert result == {
        "responder": True,
        "high_pain": True,
        "high_function": False,
        "pain_20": True,
        "function_20": False,
        "global_20": None,
    }


@pytest.mark.parametrize(
    ("pain", "high"),
    [
        ((40, 20), True),  # exactly 50% and 20 points
        ((40, 20.1), False),  # 19.9 points
        ((100, 50), True),
        ((30, 15), False),  # 50% but only 15 points
        ((38, 19), False),  # 50% but 19 points: 20 is the floor, not 19
        ((60, 40), False),  # 20 points but only 33%
        ((Decimal("40.2"), Decimal("20.1")), True),  # exactly 50%, 20.1 points
    ],
)
def test_high_improvement_needs_50_percent_and_20_points_inclusive(pain, high):
    assert responder(pain=pain)["high_pain"] is high
    assert responder(function=pain)["high_function"] is high


@pytest.mark.parametrize(
    ("pain", "met"),
    [
        ((50, 40), True),  # exactly 20% and 10 points
        ((50, 40.1), False),
        ((40.3, 30.3), True),  # exactly 10 points: 40.3 - 30.3 is not 9.999999999999996 here
        ((80, 70), False),  # 10 points but 12.5%
        ((55, 45), False),  # 10 points but 18.2%: 20% is the floor, not a sixth
        ((40, 32), False),  # 20% but 8 points
        ((Fraction(100, 3), Fraction(70, 3)), True),  # exactly 10 points (30%) between thirds
        ((Fraction(100, 3), Fraction(701, 30)), False),  # 9.9666... points
    ],
)
def test_20_percent_improvement_needs_20_percent_and_10_points_inclusive(pain, met):
    assert responder(pain=pain)["pain_20"] is met
    assert responder(function=pain)["function_20"] is met
    assert responder(global_=pain)["global_20"] is met


def test_float_differences_are_exact_at_the_threshold():
    assert 40.3 - 30.3 != 10  # the float drift the engine must not have
    assert responder(pain=(40.3, 30.3))["pain_20"] is True


def test_a_baseline_of_0_cannot_improve():
    result = responder(pain=(0, 0), function=(0, 0), global_=(0, 0))
    assert result == dict.fromkeys(KEYS, False)


def test_worsening_is_not_improvement():
    result = responder(pain=(30, 60), function=(30, 60), global_=(30, 60))
    assert result["responder"] is False


@pytest.mark.parametrize(
    ("pain", "function", "global_", "expected"),
    [
        ((50, 40), (50, 40), (None, None), True),  # two of three without the global
        ((50, 40), (50, 50), (None, None), None),  # depends on the missing global
        ((50, 50), (50, 40), (None, None), None),
        ((50, 40), (50, 50), (50, 40), True),  # pain and global
        ((50, 50), (50, 40), (50, 40), True),  # function and global
        ((50, 40), (50, 50), (50, 50), False),  # only one of three
        ((50, 50), (50, 50), (50, 40), False),  # global alone is not enough
        ((50, 50), (50, 50), (None, None), False),  # nothing improved: the global cannot make two
        ((50, 25), (50, 50), (None, None), True),  # high pain alone
        ((50, 50), (50, 25), (50, 60), True),  # high function alone, whatever the global
        ((50, 40), (50, 40), (50, 40), True),  # all three: "at least two", not "exactly two"
    ],
)
def test_responder_combines_the_criteria(pain, function, global_, expected):
    assert responder(pain=pain, function=function, global_=global_)["responder"] is expected


def test_global_20_is_none_without_a_global():
    assert responder()["global_20"] is None
    assert responder(global_=(50, 50))["global_20"] is False


@pytest.mark.parametrize("name", ["pain_baseline", "pain_followup", "function_baseline", "function_followup"])
def test_a_missing_pain_or_function_value_is_an_error(name):
    values = {"pain_baseline": 50, "pain_followup": 40, "function_baseline": 50, "function_followup": 40}
    with pytest.raises(ScoringError, match=name):
        omeract_oarsi_responder(**{**values, name: None})


@pytest.mark.parametrize(("global_", "given"), [((50, None), "global_baseline"), ((None, 50), "global_followup")])
def test_a_global_at_one_time_point_only_is_an_error_naming_the_one_given(global_, given):
    with pytest.raises(ScoringError) as refused:
        responder(global_=global_)
    assert str(refused.value) == f"omeract_oarsi_responder: {given} is given without the other global value"


@pytest.mark.parametrize("bad", [-0.1, 100.1, 101, -1, math.nan, math.inf, True, "50", "", [50]])
@pytest.mark.parametrize("where", ["pain", "function", "global"])
def test_inputs_outside_0_to_100_or_not_numbers_are_errors(bad, where):
    pair = (bad, 50)
    with pytest.raises(ScoringError):
        responder(**{where if where != "global" else "global_": pair})


def test_it_is_cited():
    assert "Pham" in OMERACT_OARSI_CITATION
    assert "2004" in OMERACT_OARSI_CITATION
