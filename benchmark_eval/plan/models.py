"""The OpenCompass model entry for a run: one builder per backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..paths import vllm_python
from ..plugins.compat import WHOLE_DATASET
from ..plugins.models.devices import runner_gpus
from ..results import RunDir
from ..run.server import vllm_device_env
from ..settings import RunSettings

# Chat-style API: OpenCompass's HUMAN/BOT rounds map onto user/assistant messages.
API_META_TEMPLATE = {
    "round": [
        {"role": "HUMAN", "api_role": "HUMAN"},
        {"role": "BOT", "api_role": "BOT", "generate": True},
    ]
}


def api_model(settings: RunSettings, tokenizer_path: Path, run_dir: RunDir, served_name: str) -> dict[str, Any]:
    return {
        "type": "benchmark_eval.plugins.models.vllm_api.VLLMApi",
        "abbr": settings.model_abbr,  # the label: results are filed under it
        "path": served_name,  # what the requests name
        "key": settings.api_key,
        "openai_api_base": f"{settings.base_url}/v1",
        "endpoints": [f"{url}/v1" for url in settings.base_urls],
        "tokenizer_path": str(tokenizer_path),
        "temperature": settings.temperature,
        "max_out_len": settings.max_out_len,
        "max_seq_len": settings.max_seq_len,
        # OpenCompass hands the model `batch_size` prompts per call and waits for the slowest;
        # one call per dataset instead, with the user's batch_size as requests in flight.
        "batch_size": WHOLE_DATASET,
        "max_workers": settings.batch_size,
        "query_per_second": 1000,  # no throttle: concurrency is the bound
        "retry": settings.retries,
        "timeout": settings.request_timeout,
        # answered requests (resume re-uses them) and the logs of failed requests and batches
        "cache_path": str(run_dir.request_cache),
        "log_dir": str(run_dir.logs),
        "meta_template": API_META_TEMPLATE,
    }


def _local_common(settings: RunSettings) -> dict[str, Any]:
    assert settings.model_path is not None
    return {
        "abbr": settings.model_abbr,
        "path": str(settings.model_path.resolve()),
        "hf_type": settings.hf_type,
        "dtype": settings.dtype,
        "max_seq_len": settings.max_seq_len,
        "max_out_len": settings.max_out_len,
        "batch_size": settings.batch_size,
    }


def hf_model(settings: RunSettings) -> dict[str, Any]:
    device = settings.device or "cpu"
    return {
        "type": "benchmark_eval.plugins.models.hf_local.HFCausalLM",
        **_local_common(settings),
        "device": device,
        "num_devices": settings.num_devices,
        "run_cfg": {"num_gpus": runner_gpus(device, settings.num_devices)},
    }


def offline_model(settings: RunSettings) -> dict[str, Any]:
    device = settings.device or "cpu"
    return {
        "type": "benchmark_eval.plugins.models.vllm_offline.VLLMOffline",
        **_local_common(settings),
        "vllm_python": str(settings.vllm_python or vllm_python()),
        "tensor_parallel_size": settings.tensor_parallel_size,
        "scoring_batch_size": settings.batch_size,  # OpenCompass keeps batch_size to itself
        "device": device,
        # vLLM manages its own devices; OpenCompass must not pin the task to one GPU.
        "run_cfg": {"num_gpus": 0},
        "env": vllm_device_env(device),
    }


def model_config(settings: RunSettings, tokenizer_path: Path, run_dir: RunDir, served_name: str | None = None) -> dict[str, Any]:
    """`served_name`: the model the server serves, when model_name is only the run's label."""
    if settings.mode == "hf":
        return hf_model(settings)
    if settings.mode == "vllm_offline":
        return offline_model(settings)
    return api_model(settings, tokenizer_path, run_dir, served_name or settings.model_name)
