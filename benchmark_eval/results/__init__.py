"""Results: OpenCompass's outputs normalised into run.json and samples.jsonl."""

from .manifest import MANIFEST, SAMPLES, read_manifest, write_manifest
from .outputs import DatasetOutcome, read_outcomes, read_summary
from .samples import build_samples, prompt_sha256, read_samples, write_jsonl_atomic

__all__ = [
    "MANIFEST", "SAMPLES", "DatasetOutcome", "build_samples", "prompt_sha256", "read_manifest",
    "read_outcomes", "read_samples", "read_summary", "write_jsonl_atomic", "write_manifest",
]
