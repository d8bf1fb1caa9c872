"""Where the toolkit keeps things on disk (one place, so every module agrees)."""

from __future__ import annotations

import os
import re
from pathlib import Path

#: The repository checkout (install.sh, opencompass.sh and results/ live here).
REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Folder for the converted demo model and other one-off artefacts."""
    return Path(os.environ.get("BENCHMARK_EVAL_CACHE", REPO_ROOT / ".cache")).resolve()


def demo_model_dir() -> Path:
    return cache_dir() / "models" / "SmolLM2-135M-Instruct"


def demo_data_root() -> Path:
    """Small MMLU/C-Eval/XSum/HumanEval-shaped datasets written for this project."""
    return Path(__file__).resolve().parent / "demo" / "data"


def default_results_root() -> Path:
    return REPO_ROOT / "results"


def server_state_dir() -> Path:
    """Pid, log and launch record of the servers `vllm_api.py start` started (runs look here)."""
    return Path(os.environ.get("BENCHMARK_EVAL_SERVER_STATE", REPO_ROOT / "results" / ".servers")).resolve()


def vllm_python() -> Path:
    """The interpreter of the separate vLLM environment that install.sh creates."""
    return REPO_ROOT / ".venv-vllm" / "bin" / "python"


def folder_safe(name: str) -> str:
    """A name as a folder name (a served name may hold '/'): every run of characters other
    than ASCII letters, digits, '.', '_' and '-' becomes one '_'. The one rule for a model's
    label on disk, for runs and imports alike."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
