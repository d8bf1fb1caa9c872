"""Compare a candidate run with a baseline run: the suite verdict over sign-off units
(benchmarks and ungrouped datasets), and per dataset (subject) the diagnostics that never
decide it: the 1% rule, paired statistics, flips."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from .. import compat
from ..errors import EXIT_INCONCLUSIVE, EXIT_NOT_COMPARABLE, EXIT_OK, EXIT_VERDICT_FAIL, UserError
from .comparability import environment_table, input_differences, is_noise_floor, numerics_changes, unchecked_inputs
from .divergence import NEAR_TIE_NATS, DivergenceSummary, summarise
from .health import HealthComparison, compare_health
from .judgeable import not_judgeable
from .logprob_parity import LogprobParity, logprob_parity
from .margins import Margins
from .next_steps import NextStep, next_steps
from .noise_floor import check_noise_floor, load_noise_floor
from .runs import LoadedRun, load_run
from .statistics import DEFAULT_RESAMPLES, FloatArray, PairedResult, Verdict, holm, paired_compare, stratified_compare
from .suite import SuiteVerdict, UnitComparison, decide
from .triage import Triage, explain_flip
from .units import Unit, margin_names, resolve_units, run_groups, settable_names

#: A continuous per-sample score (ROUGE, 0-100) that moves this many points or more is a flip
#: (bf16 against fp32 moved XSum summaries by 4-9 rouge1 points where the text parted early).
LARGE_CHANGE = 5.0
EXIT_CODES = {"PASS": EXIT_OK, "FAIL": EXIT_VERDICT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}


@dataclass(frozen=True)
class FlippedSample:
    """A paired sample whose score changed between the runs, for a person to read."""

    id: str
    baseline_score: float
    candidate_score: float
    baseline_prediction: Any
    candidate_prediction: Any
    reference: Any
    triage: Triage | None = None  # why it flipped


@dataclass
class MetricComparison:
    """One dataset (subject) and metric: a diagnostic row, never the verdict."""

    dataset: str
    metric: str
    baseline: float  # the runs' reported scores
    candidate: float
    abs_diff: float  # baseline - candidate, points
    rel_diff_pct: float | None  # (baseline - candidate) / baseline * 100, the seed's formula
    rule_1pct: str  # the plain rule: PASS when rel_diff_pct < 1
    margin_note: str
    paired: PairedResult | None
    verdict: str  # this subject alone, as a diagnostic
    flipped: list[FlippedSample] = field(default_factory=list)
    logprob: LogprobParity | None = None
    diff_p: float | None = None  # two-sided: any difference (McNemar exact, or paired t)
    holm_p: float | None = None  # diff_p, Holm-adjusted across every subject row


@dataclass
class Comparison:
    baseline: LoadedRun
    candidate: LoadedRun
    units: list[UnitComparison]
    suite: SuiteVerdict
    metrics: list[MetricComparison]
    mismatches: list[str]
    noise_floor: bool  # the two runs are the same device and software
    environment: list[tuple[str, str, str]]
    only_in_one: list[str]
    floor_run: LoadedRun | None = None  # --noise-floor: a second baseline run
    unused_margins: list[str] = field(default_factory=list)
    tau: float = NEAR_TIE_NATS  # the near-tie bound of the flip triage, nats
    divergence: list[DivergenceSummary] = field(default_factory=list)  # generative datasets with token traces
    health: HealthComparison | None = None
    unchecked: list[str] = field(default_factory=list)  # checks an imported run's folder left unmade
    numerics: list[str] = field(default_factory=list)  # numerics settings that differ: the change under test
    next_steps: list[NextStep] = field(default_factory=list)  # what would decide each INCONCLUSIVE unit

    def causes(self, datasets: Iterable[str], metric: str | None = None) -> Counter[str]:
        """Flip causes over some datasets (a unit's), for one metric or all."""
        wanted = set(datasets)
        return Counter(f.triage.cause for m in self.metrics if m.dataset in wanted and metric in (None, m.metric)
                       for f in m.flipped if f.triage is not None)

    @property
    def verdict(self) -> Verdict:
        return self.suite.verdict

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


def _per_sample_key(metric: str, sample_scores: dict[str, float], n_metrics: int) -> tuple[str, float] | None:
    if metric in sample_scores:
        return metric, 1.0
    if "correct" in sample_scores and n_metrics == 1:
        return "correct", 100.0  # 0/1 per sample -> 0/100 points, the unit of the reported score
    return None


def paired_keys(base: LoadedRun, cand: LoadedRun, dataset: str) -> list[tuple[str, str]]:
    """The samples of a dataset both runs scored on the same prompt, in id order."""
    return sorted((k for k in base.keys_by_dataset.get(dataset, []) if k in cand.samples
                   and base.samples[k].prompt_sha256 == cand.samples[k].prompt_sha256), key=lambda k: (len(k[1]), k[1]))


def paired_scores(base: LoadedRun, cand: LoadedRun, dataset: str, metric: str
                  ) -> tuple[list[tuple[str, str]], FloatArray, FloatArray] | None:
    """Per-sample scores (points) of the samples both runs scored on the same prompt; None
    when the runs kept no per-sample score for the metric."""
    keys = paired_keys(base, cand, dataset)
    n_metrics = len(set(base.metrics(dataset)) & set(cand.metrics(dataset)))
    source = _per_sample_key(metric, base.samples[keys[0]].scores, n_metrics) if keys else None
    if source is None:
        return None
    key, scale = source
    b = np.array([float(base.samples[k].scores.get(key, np.nan)) * scale for k in keys])
    c = np.array([float(cand.samples[k].scores.get(key, np.nan)) * scale for k in keys])
    return keys, b, c


def _rule(b_score: float, c_score: float) -> tuple[float | None, str]:
    rel = (b_score - c_score) / b_score * 100 if b_score else None
    return rel, "PASS" if (rel is not None and rel < 1.0) or (rel is None and c_score >= b_score) else "FAIL"


def _compare_metric(base: LoadedRun, cand: LoadedRun, dataset: str, metric: str, margins: Margins,
                    resamples: int, seed: int, tau: float) -> MetricComparison:
    b_score, c_score = base.metrics(dataset)[metric], cand.metrics(dataset)[metric]
    rel, rule = _rule(b_score, c_score)
    margin, note = margins.points([dataset, base.manifest.datasets[dataset].config], b_score)
    scored = paired_scores(base, cand, dataset, metric)
    if scored is None:
        return MetricComparison(dataset, metric, b_score, c_score, b_score - c_score, rel, rule, note, None, "INCONCLUSIVE")
    keys, b, c = scored
    paired = paired_compare(b, c, margin, resamples=resamples, seed=seed)
    # 0/1 scores: every change is a flip; continuous ones (ROUGE): a change of LARGE_CHANGE points or more.
    least = 0.0 if paired.flips is not None else LARGE_CHANGE
    flipped = [
        FlippedSample(k[1], float(bv), float(cv), base.samples[k].prediction, cand.samples[k].prediction,
                      base.samples[k].reference, explain_flip(base.samples[k], cand.samples[k], tau))
        for k, bv, cv in zip(keys, b, c) if bv != cv and abs(cv - bv) >= least
    ]
    diff_p = paired.mcnemar_p
    if paired.flips is None:  # continuous: largest changes first
        flipped.sort(key=lambda f: -abs(f.candidate_score - f.baseline_score))
        diff_p = float(stats.ttest_rel(c, b).pvalue) if len(b) > 1 and np.any(b != c) else 1.0
    parity = logprob_parity([(base.samples[k], cand.samples[k]) for k in keys])
    return MetricComparison(dataset, metric, b_score, c_score, b_score - c_score, rel, rule, note, paired,
                            paired.verdict, flipped, parity, diff_p)


def _unit_metrics(unit: Unit, base: LoadedRun, cand: LoadedRun) -> list[str]:
    if unit.metric is not None:
        return [unit.metric]
    shared = [set(base.metrics(d)) & set(cand.metrics(d)) for d in unit.datasets]
    common = [m for m in base.metrics(unit.datasets[0]) if all(m in s for s in shared)]
    # One decision per unit, on the metric OpenCompass leads with (Xsum: rouge1); the others stay
    # in the per-dataset diagnostics instead of multiplying the units Holm corrects over.
    return [compat.primary_metric(common)] if common else []


def _compare_unit(unit: Unit, metric: str, base: LoadedRun, cand: LoadedRun, margins: Margins,
                  resamples: int, seed: int) -> UnitComparison:
    weights = np.array(unit.weights) / float(np.sum(unit.weights))
    b_score = float(sum(w * base.metrics(d)[metric] for w, d in zip(weights, unit.datasets)))
    c_score = float(sum(w * cand.metrics(d)[metric] for w, d in zip(weights, unit.datasets)))
    rel, rule = _rule(b_score, c_score)
    margin, note = margins.points(margin_names(unit, {d: base.manifest.datasets[d].config for d in unit.datasets}), b_score)
    strata = [paired_scores(base, cand, d, metric) for d in unit.datasets]
    paired = None
    if all(s is not None and len(s[0]) for s in strata):
        paired = stratified_compare([(s[1], s[2]) for s in strata if s is not None], weights, margin, resamples, seed)
    unjudged = None
    if paired is not None and paired.flips is not None:  # 0/1 scores: at chance, floor or ceiling?
        unjudged = not_judgeable([([base.samples[k] for k in s[0]], list(s[1])) for s in strata if s is not None], b_score)
    quoted = None
    if unit.quoted is not None:  # the naive average people quote, beside the average the unit decides on
        quoted = (float(np.mean([base.metrics(d)[metric] for d in unit.datasets])),
                  float(np.mean([cand.metrics(d)[metric] for d in unit.datasets])))
    return UnitComparison(unit, metric, b_score, c_score, b_score - c_score, rel, rule, note, paired, quoted,
                          not_judgeable=unjudged)


def compare_runs(baseline: Path, candidate: Path, margins: Margins, allow_mismatch: bool = False,
                 resamples: int = DEFAULT_RESAMPLES, seed: int = 0, units: str | None = None,
                 noise_floor: Path | None = None, tau: float = NEAR_TIE_NATS) -> Comparison:
    base, cand = load_run(baseline), load_run(candidate)
    common = [d for d in base.manifest.datasets if d in cand.manifest.datasets]
    if not common:
        raise UserError(f"the two runs have no dataset in common ({', '.join(base.manifest.datasets)} vs {', '.join(cand.manifest.datasets)}); evaluate the same eval_datasets on both devices")
    floor = load_noise_floor(noise_floor, base, common) if noise_floor is not None else None
    sign_off_units = resolve_units(run_groups(base.manifest), common, units)
    unused = margins.unused(settable_names(sign_off_units, {d: base.manifest.datasets[d].config for d in common}))
    mismatches = input_differences(base, cand, common)
    if mismatches and not allow_mismatch:
        raise UserError(
            f"the runs are not comparable: {len(mismatches)} input difference(s), listed below; fix the runs or pass --allow-mismatch to report anyway",
            exit_code=EXIT_NOT_COMPARABLE, details="\n".join(f"  - {m}" for m in mismatches),
        )
    metrics = [
        _compare_metric(base, cand, ds, metric, margins, resamples, seed, tau)
        for ds in common for metric in base.metrics(ds) if metric in cand.metrics(ds)
    ]
    rows = [m for m in metrics if m.diff_p is not None]
    if rows:
        for m, p in zip(rows, holm([m.diff_p for m in rows if m.diff_p is not None])):
            m.holm_p = float(p)
    compared = [_compare_unit(u, metric, base, cand, margins, resamples, seed)
                for u in sign_off_units for metric in _unit_metrics(u, base, cand)]
    suite = decide(compared, judge_all=units is not None)  # named units are judged whatever the model scores
    if floor is not None:
        check_noise_floor(compared, base, floor, cand, paired_scores)
    only = sorted(set(base.manifest.datasets) ^ set(cand.manifest.datasets))
    paired = {d: paired_keys(base, cand, d) for d in common}
    divergence = [s for d in common if (s := summarise(d, [(base.samples[k], cand.samples[k]) for k in paired[d]], tau))]
    health = compare_health(base, cand, [k for d in common for k in paired[d]])
    if health is not None and health.flags:  # said with the verdict's reasons; they never change the verdict
        suite.flags = health.flags
        suite.reason += " Flagged: " + "; ".join(health.flags) + "."
    comparison = Comparison(base, cand, compared, suite, metrics, mismatches, is_noise_floor(base, cand),
                            environment_table(base, cand), only, floor, unused, tau, divergence, health,
                            unchecked_inputs(base, cand), numerics_changes(base, cand))
    comparison.next_steps = next_steps(comparison, margins)
    return comparison
