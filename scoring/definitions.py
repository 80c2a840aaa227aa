"""Shapes of an instrument definition: items, answer options, subscales, form sections and outputs.

These are plain frozen dataclasses. The data itself (KOOS, HOOS, WOMAC, ...) is in ``scoring.instruments``.
Forms, the admin and the API are generated from these objects, so they never re-type an item list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from .errors import ScoringError

ItemKind = Literal["choice", "integer", "decimal"]
Respondent = Literal["patient", "clinician"]
Direction = Literal["higher_better", "higher_worse", "none"]
OutputKind = Literal["integer", "decimal", "category"]

#: Values of :func:`scoring.item_text`'s second element, so a form can say which text it shows.
LABEL_SOURCE_WORDING = "validated wording"
LABEL_SOURCE_CONTENT = "registry content label"


@dataclass(frozen=True)
class AnswerOption:
    """One answer of a choice item.

    ``value`` is what is stored and what ``score()`` takes: an int for KOOS/HOOS/WOMAC/ODI, a string code for
    the Harris Hip Score. ``label`` is our short content label, not the validated wording. ``points`` is set
    only where the points differ from the stored value (the Harris Hip Score).
    """

    value: int | str
    label: str
    points: int | None = None


@dataclass(frozen=True)
class Item:
    """One question or one clinician measurement.

    ``subscale`` is the code of the form section the item is printed in; for every instrument but the derived
    WOMAC it is also the scoring subscale. ``order`` is the 1-based position in the printed form.
    ``options`` is set for choice items, in printed order; ``min``/``max``/``unit`` for numeric ones.
    ``best_first`` says which end of a choice item's printed options is the best answer: True for almost every
    item, False for the few printed worst answer first (IKDC 6 "yes / no", IKDC 10 "0 = cannot perform").
    """

    code: str
    subscale: str
    order: int
    label: str
    kind: ItemKind
    options: tuple[AnswerOption, ...] = ()
    min: int | None = None
    max: int | None = None
    unit: str | None = None
    respondent: Respondent = "patient"
    best_first: bool = True
    #: The item's LOINC code where LOINC has one (second set, SCORING-2.md: KOOS JR and HOOS JR items).
    loinc: str | None = None

    @cached_property
    def values(self) -> tuple[int | str, ...]:
        """The stored values a choice item accepts, in printed order."""
        return tuple(option.value for option in self.options)


@dataclass(frozen=True)
class Subscale:
    """A scoring unit: the items it averages or sums and its missing-item rule.

    Exactly one of ``min_answered`` (KOOS/HOOS: "at least N answered") and ``max_missing`` (WOMAC, HHS, ODI,
    VAS, NRS: "at most N missing") is set, as the source states it. The codes of ``Instrument.subscales`` are
    the keys of ``ScoreResult.missing``.
    """

    code: str
    label: str
    item_codes: tuple[str, ...]
    min_answered: int | None = None
    max_missing: int | None = None

    @property
    def min_items(self) -> int:
        """The smallest number of answered items for which the subscale is scored."""
        if self.min_answered is not None:
            return self.min_answered
        assert self.max_missing is not None
        return len(self.item_codes) - self.max_missing


@dataclass(frozen=True)
class Section:
    """A heading of the form: which items are printed under it, in order."""

    code: str
    label: str
    item_codes: tuple[str, ...]


@dataclass(frozen=True)
class Output:
    """One key of ``ScoreResult.scores``.

    ``direction`` says which end is good; it is "none" for categories and counts. ``kind`` is the Python type
    of the value: "integer" -> int, "decimal" -> float, "category" -> str (always possibly None).
    ``choices`` lists the possible values of a category.
    """

    key: str
    label: str
    min: int | float | None
    max: int | float | None
    direction: Direction
    kind: OutputKind = "decimal"
    unit: str | None = None
    choices: tuple[str, ...] = ()
    #: The score's LOINC code where LOINC has one (second set, SCORING-2.md: KOOS JR and HOOS JR interval scores).
    loinc: str | None = None


@dataclass(frozen=True)
class Instrument:
    """A questionnaire or clinical score and everything a form and a scorer need to know about it.

    ``version`` is the version of the questionnaire (e.g. "LK3.1"); the version of the scoring rules is
    ``scoring.SCORING_VERSION`` and is stamped on every result. ``derived_from`` names the instrument whose
    items the patient answers (``womac_from_koos`` -> "koos"); then ``items`` and ``sections`` are that
    instrument's, ``subscales`` list the source item codes in WOMAC order, and ``item_map`` pairs each WOMAC
    item code with the source item it is taken from. ``label_note`` tells a form what our labels are and where
    the validated wording comes from; ``notes`` are things a form must show (e.g. a different recall period).
    ``value_sets`` lists the codes of the value sets ``score(..., value_set=CODE)`` takes (EQ-5D-5L); it is empty
    for every instrument scored without one, and ``score()`` then refuses a value set.
    """

    id: str
    name: str
    version: str
    recall_period: str
    licence: str
    loinc_panel: str | None
    scoring_source: str
    items: tuple[Item, ...]
    subscales: tuple[Subscale, ...]
    sections: tuple[Section, ...]
    outputs: tuple[Output, ...]
    label_note: str
    derived_from: str | None = None
    item_map: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default=())
    value_sets: tuple[str, ...] = ()

    @cached_property
    def _items_by_code(self) -> dict[str, Item]:
        return {item.code: item for item in self.items}

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(output.key for output in self.outputs)

    def item(self, code: str) -> Item:
        """The item with this code (codes are case-sensitive); ``ScoringError`` if there is none."""
        try:
            return self._items_by_code[code]
        except (KeyError, TypeError):
            raise ScoringError(f"{self.id}: unknown item code {code!r}") from None

    def output(self, key: str) -> Output:
        """The output with this key; ``ScoringError`` if there is none."""
        for output in self.outputs:
            if output.key == key:
                return output
        raise ScoringError(f"{self.id}: unknown output key {key!r}")

    def subscale(self, code: str) -> Subscale:
        """The scoring subscale with this code; ``ScoringError`` if there is none."""
        for subscale in self.subscales:
            if subscale.code == code:
                return subscale
        raise ScoringError(f"{self.id}: unknown subscale {code!r}")

    def section(self, code: str) -> Section:
        """The form section with this code; ``ScoringError`` if there is none."""
        for section in self.sections:
            if section.code == code:
                return section
        raise ScoringError(f"{self.id}: unknown section {code!r}")
