"""Turning given values into exact numbers, and refusing everything that is not one.

SCORING.md section 1: no rounding inside the engine, and thresholds compare exact values, so 40.3 - 30.3 is
exactly 10. A float is read as the decimal it prints as (``Decimal(repr(x))``: 40.3 means 40.3, not the
nearest binary fraction); ints, ``Decimal`` and ``Fraction`` are exact already. Everything is then a
``Fraction`` until the result is built.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal
from fractions import Fraction

from .errors import ScoringError


def describe(value: object) -> str:
    """How a rejected value is named in an error message."""
    if isinstance(value, str):
        return "an empty string" if value == "" else f"a string ({value!r})"
    if isinstance(value, bool):
        return f"a bool ({value!r})"
    return f"{value!r} ({type(value).__name__})"


def to_fraction(value: object, where: str) -> Fraction:
    """An exact real number, or ``ScoringError``: bools, strings, NaN and infinities are refused."""
    # bool first: it is an int subclass, and True must not score as 1.
    if isinstance(value, bool | str):
        raise ScoringError(f"{where}: {describe(value)} where a number belongs")
    if isinstance(value, numbers.Integral):
        return Fraction(int(value))
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ScoringError(f"{where}: {value!r} is not a finite number")
        return Fraction(Decimal(repr(value)))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ScoringError(f"{where}: {value!r} is not a finite number")
        return Fraction(value)
    raise ScoringError(f"{where}: {describe(value)} where a number belongs")


def to_integer(value: object, where: str) -> int:
    """A whole number on an integer scale, or ``ScoringError``.

    Only ints are taken: a float, ``Decimal`` or ``Fraction`` is refused even when it is whole (2.0), because
    an integer scale that receives a float points to a form or an import that does not store what it should
    (SCORING.md: "a non-integer where the scale is integer" is invalid; we read it strictly).
    """
    if isinstance(value, bool | str):
        raise ScoringError(f"{where}: {describe(value)} where a number belongs")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float | Decimal | Fraction):
        raise ScoringError(
            f"{where}: {value!r} is not an integer; the scale takes whole numbers given as int"
        )
    raise ScoringError(f"{where}: {describe(value)} where a number belongs")


def to_float(value: Fraction | int) -> float:
    """The correctly rounded float of an exact value; the only place the engine leaves exact arithmetic."""
    return float(value)
