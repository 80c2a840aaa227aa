"""IKDC 2000, Lysholm 1985 and Tegner (SCORING-2.md): worked examples, missing items, every invalid input."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import INSTRUMENTS, ScoringError, get_instrument, score, validate_answers

SETTINGS = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- written out from SCORING-2.md, independently of the package -----------------------------------
IKDC_CODES = [f"IKDC{n}" for n in range(1, 9)] + [f"IKDC9{c}" for c in "abcdefghi"] + ["IKDC10a", "IKDC10b"]
IKDC_SCORED = [code for code in IKDC_CODES if code != "IKDC10a"]
# The box values each item takes, and the most it scores (IKDC2/IKDC3 score 10 - value, so 10).
IKDC_RANGE = dict.fromkeys(IKDC_CODES, (0, 4))
IKDC_RANGE.update(
    {"IKDC2": (0, 10), "IKDC3": (0, 10), "IKDC6": (0, 1), "IKDC10a": (0, 10), "IKDC10b": (0, 10)}
)
IKDC_MAX = {code: IKDC_RANGE[code][1] for code in IKDC_SCORED}
IKDC_BEST = {code: IKDC_RANGE[code][1] for code in IKDC_CODES} | {"IKDC2": 0, "IKDC3": 0}
IKDC_WORST = dict.fromkeys(IKDC_CODES, 0) | {"IKDC2": 10, "IKDC3": 10}
# A worked example, scored by hand: item scores 2, 10-3=7, 10-4=6, 3, 2, 1, 3 | 2 | 3 3 2 1 3 4 2 1 2 | 6 = 53.
IKDC_EXAMPLE = {
    "IKDC1": 2,
    "IKDC2": 3,
    "IKDC3": 4,
    "IKDC4": 3,
    "IKDC5": 2,
    "IKDC6": 1,
    "IKDC7": 3,
    "IKDC8": 2,
    "IKDC9a": 3,
    "IKDC9b": 3,
    "IKDC9c": 2,
    "IKDC9d": 1,
    "IKDC9e": 3,
    "IKDC9f": 4,
    "IKDC9g": 2,
    "IKDC9h": 1,
    "IKDC9i": 2,
    "IKDC10a": 9,
    "IKDC10b": 6,
}

LYSHOLM_POINTS = {
    "limp": (0, 3, 5),
    "support": (0, 2, 5),
    "locking": (0, 2, 6, 10, 15),
    "instability": (0, 5, 10, 15, 20, 25),
    "pain": (0, 5, 10, 15, 20, 25),
    "swelling": (0, 2, 6, 10),
    "stairs": (0, 2, 6, 10),
    "squatting": (0, 2, 4, 5),
}
LYSHOLM_BEST = {code: max(points) for code, points in LYSHOLM_POINTS.items()}


def without(answers: dict[str, object], *codes: str) -> dict[str, object]:
    return {code: value for code, value in answers.items() if code not in codes}


# --- definitions ------------------------------------------------------------------------------------
def test_the_knee_forms_are_registered_after_the_first_set():
    ids = list(INSTRUMENTS)
    assert {"ikdc", "lysholm", "tegner"} <= set(ids)
    assert ids.index("ikdc") < ids.index("lysholm") < ids.index("tegner")
    assert ids.index("odi") < ids.index("ikdc")


@pytest.mark.parametrize(
    ("instrument_id", "codes", "outputs"),
    [
        ("ikdc", IKDC_CODES, ["raw", "max_possible", "answered", "ikdc"]),
        ("lysholm", list(LYSHOLM_POINTS), ["lysholm"]),
        ("tegner", ["tegner"], ["tegner"]),
    ],
)
def test_item_codes_and_output_keys_are_the_specs(instrument_id, codes, outputs):
    instrument = get_instrument(instrument_id)
    assert list(instrument.item_codes) == codes
    assert list(instrument.output_keys) == outputs
    assert list(score(instrument_id, {}).scores) == outputs
    assert instrument.value_sets == ()
    assert instrument.loinc_panel is None
    labels = [item.label for item in instrument.items]
    assert all(label.strip() for label in labels) and len(set(labels)) == len(labels)
    assert [item.order for item in instrument.items] == list(range(1, len(codes) + 1))
    assert [code for section in instrument.sections for code in section.item_codes] == codes
    for text in (instrument.name, instrument.licence, instrument.scoring_source, instrument.label_note):
        assert text.strip()
    for output in instrument.outputs:
        assert output.label.strip() and output.min < output.max


def test_ikdc_items_store_the_box_numbers_of_the_2000_form():
    ikdc = get_instrument("ikdc")
    for code, (low, high) in IKDC_RANGE.items():
        item = ikdc.item(code)
        assert item.kind == "choice"
        assert sorted(item.values) == list(range(low, high + 1)), code
        assert all(option.label for option in item.options)
    # Printed order: best answer first, except the yes/no locking item and the 0-10 function rows.
    assert [code for code in IKDC_CODES if not ikdc.item(code).best_first] == ["IKDC6", "IKDC10a", "IKDC10b"]
    assert ikdc.item("IKDC1").values == (4, 3, 2, 1, 0)
    assert ikdc.item("IKDC2").values == tuple(range(11))
    assert ikdc.item("IKDC6").values == (0, 1)
    (subscale,) = ikdc.subscales
    assert list(subscale.item_codes) == IKDC_SCORED
    assert subscale.min_items == 16
    assert sum(IKDC_MAX.values()) == 87
    assert [s.code for s in ikdc.sections] == ["symptoms", "sports", "function"]
    assert ikdc.section("symptoms").item_codes == tuple(IKDC_CODES[:7])


def test_lysholm_and_tegner_options_are_printed_best_first():
    lysholm = get_instrument("lysholm")
    for code, points in LYSHOLM_POINTS.items():
        assert lysholm.item(code).values == tuple(sorted(points, reverse=True))
    assert get_instrument("tegner").item("tegner").values == tuple(range(10, -1, -1))
    assert get_instrument("lysholm").output("lysholm").direction == "higher_better"
    assert get_instrument("tegner").output("tegner").kind == "integer"


# --- IKDC ---------------------------------------------------------------------------------------------
def test_ikdc_best_and_worst_answers():
    best = score("ikdc", IKDC_BEST)
    assert best.scores == {"raw": 87, "max_possible": 87, "answered": 18, "ikdc": 100.0}
    assert best.missing == {"ikdc": 0}
    worst = score("ikdc", IKDC_WORST)
    assert worst.scores == {"raw": 0, "max_possible": 87, "answered": 18, "ikdc": 0.0}


def test_ikdc_worked_example_with_all_18_answered():
    result = score("ikdc", IKDC_EXAMPLE)
    assert result.exact == {"raw": 53, "max_possible": 87, "answered": 18, "ikdc": Fraction(5300, 87)}
    assert result.scores["ikdc"] == 5300 / 87
    assert isinstance(result.scores["raw"], int) and isinstance(result.scores["ikdc"], float)


def test_ikdc_with_16_answered_divides_by_the_answered_items_maxima_not_87():
    # IKDC2 (scored 7 of 10) and IKDC6 (1 of 1) missing: raw 53 - 7 - 1 = 45 of 87 - 10 - 1 = 76.
    result = score("ikdc", without(IKDC_EXAMPLE, "IKDC2", "IKDC6"))
    assert result.exact == {"raw": 45, "max_possible": 76, "answered": 16, "ikdc": Fraction(4500, 76)}
    assert result.scores["ikdc"] == pytest.approx(59.2105263, abs=1e-7)
    assert result.exact["ikdc"] != Fraction(4500, 87), "awell-score's always-87 rule is not ours"
    assert result.missing == {"ikdc": 2}


def test_ikdc_with_15_answered_is_not_scored():
    result = score("ikdc", without(IKDC_EXAMPLE, "IKDC2", "IKDC6", "IKDC9a"))
    assert result.scores == {"raw": None, "max_possible": None, "answered": 15, "ikdc": None}
    assert result.missing == {"ikdc": 3}
    assert score("ikdc", {}).scores == {"raw": None, "max_possible": None, "answered": 0, "ikdc": None}


@pytest.mark.parametrize(
    ("missing", "raw", "max_possible"),
    [
        ("IKDC3", 53 - 6, 77),  # a reversed item: its maximum is 10 (10 - 0), its score 10 - 4
        ("IKDC2", 53 - 7, 77),
        ("IKDC6", 53 - 1, 86),  # the yes/no item: maximum 1
        ("IKDC10b", 53 - 6, 77),
        ("IKDC9f", 53 - 4, 83),
    ],
)
def test_ikdc_max_possible_when_one_item_is_missing(missing, raw, max_possible):
    for answers in (without(IKDC_EXAMPLE, missing), {**IKDC_EXAMPLE, missing: None}):
        result = score("ikdc", answers)
        assert result.exact == {
            "raw": raw,
            "max_possible": max_possible,
            "answered": 17,
            "ikdc": Fraction(100 * raw, max_possible),
        }


@pytest.mark.parametrize("before_injury", [0, 5, 10, None])
def test_ikdc10a_is_recorded_and_never_counted(before_injury):
    answers = {**IKDC_EXAMPLE, "IKDC10a": before_injury}
    assert score("ikdc", answers).exact == score("ikdc", IKDC_EXAMPLE).exact
    assert validate_answers("ikdc", {"IKDC10a": 7}) == {"IKDC10a": 7}
    # 15 scored items and IKDC10a are still 15 of 18.
    fifteen = {**without(IKDC_EXAMPLE, "IKDC2", "IKDC6", "IKDC9a"), "IKDC10a": before_injury}
    assert score("ikdc", fifteen).scores["ikdc"] is None
    assert score("ikdc", fifteen).scores["answered"] == 15


def test_ikdc_reversed_items_score_10_minus_the_value():
    base = {**IKDC_BEST}
    for code in ("IKDC2", "IKDC3"):
        for value in range(11):
            result = score("ikdc", {**base, code: value})
            assert result.exact["raw"] == 87 - value


@st.composite
def ikdc_answers(draw: st.DrawFn) -> dict[str, object]:
    answers: dict[str, object] = {}
    for code in IKDC_CODES:
        if draw(st.integers(0, 9)) == 0:
            continue
        low, high = IKDC_RANGE[code]
        answers[code] = draw(st.integers(low, high))
    return answers


@SETTINGS
@given(ikdc_answers())
def test_ikdc_is_between_0_and_100_and_follows_the_rule(answers):
    result = score("ikdc", answers)
    answered = [code for code in IKDC_SCORED if code in answers]
    assert result.scores["answered"] == len(answered)
    if len(answered) < 16:
        assert result.scores["ikdc"] is None and result.scores["raw"] is None
        return
    raw = sum(10 - answers[c] if c in ("IKDC2", "IKDC3") else answers[c] for c in answered)  # type: ignore[operator]
    maximum = sum(IKDC_MAX[c] for c in answered)
    assert result.exact["raw"] == raw
    assert result.exact["max_possible"] == maximum
    assert result.exact["ikdc"] == Fraction(100 * raw, maximum)
    assert 0 <= result.scores["ikdc"] <= 100


# --- Lysholm ------------------------------------------------------------------------------------------
def test_lysholm_best_worst_and_a_worked_example():
    assert score("lysholm", LYSHOLM_BEST).scores == {"lysholm": 100}
    assert score("lysholm", dict.fromkeys(LYSHOLM_POINTS, 0)).scores == {"lysholm": 0}
    example = {
        "limp": 3,
        "support": 5,
        "locking": 10,
        "instability": 15,
        "pain": 20,
        "swelling": 6,
        "stairs": 6,
        "squatting": 2,
    }
    result = score("lysholm", example)
    assert result.scores == {"lysholm": 67}
    assert isinstance(result.scores["lysholm"], int)
    assert result.missing == {"lysholm": 0}


@pytest.mark.parametrize(
    ("code", "value"), [(code, value) for code, points in LYSHOLM_POINTS.items() for value in points]
)
def test_lysholm_takes_every_listed_value(code, value):
    assert validate_answers("lysholm", {code: value}) == {code: value}
    answers = {**LYSHOLM_BEST, code: value}
    assert score("lysholm", answers).scores == {"lysholm": 100 - LYSHOLM_BEST[code] + value}


@pytest.mark.parametrize(
    ("code", "value"),
    [
        (code, value)
        for code, points in LYSHOLM_POINTS.items()
        for value in range(max(points) + 1)
        if value not in points
    ],
)
def test_lysholm_refuses_every_unlisted_value_inside_the_range(code, value):
    with pytest.raises(ScoringError, match=rf"lysholm item {code}: {value} is not one of the allowed values"):
        score("lysholm", {code: value})


def test_locking_5_is_refused():
    with pytest.raises(ScoringError) as error:
        score("lysholm", {**LYSHOLM_BEST, "locking": 5})
    assert str(error.value) == "lysholm item locking: 5 is not one of the allowed values (0, 2, 6, 10, 15)"


@pytest.mark.parametrize("code", list(LYSHOLM_POINTS))
@pytest.mark.parametrize("kind", ["above", "negative", "float", "bool", "string", "empty"])
def test_lysholm_invalid_input_for_every_item(code, kind):
    bad, match = {
        "above": (max(LYSHOLM_POINTS[code]) + 1, "out of range"),
        "negative": (-1, "out of range"),
        "float": (float(max(LYSHOLM_POINTS[code])), "not an integer"),
        "bool": (True, "bool"),
        "string": (str(max(LYSHOLM_POINTS[code])), "string"),
        "empty": ("", "empty string"),
    }[kind]
    with pytest.raises(ScoringError, match=match):
        score("lysholm", {**LYSHOLM_BEST, code: bad})


@pytest.mark.parametrize("code", list(LYSHOLM_POINTS))
def test_lysholm_needs_all_eight(code):
    for answers in (without(LYSHOLM_BEST, code), {**LYSHOLM_BEST, code: None}):
        result = score("lysholm", answers)
        assert result.scores == {"lysholm": None}
        assert result.missing == {"lysholm": 1}
    assert score("lysholm", {}).missing == {"lysholm": 8}


def test_lysholm_has_no_thigh_atrophy_item():
    with pytest.raises(ScoringError, match="unknown item code"):
        score("lysholm", {**LYSHOLM_BEST, "thigh_atrophy": 0})


# --- Tegner ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", range(11))
def test_tegner_takes_each_level_from_0_to_10(level):
    result = score("tegner", {"tegner": level})
    assert result.scores == {"tegner": level}
    assert isinstance(result.scores["tegner"], int)
    assert result.missing == {"tegner": 0}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (11, "out of range"),
        (-1, "out of range"),
        (2.0, "not an integer"),
        (Decimal("2"), "not an integer"),
        (Fraction(2), "not an integer"),
        (5.5, "not an integer"),
        (True, "bool"),
        ("5", "string"),
        ("", "empty string"),
    ],
)
def test_tegner_invalid_input(bad, match):
    with pytest.raises(ScoringError, match=match):
        score("tegner", {"tegner": bad})


def test_tegner_not_answered():
    for answers in ({}, {"tegner": None}):
        assert score("tegner", answers).scores == {"tegner": None}
        assert score("tegner", answers).missing == {"tegner": 1}
    with pytest.raises(ScoringError, match="unknown item code"):
        score("tegner", {"Tegner": 5})


# --- invalid IKDC input, item by item -------------------------------------------------------------------
@pytest.mark.parametrize("code", IKDC_CODES)
@pytest.mark.parametrize("kind", ["above", "negative", "float", "bool", "string", "empty", "other"])
def test_ikdc_invalid_input_for_every_item(code, kind):
    low, high = IKDC_RANGE[code]
    bad, match = {
        "above": (high + 1, "out of range"),
        "negative": (low - 1, "out of range"),
        "float": (float(high), "not an integer"),
        "bool": (False, "bool"),
        "string": (str(high), "string"),
        "empty": ("", "empty string"),
        "other": ([high], code),
    }[kind]
    with pytest.raises(ScoringError, match=match):
        score("ikdc", {**IKDC_EXAMPLE, code: bad})


@pytest.mark.parametrize("code", ["ikdc1", "IKDC9", "IKDC10", "IKDC9j", "IKDC11", "IKDC 1", "Q1"])
def test_ikdc_unknown_item_codes(code):
    with pytest.raises(ScoringError, match="unknown item code"):
        score("ikdc", {code: 1})


def test_ikdc_messages_name_the_item_and_range():
    with pytest.raises(ScoringError) as error:
        score("ikdc", {"IKDC6": 2})
    assert str(error.value) == "ikdc item IKDC6: 2 is out of range (0-1)"
    with pytest.raises(ScoringError) as error:
        score("ikdc", {"IKDC2": 11})
    assert str(error.value) == "ikdc item IKDC2: 11 is out of range (0-10)"


@pytest.mark.parametrize("instrument_id", ["ikdc", "lysholm", "tegner"])
@pytest.mark.parametrize("value_set", ["US", "DE", "", "JP"])
def test_a_value_set_is_refused_by_the_knee_forms(instrument_id, value_set):
    with pytest.raises(ScoringError, match=rf"{instrument_id}: takes no value set"):
        score(instrument_id, {}, value_set=value_set)
