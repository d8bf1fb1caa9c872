"""What the two local-weight backends (HF transformers, vLLM offline) share: the model folder's
checks, its description in run.json, the device, and the common part of the model entry."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import model_validator

from ..errors import UserError
from ..plugins.models.devices import Device, device_env
from ..results import RunDir
from ..results.manifest import host_description
from ..results.records import LocalTarget
from ..settings import RunSettings, logprobs_setting, setting
from .base import Target


class LocalRunSettings(RunSettings):
    """A run on local weights: the model folder and how to load it."""

    model_path: Path = setting(env="hf_path", also_env=("model_path",), flags=("--hf-path", "--model-path"),
                               help="local model folder: runs on local weights",
                               hint="set hf_path (or model_path) to a local model folder with config.json")
    hf_type: Literal["base", "chat"] = setting(
        "chat", env="hf_type", help="base or chat",
        hint="set hf_type=base or hf_type=chat (chat applies the model's chat template)")
    num_devices: int = setting(1, env="hf_num_gpus", help="devices for local weights", ge=1,
                               hint="set hf_num_gpus to a whole number >= 1")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = setting(
        "auto", env="dtype", help="auto, float32, bfloat16, float16 for local weights",
        hint="set dtype=auto, float32, bfloat16 or float16")
    # vLLM offline's; recorded for both local backends (HF runs one process per model).
    tensor_parallel_size: int = setting(1, env="tp_size", flags=("--tp-size", "--tp"), help="tensor parallel size for vLLM offline",
                                        ge=1, hint="set tp_size to a whole number >= 1")
    logprobs: int = logprobs_setting()

    @property
    def is_local(self) -> bool:
        return True

    @model_validator(mode="after")
    def _device_and_name(self) -> LocalRunSettings:
        if self.device not in (None, "cpu", "cuda", "npu"):
            raise ValueError(f"device={self.device!r} is not valid for local weights; set device=cpu, cuda or npu")
        if not self.model_name:
            object.__setattr__(self, "model_name", self.model_path.resolve().name)
        return self


def local_device(settings: LocalRunSettings) -> Device:
    device = settings.device or "cpu"
    assert device in ("cpu", "cuda", "npu"), device  # RunSettings refuses others for local weights
    return cast(Device, device)


def check_model_folder(settings: LocalRunSettings) -> Path:
    """The model folder; raises one clear line when it cannot be used."""
    path = settings.model_path.resolve()
    if not path.is_dir():
        raise UserError(f"model folder {path} does not exist; set hf_path (or model_path) to a local Hugging Face model folder")
    if not (path / "config.json").is_file():
        raise UserError(f"{path} is not a model folder (no config.json); set hf_path to a folder saved by save_pretrained")
    if not (path / "tokenizer_config.json").is_file():
        raise UserError(f"{path} has no tokenizer (tokenizer_config.json); copy the model's tokenizer files into it")
    return path


def local_target(settings: LocalRunSettings, path: Path) -> Target:
    """run.json's description of the weights and the device(s) they run on."""
    compute = device_description(settings)
    config = json.loads((path / "config.json").read_text())
    record = LocalTarget(**{
        "path": str(path), "architectures": config.get("architectures"),
        "config_dtype": config.get("torch_dtype") or config.get("dtype"),
        **compute, "hf_type": settings.hf_type, "tensor_parallel_size": settings.tensor_parallel_size})
    return Target(record, path, f"{compute['device']}: {compute['name']}", settings.model_name)


def device_description(settings: LocalRunSettings) -> dict[str, Any]:
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


def common_entry_fields(settings: LocalRunSettings, run_dir: RunDir) -> dict[str, Any]:
    """The fields every local-weights model entry has (handoff.LocalModelEntry)."""
    return {
        "logprobs": settings.logprobs,
        "ppl_requests": settings.ppl_requests,
        "log_dir": str(run_dir.logs),  # generation traces go to logs/generations/
        "label": settings.model_abbr,
        "model": str(settings.model_path.resolve()),
        "hf_type": settings.hf_type,
        "dtype": settings.dtype,
        "max_seq_len": settings.max_seq_len,
        "max_out_len": settings.max_out_len,
        "batch_size": settings.batch_size,
    }


def task_env(settings: LocalRunSettings) -> dict[str, str]:
    """Device set-up for OpenCompass's task processes (NPU allocator settings, ...)."""
    return device_env(local_device(settings), settings.num_devices)
