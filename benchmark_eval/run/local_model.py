"""Preflight for local-weight runs (HF transformers, vLLM offline): folder, device, interpreter."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..paths import vllm_python
from ..results.manifest import host_description
from ..settings import RunSettings


def check_local_model(settings: RunSettings) -> Path:
    """The model folder; raises one clear line when it cannot be used."""
    assert settings.model_path is not None
    path = settings.model_path.resolve()
    if not path.is_dir():
        raise UserError(f"model folder {path} does not exist; set hf_path (or model_path) to a local Hugging Face model folder")
    if not (path / "config.json").is_file():
        raise UserError(f"{path} is not a model folder (no config.json); set hf_path to a folder saved by save_pretrained")
    if not (path / "tokenizer_config.json").is_file():
        raise UserError(f"{path} has no tokenizer (tokenizer_config.json); copy the model's tokenizer files into it")
    if settings.mode == "vllm_offline":
        python = settings.vllm_python or vllm_python()
        if not python.exists():
            raise UserError(f"vLLM interpreter {python} not found; run 'bash install.sh' (it creates .venv-vllm) or set vllm_python")
    return path


def device_description(settings: RunSettings) -> dict[str, Any]:
    """What the run computes on, for run.json (the GPU's name, not just 'cuda')."""
    device = settings.device or "cpu"
    described: dict[str, Any] = {"device": device, "dtype": settings.dtype, "num_devices": settings.num_devices}
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError("device=cuda but torch sees no CUDA device here; use device=cpu, or a machine and torch build with CUDA")
        described["name"] = torch.cuda.get_device_name(0)
        described["cuda"] = torch.version.cuda
        described["count"] = torch.cuda.device_count()
    elif device == "npu":
        if importlib.util.find_spec("torch_npu") is None:
            raise UserError("device=npu needs torch_npu; install the torch-npu build that matches your CANN toolkit")
        described["name"] = "Ascend NPU (torch_npu)"
    else:
        described["name"] = host_description().cpu
    return described


def model_description(path: Path) -> dict[str, Any]:
    config = json.loads((path / "config.json").read_text())
    return {"path": str(path), "architectures": config.get("architectures"),
            "config_dtype": config.get("torch_dtype") or config.get("dtype")}
