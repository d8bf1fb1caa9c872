"""The report's plots, as base64 PNGs so the HTML stays one self-contained file."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..compare.signoff import Comparison  # noqa: E402
from ..compare.statistics import PairedResult  # noqa: E402

_COLOURS = {"PASS": "#2e7d32", "FAIL": "#c62828", "INCONCLUSIVE": "#ef6c00"}


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _interval_plot(rows: list[tuple[str, PairedResult, str]]) -> str:
    """Each row's paired difference with its 95% bootstrap CI against its margin band."""
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    for y, (_, p, verdict) in enumerate(rows):
        ax.plot([-p.margin, p.margin], [y, y], color="#90caf9", linewidth=9, solid_capstyle="butt", zorder=1)
        low, high = p.bootstrap_ci95
        ax.plot([low, high], [y, y], color="black", linewidth=1.5, zorder=2)
        ax.plot(p.diff, y, "o", color=_COLOURS[verdict], zorder=3)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows], fontsize=8)
    ax.set_xlabel("candidate - baseline (points); blue band: margin; bar: 95% bootstrap CI")
    ax.invert_yaxis()
    return _png(fig)


def unit_plot(comparison: Comparison) -> str:
    """The decision: each unit's difference against its margin."""
    return _interval_plot([(f"{u.unit.label} / {u.metric}", u.paired, u.verdict) for u in comparison.units if u.paired])


def difference_plot(comparison: Comparison) -> str:
    """Diagnostics: each dataset's (subject's) difference; a subject alone cannot resolve a 1% margin."""
    return _interval_plot([(f"{m.dataset} / {m.metric}", m.paired, m.verdict) for m in comparison.metrics if m.paired])


def scatter_plot(comparison: Comparison) -> str:
    """Per dataset (subject) score: baseline against candidate."""
    fig, ax = plt.subplots(figsize=(5, 5))
    xs = [m.baseline for m in comparison.metrics]
    ys = [m.candidate for m in comparison.metrics]
    ax.scatter(xs, ys, c=[_COLOURS[m.verdict] for m in comparison.metrics], s=25)
    top = max(xs + ys + [1.0]) * 1.05
    ax.plot([0, top], [0, top], color="grey", linewidth=0.8)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(f"baseline ({comparison.baseline.label})")
    ax.set_ylabel(f"candidate ({comparison.candidate.label})")
    return _png(fig)


def flips_plot(comparison: Comparison) -> str:
    rows = [m for m in comparison.metrics if m.paired is not None and m.paired.flips is not None]
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(len(rows), 1) + 1.2))
    labels = [m.dataset for m in rows]
    tables = [m.paired.flips for m in rows if m.paired is not None and m.paired.flips is not None]
    worse = [t["right_to_wrong"] for t in tables]
    better = [t["wrong_to_right"] for t in tables]
    ax.barh(labels, [-w for w in worse], color=_COLOURS["FAIL"], label="right -> wrong")
    ax.barh(labels, better, color=_COLOURS["PASS"], label="wrong -> right")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("flipped samples")
    ax.legend(loc="lower right", fontsize=8)
    ax.invert_yaxis()
    return _png(fig)


def divergence_position_plot(comparison: Comparison) -> str | None:
    """Where generations first part, by the baseline's margin there (near-tie or confident)."""
    rows = comparison.divergence
    if not any(d.positions for d in rows):
        return None
    tau = comparison.tau
    points = [point for d in rows for point in d.points]
    near = [p for p, m in points if m is not None and m < tau]
    sure = [p for p, m in points if m is not None and m >= tau]
    unknown = [p for p, m in points if m is None]
    fig, ax = plt.subplots(figsize=(7, 3))
    top = max(p for d in rows for p in d.positions)
    bins = range(0, top + 2, max(1, (top + 2) // 40))
    ax.hist([near, sure, unknown], bins=bins, stacked=True, label=[f"near-tie (< {tau:g} nats)", "confident", "margin unknown"],
            color=["#90caf9", _COLOURS["FAIL"], "#bdbdbd"])
    ax.set_xlabel("first differing generated token")
    ax.set_ylabel("samples")
    ax.legend(fontsize=8)
    return _png(fig)


def divergence_margin_plot(comparison: Comparison) -> str | None:
    """The baseline's top-1 minus top-2 log-prob where the generations part, with the near-tie line."""
    margins = [m for d in comparison.divergence for m in d.margins]
    if not margins:
        return None
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(margins, bins=40, color="#607d8b")
    ax.axvline(comparison.tau, color=_COLOURS["FAIL"], linestyle="--", label=f"τ = {comparison.tau:g} nats")
    ax.set_xlabel("baseline's margin at the divergence (nats)")
    ax.set_ylabel("samples")
    ax.legend(fontsize=8)
    return _png(fig)
