"""Minimal clinically important improvement (MCII) and patient acceptable symptom state (PASS), as data.

SCORING.md section 8 lists the first set's thresholds; the second set's (KOOS JR, HOOS JR, IKDC, Lysholm) are
the published figures named below, each with the population it was measured in (SCORING-2.md names none: they
were looked up in the sources cited, and an instrument without a published figure found has none here: KOOS-12,
PROMIS Global Health, Tegner, EQ-5D-5L). Every flag computed here carries its threshold and citation, so a
published figure can always say which definition it used. Comparisons are exact and inclusive: a change equal
to the threshold reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from .errors import ScoringError
from .exact import to_float, to_fraction
from .instruments import get_instrument

Measure = Literal["mcii", "pass"]
Joint = Literal["knee", "hip", "spine"]
Kind = Literal["absolute", "relative"]
Better = Literal["lower", "higher"]
JOINTS: tuple[Joint, ...] = ("knee", "hip", "spine")

TUBACH_2005_MCII = (
    "Tubach F, Ravaud P, Baron G, et al. Evaluation of clinically relevant changes in patient reported "
    "outcomes in knee and hip osteoarthritis: the minimal clinically important improvement. Ann Rheum Dis "
    "2005;64:29-33"
)
TUBACH_2005_SYMPTOM_STATE = (
    "Tubach F, Ravaud P, Baron G, et al. Evaluation of clinically relevant states in patient reported "
    "outcomes in knee and hip osteoarthritis: the patient acceptable symptom state. Ann Rheum Dis "
    "2005;64:34-7"
)
MOSTAFAEE_2021 = (
    "Mostafaee N, Nourollahi F, Mostamand J, Negahban H. Responsiveness and the minimal important change of "
    "Knee injury and Osteoarthritis Outcome Score in Persian patients with knee osteoarthritis following "
    "physiotherapy intervention. Physiother Theory Pract 2021"
)
BERLINER_2015 = (
    "Berliner JL, Brodke DJ, Chan V, SooHoo NF, Bozic KJ. John Charnley Award: Preoperative "
    "patient-reported outcome measures predict clinically meaningful improvement in function after THA. "
    "Clin Orthop Relat Res 2016;474:321-9 (published online 2015)"
)
HUNG_2018 = (
    "Hung M, Bounsanga J, Voss MW, Saltzman CL. Establishing minimum clinically important difference values for "
    "the Patient-Reported Outcomes Measurement Information System Physical Function, hip disability and "
    "osteoarthritis outcome score for joint reconstruction, and knee injury and osteoarthritis outcome score for "
    "joint reconstruction in orthopaedics. World J Orthop 2018;9(3):41-49 (doi 10.5312/wjo.v9.i3.41)"
)
KUNZE_JR_SYMPTOM_STATE = (
    "Kunze KN, Fontana MA, MacLean CH, Lyman S, McLawhorn AS. Defining the patient acceptable symptom state for "
    "the HOOS JR and KOOS JR after primary total joint arthroplasty (ROC analysis, 2-year satisfaction anchor)"
)
URHAUSEN_2024 = (
    "Urhausen AP et al. Orthop J Sports Med 2024;12(5):23259671241250025 (IKDC-SKF PASS by predictive modelling, "
    "10 years after ACL injury)"
)
LYSHOLM_RBO_2023 = (
    "Rev Bras Ortop 2023;58(1):79-84 (doi 10.1055/s-0042-1756330): minimal important change of the Lysholm score "
    "6 months after ACL reconstruction, anchor-based, 59 patients"
)
MHHS_ARTHROSCOPY_2021 = "Arthroscopy 2021 (mHHS MCID of 8 points, as listed in SCORING.md section 8)"
OSTELO_2008 = (
    "Ostelo RW, Deyo RA, Stratford P, et al. Interpreting change scores for pain and functional status in "
    "low back pain: towards international consensus regarding minimal important change. Spine 2008;33:90-4"
)


@dataclass(frozen=True)
class Threshold:
    """One published threshold.

    For an MCII, ``value`` is the least improvement that counts: points of the score (``kind="absolute"``) or
    percent of the baseline (``kind="relative"``); ``better`` says which way is improvement ("lower" on scales
    where higher is worse). For a PASS, ``value`` is the score at or beyond which (on the ``better`` side) the
    state is acceptable. ``value`` is a ``Decimal`` so it is exactly the published figure.
    """

    measure: Measure
    instrument: str
    key: str
    joint: Joint
    value: Decimal
    kind: Kind
    better: Better
    population: str
    citation: str

    @property
    def signed_value(self) -> Decimal:
        """The threshold as a change is printed in the source: negative where improvement is a decrease."""
        if self.measure == "mcii" and self.better == "lower":
            return -self.value
        return self.value


def _mcii(
    instrument: str,
    key: str,
    joint: Joint,
    value: str,
    kind: Kind,
    better: Better,
    population: str,
    citation: str,
) -> Threshold:
    return Threshold("mcii", instrument, key, joint, Decimal(value), kind, better, population, citation)


def _pass(instrument: str, key: str, joint: Joint, value: str, population: str, citation: str) -> Threshold:
    # Every PASS of the second set is on a higher-is-better score: at or above the value is acceptable.
    return Threshold("pass", instrument, key, joint, Decimal(value), "absolute", "higher", population, citation)


_KOOS_MCII = {"pain": "15", "symptoms": "12.5", "adl": "15.5", "sport_rec": "17.5", "qol": "12.5"}

#: Every threshold of SCORING.md section 8, then the second set's published figures.
THRESHOLDS: tuple[Threshold, ...] = (
    # Tubach 2005: the MCII is a change; absolute and relative figures are two definitions of the same MCII.
    _mcii("vas", "vas_mm", "knee", "19.9", "absolute", "lower", "knee OA", TUBACH_2005_MCII),
    _mcii("vas", "vas_mm", "knee", "40.8", "relative", "lower", "knee OA", TUBACH_2005_MCII),
    _mcii("vas", "vas_mm", "hip", "15.3", "absolute", "lower", "hip OA", TUBACH_2005_MCII),
    _mcii("vas", "vas_mm", "hip", "32.0", "relative", "lower", "hip OA", TUBACH_2005_MCII),
    _mcii("womac", "function_0_100", "knee", "9.1", "absolute", "lower", "knee OA", TUBACH_2005_MCII),
    _mcii("womac", "function_0_100", "hip", "7.9", "absolute", "lower", "hip OA", TUBACH_2005_MCII),
    *(
        _mcii("koos", key, "knee", value, "absolute", "higher", "knee OA, physiotherapy", MOSTAFAEE_2021)
        for key, value in _KOOS_MCII.items()
    ),
    # The source reports one HOOS figure; HOOS has no total, so it is applied to each subscale (registry
    # choice).
    *(
        _mcii(
            "hoos", key, "hip", "9.1", "absolute", "higher", "primary THA (distribution-based)", BERLINER_2015
        )
        for key in _KOOS_MCII
    ),
    _mcii("mhhs", "mhhs", "hip", "8", "absolute", "higher", "hip", MHHS_ARTHROSCOPY_2021),
    _mcii("odi", "odi", "spine", "10", "absolute", "lower", "low back pain", OSTELO_2008),
    _mcii("odi", "odi", "spine", "30", "relative", "lower", "low back pain", OSTELO_2008),
    _mcii("vas", "vas_mm", "spine", "15", "absolute", "lower", "low back pain", OSTELO_2008),
    _mcii("vas", "vas_mm", "spine", "30", "relative", "lower", "low back pain", OSTELO_2008),
    _mcii("nrs", "nrs", "spine", "2", "absolute", "lower", "low back pain", OSTELO_2008),
    _mcii("nrs", "nrs", "spine", "30", "relative", "lower", "low back pain", OSTELO_2008),
    # The second set. Hung 2018: the median of the anchor- and distribution-based MCIDs in 2,226 clinic patients
    # with joint conditions ("18.0 for the HOOS JR, and 15.1 for the KOOS JR"); the ranges behind the medians are
    # wide (ROC cut-offs 6.33-43.36 for HOOS JR, 2.21-8.16 for KOOS JR; scoring/README.md gives them).
    _mcii("koos_jr", "interval", "knee", "15.1", "absolute", "higher", "joint conditions, clinic (median of methods)",
          HUNG_2018),
    _mcii("hoos_jr", "interval", "hip", "18.0", "absolute", "higher", "joint conditions, clinic (median of methods)",
          HUNG_2018),
    _mcii("lysholm", "lysholm", "knee", "5.5", "absolute", "higher", "ACL reconstruction, 6 months",
          LYSHOLM_RBO_2023),
    Threshold(
        "pass",
        "vas",
        "vas_mm",
        "knee",
        Decimal("32.3"),
        "absolute",
        "lower",
        "knee OA",
        TUBACH_2005_SYMPTOM_STATE,
    ),
    Threshold(
        "pass",
        "womac",
        "function_0_100",
        "knee",
        Decimal("31.0"),
        "absolute",
        "lower",
        "knee OA",
        TUBACH_2005_SYMPTOM_STATE,
    ),
    _pass("koos_jr", "interval", "knee", "63.7", "primary TKA, 2 years", KUNZE_JR_SYMPTOM_STATE),
    _pass("hoos_jr", "interval", "hip", "76.7", "primary THA, 2 years", KUNZE_JR_SYMPTOM_STATE),
    _pass("ikdc", "ikdc", "knee", "76.2", "10 years after ACL injury", URHAUSEN_2024),
)


@dataclass(frozen=True)
class ChangeResult:
    """Whether a change between two scores reaches the MCII.

    ``reached`` is ``None`` when no threshold applies or a score is missing. ``change`` is follow-up minus
    baseline and ``relative_change`` the same in percent of the baseline (``None`` for a baseline of 0).
    """

    instrument: str
    key: str
    joint: str | None
    reached: bool | None
    change: float | None
    relative_change: float | None
    threshold: Threshold | None
    citation: str | None


@dataclass(frozen=True)
class StateResult:
    """Whether a score is in the patient acceptable symptom state; ``reached`` is ``None`` when none
    applies."""

    instrument: str
    key: str
    joint: str | None
    reached: bool | None
    value: float | None
    threshold: Threshold | None
    citation: str | None


def _family(instrument: str) -> str:
    # A short form derived from its parent's answers is that short form's score (the parent holds its items
    # unchanged: WOMAC in KOOS and HOOS, KOOS JR and KOOS-12 in KOOS, HOOS JR in HOOS), so the short form's
    # thresholds apply to it; the threshold returned still says which instrument it was published for.
    definition = get_instrument(instrument)
    return definition.id.split("_from_")[0]


def find_thresholds(
    instrument: str, key: str | None = None, joint: str | None = None, measure: Measure | None = None
) -> tuple[Threshold, ...]:
    """The thresholds published for an instrument (a derived WOMAC finds WOMAC's), filtered as asked."""
    family = _family(instrument)
    if joint is not None and joint not in JOINTS:
        raise ScoringError(f"unknown joint {joint!r}; known: {', '.join(JOINTS)}")
    return tuple(
        row
        for row in THRESHOLDS
        if row.instrument == family
        and (key is None or row.key == key)
        and (joint is None or row.joint == joint)
        and (measure is None or row.measure == measure)
    )


def _lookup(instrument: str, key: str, joint: str | None, measure: Measure, kind: Kind) -> Threshold | None:
    get_instrument(instrument).output(key)  # unknown instrument or key: ScoringError
    if kind not in ("absolute", "relative"):
        raise ScoringError(f"unknown threshold kind {kind!r}; known: absolute, relative")
    rows = [row for row in find_thresholds(instrument, key, joint, measure) if row.kind == kind]
    if len(rows) > 1:
        # Only reachable with joint=None: the same score has different thresholds per joint (pain VAS).
        joints = ", ".join(sorted({row.joint for row in rows}))
        raise ScoringError(f"{instrument} {key}: the {measure} differs by joint ({joints}); give the joint")
    return rows[0] if rows else None


def _score(instrument: str, key: str, value: object, name: str) -> Fraction:
    output = get_instrument(instrument).output(key)
    number = to_fraction(value, f"{instrument} {key} {name}")
    if output.min is not None and output.max is not None and not output.min <= number <= output.max:
        raise ScoringError(f"{instrument} {key} {name}: {value!r} is outside {output.min}-{output.max}")
    return number


def mcii_change(
    instrument: str,
    key: str,
    joint: str | None,
    baseline: object,
    followup: object,
    *,
    kind: Kind = "absolute",
) -> ChangeResult:
    """Whether the change from ``baseline`` to ``followup`` of score ``key`` reaches the MCII (SCORING.md 8).

    ``joint`` is "knee", "hip" or "spine"; it may be ``None`` where the instrument has a threshold for one
    joint only. ``kind`` picks the absolute (points) or relative (% of baseline) threshold where the source
    gives both. Scores are compared exactly (floats as the decimals they print as; pass ``ScoreResult.exact``
    values for non-terminating scores). A relative improvement from a baseline of 0 is impossible: not
    reached.
    """
    threshold = _lookup(instrument, key, joint, "mcii", kind)
    citation = None if threshold is None else threshold.citation
    if baseline is None or followup is None:
        return ChangeResult(instrument, key, joint, None, None, None, threshold, citation)
    before = _score(instrument, key, baseline, "baseline")
    after = _score(instrument, key, followup, "follow-up")
    change = after - before
    relative = None if before == 0 else change * 100 / before
    reached: bool | None = None
    if threshold is not None:
        improvement = -change if threshold.better == "lower" else change
        if threshold.kind == "absolute":
            reached = improvement >= Fraction(threshold.value)
        else:
            # Every relative threshold in the table is on a higher-is-worse scale: from 0 there is nothing to
            # gain.
            reached = before != 0 and improvement * 100 >= Fraction(threshold.value) * before
    return ChangeResult(
        instrument=instrument,
        key=key,
        joint=joint,
        reached=reached,
        change=to_float(change),
        relative_change=None if relative is None else to_float(relative),
        threshold=threshold,
        citation=citation,
    )


def pass_reached(instrument: str, key: str, joint: str | None, value: object) -> StateResult:
    """Whether score ``key`` is in the patient acceptable symptom state (the PASS rows of ``THRESHOLDS``).

    Inclusive, on the threshold's ``better`` side: pain VAS <= 32.3 mm and WOMAC function (0-100) <= 31.0 are
    acceptable (Tubach 2005, knee OA), as are KOOS JR >= 63.7, HOOS JR >= 76.7 and IKDC >= 76.2. ``reached``
    is ``None`` when no PASS is published for the score and joint, or the score is missing.
    """
    threshold = _lookup(instrument, key, joint, "pass", "absolute")
    citation = None if threshold is None else threshold.citation
    if value is None:
        return StateResult(instrument, key, joint, None, None, threshold, citation)
    number = _score(instrument, key, value, "value")
    reached: bool | None = None
    if threshold is not None:
        limit = Fraction(threshold.value)
        reached = number <= limit if threshold.better == "lower" else number >= limit
    return StateResult(
        instrument=instrument,
        key=key,
        joint=joint,
        reached=reached,
        value=to_float(number),
        threshold=threshold,
        citation=citation,
    )
