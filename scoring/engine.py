"""``score(instrument, answers)``: validation and the scoring rules of SCORING.md sections 2-7.

The rules of SCORING-2.md's IKDC, Lysholm and Tegner are in ``scoring.knee_forms`` and EQ-5D-5L's (the one
instrument scored with a value set, ``score(..., value_set=CODE)``) in ``scoring.eq5d``; they are named here.

Every rule works on exact values (ints and ``Fraction``) and the result is converted to float only when it is
built, so a score at a threshold is exactly at the threshold. Each rule cites where it comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeAlias, cast

from .definitions import Instrument, Item
from .eq5d import score_eq5d5l
from .errors import ScoringError
from .exact import describe, to_float, to_fraction, to_integer
from .instruments import HHS, HHS_CATEGORIES, INSTRUMENTS, ODI_BANDS, get_instrument
from .knee_forms import RULES as KNEE_FORM_RULES
from .short_forms import RULES as SHORT_FORM_RULES

#: Version of the scoring rules, stamped on every result. Bump it whenever a rule changes, so stored scores
#: can be recomputed and told apart (SCORING.md section 1).
SCORING_VERSION = "1.0"

Value: TypeAlias = int | str | Fraction
Exact: TypeAlias = Fraction | int | str | None
Score: TypeAlias = float | int | str | bool | None


@dataclass(frozen=True)
class ScoreResult:
    """What ``score()`` returns.

    ``scores`` has exactly the instrument's output keys (``Instrument.outputs``): floats for decimal outputs,
    ints for integer outputs, strings for categories, ``None`` where the rules give no score (never 0, never
    NaN). ``missing`` counts the unanswered items of each scoring subscale. ``value_set`` is the value set the
    scores were computed in (EQ-5D-5L), ``None`` for every other instrument. ``exact`` holds the same scores
    before conversion to float (``Fraction`` for decimal outputs): compute flags from it when the result is at
    hand, as a stored float of a non-terminating score (e.g. 650/9) is only the nearest float. Both mappings
    are plain dicts, new for every call, so they serialize to JSON as they are.
    """

    instrument: str
    version: str
    scores: Mapping[str, Score]
    missing: Mapping[str, int]
    exact: Mapping[str, Exact]
    value_set: str | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready copy: instrument, version, scores, missing (not the exact values); and the value set,
        for an instrument scored with one."""
        document: dict[str, object] = {
            "instrument": self.instrument,
            "version": self.version,
            "scores": dict(self.scores),
            "missing": dict(self.missing),
        }
        if self.value_set is not None:
            document["value_set"] = self.value_set
        return document


# --- validation -----------------------------------------------------------------------------------
Check: TypeAlias = Callable[[object], Value]


def _choice_check(where: str, item: Item) -> Check:
    allowed = frozenset(item.values)
    numbers = [value for value in item.values if isinstance(value, int)]
    if len(numbers) == len(item.values):
        low, high = min(numbers), max(numbers)

        # Lysholm items take only their listed points (locking 0, 2, 6, 10, 15): a value inside the range but not
        # listed is named as such rather than "out of range".
        gaps = len(allowed) != high - low + 1
        listed = ", ".join(str(value) for value in sorted(frozenset(numbers)))

        def check_int(value: object) -> Value:
            number = to_integer(value, where)
            if number not in allowed:
                if gaps and low <= number <= high:
                    raise ScoringError(f"{where}: {number} is not one of the allowed values ({listed})")
                raise ScoringError(f"{where}: {number} is out of range ({low}-{high})")
            return number

        return check_int

    codes = ", ".join(str(value) for value in item.values)

    def check_code(value: object) -> Value:
        if not isinstance(value, str) or value == "":
            raise ScoringError(f"{where}: {describe(value)} where one of the codes {codes} belongs")
        if value not in allowed:
            raise ScoringError(f"{where}: unknown answer code {value!r}; expected one of {codes}")
        return value

    return check_code


def _numeric_check(where: str, item: Item) -> Check:
    assert item.min is not None and item.max is not None
    low, high = item.min, item.max
    unit = f" {item.unit}" if item.unit else ""
    convert = to_integer if item.kind == "integer" else to_fraction

    def check(value: object) -> Value:
        number = convert(value, where)
        if not low <= number <= high:
            raise ScoringError(f"{where}: {value!r} is out of range ({low}-{high}{unit})")
        return number

    return check


def _checks(instrument: Instrument) -> dict[str, Check]:
    checks: dict[str, Check] = {}
    for item in instrument.items:
        where = f"{instrument.id} item {item.code}"
        checks[item.code] = (
            _choice_check(where, item) if item.kind == "choice" else _numeric_check(where, item)
        )
    return checks


_CHECKS = {instrument_id: _checks(instrument) for instrument_id, instrument in INSTRUMENTS.items()}
_HHS_CLINICIAN_FIELDS = frozenset(item.code for item in HHS.items if item.respondent == "clinician")


def _unknown_item(instrument: Instrument, code: object) -> ScoringError:
    message = f"{instrument.id}: unknown item code {code!r} (codes are case-sensitive)"
    if instrument.id == "mhhs" and code in _HHS_CLINICIAN_FIELDS:
        # Byrd & Jones 2000: the mHHS is the patient-reportable part of the HHS only.
        message = (
            f"mhhs: {code!r} is a clinician field of the HHS; the mHHS takes pain and function fields only"
        )
    elif instrument.id == "hhs":
        message += (
            "; fields Harris records but does not score (e.g. Trendelenburg) are stored outside the score"
        )
    elif instrument.derived_from:
        message += f"; {instrument.id} takes the whole {instrument.derived_from} answer set"
    return ScoringError(message)


def validate_answers(instrument: str, answers: Mapping[str, object]) -> dict[str, Value]:
    """The answered items of a response as exact values, without scoring it (e.g. a partly saved form).

    Raises ``ScoringError`` exactly where ``score()`` would.
    """
    return validate(get_instrument(instrument), answers)


def validate(instrument: Instrument, answers: object) -> dict[str, Value]:
    """The answered items as exact values; ``ScoringError`` on any invalid answer.

    An absent key and ``None`` both mean "not answered". For a derived WOMAC the whole KOOS/HOOS answer set is
    validated, so an invalid item outside WOMAC still rejects it (SCORING.md section 4).
    """
    if not isinstance(answers, Mapping):
        raise ScoringError(
            f"{instrument.id}: answers must be a mapping of item code to value, not {describe(answers)}"
        )
    checks = _CHECKS[instrument.id]
    values: dict[str, Value] = {}
    for code, value in answers.items():
        check = checks.get(code) if isinstance(code, str) else None
        if check is None:
            raise _unknown_item(instrument, code)
        if value is not None:
            values[code] = check(value)
    return values


# --- rules ----------------------------------------------------------------------------------------
Rule: TypeAlias = Callable[[Instrument, dict[str, Value]], tuple[dict[str, Exact], dict[str, int]]]


def _answered(values: Mapping[str, Value], codes: Iterable[str]) -> list[int]:
    """The answered items among ``codes``: ints, as validation leaves every 0-4 and 0-5 item."""
    return [cast(int, values[code]) for code in codes if code in values]


def _number(values: Mapping[str, Value], code: str) -> Fraction:
    """A validated numeric field (HHS measurements) as an exact number."""
    return Fraction(cast(Fraction | int, values[code]))


def _sum(parts: Iterable[Fraction | int | None]) -> Fraction | None:
    """Sum of parts that must all be valid; ``None`` if any is not."""
    numbers = list(parts)
    if any(part is None for part in numbers):
        return None
    return Fraction(sum(cast(list[Fraction | int], numbers)))


def _mean(parts: list[Fraction | None]) -> Fraction | None:
    """Mean of scores that must all be valid; ``None`` if any is not."""
    total = _sum(parts)
    return None if total is None else total / len(parts)


def _koos_hoos(instrument: Instrument, values: dict[str, Value]) -> tuple[dict[str, Exact], dict[str, int]]:
    """KOOS Scoring 2012 and HOOS Scoring 2013 (SCORING.md sections 2 and 3)."""
    subscales: dict[str, Fraction | None] = {}
    missing: dict[str, int] = {}
    for subscale in instrument.subscales:
        answered = _answered(values, subscale.item_codes)
        missing[subscale.code] = len(subscale.item_codes) - len(answered)
        subscales[subscale.code] = None
        if len(answered) >= subscale.min_items:
            # 100 - mean x 25 with the mean of the answered items only: averaging is the only substitution.
            subscales[subscale.code] = 100 - Fraction(25 * sum(answered), len(answered))
    scores: dict[str, Exact] = dict(subscales)
    if instrument.id == "koos":
        # Aggregates only when every part is valid. koos.nu defines no total; each is named by its source:
        # Frobell et al., NEJM 2010 (without ADL) and Skou et al., NEJM 2015 (without sport/rec).
        scores["koos4_kanon"] = _mean([subscales[key] for key in ("pain", "symptoms", "sport_rec", "qol")])
        scores["koos4_skou"] = _mean([subscales[key] for key in ("pain", "symptoms", "adl", "qol")])
        scores["koos5"] = _mean([subscales[key] for key in ("pain", "symptoms", "adl", "sport_rec", "qol")])
    return scores, missing


_WOMAC_MAX = {"pain": 20, "stiffness": 8, "function": 68, "total": 96}


def _womac(instrument: Instrument, values: dict[str, Value]) -> tuple[dict[str, Exact], dict[str, int]]:
    """WOMAC LK3.1 sums with mean substitution (SCORING.md section 4); also the derived WOMAC.

    For ``womac_from_koos``/``womac_from_hoos`` the subscales list the KOOS/HOOS item codes in WOMAC order, so
    the same rule applies to the same items.
    """
    raw: dict[str, Fraction | None] = {}
    missing: dict[str, int] = {}
    for subscale in instrument.subscales:
        answered = _answered(values, subscale.item_codes)
        size = len(subscale.item_codes)
        missing[subscale.code] = size - len(answered)
        raw[subscale.code] = None
        if len(answered) >= subscale.min_items:
            # Whitehouse 2004: 1-3 missing function items are replaced by the subscale mean, so the sum is
            # mean(answered) x 17 and may be fractional. The same substitution for the one missing pain item.
            raw[subscale.code] = Fraction(sum(answered) * size, len(answered))
    raw["total"] = _sum([raw["pain"], raw["stiffness"], raw["function"]])
    scores: dict[str, Exact] = dict(raw)
    for key, maximum in _WOMAC_MAX.items():
        # raw / max x 100 (100 = worst: the WOMAC direction, used by OMERACT-OARSI and Tubach 2005) and its
        # inverse (100 = best, comparable with KOOS/HOOS).
        value = raw[key]
        normalised = None if value is None else value * 100 / maximum
        scores[f"{key}_0_100"] = normalised
        scores[f"{key}_0_100_inv"] = None if normalised is None else 100 - normalised
    return scores, missing


def _points(values: Mapping[str, Value], codes: Iterable[str]) -> int | None:
    """Harris points of choice fields, or ``None`` if any is missing."""
    total = 0
    for code in codes:
        if code not in values:
            return None
        total += _HHS_POINTS[code][cast(str, values[code])]
    return total


_HHS_POINTS: dict[str, dict[str, int]] = {
    item.code: {str(option.value): option.points for option in item.options if option.points is not None}
    for item in HHS.items
    if item.kind == "choice"
}
_HHS_GAIT = ("limp", "support", "distance")
_HHS_ACTIVITIES = ("stairs", "shoes_socks", "sitting", "public_transport")
_HHS_DEFORMITY = (
    "fixed_flexion_contracture_deg",
    "fixed_adduction_deg",
    "fixed_internal_rotation_deg",
    "limb_length_discrepancy_cm",
)
_HHS_ROM = ("flexion_deg", "abduction_deg", "adduction_deg", "external_rotation_deg", "internal_rotation_deg")


def _segment(value: Fraction, low: int, high: int) -> Fraction:
    """The part of ``value`` that lies between ``low`` and ``high`` degrees."""
    return max(Fraction(0), min(value, Fraction(high)) - low)


def harris_rom_index(
    flexion: Fraction,
    abduction: Fraction,
    adduction: Fraction,
    external_rotation: Fraction,
    internal_rotation: Fraction,
) -> Fraction:
    """The Harris range-of-motion index (Harris 1969; SCORING.md section 5), exact.

    Each arc counts degree by degree with the weight of its segment: flexion 0-45 x 1.0, 45-90 x 0.6, 90-110 x
    0.3, beyond 110 x 0; abduction 0-15 x 0.8, 15-20 x 0.3, beyond x 0; external rotation 0-15 x 0.4, beyond x
    0; internal rotation x 0; adduction 0-15 x 0.2, beyond x 0. Normal arcs (110, 20, 15, 15) sum to 100.5.
    """
    # Harris weights internal rotation by 0; it is still measured, and required for the ROM to be scored.
    del internal_rotation
    return (
        _segment(flexion, 0, 45)
        + _segment(flexion, 45, 90) * Fraction(6, 10)
        + _segment(flexion, 90, 110) * Fraction(3, 10)
        + _segment(abduction, 0, 15) * Fraction(8, 10)
        + _segment(abduction, 15, 20) * Fraction(3, 10)
        + _segment(external_rotation, 0, 15) * Fraction(4, 10)
        + _segment(adduction, 0, 15) * Fraction(2, 10)
    )


def hhs_category(total: Fraction | int) -> str:
    """Harris 1969 category: >= 90 excellent, >= 80 good, >= 70 fair, else poor (exact comparison)."""
    for floor, category in zip((90, 80, 70), HHS_CATEGORIES, strict=False):
        if total >= floor:
            return category
    return HHS_CATEGORIES[-1]


def _missing_per_subscale(instrument: Instrument, values: Mapping[str, Value]) -> dict[str, int]:
    return {
        subscale.code: sum(code not in values for code in subscale.item_codes)
        for subscale in instrument.subscales
    }


def _hhs(instrument: Instrument, values: dict[str, Value]) -> tuple[dict[str, Exact], dict[str, int]]:
    """Harris Hip Score (Harris 1969; SCORING.md section 5).

    A missing field makes its component and the total ``None``.
    """
    pain = _points(values, ("pain",))
    gait = _points(values, _HHS_GAIT)
    activities = _points(values, _HHS_ACTIVITIES)
    function = None if gait is None or activities is None else gait + activities

    deformity: int | None = None
    if all(code in values for code in _HHS_DEFORMITY):
        flexion, adduction, internal, length = (_number(values, code) for code in _HHS_DEFORMITY)
        # 4 points only if all four hold, each strictly less than its limit; 30 degrees of contracture fails.
        holds = flexion < 30 and adduction < 10 and internal < 10 and length < Fraction(32, 10)
        deformity = 4 if holds else 0

    rom_index_sum: Fraction | None = None
    rom: Fraction | None = None
    if all(code in values for code in _HHS_ROM):
        rom_index_sum = harris_rom_index(*(_number(values, code) for code in _HHS_ROM))
        # x 0.05, capped at 5: normal arcs give 5.025.
        rom = min(Fraction(5), rom_index_sum / 20)

    total = _sum([pain, function, deformity, rom])
    scores: dict[str, Exact] = {
        "pain": pain,
        "gait": gait,
        "activities": activities,
        "function": function,
        "deformity": deformity,
        "rom_index_sum": rom_index_sum,
        "rom": rom,
        "total": total,
        "category": None if total is None else hhs_category(total),
    }
    return scores, _missing_per_subscale(instrument, values)


def _mhhs(instrument: Instrument, values: dict[str, Value]) -> tuple[dict[str, Exact], dict[str, int]]:
    """Modified HHS (Byrd & Jones 2000; SCORING.md section 5): the eight pain and function fields."""
    codes = ("pain", *_HHS_GAIT, *_HHS_ACTIVITIES)
    raw = _points(values, codes)
    scores: dict[str, Exact] = {"raw": raw, "mhhs": None, "mhhs_uncapped": None, "mhhs_100_over_91": None}
    if raw is not None:
        uncapped = raw * Fraction(11, 10)
        # 91 x 1.1 = 100.1 on a 0-100 scale: capped at 100 (SCORING.md choice); uncapped is kept too.
        scores["mhhs"] = min(Fraction(100), uncapped)
        scores["mhhs_uncapped"] = uncapped
        scores["mhhs_100_over_91"] = Fraction(raw * 100, 91)
    return scores, _missing_per_subscale(instrument, values)


def _single(instrument: Instrument, values: dict[str, Value]) -> tuple[dict[str, Exact], dict[str, int]]:
    """Pain VAS (mm, any real 0-100) and NRS (integer 0-10): the answer is the score (SCORING.md 6)."""
    (code,) = instrument.item_codes
    value = values.get(code)
    return {code: value}, {code: 0 if code in values else 1}


def odi_band(odi: Fraction | int) -> str:
    """ODI band (SCORING.md 7): <=20 minimal, <=40 moderate, <=60 severe, <=80 crippled, else bed_bound."""
    for ceiling, band in zip((20, 40, 60, 80), ODI_BANDS, strict=False):
        if odi <= ceiling:
            return band
    return ODI_BANDS[-1]


def _odi(instrument: Instrument, values: dict[str, Value]) -> tuple[dict[str, Exact], dict[str, int]]:
    """Oswestry Disability Index v2.1a (Fairbank & Pynsent 2000; SCORING.md section 7)."""
    (subscale,) = instrument.subscales
    answered = _answered(values, subscale.item_codes)
    missing = len(subscale.item_codes) - len(answered)
    odi: Fraction | None = None
    if len(answered) >= subscale.min_items:
        # sum / (5 x answered) x 100, the form's own example: 16/45 -> 35.56%. At most one missing
        # (SCORING.md choice: the only case the authors illustrate).
        odi = Fraction(100 * sum(answered), 5 * len(answered))
    scores: dict[str, Exact] = {
        "odi": odi,
        "answered": len(answered),
        "band": None if odi is None else odi_band(odi),
    }
    return scores, {subscale.code: missing}


_RULES: dict[str, Rule] = {
    "koos": _koos_hoos,
    "hoos": _koos_hoos,
    "womac": _womac,
    "womac_from_koos": _womac,
    "womac_from_hoos": _womac,
    "hhs": _hhs,
    "mhhs": _mhhs,
    "vas": _single,
    "nrs": _single,
    "odi": _odi,
    # SCORING-2.md: IKDC, Lysholm, Tegner (scoring.knee_forms).
    **KNEE_FORM_RULES,
    # Second set (SCORING-2.md): KOOS JR, HOOS JR, KOOS-12, PROMIS Global Health and their derived forms.
    **SHORT_FORM_RULES,
}
#: Rules that take a value set as a third argument (SCORING-2.md: EQ-5D-5L, scoring.eq5d).
_VALUE_SET_RULES = {"eq5d5l": score_eq5d5l}
_CONVERT = {
    instrument.id: tuple((output.key, output.kind) for output in instrument.outputs)
    for instrument in INSTRUMENTS.values()
}


def _public(value: Exact, kind: str) -> Score:
    if value is None or isinstance(value, str):
        return value
    if kind == "integer":
        assert value == int(value), "an integer output is always whole"
        return int(value)
    return to_float(value)


def _value_set(instrument: Instrument, value_set: object) -> str | None:
    """The value set to score in: required and known where the instrument has value sets, else refused."""
    if not instrument.value_sets:
        if value_set is not None:
            takes = ", ".join(i.id for i in INSTRUMENTS.values() if i.value_sets)
            raise ScoringError(
                f"{instrument.id}: takes no value set (given {describe(value_set)}); only {takes} does"
            )
        return None
    known = ", ".join(instrument.value_sets)
    if value_set is None:
        raise ScoringError(f"{instrument.id}: a value set is required (value_set=, one of {known})")
    if not isinstance(value_set, str) or value_set not in instrument.value_sets:
        raise ScoringError(f"{instrument.id}: unknown value set {describe(value_set)}; known: {known}")
    return value_set


def score(instrument: str, answers: Mapping[str, object], *, value_set: str | None = None) -> ScoreResult:
    """Score one response.

    ``answers`` maps item codes (``Instrument.items``) to stored values; an absent key and ``None`` both mean
    "not answered". ``value_set`` is required by an instrument with value sets (``Instrument.value_sets``:
    EQ-5D-5L) and refused by every other one. Raises ``ScoringError`` for an unknown instrument, item code or
    value set and for any invalid value; nothing is clamped or coerced.
    """
    definition = get_instrument(instrument)
    chosen = _value_set(definition, value_set)
    values = validate(definition, answers)
    if chosen is None:
        exact, missing = _RULES[definition.id](definition, values)
    else:
        exact, missing = _VALUE_SET_RULES[definition.id](definition, values, chosen)
    scores = {key: _public(exact[key], kind) for key, kind in _CONVERT[definition.id]}
    return ScoreResult(
        instrument=definition.id,
        version=SCORING_VERSION,
        scores=scores,
        missing=missing,
        exact={key: exact[key] for key, _ in _CONVERT[definition.id]},
        value_set=chosen,
    )
