"""Request health per run, compared: a candidate that truncates or returns nothing more often
than the baseline is flagged even when its scores agree (a server that cuts answers short is
broken whatever the score says)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..results import Sample
from ..results.records import RequestStats
from .runs import LoadedRun
from .statistics import ALPHA, holm


@dataclass
class RunHealth:
    generations: int  # generative samples with a trace (PPL samples have no finish reason)
    finish_reasons: dict[str, int]
    empty: int
    mean_output_tokens: float | None
    p99_output_tokens: float | None
    requests: RequestStats | None  # from run.json: speed, retries, failures resumed


@dataclass
class RateTest:
    """A paired test of one rate (truncated, empty) over the samples both runs generated."""

    what: str
    baseline: int
    candidate: int
    n: int
    only_baseline: int  # discordant pairs
    only_candidate: int
    p: float  # exact two-sided test on the discordant pairs (McNemar)
    holm_p: float = 1.0
    flagged: bool = False


@dataclass
class HealthComparison:
    baseline: RunHealth
    candidate: RunHealth
    tests: list[RateTest] = field(default_factory=list)

    @property
    def flags(self) -> list[str]:
        return [f"the candidate's {t.what} rate differs from the baseline's: {t.candidate} vs {t.baseline} of {t.n} "
                f"(paired exact test, Holm-adjusted p = {t.holm_p:.3g}), whatever the scores say" for t in self.tests if t.flagged]


def _generative(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if s.choices is None]


def _truncated(sample: Sample) -> bool:
    return sample.generation is not None and sample.generation.finish_reason == "length"


def _empty(sample: Sample) -> bool:
    return sample.prediction is None or not str(sample.prediction).strip()


def run_health(run: LoadedRun, keys: list[tuple[str, str]]) -> RunHealth:
    samples = _generative([run.samples[k] for k in keys])
    traced = [s.generation for s in samples if s.generation is not None]
    lengths = [t.output_tokens for t in traced if t.output_tokens is not None]
    return RunHealth(
        generations=len(traced),
        finish_reasons=dict(Counter(str(t.finish_reason) for t in traced)),
        empty=sum(_empty(s) for s in samples),
        mean_output_tokens=float(np.mean(lengths)) if lengths else None,
        p99_output_tokens=float(np.percentile(lengths, 99)) if lengths else None,
        requests=run.manifest.requests)


def _paired_rate(what: str, pairs: list[tuple[Sample, Sample]], has: Callable[[Sample], bool]) -> RateTest:
    b = [has(x) for x, _ in pairs]
    c = [has(y) for _, y in pairs]
    only_b = sum(x and not y for x, y in zip(b, c))
    only_c = sum(y and not x for x, y in zip(b, c))
    p = float(stats.binomtest(only_c, only_b + only_c).pvalue) if only_b + only_c else 1.0
    return RateTest(what, sum(b), sum(c), len(pairs), only_b, only_c, p)


def compare_health(base: LoadedRun, cand: LoadedRun, keys: list[tuple[str, str]]) -> HealthComparison | None:
    """`keys`: the paired samples (same dataset, id and prompt). None without generative samples."""
    pairs = [(base.samples[k], cand.samples[k]) for k in keys if base.samples[k].choices is None]
    if not pairs:
        return None
    health = HealthComparison(run_health(base, keys), run_health(cand, keys))
    traced = [(x, y) for x, y in pairs if x.generation is not None and y.generation is not None]
    if traced:  # a finish reason needs traces on both sides
        health.tests.append(_paired_rate("truncation (finish_reason length)", traced, _truncated))
    health.tests.append(_paired_rate("empty answer", pairs, _empty))
    for test, p in zip(health.tests, holm([t.p for t in health.tests])):
        test.holm_p = float(p)
        test.flagged = test.holm_p < ALPHA
    return health
