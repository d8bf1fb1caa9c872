"""runner=slurm on a REAL single-node Slurm (slurm-wlm + munge on localhost), against the real server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchmark_eval.server import ServerHandle

from ..conftest import assert_one_line_error, assert_same_answers, finished_run, run_cli
from ..slurm_cluster import PARTITION, slurm_cluster

pytestmark = [pytest.mark.slurm]


def _env(server: ServerHandle, data_root: Path, results: Path, **extra: str) -> dict[str, str]:
    return {"service_port": server.base_url.rsplit(":", 1)[1], "model_name": server.served_model_name,
            "eval_datasets": "mmlu_ppl mmlu_gen", "subjects": "anatomy,marketing", "limit": "3", "max_out_len": "24",
            "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(results), **extra}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def test_slurm_run_equals_local_run(vllm_server: ServerHandle, data_root: Path, tmp_path: Path, cluster: dict[str, str]) -> None:
    local = finished_run(run_cli(["run"], _env(vllm_server, data_root, tmp_path / "local")))
    slurm = finished_run(run_cli(["run"], _env(vllm_server, data_root, tmp_path / "slurm", runner="slurm", partition=PARTITION,
                                           max_num_workers="2", srun_args="--time=00:30:00", **cluster)))
    # Two tasks at once batch requests differently from one: the same answers, log-likelihoods within the bound.
    assert_same_answers((slurm / "samples.jsonl").read_bytes(), (local / "samples.jsonl").read_bytes())
    run = json.loads((slurm / "run.json").read_text())
    assert run["status"] == "ok"
    assert run["runner"]["type"] == "slurm" and run["runner"]["partition"] == PARTITION
    jobs = run["runner"]["jobs"]
    assert len(jobs) >= 2 and all(j["state"] == "COMPLETED" for j in jobs), jobs  # inference and evaluation tasks
    # Slurm itself remembers them: squeue's history and the job-completion log.
    listed = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i %T"], capture_output=True, text=True,
                            env={**os.environ, **cluster}).stdout
    completed = Path(cluster["SLURM_CONF"]).parent / "log" / "jobcomp.txt"
    for job in jobs:
        assert f"{job['id']} COMPLETED" in listed
        assert f"JobId={job['id']} " in completed.read_text()
    assert json.loads((local / "run.json").read_text())["runner"] == {"type": "local"}


def test_slurm_problems_are_one_line(vllm_server: ServerHandle, data_root: Path, tmp_path: Path, cluster: dict[str, str]) -> None:
    wrong_partition = run_cli(["run"], _env(vllm_server, data_root, tmp_path, runner="slurm", partition="gpu-a100", **cluster))
    assert_one_line_error(wrong_partition, 2, "partition='gpu-a100'", PARTITION)
    no_cluster = run_cli(["run"], _env(vllm_server, data_root, tmp_path, runner="slurm", SLURM_CONF=str(tmp_path / "none.conf")))
    assert_one_line_error(no_cluster, 2, "runner=slurm but SLURM_CONF=", "does not exist")
    assert not any(tmp_path.glob("*/*/*/run.json")), "nothing may be written for refused input"
