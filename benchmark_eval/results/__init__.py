"""Results: OpenCompass's outputs normalised into typed records, run.json and samples.jsonl."""

from .outputs import DatasetOutcome, read_outcomes, read_summary, record_group_scores
from .records import BenchmarkGroup, Choice, DatasetRecord, RunManifest, RunStatus, Sample
from .run_dir import MANIFEST, SAMPLES, RunDir, SampleLineError
from .samples import build_samples, prompt_sha256

__all__ = [
    "MANIFEST", "SAMPLES", "BenchmarkGroup", "Choice", "DatasetOutcome", "DatasetRecord", "RunDir", "RunManifest", "RunStatus", "Sample",
    "SampleLineError", "build_samples", "prompt_sha256", "read_outcomes", "read_summary",
    "record_group_scores",
]
