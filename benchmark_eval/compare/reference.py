"""Sign a run off against published reference scores instead of a baseline run.

Without a baseline's per-sample results no paired statistics are possible: each metric is
judged by its point value against the target (the MLPerf rule), and the candidate's own
95% confidence interval says whether the margin is larger than its sampling noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import EXIT_OK, EXIT_VERDICT_FAIL, UserError
from .runs import LoadedRun, load_run
from .statistics import DEFAULT_RESAMPLES, FloatArray, bootstrap_ci


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str
    metric: str
    reference: float
    fraction: float | None = Field(None, gt=0, le=1)  # candidate >= fraction x reference
    margin: float | None = Field(None, ge=0)  # or candidate >= reference - margin (points)

    @model_validator(mode="after")
    def _one_rule(self) -> Target:
        if (self.fraction is None) == (self.margin is None):
            raise ValueError(f"{self.dataset}/{self.metric}: give exactly one of fraction or margin")
        return self

    @property
    def threshold(self) -> float:
        return self.reference * self.fraction if self.fraction is not None else self.reference - (self.margin or 0.0)


class ReferenceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    source: str = ""
    targets: list[Target] = Field(min_length=1)

    @classmethod
    def load(cls, path: Path) -> ReferenceFile:
        if not path.is_file():
            raise UserError(f"reference file {path} does not exist; see configs/references/ for the format")
        try:
            return cls(**(yaml.safe_load(path.read_text(encoding="utf-8")) or {}))
        except yaml.YAMLError as error:
            raise UserError(f"{path} is not valid YAML ({str(error).splitlines()[0]})") from None
        except (ValidationError, TypeError) as error:
            first = error.errors()[0] if isinstance(error, ValidationError) else {"loc": (), "msg": str(error)}
            where = ".".join(str(p) for p in first["loc"])
            raise UserError(f"{path}: {where} {first['msg']}; see configs/references/mlperf-llama2-70b-openorca.yaml") from None


@dataclass
class TargetResult:
    dataset: str
    metric: str
    reference: float
    threshold: float
    rule: str
    value: float | None
    ci: tuple[float, float] | None
    n: int
    verdict: str  # PASS / FAIL / MISSING
    shortfall: float | None  # threshold - value when it missed
    within_noise: bool  # the interval holds the threshold: the margin is within sampling noise


@dataclass
class ReferenceComparison:
    reference: ReferenceFile
    candidate: LoadedRun
    results: list[TargetResult]

    @property
    def verdict(self) -> str:
        return "PASS" if all(r.verdict == "PASS" for r in self.results) else "FAIL"

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.verdict == "PASS" else EXIT_VERDICT_FAIL

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "reference", "verdict": self.verdict, "reference": self.reference.model_dump(),
                "candidate": str(self.candidate.path), "device": self.candidate.label,
                "paired_statistics": False, "targets": [asdict(r) for r in self.results]}


def _per_sample(run: LoadedRun, dataset: str, metric: str) -> tuple[FloatArray, float]:
    """Per-sample values of `metric` and the factor that makes their mean the reported score."""
    samples = [s.scores for (d, _), s in run.samples.items() if d == dataset]
    if samples and metric in samples[0]:
        return np.array([s[metric] for s in samples], dtype=float), 1.0
    if samples and "correct" in samples[0]:  # accuracy, pass@1: 0/1 per sample, reported x100
        return np.array([s["correct"] for s in samples], dtype=float), 100.0
    return np.array([]), 1.0


def compare_to_reference(candidate_dir: Path, reference_path: Path, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> ReferenceComparison:
    reference = ReferenceFile.load(reference_path)
    run = load_run(candidate_dir)
    results = []
    for target in reference.targets:
        rule = f">= {target.fraction} x {target.reference}" if target.fraction is not None else f">= {target.reference} - {target.margin}"
        value = run.metrics(target.dataset).get(target.metric)
        if value is None:
            results.append(TargetResult(target.dataset, target.metric, target.reference, target.threshold, rule,
                                        None, None, 0, "MISSING", None, False))
            continue
        values, scale = _per_sample(run, target.dataset, target.metric)
        ci = None
        if len(values) > 1:
            low, high = bootstrap_ci(values, resamples, seed)
            ci = (low * scale, high * scale)
        passed = value >= target.threshold
        results.append(TargetResult(
            target.dataset, target.metric, target.reference, target.threshold, rule, value, ci, len(values),
            "PASS" if passed else "FAIL", None if passed else target.threshold - value,
            ci is not None and ci[0] <= target.threshold <= ci[1]))
    return ReferenceComparison(reference, run, results)
