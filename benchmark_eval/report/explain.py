"""The report's view of why the runs differ: flip causes per unit, the worst examples of each
cause, token divergence per dataset, request health and speed side by side."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..compare.signoff import Comparison, FlippedSample
from ..compare.triage import CAUSES, reading

EXAMPLES_PER_CAUSE = 5


@dataclass(frozen=True)
class CauseRow:
    unit: str
    metric: str
    flips: int
    counts: dict[str, int]
    reading: str
    # the unit's generative pairs with token traces on both sides, and where they part
    pairs: int = 0
    diverging: int = 0
    near_tie: int = 0
    confident: int = 0


@dataclass(frozen=True)
class Example:
    dataset: str
    flip: FlippedSample


def cause_rows(comparison: Comparison) -> list[CauseRow]:
    rows = []
    for u in comparison.units:
        counts = comparison.causes(u.unit.datasets, u.metric)
        parts = [d for d in comparison.divergence if d.dataset in u.unit.datasets]
        rows.append(CauseRow(u.unit.label, u.metric, sum(counts.values()), {c: counts[c] for c in CAUSES},
                             reading(counts, comparison.tau), sum(d.pairs for d in parts), sum(d.diverging for d in parts),
                             sum(d.near_tie for d in parts), sum(d.confident for d in parts)))
    return rows


def _severity(example: Example) -> tuple[float, float]:
    """Worst first: for divergences the most confident baseline (largest margin), then the largest score change."""
    triage = example.flip.triage
    margin = triage.divergence.margin if triage and triage.divergence and triage.divergence.margin is not None else 0.0
    return -margin, -abs(example.flip.candidate_score - example.flip.baseline_score)


def worst_examples(comparison: Comparison) -> dict[str, list[Example]]:
    """Per cause (in CAUSES order, causes with flips only): its worst examples, on the metric
    each unit decides on (XSum's rouge1, not its four ROUGE variants of one sample)."""
    decided = {(d, u.metric) for u in comparison.units for d in u.unit.datasets}
    by_cause: dict[str, list[Example]] = {}
    for m in comparison.metrics:
        if (m.dataset, m.metric) in decided:
            for f in m.flipped:
                if f.triage is not None:
                    by_cause.setdefault(f.triage.cause, []).append(Example(m.dataset, f))
    return {c: sorted(by_cause[c], key=_severity)[:EXAMPLES_PER_CAUSE] for c in CAUSES if c in by_cause}


def overall_reading(rows: list[CauseRow], tau: float) -> str:
    """Over the units' flips (`cause_rows`), on the metric each unit decides on."""
    total: Counter[str] = Counter()
    for row in rows:
        total.update(row.counts)
    return reading(total, tau)


def speed_rows(comparison: Comparison) -> list[tuple[str, Any, Any]]:
    """(what, baseline, candidate) of the runs' request figures; empty when neither has any."""
    b, c = comparison.baseline.manifest.requests, comparison.candidate.manifest.requests
    if b is None and c is None:
        return []
    fields = [("requests sent", "sent", "{:d}"), ("answered from the request cache", "from_cache", "{:d}"),
              ("requests/s", "requests_per_s", "{:.2f}"), ("output tokens/s", "output_tokens_per_s", "{:.1f}"),
              ("latency p50 (s)", "latency_p50_s", "{:.3f}"), ("latency p99 (s)", "latency_p99_s", "{:.3f}"),
              ("request phase (s)", "request_phase_s", "{:.1f}"), ("retried requests", "retried", "{:d}"),
              ("failed, then answered on resume", "failed_then_resumed", "{:d}"),
              # the server's own histograms (vLLM /metrics): requests do not stream
              ("time to first token p50 / p99 (s), server", "server.ttft_p50_s server.ttft_p99_s", "{:.3f}"),
              ("queued p50 / p99 (s), server", "server.queue_p50_s server.queue_p99_s", "{:.3f}"),
              ("requests the server's figures cover", "server.requests", "{:d}")]

    def show(stats: Any, names: str, fmt: str) -> str:
        values = []
        for name in names.split():
            value = stats
            for part in name.split("."):
                value = getattr(value, part, None)
            values.append("-" if value is None else fmt.format(value))
        return " / ".join(values) if any(v != "-" for v in values) else "-"

    return [(label, show(b, name, fmt), show(c, name, fmt)) for label, name, fmt in fields]


def speed_line(comparison: Comparison) -> str | None:
    """Both devices' speed in one line, for beside the verdict."""
    def one(stats: Any) -> str:
        if stats is None or stats.requests_per_s is None:
            return "not measured"
        tokens = f", {stats.output_tokens_per_s:.1f} output tokens/s" if stats.output_tokens_per_s is not None else ""
        ttft = f", time to first token p50 {stats.server.ttft_p50_s:.3f} s" if stats.server and stats.server.ttft_p50_s is not None else ""
        return f"{stats.requests_per_s:.2f} requests/s{tokens}, latency p50 {stats.latency_p50_s:.2f} s{ttft}"
    b, c = comparison.baseline.manifest.requests, comparison.candidate.manifest.requests
    if b is None and c is None:
        return None
    return f"baseline {one(b)}; candidate {one(c)}"


def explanation_data(comparison: Comparison) -> dict[str, Any]:
    """verdict.json's part: causes per unit, divergence per dataset, health and speed."""
    health = comparison.health
    rows = cause_rows(comparison)
    return {
        "near_tie_nats": comparison.tau,
        "flip_causes": [{"unit": r.unit, "metric": r.metric, "flips": r.flips, "causes": r.counts, "reading": r.reading,
                         "divergence": {"pairs": r.pairs, "diverging": r.diverging, "near_tie": r.near_tie,
                                        "confident": r.confident}}
                        for r in rows],
        "reading": overall_reading(rows, comparison.tau),
        "speed": {"baseline": _stats(comparison.baseline.manifest.requests),
                  "candidate": _stats(comparison.candidate.manifest.requests)},
        "divergence": [d.to_dict() for d in comparison.divergence],
        "health": None if health is None else {
            "baseline": _health(health.baseline), "candidate": _health(health.candidate),
            "tests": [vars(t) for t in health.tests]},
    }


def _stats(stats: Any) -> dict[str, Any] | None:
    return None if stats is None else dict(stats.model_dump())


def _health(h: Any) -> dict[str, Any]:
    return {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in vars(h).items()}
