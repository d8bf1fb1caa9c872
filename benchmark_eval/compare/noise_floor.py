"""The noise floor: a second baseline run (same device, same config) says how much the
baseline disagrees with itself. A candidate that disagrees with the baseline significantly more
often is flagged even when the scores agree: flips that cancel out are still a port bug."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from ..errors import UserError
from .comparability import input_differences
from .runs import LoadedRun, load_run
from .statistics import ALPHA, FloatArray, holm
from .suite import NoiseFloorCheck, UnitComparison

PairedScores = Callable[[LoadedRun, LoadedRun, str, str], "tuple[list[tuple[str, str]], FloatArray, FloatArray] | None"]


def load_noise_floor(path: Path, base: LoadedRun, datasets: list[str]) -> LoadedRun:
    """The second baseline run, refused unless it ran the baseline's configuration."""
    floor = load_run(path)
    missing = [d for d in datasets if d not in floor.manifest.datasets]
    if missing:
        raise UserError(f"--noise-floor {path} lacks dataset(s) {', '.join(missing[:3])} of the comparison; "
                        "give a second run of the baseline's configuration on the baseline's device")
    differences = input_differences(base, floor, datasets)
    if differences:
        raise UserError(f"--noise-floor {path} is not a run of the baseline's configuration ({differences[0]}); "
                        "give a second run of the same config on the baseline's device")
    return floor


def check_noise_floor(units: list[UnitComparison], base: LoadedRun, floor: LoadedRun, cand: LoadedRun,
                      paired_scores: PairedScores) -> None:
    """Set each unit's `floor`: discordance of baseline vs floor and baseline vs candidate on the
    samples all three runs scored, and whether the candidate's is above the floor's (McNemar's
    exact one-sided test on the paired disagreement indicators, Holm-adjusted across units)."""
    checked: list[tuple[UnitComparison, float]] = []
    for unit in units:
        weights = np.array(unit.unit.weights) / float(np.sum(unit.unit.weights))
        cand_only = floor_only = n = floor_disc = cand_disc = 0
        floor_diff = 0.0
        for weight, dataset in zip(weights, unit.unit.datasets):
            with_cand, with_floor = paired_scores(base, cand, dataset, unit.metric), paired_scores(base, floor, dataset, unit.metric)
            if with_cand is None or with_floor is None:
                break
            cand_by_key = dict(zip(with_cand[0], with_cand[2] != with_cand[1]))
            floor_by_key = dict(zip(with_floor[0], with_floor[2] != with_floor[1]))
            keys = [k for k in cand_by_key if k in floor_by_key]
            c = np.array([cand_by_key[k] for k in keys], dtype=bool)
            f = np.array([floor_by_key[k] for k in keys], dtype=bool)
            n += len(keys)
            cand_disc, floor_disc = cand_disc + int(c.sum()), floor_disc + int(f.sum())
            cand_only, floor_only = cand_only + int((c & ~f).sum()), floor_only + int((f & ~c).sum())
            floor_diff += weight * float(np.mean(with_floor[2] - with_floor[1]))
        else:
            p = binomtest(cand_only, cand_only + floor_only, 0.5, alternative="greater").pvalue if cand_only + floor_only else 1.0
            unit.floor = NoiseFloorCheck(n, floor_disc, cand_disc, floor_diff, float(p))
            checked.append((unit, float(p)))
    if checked:
        flags = [p < ALPHA for p in holm([p for _, p in checked])]
        for (unit, _), flagged in zip(checked, flags):
            assert unit.floor is not None
            unit.floor.above = bool(flagged)
