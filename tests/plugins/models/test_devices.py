"""Device set-up; the NPU path runs against a stand-in torch_npu (there is no NPU here)."""

from __future__ import annotations

import sys
import types

import pytest

from benchmark_eval.plugins.models.devices import DeviceUnavailable, device_env, prepare_device, runner_gpus


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
