"""OpenCompass task classes of ours (its `infer.runner.task.type` extension point)."""

from .overlapped_infer import OverlappedInferTask

__all__ = ["OverlappedInferTask"]
