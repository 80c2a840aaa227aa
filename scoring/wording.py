"""Validated wording of an instrument, loaded by a site from a file it holds, and the text a form shows.

The registry ships no validated wording: WOMAC and ODI wording is licensed, and KOOS/HOOS wording, though
free, is the authors' text in each language. A site obtains it and loads it through the format below
(documented in ``scoring/README.md``); forms show it when present and the registry's content labels otherwise,
and say which.

Format ``registry-wording/1``, one JSON file per instrument and language::

    {"format": "registry-wording/1", "instrument": "koos", "language": "en",
     "title": "...", "source": "where the text comes from, version, date", "instructions": "... (optional)",
     "sections": {"pain": {"title": "...", "instructions": "... (optional)"}},      (optional)
     "items": {"P1": {"text": "...", "options": {"0": "...", "1": "...", ...}},
               ...}}

Every item of the instrument must be present, with exactly its stored values as option keys (as strings, e.g.
"0"-"4" for KOOS, "none"/"slight"/... for the Harris Hip Score). Numeric items (HHS measurements, VAS, NRS)
have no options and may have ``"anchors": {"min": "...", "max": "..."}``. Anything else is refused.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from .definitions import LABEL_SOURCE_CONTENT, LABEL_SOURCE_WORDING, Instrument, Item
from .errors import ScoringError
from .instruments import INSTRUMENTS, get_instrument

WORDING_FORMAT = "registry-wording/1"
_REQUIRED = ("format", "instrument", "language", "title", "source", "items")
_OPTIONAL = ("instructions", "sections")
# A BCP 47 language tag of the common shapes: "en", "de-CH", "pt-BR", "zh-Hant-TW".
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@dataclass(frozen=True)
class ItemWording:
    """The validated text of one item; ``options`` maps each stored value to its printed answer."""

    code: str
    text: str
    options: Mapping[int | str, str] = field(default_factory=dict)
    anchors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SectionWording:
    code: str
    title: str
    instructions: str = ""


@dataclass(frozen=True)
class Wording:
    """One instrument's validated wording in one language, as loaded by :func:`load_wording`."""

    instrument: str
    language: str
    title: str
    source: str
    instructions: str
    items: Mapping[str, ItemWording]
    sections: Mapping[str, SectionWording]


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.load keeps the last of two equal keys silently; a wording file with a duplicated item is an error.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ScoringError(f"wording: duplicate key {key!r}")
        result[key] = value
    return result


def _parse(text: str | bytes, name: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except (ValueError, UnicodeDecodeError) as error:
        if isinstance(error, ScoringError):
            raise ScoringError(f"{error} in {name}") from None
        raise ScoringError(f"wording: {name} is not valid JSON: {error}") from None


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ScoringError(f"{where}: expected text, got {type(value).__name__}")
    if not value.strip():
        raise ScoringError(f"{where}: empty text")
    return value


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScoringError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _keys(data: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...], where: str) -> None:
    missing = [key for key in required if key not in data]
    unknown = [key for key in data if key not in required and key not in optional]
    if missing:
        raise ScoringError(f"{where}: missing {', '.join(map(repr, missing))}")
    if unknown:
        raise ScoringError(f"{where}: unknown key {', '.join(map(repr, unknown))}")


def _item(item: Item, data: object, where: str) -> ItemWording:
    entry = _object(data, where)
    if item.kind == "choice":
        _keys(entry, ("text", "options"), (), where)
        given = _object(entry["options"], f"{where} options")
        expected = {str(value): value for value in item.values}
        missing = [key for key in expected if key not in given]
        unknown = [key for key in given if key not in expected]
        if missing or unknown:
            raise ScoringError(
                f"{where} options: keys must be the stored values {', '.join(expected)}"
                + (f"; missing {', '.join(map(repr, missing))}" if missing else "")
                + (f"; unknown {', '.join(map(repr, unknown))}" if unknown else "")
            )
        options = {value: _text(given[key], f"{where} option {key}") for key, value in expected.items()}
        return ItemWording(item.code, _text(entry["text"], where), MappingProxyType(options))
    _keys(entry, ("text",), ("anchors",), where)
    anchors: dict[str, str] = {}
    if "anchors" in entry:
        given = _object(entry["anchors"], f"{where} anchors")
        _keys(given, (), ("min", "max"), f"{where} anchors")
        anchors = {key: _text(value, f"{where} anchor {key}") for key, value in given.items()}
    return ItemWording(item.code, _text(entry["text"], where), anchors=MappingProxyType(anchors))


def _validate(data: object) -> Wording:
    document = _object(data, "wording")
    _keys(document, _REQUIRED, _OPTIONAL, "wording")
    if document["format"] != WORDING_FORMAT:
        raise ScoringError(f"wording: format must be {WORDING_FORMAT!r}, got {document['format']!r}")
    instrument_id = document["instrument"]
    if not isinstance(instrument_id, str) or instrument_id not in INSTRUMENTS:
        raise ScoringError(f"wording: unknown instrument {instrument_id!r}; known: {', '.join(INSTRUMENTS)}")
    instrument = INSTRUMENTS[instrument_id]
    if instrument.derived_from:
        raise ScoringError(
            f"wording: {instrument_id} has no wording of its own; load the {instrument.derived_from} wording"
        )
    language = document["language"]
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        raise ScoringError(
            f"wording: language must be a language tag such as 'en' or 'de-CH', got {language!r}"
        )
    where = f"{instrument_id} wording ({language})"

    items = _object(document["items"], f"{where} items")
    missing = [code for code in instrument.item_codes if code not in items]
    unknown = [code for code in items if code not in instrument.item_codes]
    if unknown:
        raise ScoringError(f"{where}: unknown item code {', '.join(map(repr, unknown))}")
    if missing:
        raise ScoringError(f"{where}: missing item {', '.join(missing)}")

    sections: dict[str, SectionWording] = {}
    if "sections" in document:
        given = _object(document["sections"], f"{where} sections")
        codes = [section.code for section in instrument.sections]
        for code, value in given.items():
            if code not in codes:
                raise ScoringError(f"{where}: unknown section {code!r}; known: {', '.join(codes)}")
            entry = _object(value, f"{where} section {code}")
            _keys(entry, ("title",), ("instructions",), f"{where} section {code}")
            sections[code] = SectionWording(
                code,
                _text(entry["title"], f"{where} section {code} title"),
                _text(entry["instructions"], f"{where} section {code} instructions")
                if "instructions" in entry
                else "",
            )

    return Wording(
        instrument=instrument_id,
        language=language,
        title=_text(document["title"], f"{where} title"),
        source=_text(document["source"], f"{where} source"),
        instructions=_text(document["instructions"], f"{where} instructions")
        if "instructions" in document
        else "",
        items=MappingProxyType(
            {
                item.code: _item(item, items[item.code], f"{where} item {item.code}")
                for item in instrument.items
            }
        ),
        sections=MappingProxyType(sections),
    )


def load_wording(source: str | os.PathLike[str] | IO[str] | IO[bytes] | Mapping[str, Any]) -> Wording:
    """Load and strictly validate one wording file (format ``registry-wording/1``).

    ``source`` is a path, an open file (text or binary, UTF-8) or an already parsed mapping. Raises
    ``ScoringError`` naming the problem for anything that does not match the instrument's definition; a file
    that cannot be opened raises the usual ``OSError``.
    """
    if isinstance(source, Mapping):
        return _validate(source)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return _validate(_parse(path.read_bytes(), str(path)))
    if hasattr(source, "read"):
        return _validate(_parse(source.read(), getattr(source, "name", "file")))
    raise ScoringError(f"wording: expected a path, a file or a mapping, got {type(source).__name__}")


def wording_skeleton(instrument: str) -> dict[str, Any]:
    """An empty wording document for an instrument, to be filled in with the validated text.

    Every text is "", so the skeleton fails validation until each one is filled: an unfilled file cannot pass
    as validated wording.
    """
    definition = get_instrument(instrument)
    if definition.derived_from:
        raise ScoringError(
            f"{instrument} has no wording of its own; use the {definition.derived_from} wording"
        )
    items: dict[str, Any] = {}
    for item in definition.items:
        if item.kind == "choice":
            items[item.code] = {"text": "", "options": {str(value): "" for value in item.values}}
        else:
            items[item.code] = {"text": "", "anchors": {"min": "", "max": ""}}
    return {
        "format": WORDING_FORMAT,
        "instrument": definition.id,
        "language": "",
        "title": "",
        "source": "",
        "instructions": "",
        "items": items,
    }


def _check_pairing(instrument: Instrument, wording: Wording) -> None:
    if wording.instrument not in (instrument.id, instrument.derived_from):
        raise ScoringError(f"{wording.instrument} wording cannot label {instrument.id} items")


def item_text(instrument: str, code: str, wording: Wording | None = None) -> tuple[str, str]:
    """The text a form shows for an item and what it is: ``(text, source)``.

    ``source`` is "validated wording" when ``wording`` is given (a derived WOMAC takes its source's wording),
    else "registry content label" with our short label.
    """
    definition = get_instrument(instrument)
    item = definition.item(code)
    if wording is None:
        return item.label, LABEL_SOURCE_CONTENT
    _check_pairing(definition, wording)
    return wording.items[code].text, LABEL_SOURCE_WORDING


def option_labels(
    instrument: str, code: str, wording: Wording | None = None
) -> tuple[tuple[tuple[int | str, str], ...], str]:
    """The answers a form shows for a choice item, in printed order, as ``((value, label), ...), source``."""
    definition = get_instrument(instrument)
    item = definition.item(code)
    if wording is None:
        return tuple((option.value, option.label) for option in item.options), LABEL_SOURCE_CONTENT
    _check_pairing(definition, wording)
    texts = wording.items[code].options
    return tuple((option.value, texts[option.value]) for option in item.options), LABEL_SOURCE_WORDING
