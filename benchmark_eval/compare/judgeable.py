"""Units a model cannot be judged on: its baseline answers at chance, or at the floor or ceiling.

A unit where the baseline model is no better than guessing (26% on four-choice C-Eval) or
scores almost nothing (0.06% on MMLU gen: a 135M model that does not follow the answer format)
cannot show a difference between devices: the flips are noise around a guess, and a margin of
1% of a score near zero is a fraction of one answer. Such a unit is marked, with its reason, in
the report and verdict.json (`not_judgeable`), and decides nothing (suite.decide) unless the
comparison names its units (`--units`).

- At chance (multiple choice, accuracy only): the baseline's correct answers are not more than
  guessing would give, one-sided at α = 0.05 (normal approximation to the binomial, summed over
  the unit's datasets). The number of choices comes from the samples: a log-likelihood item's
  choices, or for generations the letters the references use (four at least: a slice may not
  reach the last letter).
- At the floor or ceiling (any 0/1 metric): the baseline scores below 1 point or above 99.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

from ..numbers import fixed
from ..results import Sample
from .statistics import ALPHA

FLOOR, CEILING = 1.0, 99.0  # points


def choices_of(samples: Sequence[Sample]) -> int | None:
    """How many answers each question offers, when the samples say so; None otherwise."""
    counts = {len(s.choices) for s in samples if s.choices}
    if counts:
        return min(counts) if min(counts) >= 2 else None
    references = {str(s.reference).strip() for s in samples}
    if not references or not all(len(r) == 1 and "A" <= r <= "Z" for r in references):
        return None
    # A slice may not reach its last letter (C-Eval questions answered A-C only): four at least,
    # the benchmarks' usual count, which errs towards judging a unit rather than excluding it.
    return max(4, ord(max(references)) - ord("A") + 1)


def not_judgeable(per_dataset: Sequence[tuple[Sequence[Sample], Sequence[float]]], score: float) -> str | None:
    """Why a unit cannot judge this model, or None. `per_dataset`: each dataset's baseline
    samples and their 0/1 scores in points (0 or 100); `score`: the unit's baseline score."""
    if score < FLOOR:
        return f"the baseline scores {fixed(score)}, at the floor (below {FLOOR:g}): a device difference cannot show"
    if score > CEILING:
        return f"the baseline scores {fixed(score)}, at the ceiling (above {CEILING:g}): a device difference cannot show"
    expected = variance = correct = 0.0
    for samples, points in per_dataset:
        k = choices_of(samples)
        if k is None:
            return None  # not multiple choice (or not known to be): no chance level
        n, p = len(points), 1.0 / k
        expected, variance = expected + n * p, variance + n * p * (1 - p)
        correct += sum(points) / 100.0
    if variance <= 0:
        return None
    p_above = float(stats.norm.sf((correct - expected) / math.sqrt(variance)))
    if p_above >= ALPHA:
        chance = 100.0 * expected / sum(len(points) for _, points in per_dataset)
        return (f"the baseline scores {fixed(score)}, not distinguishable from guessing ({fixed(chance)} by chance; "
                f"one-sided p = {p_above:.2g}): its flips are guesses, not device differences")
    return None
