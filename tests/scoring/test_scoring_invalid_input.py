"""Every kind of invalid input raises ScoringError and is never clamped or coerced (SCORING.md section 1)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from scoring import ScoringError, score, validate_answers

# One item of each kind: (instrument, item code, a valid value).
INTEGER_CHOICE = [
    ("koos", "P1", 2),
    ("hoos", "SP4", 2),
    ("womac", "F10", 2),
    ("odi", "S8", 2),
    ("womac_from_koos", "A12", 2),
]
NUMERIC = [("vas", "vas_mm", 50), ("hhs", "flexion_deg", 90), ("hhs", "limb_length_discrepancy_cm", 1)]
CODED = [("hhs", "pain", "mild"), ("mhhs", "support", "one_crutch")]
ALL_ITEMS = INTEGER_CHOICE + NUMERIC + CODED + [("nrs", "nrs", 5)]


def test_scoring_error_is_a_value_error():
    assert issubclass(ScoringError, ValueError)


@pytest.mark.parametrize(
    "instrument", ["KOOS", "Koos", "oks", "KOOS_JR", "hoos-jr", "koos-ps", "", None, 1, "womac_from_oks"]
)
def test_unknown_instrument(instrument):
    with pytest.raises(ScoringError, match="unknown instrument"):
        score(instrument, {})


@pytest.mark.parametrize("answers", [None, [], [("P1", 1)], "P1=1", 5, {"P1", "P2"}])
def test_answers_that_are_not_a_mapping(answers):
    with pytest.raises(ScoringError, match="mapping"):
        score("koos", answers)


@pytest.mark.parametrize(
    ("instrument", "code"),
    [
        ("koos", "p1"),
        ("koos", "P10"),
        ("koos", "Pain1"),
        ("koos", " P1"),
        ("koos", 1),
        ("hoos", "P11"),
        ("hoos", "S6"),
        ("womac", "A1"),
        ("odi", "S11"),
        ("hhs", "Pain"),
        ("vas", "VAS_mm"),
        ("nrs", "vas_mm"),
    ],
)
def test_unknown_item_code_is_case_sensitive(instrument, code):
    with pytest.raises(ScoringError, match="unknown item code"):
        score(instrument, {code: None})


@pytest.mark.parametrize(("instrument", "code", "valid"), ALL_ITEMS)
@pytest.mark.parametrize("bad", [True, False])
def test_bool_is_refused(instrument, code, valid, bad):
    with pytest.raises(ScoringError, match="bool"):
        score(instrument, {code: bad})


@pytest.mark.parametrize(("instrument", "code", "valid"), INTEGER_CHOICE + NUMERIC + [("nrs", "nrs", 5)])
@pytest.mark.parametrize("bad", ["1", "0", "one", " 1"])
def test_a_string_where_a_number_belongs(instrument, code, valid, bad):
    with pytest.raises(ScoringError, match="string"):
        score(instrument, {code: bad})


@pytest.mark.parametrize(("instrument", "code", "valid"), ALL_ITEMS)
def test_an_empty_string_is_refused_not_read_as_unanswered(instrument, code, valid):
    with pytest.raises(ScoringError, match="empty string"):
        score(instrument, {code: ""})


@pytest.mark.parametrize(("instrument", "code", "valid"), INTEGER_CHOICE + [("nrs", "nrs", 5)])
@pytest.mark.parametrize("bad", [1.5, 2.0, Decimal("2"), Decimal("2.5"), Fraction(2), Fraction(5, 2)])
def test_a_non_integer_on_an_integer_scale(instrument, code, valid, bad):
    # Whole floats (2.0) are refused too: an integer scale takes int (our strict reading of the spec).
    with pytest.raises(ScoringError, match="not an integer"):
        score(instrument, {code: bad})


@pytest.mark.parametrize(
    ("instrument", "code", "bad"),
    [
        ("koos", "P1", -1),
        ("koos", "P1", 5),
        ("koos", "S4", 5),
        ("hoos", "Q4", 5),
        ("womac", "S2", -1),
        ("odi", "S1", 6),
        ("nrs", "nrs", 11),
        ("nrs", "nrs", -1),
        ("vas", "vas_mm", 100.01),
        ("vas", "vas_mm", -0.01),
        ("hhs", "flexion_deg", 180.1),
        ("hhs", "abduction_deg", 91),
        ("hhs", "fixed_adduction_deg", -1),
        ("hhs", "limb_length_discrepancy_cm", 30.5),
    ],
)
def test_out_of_range_is_refused_not_clamped(instrument, code, bad):
    with pytest.raises(ScoringError, match="out of range"):
        score(instrument, {code: bad})


@pytest.mark.parametrize(("instrument", "code", "valid"), NUMERIC)
@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, -math.inf, Decimal("NaN"), Decimal("Infinity"), Decimal("sNaN")]
)
def test_nan_and_infinity_are_refused(instrument, code, valid, bad):
    with pytest.raises(ScoringError, match="finite"):
        score(instrument, {code: bad})


@pytest.mark.parametrize(("instrument", "code", "valid"), ALL_ITEMS)
@pytest.mark.parametrize("bad", [[1], {"value": 1}, (1,), object(), b"1"])
def test_other_types_are_refused(instrument, code, valid, bad):
    with pytest.raises(ScoringError, match=code):
        score(instrument, {code: bad})


@pytest.mark.parametrize(("instrument", "code", "valid"), CODED)
@pytest.mark.parametrize("bad", ["None", "SLIGHT", "slightly", 44, 0, 1.0, "trendelenburg"])
def test_harris_fields_take_their_codes_only(instrument, code, valid, bad):
    with pytest.raises(ScoringError, match=code):
        score(instrument, {code: bad})


@pytest.mark.parametrize(("instrument", "code", "valid"), ALL_ITEMS)
def test_every_valid_example_value_is_accepted(instrument, code, valid):
    assert validate_answers(instrument, {code: valid}) == {code: valid}


def test_one_bad_item_rejects_the_whole_response():
    answers = {f"P{n}": 1 for n in range(1, 10)} | {"Q1": 9}
    with pytest.raises(ScoringError, match="Q1"):
        score("koos", answers)


def test_error_messages_name_the_instrument_item_and_value():
    with pytest.raises(ScoringError) as error:
        score("koos", {"P3": 7})
    assert str(error.value) == "koos item P3: 7 is out of range (0-4)"


def test_the_given_answers_are_not_modified():
    answers = {"P1": 1, "P2": None}
    score("koos", answers)
    assert answers == {"P1": 1, "P2": None}


@pytest.mark.parametrize(
    ("bad", "named"),
    [(True, r"a bool \(True\)"), ([1], r"\[1\] \(list\)"), ("", "an empty string"), ("x", r"a string \('x'\)")],
)
def test_a_refused_answer_is_named_by_what_it_is(bad, named):
    # The message names the value and its kind (scoring.exact.describe): a bool is not called a number, a list not a
    # bool, an empty string not a string of text.
    with pytest.raises(ScoringError, match=rf"^koos item P1: {named} "):
        score("koos", {"P1": bad})
