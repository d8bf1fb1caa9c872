"""Backends: what answers the requests. One module each, behind the protocol in base.py.

  server_api    a running vLLM (or vllm-ascend, or any OpenAI-compatible) server   vllm_path=vllm / vllm_ppl
  vllm_offline  vLLM's engine in a worker process, no server                          vllm_path=offline
  hf_local      Hugging Face transformers on local weights (cpu, cuda, npu)           hf_path=FOLDER

A new server kind (SGLang, ...) is one module here and one line in _MODULES.
"""

from __future__ import annotations

import importlib

from .base import Backend, Target

# settings.mode -> module; imported when used, so a run imports only its own backend.
_MODULES = {"vllm": "server_api", "vllm_offline": "vllm_offline", "hf": "hf_local"}


def backend_for(mode: str) -> Backend:
    backend: Backend = importlib.import_module(f"{__name__}.{_MODULES[mode]}").BACKEND
    return backend


__all__ = ["Backend", "Target", "backend_for"]
