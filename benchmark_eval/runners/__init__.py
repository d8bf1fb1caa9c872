"""Runners: where OpenCompass's tasks run. One module each, behind the protocol in base.py.

  local   OpenCompass's LocalRunner here (API inference and every evaluation in-process)
  slurm   OpenCompass's SlurmRunner: one srun per task, job ids in run.json
"""

from __future__ import annotations

import importlib

from .base import Runner, RunnerConfigs


def runner_for(name: str) -> Runner:
    runner: Runner = importlib.import_module(f"{__name__}.{name}").RUNNER
    return runner


__all__ = ["Runner", "RunnerConfigs", "runner_for"]
