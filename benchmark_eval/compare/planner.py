"""Plan a sign-off before any device time: per unit, what the planned run can resolve.

The figures are the normal approximations the sign-off's own tests use (statistics.py): a unit's
standard error from its subjects' sizes and weights at a discordance rate d (share of samples
whose score differs between the devices), then
- resolvable margin: the smallest equivalence margin a unit with no true difference passes with
  probability 0.8 (TOST, α = 0.05): (z(0.95) + z(0.9)) x SE;
- detectable difference: the smallest difference found with power 0.8 (two-sided α = 0.05);
- P(PASS | no difference) and P(FAIL | a drop of twice the margin), and the smallest drop found
  with power 0.8 (failing_drop). FAIL is taken at Holm's strictest step (α / number of units), as
  in the suite verdict, and a drop counts as that many more discordant samples (each lost answer
  is a flip): a candidate worse by δ points disagrees on d + δ/100 of the samples.
Continuous metrics (ROUGE) need the spread of per-sample differences: measure it from two runs
of the baseline (--noise-floor), or they are planned as unknown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..numbers import plus_minus
from .margins import Margins
from .statistics import ALPHA, POWER, Z_DETECT, FloatArray, binary_stratum_variance, z_equivalence
from .units import Unit, margin_names

Z_TOST = z_equivalence(0.0)


@dataclass(frozen=True)
class UnitNoise:
    """What two runs of the same configuration disagree on, for one unit (or the assumed rate)."""

    discordance: float | None  # binary metrics: share of samples whose score differs
    sd: float | None = None  # continuous metrics: SD of per-sample differences, points
    measured: bool = False


def measured_noise(diffs: FloatArray, binary: bool) -> UnitNoise:
    """The noise two runs show on a unit, from its per-sample differences (candidate - baseline):
    the share that differ for 0/1 scores, else their SD (unknown from a single sample)."""
    if binary:
        return UnitNoise(float(np.mean(diffs != 0)), measured=True)
    return UnitNoise(None, float(diffs.std(ddof=1)) if len(diffs) > 1 else None, True)


@dataclass(frozen=True)
class UnitPlan:
    unit: Unit
    n: int
    sizes: tuple[int, ...]
    score: float  # the baseline score the relative margin is taken of
    margin: float  # points
    margin_note: str
    noise: UnitNoise
    se: float | None  # None: the spread is unknown (a continuous metric without a measured floor)
    resolvable_margin: float | None
    detectable: float | None
    p_pass_if_equal: float | None
    p_fail_if_drop: float | None  # at a true drop of twice the margin
    failing_drop: float | None  # the smallest true drop (points) that FAILs with power 0.8
    n_needed: int | None  # samples at which the margin becomes resolvable (same shares per subject)

    @property
    def resolvable(self) -> bool:
        return self.resolvable_margin is not None and self.margin >= self.resolvable_margin

    def reading(self) -> str:
        size = f"{self.n} samples" + (f" in {len(self.sizes)} subsets" if len(self.sizes) > 1 else "")
        rate = (f"{100 * self.noise.discordance:g}% discordance" if self.noise.discordance is not None
                else f"a per-sample SD of {self.noise.sd:.2f} points" if self.noise.sd is not None else "an unknown spread")
        rate += " (measured)" if self.noise.measured else " (assumed)"
        if self.resolvable_margin is None:
            return f"{self.unit.label}: {size}; the spread of its scores is unknown: measure it with --noise-floor RUN_A RUN_B"
        head = f"{self.unit.label}: {size} resolve {plus_minus(self.resolvable_margin)} points at {rate}"
        if self.resolvable:
            return f"{head}; the margin {plus_minus(self.margin)} ({self.margin_note}) can be signed off"
        more = f"about {self.n_needed} samples" if self.n_needed else "more samples"
        return (f"{head}; a margin of {plus_minus(self.margin)} ({self.margin_note}) cannot be signed off on it: "
                f"it needs {more}, or a margin of {plus_minus(self.resolvable_margin)}")


def unit_se(sizes: Sequence[int], weights: Sequence[float], noise: UnitNoise) -> float | None:
    """The unit score difference's standard error (points) when the devices agree on average."""
    n: FloatArray = np.asarray(sizes, dtype=np.float64)
    w = np.asarray(weights, dtype=float) / float(np.sum(weights))
    if noise.discordance is not None:
        # A 0/100 difference, non-zero with probability d (half each way), with the sign-off's own
        # Agresti-Min adjustment (0.5 per discordant cell, spread over the K subsets): the
        # planner's SE is the one the sign-off will compute.
        k = len(n)
        flips = noise.discordance * n / 2 + 0.5 / k
        variances = binary_stratum_variance(flips, flips, n + 2.0 / k)
    elif noise.sd is not None:
        variances = noise.sd**2 / n
    else:
        return None
    return math.sqrt(float(np.sum(w**2 * variances)))


def plan_unit(unit: Unit, sizes: Sequence[int], score: float, margins: Margins, noise: UnitNoise, units: int,
              configs: dict[str, str]) -> UnitPlan:
    margin, note = margins.points(margin_names(unit, configs), score)
    se = unit_se(sizes, unit.weights, noise)
    n = int(sum(sizes))
    if se is None or se <= 0:
        known = se == 0  # no spread at all: everything resolves
        return UnitPlan(unit, n, tuple(sizes), score, margin, note, noise, se, 0.0 if known else None,
                        0.0 if known else None, 1.0 if known else None, 1.0 if known else None,
                        margin if known else None, None)
    resolvable = Z_TOST * se
    p_pass = max(0.0, 2 * float(stats.norm.cdf(margin / se - stats.norm.ppf(1 - ALPHA))) - 1)
    z_fail = float(stats.norm.ppf(1 - ALPHA / max(units, 1)))

    def se_at(drop: float) -> float:
        if noise.discordance is None:
            return se
        return unit_se(sizes, unit.weights, UnitNoise(min(1.0, noise.discordance + drop / 100))) or se

    p_fail = float(stats.norm.cdf(margin / se_at(2 * margin) - z_fail))  # a drop of 2 x margin clears it by one margin
    z_power = z_fail + float(stats.norm.ppf(POWER))
    drop = margin + z_power * se
    for _ in range(50):  # fixed point: the drop's own flips widen the interval it must clear
        drop = margin + z_power * se_at(drop)
    needed = None if margin >= resolvable or margin <= 0 else int(math.ceil(n * (resolvable / margin) ** 2))
    return UnitPlan(unit, n, tuple(sizes), score, margin, note, noise, se, resolvable, Z_DETECT * se, p_pass, p_fail,
                    drop, needed)
