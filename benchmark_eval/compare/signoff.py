"""Compare a candidate run with a baseline run: per dataset and metric, the 1% rule and
paired statistics, a three-way verdict, and the overall verdict with its exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EXIT_NOT_COMPARABLE, UserError
from .comparability import environment_table, input_differences, is_noise_floor
from .logprob_parity import LogprobParity, logprob_parity
from .margins import Margins
from .runs import LoadedRun, load_run
from .statistics import PairedResult, paired_compare

_ORDER = {"PASS": 0, "INCONCLUSIVE": 1, "FAIL": 2}
EXIT_CODES = {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 2}


@dataclass(frozen=True)
class FlippedSample:
    """A paired sample whose score changed between the runs, for a person to read."""

    id: str
    baseline_score: float
    candidate_score: float
    baseline_prediction: Any
    candidate_prediction: Any
    reference: Any


@dataclass
class MetricComparison:
    dataset: str
    metric: str
    baseline: float  # the runs' reported scores
    candidate: float
    abs_diff: float  # baseline - candidate, points
    rel_diff_pct: float | None  # (baseline - candidate) / baseline * 100, the seed's formula
    rule_1pct: str  # the plain rule: PASS when rel_diff_pct < 1
    margin_note: str
    paired: PairedResult | None
    verdict: str
    flipped: list[FlippedSample] = field(default_factory=list)
    logprob: LogprobParity | None = None


@dataclass
class Comparison:
    baseline: LoadedRun
    candidate: LoadedRun
    metrics: list[MetricComparison]
    mismatches: list[str]
    noise_floor: bool
    environment: list[tuple[str, str, str]]
    only_in_one: list[str]

    @property
    def verdict(self) -> str:
        return max((m.verdict for m in self.metrics), key=_ORDER.__getitem__)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def dataset_verdicts(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for m in self.metrics:
            out[m.dataset] = max(out.get(m.dataset, "PASS"), m.verdict, key=_ORDER.__getitem__)
        return out


def _per_sample_key(metric: str, sample_scores: dict[str, float], n_metrics: int) -> tuple[str, float] | None:
    if metric in sample_scores:
        return metric, 1.0
    if "correct" in sample_scores and n_metrics == 1:
        return "correct", 100.0  # 0/1 per sample -> 0/100 points, the unit of the reported score
    return None


def _compare_metric(base: LoadedRun, cand: LoadedRun, dataset: str, metric: str, margins: Margins,
                    resamples: int, seed: int) -> MetricComparison:
    b_score, c_score = base.metrics(dataset)[metric], cand.metrics(dataset)[metric]
    rel = (b_score - c_score) / b_score * 100 if b_score else None
    rule = "PASS" if rel is not None and rel < 1.0 else ("PASS" if rel is None and c_score >= b_score else "FAIL")
    keys = sorted((k for k in base.samples if k[0] == dataset and k in cand.samples
                   and base.samples[k].prompt_sha256 == cand.samples[k].prompt_sha256), key=lambda k: (len(k[1]), k[1]))
    n_metrics = len(set(base.metrics(dataset)) & set(cand.metrics(dataset)))
    first = base.samples[keys[0]].scores if keys else {}
    source = _per_sample_key(metric, first, n_metrics)
    config = base.manifest.datasets[dataset].config
    margin, note = margins.points(dataset, config, b_score)
    if source is None or not keys:
        return MetricComparison(dataset, metric, b_score, c_score, b_score - c_score, rel, rule, note, None,
                                "INCONCLUSIVE", [])
    key, scale = source
    b = np.array([float(base.samples[k].scores.get(key, np.nan)) * scale for k in keys])
    c = np.array([float(cand.samples[k].scores.get(key, np.nan)) * scale for k in keys])
    paired = paired_compare(b, c, margin, resamples=resamples, seed=seed)
    flipped = [
        FlippedSample(k[1], float(bv), float(cv), base.samples[k].prediction, cand.samples[k].prediction,
                      base.samples[k].reference)
        for k, bv, cv in zip(keys, b, c) if bv != cv
    ]
    if paired.flips is None:  # continuous: list the largest changes only
        flipped = sorted(flipped, key=lambda f: -abs(f.candidate_score - f.baseline_score))[:20]
    parity = logprob_parity([(base.samples[k], cand.samples[k]) for k in keys])
    return MetricComparison(dataset, metric, b_score, c_score, b_score - c_score, rel, rule, note, paired,
                            paired.verdict, flipped, parity)


def compare_runs(baseline: Path, candidate: Path, margins: Margins, allow_mismatch: bool = False,
                 resamples: int = 10_000, seed: int = 0) -> Comparison:
    base, cand = load_run(baseline), load_run(candidate)
    common = [d for d in base.manifest.datasets if d in cand.manifest.datasets]
    if not common:
        raise UserError(f"the two runs have no dataset in common ({', '.join(base.manifest.datasets)} vs {', '.join(cand.manifest.datasets)}); evaluate the same eval_datasets on both devices")
    mismatches = input_differences(base, cand, common)
    if mismatches and not allow_mismatch:
        raise UserError(
            f"the runs are not comparable: {len(mismatches)} input difference(s), listed below; fix the runs or pass --allow-mismatch to report anyway",
            exit_code=EXIT_NOT_COMPARABLE, details="\n".join(f"  - {m}" for m in mismatches),
        )
    metrics = [
        _compare_metric(base, cand, ds, metric, margins, resamples, seed)
        for ds in common for metric in base.metrics(ds) if metric in cand.metrics(ds)
    ]
    only = sorted(set(base.manifest.datasets) ^ set(cand.manifest.datasets))
    return Comparison(base, cand, metrics, mismatches, is_noise_floor(base, cand), environment_table(base, cand), only)
