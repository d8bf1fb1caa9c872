"""Paired statistics of two runs' per-sample scores on the same samples.

Scores are in points (accuracy 0/100 per sample, ROUGE 0-100). The difference is
candidate - baseline, so a negative difference means the candidate is worse.

- Binary scores: the flip table, McNemar's exact test, and an Agresti-Min adjusted
  interval (0.5 added to each cell of the paired 2x2 table): with zero flips it still has
  a width that shrinks with n, instead of claiming certainty from a handful of samples.
- Continuous scores: a paired t interval.
- Both: a seeded paired bootstrap 95% CI for the report, TOST equivalence against the
  margin (alpha 0.05: the 90% interval inside +-margin), the smallest difference this
  sample size can resolve (two-sided alpha 0.05, power 0.8) and, when the data cannot
  tell, the sample size that would.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

#: Per-sample scores (0/1 or 0/100 for accuracy, 0-100 for ROUGE), one entry per paired sample.
FloatArray = NDArray[np.float64]

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
ALPHA = 0.05
POWER = 0.8


@dataclass
class PairedResult:
    n: int
    baseline: float  # mean score, points
    candidate: float
    diff: float  # candidate - baseline, points
    margin: float  # equivalence margin, points
    se: float
    ci90: tuple[float, float]  # the TOST interval
    bootstrap_ci95: tuple[float, float]
    tost_p: float
    worse_p: float  # one-sided p that the candidate is worse by more than the margin
    mde: float  # smallest |difference| resolvable at alpha 0.05 (two-sided), power 0.8
    verdict: Verdict
    reason: str
    n_needed: int | None = None
    flips: dict[str, int] | None = None  # binary: right_to_wrong, wrong_to_right, both_right, both_wrong
    mcnemar_p: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_binary(values: FloatArray) -> bool:
    return bool(np.isin(values, (0.0, 100.0)).all())


def bootstrap_ci(diffs: FloatArray, resamples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the mean paired difference, resampling samples with replacement.

    When the differences take few distinct values (always, for binary scores), resampling
    n indices is the same as drawing multinomial counts of those values, which costs
    O(resamples x values) instead of O(resamples x n).
    """
    rng = np.random.default_rng(seed)
    n = len(diffs)
    values, counts = np.unique(diffs, return_counts=True)
    if len(values) <= 64:
        draws = rng.multinomial(n, counts / n, size=resamples)
        means = draws @ values / n
    else:
        means = np.empty(resamples)
        chunk = max(1, 4_000_000 // n)
        for start in range(0, resamples, chunk):
            stop = min(resamples, start + chunk)
            idx = rng.integers(0, n, size=(stop - start, n))
            means[start:stop] = diffs[idx].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _binary_moments(base: FloatArray, cand: FloatArray) -> tuple[float, float, dict[str, int]]:
    b_right, c_right = base > 0, cand > 0
    flips = {
        "right_to_wrong": int(np.sum(b_right & ~c_right)),
        "wrong_to_right": int(np.sum(~b_right & c_right)),
        "both_right": int(np.sum(b_right & c_right)),
        "both_wrong": int(np.sum(~b_right & ~c_right)),
    }
    n = len(base)
    # Agresti-Min: add 0.5 to each of the four cells.
    b = flips["right_to_wrong"] + 0.5
    c = flips["wrong_to_right"] + 0.5
    n_adj = n + 2.0
    diff = (c - b) / n_adj
    var = ((b + c) - (c - b) ** 2 / n_adj) / n_adj**2
    return 100 * diff, 100 * math.sqrt(var), flips


def sample_size_needed(sd: float, margin: float, diff: float) -> int | None:
    """n for TOST to show equivalence with power 0.8 if the true difference is `diff`."""
    gap = margin - abs(diff)
    if gap <= 0 or sd <= 0:
        return None
    z = stats.norm.ppf(1 - ALPHA) + stats.norm.ppf(1 - (1 - POWER) / (2 if diff == 0 else 1))
    return int(math.ceil((z * sd / gap) ** 2))


def paired_compare(base: FloatArray, cand: FloatArray, margin: float, resamples: int = 10_000, seed: int = 0) -> PairedResult:
    base = np.asarray(base, dtype=float)
    cand = np.asarray(cand, dtype=float)
    n = len(base)
    diffs = cand - base
    observed = float(diffs.mean())
    binary = is_binary(base) and is_binary(cand)
    flips = mcnemar_p = None
    if binary:
        centre, se, flips = _binary_moments(base, cand)
        table = [[flips["both_right"], flips["right_to_wrong"]], [flips["wrong_to_right"], flips["both_wrong"]]]
        mcnemar_p = float(mcnemar(table, exact=True).pvalue)
        crit90, df = stats.norm.ppf(1 - ALPHA), math.inf
        sd = se * math.sqrt(n + 2)
    else:
        sd = float(diffs.std(ddof=1)) if n > 1 else 0.0
        se = sd / math.sqrt(n) if n > 0 else math.inf
        centre, df = observed, max(n - 1, 1)
        crit90 = stats.t.ppf(1 - ALPHA, df)
    dist = stats.norm if math.isinf(df) else stats.t(df)
    ci90 = (centre - crit90 * se, centre + crit90 * se)
    if se > 0:
        p_low = float(dist.sf((centre + margin) / se))  # H0: diff <= -margin
        p_high = float(dist.cdf((centre - margin) / se))  # H0: diff >= +margin
        worse_p = float(dist.cdf((centre + margin) / se))  # H0: diff >= -margin
    else:
        p_low = p_high = 0.0 if abs(centre) < margin else 1.0
        worse_p = 0.0 if centre < -margin else 1.0
    tost_p = max(p_low, p_high)
    mde = float((stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)) * se)
    n_needed = None
    if tost_p < ALPHA and margin > 0:
        verdict: Verdict = "PASS"
        reason = f"equivalent: the 90% CI [{ci90[0]:+.2f}, {ci90[1]:+.2f}] lies within +-{margin:.2f} points"
    elif worse_p < ALPHA:
        verdict = "FAIL"
        reason = f"worse by more than the margin: the 90% CI [{ci90[0]:+.2f}, {ci90[1]:+.2f}] lies below -{margin:.2f} points"
    else:
        verdict = "INCONCLUSIVE"
        n_needed = sample_size_needed(sd, margin, centre)
        if p_high < ALPHA / 100 and centre > margin:
            reason = f"the candidate is better by more than the margin ({centre:+.2f} points): not equivalent, check why"
        elif n_needed is None:
            reason = f"the difference ({centre:+.2f}) is as large as the margin (+-{margin:.2f}); no sample size would show equivalence"
        else:
            reason = f"the data cannot tell: about {n_needed} samples would resolve +-{margin:.2f} points (have {n})"
    return PairedResult(
        n=n, baseline=float(base.mean()), candidate=float(cand.mean()), diff=observed, margin=margin, se=se,
        ci90=(float(ci90[0]), float(ci90[1])), bootstrap_ci95=bootstrap_ci(diffs, resamples, seed),
        tost_p=tost_p, worse_p=worse_p, mde=mde, verdict=verdict, reason=reason, n_needed=n_needed,
        flips=flips, mcnemar_p=mcnemar_p,
    )
