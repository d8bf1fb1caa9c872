"""Numbers as a report prints them: two decimals, and never "-0.00" or "±0.00" for a value that
is not zero (a 1% margin of a 0.06 baseline is 0.0006 points; it is printed as such)."""

from __future__ import annotations

import math


def decimals_for(x: float, digits: int = 2) -> int:
    """`digits` decimals, or as many as two significant figures of a smaller value need."""
    if abs(x) < NOISE or not math.isfinite(x) or abs(x) >= 10 ** -digits:
        return digits
    return min(12, 1 - math.floor(math.log10(abs(x))))


#: Below this a value is float noise (a mean minus an equal mean), and printed as zero.
NOISE = 1e-9


def fixed(x: float, digits: int = 2, signed: bool = False) -> str:
    """`x` to `digits` decimals (more where it would round to zero), with its sign if `signed`;
    zero (or float noise) is "0.00" either way, a value that is not zero never reads as one."""
    if abs(x) < NOISE:
        return f"{0:.{digits}f}"
    return f"{x:{'+' if signed else ''}.{decimals_for(x, digits)}f}"


def plus_minus(x: float, digits: int = 2) -> str:
    """A margin: "±0.26", and "0" for none at all (never "±0.00")."""
    return "0" if abs(x) < NOISE else f"±{fixed(abs(x), digits)}"


def significant(x: float, figures: int = 4) -> float:
    """`x` rounded to `figures` significant figures, for a record: a value computed by cancellation
    (a KL of near-equal distributions) differs in its last digits between numpy builds."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, figures - 1 - math.floor(math.log10(abs(x))))
