"""Write report.md, report.html and verdict.json for a comparison."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ..compare.reference import ReferenceComparison
from ..compare.signoff import Comparison
from ..compare.suite import UnitComparison
from ..fileio import atomic_write_text
from ..numbers import fixed, plus_minus
from . import explain, legend, plots


def _unit_data(u: UnitComparison) -> dict[str, Any]:
    return {
        "unit": u.unit.name, "label": u.unit.label, "metric": u.metric, "datasets": list(u.unit.datasets),
        "estimator": u.unit.estimator, "group": u.unit.group.name if u.unit.group else None,
        "baseline": u.baseline, "candidate": u.candidate, "abs_diff": u.abs_diff, "rel_diff_pct": u.rel_diff_pct,
        "rule_1pct": u.rule_1pct, "margin_note": u.margin_note,
        "quoted": {"group": u.unit.quoted.name, "baseline": u.quoted[0], "candidate": u.quoted[1]}
        if u.quoted is not None and u.unit.quoted is not None else None,
        "paired": u.paired.to_dict() if u.paired else None, "worse_p_holm": u.worse_p_holm,
        "verdict": u.verdict, "reason": u.reason, "noise_floor": asdict(u.floor) if u.floor else None,
        "not_judgeable": u.not_judgeable,
    }


def verdict_data(comparison: Comparison) -> dict[str, Any]:
    return {
        "verdict": comparison.verdict,
        "exit_code": comparison.exit_code,
        "decided_by": comparison.suite.decided_by,
        "reason": comparison.suite.reason,
        "units": [_unit_data(u) for u in comparison.units],
        "noise_floor": comparison.noise_floor,
        "noise_floor_run": str(comparison.floor_run.path) if comparison.floor_run else None,
        "mismatches": comparison.mismatches,
        "unchecked": comparison.unchecked,
        "numerics_changes": comparison.numerics,
        "baseline": {"path": str(comparison.baseline.path), "label": comparison.baseline.label},
        "candidate": {"path": str(comparison.candidate.path), "label": comparison.candidate.label},
        "only_in_one_run": comparison.only_in_one,
        "unused_margins": comparison.unused_margins,
        # per dataset (subject): diagnostics, never the verdict
        "metrics": [
            {k: asdict(v) if is_dataclass(v) and not isinstance(v, type) else v for k, v in vars(m).items() if k != "flipped"}
            | {"flipped": len(m.flipped)}
            | {"flip_causes": dict(comparison.causes([m.dataset], m.metric))}
            for m in comparison.metrics
        ],
        "environment": [{"what": w, "baseline": b, "candidate": c} for w, b, c in comparison.environment],
        "flags": comparison.suite.flags,
        "next_steps": [asdict(step) for step in comparison.next_steps],
        **explain.explanation_data(comparison),
    }


def _templates() -> Environment:
    env = Environment(loader=PackageLoader("benchmark_eval.report", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["fixed"] = fixed  # points: never "-0.00" for a value that is not zero
    env.filters["plus_minus"] = plus_minus
    return env


def write_reference_report(comparison: ReferenceComparison, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"md": out_dir / "report.md", "json": out_dir / "verdict.json"}
    atomic_write_text(paths["md"], _templates().get_template("reference.md.j2").render(r=comparison))
    atomic_write_text(paths["json"], json.dumps(comparison.to_dict(), indent=2, default=str) + "\n")
    return paths


def write_report(comparison: Comparison, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _templates()
    verdict = verdict_data(comparison)
    context = {"c": comparison, "v": verdict, "causes": explain.cause_rows(comparison),
               "method": legend.METHOD, "legend": legend.LEGEND, "cause_meanings": legend.CAUSE_MEANINGS,
               "rule_note": legend.rule_note,
               "examples": explain.worst_examples(comparison), "reading": verdict["reading"],
               "speed": explain.speed_rows(comparison), "speed_line": explain.speed_line(comparison)}
    paths = {"md": out_dir / "report.md", "html": out_dir / "report.html", "json": out_dir / "verdict.json"}
    atomic_write_text(paths["md"], env.get_template("report.md.j2").render(**context))
    images = {"units": plots.unit_plot(comparison), "difference": plots.difference_plot(comparison),
              "scatter": plots.scatter_plot(comparison), "flips": plots.flips_plot(comparison),
              "positions": plots.divergence_position_plot(comparison), "margins": plots.divergence_margin_plot(comparison)}
    atomic_write_text(paths["html"], env.get_template("report.html.j2").render(images=images, **context))
    atomic_write_text(paths["json"], json.dumps(context["v"], indent=2, default=str) + "\n")
    return paths
