"""Loading validated wording (format registry-wording/1) and the text forms show.

The wording here is synthetic: the registry ships no validated text, and neither do its tests.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest

import scoring
from scoring import (
    LABEL_SOURCE_CONTENT,
    LABEL_SOURCE_WORDING,
    WORDING_FORMAT,
    ScoringError,
    get_instrument,
    item_text,
    load_wording,
    option_labels,
    wording_skeleton,
)


def synthetic(instrument: str, language: str = "en") -> dict:
    """A complete wording document whose every text is made up and names where it sits."""
    document = wording_skeleton(instrument)
    document.update(
        language=language,
        title=f"Synthetic {instrument} title",
        source="synthetic test text, not validated wording",
        instructions="Synthetic instructions.",
    )
    for code, entry in document["items"].items():
        entry["text"] = f"Synthetic text of {code}"
        if "options" in entry:
            entry["options"] = {value: f"synthetic answer {value} of {code}" for value in entry["options"]}
        else:
            entry["anchors"] = {"min": "synthetic low end", "max": "synthetic high end"}
    return document


@pytest.mark.parametrize("instrument", ["koos", "hoos", "womac", "hhs", "mhhs", "vas", "nrs", "odi"])
def test_a_complete_synthetic_wording_loads_for_every_instrument(instrument):
    wording = load_wording(synthetic(instrument))
    assert wording.instrument == instrument
    assert wording.language == "en"
    assert set(wording.items) == set(get_instrument(instrument).item_codes)


def test_it_loads_from_a_path_a_text_file_and_a_binary_file(tmp_path: Path):
    document = synthetic("koos", "de-CH")
    path = tmp_path / "koos.de-CH.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    from_path = load_wording(path)
    from_str_path = load_wording(str(path))
    from_text = load_wording(io.StringIO(json.dumps(document)))
    from_bytes = load_wording(io.BytesIO(json.dumps(document).encode("utf-8")))
    assert from_path == from_str_path == from_text == from_bytes == load_wording(document)
    assert from_path.language == "de-CH"


def test_option_texts_are_keyed_by_the_stored_values():
    koos = load_wording(synthetic("koos"))
    assert koos.items["S4"].options[0] == "synthetic answer 0 of S4"
    hhs = load_wording(synthetic("hhs"))
    assert hhs.items["pain"].options["totally_disabled"] == "synthetic answer totally_disabled of pain"
    assert hhs.items["flexion_deg"].anchors == {"min": "synthetic low end", "max": "synthetic high end"}


def test_forms_show_our_label_without_wording_and_say_so():
    assert item_text("koos", "P2") == ("pain when twisting or pivoting on the knee", LABEL_SOURCE_CONTENT)
    options, source = option_labels("koos", "S4")
    assert options == ((0, "Always"), (1, "Often"), (2, "Sometimes"), (3, "Rarely"), (4, "Never"))
    assert source == "registry content label"


def test_forms_show_the_loaded_wording_and_say_so():
    wording = load_wording(synthetic("koos"))
    assert item_text("koos", "P2", wording) == ("Synthetic text of P2", LABEL_SOURCE_WORDING)
    options, source = option_labels("koos", "S4", wording)
    assert options[0] == (0, "synthetic answer 0 of S4")
    assert [value for value, _ in options] == [0, 1, 2, 3, 4]
    assert source == "validated wording"


def test_derived_womac_shows_its_sources_wording():
    wording = load_wording(synthetic("koos"))
    assert item_text("womac_from_koos", "A10", wording) == ("Synthetic text of A10", LABEL_SOURCE_WORDING)
    with pytest.raises(ScoringError, match="cannot label"):
        item_text("womac_from_hoos", "A10", wording)
    with pytest.raises(ScoringError, match="cannot label"):
        item_text("hoos", "P1", wording)


def test_unknown_item_in_item_text():
    with pytest.raises(ScoringError, match="unknown item code"):
        item_text("koos", "p1")


def _without(document: dict, *path: str) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(document: dict, value: object, *path: str) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


KOOS = synthetic("koos")
HHS = synthetic("hhs")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_with(KOOS, "registry-wording/2", "format"), "format must be"),
        (_without(KOOS, "format"), "missing 'format'"),
        (_with(KOOS, "oks", "instrument"), "unknown instrument"),
        (_with(KOOS, "KOOS", "instrument"), "unknown instrument"),
        (_with(KOOS, "womac_from_koos", "instrument"), "load the koos wording"),
        (_with(KOOS, "English", "language"), "language"),
        (_with(KOOS, "", "language"), "language"),
        (_with(KOOS, 5, "language"), "language"),
        (_without(KOOS, "title"), "missing 'title'"),
        (_with(KOOS, "", "title"), "empty text"),
        (_with(KOOS, "   ", "source"), "empty text"),
        (_with(KOOS, None, "instructions"), "expected text"),
        (_with(KOOS, "x", "copyright"), "unknown key 'copyright'"),
        (_with(KOOS, [], "items"), "expected an object"),
        (_without(KOOS, "items", "Q4"), "missing item Q4"),
        (_with(KOOS, {"text": "x", "options": {}}, "items", "q4"), "unknown item code 'q4'"),
        (_with(KOOS, {"text": "x", "options": {}}, "items", "P10"), "unknown item code 'P10'"),
        (_with(KOOS, "", "items", "P1", "text"), "item P1: empty text"),
        (_with(KOOS, 5, "items", "P1", "text"), "item P1: expected text"),
        (_with(KOOS, ["x"], "items", "P1", "text"), "expected text"),
        (_without(KOOS, "items", "P1", "text"), "missing 'text'"),
        (_without(KOOS, "items", "P1", "options"), "missing 'options'"),
        (_without(KOOS, "items", "P1", "options", "4"), "missing '4'"),
        (_with(KOOS, "x", "items", "P1", "options", "5"), "unknown '5'"),
        (_with(KOOS, "", "items", "P1", "options", "0"), "option 0: empty text"),
        (_with(KOOS, 0, "items", "P1", "options", "0"), "expected text"),
        (_with(KOOS, ["x"], "items", "P1", "options"), "expected an object"),
        (_with(KOOS, {"min": "a", "max": "b"}, "items", "P1", "anchors"), "unknown key 'anchors'"),
        (_with(KOOS, "x", "items", "P1", "help"), "unknown key 'help'"),
        (_with(HHS, {"0": "a"}, "items", "flexion_deg", "options"), "unknown key 'options'"),
        (_with(HHS, {"low": "a"}, "items", "flexion_deg", "anchors"), "unknown key 'low'"),
        (_with(HHS, "", "items", "flexion_deg", "anchors", "max"), "anchor max: empty text"),
        (_with(HHS, "x", "items", "pain", "options", "None"), "unknown 'None'"),
        (_with(KOOS, {"knee": {"title": "x"}}, "sections"), "unknown section 'knee'"),
        (_with(KOOS, {"pain": {"title": ""}}, "sections"), "empty text"),
        (_with(KOOS, {"pain": {"heading": "x"}}, "sections"), "missing 'title'"),
    ],
)
def test_invalid_wording_is_refused_with_a_message_naming_the_problem(document, message):
    with pytest.raises(ScoringError, match=message):
        load_wording(document)


def test_option_keys_must_be_strings_of_the_stored_values():
    options = dict.fromkeys(range(5), "x")  # int keys, as a mapping could carry them
    with pytest.raises(ScoringError, match="stored values"):
        load_wording(_with(KOOS, options, "items", "P1", "options"))


def test_sections_may_be_given():
    wording = load_wording(
        _with(KOOS, {"pain": {"title": "Synthetic pain", "instructions": "Synthetic."}}, "sections")
    )
    assert wording.sections["pain"].title == "Synthetic pain"


def test_duplicate_keys_and_broken_json_are_refused():
    text = json.dumps(KOOS)
    duplicated = text.replace('"items": {', '"items": {"P1": {"text": "first", "options": {}}, ', 1)
    with pytest.raises(ScoringError, match="duplicate key 'P1'"):
        load_wording(io.StringIO(duplicated))
    with pytest.raises(ScoringError, match="not valid JSON"):
        load_wording(io.StringIO(text[:-1]))
    with pytest.raises(ScoringError, match="not valid JSON"):
        load_wording(io.BytesIO(b"\xff\xfe"))


def test_a_file_holding_something_else_than_an_object_is_refused():
    with pytest.raises(ScoringError, match="wording: expected an object, got list"):
        load_wording(io.StringIO('["not", "an", "object"]'))


def test_other_sources_are_refused():
    with pytest.raises(ScoringError, match="path, a file or a mapping"):
        load_wording(5)  # type: ignore[arg-type]


def test_a_missing_file_raises_the_usual_os_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        load_wording(tmp_path / "absent.json")


def test_an_unfilled_skeleton_cannot_pass_as_validated_wording():
    skeleton = wording_skeleton("odi")
    assert skeleton["format"] == WORDING_FORMAT
    assert set(skeleton["items"]) == set(get_instrument("odi").item_codes)
    with pytest.raises(ScoringError):
        load_wording({**skeleton, "language": "en"})
    with pytest.raises(ScoringError, match="koos"):
        wording_skeleton("womac_from_koos")


def test_the_package_ships_no_wording_files():
    package = Path(scoring.__file__).parent
    assert not [
        path for path in package.rglob("*") if path.suffix.lower() in {".json", ".csv", ".txt", ".pdf"}
    ]
