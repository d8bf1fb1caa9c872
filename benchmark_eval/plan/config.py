"""Build the OpenCompass config for a run and dump it as a plain config file.

The config holds only literal values and dotted type names (what OpenCompass itself
dumps), so OpenCompass's task subprocesses can reload it and import our classes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..settings import RunSettings
from .datasets import PlannedDataset

# Stock evaluators replaced by ours (same aggregate metric, plus per-sample results).
_EVALUATOR_SWAPS = {
    "AccEvaluator": "benchmark_eval.evaluators.AccuracyEvaluator",
    "RougeEvaluator": "benchmark_eval.evaluators.RougeEvaluator",
    "HumanEvalEvaluator": "benchmark_eval.evaluators.HumanEvalEvaluator",
}

# Chat-style API: OpenCompass's HUMAN/BOT rounds map onto user/assistant messages.
API_META_TEMPLATE = {
    "round": [
        {"role": "HUMAN", "api_role": "HUMAN"},
        {"role": "BOT", "api_role": "BOT", "generate": True},
    ]
}


def _type_name(value: Any) -> str:
    if isinstance(value, str):
        return value.rsplit(".", 1)[-1]
    return getattr(value, "__name__", str(value))


def prepare_dataset(planned: PlannedDataset, settings: RunSettings) -> dict[str, Any]:
    """The dataset config as it will run: our evaluators, the run's max_out_len."""
    cfg = copy.deepcopy(planned.cfg)
    evaluator = cfg.get("eval_cfg", {}).get("evaluator")
    if evaluator is not None and _type_name(evaluator.get("type")) in _EVALUATOR_SWAPS:
        evaluator["type"] = _EVALUATOR_SWAPS[_type_name(evaluator["type"])]
    inferencer = cfg.get("infer_cfg", {}).get("inferencer") or {}
    if "max_out_len" in inferencer or _type_name(inferencer.get("type")) == "GenInferencer":
        # The user's max_out_len wins over a config's own, so two devices' runs match.
        inferencer["max_out_len"] = settings.max_out_len
    return cfg


def api_model(settings: RunSettings, tokenizer_path: Path) -> dict[str, Any]:
    return {
        "type": "benchmark_eval.models.vllm_chat.VLLMChat",
        "abbr": settings.model_abbr,
        "path": settings.model_name,
        "key": settings.api_key,
        "openai_api_base": f"{settings.base_url}/v1",
        "tokenizer_path": str(tokenizer_path),
        "temperature": settings.temperature,
        "max_out_len": settings.max_out_len,
        "max_seq_len": settings.max_seq_len,
        "batch_size": settings.batch_size,
        "max_workers": settings.batch_size,
        # Concurrency is bounded by batch_size; the stock 1 query/s throttle would dominate.
        "query_per_second": 1000,
        "retry": 3,
        "timeout": settings.request_timeout,
        "meta_template": API_META_TEMPLATE,
    }


def build_config(datasets: list[dict[str, Any]], model: dict[str, Any]) -> dict[str, Any]:
    return {
        "datasets": datasets,
        "models": [model],
        "infer": {
            # One inference task for all datasets: one process start instead of one per subject.
            "partitioner": {"type": "opencompass.partitioners.NumWorkerPartitioner", "num_worker": 1},
            "runner": {
                "type": "opencompass.runners.LocalRunner",
                "max_num_workers": 1,
                "task": {"type": "opencompass.tasks.OpenICLInferTask"},
            },
        },
        "eval": {
            "partitioner": {"type": "opencompass.partitioners.NaivePartitioner"},
            "runner": {
                "type": "opencompass.runners.LocalRunner",
                "max_num_workers": 2,
                "task": {"type": "opencompass.tasks.OpenICLEvalTask", "dump_details": True},
            },
        },
    }


def write_config(config: dict[str, Any], path: Path) -> Path:
    from mmengine.config import Config

    path.parent.mkdir(parents=True, exist_ok=True)
    # Config.dump() needs a config that came from a file; pretty_text is what it would write.
    path.write_text(Config(config).pretty_text)
    return path
