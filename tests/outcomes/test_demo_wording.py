"""The demo wording files in outcomes/demo_wording: valid, marked as demo, patient-facing, not our labels.

Plain pytest, no database: each file is loaded with scoring.load_wording and checked against the instrument
definition it words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import scoring

DEMO_WORDING = Path(__file__).resolve().parents[2] / "outcomes" / "demo_wording"
INSTRUMENTS = (
    "koos",
    "hoos",
    "mhhs",
    "odi",
    "vas",
    "nrs",
    "womac",
    "koos_jr",
    "koos12",
    "hoos_jr",
    "promis10",
    "ikdc",
    "lysholm",
    "tegner",
    "eq5d5l",
)
# Every shipped language, each title marked as demo wording in that language.
DEMO_MARK = {
    "en": " (demo wording)",
    "ko": "(데모 문구)",
    "ja": "（デモ用の文言）",
    "zh-hans": "（演示用文字）",
    "zh-hant": "（示範用文字）",
}
FORBIDDEN = ("the patient", "as set by", "statement")


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def test_the_folder_holds_every_instrument_in_every_shipped_language():
    from django.conf import settings

    assert set(DEMO_MARK) == {code for code, _name in settings.LANGUAGES}
    wanted = sorted(f"{i}.{language}.json" for i in INSTRUMENTS for language in DEMO_MARK)
    assert sorted(path.name for path in DEMO_WORDING.iterdir()) == wanted


@pytest.fixture(params=[(i, language) for i in INSTRUMENTS for language in DEMO_MARK], ids=lambda p: f"{p[0]}.{p[1]}")
def loaded(request):
    instrument, language = request.param
    return instrument, scoring.load_wording(DEMO_WORDING / f"{instrument}.{language}.json")


def test_file_is_the_named_instrument_in_its_language(loaded):
    instrument, wording = loaded
    assert wording.instrument == instrument
    assert wording.language in DEMO_MARK


def test_file_says_it_is_demo_wording(loaded):
    instrument, wording = loaded
    assert wording.title.endswith(DEMO_MARK[wording.language])
    english = scoring.load_wording(DEMO_WORDING / f"{instrument}.en.json")
    assert "not the validated" in english.source
    assert wording.source and (wording.language == "en" or wording.source != english.source)
    assert wording.instructions and (wording.language == "en" or wording.instructions != english.instructions)


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
    if wording.language != "en":  # written in the language: no English left in it
        english = [(where, text) for where, text in texts.items() if text and text.isascii() and " " in text.strip()]
        assert not english, f"{instrument}.{wording.language}: {english[:3]}"
        return
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
