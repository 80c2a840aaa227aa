"""The instruments as data: items, answer options, subscales, outputs, LOINC codes and licences.

Every label here is a short content label written by the registry (what the item is about), never the
validated wording of the instrument: the wording is licensed for WOMAC and ODI, and even where it is free
(KOOS, HOOS) a site loads it from a file it holds, per language (see ``scoring.wording``). The rules that turn
answers into scores are in ``scoring.engine``; the section numbers below refer to SCORING.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from .definitions import AnswerOption, Instrument, Item, Output, Section, Subscale
from .eq5d import EQ5D5L
from .errors import ScoringError
from .knee_forms import IKDC, LYSHOLM, TEGNER
from .short_forms import short_form_instruments

# --- answer scales --------------------------------------------------------------------------------
# KOOS/HOOS/WOMAC items are stored 0-4 with 0 = no problem. The labels are the usual one-word anchors of each
# response scale, in printed order.
_NEVER_ALWAYS = ("Never", "Rarely", "Sometimes", "Often", "Always")
# KOOS S4 and S5 ("can you straighten / bend your knee fully") are printed Always ... Never, and Always is the
# good end: Always = 0, Never = 4 (KOOS Scoring 2012; SCORING.md section 2). A form that stores the position
# of the box instead of these values silently reverses the two items.
_ALWAYS_NEVER = ("Always", "Often", "Sometimes", "Rarely", "Never")
_SEVERITY = ("None", "Mild", "Moderate", "Severe", "Extreme")
_PAIN_FREQUENCY = ("Never", "Monthly", "Weekly", "Daily", "Always")
_AWARENESS = ("Never", "Monthly", "Weekly", "Daily", "Constantly")
_MODIFIED = ("Not at all", "Mildly", "Moderately", "Severely", "Totally")
_CONFIDENCE = ("Not at all", "Mildly", "Moderately", "Severely", "Extremely")
# ODI v2.1a: six statements per section, scored 0 (first) to 5 (last). The statements are licensed wording.
_ODI_STATEMENTS = (
    "First statement (least disability)",
    "Second statement",
    "Third statement",
    "Fourth statement",
    "Fifth statement",
    "Sixth statement (most disability)",
)


def _scale(labels: Sequence[str]) -> tuple[AnswerOption, ...]:
    """Options stored 0, 1, 2, ... in printed order."""
    return tuple(AnswerOption(value, label) for value, label in enumerate(labels))


def _coded(pairs: Sequence[tuple[str, int, str]]) -> tuple[AnswerOption, ...]:
    """Options stored as string codes, each worth the given points (Harris Hip Score)."""
    return tuple(AnswerOption(code, label, points) for code, points, label in pairs)


# A question as (code, content label, answer labels); the section is given by the block it is listed in.
_Question = tuple[str, str, Sequence[str]]


def _questionnaire(blocks: Sequence[tuple[str, Sequence[_Question]]]) -> tuple[Item, ...]:
    """Choice items, numbered in printed order across the blocks."""
    items: list[Item] = []
    for section, questions in blocks:
        for code, label, labels in questions:
            items.append(Item(code, section, len(items) + 1, label, "choice", _scale(labels)))
    return tuple(items)


def _sections(items: Iterable[Item], labels: Mapping[str, str]) -> tuple[Section, ...]:
    """Form sections in printed order, from the items' section codes."""
    items = tuple(items)
    return tuple(
        Section(code, label, tuple(item.code for item in items if item.subscale == code))
        for code, label in labels.items()
    )


def _codes(items: Iterable[Item], section: str) -> tuple[str, ...]:
    return tuple(item.code for item in items if item.subscale == section)


def _ranged(prefix: str, first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{number}" for number in range(first, last + 1))


# --- activities of daily living: the 17 WOMAC function items, shared by KOOS (A1-A17) and HOOS (A1-A17) ---
# WOMAC LK3.1 F1-F17 are the same activities in the same order (F10 rising from bed, F12 lying in bed).
_DAILY_ACTIVITIES = (
    "descending stairs",
    "ascending stairs",
    "rising from sitting",
    "standing",
    "bending to the floor or picking up an object",
    "walking on a flat surface",
    "getting in or out of a car",
    "going shopping",
    "putting on socks or stockings",
    "rising from bed",
    "taking off socks or stockings",
    "lying in bed (turning over, keeping the joint in position)",
    "getting in or out of the bath",
    "sitting",
    "getting on or off the toilet",
    "heavy domestic duties (moving heavy boxes, scrubbing floors)",
    "light domestic duties (cooking, dusting)",
)


def _adl(joint: str) -> list[_Question]:
    return [
        (f"A{number}", f"difficulty {activity} (because of the {joint})", _SEVERITY)
        for number, activity in enumerate(_DAILY_ACTIVITIES, start=1)
    ]


def _qol(joint: str) -> list[_Question]:
    return [
        ("Q1", f"how often aware of the {joint} problem", _AWARENESS),
        ("Q2", f"lifestyle changed to avoid activities that could damage the {joint}", _MODIFIED),
        ("Q3", f"troubled by lack of confidence in the {joint}", _CONFIDENCE),
        ("Q4", f"overall difficulty with the {joint}", _SEVERITY),
    ]


_KOOS_HOOS_SECTIONS = {
    "symptoms": "Symptoms",
    "pain": "Pain",
    "adl": "Function in daily living",
    "sport_rec": "Function in sport and recreation",
    "qol": "Knee-related quality of life",
}
_OUTPUT_ORDER = ("pain", "symptoms", "adl", "sport_rec", "qol")


def _subscale_outputs(name: str, labels: Mapping[str, str]) -> list[Output]:
    return [
        Output(code, f"{name} {labels[code].lower()} (0-100, 100 = no problems)", 0, 100, "higher_better")
        for code in _OUTPUT_ORDER
    ]


# --- KOOS (section 2) -----------------------------------------------------------------------------
_KOOS_ITEMS = _questionnaire(
    [
        (
            "symptoms",
            [
                ("S1", "swelling of the knee", _NEVER_ALWAYS),
                ("S2", "grinding, clicking or other noise when the knee moves", _NEVER_ALWAYS),
                ("S3", "knee catching or hanging up when moving", _NEVER_ALWAYS),
                ("S4", "able to straighten the knee fully", _ALWAYS_NEVER),
                ("S5", "able to bend the knee fully", _ALWAYS_NEVER),
                ("S6", "knee stiffness on first waking in the morning", _SEVERITY),
                ("S7", "knee stiffness after sitting, lying or resting later in the day", _SEVERITY),
            ],
        ),
        (
            "pain",
            [
                ("P1", "how often the knee hurts", _PAIN_FREQUENCY),
                ("P2", "pain when twisting or pivoting on the knee", _SEVERITY),
                ("P3", "pain when straightening the knee fully", _SEVERITY),
                ("P4", "pain when bending the knee fully", _SEVERITY),
                ("P5", "knee pain walking on a flat surface", _SEVERITY),
                ("P6", "knee pain going up or down stairs", _SEVERITY),
                ("P7", "knee pain at night in bed", _SEVERITY),
                ("P8", "knee pain sitting or lying", _SEVERITY),
                ("P9", "knee pain standing upright", _SEVERITY),
            ],
        ),
        ("adl", _adl("knee")),
        (
            "sport_rec",
            [
                ("SP1", "difficulty squatting (because of the knee)", _SEVERITY),
                ("SP2", "difficulty running (because of the knee)", _SEVERITY),
                ("SP3", "difficulty jumping (because of the knee)", _SEVERITY),
                ("SP4", "difficulty twisting or pivoting on the injured knee", _SEVERITY),
                ("SP5", "difficulty kneeling (because of the knee)", _SEVERITY),
            ],
        ),
        ("qol", _qol("knee")),
    ]
)

# KOOS Scoring 2012 (koos.nu): "at least half of the items" per subscale, replacing the 1998 two-missing rule.
_KOOS_MIN_ANSWERED = {"pain": 5, "symptoms": 4, "adl": 9, "sport_rec": 3, "qol": 2}

KOOS = Instrument(
    id="koos",
    name="Knee injury and Osteoarthritis Outcome Score (KOOS)",
    version="KOOS LK1.0",
    recall_period="the last week",
    licence=(
        "Free to use; the authors ask for no permission or fee (koos.nu). The registry ships only its own "
        "content labels: a site loads the validated wording for its language from a file it obtains from "
        "koos.nu."
    ),
    loinc_panel="72091-2",
    scoring_source=(
        "KOOS Scoring 2012 (koos.nu): subscale = 100 - mean(answered items) x 25; a subscale is scored when "
        "at least half of its items are answered. KOOS4 as defined by Frobell et al., N Engl J Med 2010 "
        "(pain, symptoms, sport/rec, QOL) and by Skou et al., N Engl J Med 2015 (pain, symptoms, ADL, QOL); "
        "KOOS5 is the mean of all five. koos.nu defines no total score."
    ),
    items=_KOOS_ITEMS,
    subscales=tuple(
        Subscale(
            code, _KOOS_HOOS_SECTIONS[code], _codes(_KOOS_ITEMS, code), min_answered=_KOOS_MIN_ANSWERED[code]
        )
        for code in _OUTPUT_ORDER
    ),
    sections=_sections(_KOOS_ITEMS, _KOOS_HOOS_SECTIONS),
    outputs=(
        *_subscale_outputs("KOOS", _KOOS_HOOS_SECTIONS),
        Output(
            "koos4_kanon",
            "KOOS4 as defined by Frobell 2010: mean of pain, symptoms, sport/rec and QOL (0-100, 100 = no "
            "problems)",
            0,
            100,
            "higher_better",
        ),
        Output(
            "koos4_skou",
            "KOOS4 as defined by Skou 2015: mean of pain, symptoms, ADL and QOL (0-100, 100 = no problems)",
            0,
            100,
            "higher_better",
        ),
        Output(
            "koos5", "KOOS5: mean of all five subscales (0-100, 100 = no problems)", 0, 100, "higher_better"
        ),
    ),
    label_note=(
        "Items are shown with the registry's short content labels, not the validated KOOS wording. The "
        "wording is free to obtain from koos.nu; load it per language with scoring.load_wording."
    ),
)

# --- HOOS LK2.0 (section 3) -----------------------------------------------------------------------
_HOOS_ITEMS = _questionnaire(
    [
        (
            "symptoms",
            [
                ("S1", "grinding, clicking or other noise from the hip", _NEVER_ALWAYS),
                ("S2", "difficulty spreading the legs wide apart", _SEVERITY),
                ("S3", "difficulty taking long strides when walking", _SEVERITY),
                ("S4", "hip stiffness on first waking in the morning", _SEVERITY),
                ("S5", "hip stiffness after sitting, lying or resting later in the day", _SEVERITY),
            ],
        ),
        (
            "pain",
            [
                ("P1", "how often the hip hurts", _PAIN_FREQUENCY),
                ("P2", "pain when straightening the hip fully", _SEVERITY),
                ("P3", "pain when bending the hip fully", _SEVERITY),
                ("P4", "hip pain walking on a flat surface", _SEVERITY),
                ("P5", "hip pain going up or down stairs", _SEVERITY),
                ("P6", "hip pain at night in bed", _SEVERITY),
                ("P7", "hip pain sitting or lying", _SEVERITY),
                ("P8", "hip pain standing upright", _SEVERITY),
                ("P9", "hip pain walking on a hard surface (asphalt, concrete)", _SEVERITY),
                ("P10", "hip pain walking on an uneven surface", _SEVERITY),
            ],
        ),
        ("adl", _adl("hip")),
        (
            "sport_rec",
            [
                ("SP1", "difficulty squatting (because of the hip)", _SEVERITY),
                ("SP2", "difficulty running (because of the hip)", _SEVERITY),
                ("SP3", "difficulty twisting or pivoting on a loaded leg", _SEVERITY),
                ("SP4", "difficulty walking on an uneven surface (because of the hip)", _SEVERITY),
            ],
        ),
        ("qol", _qol("hip")),
    ]
)
_HOOS_SECTION_LABELS = {**_KOOS_HOOS_SECTIONS, "qol": "Hip-related quality of life"}
# HOOS Scoring 2013: the minimum number of answered items per subscale.
_HOOS_MIN_ANSWERED = {"pain": 5, "symptoms": 3, "adl": 9, "sport_rec": 2, "qol": 2}

HOOS = Instrument(
    id="hoos",
    name="Hip disability and Osteoarthritis Outcome Score (HOOS)",
    version="HOOS LK2.0",
    recall_period="the last week",
    licence=(
        "Free to use; the authors ask for no permission or fee (koos.nu). The registry ships only its own "
        "content labels: a site loads the validated wording for its language from a file it obtains from "
        "koos.nu."
    ),
    loinc_panel="72092-0",
    scoring_source=(
        "HOOS Scoring 2013 (koos.nu): subscale = 100 - mean(answered items) x 25, scored when the minimum "
        "number of items is answered (pain 5, symptoms 3, ADL 9, sport/rec 2, QOL 2). HOOS has no total "
        "score."
    ),
    items=_HOOS_ITEMS,
    subscales=tuple(
        Subscale(
            code, _HOOS_SECTION_LABELS[code], _codes(_HOOS_ITEMS, code), min_answered=_HOOS_MIN_ANSWERED[code]
        )
        for code in _OUTPUT_ORDER
    ),
    sections=_sections(_HOOS_ITEMS, _HOOS_SECTION_LABELS),
    outputs=tuple(_subscale_outputs("HOOS", _HOOS_SECTION_LABELS)),
    label_note=(
        "Items are shown with the registry's short content labels, not the validated HOOS wording. The "
        "wording is free to obtain from koos.nu; load it per language with scoring.load_wording."
    ),
)

# --- WOMAC LK3.1 and WOMAC derived from KOOS/HOOS (section 4) -------------------------------------
_WOMAC_ITEMS = _questionnaire(
    [
        (
            "pain",
            [
                ("P1", "pain walking on a flat surface", _SEVERITY),
                ("P2", "pain going up or down stairs", _SEVERITY),
                ("P3", "pain at night in bed", _SEVERITY),
                ("P4", "pain sitting or lying", _SEVERITY),
                ("P5", "pain standing upright", _SEVERITY),
            ],
        ),
        (
            "stiffness",
            [
                ("S1", "stiffness on first waking in the morning", _SEVERITY),
                ("S2", "stiffness after sitting, lying or resting later in the day", _SEVERITY),
            ],
        ),
        (
            "function",
            [
                (f"F{number}", f"difficulty {activity}", _SEVERITY)
                for number, activity in enumerate(_DAILY_ACTIVITIES, start=1)
            ],
        ),
    ]
)
_WOMAC_SECTION_LABELS = {"pain": "Pain", "stiffness": "Stiffness", "function": "Physical function"}
# Pain: at most 1 missing, stiffness: none (SCORING.md choice: the WOMAC 3.1 user guide is licensed and was
# not available; both keep at least 80% of the subscale). Function: up to 3 missing, with the subscale mean
# substituted (Whitehouse 2004: "4 or more missing: invalid; 1-3 missing: the subscale average is
# substituted").
_WOMAC_MAX_MISSING = {"pain": 1, "stiffness": 0, "function": 3}
_WOMAC_MAX = {"pain": 20, "stiffness": 8, "function": 68, "total": 96}
_WOMAC_OUTPUT_LABELS = {**_WOMAC_SECTION_LABELS, "total": "Total"}


def _womac_outputs() -> tuple[Output, ...]:
    # The direction is in every label: SCORING.md asks that it be shown wherever a WOMAC number is.
    raw = [
        Output(
            key,
            f"WOMAC {label.lower()}, raw sum (0-{_WOMAC_MAX[key]}, higher = worse)",
            0,
            _WOMAC_MAX[key],
            "higher_worse",
        )
        for key, label in _WOMAC_OUTPUT_LABELS.items()
    ]
    normalised = [
        Output(f"{key}_0_100", f"WOMAC {label.lower()} 0-100 (100 = worst)", 0, 100, "higher_worse")
        for key, label in _WOMAC_OUTPUT_LABELS.items()
    ]
    inverted = [
        Output(
            f"{key}_0_100_inv", f"WOMAC {label.lower()} 0-100 inverted (100 = best)", 0, 100, "higher_better"
        )
        for key, label in _WOMAC_OUTPUT_LABELS.items()
    ]
    return (*raw, *normalised, *inverted)


_WOMAC_OUTPUTS = _womac_outputs()
_WOMAC_SCORING_SOURCE = (
    "WOMAC LK3.1: subscales are sums (pain 0-20, stiffness 0-8, function 0-68; total 0-96 when all three "
    "are valid). Function: 1-3 missing items are replaced by the subscale mean, 4 or more make it invalid "
    "(Whitehouse 2004). Pain: at most 1 missing, stiffness: none missing (registry choice, SCORING.md "
    "section 4). 0-100 scores are raw / maximum x 100 (100 = worst), as used by OMERACT-OARSI (Pham 2004) "
    "and Tubach 2005."
)


def _womac_subscales(codes: Mapping[str, tuple[str, ...]]) -> tuple[Subscale, ...]:
    return tuple(
        Subscale(key, _WOMAC_SECTION_LABELS[key], codes[key], max_missing=_WOMAC_MAX_MISSING[key])
        for key in _WOMAC_SECTION_LABELS
    )


WOMAC = Instrument(
    id="womac",
    name="Western Ontario and McMaster Universities Osteoarthritis Index (WOMAC)",
    version="WOMAC LK3.1",
    recall_period="the last 48 hours",
    licence=(
        "Licensed: copyright Nicholas Bellamy. A site needs a licence from the copyright holder to use the "
        "questionnaire and its wording; the registry ships only its own content labels."
    ),
    loinc_panel=None,
    scoring_source=_WOMAC_SCORING_SOURCE,
    items=_WOMAC_ITEMS,
    subscales=_womac_subscales({key: _codes(_WOMAC_ITEMS, key) for key in _WOMAC_SECTION_LABELS}),
    sections=_sections(_WOMAC_ITEMS, _WOMAC_SECTION_LABELS),
    outputs=_WOMAC_OUTPUTS,
    label_note=(
        "Items are shown with the registry's short content labels, not the WOMAC wording, which is "
        "licensed: a site that holds a licence loads it with scoring.load_wording."
    ),
)

# Which source item each WOMAC item is (SCORING.md section 4). KOOS contains the WOMAC LK3.0 items unchanged.
_WOMAC_FROM_KOOS: dict[str, str] = {
    **dict(zip(_ranged("P", 1, 5), _ranged("P", 5, 9), strict=True)),
    "S1": "S6",
    "S2": "S7",
    **dict(zip(_ranged("F", 1, 17), _ranged("A", 1, 17), strict=True)),
}
_WOMAC_FROM_HOOS: dict[str, str] = {
    **dict(zip(_ranged("P", 1, 5), _ranged("P", 4, 8), strict=True)),
    "S1": "S4",
    "S2": "S5",
    **dict(zip(_ranged("F", 1, 17), _ranged("A", 1, 17), strict=True)),
}


def _derived_womac(source: Instrument, mapping: Mapping[str, str]) -> Instrument:
    """WOMAC from a KOOS or HOOS answer set: the source's items and sections, WOMAC's rules and outputs."""
    name = source.id.upper()
    return Instrument(
        id=f"womac_from_{source.id}",
        name=f"WOMAC derived from {name}",
        version=f"WOMAC LK3.0 items within {source.version}",
        recall_period=f"the last week (as {name} asks; WOMAC itself asks about the last 48 hours)",
        licence=f"The patient answers {name}. {source.licence}",
        loinc_panel=None,
        scoring_source=(
            f"{_WOMAC_SCORING_SOURCE} Items taken from {name}: "
            + ", ".join(f"WOMAC {womac} = {name} {item}" for womac, item in mapping.items())
            + "."
        ),
        items=source.items,
        subscales=_womac_subscales(
            {
                key: tuple(mapping[womac.code] for womac in _WOMAC_ITEMS if womac.subscale == key)
                for key in _WOMAC_SECTION_LABELS
            }
        ),
        sections=source.sections,
        outputs=_WOMAC_OUTPUTS,
        label_note=source.label_note,
        derived_from=source.id,
        item_map=tuple(mapping.items()),
        notes=(f"{name} asks about the last week, WOMAC about the last 48 hours.",),
    )


WOMAC_FROM_KOOS = _derived_womac(KOOS, _WOMAC_FROM_KOOS)
WOMAC_FROM_HOOS = _derived_womac(HOOS, _WOMAC_FROM_HOOS)

# --- Harris Hip Score and modified HHS (section 5) ------------------------------------------------
# Harris WH, J Bone Joint Surg Am 1969;51:737-55. Points as in SCORING.md section 5; labels are ours.
_HHS_CHOICES: tuple[tuple[str, str, str, tuple[tuple[str, int, str], ...]], ...] = (
    (
        "pain",
        "pain",
        "hip pain",
        (
            ("none", 44, "none, or ignores it"),
            ("slight", 40, "slight, occasional; activities not affected"),
            (
                "mild",
                30,
                "mild; ordinary activities not affected, rarely moderate pain with unusual activity",
            ),
            ("moderate", 20, "moderate, tolerable; makes concessions, some limitation of activity"),
            ("marked", 10, "marked; serious limitation of activities"),
            ("totally_disabled", 0, "totally disabled: crippled, pain in bed, bedridden"),
        ),
    ),
    (
        "limp",
        "gait",
        "limp",
        (
            ("none", 11, "none"),
            ("slight", 8, "slight"),
            ("moderate", 5, "moderate"),
            ("severe", 0, "severe"),
        ),
    ),
    (
        "support",
        "gait",
        "walking support used",
        (
            ("none", 11, "none"),
            ("cane_long_walks", 7, "cane for long walks"),
            ("cane_most_time", 5, "cane most of the time"),
            ("one_crutch", 3, "one crutch"),
            ("two_canes", 2, "two canes"),
            ("two_crutches", 0, "two crutches"),
            ("not_able_to_walk", 0, "not able to walk"),
        ),
    ),
    (
        "distance",
        "gait",
        "distance walked",
        (
            ("unlimited", 11, "unlimited"),
            ("six_blocks", 8, "six blocks"),
            ("two_three_blocks", 5, "two or three blocks"),
            ("indoors_only", 2, "indoors only"),
            ("bed_and_chair", 0, "bed and chair only"),
        ),
    ),
    (
        "stairs",
        "activities",
        "stairs",
        (
            ("normal_no_railing", 4, "normally, without a railing"),
            ("normal_with_railing", 2, "normally, with a railing"),
            ("any_manner", 1, "in any manner"),
            ("unable", 0, "unable"),
        ),
    ),
    (
        "shoes_socks",
        "activities",
        "putting on shoes and socks",
        (
            ("with_ease", 4, "with ease"),
            ("with_difficulty", 2, "with difficulty"),
            ("unable", 0, "unable"),
        ),
    ),
    (
        "sitting",
        "activities",
        "sitting",
        (
            ("ordinary_chair_1h", 5, "comfortably in an ordinary chair for one hour"),
            ("high_chair_half_hour", 3, "on a high chair for half an hour"),
            ("unable", 0, "unable to sit comfortably in any chair"),
        ),
    ),
    (
        "public_transport",
        "activities",
        "public transport",
        (
            ("able", 1, "able to enter"),
            ("unable", 0, "unable to enter"),
        ),
    ),
)
# (code, section, label, max, unit): deformity and range of motion, measured by the clinician.
_HHS_MEASURES: tuple[tuple[str, str, str, int, str], ...] = (
    ("fixed_flexion_contracture_deg", "deformity", "fixed flexion contracture", 180, "deg"),
    ("fixed_adduction_deg", "deformity", "fixed adduction", 90, "deg"),
    ("fixed_internal_rotation_deg", "deformity", "fixed internal rotation in extension", 90, "deg"),
    ("limb_length_discrepancy_cm", "deformity", "limb-length discrepancy", 30, "cm"),
    ("flexion_deg", "rom", "hip flexion", 180, "deg"),
    ("abduction_deg", "rom", "hip abduction", 90, "deg"),
    ("adduction_deg", "rom", "hip adduction", 90, "deg"),
    ("external_rotation_deg", "rom", "hip external rotation", 90, "deg"),
    ("internal_rotation_deg", "rom", "hip internal rotation", 90, "deg"),
)
_HHS_ITEMS = (
    *(
        Item(code, section, order, label, "choice", _coded(options))
        for order, (code, section, label, options) in enumerate(_HHS_CHOICES, start=1)
    ),
    *(
        Item(code, section, order, label, "decimal", min=0, max=maximum, unit=unit, respondent="clinician")
        for order, (code, section, label, maximum, unit) in enumerate(
            _HHS_MEASURES, start=len(_HHS_CHOICES) + 1
        )
    ),
)
_HHS_SECTION_LABELS = {
    "pain": "Pain",
    "gait": "Function: gait",
    "activities": "Function: activities",
    "deformity": "Absence of deformity",
    "rom": "Range of motion",
}
HHS_CATEGORIES = ("excellent", "good", "fair", "poor")
_HARRIS_1969 = "Harris WH. J Bone Joint Surg Am 1969;51:737-55"

HHS = Instrument(
    id="hhs",
    name="Harris Hip Score (HHS)",
    version="Harris 1969",
    recall_period="the patient's current state (pain and function) and the examination (deformity, motion)",
    licence=f"Published scale ({_HARRIS_1969}). The registry uses its own labels.",
    loinc_panel=None,
    scoring_source=(
        f"{_HARRIS_1969}: pain 44, function 47 (gait 33, activities 14), absence of deformity 4, range of "
        "motion 5 (sum of the Harris index x 0.05, capped at 5). Category: >= 90 excellent, >= 80 good, >= "
        "70 fair, else poor."
    ),
    items=_HHS_ITEMS,
    subscales=tuple(
        Subscale(code, label, _codes(_HHS_ITEMS, code), max_missing=0)
        for code, label in _HHS_SECTION_LABELS.items()
    ),
    sections=_sections(_HHS_ITEMS, _HHS_SECTION_LABELS),
    outputs=(
        Output("pain", "HHS pain (0-44, higher = better)", 0, 44, "higher_better", "integer"),
        Output(
            "gait",
            "HHS gait: limp + support + distance (0-33, higher = better)",
            0,
            33,
            "higher_better",
            "integer",
        ),
        Output("activities", "HHS activities (0-14, higher = better)", 0, 14, "higher_better", "integer"),
        Output(
            "function",
            "HHS function: gait + activities (0-47, higher = better)",
            0,
            47,
            "higher_better",
            "integer",
        ),
        Output("deformity", "HHS absence of deformity (0 or 4)", 0, 4, "higher_better", "integer"),
        Output(
            "rom_index_sum",
            "Harris range-of-motion index, sum (0-100.5)",
            0,
            100.5,
            "higher_better",
            unit="deg",
        ),
        Output("rom", "HHS range of motion: index sum x 0.05, capped at 5 (0-5)", 0, 5, "higher_better"),
        Output("total", "Harris Hip Score (0-100, higher = better)", 0, 100, "higher_better"),
        Output("category", "HHS category", None, None, "none", "category", choices=HHS_CATEGORIES),
    ),
    label_note=(
        "Fields are shown with the registry's own labels, which follow the published Harris 1969 form. A "
        "site may load other wording with scoring.load_wording."
    ),
    notes=("Trendelenburg sign: Harris records it but does not score it; store it outside the score.",),
)

_MHHS_ITEMS = tuple(item for item in _HHS_ITEMS if item.respondent == "patient")
_MHHS_SECTIONS = ("pain", "gait", "activities")

MHHS = Instrument(
    id="mhhs",
    name="modified Harris Hip Score (mHHS)",
    version="Byrd & Jones 2000",
    recall_period="the patient's current state",
    licence=(
        f"Published scale (Byrd JWT, Jones KS. Arthroscopy 2000; items from {_HARRIS_1969}). The registry "
        "uses its own labels."
    ),
    loinc_panel=None,
    scoring_source=(
        "Byrd & Jones, Arthroscopy 2000: the pain and function parts of the Harris Hip Score (raw 0-91) x "
        "1.1. 91 x 1.1 = 100.1, so mhhs is capped at 100 (registry choice, SCORING.md section 5); "
        "mhhs_uncapped and mhhs_100_over_91 (raw x 100 / 91) are given for comparison with publications "
        "that use them."
    ),
    items=_MHHS_ITEMS,
    subscales=tuple(
        Subscale(code, _HHS_SECTION_LABELS[code], _codes(_MHHS_ITEMS, code), max_missing=0)
        for code in _MHHS_SECTIONS
    ),
    sections=_sections(_MHHS_ITEMS, {code: _HHS_SECTION_LABELS[code] for code in _MHHS_SECTIONS}),
    outputs=(
        Output(
            "raw", "mHHS raw: HHS pain + function (0-91, higher = better)", 0, 91, "higher_better", "integer"
        ),
        Output("mhhs", "mHHS: raw x 1.1, capped at 100 (0-100, higher = better)", 0, 100, "higher_better"),
        Output(
            "mhhs_uncapped",
            "mHHS: raw x 1.1, not capped (0-100.1, higher = better)",
            0,
            100.1,
            "higher_better",
        ),
        Output("mhhs_100_over_91", "mHHS: raw x 100 / 91 (0-100, higher = better)", 0, 100, "higher_better"),
    ),
    label_note=HHS.label_note,
)

# --- pain VAS and NRS (section 6): different scales, never converted into each other --------------
VAS = Instrument(
    id="vas",
    name="Pain visual analogue scale (VAS, 0-100 mm)",
    version="100 mm line",
    recall_period="as set by the site's protocol",
    licence="Generic scale; no licence.",
    loinc_panel=None,
    scoring_source="The distance in mm from the 'no pain' end of a 100 mm line (SCORING.md section 6).",
    items=(
        Item(
            "vas_mm",
            "vas_mm",
            1,
            "pain intensity on a 100 mm line (0 = no pain)",
            "decimal",
            min=0,
            max=100,
            unit="mm",
        ),
    ),
    subscales=(Subscale("vas_mm", "Pain VAS", ("vas_mm",), max_missing=0),),
    sections=(Section("vas_mm", "Pain", ("vas_mm",)),),
    outputs=(Output("vas_mm", "Pain VAS (0-100 mm, 100 = worst)", 0, 100, "higher_worse", unit="mm"),),
    label_note="Shown with the registry's own label; a site may load its wording with scoring.load_wording.",
)

NRS = Instrument(
    id="nrs",
    name="Pain numeric rating scale (NRS, 0-10)",
    version="11-point scale",
    recall_period="as set by the site's protocol",
    licence="Generic scale; no licence.",
    loinc_panel=None,
    scoring_source="The whole number 0-10 the patient chooses (SCORING.md section 6).",
    items=(Item("nrs", "nrs", 1, "pain intensity from 0 (no pain) to 10", "integer", min=0, max=10),),
    subscales=(Subscale("nrs", "Pain NRS", ("nrs",), max_missing=0),),
    sections=(Section("nrs", "Pain", ("nrs",)),),
    outputs=(Output("nrs", "Pain NRS (0-10, 10 = worst)", 0, 10, "higher_worse", "integer"),),
    label_note=VAS.label_note,
)

# --- Oswestry Disability Index v2.1a (section 7) --------------------------------------------------
_ODI_SECTIONS = (
    "pain intensity",
    "personal care (washing, dressing)",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex life (if applicable)",
    "social life",
    "travelling",
)
_ODI_ITEMS = tuple(
    Item(f"S{number}", "odi", number, topic, "choice", _scale(_ODI_STATEMENTS))
    for number, topic in enumerate(_ODI_SECTIONS, start=1)
)
ODI_BANDS = ("minimal", "moderate", "severe", "crippled", "bed_bound")

ODI = Instrument(
    id="odi",
    name="Oswestry Disability Index (ODI)",
    version="ODI v2.1a",
    recall_period="today",
    licence=(
        "Licensed: copyright Jeremy Fairbank. A site needs a licence to use the questionnaire and its "
        "wording; the registry ships only its own content labels."
    ),
    loinc_panel=None,
    scoring_source=(
        "ODI v2.1a (Fairbank JCT, Pynsent PB. Spine 2000;25:2940-52): each section 0-5; score = sum / (5 x "
        "answered sections) x 100, as in the form's own example (16/45 = 35.56%). At most one section may "
        "be missing (registry choice: the only case the authors illustrate). Bands: <= 20 minimal, <= 40 "
        "moderate, <= 60 severe, <= 80 crippled, else bed-bound."
    ),
    items=_ODI_ITEMS,
    subscales=(Subscale("odi", "Oswestry Disability Index", _codes(_ODI_ITEMS, "odi"), max_missing=1),),
    sections=(Section("odi", "Oswestry Disability Index", _codes(_ODI_ITEMS, "odi")),),
    outputs=(
        Output("odi", "ODI (0-100 %, 100 = worst)", 0, 100, "higher_worse", unit="%"),
        Output("answered", "ODI sections answered (0-10)", 0, 10, "none", "integer"),
        Output("band", "ODI disability band", None, None, "none", "category", choices=ODI_BANDS),
    ),
    label_note=(
        "Sections are shown with the registry's short content labels and the position of each statement, "
        "not the ODI wording, which is licensed: a site that holds a licence loads it with "
        "scoring.load_wording."
    ),
)

#: Every instrument the engine scores, by id (SCORING.md section 1).
INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(
    {
        instrument.id: instrument
        for instrument in (
            *(KOOS, HOOS, WOMAC, WOMAC_FROM_KOOS, WOMAC_FROM_HOOS, HHS, MHHS, VAS, NRS, ODI),
            # Second set (SCORING-2.md), KOOS JR, HOOS JR, KOOS-12, PROMIS Global Health: scoring.short_forms.
            *short_form_instruments(koos=KOOS, hoos=HOOS),
            # SCORING-2.md: IKDC, Lysholm, Tegner (scoring.knee_forms) and EQ-5D-5L (scoring.eq5d).
            *(IKDC, LYSHOLM, TEGNER, EQ5D5L),
        )
    }
)


def get_instrument(instrument_id: str) -> Instrument:
    """The instrument with this id; ``ScoringError`` for an unknown one (ids are case-sensitive)."""
    try:
        return INSTRUMENTS[instrument_id]
    except (KeyError, TypeError):
        raise ScoringError(f"unknown instrument {instrument_id!r}; known: {', '.join(INSTRUMENTS)}") from None
