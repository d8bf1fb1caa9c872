"""What would decide each unit a comparison left INCONCLUSIVE, in numbers and one command.

The numbers are the planner's (planner.plan_unit), fed with what the comparison measured: the
unit's paired sample sizes and the share of samples whose score differs between the two runs
(the observed discordance; for continuous scores, the spread of the per-sample differences).
So `benchmark-eval plan-signoff ... --discordance D --score S` with the printed inputs gives the
same figures. For each unit:
- the margin these samples resolve, beside the one asked;
- the samples the asked margin needs, and whether the benchmark's full size (the split's records,
  kept in run.json) would give it; "no realistic size" when it needs more than ten times that
  (or a million samples where the full size is unknown);
- whether a noise-floor run (the baseline twice) is still to make.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..numbers import fixed, plus_minus
from .margins import Margins
from .planner import UnitNoise, UnitPlan, measured_noise, plan_unit
from .suite import UnitComparison
from .units import margin_names

if TYPE_CHECKING:
    from .signoff import Comparison

#: Sizes beyond this many times the full benchmark (or beyond UNKNOWN_LIMIT) are not realistic.
REALISTIC_FACTOR, UNKNOWN_LIMIT = 10, 1_000_000


@dataclass(frozen=True)
class NextStep:
    unit: str
    metric: str
    what_to_do: str  # a person's reading: the numbers and the choices
    n: int  # paired samples now
    margin: float  # asked, points
    resolvable_margin: float | None  # what these samples resolve, points
    n_needed: int | None  # for the asked margin (None: already resolvable, or unknown)
    full_size: int | None  # the benchmark's full size (the splits' records), when known
    full_resolvable_margin: float | None
    realistic: bool | None  # whether n_needed is a size anyone can run
    discordance: float | None  # observed, binary units
    command: str | None  # plan-signoff with these inputs


def _command(comparison: Comparison, u: UnitComparison, noise: UnitNoise, margins: Margins) -> str | None:
    base = comparison.baseline.manifest
    if noise.discordance is None or not 0 < noise.discordance < 1:
        return None  # plan-signoff takes a discordance (continuous spreads come from --noise-floor runs)
    configs = sorted({base.datasets[d].config for d in u.unit.datasets})
    subjects = sorted({str(base.datasets[d].subject) for d in u.unit.datasets if base.datasets[d].subject})
    words = ["benchmark-eval", "plan-signoff", "--datasets", " ".join(configs)]
    if subjects:
        words += ["--subjects", ",".join(subjects)]
    if base.slice is not None and base.slice.limit:
        words += ["--limit", str(base.slice.limit)]
    # 12 figures: the planner, given these, computes the very numbers compare printed.
    words += ["--data-root", base.data_root or ".", "--units", u.unit.name, "--discordance", f"{noise.discordance:.12g}",
              "--score", f"{u.baseline:.12g}"]
    words += ["--margins-file", str(margins.source)] if margins.source is not None else ["--margin", f"{margins.relative:g}"]
    return shlex.join(words)


def _step(comparison: Comparison, u: UnitComparison, margins: Margins) -> NextStep:
    from .signoff import paired_scores

    base, cand = comparison.baseline, comparison.candidate
    configs = {d: base.manifest.datasets[d].config for d in u.unit.datasets}
    margin, _ = margins.points(margin_names(u.unit, configs), u.baseline)
    if u.not_judgeable:
        return NextStep(u.unit.name, u.metric, f"no sample size helps: {u.not_judgeable}; sign off on the units this "
                        "model answers, or with a model that answers this one", 0, margin, None, None, None, None, None,
                        None, None)
    strata = [paired_scores(base, cand, d, u.metric) for d in u.unit.datasets]
    if u.paired is None or any(s is None for s in strata):
        return NextStep(u.unit.name, u.metric, "the runs kept no per-sample scores: run both sides with benchmark-eval",
                        0, margin, None, None, None, None, None, None, None)
    sizes = [len(s[0]) for s in strata if s is not None]
    diffs = np.concatenate([s[2] - s[1] for s in strata if s is not None])
    noise = measured_noise(diffs, u.paired.flips is not None)
    units = len(comparison.units)
    plan: UnitPlan = plan_unit(u.unit, sizes, u.baseline, margins, noise, units, configs)
    full = [base.manifest.datasets[d].records for d in u.unit.datasets]
    full_sizes = [int(r) for r in full if r is not None] if all(r is not None for r in full) else None
    full_plan = plan_unit(u.unit, full_sizes, u.baseline, margins, noise, units, configs) if full_sizes else None
    n, full_n = sum(sizes), sum(full_sizes) if full_sizes else None
    needed = plan.n_needed
    realistic = None if needed is None else needed <= (REALISTIC_FACTOR * full_n if full_n else UNKNOWN_LIMIT)
    spread = (f"at the observed discordance ({100 * noise.discordance:.2g}% of samples differ)" if noise.discordance is not None
              else "at the observed spread of per-sample differences")
    if plan.resolvable_margin is None:
        words = "the spread of the per-sample differences is unknown: measure a noise floor (the baseline twice, --noise-floor)"
    elif plan.resolvable:
        words = (f"{n} samples resolve {plus_minus(plan.resolvable_margin)} points {spread}, within the asked {plus_minus(margin)}: "
                 f"the difference seen ({fixed(u.abs_diff, signed=True)}) is what kept it open; more samples or a re-run decide it")
    else:
        words = f"{n} samples resolve {plus_minus(plan.resolvable_margin)} points {spread}; the asked {plus_minus(margin)} "
        if realistic:
            words += f"needs about {needed} samples"
        else:
            words += "needs more samples than any run of this benchmark has (no realistic size)"
        if full_plan is not None and full_plan.resolvable_margin is not None and full_n != n:
            enough = "enough" if full_plan.resolvable else "not enough"
            words += f"; the full benchmark ({full_n} samples) resolves {plus_minus(full_plan.resolvable_margin)}: {enough}"
        if not realistic or (full_plan is not None and not full_plan.resolvable):
            reach = full_plan.resolvable_margin if full_plan is not None and full_plan.resolvable_margin else plan.resolvable_margin
            words += f"; agree a margin of at least {plus_minus(reach)} points in advance (--margins-file) to sign off on it"
    if comparison.floor_run is None:
        words += "; a noise-floor run (the baseline twice, compare --noise-floor RUN) shows whether these flips are the baseline's own"
    return NextStep(u.unit.name, u.metric, words, n, margin, plan.resolvable_margin, needed if not plan.resolvable else None,
                    full_n, full_plan.resolvable_margin if full_plan else None, realistic, noise.discordance,
                    _command(comparison, u, noise, margins))


def next_steps(comparison: Comparison, margins: Margins) -> list[NextStep]:
    """One step per unit the comparison left INCONCLUSIVE."""
    return [_step(comparison, u, margins) for u in comparison.units if u.verdict == "INCONCLUSIVE"]
