"""Device set-up for local-weight runs: cpu, cuda, or an Ascend NPU through torch_npu.

Kept apart and small because the NPU path cannot run here: its logic is unit-tested with a
stand-in `torch_npu` module, and the README says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Literal

from ...server.accelerators import NPU_MULTI_CARD_ALLOC, VISIBLE_DEVICES

Device = Literal["cpu", "cuda", "npu"]


class DeviceUnavailable(RuntimeError):
    pass


def prepare_device(device: Device) -> str:
    """Make `device` usable in this process; return the torch device to load the model onto."""
    if device == "npu":
        try:
            importlib.import_module("torch_npu")
            # Routes torch.cuda.* calls (ours, OpenCompass's, transformers') to the NPU.
            importlib.import_module("torch_npu.contrib.transfer_to_npu")
        except ImportError as error:
            raise DeviceUnavailable(f"device=npu needs torch_npu ({error}); install torch-npu matching your CANN") from None
        return "npu"
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise DeviceUnavailable("device=cuda but torch sees no CUDA device; use device=cpu or a CUDA build of torch")
        return "cuda"
    return "cpu"


def device_env(device: Device, num_devices: int) -> dict[str, str]:
    """Environment for OpenCompass's task processes."""
    env: dict[str, str] = {}
    if device == "npu" and num_devices > 1:
        env.update(NPU_MULTI_CARD_ALLOC)  # the same allocator rule as an NPU server's
    return env


def runner_gpus(device: Device, num_devices: int) -> int:
    """GPUs OpenCompass's LocalRunner should reserve (it counts CUDA devices only)."""
    return num_devices if device == "cuda" else 0


def engine_env(device: str, environ: Mapping[str, str], entry_env: Mapping[str, str]) -> dict[str, str]:
    """The environment of vLLM's offline engine, started inside an OpenCompass task.

    OpenCompass's LocalRunner starts every task as `CUDA_VISIBLE_DEVICES=<the GPUs it reserved>
    python ...` (ASCEND_RT_VISIBLE_DEVICES where torch_npu is installed). The offline task
    reserves none (vLLM places its own workers), so the task sees an empty list: an engine
    started with it finds no device. The plan records the user's own list in the entry's env;
    without one, the empty list is dropped and the engine sees what the host has."""
    env = {**environ, **entry_env}
    if device != "cpu":
        for name in VISIBLE_DEVICES.values():
            if not env.get(name, "x").strip():
                del env[name]
    return env
