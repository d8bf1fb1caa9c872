"""What the two local-weight backends (HF transformers, vLLM offline) share: the model folder's
checks, its description in run.json, the device, and the common part of the model entry."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, cast

from ..errors import UserError
from ..plugins.models.devices import Device, device_env
from ..results.manifest import host_description
from ..results.records import LocalTarget
from ..settings import RunSettings
from .base import Target


def local_device(settings: RunSettings) -> Device:
    device = settings.device or "cpu"
    assert device in ("cpu", "cuda", "npu"), device  # RunSettings refuses others for local weights
    return cast(Device, device)


def check_model_folder(settings: RunSettings) -> Path:
    """The model folder; raises one clear line when it cannot be used."""
    assert settings.model_path is not None
    path = settings.model_path.resolve()
    if not path.is_dir():
        raise UserError(f"model folder {path} does not exist; set hf_path (or model_path) to a local Hugging Face model folder")
    if not (path / "config.json").is_file():
        raise UserError(f"{path} is not a model folder (no config.json); set hf_path to a folder saved by save_pretrained")
    if not (path / "tokenizer_config.json").is_file():
        raise UserError(f"{path} has no tokenizer (tokenizer_config.json); copy the model's tokenizer files into it")
    return path


def local_target(settings: RunSettings, path: Path) -> Target:
    """run.json's description of the weights and the device(s) they run on."""
    compute = device_description(settings)
    config = json.loads((path / "config.json").read_text())
    record = LocalTarget(**{
        "path": str(path), "architectures": config.get("architectures"),
        "config_dtype": config.get("torch_dtype") or config.get("dtype"),
        **compute, "hf_type": settings.hf_type, "tensor_parallel_size": settings.tensor_parallel_size})
    return Target(record, path, f"{compute['device']}: {compute['name']}", settings.model_name)


def device_description(settings: RunSettings) -> dict[str, Any]:
    """What the run computes on, for run.json (the GPU's name, not just 'cuda')."""
    device = local_device(settings)
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


def common_model_config(settings: RunSettings) -> dict[str, Any]:
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


def task_env(settings: RunSettings) -> dict[str, str]:
    """Device set-up for OpenCompass's task processes (NPU allocator settings, ...)."""
    return device_env(local_device(settings), settings.num_devices)
