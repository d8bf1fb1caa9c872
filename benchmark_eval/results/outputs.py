"""Read what OpenCompass wrote into a run folder: summary, predictions, per-sample details."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .records import BenchmarkGroup
from .run_dir import RunDir


@dataclass
class DatasetOutcome:
    abbr: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    log: str | None = None  # the log to read when it failed

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.metrics)


def _load_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def latest_summary_csv(run_dir: RunDir) -> Path | None:
    files = sorted(run_dir.summary.glob("summary_*.csv"))
    return files[-1] if files else None


def read_summary(run_dir: RunDir, model_abbr: str) -> dict[str, dict[str, str]]:
    """dataset abbr -> metric -> value as written ('-' when OpenCompass had no score)."""
    path = latest_summary_csv(run_dir)
    table: dict[str, dict[str, str]] = {}
    if path is None:
        return table
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            table.setdefault(row["dataset"], {})[row["metric"]] = row.get(model_abbr, "-")
    return table


def numeric_metrics(result: Any) -> dict[str, float]:
    """The scores of a results file (OpenCompass's and AISBench's): its top-level numbers."""
    if not isinstance(result, dict):
        return {}
    return {k: float(v) for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def read_outcomes(run_dir: RunDir, model_abbr: str, abbrs: list[str]) -> list[DatasetOutcome]:
    """One outcome per dataset; a dataset without a numeric score is a failure."""
    summary = read_summary(run_dir, model_abbr)
    outcomes = []
    for abbr in abbrs:
        outcome = DatasetOutcome(abbr)
        prediction = run_dir.predictions(model_abbr, abbr)
        result = run_dir.results(model_abbr, abbr)
        if not prediction.exists():
            outcome.error = "no predictions (inference failed or was not finished)"
            outcome.log = str(run_dir.infer_logs(model_abbr))
        elif not result.exists():
            outcome.error = "no results (evaluation failed)"
            outcome.log = str(run_dir.eval_log(model_abbr, abbr))
        else:
            try:
                data = _load_json(result)
            except ValueError:  # cut off: OpenCompass writes it in place, and a stop can land mid-write
                data = {"error": "its results file is not valid JSON (the run stopped while writing it?)"}
            if not isinstance(data, dict):
                data = {"error": "its results file holds no scores"}
            if "error" in data:
                outcome.error = f"evaluator error: {data['error']}"
                outcome.log = str(run_dir.eval_log(model_abbr, abbr))
            else:
                values = summary.get(abbr, {})
                outcome.metrics.update(numeric_metrics(data))
                missing = [m for m, v in values.items() if v.strip() in ("", "-")]
                if missing or not values:
                    outcome.error = f"no score in the summary for {', '.join(missing) or 'any metric'}"
                    outcome.log = str(run_dir.eval_log(model_abbr, abbr))
        if outcome.log and not Path(outcome.log).exists():
            outcome.log = str(run_dir.opencompass_log)  # the task ran inside OpenCompass's process
        outcomes.append(outcome)
    return outcomes


def read_predictions(run_dir: RunDir, model_abbr: str, abbr: str) -> dict[str, Any]:
    predictions: dict[str, Any] = _load_json(run_dir.predictions(model_abbr, abbr))
    return predictions


def read_details(run_dir: RunDir, model_abbr: str, abbr: str) -> list[dict[str, Any]]:
    details = _load_json(run_dir.results(model_abbr, abbr)).get("details") or []
    return list(details.values()) if isinstance(details, dict) else list(details)


def record_group_scores(run_dir: RunDir, model_abbr: str, groups: list[BenchmarkGroup]) -> None:
    """OpenCompass's own group rows from its summary (naive_average or weighted_average, and the
    subsets' common metrics); a group it could not average keeps no score."""
    summary = read_summary(run_dir, model_abbr)
    for group in groups:
        group.scores = {}
        for metric, value in summary.get(group.label, {}).items():
            try:
                group.scores[metric] = float(value)
            except ValueError:  # "-": a subset without a score
                continue
