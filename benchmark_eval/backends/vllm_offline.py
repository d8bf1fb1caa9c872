"""Backend: vLLM's offline engine, no server (vllm_path=offline hf_path=FOLDER).

The engine runs in a worker process of the vLLM environment (benchmark_eval/workers/), which
`benchmark_eval.plugins.models.vllm_offline.VLLMOffline` talks JSON lines to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..errors import UserError
from ..handoff import OfflineModelEntry
from ..paths import vllm_python
from ..results import RunDir
from ..server import vllm_device_env
from ..server.accelerators import VISIBLE_DEVICES
from ..settings import setting
from . import local_weights
from .base import Target
from .local_weights import LocalRunSettings


class OfflineRunSettings(LocalRunSettings):
    mode: Literal["vllm_offline"] = "vllm_offline"
    vllm_python: Path | None = setting(None, env="vllm_python", help="the interpreter with vLLM (vLLM offline)")
    visible_devices: str | None = setting(None, env="CUDA_VISIBLE_DEVICES", also_env=("ASCEND_RT_VISIBLE_DEVICES",),
                                          help="the cards vLLM's offline engine may use (the accelerator's own variable)")


class VllmOffline:
    settings = OfflineRunSettings
    in_process = False

    def preflight(self, settings: OfflineRunSettings) -> Target:
        path = local_weights.check_model_folder(settings)
        python = settings.vllm_python or vllm_python()
        if not python.exists():
            raise UserError(f"vLLM interpreter {python} not found; run 'bash install.sh' (it creates .venv-vllm) or set vllm_python")
        return local_weights.local_target(settings, path)

    def model_entry(self, settings: OfflineRunSettings, target: Target, run_dir: RunDir) -> OfflineModelEntry:
        device = local_weights.local_device(settings)
        return OfflineModelEntry(
            **local_weights.common_entry_fields(settings, run_dir),
            vllm_python=str(settings.vllm_python or vllm_python()),
            tensor_parallel_size=settings.tensor_parallel_size,
            scoring_batch_size=settings.batch_size,  # OpenCompass keeps batch_size to itself
            device=device,
            # vLLM places its own workers: OpenCompass reserves no GPU for the task (the engine's
            # environment undoes the empty device list that leaves; plugins/models/devices.py).
            run_cfg={"num_gpus": 0},
            env={**vllm_device_env(device), **visible_devices(device, settings.visible_devices)},
        )

    def task_env(self, settings: OfflineRunSettings) -> dict[str, str]:
        return local_weights.task_env(settings)


def visible_devices(device: str, devices: str | None) -> dict[str, str]:
    """The user's device list, kept for the engine: OpenCompass's runner replaces it in the
    task's environment (plugins/models/devices.py)."""
    name = VISIBLE_DEVICES.get(device)
    return {name: devices} if name and devices else {}


BACKEND = VllmOffline()
