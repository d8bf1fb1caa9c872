"""Backends: what answers the requests. One module each, behind the protocol in base.py.

  server_api    a running vLLM (or vllm-ascend, or any OpenAI-compatible) server   vllm_path=vllm / vllm_ppl
  vllm_offline  vLLM's engine in a worker process, no server                          vllm_path=offline
  hf_local      Hugging Face transformers on local weights (cpu, cuda, npu)           hf_path=FOLDER

A new server kind (SGLang, ...) is one module here and one line in _MODULES.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..settings import RunSettings
from .base import Backend, Target

# settings.mode -> module; imported when used, so a run imports only its own backend.
_MODULES = {"vllm": "server_api", "vllm_offline": "vllm_offline", "hf": "hf_local"}


def backend_for(mode: str) -> Backend[Any]:
    backend: Backend[Any] = importlib.import_module(f"{__name__}.{_MODULES[mode]}").BACKEND
    return backend


def settings_class_for(mode: str) -> type[RunSettings]:
    return backend_for(mode).settings


def all_settings_classes() -> list[type[RunSettings]]:
    return [settings_class_for(mode) for mode in _MODULES]


__all__ = ["Backend", "Target", "all_settings_classes", "backend_for", "settings_class_for"]
