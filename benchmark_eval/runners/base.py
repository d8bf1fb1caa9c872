"""Where OpenCompass's tasks run: one small protocol, one module per runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..results import RunDir
from ..results.records import LocalRunnerRecord, SlurmRunnerRecord
from ..settings import RunSettings


@dataclass(frozen=True)
class RunnerConfigs:
    """OpenCompass's runner entries for the inference and evaluation stages."""

    infer: dict[str, Any]
    eval: dict[str, Any]
    workers: int = 1  # tasks per stage: datasets are split into this many


class Runner(Protocol):
    def preflight(self, settings: RunSettings) -> None:
        """Raise UserError with one line when tasks cannot run there."""
        ...

    def configs(self, settings: RunSettings, run_id: str, in_process_inference: bool) -> RunnerConfigs: ...

    def infers_in_opencompass(self, in_process_inference: bool) -> bool:
        """Whether the inference runs inside OpenCompass's own process (OverlappedInferTask); then
        the data preflight's datasets and the model's tokenizer are made ready for it there."""
        ...

    def scratch_parent(self, run_dir: RunDir) -> Path | None:
        """Where OpenCompass's scratch folder goes (None: a private temporary folder)."""
        ...

    def record(self, settings: RunSettings) -> LocalRunnerRecord | SlurmRunnerRecord: ...

    def finish(self, record: LocalRunnerRecord | SlurmRunnerRecord, run_id: str) -> None:
        """Complete run.json's runner record once OpenCompass has exited."""
        ...
