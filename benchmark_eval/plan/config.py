"""Build the OpenCompass config for a run and dump it as a plain config file.

The config holds only literal values and dotted type names (what OpenCompass itself
dumps), so OpenCompass's task subprocesses can reload it and import our classes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..settings import RunSettings
from .datasets import PlannedDataset, type_name

# Stock evaluators replaced by ours (same aggregate metric, plus per-sample results).
_EVALUATOR_SWAPS = {
    "AccEvaluator": "benchmark_eval.plugins.evaluators.AccuracyEvaluator",
    "RougeEvaluator": "benchmark_eval.plugins.evaluators.RougeEvaluator",
    "HumanEvalEvaluator": "benchmark_eval.plugins.evaluators.HumanEvalEvaluator",
    "AccwithDetailsEvaluator": "benchmark_eval.plugins.evaluators.AccuracyEvaluator",
}
# PPL tests are scored by continuation log-likelihood, the same rule on every backend.
_INFERENCER_SWAPS = {"PPLInferencer": "benchmark_eval.plugins.inferencers.ChoiceLoglikInferencer"}

def with_our_classes(stock: dict[str, Any], inferencer_too: bool = True) -> dict[str, Any]:
    """A copy of a stock dataset config with our evaluators and log-likelihood inferencer in place
    of OpenCompass's (a run's datasets, and a stock run's datasets when it is imported; an imported
    stock perplexity dataset keeps its inferencer: `inferencer_too=False`)."""
    cfg = copy.deepcopy(stock)
    evaluator = cfg.get("eval_cfg", {}).get("evaluator")
    if evaluator is not None and type_name(evaluator.get("type")) in _EVALUATOR_SWAPS:
        evaluator["type"] = _EVALUATOR_SWAPS[type_name(evaluator["type"])]
    inferencer = cfg.get("infer_cfg", {}).get("inferencer") or {}
    if inferencer_too and type_name(inferencer.get("type")) in _INFERENCER_SWAPS:
        inferencer["type"] = _INFERENCER_SWAPS[type_name(inferencer["type"])]
    return cfg


def prepare_dataset(planned: PlannedDataset, settings: RunSettings) -> dict[str, Any]:
    """The dataset config as it will run: our evaluators, the run's max_out_len."""
    cfg = with_our_classes(planned.cfg)
    inferencer = cfg.get("infer_cfg", {}).get("inferencer") or {}
    if "max_out_len" in inferencer or type_name(inferencer.get("type")) == "GenInferencer":
        # The user's max_out_len wins over a config's own, so two devices' runs match.
        inferencer["max_out_len"] = settings.max_out_len
    return cfg


def is_loglik(cfg: dict[str, Any]) -> bool:
    return type_name(cfg.get("infer_cfg", {}).get("inferencer", {}).get("type")) == "ChoiceLoglikInferencer"


def runs_code(cfg: dict[str, Any]) -> bool:
    """Whether scoring executes model-written programs (in the sandbox)."""
    evaluator = cfg.get("eval_cfg", {}).get("evaluator") or {}
    return type_name(evaluator.get("type")) == "HumanEvalEvaluator"


def expected_requests(cfg: dict[str, Any], rows: int) -> int:
    """Requests the model will answer: one per sample, or one per choice for log-likelihood tests."""
    if not is_loglik(cfg):
        return rows
    infer = cfg["infer_cfg"]
    template = (infer.get("prompt_template") or infer.get("ice_template") or {}).get("template")
    return rows * (len(template) if isinstance(template, dict) else 1)


INFER_TASK = {"type": "opencompass.tasks.OpenICLInferTask"}
# In OpenCompass's own process: datasets in flight together (plugins/tasks/overlapped_infer.py).
OVERLAPPED_INFER_TASK = {"type": "benchmark_eval.plugins.tasks.OverlappedInferTask"}
EVAL_TASK = {"type": "opencompass.tasks.OpenICLEvalTask", "dump_details": True}


def build_config(datasets: list[dict[str, Any]], model: dict[str, Any], infer_runner: dict[str, Any],
                 eval_runner: dict[str, Any], workers: int = 1,
                 summary_groups: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The run's config: datasets split into `workers` inference and evaluation tasks; OpenCompass's
    summarizer averages the benchmark groups (mmlu, ceval, ...) the datasets fill."""
    per_task = max(1, -(-len(datasets) // workers))
    return {
        "summarizer": {"summary_groups": list(summary_groups or [])},
        "datasets": datasets,
        "models": [model],
        "infer": {"partitioner": _infer_partitioner(len(datasets), workers), "runner": infer_runner},
        "eval": {"partitioner": {"type": "opencompass.partitioners.NaivePartitioner", "n": per_task},
                 "runner": eval_runner},
    }


def _infer_partitioner(datasets: int, workers: int) -> dict[str, Any]:
    """One task with every dataset, or `workers` tasks. NumWorkerPartitioner builds every dataset to
    learn its size (3 s for the 57 MMLU subjects) even when it has one worker to fill."""
    if workers <= 1:
        return {"type": "opencompass.partitioners.NaivePartitioner", "n": max(1, datasets)}
    return {"type": "opencompass.partitioners.NumWorkerPartitioner", "num_worker": workers}


def write_config(config: dict[str, Any], path: Path) -> Path:
    from mmengine.config import Config

    path.parent.mkdir(parents=True, exist_ok=True)
    # Config.dump() needs a config that came from a file; pretty_text is what it would write.
    # Unformatted: yapf took 9 s over the 57 MMLU subjects, for layout alone.
    path.write_text(Config(config, format_python_code=False).pretty_text)
    return path
