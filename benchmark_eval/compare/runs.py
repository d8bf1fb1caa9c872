"""Load a run folder for comparison, refusing anything that is not a finished, intact run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..results import MANIFEST, SAMPLES

_SAMPLE_KEYS = ("dataset", "id", "prompt_sha256", "scores")


@dataclass(frozen=True)
class LoadedRun:
    path: Path
    manifest: dict[str, Any]
    samples: dict[tuple[str, str], dict[str, Any]]  # (dataset, id) -> sample

    @property
    def label(self) -> str:
        env = self.manifest.get("environment", {})
        return str(env.get("device") or self.path.name)

    def metrics(self, dataset: str) -> dict[str, float]:
        return dict(self.manifest["datasets"].get(dataset, {}).get("metrics", {}))


def load_run(path: Path) -> LoadedRun:
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; pass a run folder written by opencompass.sh (results/<model>/<type>/<timestamp>)")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise UserError(f"{path} is not a run folder (no {MANIFEST}); pass a folder written by opencompass.sh")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["datasets"]  # a run.json without datasets is not ours
        status = manifest["status"]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{manifest_path} is corrupted (not the JSON benchmark-eval writes); re-run the evaluation") from None
    if status != "ok":
        raise UserError(f"{path} is a run that did not finish successfully (status '{status}'); a failed run has no scores to compare, re-run it")
    samples_path = path / SAMPLES
    if not samples_path.is_file():
        raise UserError(f"{path} has no {SAMPLES}; it is not a complete run, re-run the evaluation")
    samples: dict[tuple[str, str], dict[str, Any]] = {}
    with open(samples_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                sample = json.loads(line)
                key = (str(sample["dataset"]), str(sample["id"]))
                if not all(k in sample for k in _SAMPLE_KEYS) or not isinstance(sample["scores"], dict):
                    raise KeyError
            except (ValueError, KeyError, TypeError):
                raise UserError(f"{samples_path} line {number} is corrupted (not a sample line); re-run the evaluation") from None
            samples[key] = sample
    counted = len(samples)
    if manifest.get("samples") is not None and counted != manifest["samples"]:
        raise UserError(f"{samples_path} holds {counted} samples but {MANIFEST} says {manifest['samples']}; the folder is incomplete or was edited, re-run the evaluation")
    return LoadedRun(path, manifest, samples)
