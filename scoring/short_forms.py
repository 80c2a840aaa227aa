"""Second set, first part (SCORING-2.md): KOOS JR, HOOS JR, KOOS-12 and PROMIS Global Health v1.2.

Definitions, conversion tables and scoring rules of the four instruments, and of the three scored from a full KOOS
or HOOS answer set (``koos_jr_from_koos``, ``hoos_jr_from_hoos``, ``koos12_from_koos``, built as the derived
WOMAC is: the parent's items and sections, the short form's rules and outputs, ``item_map`` naming the parent item
each short-form item is). ``scoring.instruments`` registers them; ``scoring.engine`` runs ``RULES``.

This module imports neither ``scoring.instruments`` nor ``scoring.engine``: the short forms take their items from
the KOOS and HOOS definitions, which ``short_form_instruments`` is given, so there is no import circle.

Conversion tables are facts, transcribed once, each returned exactly as tabled (a ``Decimal`` read from the
printed string, never a float):

- KOOS JR (raw 0-28) and HOOS JR (raw 0-24) interval scores: transcribed from the Stanford CHOIR registry,
  ``chamtrain/choir-d`` ``src/main/java/edu/stanford/registry/server/shc/totaljoint/TotalJointSurveyService.java``
  (``KOOSJRScoreProvider``: ``KoosJRScoreTable``, ``HoosJRScoreTable``), which prints them to three decimals.
  The primary sources are Lyman et al., Clin Orthop Relat Res 2016 (KOOS JR: doi 10.1007/s11999-016-4719-1;
  HOOS JR: 2016;474(6):1472-82, doi 10.1007/s11999-016-4718-2). Cross-check: the stored copies of the two papers
  that could be read give their abstracts and introductions, not the appendix tables, and no other independent
  copy of either table was found (awell-score has no KOOS JR or HOOS JR; its ``koos_conversion_table`` is a
  different table, raw 1 = 94.4, and was not used). So each table is checked against the fixed points
  SCORING-2.md quotes from Lyman 2016 (KOOS JR raw 7 = 68.284, raw 14 = 52.465; HOOS JR raw 6 = 70.426, all
  three agree), against its ends (raw 0 = 100, raw max = 0) and for strictly falling values. The FHIR sample
  tables in ``paciowg/sample-data-fsh`` were not used for any number (SCORING-2.md: they are wrong).
- PROMIS Global Health v1.2, raw 4-20 to T-score and standard error, Global Physical Health and Global Mental
  Health: transcribed from CHOIR ``src/main/java/edu/stanford/registry/shared/GlobalHealthScore.java``
  (``PHYS_TSCORE_ARRAY``, ``PHYS_SE_ARRAY``, ``MENT_TSCORE_ARRAY``, ``MENT_SE_ARRAY``), which cites the
  Assessment Center "Scoring PROMIS Global short form" tables. Cross-checked, every cell, against
  ``awell-health/awell-score``
  ``src/calculation_suite/calculations/promis_10/definition/t_score_tables.ts`` (T-scores only: equal in all 34
  cells) and against the working documents of Hays et al. 2009 (gim.med.ucla.edu/FacultyPages/Hays/,
  ``ph4-summary-061909.doc`` and ``mh4-summary-062209.doc``, T-score and SD per raw score): equal in all 68
  cells but one. The one disagreement: Global Mental Health raw 4 is 21.1 in the 2009 working document and 21.2
  in CHOIR and awell-score (the current tables); 21.2 is used, as SCORING-2.md says. The 2009 documents also
  confirm the standard errors, which awell-score does not carry.
- The ``Global07r`` recode (0 -> 5; 1-3 -> 4; 4-6 -> 3; 7-9 -> 2; 10 -> 1) is SCORING-2.md's; CHOIR
  (``getPhysicalRawScore``) and awell-score (``q7RecodingTable``) use the same cut points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import TypeAlias, cast

from .definitions import AnswerOption, Instrument, Item, Output, Section, Subscale

__all__ = [
    "GMH_TABLE",
    "GPH_TABLE",
    "HOOS_JR_INTERVAL",
    "KOOS_JR_INTERVAL",
    "RULES",
    "global07r_recode",
    "short_form_instruments",
]

# --- conversion tables --------------------------------------------------------------------------------------------
# KOOS JR: raw sum 0-28 -> interval score (100 = perfect knee health, 0 = total knee disability). The position in
# the tuple is the raw score. Transcribed from CHOIR KOOSJRScoreProvider.KoosJRScoreTable (see the module docstring).
KOOS_JR_INTERVAL: tuple[str, ...] = (
    "100.000", "91.975", "84.600", "79.914", "76.332", "73.342", "70.704", "68.284", "65.994", "63.776",  # 0-9
    "61.583", "59.381", "57.140", "54.840", "52.465", "50.012", "47.487", "44.905", "42.281", "39.625",  # 10-19
    "36.931", "34.174", "31.307", "28.251", "24.875", "20.941", "15.939", "8.291", "0.000",  # 20-28
)  # fmt: skip
# HOOS JR: raw sum 0-24 -> interval score (100 = perfect hip health). From CHOIR KOOSJRScoreProvider.HoosJRScoreTable.
HOOS_JR_INTERVAL: tuple[str, ...] = (
    "100.000", "92.340", "85.257", "80.550", "76.776", "73.472", "70.426", "67.516", "64.664", "61.815",  # 0-9
    "58.930", "55.985", "52.965", "49.858", "46.652", "43.335", "39.902", "36.363", "32.735", "29.009",  # 10-19
    "25.103", "20.805", "15.633", "8.104", "0.000",  # 20-24
)  # fmt: skip
# PROMIS Global Health v1.2: raw 4-20 -> (T-score, standard error). From CHOIR GlobalHealthScore (see the docstring);
# awell-score and Hays 2009 agree except GMH raw 4 (Hays 2009 working document: 21.1; current tables: 21.2).
GPH_TABLE: Mapping[int, tuple[str, str]] = {
    4: ("16.2", "4.8"), 5: ("19.9", "4.7"), 6: ("23.5", "4.5"), 7: ("26.7", "4.3"), 8: ("29.6", "4.2"),
    9: ("32.4", "4.2"), 10: ("34.9", "4.1"), 11: ("37.4", "4.1"), 12: ("39.8", "4.1"), 13: ("42.3", "4.2"),
    14: ("44.9", "4.3"), 15: ("47.7", "4.4"), 16: ("50.8", "4.6"), 17: ("54.1", "4.7"), 18: ("57.7", "4.9"),
    19: ("61.9", "5.2"), 20: ("67.7", "5.9"),
}  # fmt: skip
GMH_TABLE: Mapping[int, tuple[str, str]] = {
    4: ("21.2", "4.6"), 5: ("25.1", "4.1"), 6: ("28.4", "3.9"), 7: ("31.3", "3.7"), 8: ("33.8", "3.7"),
    9: ("36.3", "3.7"), 10: ("38.8", "3.6"), 11: ("41.1", "3.6"), 12: ("43.5", "3.6"), 13: ("45.8", "3.6"),
    14: ("48.3", "3.7"), 15: ("50.8", "3.7"), 16: ("53.3", "3.7"), 17: ("56.0", "3.8"), 18: ("59.0", "3.9"),
    19: ("62.5", "4.2"), 20: ("67.6", "5.3"),
}  # fmt: skip


def _exact(printed: str) -> Fraction:
    """A tabled value exactly as printed (``"68.284"`` is 68284/1000, not the nearest float)."""
    return Fraction(Decimal(printed))


_KOOS_JR = tuple(_exact(value) for value in KOOS_JR_INTERVAL)
_HOOS_JR = tuple(_exact(value) for value in HOOS_JR_INTERVAL)
_GPH = {raw: (_exact(t), _exact(se)) for raw, (t, se) in GPH_TABLE.items()}
_GMH = {raw: (_exact(t), _exact(se)) for raw, (t, se) in GMH_TABLE.items()}


def global07r_recode(pain: int) -> int:
    """PROMIS Global07r, the 0-10 pain rating, recoded to 1-5 before summing (SCORING-2.md).

    0 -> 5; 1-3 -> 4; 4-6 -> 3; 7-9 -> 2; 10 -> 1 (5 = no pain, the good end, as the other items).
    """
    if not 0 <= pain <= 10:
        raise ValueError(f"Global07r is 0-10, not {pain!r}")
    if pain == 0:
        return 5
    if pain <= 3:
        return 4
    if pain <= 6:
        return 3
    if pain <= 9:
        return 2
    return 1


# --- rules --------------------------------------------------------------------------------------------------------
# The engine's rule shape (scoring.engine.Rule), restated here so this module does not import the engine.
Exact: TypeAlias = Fraction | int | str | None
Rule: TypeAlias = Callable[
    [Instrument, dict[str, int | str | Fraction]], tuple[dict[str, Exact], dict[str, int]]
]


def _answered(values: Mapping[str, object], codes: Sequence[str]) -> list[int]:
    """The answered items among ``codes``; validation has left every item of these instruments an int."""
    return [cast(int, values[code]) for code in codes if code in values]


def _interval_rule(table: Sequence[Fraction]) -> Rule:
    """KOOS JR / HOOS JR: raw = sum of the items, interval = the table value at the raw sum (SCORING-2.md).

    Any item missing makes both ``None`` (registry choice: no published rule was found; the reference
    implementations make every item required).
    """

    def rule(
        instrument: Instrument, values: dict[str, int | str | Fraction]
    ) -> tuple[dict[str, Exact], dict[str, int]]:
        (subscale,) = instrument.subscales
        answered = _answered(values, subscale.item_codes)
        missing = len(subscale.item_codes) - len(answered)
        raw = sum(answered) if len(answered) >= subscale.min_items else None
        scores: dict[str, Exact] = {"raw": raw, "interval": None if raw is None else table[raw]}
        return scores, {subscale.code: missing}

    return rule


def _koos12(
    instrument: Instrument, values: dict[str, int | str | Fraction]
) -> tuple[dict[str, Exact], dict[str, int]]:
    """KOOS-12 (koos.nu; SCORING-2.md): each scale 100 - 25 x mean of its answered items, scored when at least 2 of
    its 4 items are answered; ``summary`` = mean of the three scales, only when all three exist (registry choice)."""
    scales: dict[str, Fraction | None] = {}
    missing: dict[str, int] = {}
    for subscale in instrument.subscales:
        answered = _answered(values, subscale.item_codes)
        missing[subscale.code] = len(subscale.item_codes) - len(answered)
        scales[subscale.code] = None
        if len(answered) >= subscale.min_items:
            scales[subscale.code] = 100 - Fraction(25 * sum(answered), len(answered))
    parts = list(scales.values())
    summary: Fraction | None = None
    if all(part is not None for part in parts):
        summary = sum(cast(list[Fraction], parts), Fraction(0)) / len(parts)
    scores: dict[str, Exact] = {**scales, "summary": summary}
    return scores, missing


# Which items each PROMIS summary sums; Global07r is recoded first. Global01 and Global09r are in neither.
_PROMIS_SUMMARIES = {"gph": _GPH, "gmh": _GMH}


def _promis10(
    instrument: Instrument, values: dict[str, int | str | Fraction]
) -> tuple[dict[str, Exact], dict[str, int]]:
    """PROMIS Global Health v1.2 (Hays et al. 2009; SCORING-2.md): raw sums of four items each, T-score and SE from
    the tables. A summary is scored only when all four of its items are answered (registry choice); the two are
    independent."""
    scores: dict[str, Exact] = {}
    missing: dict[str, int] = {}
    for subscale in instrument.subscales:
        answered = [
            global07r_recode(value) if code == "Global07r" else value
            for code in subscale.item_codes
            if code in values
            for value in (cast(int, values[code]),)
        ]
        missing[subscale.code] = len(subscale.item_codes) - len(answered)
        raw = sum(answered) if len(answered) >= subscale.min_items else None
        t_score, standard_error = (None, None) if raw is None else _PROMIS_SUMMARIES[subscale.code][raw]
        scores |= {
            f"{subscale.code}_raw": raw,
            f"{subscale.code}_t": t_score,
            f"{subscale.code}_se": standard_error,
        }
    return scores, missing


_KOOS_JR_RULE = _interval_rule(_KOOS_JR)
_HOOS_JR_RULE = _interval_rule(_HOOS_JR)

#: The rule of each instrument defined here, by id; a derived short form runs the rule of its short form (its
#: subscales list the parent's item codes, which are the short form's codes).
RULES: Mapping[str, Rule] = {
    "koos_jr": _KOOS_JR_RULE,
    "hoos_jr": _HOOS_JR_RULE,
    "koos12": _koos12,
    "promis10": _promis10,
    "koos_jr_from_koos": _KOOS_JR_RULE,
    "hoos_jr_from_hoos": _HOOS_JR_RULE,
    "koos12_from_koos": _koos12,
}

# --- definitions --------------------------------------------------------------------------------------------------
_KOOS_FAMILY_LICENCE = (
    "Free to use; the authors ask for no permission or fee (koos.nu). The registry ships only its own content "
    "labels: a site loads the validated wording for its language from a file it obtains from koos.nu."
)
_LYMAN_KOOS_JR = (
    "Lyman S, et al. Clin Orthop Relat Res 2016 (KOOS, JR. validation; doi 10.1007/s11999-016-4719-1)"
)
_LYMAN_HOOS_JR = (
    "Lyman S, Lee YY, Franklin PD, Li W, Mayman DJ, Padgett DE. Validation of the HOOS, JR: a short-form hip "
    "replacement survey. Clin Orthop Relat Res 2016;474(6):1472-82 (doi 10.1007/s11999-016-4718-2)"
)
_CHOIR_TOTAL_JOINT = (
    "the Stanford CHOIR registry, chamtrain/choir-d "
    "src/main/java/edu/stanford/registry/server/shc/totaljoint/TotalJointSurveyService.java (KOOSJRScoreProvider)"
)


def _pick(
    source: Instrument, blocks: Sequence[tuple[str, Sequence[str]]], loinc: Mapping[str, str] | None = None
) -> tuple[Item, ...]:
    """The parent's items (same code, content label and options), renumbered in the short form's printed order
    under its own section codes."""
    items: list[Item] = []
    for section, codes in blocks:
        for code in codes:
            item = source.item(code)
            items.append(
                replace(
                    item, subscale=section, order=len(items) + 1, loinc=(loinc or {}).get(code, item.loinc)
                )
            )
    return tuple(items)


def _sections(items: Sequence[Item], labels: Mapping[str, str]) -> tuple[Section, ...]:
    return tuple(
        Section(code, label, tuple(item.code for item in items if item.subscale == code))
        for code, label in labels.items()
    )


def _interval_outputs(joint: str, name: str, maximum: int, loinc: str) -> tuple[Output, ...]:
    return (
        Output(
            "raw",
            f"{name} raw sum of the item scores (0-{maximum}, higher = worse)",
            0,
            maximum,
            "higher_worse",
            "integer",
        ),
        Output(
            "interval",
            f"{name} interval score (0-100, 100 = perfect {joint} health, 0 = total {joint} disability)",
            0,
            100,
            "higher_better",
            loinc=loinc,
        ),
    )


def _koos_jr(koos: Instrument) -> Instrument:
    items = _pick(
        koos,
        [("stiffness", ("S6",)), ("pain", ("P2", "P3", "P6", "P9")), ("adl", ("A3", "A5"))],
        # LOINC (SCORING-2.md): panel 82324-5, items 82325-2 .. 82331-0, interval score 82332-8; confirmed
        # against LOINC's display names in other stored sources (scoring/README.md).
        {"S6": "82325-2", "P2": "82326-0", "P3": "82327-8", "P6": "82328-6", "P9": "82329-4", "A3": "82330-2",
         "A5": "82331-0"},
    )  # fmt: skip
    return Instrument(
        id="koos_jr",
        name="Knee injury and Osteoarthritis Outcome Score for Joint Replacement (KOOS, JR.)",
        version="KOOS, JR. (Lyman 2016)",
        recall_period="the last week",
        licence=_KOOS_FAMILY_LICENCE,
        loinc_panel="82324-5",
        scoring_source=(
            f"{_LYMAN_KOOS_JR}: raw = sum of the seven KOOS items S6, P2, P3, P6, P9, A3, A5 (each 0-4, 0 = none), "
            "0-28, converted to the interval score by the published table (100 = perfect knee health, 0 = total "
            f"knee disability). Table transcribed from {_CHOIR_TOTAL_JOINT}; fixed points raw 7 = 68.284, raw 14 "
            "= 52.465. Any item missing makes both scores missing (registry choice: no published rule was found; "
            "the reference implementations require every item)."
        ),
        items=items,
        subscales=(Subscale("koos_jr", "KOOS, JR.", tuple(item.code for item in items), max_missing=0),),
        sections=_sections(
            items, {"stiffness": "Stiffness", "pain": "Pain", "adl": "Function, daily living"}
        ),
        outputs=_interval_outputs("knee", "KOOS, JR.", 28, "82332-8"),
        label_note=(
            "Items are the KOOS items and are shown with the registry's KOOS content labels, not the validated "
            "wording, which is free to obtain from koos.nu; load it per language with scoring.load_wording."
        ),
    )


def _hoos_jr(hoos: Instrument) -> Instrument:
    items = _pick(
        hoos,
        [("pain", ("P5", "P10")), ("adl", ("A3", "A5", "A12", "A14"))],
        # LOINC (SCORING-2.md): panel 82316-1, items 82317-9 .. 82322-9 in this order, interval score 82323-7;
        # confirmed against LOINC's display names in other stored sources (scoring/README.md).
        {
            "P5": "82317-9",
            "P10": "82318-7",
            "A3": "82319-5",
            "A5": "82320-3",
            "A12": "82321-1",
            "A14": "82322-9",
        },
    )
    return Instrument(
        id="hoos_jr",
        name="Hip disability and Osteoarthritis Outcome Score for Joint Replacement (HOOS, JR.)",
        version="HOOS, JR. (Lyman 2016)",
        recall_period="the last week",
        licence=_KOOS_FAMILY_LICENCE,
        loinc_panel="82316-1",
        scoring_source=(
            f"{_LYMAN_HOOS_JR}: raw = sum of the six HOOS items P5, P10, A3, A5, A12, A14 (each 0-4, 0 = none), "
            "0-24, converted to the interval score by the published table (100 = perfect hip health, 0 = total "
            f"hip disability). Table transcribed from {_CHOIR_TOTAL_JOINT}; fixed point raw 6 = 70.426. Any item "
            "missing makes both scores missing (registry choice)."
        ),
        items=items,
        subscales=(Subscale("hoos_jr", "HOOS, JR.", tuple(item.code for item in items), max_missing=0),),
        sections=_sections(items, {"pain": "Pain", "adl": "Function, daily living"}),
        outputs=_interval_outputs("hip", "HOOS, JR.", 24, "82323-7"),
        label_note=(
            "Items are the HOOS items and are shown with the registry's HOOS content labels, not the validated "
            "wording, which is free to obtain from koos.nu; load it per language with scoring.load_wording."
        ),
    )


_KOOS12_SCALES = {
    "pain": ("P1", "P5", "P6", "P8"),
    "function": ("A3", "A4", "A7", "SP4"),
    "qol": ("Q1", "Q2", "Q3", "Q4"),
}
_KOOS12_LABELS = {"pain": "Pain", "function": "Function", "qol": "Knee-related quality of life"}


def _koos12_definition(koos: Instrument) -> Instrument:
    items = _pick(koos, list(_KOOS12_SCALES.items()))
    return Instrument(
        id="koos12",
        name="Knee injury and Osteoarthritis Outcome Score, 12-item short form (KOOS-12)",
        version="KOOS-12",
        recall_period="the last week",
        licence=_KOOS_FAMILY_LICENCE,
        loinc_panel=None,
        scoring_source=(
            "KOOS-12 scoring (koos.nu): pain = KOOS P1, P5, P6, P8; function = A3, A4, A7, SP4; quality of life = "
            "Q1-Q4 (each 0-4); each scale = 100 - 25 x mean of its answered items, scored when at least 2 of its "
            "4 items are answered. Summary = mean of the three scales, only when all three are scored (registry "
            "choice)."
        ),
        items=items,
        subscales=tuple(
            Subscale(code, _KOOS12_LABELS[code], codes, min_answered=2)
            for code, codes in _KOOS12_SCALES.items()
        ),
        sections=_sections(items, _KOOS12_LABELS),
        outputs=(
            *(
                Output(code, f"KOOS-12 {label.lower()} (0-100, 100 = no problems)", 0, 100, "higher_better")
                for code, label in _KOOS12_LABELS.items()
            ),
            Output(
                "summary",
                "KOOS-12 summary: mean of pain, function and quality of life (0-100, 100 = no problems)",
                0,
                100,
                "higher_better",
            ),
        ),
        label_note=(
            "Items are KOOS items and are shown with the registry's KOOS content labels, not the validated "
            "wording, which is free to obtain from koos.nu; load it per language with scoring.load_wording."
        ),
    )


# PROMIS Global Health v1.2: every item but Global07r is stored 1-5 as printed on the v1.2 form, 5 = best (Global08r
# and Global10r are already reversed on that form). Options are listed in printed order, best first, so a form
# shows them as printed; the stored value is the printed number.
_EXCELLENT_POOR = ("Excellent", "Very good", "Good", "Fair", "Poor")
_COMPLETELY = ("Completely", "Mostly", "Moderately", "A little", "Not at all")
_EMOTIONAL = ("Never", "Rarely", "Sometimes", "Often", "Always")
_FATIGUE = ("None", "Mild", "Moderate", "Severe", "Very severe")


def _printed_5_to_1(labels: Sequence[str]) -> tuple[AnswerOption, ...]:
    return tuple(AnswerOption(5 - position, label) for position, label in enumerate(labels))


# Printed order of the v1.2 form (also CHOIR GlobalHealthScore's: items 1-5 = Global01-05, 6 = Global09r,
# 7 = Global06, 8 = Global10r, 9 = Global08r, 10 = Global07r); items 8-10 ask about the past 7 days.
_PROMIS_QUESTIONS: tuple[tuple[str, str, str, Sequence[str] | None], ...] = (
    ("Global01", "global", "general health, rated", _EXCELLENT_POOR),
    ("Global02", "global", "quality of life, rated", _EXCELLENT_POOR),
    ("Global03", "global", "physical health, rated", _EXCELLENT_POOR),
    ("Global04", "global", "mental health, including mood and ability to think, rated", _EXCELLENT_POOR),
    ("Global05", "global", "satisfaction with social activities and relationships, rated", _EXCELLENT_POOR),
    (
        "Global09r",
        "global",
        "how well usual social activities and roles are carried out, rated",
        _EXCELLENT_POOR,
    ),
    ("Global06", "global", "extent able to carry out everyday physical activities", _COMPLETELY),
    ("Global10r", "past_7_days", "how often bothered by emotional problems", _EMOTIONAL),
    ("Global08r", "past_7_days", "fatigue on average", _FATIGUE),
    ("Global07r", "past_7_days", "pain on average, from 0 (no pain) to 10 (worst pain imaginable)", None),
)
_PROMIS_ITEMS = tuple(
    Item(code, section, order, label, "choice", _printed_5_to_1(labels))
    if labels is not None
    else Item(code, section, order, label, "integer", min=0, max=10)
    for order, (code, section, label, labels) in enumerate(_PROMIS_QUESTIONS, start=1)
)
_PROMIS_SUMMARY_ITEMS = {
    "gph": ("Global03", "Global06", "Global07r", "Global08r"),
    "gmh": ("Global02", "Global04", "Global05", "Global10r"),
}
_PROMIS_SUMMARY_NAMES = {"gph": "Global Physical Health", "gmh": "Global Mental Health"}
_HAYS_2009 = "Hays RD, et al. Qual Life Res 2009;18(7):873-80"


def _promis_outputs() -> tuple[Output, ...]:
    outputs: list[Output] = []
    for code, table in (("gph", GPH_TABLE), ("gmh", GMH_TABLE)):
        name = _PROMIS_SUMMARY_NAMES[code]
        t_scores = [float(t) for t, _ in table.values()]
        errors = [float(se) for _, se in table.values()]
        outputs += [
            Output(
                f"{code}_raw",
                f"PROMIS {name} raw sum (4-20, higher = better)",
                4,
                20,
                "higher_better",
                "integer",
            ),
            Output(
                f"{code}_t",
                f"PROMIS {name} T-score ({min(t_scores):g}-{max(t_scores):g}; mean 50, SD 10 in the US general "
                "population; higher = better)",
                min(t_scores),
                max(t_scores),
                "higher_better",
            ),
            Output(
                f"{code}_se",
                f"PROMIS {name} T-score standard error ({min(errors):g}-{max(errors):g})",
                min(errors),
                max(errors),
                "none",
            ),
        ]
    return tuple(outputs)


PROMIS10 = Instrument(
    id="promis10",
    name="PROMIS Global Health (PROMIS-10)",
    version="PROMIS Scale v1.2 - Global Health",
    recall_period="in general (items 1-7) and the past 7 days (items 8-10)",
    licence=(
        "PROMIS instruments are distributed by HealthMeasures (healthmeasures.net) and used under the HealthMeasures "
        "terms of use. The registry ships only its own content labels; a site obtains the PROMIS wording, per "
        "language, from HealthMeasures and loads it with scoring.load_wording."
    ),
    loinc_panel=None,
    scoring_source=(
        f"{_HAYS_2009}, and the PROMIS Global Health scoring tables. Global Physical Health raw = Global03 + "
        "Global06 + Global07r recoded (0 -> 5; 1-3 -> 4; 4-6 -> 3; 7-9 -> 2; 10 -> 1) + Global08r; Global Mental "
        "Health raw = Global02 + Global04 + Global05 + Global10r; each 4-20, converted to a T-score and its "
        "standard error by the raw-to-T tables (transcribed from the Stanford CHOIR registry, GlobalHealthScore; "
        "checked against awell-score and the Hays 2009 working documents; Global Mental Health raw 4 is 21.2, "
        "21.1 in a 2009 working document). Global01 and Global09r are in neither summary. A summary is scored "
        "only when all four of its items are answered (registry choice); the two are independent. Only v1.2 "
        "coding is accepted (v1.0/1.1 code items differently)."
    ),
    items=_PROMIS_ITEMS,
    subscales=tuple(
        Subscale(code, _PROMIS_SUMMARY_NAMES[code], codes, max_missing=0)
        for code, codes in _PROMIS_SUMMARY_ITEMS.items()
    ),
    sections=_sections(_PROMIS_ITEMS, {"global": "Global health", "past_7_days": "In the past 7 days"}),
    outputs=_promis_outputs(),
    label_note=(
        "Items are shown with the registry's short content labels and the printed answer anchors, not the PROMIS "
        "wording: a site obtains it from HealthMeasures and loads it with scoring.load_wording."
    ),
    notes=(
        "PROMIS Global Health v1.2 only: Global08r and Global10r are stored as printed on the v1.2 form (5 = "
        "best) and Global07r as the 0-10 rating; answers coded as in v1.0/1.1 must not be entered.",
    ),
)


def _derived(short_form: Instrument, source: Instrument) -> Instrument:
    """A short form scored from a full KOOS/HOOS answer set, as the derived WOMAC is: the source's items and
    sections, the short form's subscales (whose codes are the source's), rules and outputs."""
    name = source.id.upper()
    short = short_form.version.split(" (")[0]
    return Instrument(
        id=f"{short_form.id}_from_{source.id}",
        name=f"{short} derived from {name}",
        version=f"{short_form.version} items within {source.version}",
        recall_period=source.recall_period,
        licence=f"The patient answers {name}. {source.licence}",
        # The short form's LOINC panel names the short questionnaire as asked, not a score read off the full one.
        loinc_panel=None,
        scoring_source=(
            f"{short_form.scoring_source} Items taken from {name}: "
            + ", ".join(f"{short} {item.code} = {name} {item.code}" for item in short_form.items)
            + "."
        ),
        items=source.items,
        subscales=short_form.subscales,
        sections=source.sections,
        outputs=short_form.outputs,
        label_note=source.label_note,
        derived_from=source.id,
        item_map=tuple((item.code, item.code) for item in short_form.items),
        notes=(
            f"Scored from the {name} answers (the patient answered once); the {short} items are {name} items with the "
            f"same codes, asked here within the full {name}.",
        ),
    )


def short_form_instruments(*, koos: Instrument, hoos: Instrument) -> tuple[Instrument, ...]:
    """The instruments of this module, in the order of SCORING-2.md, then those scored from KOOS or HOOS.

    ``koos`` and ``hoos`` are the parents' definitions (``scoring.instruments`` passes them in).
    """
    koos_jr, hoos_jr, koos12 = _koos_jr(koos), _hoos_jr(hoos), _koos12_definition(koos)
    return (
        koos_jr,
        hoos_jr,
        koos12,
        PROMIS10,
        _derived(koos_jr, koos),
        _derived(hoos_jr, hoos),
        _derived(koos12, koos),
    )
