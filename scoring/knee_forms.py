"""IKDC Subjective Knee Form 2000, Lysholm knee score (1985) and Tegner activity level: data and rules.

SCORING-2.md, sections "IKDC", "Lysholm" and "Tegner". The definitions are data, as in ``scoring.instruments``
(which lists them in ``INSTRUMENTS``); the three scoring rules are here too, so that the engine only names them.
Labels are the registry's short content labels, never the forms' wording.

Sources and choices:

- IKDC: the 2000 IKDC Subjective Knee Evaluation Form and its scoring instructions (International Knee
  Documentation Committee; distributed by the AOSSM). Values are the box numbers printed on the form; IKDC2 and
  IKDC3 (pain frequency and severity, 0 = never / no pain) score 10 - value; IKDC10a (function before the
  injury) is recorded and never scored; 18 scored items, maximum 87. The score is raw / max_possible x 100,
  where max_possible is the sum of the maxima of the items answered, and needs at least 16 of the 18 answered.
  ``awell-health/awell-score`` ``src/scores/ikdc/``, by SCORING-2.md's account (not consulted for this module),
  requires every item and always divides by 87; SCORING-2.md's rule, followed here, divides by the answered
  items' maxima.
  Registry choice (SCORING-2.md is silent): ``raw`` and ``max_possible`` are ``None`` whenever ``ikdc`` is, so a
  sum of a few items is never stored as if it were a score; ``answered`` is always given (as ODI's).
- Lysholm: Tegner Y, Lysholm J. Rating systems in the evaluation of knee ligament injuries. Clin Orthop Relat
  Res 1985;198:43-9. The stored value of each item is the points of the chosen answer; only the listed points
  are valid (locking 5 is refused, not rounded). All eight items are required (registry choice). No rating band.
- Tegner: the activity level of the same paper, an integer 0-10, printed from level 10 down to level 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import TypeAlias, cast

from .definitions import AnswerOption, Instrument, Item, Output, Section, Subscale

Value: TypeAlias = int | str | Fraction
Exact: TypeAlias = Fraction | int | str | None
Rule: TypeAlias = Callable[[Instrument, dict[str, Value]], tuple[dict[str, Exact], dict[str, int]]]

# --- IKDC Subjective Knee Evaluation Form 2000 ---------------------------------------------------
_ACTIVITY = (
    (4, "very strenuous activities (e.g. jumping or pivoting)"),
    (3, "strenuous activities (e.g. heavy physical work, skiing, tennis)"),
    (2, "moderate activities (e.g. moderate physical work, running, jogging)"),
    (1, "light activities (e.g. walking, housework, gardening)"),
    (0, "unable to perform any of these because of the knee"),
)
_DEGREE = ((4, "not at all"), (3, "mildly"), (2, "moderately"), (1, "very"), (0, "extremely"))
_DIFFICULTY = (
    (4, "not difficult at all"),
    (3, "minimally difficult"),
    (2, "moderately difficult"),
    (1, "extremely difficult"),
    (0, "unable to do"),
)
_YES_NO = ((0, "yes"), (1, "no"))


def _zero_to_ten(low: str, high: str) -> tuple[tuple[int, str], ...]:
    """A 0-10 row of boxes, printed 0 first, with its two anchors."""
    return tuple((n, f"{n} ({low})" if n == 0 else f"{n} ({high})" if n == 10 else str(n)) for n in range(11))


_FREQUENCY = _zero_to_ten("never", "constant")
_SEVERITY = _zero_to_ten("no pain", "worst pain imaginable")
_FUNCTION = _zero_to_ten("cannot perform daily activities", "no limitation in daily activities")

# (code, section, content label, options in printed order, best answer printed first)
_IKDC_QUESTIONS: tuple[tuple[str, str, str, tuple[tuple[int, str], ...], bool], ...] = (
    ("IKDC1", "symptoms", "highest activity level without significant knee pain", _ACTIVITY, True),
    ("IKDC2", "symptoms", "how often the knee hurt in the past 4 weeks (0-10)", _FREQUENCY, True),
    ("IKDC3", "symptoms", "how severe the knee pain is (0-10)", _SEVERITY, True),
    ("IKDC4", "symptoms", "knee stiffness or swelling in the past 4 weeks", _DEGREE, True),
    ("IKDC5", "symptoms", "highest activity level without significant knee swelling", _ACTIVITY, True),
    ("IKDC6", "symptoms", "knee locked or caught in the past 4 weeks", _YES_NO, False),
    ("IKDC7", "symptoms", "highest activity level without the knee giving way", _ACTIVITY, True),
    ("IKDC8", "sports", "highest activity level performed regularly", _ACTIVITY, True),
    ("IKDC9a", "sports", "difficulty going up stairs (because of the knee)", _DIFFICULTY, True),
    ("IKDC9b", "sports", "difficulty going down stairs (because of the knee)", _DIFFICULTY, True),
    ("IKDC9c", "sports", "difficulty kneeling on the front of the knee", _DIFFICULTY, True),
    ("IKDC9d", "sports", "difficulty squatting (because of the knee)", _DIFFICULTY, True),
    ("IKDC9e", "sports", "difficulty sitting with the knee bent", _DIFFICULTY, True),
    ("IKDC9f", "sports", "difficulty rising from a chair (because of the knee)", _DIFFICULTY, True),
    ("IKDC9g", "sports", "difficulty running straight ahead (because of the knee)", _DIFFICULTY, True),
    ("IKDC9h", "sports", "difficulty jumping and landing on the involved leg", _DIFFICULTY, True),
    ("IKDC9i", "sports", "difficulty stopping and starting quickly (because of the knee)", _DIFFICULTY, True),
    ("IKDC10a", "function", "knee function before the injury (0-10; recorded, not scored)", _FUNCTION, False),
    ("IKDC10b", "function", "current knee function (0-10)", _FUNCTION, False),
)
_IKDC_SECTIONS = {"symptoms": "Symptoms", "sports": "Sports activities", "function": "Function"}
#: IKDC items scored as 10 - value (0 = never / no pain on the form, the good end).
IKDC_REVERSED = frozenset({"IKDC2", "IKDC3"})
#: Recorded and never scored: function before the injury.
IKDC_UNSCORED = frozenset({"IKDC10a"})
#: At least this many of the 18 scored items must be answered (SCORING-2.md).
IKDC_MIN_ANSWERED = 16


def _items(questions: Sequence[tuple[str, str, str, Sequence[tuple[int, str]], bool]]) -> tuple[Item, ...]:
    return tuple(
        Item(
            code,
            section,
            order,
            label,
            "choice",
            tuple(AnswerOption(value, text) for value, text in options),
            best_first=best_first,
        )
        for order, (code, section, label, options, best_first) in enumerate(questions, start=1)
    )


def _sections(items: Sequence[Item], labels: Mapping[str, str]) -> tuple[Section, ...]:
    return tuple(
        Section(code, label, tuple(item.code for item in items if item.subscale == code))
        for code, label in labels.items()
    )


_IKDC_ITEMS = _items(_IKDC_QUESTIONS)
_IKDC_SCORED = tuple(item.code for item in _IKDC_ITEMS if item.code not in IKDC_UNSCORED)
#: The most each scored item can contribute: 10 for IKDC2/IKDC3 (10 - 0), else the highest box.
IKDC_ITEM_MAXIMA: Mapping[str, int] = {
    item.code: max(cast(tuple[int, ...], item.values)) for item in _IKDC_ITEMS if item.code in _IKDC_SCORED
}
_AOSSM = "2000 IKDC Subjective Knee Evaluation Form (International Knee Documentation Committee; AOSSM)"

IKDC = Instrument(
    id="ikdc",
    name="IKDC Subjective Knee Evaluation Form",
    version="IKDC 2000",
    recall_period="the past 4 weeks, or since the injury (symptoms); the patient's current state (function)",
    licence=(
        f"Published form: {_AOSSM}; a site checks the AOSSM's terms of use for the form and its translations. "
        "The registry ships only its own content labels."
    ),
    loinc_panel=None,
    scoring_source=(
        f"{_AOSSM} and its scoring instructions (SCORING-2.md): item scores are the box numbers, IKDC2 and IKDC3 "
        "score 10 - value, IKDC10a is recorded and never scored (18 scored items, maximum 87); ikdc = raw / "
        "max_possible x 100 with max_possible the sum of the answered items' maxima, scored when at least 16 of "
        "the 18 are answered. awell-health/awell-score (src/scores/ikdc/) requires every item and always divides "
        "by 87, which SCORING-2.md does not follow."
    ),
    items=_IKDC_ITEMS,
    subscales=(Subscale("ikdc", "IKDC scored items", _IKDC_SCORED, min_answered=IKDC_MIN_ANSWERED),),
    sections=_sections(_IKDC_ITEMS, _IKDC_SECTIONS),
    outputs=(
        Output(
            "raw",
            "IKDC raw: sum of the answered items' scores (0-87, higher = better)",
            0,
            87,
            "higher_better",
            "integer",
        ),
        Output(
            "max_possible", "IKDC maximum possible for the answered items (67-87)", 67, 87, "none", "integer"
        ),
        Output("answered", "IKDC scored items answered (0-18)", 0, 18, "none", "integer"),
        Output(
            "ikdc",
            "IKDC subjective knee score (0-100, 100 = no limitation or symptoms)",
            0,
            100,
            "higher_better",
        ),
    ),
    label_note=(
        "Items are shown with the registry's short content labels and the box numbers of the 2000 form: a site "
        "loads the form's wording for its language with scoring.load_wording."
    ),
    notes=("IKDC10a (function before the injury) is recorded for the clinician and never enters the score.",),
)


def score_ikdc(instrument: Instrument, values: dict[str, Value]) -> tuple[dict[str, Exact], dict[str, int]]:
    """IKDC 2000 (SCORING-2.md): raw / maximum of the answered items x 100, with at least 16 of 18 answered."""
    (subscale,) = instrument.subscales
    answered = [code for code in subscale.item_codes if code in values]
    scores: dict[str, Exact] = {"raw": None, "max_possible": None, "answered": len(answered), "ikdc": None}
    if len(answered) >= subscale.min_items:
        # IKDC2 and IKDC3 are printed 0 = never / no pain: they score 10 - value, so every item counts up.
        raw = sum(
            10 - cast(int, values[code]) if code in IKDC_REVERSED else cast(int, values[code])
            for code in answered
        )
        # The answered items' maxima, not always 87: a missing IKDC6 leaves 86, a missing IKDC2 leaves 77.
        max_possible = sum(IKDC_ITEM_MAXIMA[code] for code in answered)
        scores.update(raw=raw, max_possible=max_possible, ikdc=Fraction(100 * raw, max_possible))
    return scores, {subscale.code: len(subscale.item_codes) - len(answered)}


# --- Lysholm knee score, 1985 version ------------------------------------------------------------
# (code, content label, (points, content label) best answer first, as printed). Tegner & Lysholm 1985.
_LYSHOLM_QUESTIONS: tuple[tuple[str, str, tuple[tuple[int, str], ...]], ...] = (
    ("limp", "limp", ((5, "none"), (3, "slight or periodical"), (0, "severe and constant"))),
    ("support", "walking support", ((5, "none"), (2, "stick or crutch"), (0, "weight-bearing impossible"))),
    (
        "locking",
        "locking of the knee",
        (
            (15, "no locking and no catching"),
            (10, "catching but no locking"),
            (6, "locking occasionally"),
            (2, "locking frequently"),
            (0, "locked joint on examination"),
        ),
    ),
    (
        "instability",
        "knee giving way",
        (
            (25, "never"),
            (20, "rarely, during athletics or other severe exertion"),
            (15, "frequently during athletics or other severe exertion (or unable to take part)"),
            (10, "occasionally in daily activities"),
            (5, "often in daily activities"),
            (0, "every step"),
        ),
    ),
    (
        "pain",
        "knee pain",
        (
            (25, "none"),
            (20, "inconstant and slight during severe exertion"),
            (15, "marked during severe exertion"),
            (10, "marked on or after walking more than 2 km"),
            (5, "marked on or after walking less than 2 km"),
            (0, "constant"),
        ),
    ),
    (
        "swelling",
        "knee swelling",
        ((10, "none"), (6, "on severe exertion"), (2, "on ordinary exertion"), (0, "constant")),
    ),
    (
        "stairs",
        "climbing stairs",
        ((10, "no problems"), (6, "slightly impaired"), (2, "one step at a time"), (0, "impossible")),
    ),
    (
        "squatting",
        "squatting",
        (
            (5, "no problems"),
            (4, "slightly impaired"),
            (2, "not beyond 90 degrees of knee bend"),
            (0, "impossible"),
        ),
    ),
)
_LYSHOLM_ITEMS = _items(
    [(code, "lysholm", label, options, True) for code, label, options in _LYSHOLM_QUESTIONS]
)
_TEGNER_LYSHOLM_1985 = (
    "Tegner Y, Lysholm J. Rating systems in the evaluation of knee ligament injuries. Clin Orthop Relat Res "
    "1985;198:43-9"
)

LYSHOLM = Instrument(
    id="lysholm",
    name="Lysholm knee score",
    version="Lysholm 1985 (Tegner & Lysholm)",
    recall_period="the patient's current state",
    licence=f"Published scale ({_TEGNER_LYSHOLM_1985}). The registry uses its own labels.",
    loinc_panel=None,
    scoring_source=(
        f"{_TEGNER_LYSHOLM_1985}: the sum of the points of the eight answers (0-100); each item takes only its "
        "listed points. All eight answered (registry choice, SCORING-2.md); no rating band (sources disagree). "
        "The 1982 version's thigh-atrophy item is not part of it."
    ),
    items=_LYSHOLM_ITEMS,
    subscales=(
        Subscale("lysholm", "Lysholm knee score", tuple(i.code for i in _LYSHOLM_ITEMS), max_missing=0),
    ),
    sections=(Section("lysholm", "Lysholm knee score", tuple(i.code for i in _LYSHOLM_ITEMS)),),
    outputs=(
        Output("lysholm", "Lysholm knee score (0-100, higher = better)", 0, 100, "higher_better", "integer"),
    ),
    label_note=(
        "Items are shown with the registry's own labels, which follow the published 1985 scale; the stored value "
        "of each answer is its points. A site may load other wording with scoring.load_wording."
    ),
)


def score_lysholm(
    instrument: Instrument, values: dict[str, Value]
) -> tuple[dict[str, Exact], dict[str, int]]:
    """Lysholm 1985 (SCORING-2.md): the sum of the eight answers' points, only when all eight are answered."""
    (subscale,) = instrument.subscales
    answered = [cast(int, values[code]) for code in subscale.item_codes if code in values]
    missing = len(subscale.item_codes) - len(answered)
    return {"lysholm": sum(answered) if missing == 0 else None}, {subscale.code: missing}


# --- Tegner activity level -----------------------------------------------------------------------
_TEGNER_LEVELS = (
    (10, "competitive sport, national or international elite level (e.g. soccer, rugby)"),
    (9, "competitive sport, lower divisions (e.g. soccer, ice hockey, wrestling, gymnastics)"),
    (8, "competitive sport (e.g. squash, badminton, athletics jumping, downhill skiing)"),
    (7, "competitive sport (e.g. tennis, running, handball) or recreational soccer, ice hockey, squash"),
    (6, "recreational sport (e.g. tennis, badminton, handball, downhill skiing, jogging 5 times a week)"),
    (
        5,
        "heavy labour, competitive cycling or cross-country skiing, or jogging on uneven ground twice a week",
    ),
    (4, "moderately heavy labour, recreational cycling or cross-country skiing, jogging on even ground"),
    (3, "light labour; competitive or recreational swimming; walking in the forest possible"),
    (2, "light labour; walking on uneven ground possible, backpacking or hiking not"),
    (1, "sedentary work; walking on even ground possible"),
    (0, "sick leave or disability pension because of knee problems"),
)
TEGNER = Instrument(
    id="tegner",
    name="Tegner activity level",
    version="Tegner 1985",
    recall_period="as set by the site's protocol (current, or before the injury)",
    licence=f"Published scale ({_TEGNER_LYSHOLM_1985}). The registry uses its own labels.",
    loinc_panel=None,
    scoring_source=f"{_TEGNER_LYSHOLM_1985}: the level 0-10 the patient chooses is the score (SCORING-2.md).",
    items=_items([("tegner", "tegner", "activity level (0-10)", _TEGNER_LEVELS, True)]),
    subscales=(Subscale("tegner", "Tegner activity level", ("tegner",), max_missing=0),),
    sections=(Section("tegner", "Activity level", ("tegner",)),),
    outputs=(
        Output(
            "tegner",
            "Tegner activity level (0-10, 10 = competitive sport at elite level)",
            0,
            10,
            "higher_better",
            "integer",
        ),
    ),
    label_note=(
        "Levels are shown with the registry's short content labels, printed from level 10 down to 0 as on the "
        "published scale; a site may load its wording with scoring.load_wording."
    ),
)


def score_tegner(instrument: Instrument, values: dict[str, Value]) -> tuple[dict[str, Exact], dict[str, int]]:
    """Tegner activity level: the chosen level is the score; missing -> ``None``."""
    return {"tegner": values.get("tegner")}, {"tegner": 0 if "tegner" in values else 1}


#: The rules of these instruments, by id, for ``scoring.engine``.
RULES: Mapping[str, Rule] = {"ikdc": score_ikdc, "lysholm": score_lysholm, "tegner": score_tegner}
