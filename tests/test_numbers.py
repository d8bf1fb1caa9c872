"""Numbers as reports print them: a value that is not zero never reads as zero, nor with the
wrong sign; two decimals wherever they show the value."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_eval.numbers import NOISE, fixed


@pytest.mark.parametrize(("x", "plain", "signed"), [
    (0.0, "0.00", "0.00"), (1e-13, "0.00", "0.00"), (-1e-13, "0.00", "0.00"),  # float noise is zero
    (0.0006, "0.00060", "+0.00060"), (-0.0004, "-0.00040", "-0.00040"),  # a 1% margin of a 0.06 score
    (0.26, "0.26", "+0.26"), (-1.83, "-1.83", "-1.83"), (12.345, "12.35", "+12.35"),
])
def test_fixed(x: float, plain: str, signed: str) -> None:
    assert (fixed(x), fixed(x, signed=True)) == (plain, signed)


def test_no_value_reads_as_zero_or_with_the_wrong_sign() -> None:
    rng = np.random.default_rng(7)
    for x in np.concatenate([rng.uniform(-1, 1, 2000) * 10.0 ** rng.integers(-8, 3, 2000), [5e-3, -5e-3, 4.9999e-3]]):
        if abs(x) < NOISE:  # float noise, printed as zero (above)
            continue
        for text in (fixed(float(x)), fixed(float(x), signed=True)):
            value = float(text)
            assert value != 0 and np.sign(value) == np.sign(x), (x, text)
            assert abs(value - x) <= 0.5 * abs(x) + NOISE, (x, text)  # two significant figures at least


def test_a_margin_of_nothing_is_zero_not_plus_minus_zero() -> None:
    from benchmark_eval.numbers import plus_minus

    assert (plus_minus(0.0), plus_minus(0.26), plus_minus(0.0006), plus_minus(-0.5)) == ("0", "±0.26", "±0.00060", "±0.50")


def test_significant_keeps_four_figures_at_any_scale() -> None:
    from benchmark_eval.numbers import significant
    assert significant(4.065551238982872e-11) == 4.066e-11
    assert significant(4.06555056285027e-11) == 4.066e-11  # the same KL from another numpy build
    assert significant(-1234.5678) == -1235.0 and significant(0.0) == 0.0
