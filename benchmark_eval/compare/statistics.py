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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from ..numbers import fixed, plus_minus

#: Per-sample scores (0/1 or 0/100 for accuracy, 0-100 for ROUGE), one entry per paired sample.
FloatArray = NDArray[np.float64]

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]
ALPHA = 0.05
#: Bootstrap resamples when none are given (reports are reproducible with a fixed seed).
DEFAULT_RESAMPLES = 10_000
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


def stratified_bootstrap_ci(strata: list[FloatArray], weights: FloatArray, resamples: int, seed: int,
                            level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the weighted mean of per-stratum mean differences, resampling samples
    with replacement within each stratum (a subject keeps its size in every resample).

    When a stratum's differences take few distinct values (always, for binary scores),
    resampling its n indices is the same as drawing multinomial counts of those values, which
    costs O(resamples x values) instead of O(resamples x n).
    """
    rng = np.random.default_rng(seed)
    means = np.zeros(resamples)
    for diffs, weight in zip(strata, weights):
        n = len(diffs)
        values, counts = np.unique(diffs, return_counts=True)
        if len(values) <= 64:
            means += weight * (rng.multinomial(n, counts / n, size=resamples) @ values / n)
            continue
        chunk = max(1, 4_000_000 // n)
        for start in range(0, resamples, chunk):
            stop = min(resamples, start + chunk)
            means[start:stop] += weight * diffs[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(diffs: FloatArray, resamples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the mean paired difference (one stratum)."""
    return stratified_bootstrap_ci([np.asarray(diffs, dtype=float)], np.ones(1), resamples, seed, level)


def _flip_table(base: FloatArray, cand: FloatArray) -> dict[str, int]:
    b_right, c_right = base > 0, cand > 0
    return {
        "right_to_wrong": int(np.sum(b_right & ~c_right)),
        "wrong_to_right": int(np.sum(~b_right & c_right)),
        "both_right": int(np.sum(b_right & c_right)),
        "both_wrong": int(np.sum(~b_right & ~c_right)),
    }


def _binary_moments(base: FloatArray, cand: FloatArray) -> tuple[float, float, dict[str, int]]:
    flips = _flip_table(base, cand)
    n = len(base)
    # Agresti-Min: add 0.5 to each of the four cells.
    b = flips["right_to_wrong"] + 0.5
    c = flips["wrong_to_right"] + 0.5
    n_adj = n + 2.0
    diff = (c - b) / n_adj
    var = ((b + c) - (c - b) ** 2 / n_adj) / n_adj**2
    return 100 * diff, 100 * math.sqrt(var), flips


#: z sum of the smallest difference a test finds with power 0.8 (two-sided alpha 0.05)
Z_DETECT = float(stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER))


def z_equivalence(diff: float) -> float:
    """z sum for TOST to show equivalence with power 0.8 when the true difference is `diff`
    (at 0 both one-sided tests must pass, so the power splits in two)."""
    return float(stats.norm.ppf(1 - ALPHA) + stats.norm.ppf(1 - (1 - POWER) / (2 if diff == 0 else 1)))


_Counts = TypeVar("_Counts", float, FloatArray)  # one subset, or every subset at once


def binary_stratum_variance(worse: _Counts, better: _Counts, n: _Counts) -> _Counts:
    """Variance (points^2) of one subset's mean 0/100 difference from its (adjusted) flip counts:
    the unbiased (n - 1) form, as subsets hold few flips each."""
    return 1e4 * ((worse + better) - (better - worse) ** 2 / n) / (n * (n - 1))


def sample_size_needed(sd: float, margin: float, diff: float) -> int | None:
    """n for TOST to show equivalence with power 0.8 if the true difference is `diff`."""
    gap = margin - abs(diff)
    if gap <= 0 or sd <= 0:
        return None
    return int(math.ceil((z_equivalence(diff) * sd / gap) ** 2))


def _decide(centre: float, se: float, df: float, margin: float, n: int,
            n_needed: Callable[[float], int | None]) -> dict[str, Any]:
    """TOST equivalence and the one-sided "worse than the margin" test on an estimate and its
    standard error; the three-way verdict and why."""
    dist = stats.norm if math.isinf(df) else stats.t(df)
    crit90 = float(dist.ppf(1 - ALPHA))
    ci90 = (centre - crit90 * se, centre + crit90 * se)
    if se > 0:
        p_low = float(dist.sf((centre + margin) / se))  # H0: diff <= -margin
        p_high = float(dist.cdf((centre - margin) / se))  # H0: diff >= +margin
        worse_p = float(dist.cdf((centre + margin) / se))  # H0: diff >= -margin
    else:
        p_low = p_high = 0.0 if abs(centre) < margin else 1.0
        worse_p = 0.0 if centre < -margin else 1.0
    tost_p = max(p_low, p_high)
    needed = None
    if tost_p < ALPHA and margin > 0:
        verdict: Verdict = "PASS"
        reason = f"equivalent: the 90% CI [{fixed(ci90[0], signed=True)}, {fixed(ci90[1], signed=True)}] lies within {plus_minus(margin)} points"
    elif worse_p < ALPHA:
        verdict = "FAIL"
        reason = (f"worse by more than the margin: the 90% CI [{fixed(ci90[0], signed=True)}, {fixed(ci90[1], signed=True)}] "
                  f"lies below -{fixed(margin)} points")
    else:
        verdict = "INCONCLUSIVE"
        needed = n_needed(centre)
        if p_high < ALPHA / 100 and centre > margin:
            reason = f"the candidate is better by more than the margin ({fixed(centre, signed=True)} points): not equivalent, check why"
        elif needed is None:
            reason = (f"the difference ({fixed(centre, signed=True)}) is as large as the margin ({plus_minus(margin)}); "
                      "no sample size would show equivalence")
        else:
            reason = f"the data cannot tell: about {needed} samples would resolve {plus_minus(margin)} points (have {n})"
    return {"ci90": (float(ci90[0]), float(ci90[1])), "tost_p": tost_p, "worse_p": worse_p, "verdict": verdict,
            "reason": reason, "n_needed": needed}


def paired_compare(base: FloatArray, cand: FloatArray, margin: float, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> PairedResult:
    base = np.asarray(base, dtype=float)
    cand = np.asarray(cand, dtype=float)
    n = len(base)
    diffs = cand - base
    observed = float(diffs.mean())
    binary = is_binary(base) and is_binary(cand)
    flips = mcnemar_p = None
    if binary:
        centre, se, flips = _binary_moments(base, cand)
        mcnemar_p = _mcnemar(flips)
        df = math.inf
        sd = se * math.sqrt(n + 2)
    else:
        sd = float(diffs.std(ddof=1)) if n > 1 else 0.0
        se = sd / math.sqrt(n) if n > 0 else math.inf
        centre, df = observed, max(n - 1, 1)
    decision = _decide(centre, se, df, margin, n, lambda c: sample_size_needed(sd, margin, c))
    return PairedResult(
        n=n, baseline=float(base.mean()), candidate=float(cand.mean()), diff=observed, margin=margin, se=se,
        bootstrap_ci95=bootstrap_ci(diffs, resamples, seed), mde=_mde(se), flips=flips, mcnemar_p=mcnemar_p,
        **decision,
    )


def _mde(se: float) -> float:
    return Z_DETECT * se


def _mcnemar(flips: dict[str, int]) -> float:
    table = [[flips["both_right"], flips["right_to_wrong"]], [flips["wrong_to_right"], flips["both_wrong"]]]
    return float(mcnemar(table, exact=True).pvalue)


def stratified_compare(strata: list[tuple[FloatArray, FloatArray]], weights: FloatArray, margin: float,
                       resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> PairedResult:
    """Paired statistics of a weighted mean of per-stratum (per-subject) scores: a benchmark
    group's score, e.g. MMLU's naive average over 57 subjects (weights 1/57 each).

    The estimate is the weighted sum of per-subject paired differences; its variance is the
    weighted sum of the per-subject variances (subjects are independent samples). Binary
    scores use Agresti-Min per subject with its 0.5 per discordant cell spread over the
    subjects (0.5/K each), so a group with no flips still has a width, and the unbiased (n - 1)
    variance of each subject's mean; one stratum is exactly `paired_compare`. The pooled flip table is tested with McNemar's
    exact test, which is the Cochran-Mantel-Haenszel test with each pair as its own stratum.
    """
    weights = np.asarray(weights, dtype=float) / float(np.sum(weights))
    pairs = [(np.asarray(b, dtype=float), np.asarray(c, dtype=float)) for b, c in strata]
    if len(pairs) == 1:
        return paired_compare(*pairs[0], margin, resamples=resamples, seed=seed)
    n = sum(len(b) for b, _ in pairs)
    diffs = [c - b for b, c in pairs]
    binary = all(is_binary(b) and is_binary(c) for b, c in pairs)
    flips = mcnemar_p = None
    if binary:
        k = len(pairs)
        centres, variances = np.empty(k), np.empty(k)
        tables = []
        for i, (b, c) in enumerate(pairs):
            table = _flip_table(b, c)
            tables.append(table)
            worse, better, n_adj = table["right_to_wrong"] + 0.5 / k, table["wrong_to_right"] + 0.5 / k, len(b) + 2.0 / k
            centres[i] = 100 * (better - worse) / n_adj
            variances[i] = binary_stratum_variance(worse, better, n_adj)
        flips = {key: sum(t[key] for t in tables) for key in tables[0]}
        mcnemar_p = _mcnemar(flips)
        df = math.inf
    else:
        centres = np.array([d.mean() for d in diffs])
        variances = np.array([d.var(ddof=1) / len(d) if len(d) > 1 else 0.0 for d in diffs])
        parts = weights**2 * variances
        # Welch-Satterthwaite: the t distribution's degrees of freedom for a sum of variances
        denominator = float(np.sum(parts**2 / np.maximum([len(d) - 1 for d in diffs], 1)))
        df = float(np.sum(parts)) ** 2 / denominator if denominator > 0 else math.inf
    centre = float(weights @ centres)
    se = math.sqrt(float(weights**2 @ variances))

    def n_needed(observed: float) -> int | None:
        # Standard errors shrink as 1/sqrt(n) with every subject's share kept.
        gap = margin - abs(observed)
        if gap <= 0 or se <= 0:
            return None
        return int(math.ceil(n * (z_equivalence(observed) * se / gap) ** 2))

    decision = _decide(centre, se, df, margin, n, n_needed)
    baseline = float(sum(w * b.mean() for w, (b, _) in zip(weights, pairs)))
    candidate = float(sum(w * c.mean() for w, (_, c) in zip(weights, pairs)))
    return PairedResult(
        n=n, baseline=baseline, candidate=candidate, diff=candidate - baseline, margin=margin, se=se,
        bootstrap_ci95=stratified_bootstrap_ci(diffs, weights, resamples, seed), mde=_mde(se), flips=flips,
        mcnemar_p=mcnemar_p, extra={"strata": len(pairs)}, **decision,
    )


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the input's order.

    The same numbers as statsmodels' multipletests(method="holm") (tests/compare pins it), which
    runs a full gc.collect() on every call: 55 ms to 0.3 s each, which a simulation of
    thousands of suites cannot afford.
    """
    m = len(pvalues)
    order = np.argsort(pvalues, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(pvalues[index])))
        adjusted[index] = running
    return [float(p) for p in adjusted]
