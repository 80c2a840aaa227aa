"""Instrument definitions as data, from which forms, the admin and the API are generated (SCORING.md 1)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from scoring import INSTRUMENTS, SCORING_VERSION, ScoreResult, ScoringError, get_instrument, score

SPEC_IDS = ["koos", "hoos", "womac", "womac_from_koos", "womac_from_hoos", "hhs", "mhhs", "vas", "nrs", "odi"]
SPEC_OUTPUTS = {
    "koos": ["pain", "symptoms", "adl", "sport_rec", "qol", "koos4_kanon", "koos4_skou", "koos5"],
    "hoos": ["pain", "symptoms", "adl", "sport_rec", "qol"],
    "womac": [
        "pain",
        "stiffness",
        "function",
        "total",
        "pain_0_100",
        "stiffness_0_100",
        "function_0_100",
        "total_0_100",
        "pain_0_100_inv",
        "stiffness_0_100_inv",
        "function_0_100_inv",
        "total_0_100_inv",
    ],
    "hhs": [
        "pain",
        "gait",
        "activities",
        "function",
        "deformity",
        "rom_index_sum",
        "rom",
        "total",
        "category",
    ],
    "mhhs": ["raw", "mhhs", "mhhs_uncapped", "mhhs_100_over_91"],
    "vas": ["vas_mm"],
    "nrs": ["nrs"],
    "odi": ["odi", "answered", "band"],
}
SPEC_OUTPUTS["womac_from_koos"] = SPEC_OUTPUTS["womac_from_hoos"] = SPEC_OUTPUTS["womac"]


def ranged(prefix: str, last: int) -> list[str]:
    return [f"{prefix}{number}" for number in range(1, last + 1)]


def test_the_instrument_ids_are_the_specs():
    # SCORING.md's instruments first, then SCORING-2.md's (tested in their own files).
    assert list(INSTRUMENTS)[: len(SPEC_IDS)] == SPEC_IDS
    for instrument_id in SPEC_IDS:
        assert get_instrument(instrument_id).id == instrument_id


@pytest.mark.parametrize("instrument_id", ["Koos", "koos ", "oks", ""])
def test_get_instrument_refuses_unknown_ids(instrument_id):
    with pytest.raises(ScoringError, match="unknown instrument"):
        get_instrument(instrument_id)


@pytest.mark.parametrize("instrument_id", SPEC_IDS)
def test_scores_have_exactly_the_specs_output_keys_and_missing_has_the_subscales(instrument_id):
    instrument = get_instrument(instrument_id)
    result = score(instrument_id, {})
    assert list(result.scores) == SPEC_OUTPUTS[instrument_id]
    assert list(instrument.output_keys) == SPEC_OUTPUTS[instrument_id]
    assert list(result.missing) == [subscale.code for subscale in instrument.subscales]
    assert result.version == SCORING_VERSION
    assert result.instrument == instrument_id


def test_item_codes_are_the_specs():
    assert get_instrument("koos").item_codes == tuple(
        ranged("S", 7) + ranged("P", 9) + ranged("A", 17) + ranged("SP", 5) + ranged("Q", 4)
    )
    assert get_instrument("hoos").item_codes == tuple(
        ranged("S", 5) + ranged("P", 10) + ranged("A", 17) + ranged("SP", 4) + ranged("Q", 4)
    )
    assert get_instrument("womac").item_codes == tuple(ranged("P", 5) + ranged("S", 2) + ranged("F", 17))
    assert get_instrument("odi").item_codes == tuple(ranged("S", 10))
    assert set(get_instrument("hhs").item_codes) == {
        "pain",
        "limp",
        "support",
        "distance",
        "stairs",
        "shoes_socks",
        "sitting",
        "public_transport",
        "fixed_flexion_contracture_deg",
        "fixed_adduction_deg",
        "fixed_internal_rotation_deg",
        "limb_length_discrepancy_cm",
        "flexion_deg",
        "abduction_deg",
        "adduction_deg",
        "external_rotation_deg",
        "internal_rotation_deg",
    }
    assert get_instrument("mhhs").item_codes == get_instrument("hhs").item_codes[:8]


@pytest.mark.parametrize("instrument_id", ["koos", "hoos", "womac"])
def test_likert_items_are_stored_0_to_4(instrument_id):
    for item in get_instrument(instrument_id).items:
        assert item.kind == "choice"
        assert item.values == (0, 1, 2, 3, 4)
        assert all(option.label for option in item.options)


def test_odi_sections_are_stored_0_to_5():
    for item in get_instrument("odi").items:
        assert item.values == (0, 1, 2, 3, 4, 5)


def test_loinc_panels():
    assert get_instrument("koos").loinc_panel == "72091-2"
    assert get_instrument("hoos").loinc_panel == "72092-0"
    for instrument_id in SPEC_IDS[2:]:
        assert get_instrument(instrument_id).loinc_panel is None


def test_licences_say_free_or_licensed():
    assert "free" in get_instrument("koos").licence.lower()
    assert "free" in get_instrument("hoos").licence.lower()
    assert "licen" in get_instrument("womac").licence.lower() and "Bellamy" in get_instrument("womac").licence
    assert "licen" in get_instrument("odi").licence.lower() and "Fairbank" in get_instrument("odi").licence


@pytest.mark.parametrize("instrument_id", SPEC_IDS)
def test_every_instrument_is_described_and_sourced(instrument_id):
    instrument = get_instrument(instrument_id)
    for text in (instrument.name, instrument.version, instrument.recall_period, instrument.licence):
        assert text.strip()
    assert instrument.scoring_source.strip()
    assert instrument.label_note.strip()


@pytest.mark.parametrize("instrument_id", SPEC_IDS)
def test_items_have_our_labels_in_printed_order_and_sections_cover_them(instrument_id):
    instrument = get_instrument(instrument_id)
    labels = [item.label for item in instrument.items]
    assert all(label.strip() for label in labels)
    assert len(set(labels)) == len(labels), "each label names its content"
    assert [item.order for item in instrument.items] == list(range(1, len(instrument.items) + 1))
    in_sections = [code for section in instrument.sections for code in section.item_codes]
    assert in_sections == list(instrument.item_codes)
    for item in instrument.items:
        assert item.code in instrument.section(item.subscale).item_codes


@pytest.mark.parametrize("instrument_id", SPEC_IDS)
def test_subscales_name_existing_items_and_one_missing_rule(instrument_id):
    instrument = get_instrument(instrument_id)
    for subscale in instrument.subscales:
        assert (subscale.min_answered is None) != (subscale.max_missing is None)
        assert 1 <= subscale.min_items <= len(subscale.item_codes)
        for code in subscale.item_codes:
            instrument.item(code)


def test_koos_content_label_example_from_the_issue():
    assert get_instrument("koos").item("P2").label == "pain when twisting or pivoting on the knee"


@pytest.mark.parametrize("instrument_id", SPEC_IDS)
def test_outputs_declare_range_direction_and_kind(instrument_id):
    for output in get_instrument(instrument_id).outputs:
        assert output.label.strip()
        assert output.direction in ("higher_better", "higher_worse", "none")
        assert output.kind in ("integer", "decimal", "category")
        if output.kind == "category":
            assert (output.min, output.max, output.direction) == (None, None, "none")
            assert output.choices
        else:
            assert output.min is not None and output.max is not None and output.min < output.max


def test_directions_of_the_main_scores():
    assert {output.direction for output in get_instrument("koos").outputs} == {"higher_better"}
    womac = get_instrument("womac")
    for output in womac.outputs:
        expected = "higher_better" if output.key.endswith("_inv") else "higher_worse"
        assert output.direction == expected
        # Always label the direction wherever a WOMAC number is shown (SCORING.md section 4), and the right one.
        if output.key.endswith("_inv"):
            assert output.label.endswith("(100 = best)"), output.label
        elif output.key.endswith("_0_100"):
            assert output.label.endswith("(100 = worst)"), output.label
        else:
            assert output.label.endswith(", higher = worse)"), output.label
    assert get_instrument("vas").output("vas_mm").direction == "higher_worse"
    assert get_instrument("odi").output("odi").direction == "higher_worse"
    assert get_instrument("odi").output("answered").direction == "none"
    assert get_instrument("hhs").output("total").direction == "higher_better"


def test_koos4_is_never_shown_bare():
    koos = get_instrument("koos")
    assert "Frobell" in koos.output("koos4_kanon").label
    assert "Skou" in koos.output("koos4_skou").label
    assert not any("total" in output.label.lower() for output in koos.outputs)


@pytest.mark.parametrize(("derived", "source"), [("womac_from_koos", "koos"), ("womac_from_hoos", "hoos")])
def test_derived_instruments_ask_the_source_items_and_give_womac_outputs(derived, source):
    instrument = get_instrument(derived)
    assert instrument.derived_from == source
    assert instrument.items == get_instrument(source).items
    assert instrument.sections == get_instrument(source).sections
    assert instrument.outputs == get_instrument("womac").outputs
    assert [womac for womac, _ in instrument.item_map] == list(get_instrument("womac").item_codes)
    assert {code for _, code in instrument.item_map} <= set(instrument.item_codes)


def test_clinician_and_patient_fields_of_the_harris_hip_score():
    hhs = get_instrument("hhs")
    clinician = {item.code for item in hhs.items if item.respondent == "clinician"}
    assert clinician == {code for code in hhs.item_codes if code.endswith(("_deg", "_cm"))}
    for code in clinician:
        item = hhs.item(code)
        assert item.kind == "decimal"
        assert item.unit == ("cm" if code.endswith("_cm") else "deg")
    assert hhs.item("fixed_flexion_contracture_deg").max == 180
    assert hhs.item("limb_length_discrepancy_cm").max == 30
    assert {item.respondent for item in get_instrument("mhhs").items} == {"patient"}
    for code in get_instrument("mhhs").item_codes:
        item = hhs.item(code)
        assert item.kind == "choice"
        assert all(isinstance(option.value, str) and option.points is not None for option in item.options)
        points = [option.points for option in item.options]
        assert points == sorted(points, reverse=True), "options run from best to worst"


def test_vas_and_nrs_items():
    vas = get_instrument("vas").item("vas_mm")
    assert (vas.kind, vas.min, vas.max, vas.unit) == ("decimal", 0, 100, "mm")
    nrs = get_instrument("nrs").item("nrs")
    assert (nrs.kind, nrs.min, nrs.max) == ("integer", 0, 10)


def test_definitions_and_results_are_frozen():
    koos = get_instrument("koos")
    with pytest.raises(dataclasses.FrozenInstanceError):
        koos.name = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        koos.items[0].label = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        INSTRUMENTS["oks"] = koos  # type: ignore[index]
    result = score("koos", {})
    assert isinstance(result, ScoreResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.version = "0"  # type: ignore[misc]


def test_results_serialize_to_json_as_they_are():
    result = score("hhs", {"pain": "mild"})
    document = json.loads(json.dumps(result.to_dict()))
    assert document == {
        "instrument": "hhs",
        "version": SCORING_VERSION,
        "scores": dict(result.scores),
        "missing": dict(result.missing),
    }
    json.dumps(result.scores)
