"""Backend: local weights with Hugging Face transformers (hf_path=FOLDER; cpu, cuda or npu).

Inference runs in an OpenCompass task process of its own (device pinning), through
`benchmark_eval.plugins.models.hf_local.HFCausalLM`.
"""

from __future__ import annotations

from typing import Literal

from ..handoff import HfModelEntry
from ..plugins.models.devices import runner_gpus
from ..results import RunDir
from . import local_weights
from .base import Target
from .local_weights import LocalRunSettings


class HfRunSettings(LocalRunSettings):
    mode: Literal["hf"] = "hf"


class HfLocal:
    settings = HfRunSettings
    in_process = False

    def preflight(self, settings: HfRunSettings) -> Target:
        return local_weights.local_target(settings, local_weights.check_model_folder(settings))

    def model_entry(self, settings: HfRunSettings, target: Target, run_dir: RunDir) -> HfModelEntry:
        device = local_weights.local_device(settings)
        return HfModelEntry(**local_weights.common_entry_fields(settings, run_dir), device=device,
                            num_devices=settings.num_devices, run_cfg={"num_gpus": runner_gpus(device, settings.num_devices)})

    def task_env(self, settings: HfRunSettings) -> dict[str, str]:
        return local_weights.task_env(settings)


BACKEND = HfLocal()
