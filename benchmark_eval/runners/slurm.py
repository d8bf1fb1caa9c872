"""runner=slurm: OpenCompass's own SlurmRunner (srun per task); we check the cluster first
and find the run's jobs afterwards (tagged with a comment naming the run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..plan import EVAL_TASK, INFER_TASK
from ..results import RunDir
from ..results.records import LocalRunnerRecord, SlurmRunnerRecord
from ..settings import RunSettings
from .base import RunnerConfigs


def job_comment(run_id: str) -> str:
    return f"benchmark-eval:{run_id}"


def check_slurm(settings: RunSettings) -> list[str]:
    """The cluster's partitions; one clear line if Slurm cannot take jobs from here."""
    for tool in ("srun", "sinfo", "squeue"):
        if shutil.which(tool) is None:
            raise UserError(f"runner=slurm but {tool} is not on PATH; run on a Slurm login node (or install the Slurm client) or set runner=local")
    conf = os.environ.get("SLURM_CONF")
    if conf and not Path(conf).is_file():
        raise UserError(f"runner=slurm but SLURM_CONF={conf} does not exist; point SLURM_CONF at the cluster's slurm.conf (or unset it)")
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise UserError("runner=slurm but sinfo did not answer within 30 s; check that slurmctld is up (SLURM_CONF)") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"runner=slurm but Slurm does not answer ({reason}); check that slurmctld is up and SLURM_CONF is right")
    partitions = [p.rstrip("*") for p in done.stdout.split()]
    if settings.partition and settings.partition not in partitions:
        raise UserError(f"partition={settings.partition!r} is not a partition of this cluster ({', '.join(partitions) or 'none'}); set partition to one of them")
    return partitions


def runner_config(settings: RunSettings, run_id: str, task: dict[str, Any]) -> dict[str, Any]:
    """OpenCompass's SlurmRunner for one stage; extra srun options pass through as given."""
    return {
        "type": "opencompass.runners.SlurmRunner",
        "max_num_workers": settings.max_num_workers,
        "partition": settings.partition,
        "quotatype": settings.quotatype,
        "qos": settings.qos,
        "retry": 0,  # a failed task fails the run; resume redoes only what is missing
        "extra_command": [*settings.srun_args, f"--comment={job_comment(run_id)}"],
        "task": dict(task),
    }


def find_jobs(run_id: str) -> list[dict[str, str]]:
    """The run's jobs as Slurm lists them (finished ones stay listed for the cluster's MinJobAge)."""
    done = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i|%k|%j|%T"], capture_output=True, text=True, timeout=60)
    jobs = []
    for line in done.stdout.splitlines():
        job_id, comment, name, state = (line.split("|", 3) + ["", "", ""])[:4]
        if comment == job_comment(run_id):
            jobs.append({"id": job_id, "name": name, "state": state})
    return jobs


class SlurmRunner:
    """OpenCompass's SlurmRunner: one srun per task, tagged with the run's id."""

    def preflight(self, settings: RunSettings) -> None:
        check_slurm(settings)

    def configs(self, settings: RunSettings, run_id: str, in_process_inference: bool) -> RunnerConfigs:
        return RunnerConfigs(runner_config(settings, run_id, INFER_TASK), runner_config(settings, run_id, EVAL_TASK),
                             workers=settings.max_num_workers)

    def infers_in_opencompass(self, in_process_inference: bool) -> bool:
        return False  # on the nodes, in OpenCompass's stock task

    def scratch_parent(self, run_dir: RunDir) -> Path | None:
        # Slurm tasks read their parameter files from OpenCompass's folder: keep it where the nodes see it.
        return run_dir.path

    def record(self, settings: RunSettings) -> SlurmRunnerRecord:
        return SlurmRunnerRecord(type="slurm", partition=settings.partition, quotatype=settings.quotatype,
                                 qos=settings.qos, max_num_workers=settings.max_num_workers,
                                 srun_args=list(settings.srun_args))

    def finish(self, record: LocalRunnerRecord | SlurmRunnerRecord, run_id: str) -> None:
        if isinstance(record, SlurmRunnerRecord):
            record.jobs = find_jobs(run_id)


RUNNER = SlurmRunner()
