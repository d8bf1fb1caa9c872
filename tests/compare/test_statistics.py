"""Simulation tests of the sign-off statistics (binary paired accuracy data)."""

import numpy as np
import pytest
from scipy import stats

from benchmark_eval.compare.statistics import bootstrap_ci, paired_compare

N = 2000
MARGIN = 2.0  # points
REPS = 300


def simulate(rng: np.random.Generator, n: int, right_to_wrong: float, wrong_to_right: float, p: float = 0.6):
    base = rng.random(n) < p
    u = rng.random(n)
    cand = base.copy()
    # Flip rates are fractions of all samples, so the true difference is wrong_to_right - right_to_wrong.
    cand[base & (u < right_to_wrong / p)] = False
    cand[~base & (u < wrong_to_right / (1 - p))] = True
    return base * 100.0, cand * 100.0


def pass_rate(r2w: float, w2r: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    verdicts = [paired_compare(*simulate(rng, N, r2w, w2r), MARGIN, resamples=200).verdict for _ in range(REPS)]
    return verdicts.count("PASS") / REPS


def test_true_difference_at_the_margin_rarely_passes() -> None:
    assert pass_rate(0.03, 0.01, seed=1) <= 0.05  # candidate worse by exactly 2 points


def test_true_difference_at_the_other_margin_rarely_passes() -> None:
    assert pass_rate(0.01, 0.03, seed=2) <= 0.05


def test_no_true_difference_with_enough_samples_passes() -> None:
    assert pass_rate(0.02, 0.02, seed=3) >= 0.80


def test_clearly_worse_candidate_fails() -> None:
    rng = np.random.default_rng(4)
    result = paired_compare(*simulate(rng, N, 0.08, 0.01), MARGIN)
    assert result.verdict == "FAIL" and result.diff < -MARGIN


def test_small_sample_is_inconclusive_and_says_how_many_would_do() -> None:
    rng = np.random.default_rng(5)
    result = paired_compare(*simulate(rng, 50, 0.02, 0.02), MARGIN)
    assert result.verdict == "INCONCLUSIVE"
    assert result.n_needed is not None and result.n_needed > 50


def test_zero_flips_on_few_samples_is_not_a_pass() -> None:
    scores = np.array([100.0, 0.0] * 5)
    assert paired_compare(scores, scores.copy(), MARGIN).verdict == "INCONCLUSIVE"


def test_detectable_difference_matches_simulation_within_20_percent() -> None:
    rng = np.random.default_rng(6)
    discordance = 0.06
    reported = np.mean([paired_compare(*simulate(rng, N, discordance / 2, discordance / 2), MARGIN, resamples=50).mde
                        for _ in range(50)])

    def power(true_diff_points: float) -> float:
        d = true_diff_points / 100
        hits = 0
        for _ in range(REPS):
            r = paired_compare(*simulate(rng, N, discordance / 2 - d / 2, discordance / 2 + d / 2), MARGIN, resamples=50)
            hits += abs(r.diff) / r.se > stats.norm.ppf(0.975)
        return hits / REPS

    # The simulated difference at which a two-sided test at alpha 0.05 reaches power 0.8.
    grid = np.linspace(0.5 * reported, 1.5 * reported, 11)
    powers = [power(x) for x in grid]
    simulated = float(np.interp(0.8, powers, grid))
    assert simulated == pytest.approx(reported, rel=0.2)


def test_flip_table_and_mcnemar() -> None:
    base = np.array([100.0] * 10 + [0.0] * 10)
    cand = np.array([0.0] * 6 + [100.0] * 4 + [0.0] * 10)
    result = paired_compare(base, cand, MARGIN)
    assert result.flips == {"right_to_wrong": 6, "wrong_to_right": 0, "both_right": 4, "both_wrong": 10}
    assert result.mcnemar_p == pytest.approx(2 * 0.5**6)  # exact binomial, two-sided
    assert result.diff == pytest.approx(-30.0)


def test_bootstrap_is_seeded_and_matches_index_resampling() -> None:
    rng = np.random.default_rng(7)
    diffs = rng.choice([-100.0, 0.0, 100.0], size=500, p=[0.05, 0.9, 0.05])
    assert bootstrap_ci(diffs, 2000, seed=3) == bootstrap_ci(diffs, 2000, seed=3)
    fast = bootstrap_ci(diffs, 4000, seed=1)
    idx = np.random.default_rng(2).integers(0, len(diffs), size=(4000, len(diffs)))
    slow = np.percentile(diffs[idx].mean(axis=1), [2.5, 97.5])
    assert fast == pytest.approx(tuple(slow), abs=0.6)


def test_continuous_scores_use_a_paired_interval() -> None:
    rng = np.random.default_rng(8)
    base = rng.uniform(10, 60, size=800)
    same = paired_compare(base, base + rng.normal(0, 1, size=800), margin=1.0)
    assert same.flips is None and same.verdict == "PASS"
    worse = paired_compare(base, base - 5 + rng.normal(0, 1, size=800), margin=1.0)
    assert worse.verdict == "FAIL"


def test_holm_matches_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    from benchmark_eval.compare.statistics import holm

    rng = np.random.default_rng(3)
    for size in (1, 2, 5, 57):
        p = list(rng.uniform(0, 0.2, size)) + [0.01] * 2  # ties too
        assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
