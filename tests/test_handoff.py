"""The model entries of the plan config bind to the classes OpenCompass builds from them: every
key OpenCompass passes on is a named parameter of the class (a renamed parameter fails here,
not in OpenCompass's process forty seconds into a run)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

from benchmark_eval.backends import backend_for
from benchmark_eval.backends.base import Target
from benchmark_eval.backends.selection import parse_run_settings
from benchmark_eval.handoff import OPENCOMPASS_ONLY_KEYS, ApiModelEntry, HfModelEntry, OfflineModelEntry
from benchmark_eval.results import RunDir
from benchmark_eval.results.records import LocalTarget, ServerTarget


def passed_to_class(config: dict[str, Any]) -> dict[str, Any]:
    """What OpenCompass's build_model_from_cfg hands the class, with its registry stopped short."""
    from opencompass.utils import build

    captured: dict[str, Any] = {}
    original = build.MODELS.build
    build.MODELS.build = lambda cfg: captured.update(cfg)
    try:
        build.build_model_from_cfg(config)
    finally:
        build.MODELS.build = original
    return captured


def unbound(cls: type, kwargs: dict[str, Any]) -> list[str]:
    """Keys that are not named parameters of cls.__init__ (a **kwargs catch-all does not count),
    and required parameters that no key fills."""
    parameters = inspect.signature(cls.__init__).parameters
    named = {n for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"}
    missing = [n for n in named if parameters[n].default is inspect.Parameter.empty and n not in kwargs]
    return sorted(set(kwargs) - named) + [f"missing {n}" for n in sorted(missing)]


def _entries(tmp_path: Path) -> list[Any]:
    run_dir = RunDir(tmp_path / "run")
    weights = tmp_path / "weights"
    weights.mkdir()
    server = parse_run_settings({"model_name": "m", "datasets": "mmlu_gen"})
    hf = parse_run_settings({"model_path": str(weights), "datasets": "mmlu_ppl"})
    offline = parse_run_settings({"mode": "offline", "model_path": str(weights), "datasets": "mmlu_ppl"})
    served = Target(ServerTarget(url="http://127.0.0.1:9", endpoints=[], models=["m"]), weights, "cpu", "m")
    local = Target(LocalTarget(path=str(weights), device="cpu"), weights, "cpu", "weights")
    return [backend_for(server.mode).model_entry(server, served, run_dir),
            backend_for(hf.mode).model_entry(hf, local, run_dir),
            backend_for(offline.mode).model_entry(offline, local, run_dir)]


def test_every_backend_entry_binds_to_its_class(tmp_path: Path) -> None:
    entries = _entries(tmp_path)
    assert [type(e) for e in entries] == [ApiModelEntry, HfModelEntry, OfflineModelEntry]
    for entry in entries:
        config = entry.to_config()
        module, _, name = config["type"].rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        kwargs = passed_to_class(config)
        kwargs.pop("type")
        assert set(config) - set(kwargs) - {"type"} == set(OPENCOMPASS_ONLY_KEYS) & set(config)
        assert unbound(cls, kwargs) == [], f"{name}: the entry and the constructor disagree"
        assert config["abbr"] == entry.label and config["path"] == entry.model  # OpenCompass's names, only here


def test_a_renamed_parameter_fails_the_binding(tmp_path: Path) -> None:
    from benchmark_eval.plugins.models.vllm_api import VLLMApi

    entry = _entries(tmp_path)[0]
    kwargs = passed_to_class(entry.to_config())
    kwargs.pop("type")
    source = inspect.signature(VLLMApi.__init__)
    renamed = [p.replace(name="concurrency") if p.name == "max_workers" else p for p in source.parameters.values()]

    class Renamed(VLLMApi):  # type: ignore[misc]
        pass

    Renamed.__init__ = lambda self, *a, **k: None  # type: ignore[method-assign]
    Renamed.__init__.__signature__ = source.replace(parameters=renamed)  # type: ignore[attr-defined]
    assert unbound(Renamed, kwargs) == ["max_workers"]


@pytest.mark.parametrize("entry_class", [ApiModelEntry, HfModelEntry, OfflineModelEntry])
def test_the_config_keeps_its_key_order(entry_class: type) -> None:
    """The plan config's text (and so its hash in run.json) depends on the order of its keys."""
    from dataclasses import fields

    names = [{"label": "abbr", "model": "path"}.get(f.name, f.name) for f in fields(entry_class)]
    assert names[:3] in (["abbr", "path", "key"], ["logprobs", "ppl_requests", "log_dir"])
