"""Run stock OpenCompass itself (its own CLI, its OpenAISDK model class, its own evaluators and
partitioners) against a server: the peer whose output `benchmark-eval import` reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmark_eval.backends.server_api import API_META_TEMPLATE
from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.handoff import STOCK_LAUNCH
from benchmark_eval.paths import demo_model_dir
from benchmark_eval.plan import plan_datasets
from benchmark_eval.plan.datasets import type_name
from benchmark_eval.run.opencompass_runner import opencompass_env

MODEL_ABBR = "stock-openaisdk"


def stock_datasets(names: tuple[str, ...], subjects: tuple[str, ...] | None, limit: int, max_out_len: int) -> list[dict[str, Any]]:
    """The stock dataset configs (OpenCompass's classes and evaluators), sliced as our run slices
    them, with the generation length set in the inferencer as a user of the stock CLI sets it."""
    cfgs = [p.cfg for p in plan_datasets(names, subjects, limit)]
    for cfg in cfgs:
        inferencer = cfg["infer_cfg"]["inferencer"]
        if type_name(inferencer["type"]) == "GenInferencer":
            inferencer["max_out_len"] = max_out_len
    return cfgs


def stock_hf_model(abbr: str, dtype: str) -> dict[str, Any]:
    """OpenCompass's own HF model class on the demo weights, on the CPU: what stock perplexity
    (PPL) tests need, since they score prompts by local weights."""
    return {"type": "opencompass.models.HuggingFaceBaseModel", "abbr": abbr, "path": str(demo_model_dir()),
            "max_seq_len": 2048, "max_out_len": 32, "batch_size": 8, "run_cfg": {"num_gpus": 0},
            "model_kwargs": {"torch_dtype": f"torch.{dtype}", "device_map": "cpu"}}


def run_stock_opencompass(base_url: str | None, datasets: list[dict[str, Any]], work_dir: Path, data_root: Path,
                          batch_size: int = 4, temperature: float | None = 0.0, timeout: float = 900,
                          model: dict[str, Any] | None = None) -> Path:
    """OpenCompass's CLI on a config file of the usual shape (its OpenAISDK client against
    `base_url`, or `model`); returns its timestamped output folder."""
    from mmengine.config import Config

    model = model or {
        "type": "opencompass.models.OpenAISDK", "abbr": MODEL_ABBR, "path": SERVED_NAME, "key": "EMPTY",
        "openai_api_base": f"{base_url}/v1", "tokenizer_path": str(demo_model_dir()), "meta_template": API_META_TEMPLATE,
        "max_out_len": 512, "max_seq_len": 2048, "temperature": temperature, "retry": 2, "batch_size": batch_size,
        "query_per_second": 100,
    }
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / "stock_eval.py"
    config.write_text(Config({"datasets": datasets, "models": [model]}, format_python_code=False).pretty_text)
    done = subprocess.run([sys.executable, "-c", STOCK_LAUNCH, str(config), "-w", str(work_dir / "outputs")],
                          env=opencompass_env(data_root, work_dir / "progress"), cwd=work_dir,
                          capture_output=True, text=True, timeout=timeout)
    stamps = sorted((work_dir / "outputs").glob("2*"))
    assert done.returncode == 0 and stamps, done.stdout[-3000:] + done.stderr[-3000:]
    return stamps[-1]
