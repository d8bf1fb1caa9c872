"""OpenCompass's LocalRunner on this machine (runner=local, the default)."""

from __future__ import annotations

from pathlib import Path

from ..compat import local_runner
from ..plan import EVAL_TASK, INFER_TASK, OVERLAPPED_INFER_TASK
from ..results import RunDir
from ..results.records import LocalRunnerRecord, SlurmRunnerRecord
from ..settings import RunSettings
from .base import RunnerConfigs


class LocalRunner:
    def preflight(self, settings: RunSettings) -> None:
        return None

    def configs(self, settings: RunSettings, run_id: str, in_process_inference: bool) -> RunnerConfigs:
        infer = local_runner(OVERLAPPED_INFER_TASK if in_process_inference else INFER_TASK, in_process=in_process_inference)
        return RunnerConfigs(infer, local_runner(EVAL_TASK, in_process=True))

    def infers_in_opencompass(self, in_process_inference: bool) -> bool:
        return in_process_inference

    def scratch_parent(self, run_dir: RunDir) -> Path | None:
        return None

    def record(self, settings: RunSettings) -> LocalRunnerRecord:
        return LocalRunnerRecord(type="local")

    def finish(self, record: LocalRunnerRecord | SlurmRunnerRecord, run_id: str) -> None:
        return None


RUNNER = LocalRunner()
