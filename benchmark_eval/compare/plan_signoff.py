"""`benchmark-eval plan-signoff`: the planner, before any device time and without a server.

It takes the datasets, slice, margins and units a `run` and a `compare` would take, reads the
data to know each subset's size, and says per unit what the sign-off can resolve.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..plan import groups_for, plan_datasets
from ..plan.datasets import PlannedDataset, type_name
from .comparability import input_differences
from .margins import Margins
from .planner import UnitNoise, UnitPlan, measured_noise, plan_unit
from .runs import LoadedRun, load_run
from .statistics import is_binary
from .units import Unit, resolve_units, settable_names

#: Evaluators whose per-sample scores are continuous (everything else scores 0/1 per sample).
_CONTINUOUS = ("Rouge", "Bleu", "BERTScore")
DEFAULT_DISCORDANCE = 0.03
DEFAULT_SCORE = 50.0


@dataclass(frozen=True)
class SignoffPlan:
    units: list[UnitPlan]
    discordance: float
    score_source: str  # where the scores for relative margins came from
    noise_source: str


def _continuous(item: PlannedDataset) -> bool:
    evaluator = (item.cfg.get("eval_cfg") or {}).get("evaluator") or {}
    return any(word in type_name(evaluator.get("type")) for word in _CONTINUOUS)


def _measured(unit: Unit, a: LoadedRun, b: LoadedRun) -> tuple[UnitNoise, float]:
    """The floor's discordance (or SD) on the unit, and run A's unit score."""
    from .signoff import paired_scores

    diffs, weights, scores, binary = [], np.array(unit.weights) / float(np.sum(unit.weights)), [], True
    for dataset in unit.datasets:
        metric = unit.metric or next(iter(a.metrics(dataset)), "")
        scored = paired_scores(a, b, dataset, metric)
        if scored is None:
            raise UserError(f"--noise-floor runs keep no per-sample scores for {dataset}; give two complete runs of benchmark-eval")
        diffs.append(scored[2] - scored[1])
        binary = binary and is_binary(scored[1]) and is_binary(scored[2])
        scores.append(a.metrics(dataset).get(metric, float(np.mean(scored[1]))))
    pooled = np.concatenate(diffs)
    return measured_noise(pooled, binary), float(weights @ np.array(scores))


def plan_signoff(datasets: tuple[str, ...], subjects: tuple[str, ...] | None, limit: int | None, data_root: Path,
                 margins: Margins, units_spec: str | None = None, discordance: float = DEFAULT_DISCORDANCE,
                 score: float | None = None, noise_floor: tuple[Path, Path] | None = None) -> SignoffPlan:
    from ..data.preflight import check_data

    if not 0 < discordance < 1:
        raise UserError(f"--discordance must be a share between 0 and 1 (e.g. 0.03 for 3%), not {discordance}")
    planned = plan_datasets(datasets, subjects, limit)
    rows = {abbr: info.rows for abbr, info in check_data(planned, data_root.resolve()).items()}
    by_abbr = {p.abbr: p for p in planned}
    configs = {p.abbr: p.config_name for p in planned}
    units = resolve_units(groups_for(configs, limit), list(by_abbr), units_spec)
    margins.unused(settable_names(units, configs))
    runs = None
    if noise_floor is not None:
        runs = load_run(noise_floor[0]), load_run(noise_floor[1])
        differences = input_differences(runs[0], runs[1], [d for d in by_abbr if d in runs[0].manifest.datasets])
        missing = [d for d in by_abbr if d not in runs[0].manifest.datasets or d not in runs[1].manifest.datasets]
        if differences or missing:
            why = differences[0] if differences else f"they lack {', '.join(missing[:3])}"
            raise UserError(f"--noise-floor runs are not two runs of the planned configuration ({why}); "
                            "run the planned datasets twice on the baseline's device")
    plans = []
    for unit in units:
        sizes = [rows[d] for d in unit.datasets]
        if runs is not None:
            noise, measured_score = _measured(unit, *runs)
            unit_score = score if score is not None else measured_score
            if noise.discordance == 0:  # a deterministic floor says nothing about a port: plan with the assumed rate
                noise = UnitNoise(discordance)
        elif any(_continuous(by_abbr[d]) for d in unit.datasets):
            noise, unit_score = UnitNoise(None), score if score is not None else DEFAULT_SCORE
        else:
            noise, unit_score = UnitNoise(discordance), score if score is not None else DEFAULT_SCORE
        plans.append(plan_unit(unit, sizes, unit_score, margins, noise, len(units), configs))
    score_source = (f"{score:g} points (--score)" if score is not None else
                    "the first --noise-floor run's scores" if runs else f"{DEFAULT_SCORE:g} points (assumed; set --score)")
    noise_source = "measured from the --noise-floor runs" if runs else f"{100 * discordance:g}% discordance (assumed; set --discordance or --noise-floor)"
    return SignoffPlan(plans, discordance, score_source, noise_source)
