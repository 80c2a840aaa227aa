"""OMERACT-OARSI responder criteria (Pham 2004; SCORING.md section 8)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from .errors import ScoringError
from .exact import to_fraction

OMERACT_OARSI_CITATION = (
    "Pham T, van der Heijde D, Altman RD, et al. OMERACT-OARSI initiative: Osteoarthritis Research Society "
    "International set of responder criteria for osteoarthritis clinical trials revisited. Osteoarthritis "
    "Cartilage 2004;12:389-99"
)

Number = int | float | Decimal | Fraction


def _score_0_100(value: object, name: str) -> Fraction:
    if value is None:
        raise ScoringError(f"omeract_oarsi_responder: {name} is required")
    number = to_fraction(value, f"omeract_oarsi_responder: {name}")
    if not 0 <= number <= 100:
        raise ScoringError(f"omeract_oarsi_responder: {name} {value!r} is outside 0-100 (higher = worse)")
    return number


def _improved(baseline: Fraction, followup: Fraction, relative: Fraction, absolute: int) -> bool:
    """Improvement of at least ``relative`` of the baseline and at least ``absolute`` points, both inclusive.

    On these scales higher is worse, so improvement is baseline - follow-up. A baseline of 0 cannot improve:
    the criterion is not met (SCORING.md section 8), and the relative change is never divided by 0.
    """
    if baseline == 0:
        return False
    change = baseline - followup
    return change >= absolute and change >= relative * baseline


def omeract_oarsi_responder(
    *,
    pain_baseline: Number | None,
    pain_followup: Number | None,
    function_baseline: Number | None,
    function_followup: Number | None,
    global_baseline: Number | None = None,
    global_followup: Number | None = None,
) -> dict[str, bool | None]:
    """OMERACT-OARSI responder status (Pham 2004). All inputs on 0-100 with higher = worse.

    Use WOMAC ``_0_100``, a pain VAS, the patient global; convert KOOS/HOOS subscales as 100 - x. A responder
    has a high improvement in pain or in function (>= 50% and >= 20 points), or an improvement of >= 20% and
    >= 10 points in at least two of pain, function and patient global. Boundaries are inclusive and compared
    exactly (40.3 -> 30.3 is exactly 10 points).

    Returns ``responder``, ``high_pain``, ``high_function``, ``pain_20``, ``function_20``, ``global_20``.
    ``global_20`` is ``None`` when no global is given, and ``responder`` is ``None`` when the answer depends
    on it. Raises ``ScoringError`` for a value outside 0-100, a missing pain or function value, or a global
    given at only one time point.
    """
    pain = (_score_0_100(pain_baseline, "pain_baseline"), _score_0_100(pain_followup, "pain_followup"))
    function = (
        _score_0_100(function_baseline, "function_baseline"),
        _score_0_100(function_followup, "function_followup"),
    )
    if (global_baseline is None) != (global_followup is None):
        # SCORING.md names a baseline without a follow-up; a follow-up without a baseline is refused alike, as
        # no change can be computed from it either.
        given = "global_baseline" if global_followup is None else "global_followup"
        raise ScoringError(f"omeract_oarsi_responder: {given} is given without the other global value")

    high_pain = _improved(*pain, Fraction(1, 2), 20)
    high_function = _improved(*function, Fraction(1, 2), 20)
    pain_20 = _improved(*pain, Fraction(1, 5), 10)
    function_20 = _improved(*function, Fraction(1, 5), 10)
    global_20: bool | None = None
    if global_baseline is not None:
        global_values = (
            _score_0_100(global_baseline, "global_baseline"),
            _score_0_100(global_followup, "global_followup"),
        )
        global_20 = _improved(*global_values, Fraction(1, 5), 10)

    responder: bool | None
    if high_pain or high_function:
        responder = True
    elif global_20 is not None:
        responder = pain_20 + function_20 + global_20 >= 2
    elif pain_20 and function_20:
        responder = True
    elif pain_20 or function_20:
        responder = None  # one of the two met: the global decides, and it is missing
    else:
        responder = False  # neither met: even an improved global makes only one of three
    return {
        "responder": responder,
        "high_pain": high_pain,
        "high_function": high_function,
        "pain_20": pain_20,
        "function_20": function_20,
        "global_20": global_20,
    }
