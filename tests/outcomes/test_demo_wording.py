"""The demo wording files in outcomes/demo_wording: valid, marked as demo, patient-facing, not our labels.

Plain pytest, no database: each file is loaded with scoring.load_wording and checked against the instrument
definition it words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import scoring

DEMO_WORDING = Path(__file__).resolve().parents[2] / "outcomes" / "demo_wording"
INSTRUMENTS = ("koos", "hoos", "mhhs", "odi", "vas", "nrs", "womac")
FORBIDDEN = ("the patient", "as set by", "statement")


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def test_the_folder_holds_exactly_the_seven_files():
    assert sorted(path.name for path in DEMO_WORDING.iterdir()) == sorted(f"{i}.en.json" for i in INSTRUMENTS)


@pytest.fixture(params=INSTRUMENTS)
def loaded(request):
    instrument = request.param
    return instrument, scoring.load_wording(DEMO_WORDING / f"{instrument}.en.json")


def test_file_is_the_named_instrument_in_english(loaded):
    instrument, wording = loaded
    assert wording.instrument == instrument
    assert wording.language == "en"


def test_file_says_it_is_demo_wording(loaded):
    _, wording = loaded
    assert wording.title.endswith(" (demo wording)")
    assert "not the validated" in wording.source
    assert wording.instructions


def test_texts_are_patient_facing(loaded):
    instrument, wording = loaded
    texts = {"instructions": wording.instructions}
    for code, section in wording.sections.items():
        texts[f"section {code} title"] = section.title
        texts[f"section {code} instructions"] = section.instructions
    for code, item in wording.items.items():
        texts[f"item {code}"] = item.text
        for value, option in item.options.items():
            texts[f"item {code} option {value}"] = option
        for end, anchor in item.anchors.items():
            texts[f"item {code} anchor {end}"] = anchor
    offending = [(where, phrase) for where, text in texts.items() for phrase in FORBIDDEN if phrase in text.casefold()]
    assert not offending, f"{instrument}: {offending}"


def test_item_texts_are_not_the_content_labels(loaded):
    instrument, wording = loaded
    definition = scoring.get_instrument(instrument)
    same = [code for code, item in wording.items.items() if _normal(item.text) == _normal(definition.item(code).label)]
    assert not same, f"{instrument}: item text equals the registry content label for {same}"


def test_option_texts_are_distinct_within_each_item(loaded):
    instrument, wording = loaded
    definition = scoring.get_instrument(instrument)
    for item in definition.items:
        if item.kind != "choice":
            assert not wording.items[item.code].options
            continue
        texts = [_normal(text) for text in wording.items[item.code].options.values()]
        assert len(set(texts)) == len(texts), f"{instrument} {item.code}: repeated option text {texts}"
