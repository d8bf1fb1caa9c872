"""What every backend provides: one small protocol, one module per backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from ..handoff import ModelEntry
from ..results import RunDir
from ..results.records import LocalTarget, ServerTarget
from ..settings import RunSettings


@dataclass(frozen=True)
class Target:
    """What a backend's preflight found: the model under test, before anything long starts."""

    record: ServerTarget | LocalTarget  # run.json's description of it
    tokenizer: Path  # a local copy of its tokenizer (prompt token counts, continuation ids)
    device_label: str  # what run.json and the report call the device
    served_name: str  # the model requests name; settings.model_name is the run's label


S = TypeVar("S", bound=RunSettings, contravariant=True)


class Backend(Protocol[S]):
    #: Its settings: RunSettings and its own fields, `mode` a Literal naming the backend.
    settings: type[RunSettings]
    #: Inference inside OpenCompass's own process (a thin HTTP client) or in a task process
    #: of its own (weights on a device).
    in_process: bool

    def preflight(self, settings: S) -> Target:
        """Check the model is there and usable; raise UserError with one line when it is not."""
        ...

    def model_entry(self, settings: S, target: Target, run_dir: RunDir) -> ModelEntry:
        """The plan config's model entry (handoff.py): our class in benchmark_eval.plugins.models and its arguments."""
        ...

    def task_env(self, settings: S) -> dict[str, str]:
        """Environment for OpenCompass's task processes (device set-up)."""
        ...
