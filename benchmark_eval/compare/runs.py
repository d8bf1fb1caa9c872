"""Load a run folder for comparison, refusing anything that is not a finished, intact run."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import UserError
from ..results import MANIFEST, SAMPLES, RunDir, RunManifest, Sample, SampleLineError
from ..results.pack import is_pack, unpack


@dataclass(frozen=True)
class LoadedRun:
    path: Path
    manifest: RunManifest
    samples: dict[tuple[str, str], Sample]  # (dataset, id) -> sample

    @property
    def label(self) -> str:
        own = str(self.manifest.environment.device or self.path.name)
        origin = self.manifest.imported_from
        return f"{own}, imported from {origin.tool}" if origin is not None else own

    def metrics(self, dataset: str) -> dict[str, float]:
        return self.manifest.metrics(dataset)

    @cached_property
    def keys_by_dataset(self) -> dict[str, list[tuple[str, str]]]:
        """Sample keys per dataset (every per-dataset step would otherwise scan all samples)."""
        out: dict[str, list[tuple[str, str]]] = {}
        for key in self.samples:
            out.setdefault(key[0], []).append(key)
        return out


def load_run(path: Path) -> LoadedRun:
    """A run folder, or a pack of one (results/pack.py); `LoadedRun.path` is what was given."""
    folder = unpack(path) if is_pack(path) else path
    loaded = _load_folder(folder)
    return LoadedRun(path, loaded.manifest, loaded.samples)


def _load_folder(path: Path) -> LoadedRun:
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; pass a run folder written by opencompass.sh (results/<model>/<type>/<timestamp>), or a pack of one")
    run_dir = RunDir(path)
    if not run_dir.manifest.is_file():
        raise UserError(f"{path} is not a run folder (no {MANIFEST}); pass a folder written by opencompass.sh")
    status = run_dir.read_status()
    if status is not None and status != "ok":
        raise UserError(f"{path} is a run that did not finish successfully (status '{status}'); a failed run has no scores to compare, re-run it")
    try:
        manifest = run_dir.read_manifest()
    except ValueError:  # not JSON, or not the record benchmark-eval writes (ValidationError)
        raise UserError(f"{run_dir.manifest} is corrupted (not the JSON benchmark-eval writes); re-run the evaluation") from None
    if not run_dir.samples.is_file():
        raise UserError(f"{path} has no {SAMPLES}; it is not a complete run, re-run the evaluation")
    try:
        samples = {sample.key: sample for sample in run_dir.read_samples()}
    except SampleLineError as error:
        raise UserError(f"{run_dir.samples} line {error.line} is corrupted (not a sample line); re-run the evaluation") from None
    # What was just read lives as long as the comparison and holds no cycles: out of the
    # collector's way (with generation traces, its full passes over millions of small lists
    # cost the comparison of two 15,000-sample runs seconds).
    gc.freeze()
    counted = len(samples)
    if manifest.samples is not None and counted != manifest.samples:
        raise UserError(f"{run_dir.samples} holds {counted} samples but {MANIFEST} says {manifest.samples}; the folder is incomplete or was edited, re-run the evaluation")
    return LoadedRun(path, manifest, samples)
