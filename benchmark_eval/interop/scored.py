"""Runs of tools that score their own samples (lm-eval, EvalScope): read into one typed record,
every sample with the tool's own score, then written as a run folder of ours.

Their evaluators are their own (lm-eval's filters and metrics, EvalScope's extractors), so
OpenCompass cannot score their outputs again: the per-sample scores are kept as the tool wrote
them, in points (x100, the unit of compare's margins and of OpenCompass's scores), and only
metrics that average per-sample values pair (acc, exact_match, ...; corpus metrics such as BLEU
or perplexity do not, and are left out with their reason).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..paths import folder_safe
from ..results import RunDir
from ..results.manifest import now_iso
from ..results.records import (
    SCHEMA_VERSION,
    BenchmarkGroup,
    DatasetRecord,
    Environment,
    ImportedTool,
    ImportRecord,
    ModelInfo,
    RunManifest,
    Sample,
    Slice,
)
from ..results.run_dir import free_folder

#: What neither tool's output folder records.
UNKNOWN = ["the data files the original run read (each sample's input is compared by hash instead)",
           "the server's vLLM version, launch arguments and device", "the original run's host",
           "generation log-probs (no token divergence for its samples)"]

POINTS = 100.0  # a tool's 0-1 score -> points


@dataclass
class ScoredDataset:
    """One task (lm-eval) or subset (EvalScope) and its samples, scored by the tool."""

    record: DatasetRecord
    samples: list[Sample]


@dataclass
class ScoredRun:
    tool: ImportedTool
    folder: Path  # the output folder read
    config_file: Path  # the file holding the run's settings (lm-eval's results JSON, EvalScope's task_config.yaml)
    model_type: str  # local-completions, openai_api, ...
    model: ModelInfo
    model_abbr: str
    datasets: dict[str, ScoredDataset]  # abbr -> dataset, in the tool's order
    groups: list[BenchmarkGroup]
    packages: dict[str, str]  # the tool's version and what it reported of its own environment
    limit: int | None  # the run's per-dataset sample limit
    stamp: str  # when the tool ran, as it named its files or folder: the imported run folder's name
    unknown: list[str] = field(default_factory=lambda: list(UNKNOWN))
    refused: list[str] = field(default_factory=list)  # datasets left out, each with its one-line reason


def input_sha256(*parts: Any) -> str:
    """One hash over what identifies an input: a sample's (its prompt, target, the tool's own hashes) or a task config."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def without(config: Mapping[str, Any], drop: dict[str, Any]) -> dict[str, Any]:
    """`config` without the keys in `drop` (nested: {"metadata": {"base_url": None}} drops one key
    inside metadata; a None value drops the key whole): a host's paths and a model's address differ
    between the two sides of a sign-off without changing a prompt."""
    out = {}
    for key, value in config.items():
        if key in drop and drop[key] is None:
            continue
        if key in drop and isinstance(value, Mapping):
            value = without(value, drop[key])
        out[key] = value
    return out


def write_scored(run: ScoredRun, out_root: Path) -> tuple[Path, int]:
    """The run folder (samples.jsonl, run.json); nothing is left of it if writing fails."""
    path = free_folder(out_root.resolve() / folder_safe(run.model_abbr) / f"imported-{run.tool}", folder_safe(run.stamp))
    path.mkdir(parents=True)
    samples = [s for d in run.datasets.values() for s in d.samples]
    try:
        run_dir = RunDir(path)
        run_dir.write_samples(samples)
        run_dir.write_manifest(RunManifest(
            schema_version=SCHEMA_VERSION, status="ok", finished_at=now_iso(), mode="vllm" if _served(run) else None,
            model=run.model, slice=Slice(subjects=[], limit=run.limit),
            datasets={abbr: d.record for abbr, d in run.datasets.items()}, groups=run.groups,
            environment=Environment(packages=run.packages), samples=len(samples),
            imported_from=ImportRecord(tool=run.tool, folder=str(run.folder), config_file=str(run.config_file),
                                       model_type=run.model_type, imported_at=now_iso(), scored_by=run.tool,
                                       original_metrics={abbr: d.record.metrics for abbr, d in run.datasets.items()},
                                       unknown=run.unknown)))
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return path, len(samples)


def _served(run: ScoredRun) -> bool:
    """Whether the tool asked a server (an OpenAI-compatible API), not weights it loaded itself."""
    return any(word in run.model_type for word in ("completions", "openai", "api", "service"))
