"""`RunDir`: every path inside a run folder, spelled once.

A run folder is `results/<model>/<type>/<stamp>/`. Ours: run.json, samples.jsonl, the plan
config, the request cache and its logs. OpenCompass's (it writes them because the plan names
the folder as its work dir): predictions/, results/, summary/, logs/, configs/.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..fileio import atomic_write_lines, atomic_write_text
from ..handoff import GENERATIONS_FOLDER
from .records import RunManifest, Sample

MANIFEST = "run.json"
SAMPLES = "samples.jsonl"
PLAN_CONFIG = "configs/benchmark_eval_plan.py"
REQUEST_CACHE = "cache/requests.sqlite"
LOGS = "logs"
FAILED_REQUESTS = f"{LOGS}/failed_requests.jsonl"  # one line per request whose retries ran out
REQUEST_BATCHES = f"{LOGS}/request_batches.jsonl"  # one line per model call: requests, sent, cached
FAILED_BEFORE = f"{LOGS}/failed_requests_before_resume.jsonl"  # earlier attempts' failed requests
GENERATIONS = f"{LOGS}/{GENERATIONS_FOLDER}"  # <host>-<pid>.jsonl: each generation's trace, by prompt hash


def free_folder(parent: Path, name: str) -> Path:
    """`parent / name`, or `name_1`, `name_2`, ... when taken (two runs in one second, an import
    of the same folder twice): a run folder is never shared."""
    path, suffix = parent / name, 1
    while path.exists():
        path, suffix = parent / f"{name}_{suffix}", suffix + 1
    return path


class _InRun:
    """A fixed path inside the run folder: `RunDir(p).manifest` is `p / "run.json"`."""

    def __init__(self, relative: str) -> None:
        self.relative = relative

    def __get__(self, run: RunDir, owner: type[RunDir]) -> Path:
        return run.path / self.relative


@dataclass(frozen=True)
class RunDir:
    path: Path

    # ours
    manifest = _InRun(MANIFEST)
    samples = _InRun(SAMPLES)
    plan_config = _InRun(PLAN_CONFIG)
    request_cache = _InRun(REQUEST_CACHE)
    logs = _InRun(LOGS)
    failed_requests = _InRun(FAILED_REQUESTS)
    failed_before = _InRun(FAILED_BEFORE)
    request_batches = _InRun(REQUEST_BATCHES)
    generations = _InRun(GENERATIONS)
    opencompass_log = _InRun(f"{LOGS}/opencompass.log")  # OpenCompass's console
    progress_file = _InRun(f"{LOGS}/requests.progress")  # answered requests, counted by the model classes
    compare_out = _InRun("compare")  # compare's default output folder for this run as candidate
    # OpenCompass's
    summary = _InRun("summary")

    def predictions_dir(self, model_abbr: str) -> Path:
        return self.path / "predictions" / model_abbr

    def predictions(self, model_abbr: str, abbr: str) -> Path:
        return self.predictions_dir(model_abbr) / f"{abbr}.json"

    def results_dir(self, model_abbr: str) -> Path:
        return self.path / "results" / model_abbr

    def results(self, model_abbr: str, abbr: str) -> Path:
        return self.results_dir(model_abbr) / f"{abbr}.json"

    def infer_logs(self, model_abbr: str) -> Path:
        return self.logs / "infer" / model_abbr

    def eval_log(self, model_abbr: str, abbr: str) -> Path:
        return self.logs / "eval" / model_abbr / f"{abbr}.out"

    # reading and writing our records
    def read_manifest(self) -> RunManifest:
        """Raises OSError (no file), ValueError (not JSON) or ValidationError (not our record)."""
        return RunManifest.model_validate_json(self.manifest.read_bytes())

    def read_status(self) -> str | None:
        """The status alone, from any run.json that has one (None: no readable status).
        Deciding whether a run is finished needs no more than this."""
        try:
            status = json.loads(self.manifest.read_bytes()).get("status")
        except (OSError, ValueError, AttributeError):
            return None
        return status if isinstance(status, str) else None

    def write_manifest(self, manifest: RunManifest) -> None:
        atomic_write_text(self.manifest, manifest.to_json())

    def write_samples(self, samples: Iterable[Sample]) -> int:
        """Written one sample at a time (give a generator: a run's samples are never all held);
        the number written."""
        return atomic_write_lines(self.samples, (sample.to_json() for sample in samples))

    def read_samples(self) -> list[Sample]:
        """Raises SampleLineError naming the first line that is not a sample."""
        out = []
        # A generation trace is hundreds of small lists: with the garbage collector on, its
        # passes over them took 70% of reading 15,000 samples (2.2 s instead of 0.7 s).
        with paused_gc(), open(self.samples, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    out.append(Sample.model_validate_json(line))
                except (ValueError, ValidationError):
                    raise SampleLineError(number) from None
        return out


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while building many objects that hold no cycles."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


class SampleLineError(ValueError):
    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is not a sample")
        self.line = line
