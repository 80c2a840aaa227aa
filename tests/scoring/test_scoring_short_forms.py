"""KOOS JR, HOOS JR, KOOS-12 and PROMIS Global Health v1.2 (SCORING-2.md): definitions, every conversion-table row,
the fixed points, the missing-data rules at and past their limits, the Global07r recode and invalid input.

The expected tables are written out here a second time, from the second source where one exists (PROMIS: the Hays
2009 working documents), not read from the package, so a mistyped cell in ``scoring.short_forms`` fails a test.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from scoring import (
    INSTRUMENTS,
    ScoringError,
    get_instrument,
    load_wording,
    score,
    validate_answers,
    wording_skeleton,
)
from scoring.short_forms import GMH_TABLE, GPH_TABLE, HOOS_JR_INTERVAL, KOOS_JR_INTERVAL, global07r_recode

SECOND_SET = ["koos_jr", "hoos_jr", "koos12", "promis10"]
DERIVED = ["koos_jr_from_koos", "hoos_jr_from_hoos", "koos12_from_koos"]

KOOS_JR_ITEMS = ["S6", "P2", "P3", "P6", "P9", "A3", "A5"]
HOOS_JR_ITEMS = ["P5", "P10", "A3", "A5", "A12", "A14"]
KOOS12_SCALES = {
    "pain": ["P1", "P5", "P6", "P8"],
    "function": ["A3", "A4", "A7", "SP4"],
    "qol": ["Q1", "Q2", "Q3", "Q4"],
}
GPH_ITEMS = ["Global03", "Global06", "Global07r", "Global08r"]
GMH_ITEMS = ["Global02", "Global04", "Global05", "Global10r"]
PROMIS_ITEMS = [f"Global0{n}" for n in range(1, 7)] + ["Global07r", "Global08r", "Global09r", "Global10r"]

# Lyman 2016 as printed by CHOIR (TotalJointSurveyService.java), raw score -> interval score. Typed again here.
KOOS_JR_EXPECTED = {
    0: "100.000", 1: "91.975", 2: "84.600", 3: "79.914", 4: "76.332", 5: "73.342", 6: "70.704", 7: "68.284",
    8: "65.994", 9: "63.776", 10: "61.583", 11: "59.381", 12: "57.140", 13: "54.840", 14: "52.465", 15: "50.012",
    16: "47.487", 17: "44.905", 18: "42.281", 19: "39.625", 20: "36.931", 21: "34.174", 22: "31.307", 23: "28.251",
    24: "24.875", 25: "20.941", 26: "15.939", 27: "8.291", 28: "0.000",
}  # fmt: skip
HOOS_JR_EXPECTED = {
    0: "100.000", 1: "92.340", 2: "85.257", 3: "80.550", 4: "76.776", 5: "73.472", 6: "70.426", 7: "67.516",
    8: "64.664", 9: "61.815", 10: "58.930", 11: "55.985", 12: "52.965", 13: "49.858", 14: "46.652", 15: "43.335",
    16: "39.902", 17: "36.363", 18: "32.735", 19: "29.009", 20: "25.103", 21: "20.805", 22: "15.633", 23: "8.104",
    24: "0.000",
}  # fmt: skip
# Hays et al. 2009 working documents (gim.med.ucla.edu, ph4-summary-061909 and mh4-summary-062209): raw -> (T, SD),
# with the one documented change: Global Mental Health raw 4 is 21.1 there and 21.2 in the current tables.
GPH_EXPECTED = {
    4: ("16.2", "4.8"), 5: ("19.9", "4.7"), 6: ("23.5", "4.5"), 7: ("26.7", "4.3"), 8: ("29.6", "4.2"),
    9: ("32.4", "4.2"), 10: ("34.9", "4.1"), 11: ("37.4", "4.1"), 12: ("39.8", "4.1"), 13: ("42.3", "4.2"),
    14: ("44.9", "4.3"), 15: ("47.7", "4.4"), 16: ("50.8", "4.6"), 17: ("54.1", "4.7"), 18: ("57.7", "4.9"),
    19: ("61.9", "5.2"), 20: ("67.7", "5.9"),
}  # fmt: skip
GMH_EXPECTED = {
    4: ("21.2", "4.6"), 5: ("25.1", "4.1"), 6: ("28.4", "3.9"), 7: ("31.3", "3.7"), 8: ("33.8", "3.7"),
    9: ("36.3", "3.7"), 10: ("38.8", "3.6"), 11: ("41.1", "3.6"), 12: ("43.5", "3.6"), 13: ("45.8", "3.6"),
    14: ("48.3", "3.7"), 15: ("50.8", "3.7"), 16: ("53.3", "3.7"), 17: ("56.0", "3.8"), 18: ("59.0", "3.9"),
    19: ("62.5", "4.2"), 20: ("67.6", "5.3"),
}  # fmt: skip
# awell-score t_score_tables.ts (T-scores only), the third copy of the PROMIS T-scores.
AWELL_GPH_T = [
    16.2,
    19.9,
    23.5,
    26.7,
    29.6,
    32.4,
    34.9,
    37.4,
    39.8,
    42.3,
    44.9,
    47.7,
    50.8,
    54.1,
    57.7,
    61.9,
    67.7,
]
AWELL_GMH_T = [
    21.2,
    25.1,
    28.4,
    31.3,
    33.8,
    36.3,
    38.8,
    41.1,
    43.5,
    45.8,
    48.3,
    50.8,
    53.3,
    56.0,
    59.0,
    62.5,
    67.6,
]


def exact(printed: str) -> Fraction:
    return Fraction(Decimal(printed))


def summing_to(
    codes: list[str], raw: int, high: int = 4, low: int = 0, first_last: bool = False
) -> dict[str, int]:
    """Answers to ``codes`` whose sum is ``raw``: filled from the first item (or the last) up to ``high``."""
    answers: dict[str, int] = {}
    remaining = raw - low * len(codes)
    for code in reversed(codes) if first_last else codes:
        value = min(high - low, remaining)
        answers[code] = low + value
        remaining -= value
    assert remaining == 0, "raw score out of the scale's range"
    return answers


# --- definitions --------------------------------------------------------------------------------------------------
def test_the_second_set_follows_the_first_in_the_specs_order_then_the_derived_forms():
    second = list(INSTRUMENTS)[10:]
    assert second[: len(SECOND_SET) + len(DERIVED)] == SECOND_SET + DERIVED  # then IKDC, Lysholm, Tegner, EQ-5D-5L


def test_item_codes_are_the_specs():
    assert get_instrument("koos_jr").item_codes == tuple(KOOS_JR_ITEMS)
    assert get_instrument("hoos_jr").item_codes == tuple(HOOS_JR_ITEMS)
    assert get_instrument("koos12").item_codes == tuple(
        code for codes in KOOS12_SCALES.values() for code in codes
    )
    # PROMIS v1.2 in printed order: Global09r is printed sixth, then Global06, Global10r, Global08r, Global07r.
    assert get_instrument("promis10").item_codes == (
        "Global01", "Global02", "Global03", "Global04", "Global05", "Global09r", "Global06", "Global10r",
        "Global08r", "Global07r",
    )  # fmt: skip
    assert set(get_instrument("promis10").item_codes) == set(PROMIS_ITEMS)


def test_output_keys_and_missing_keys_are_the_specs():
    expected = {
        "koos_jr": (["raw", "interval"], ["koos_jr"]),
        "hoos_jr": (["raw", "interval"], ["hoos_jr"]),
        "koos12": (["pain", "function", "qol", "summary"], ["pain", "function", "qol"]),
        "promis10": (["gph_raw", "gph_t", "gph_se", "gmh_raw", "gmh_t", "gmh_se"], ["gph", "gmh"]),
    }
    for instrument_id, (outputs, missing) in expected.items():
        result = score(instrument_id, {})
        assert list(result.scores) == outputs == list(get_instrument(instrument_id).output_keys)
        assert list(result.missing) == missing
        assert all(value is None for value in result.scores.values())


def test_short_form_items_are_the_parents_items_with_their_labels_and_options():
    for instrument_id, parent in (("koos_jr", "koos"), ("hoos_jr", "hoos"), ("koos12", "koos")):
        for item in get_instrument(instrument_id).items:
            source = get_instrument(parent).item(item.code)
            assert (item.label, item.kind, item.options) == (source.label, source.kind, source.options)
            assert item.values == (0, 1, 2, 3, 4)


def test_promis_items_are_stored_as_printed_on_the_v1_2_form():
    promis = get_instrument("promis10")
    for code in PROMIS_ITEMS:
        item = promis.item(code)
        if code == "Global07r":
            assert (item.kind, item.min, item.max) == ("integer", 0, 10)
        else:
            # Printed best first: Excellent/Completely/Never/None = 5 ... Poor/Not at all/Always/Very severe = 1.
            assert item.kind == "choice"
            assert item.values == (5, 4, 3, 2, 1)
    assert [option.label for option in promis.item("Global08r").options] == [
        "None", "Mild", "Moderate", "Severe", "Very severe",
    ]  # fmt: skip
    assert [option.label for option in promis.item("Global10r").options][0] == "Never"
    assert [option.label for option in promis.item("Global01").options][0] == "Excellent"
    assert promis.section("past_7_days").item_codes == ("Global10r", "Global08r", "Global07r")


def test_loinc_codes_are_the_specs():
    koos_jr, hoos_jr = get_instrument("koos_jr"), get_instrument("hoos_jr")
    assert koos_jr.loinc_panel == "82324-5"
    assert [item.loinc for item in koos_jr.items] == [
        "82325-2", "82326-0", "82327-8", "82328-6", "82329-4", "82330-2", "82331-0",
    ]  # fmt: skip
    assert koos_jr.output("interval").loinc == "82332-8"
    assert hoos_jr.loinc_panel == "82316-1"
    assert [item.loinc for item in hoos_jr.items] == [
        "82317-9",
        "82318-7",
        "82319-5",
        "82320-3",
        "82321-1",
        "82322-9",
    ]
    assert hoos_jr.output("interval").loinc == "82323-7"
    for instrument_id in ("koos12", "promis10", *DERIVED):
        assert get_instrument(instrument_id).loinc_panel is None
    # A full KOOS carries no KOOS JR item codes: a derived score is not the short questionnaire as asked.
    assert {item.loinc for item in get_instrument("koos").items} == {None}


def loinc_check_digit(number: str) -> int:
    """LOINC's mod-10 check digit (the Luhn scheme)."""
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def test_every_loinc_code_has_a_valid_check_digit():
    codes = []
    for instrument in INSTRUMENTS.values():
        codes += [instrument.loinc_panel] + [item.loinc for item in instrument.items]
        codes += [output.loinc for output in instrument.outputs]
    codes = [code for code in codes if code is not None]
    assert len(set(codes)) >= 2 + 2 + 7 + 6 + 2  # KOOS, HOOS; KOOS JR and HOOS JR panels, items, scores
    for code in codes:
        number, check = code.split("-")
        assert loinc_check_digit(number) == int(check), code


def test_licences_and_sources_are_named():
    for instrument_id in ("koos_jr", "hoos_jr", "koos12"):
        licence = get_instrument(instrument_id).licence
        assert "free" in licence.lower() and "koos.nu" in licence
    assert "HealthMeasures" in get_instrument("promis10").licence
    assert (
        "Lyman" in get_instrument("koos_jr").scoring_source
        and "CHOIR" in get_instrument("koos_jr").scoring_source
    )
    assert "Lyman" in get_instrument("hoos_jr").scoring_source
    assert "koos.nu" in get_instrument("koos12").scoring_source
    assert "Hays" in get_instrument("promis10").scoring_source
    assert "v1.2" in get_instrument("promis10").version


def test_directions_and_ranges_of_the_outputs():
    for instrument_id, maximum in (("koos_jr", 28), ("hoos_jr", 24)):
        instrument = get_instrument(instrument_id)
        raw, interval = instrument.output("raw"), instrument.output("interval")
        assert (raw.kind, raw.min, raw.max, raw.direction) == ("integer", 0, maximum, "higher_worse")
        assert (interval.kind, interval.min, interval.max, interval.direction) == (
            "decimal",
            0,
            100,
            "higher_better",
        )
    assert {output.direction for output in get_instrument("koos12").outputs} == {"higher_better"}
    promis = get_instrument("promis10")
    assert (promis.output("gph_t").min, promis.output("gph_t").max) == (16.2, 67.7)
    assert (promis.output("gmh_t").min, promis.output("gmh_t").max) == (21.2, 67.6)
    assert (promis.output("gph_se").min, promis.output("gph_se").max) == (4.1, 5.9)
    assert (promis.output("gmh_se").min, promis.output("gmh_se").max) == (3.6, 5.3)
    for key in ("gph", "gmh"):
        assert promis.output(f"{key}_raw").kind == "integer"
        assert promis.output(f"{key}_raw").direction == promis.output(f"{key}_t").direction == "higher_better"
        assert promis.output(f"{key}_se").direction == "none"


@pytest.mark.parametrize("instrument_id", SECOND_SET)
def test_a_complete_synthetic_wording_loads(instrument_id):
    document = wording_skeleton(instrument_id)
    document.update(
        language="en",
        title="Synthetic title",
        source="synthetic test text, not validated wording",
        instructions="Synthetic instructions.",
    )
    for code, entry in document["items"].items():
        entry["text"] = f"Synthetic text of {code}"
        if "options" in entry:
            entry["options"] = {value: f"synthetic answer {value}" for value in entry["options"]}
        else:
            entry["anchors"] = {"min": "synthetic low end", "max": "synthetic high end"}
    wording = load_wording(document)
    assert set(wording.items) == set(get_instrument(instrument_id).item_codes)
    if instrument_id == "promis10":
        assert set(document["items"]["Global08r"]["options"]) == {"1", "2", "3", "4", "5"}


@pytest.mark.parametrize("instrument_id", DERIVED)
def test_a_derived_short_form_has_no_wording_of_its_own(instrument_id):
    with pytest.raises(ScoringError, match="no wording of its own"):
        wording_skeleton(instrument_id)


# --- KOOS JR and HOOS JR: every row of both tables ----------------------------------------------------------------
def test_the_tables_have_one_row_per_raw_score_and_fall_from_100_to_0():
    for table, expected in ((KOOS_JR_INTERVAL, KOOS_JR_EXPECTED), (HOOS_JR_INTERVAL, HOOS_JR_EXPECTED)):
        assert len(table) == len(expected)
        values = [exact(value) for value in table]
        assert values[0] == 100 and values[-1] == 0
        assert all(later < earlier for earlier, later in zip(values, values[1:], strict=False))
    assert list(GPH_TABLE) == list(GMH_TABLE) == list(range(4, 21))


@pytest.mark.parametrize(("raw", "interval"), KOOS_JR_EXPECTED.items())
def test_koos_jr_every_raw_score(raw, interval):
    for answers in (summing_to(KOOS_JR_ITEMS, raw), summing_to(KOOS_JR_ITEMS, raw, first_last=True)):
        result = score("koos_jr", answers)
        assert result.scores == {"raw": raw, "interval": float(interval)}
        assert result.exact["interval"] == exact(interval)  # exactly as tabled, no rounding
        assert result.missing == {"koos_jr": 0}


@pytest.mark.parametrize(("raw", "interval"), HOOS_JR_EXPECTED.items())
def test_hoos_jr_every_raw_score(raw, interval):
    for answers in (summing_to(HOOS_JR_ITEMS, raw), summing_to(HOOS_JR_ITEMS, raw, first_last=True)):
        result = score("hoos_jr", answers)
        assert result.scores == {"raw": raw, "interval": float(interval)}
        assert result.exact["interval"] == exact(interval)
        assert result.missing == {"hoos_jr": 0}


def test_the_published_fixed_points():
    # SCORING-2.md: KOOS JR raw 7 = 68.284, raw 14 = 52.465; HOOS JR raw 6 = 70.426; PROMIS GMH raw 4 = 21.2.
    assert score("koos_jr", summing_to(KOOS_JR_ITEMS, 7)).scores["interval"] == 68.284
    assert score("koos_jr", summing_to(KOOS_JR_ITEMS, 14)).scores["interval"] == 52.465
    assert score("hoos_jr", summing_to(HOOS_JR_ITEMS, 6)).scores["interval"] == 70.426
    assert score("promis10", dict.fromkeys(GMH_ITEMS, 1)).scores["gmh_t"] == 21.2


def test_koos_jr_a_worked_answer_set():
    # S6 mild (1), P2 moderate (2), P3 none, P6 severe (3), P9 mild, A3 moderate, A5 extreme (4): 13 -> 54.840.
    answers = {"S6": 1, "P2": 2, "P3": 0, "P6": 3, "P9": 1, "A3": 2, "A5": 4}
    assert score("koos_jr", answers).scores == {"raw": 13, "interval": 54.84}


@pytest.mark.parametrize(("instrument_id", "codes"), [("koos_jr", KOOS_JR_ITEMS), ("hoos_jr", HOOS_JR_ITEMS)])
def test_any_item_missing_makes_both_scores_missing(instrument_id, codes):
    complete = dict.fromkeys(codes, 2)
    assert score(instrument_id, complete).scores["raw"] == 2 * len(codes)
    for code in codes:
        for answers in ({**complete, code: None}, {c: v for c, v in complete.items() if c != code}):
            result = score(instrument_id, answers)
            assert result.scores == {"raw": None, "interval": None}
            assert result.missing == {instrument_id: 1}
    assert score(instrument_id, {}).missing == {instrument_id: len(codes)}


# --- KOOS-12 ------------------------------------------------------------------------------------------------------
def test_koos12_scales_are_100_minus_25_times_the_mean_and_the_summary_their_mean():
    answers = {
        **dict(zip(KOOS12_SCALES["pain"], [1, 2, 0, 1], strict=True)),  # mean 1 -> 75
        **dict(zip(KOOS12_SCALES["function"], [4, 4, 3, 4], strict=True)),  # mean 3.75 -> 6.25
        **dict(zip(KOOS12_SCALES["qol"], [2, 2, 2, 1], strict=True)),  # mean 1.75 -> 56.25
    }
    result = score("koos12", answers)
    assert result.scores == {"pain": 75.0, "function": 6.25, "qol": 56.25, "summary": 137.5 / 3}
    assert result.exact["summary"] == Fraction(275, 6)  # exact, not the float 45.8333...
    assert result.missing == {"pain": 0, "function": 0, "qol": 0}
    assert score("koos12", dict.fromkeys(answers, 0)).scores == dict.fromkeys(result.scores, 100.0)
    assert score("koos12", dict.fromkeys(answers, 4)).scores == dict.fromkeys(result.scores, 0.0)


@pytest.mark.parametrize("scale", KOOS12_SCALES)
def test_koos12_a_scale_is_scored_with_2_answered_and_not_with_1(scale):
    others = {code: 0 for name, codes in KOOS12_SCALES.items() if name != scale for code in codes}
    first, second, *_ = KOOS12_SCALES[scale]
    two = score("koos12", {**others, first: 1, second: 4})
    assert two.scores[scale] == 100 - 25 * 2.5
    assert two.missing[scale] == 2
    assert two.scores["summary"] == (100 + 100 + 37.5) / 3
    one = score("koos12", {**others, first: 1, second: None})
    assert one.scores[scale] is None
    assert one.missing[scale] == 3
    # The summary needs all three scales; the other two are still scored.
    assert one.scores["summary"] is None
    assert [one.scores[name] for name in KOOS12_SCALES if name != scale] == [100.0, 100.0]
    assert score("koos12", others).scores[scale] is None


def test_koos12_three_answered_items_are_averaged_not_substituted():
    result = score("koos12", {"Q1": 1, "Q2": 2, "Q3": 4})
    assert result.exact["qol"] == 100 - Fraction(25 * 7, 3)
    assert result.scores["pain"] is result.scores["function"] is result.scores["summary"] is None


# --- PROMIS Global Health v1.2 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), GPH_EXPECTED.items())
def test_promis_global_physical_health_every_raw_score(raw, expected):
    # Global07r 0 recodes to 5, so the physical raw score is the sum of the 1-5 values used.
    values = summing_to(GPH_ITEMS, raw, high=5, low=1)
    pain = {5: 0, 4: 2, 3: 5, 2: 8, 1: 10}[values["Global07r"]]
    result = score("promis10", {**values, "Global07r": pain})
    t_score, standard_error = expected
    assert (result.scores["gph_raw"], result.scores["gph_t"], result.scores["gph_se"]) == (
        raw,
        float(t_score),
        float(standard_error),
    )
    assert (result.exact["gph_t"], result.exact["gph_se"]) == (exact(t_score), exact(standard_error))
    assert result.scores["gph_t"] == AWELL_GPH_T[raw - 4]
    assert result.scores["gmh_raw"] is None  # the mental items were not answered


@pytest.mark.parametrize(("raw", "expected"), GMH_EXPECTED.items())
def test_promis_global_mental_health_every_raw_score(raw, expected):
    result = score("promis10", summing_to(GMH_ITEMS, raw, high=5, low=1))
    t_score, standard_error = expected
    assert (result.scores["gmh_raw"], result.scores["gmh_t"], result.scores["gmh_se"]) == (
        raw,
        float(t_score),
        float(standard_error),
    )
    assert (result.exact["gmh_t"], result.exact["gmh_se"]) == (exact(t_score), exact(standard_error))
    assert result.scores["gmh_t"] == AWELL_GMH_T[raw - 4]
    assert result.scores["gph_raw"] is None


def test_promis_gmh_raw_4_is_21_2_not_the_2009_working_documents_21_1():
    result = score("promis10", dict.fromkeys(GMH_ITEMS, 1))
    assert result.exact["gmh_t"] == Fraction(212, 10)
    assert result.scores["gmh_se"] == 4.6


@pytest.mark.parametrize(
    ("pain", "recoded"),
    [(0, 5), (1, 4), (2, 4), (3, 4), (4, 3), (5, 3), (6, 3), (7, 2), (8, 2), (9, 2), (10, 1)],
)
def test_global07r_recode_at_every_boundary(pain, recoded):
    assert global07r_recode(pain) == recoded
    # With the other three physical items at 1, the physical raw score is 3 + the recoded pain.
    result = score("promis10", {"Global03": 1, "Global06": 1, "Global08r": 1, "Global07r": pain})
    assert result.scores["gph_raw"] == 3 + recoded
    assert result.scores["gph_t"] == float(GPH_EXPECTED[3 + recoded][0])


@pytest.mark.parametrize("pain", [-1, 11, 2.0, True])
def test_global07r_recode_refuses_what_is_not_a_0_to_10_rating(pain):
    if isinstance(pain, int) and not isinstance(pain, bool):
        with pytest.raises(ValueError, match="0-10"):
            global07r_recode(pain)
    with pytest.raises(ScoringError, match="Global07r"):
        score("promis10", {"Global07r": pain})


def test_promis_global01_and_global09r_are_in_neither_summary():
    base = {**dict.fromkeys(GPH_ITEMS[:2] + GPH_ITEMS[3:], 3), "Global07r": 5, **dict.fromkeys(GMH_ITEMS, 3)}
    results = [
        score("promis10", {**base, "Global01": g01, "Global09r": g09}) for g01 in (1, 5) for g09 in (1, 5)
    ]
    assert all(result.scores == results[0].scores for result in results)
    assert results[0].scores["gph_raw"] == 12 and results[0].scores["gmh_raw"] == 12
    only_unsummed = score("promis10", {"Global01": 5, "Global09r": 5})
    assert set(only_unsummed.scores.values()) == {None}
    assert only_unsummed.missing == {"gph": 4, "gmh": 4}


@pytest.mark.parametrize(
    ("summary", "codes", "other"), [("gph", GPH_ITEMS, "gmh"), ("gmh", GMH_ITEMS, "gph")]
)
def test_promis_one_item_missing_makes_its_summary_missing_and_not_the_other(summary, codes, other):
    complete = {**dict.fromkeys(PROMIS_ITEMS, 4), "Global07r": 2}
    for code in codes:
        result = score("promis10", {**complete, code: None})
        assert [result.scores[f"{summary}_{key}"] for key in ("raw", "t", "se")] == [None, None, None]
        assert result.missing == {summary: 1, other: 0}
        assert result.scores[f"{other}_raw"] == 16
        assert result.scores[f"{other}_t"] == float({"gph": GPH_EXPECTED, "gmh": GMH_EXPECTED}[other][16][0])


def test_promis_best_and_worst_answers():
    best = score("promis10", {**dict.fromkeys(PROMIS_ITEMS, 5), "Global07r": 0})
    assert best.scores == {
        "gph_raw": 20,
        "gph_t": 67.7,
        "gph_se": 5.9,
        "gmh_raw": 20,
        "gmh_t": 67.6,
        "gmh_se": 5.3,
    }
    worst = score("promis10", {**dict.fromkeys(PROMIS_ITEMS, 1), "Global07r": 10})
    assert worst.scores == {
        "gph_raw": 4,
        "gph_t": 16.2,
        "gph_se": 4.8,
        "gmh_raw": 4,
        "gmh_t": 21.2,
        "gmh_se": 4.6,
    }


# --- invalid input, for every item --------------------------------------------------------------------------------
def every_item() -> list[tuple[str, str, int, int, int]]:
    """(instrument, item, a valid value, the lowest valid value, the highest) for every item of the second set."""
    rows = []
    for instrument_id in SECOND_SET + DERIVED:
        for item in get_instrument(instrument_id).items:
            low, high = (
                (item.min, item.max) if item.kind == "integer" else (min(item.values), max(item.values))
            )
            rows.append((instrument_id, item.code, (low + high) // 2, low, high))
    return rows


EVERY_ITEM = every_item()


@pytest.mark.parametrize(("instrument_id", "code", "valid", "low", "high"), EVERY_ITEM)
def test_every_item_takes_its_range_and_refuses_what_lies_outside_it(instrument_id, code, valid, low, high):
    for value in (low, valid, high):
        assert validate_answers(instrument_id, {code: value}) == {code: value}
    for value in (low - 1, high + 1):
        with pytest.raises(ScoringError, match=f"{code}: {value} is out of range"):
            score(instrument_id, {code: value})


@pytest.mark.parametrize(("instrument_id", "code", "valid", "low", "high"), EVERY_ITEM)
def test_every_item_refuses_floats_decimals_and_fractions_even_when_whole(
    instrument_id, code, valid, low, high
):
    for value in (float(valid), Decimal(valid), Fraction(valid), valid + 0.5):
        with pytest.raises(ScoringError, match="not an integer"):
            score(instrument_id, {code: value})


@pytest.mark.parametrize(("instrument_id", "code", "valid", "low", "high"), EVERY_ITEM)
def test_every_item_refuses_strings_bools_and_other_types(instrument_id, code, valid, low, high):
    for value in (str(valid), " 1", "one"):
        with pytest.raises(ScoringError, match="string"):
            score(instrument_id, {code: value})
    with pytest.raises(ScoringError, match="empty string"):
        score(instrument_id, {code: ""})
    for value in (True, False):
        with pytest.raises(ScoringError, match="bool"):
            score(instrument_id, {code: value})
    for value in ([valid], {"value": valid}, object()):
        with pytest.raises(ScoringError, match=code):
            score(instrument_id, {code: value})


@pytest.mark.parametrize(
    ("instrument_id", "code"),
    [
        ("koos_jr", "s6"),
        ("koos_jr", "P1"),  # a KOOS item that is not in the KOOS JR
        ("koos_jr", "S5"),
        ("hoos_jr", "P4"),
        ("hoos_jr", "p10"),
        ("koos12", "P2"),
        ("koos12", "SP1"),
        ("koos12", "Q5"),
        ("promis10", "global01"),
        ("promis10", "Global07"),  # v1.0/1.1 codes are not accepted
        ("promis10", "Global08"),
        ("promis10", "Global10"),
        ("promis10", "Global09"),
        ("promis10", "Global11"),
        ("promis10", "Global07R"),
        ("koos_jr_from_koos", "S8"),
        ("hoos_jr_from_hoos", "S6"),
        ("koos12_from_koos", "Q5"),
    ],
)
def test_unknown_item_codes_are_refused(instrument_id, code):
    with pytest.raises(ScoringError, match="unknown item code"):
        score(instrument_id, {code: None})


def test_one_bad_item_rejects_the_whole_response():
    with pytest.raises(ScoringError, match="Global10r"):
        score("promis10", {**dict.fromkeys(GPH_ITEMS, 3), "Global10r": 0})
    with pytest.raises(ScoringError, match="koos_jr item A5: 5 is out of range"):
        score("koos_jr", {**dict.fromkeys(KOOS_JR_ITEMS, 1), "A5": 5})
