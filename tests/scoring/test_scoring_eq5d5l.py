"""EQ-5D-5L index (SCORING-2.md): the six value sets against an independent copy of their coefficients and the
published worst states; value-set handling; missing and invalid input; monotonicity."""

from __future__ import annotations

import itertools
import json
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import INSTRUMENTS, ScoringError, get_instrument, score, validate_answers
from scoring.eq5d import VALUE_SETS, eq5d5l_index

SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DIMENSIONS = ["MO", "SC", "UA", "PD", "AD"]

# An independent literal copy, typed again from the sources (not from scoring/eq5d.py): decrements of levels
# 2-5 per dimension, then (constant where any level > 1, term where any level is 4 or 5). US, DE, GB-ENG, KR and
# CN as in fragla/eq5d data-raw/VT.csv (US and DE also in the MII kerndatensatzmodul-proms CodeSystem); JP the
# six-decimal coefficients of Shiroiwa 2016 (cTTO), as in the Hagiwara mapping script.
COEFFICIENTS: dict[str, tuple[dict[str, tuple[str, str, str, str]], str, str]] = {
    "US": (
        {
            "MO": ("0.096", "0.122", "0.237", "0.322"),
            "SC": ("0.089", "0.107", "0.220", "0.261"),
            "UA": ("0.068", "0.101", "0.255", "0.255"),
            "PD": ("0.060", "0.098", "0.318", "0.414"),
            "AD": ("0.057", "0.123", "0.299", "0.321"),
        },
        "0",
        "0",
    ),
    "DE": (
        {
            "MO": ("0.026", "0.042", "0.139", "0.224"),
            "SC": ("0.050", "0.056", "0.169", "0.260"),
            "UA": ("0.036", "0.049", "0.129", "0.209"),
            "PD": ("0.057", "0.109", "0.404", "0.612"),
            "AD": ("0.030", "0.082", "0.244", "0.356"),
        },
        "0",
        "0",
    ),
    "GB-ENG": (
        {
            "MO": ("0.058", "0.076", "0.207", "0.274"),
            "SC": ("0.050", "0.080", "0.164", "0.203"),
            "UA": ("0.050", "0.063", "0.162", "0.184"),
            "PD": ("0.063", "0.084", "0.276", "0.335"),
            "AD": ("0.078", "0.104", "0.285", "0.289"),
        },
        "0",
        "0",
    ),
    "JP": (
        {
            "MO": ("0.063865", "0.112618", "0.179043", "0.242916"),
            "SC": ("0.043632", "0.076660", "0.124265", "0.159659"),
            "UA": ("0.050407", "0.091131", "0.147929", "0.174786"),
            "PD": ("0.044545", "0.068178", "0.131436", "0.191203"),
            "AD": ("0.071779", "0.110496", "0.168171", "0.195961"),
        },
        "0.060924",
        "0",
    ),
    "KR": (
        {
            "MO": ("0.046", "0.058", "0.133", "0.251"),
            "SC": ("0.032", "0.050", "0.078", "0.122"),
            "UA": ("0.021", "0.051", "0.100", "0.175"),
            "PD": ("0.042", "0.053", "0.166", "0.207"),
            "AD": ("0.033", "0.046", "0.102", "0.137"),
        },
        "0.096",
        "0.078",
    ),
    "CN": (
        {
            "MO": ("0.066", "0.158", "0.287", "0.345"),
            "SC": ("0.048", "0.116", "0.210", "0.253"),
            "UA": ("0.045", "0.107", "0.194", "0.233"),
            "PD": ("0.058", "0.138", "0.252", "0.302"),
            "AD": ("0.049", "0.118", "0.215", "0.258"),
        },
        "0",
        "0",
    ),
}
CODES = list(COEFFICIENTS)
# Published worst states (55555), three decimals.
PUBLISHED_WORST = {
    "US": "-0.573",
    "DE": "-0.661",
    "GB-ENG": "-0.285",
    "JP": "-0.025",
    "KR": "-0.066",
    "CN": "-0.391",
}
# VT.csv's Japan_cTTO column: the same coefficients rounded to four decimals.
VT_CSV_JAPAN = {
    "MO": ("0.0639", "0.1126", "0.179", "0.2429"),
    "SC": ("0.0436", "0.0767", "0.1243", "0.1597"),
    "UA": ("0.0504", "0.0911", "0.1479", "0.1748"),
    "PD": ("0.0445", "0.0682", "0.1314", "0.1912"),
    "AD": ("0.0718", "0.1105", "0.1682", "0.196"),
}
VT_CSV_JAPAN_CONSTANT = "0.0609"


def state(code: str) -> dict[str, int]:
    """ "21345" -> {"MO": 2, "SC": 1, ...}."""
    return {dimension: int(level) for dimension, level in zip(DIMENSIONS, code, strict=True)}


def by_hand(value_set: str, levels: dict[str, int]) -> Fraction:
    """The index from the literal copy above: 1 - decrements - constant - level 4/5 term."""
    decrements, constant, level_4_or_5 = COEFFICIENTS[value_set]
    index = Fraction(1)
    for dimension, level in levels.items():
        if level > 1:
            index -= Fraction(decrements[dimension][level - 2])
    if any(level > 1 for level in levels.values()):
        index -= Fraction(constant)
    if any(level >= 4 for level in levels.values()):
        index -= Fraction(level_4_or_5)
    return index


def round3(value: Fraction) -> str:
    return str(
        (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.001"), ROUND_HALF_UP)
    )


# --- definition -----------------------------------------------------------------------------------------
def test_the_instrument_and_its_value_sets():
    instrument = get_instrument("eq5d5l")
    assert list(INSTRUMENTS).index("eq5d5l") > list(INSTRUMENTS).index("tegner")
    assert list(instrument.item_codes) == DIMENSIONS
    assert instrument.value_sets == ("US", "DE", "GB-ENG", "JP", "KR", "CN")
    assert tuple(VALUE_SETS) == instrument.value_sets
    assert list(instrument.output_keys) == ["index"]
    for item in instrument.items:
        assert item.kind == "choice" and item.values == (1, 2, 3, 4, 5) and item.best_first
    output = instrument.output("index")
    assert (output.min, output.max, output.direction, output.kind) == (-0.661, 1, "higher_better", "decimal")
    assert "licen" in instrument.licence.lower() and "EuroQol" in instrument.licence
    # Only EQ-5D-5L takes a value set.
    assert [i.id for i in INSTRUMENTS.values() if i.value_sets] == ["eq5d5l"]


@pytest.mark.parametrize("value_set", CODES)
def test_the_package_coefficients_equal_the_independent_copy(value_set):
    decrements, constant, level_4_or_5 = COEFFICIENTS[value_set]
    chosen = VALUE_SETS[value_set]
    assert {d: tuple(Fraction(x) for x in row) for d, row in decrements.items()} == dict(chosen.decrements)
    assert chosen.constant == Fraction(constant)
    assert chosen.level_4_or_5 == Fraction(level_4_or_5)
    assert chosen.citation.strip() and chosen.source.strip()


# --- fixed points -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("value_set", CODES)
def test_the_worst_state_rounds_to_the_published_value(value_set):
    result = score("eq5d5l", state("55555"), value_set=value_set)
    assert result.exact["index"] == by_hand(value_set, state("55555"))
    assert round3(result.exact["index"]) == PUBLISHED_WORST[value_set]


def test_the_worst_states_exactly():
    exact = {code: score("eq5d5l", state("55555"), value_set=code).exact["index"] for code in CODES}
    assert exact == {
        "US": Fraction("-0.573"),
        "DE": Fraction("-0.661"),
        "GB-ENG": Fraction("-0.285"),
        "JP": Fraction("-0.025449"),
        "KR": Fraction("-0.066"),
        "CN": Fraction("-0.391"),
    }


@pytest.mark.parametrize("value_set", CODES)
def test_full_health_is_exactly_1_in_every_set(value_set):
    # Japan and Korea subtract their constant only when some level is above 1.
    result = score("eq5d5l", state("11111"), value_set=value_set)
    assert result.exact["index"] == 1
    assert result.scores == {"index": 1.0}


def test_japanese_four_decimal_copy_misses_the_published_worst_state():
    # VT.csv rounds the Japanese coefficients to four decimals; our six-decimal ones round to its cells...
    decrements, constant, _ = COEFFICIENTS["JP"]
    for dimension in DIMENSIONS:
        for ours, csv in zip(decrements[dimension], VT_CSV_JAPAN[dimension], strict=True):
            assert Decimal(ours).quantize(Decimal("0.0001"), ROUND_HALF_UP) == Decimal(csv)
    assert Decimal(constant).quantize(Decimal("0.0001"), ROUND_HALF_UP) == Decimal(VT_CSV_JAPAN_CONSTANT)
    # ...but with the rounded cells 55555 is -0.0255, which rounds to -0.026, not the published -0.025.
    four = 1 - Fraction(VT_CSV_JAPAN_CONSTANT) - sum(Fraction(VT_CSV_JAPAN[d][3]) for d in DIMENSIONS)
    assert four == Fraction("-0.0255")
    assert round3(four) == "-0.026"


# Mixed states, worked by hand from the coefficients (each line: the decrements taken).
WORKED = [
    ("US", "21345", "0.164"),  # 1 - .096 - .101 - .318 - .321
    ("US", "11115", "0.679"),  # 1 - .321
    ("US", "11411", "0.745"),  # 1 - .255
    ("US", "11511", "0.745"),  # 1 - .255: UA4 and UA5 are equal in the US set
    ("DE", "21345", "0.165"),  # 1 - .026 - .049 - .404 - .356
    ("DE", "12121", "0.893"),  # 1 - .050 - .057
    ("GB-ENG", "21345", "0.314"),  # 1 - .058 - .063 - .276 - .289
    ("GB-ENG", "33333", "0.593"),  # 1 - .076 - .080 - .063 - .084 - .104
    ("JP", "21345", "0.456683"),  # 1 - .060924 - .063865 - .091131 - .131436 - .195961
    ("JP", "11112", "0.867297"),  # 1 - .060924 - .071779
    ("KR", "21345", "0.426"),  # 1 - .096 - .078 - .046 - .051 - .166 - .137
    ("KR", "12111", "0.872"),  # 1 - .096 - .032 (no level 4 or 5)
    ("KR", "11141", "0.660"),  # 1 - .096 - .078 - .166
    ("CN", "21345", "0.317"),  # 1 - .066 - .107 - .252 - .258
    ("CN", "44444", "-0.158"),  # 1 - .287 - .210 - .194 - .252 - .215
]


@pytest.mark.parametrize(("value_set", "code", "expected"), WORKED)
def test_worked_mixed_states(value_set, code, expected):
    result = score("eq5d5l", state(code), value_set=value_set)
    assert result.exact["index"] == Fraction(expected)
    assert result.scores["index"] == float(Fraction(expected))
    assert by_hand(value_set, state(code)) == Fraction(expected)


@pytest.mark.parametrize("value_set", CODES)
def test_every_one_of_the_3125_states_equals_the_independent_copy(value_set):
    for levels in itertools.product(range(1, 6), repeat=5):
        answers = dict(zip(DIMENSIONS, levels, strict=True))
        assert eq5d5l_index(answers, value_set) == by_hand(value_set, answers), (value_set, levels)
    assert score("eq5d5l", state("34251"), value_set=value_set).exact["index"] == by_hand(
        value_set, state("34251")
    )


# --- value sets --------------------------------------------------------------------------------------------
def test_a_value_set_is_required():
    with pytest.raises(ScoringError, match="eq5d5l: a value set is required"):
        score("eq5d5l", state("12345"))
    with pytest.raises(ScoringError, match="value set is required"):
        score("eq5d5l", state("12345"), value_set=None)


@pytest.mark.parametrize(
    "value_set", ["us", "UK", "GB", "ENG", "England", "Japan_cTTO", "JP ", "", "XX", 1, True]
)
def test_an_unknown_value_set_is_refused(value_set):
    with pytest.raises(ScoringError, match="eq5d5l: unknown value set"):
        score("eq5d5l", state("12345"), value_set=value_set)
    with pytest.raises(ScoringError, match="unknown value set"):
        eq5d5l_index(state("12345"), value_set)


@pytest.mark.parametrize("instrument_id", [i for i in INSTRUMENTS if i != "eq5d5l"])
def test_every_other_instrument_refuses_a_value_set(instrument_id):
    with pytest.raises(ScoringError, match=rf"^{instrument_id}: takes no value set .*only eq5d5l does"):
        score(instrument_id, {}, value_set="US")


def test_the_result_names_its_value_set():
    result = score("eq5d5l", state("21345"), value_set="DE")
    assert result.value_set == "DE"
    document = json.loads(json.dumps(result.to_dict()))
    assert document["value_set"] == "DE"
    assert document["scores"] == {"index": 0.165}
    assert score("koos", {}).value_set is None
    assert "value_set" not in score("koos", {}).to_dict()


def test_validation_needs_no_value_set():
    assert validate_answers("eq5d5l", state("21345")) == state("21345")


# --- missing and invalid input ----------------------------------------------------------------------------
@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_any_dimension_missing_gives_no_index(dimension):
    for answers in (
        {**state("21345"), dimension: None},
        {d: v for d, v in state("21345").items() if d != dimension},
    ):
        result = score("eq5d5l", answers, value_set="US")
        assert result.scores == {"index": None}
        assert result.missing == {"index": 1}
    assert score("eq5d5l", {}, value_set="KR").missing == {"index": 5}


@pytest.mark.parametrize("dimension", DIMENSIONS)
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (0, "out of range"),
        (6, "out of range"),
        (-1, "out of range"),
        (2.0, "not an integer"),
        (Decimal("3"), "not an integer"),
        (Fraction(3), "not an integer"),
        (True, "bool"),
        ("3", "string"),
        ("", "empty string"),
        ([3], "where a number belongs"),
    ],
)
def test_invalid_levels_are_refused(dimension, bad, match):
    with pytest.raises(ScoringError, match=rf"eq5d5l item {dimension}: .*{match}"):
        score("eq5d5l", {**state("11111"), dimension: bad}, value_set="US")


@pytest.mark.parametrize("code", ["mo", "VAS", "EQVAS", "MO1", "PAIN"])
def test_unknown_items_are_refused(code):
    # The EQ VAS is a separate instrument, not an input here.
    with pytest.raises(ScoringError, match="unknown item code"):
        score("eq5d5l", {**state("11111"), code: 50}, value_set="US")


# --- properties ---------------------------------------------------------------------------------------------
levels = st.fixed_dictionaries({dimension: st.integers(1, 5) for dimension in DIMENSIONS})


@SETTINGS
@given(answers=levels, dimension=st.sampled_from(DIMENSIONS), step=st.integers(1, 4))
def test_worsening_one_dimension_never_raises_the_index_in_any_set(answers, dimension, step):
    worse = {**answers, dimension: min(5, answers[dimension] + step)}
    for value_set in CODES:
        before = score("eq5d5l", answers, value_set=value_set).exact["index"]
        after = score("eq5d5l", worse, value_set=value_set).exact["index"]
        assert after <= before, (value_set, answers, worse)
        assert by_hand(value_set, state("55555")) <= after <= 1
