"""The suite verdict's error rates, by seeded simulation through the real statistics, unit and
suite code, on benchmark-shaped data: all of MMLU test (57 subjects at the sizes OpenCompass's
mmlu-weighted group records) and C-Eval val (52 subjects at the sizes of the real data), and the
planner's power figures against the simulated ones.

Pairs are drawn per subject from a joint distribution: the devices disagree at random on a
share d of the answers (half each way) and the candidate also loses a share delta:
P(right->wrong) = d/2 + delta, P(wrong->right) = d/2, so the expected difference is exactly -delta.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmark_eval.compare.margins import Margins
from benchmark_eval.compare.plan_signoff import plan_signoff
from benchmark_eval.compare.planner import UnitNoise, plan_unit
from benchmark_eval.compare.statistics import stratified_compare
from benchmark_eval.compare.suite import UnitComparison, decide
from benchmark_eval.compare.units import Unit, default_units
from benchmark_eval.plan import groups_for, plan_datasets

DISCORDANCE = 0.03
REPS = 1000


def _unit(config: str) -> Unit:
    planned = plan_datasets((config,))
    [unit] = default_units(groups_for({p.abbr: p.config_name for p in planned}), [p.abbr for p in planned])
    return unit


def _draw(rng: np.random.Generator, sizes: np.ndarray, delta: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per subject: accuracy uniform in 30-70%, then pairs from the joint distribution above."""
    strata = []
    for n, acc in zip(sizes, rng.uniform(0.3, 0.7, len(sizes))):
        worse, better = DISCORDANCE / 2 + delta, DISCORDANCE / 2
        counts = rng.multinomial(n, [acc - worse, worse, better, 1 - acc - better])  # both right, R->W, W->R, both wrong
        base = np.repeat([100.0, 100.0, 0.0, 0.0], counts)
        cand = np.repeat([100.0, 0.0, 100.0, 0.0], counts)
        strata.append((base, cand))
    return strata


def _simulate(unit: Unit, sizes: np.ndarray, margin_of: object, delta: float, seed: int) -> dict[str, float]:
    """Share of PASS / FAIL / INCONCLUSIVE suite verdicts; margin_of(score) gives the margin."""
    rng = np.random.default_rng(seed)
    verdicts: Counter[str] = Counter()
    weights = np.array(unit.weights)
    for _ in range(REPS):
        strata = _draw(rng, sizes, delta)
        score = float(weights @ [b.mean() for b, _ in strata] / weights.sum())
        paired = stratified_compare(strata, weights, margin_of(score), resamples=1)  # type: ignore[operator]
        comparison = UnitComparison(unit, "accuracy", score, paired.candidate, score - paired.candidate, None, "-", "", paired)
        verdicts[decide([comparison]).verdict] += 1
    return {v: verdicts[v] / REPS for v in ("PASS", "FAIL", "INCONCLUSIVE")}


@pytest.fixture(scope="module")
def mmlu() -> tuple[Unit, np.ndarray]:
    unit = _unit("mmlu_gen")
    assert unit.group is not None and unit.group.weights is not None  # decided on OpenCompass's mmlu-weighted
    sizes = np.array([unit.group.weights[d] for d in unit.datasets], dtype=int)
    assert len(sizes) == 57 and sizes.sum() == 14042
    return unit, sizes


def test_mmlu_no_true_difference_passes(mmlu: tuple[Unit, np.ndarray]) -> None:
    rates = _simulate(*mmlu, lambda s: 0.01 * s, 0.0, seed=1)
    assert rates["FAIL"] <= 0.05 and rates["PASS"] >= 0.80, rates


def test_mmlu_a_drop_of_one_point_fails(mmlu: tuple[Unit, np.ndarray]) -> None:
    rates = _simulate(*mmlu, lambda s: 0.01 * s, 0.01, seed=2)
    assert rates["FAIL"] >= 0.80, rates


def test_mmlu_a_drop_at_the_margin_does_not_pass(mmlu: tuple[Unit, np.ndarray]) -> None:
    rates = _simulate(*mmlu, lambda s: 0.01 * s, 0.005, seed=3)  # accuracy 30-70%: the score is about 50, 1% of it 0.5
    assert rates["PASS"] <= 0.05, rates


@pytest.fixture(scope="module")
def ceval(data_root: Path) -> tuple[Unit, np.ndarray, float, float]:
    """C-Eval val as the planner sees it from the real data, the margin it says it resolves and
    the drop it says fails."""
    plan = plan_signoff(("ceval_gen",), None, None, data_root, Margins(0.01), discordance=DISCORDANCE)
    [unit_plan] = plan.units
    assert len(unit_plan.sizes) == 52 and unit_plan.n == 1346 and unit_plan.unit.average == "naive"
    assert not unit_plan.resolvable and unit_plan.resolvable_margin is not None  # 1% of 50 is out of its reach
    margin = unit_plan.resolvable_margin
    at_margin = plan_unit(unit_plan.unit, list(unit_plan.sizes), 50.0, Margins(0.0, {"ceval": {"absolute": margin}}),
                          UnitNoise(DISCORDANCE), 1, {})
    assert at_margin.failing_drop is not None
    return unit_plan.unit, np.array(unit_plan.sizes), margin, at_margin.failing_drop


def test_ceval_at_the_margin_its_planner_resolves(ceval: tuple[Unit, np.ndarray, float, float]) -> None:
    unit, sizes, margin, failing_drop = ceval
    null = _simulate(unit, sizes, lambda s: margin, 0.0, seed=4)
    drop = _simulate(unit, sizes, lambda s: margin, failing_drop / 100, seed=5)
    at_margin = _simulate(unit, sizes, lambda s: margin, margin / 100, seed=6)
    assert null["FAIL"] <= 0.05 and null["PASS"] >= 0.80, null
    assert drop["FAIL"] >= 0.80, drop
    assert at_margin["PASS"] <= 0.05, at_margin


def test_the_planner_agrees_with_the_simulation(mmlu: tuple[Unit, np.ndarray], ceval: tuple[Unit, np.ndarray, float, float]) -> None:
    for unit, sizes, margin in ((*mmlu, 0.5), ceval[:3]):
        plan = plan_unit(unit, list(sizes), 50.0, Margins(0.0, {unit.name: {"absolute": margin}}), UnitNoise(DISCORDANCE), 1,
                         {})
        assert plan.p_pass_if_equal is not None and plan.p_fail_if_drop is not None
        null = _simulate(unit, sizes, lambda s, m=margin: m, 0.0, seed=7)
        drop = _simulate(unit, sizes, lambda s, m=margin: m, 2 * margin / 100, seed=8)
        assert abs(null["PASS"] - plan.p_pass_if_equal) <= 0.2 * plan.p_pass_if_equal, (unit.name, null, plan)
        assert abs(drop["FAIL"] - plan.p_fail_if_drop) <= 0.2 * plan.p_fail_if_drop, (unit.name, drop, plan)


def _guessing(rng: np.random.Generator, sizes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """A four-choice benchmark the model answers by guessing, on both devices independently."""
    return [(100.0 * (rng.random(n) < 0.25), 100.0 * (rng.random(n) < 0.25)) for n in sizes]


@pytest.mark.parametrize(("delta", "rate", "bound"), [(0.0, "FAIL", 0.05), (0.0, "PASS", 0.80), (0.01, "FAIL", 0.80)])
def test_a_unit_at_chance_does_not_change_the_suites_rates(mmlu: tuple[Unit, np.ndarray],
                                                          ceval: tuple[Unit, np.ndarray, float, float],
                                                          delta: float, rate: str, bound: float) -> None:
    """MMLU as above beside a C-Eval the model only guesses at: marked by the real judgeability
    code, it decides nothing, so the suite keeps MMLU's rates (judged anyway, it would hold
    every PASS back: its 1% margin is far below what guesses resolve)."""
    from benchmark_eval.compare.judgeable import not_judgeable
    from benchmark_eval.results import Sample

    unit, sizes = mmlu
    ceval_unit, ceval_sizes = ceval[0], ceval[1]
    letters = [Sample(dataset="c", id=c, prompt_sha256="p", reference=c, scores={}) for c in "ABCD"]
    rng = np.random.default_rng(11 + int(delta * 1000))
    weights, verdicts, judged_anyway = np.array(unit.weights), Counter[str](), Counter[str]()
    for _ in range(300):
        strata = _draw(rng, sizes, delta)
        score = float(weights @ [b.mean() for b, _ in strata] / weights.sum())
        paired = stratified_compare(strata, weights, 0.01 * score, resamples=1)
        guesses = _guessing(rng, ceval_sizes)
        guess_score = float(np.mean([b.mean() for b, _ in guesses]))
        guessed = stratified_compare(guesses, np.ones(len(guesses)), 0.01 * guess_score, resamples=1)
        reason = not_judgeable([(letters, list(b)) for b, _ in guesses], guess_score)
        units = [UnitComparison(unit, "accuracy", score, paired.candidate, score - paired.candidate, None, "-", "", paired),
                 UnitComparison(ceval_unit, "accuracy", guess_score, guessed.candidate, 0.0, None, "-", "", guessed,
                                not_judgeable=reason)]
        verdicts[decide(units).verdict] += 1
        judged_anyway[decide(units, judge_all=True).verdict] += 1
    assert verdicts[rate] / 300 <= bound if rate == "FAIL" and delta == 0 else verdicts[rate] / 300 >= bound, verdicts
    if delta == 0 and rate == "PASS":
        assert judged_anyway["PASS"] / 300 < 0.2, judged_anyway
