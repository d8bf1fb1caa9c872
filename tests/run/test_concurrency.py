"""Neither concurrency nor dataset order changes an answer: samples.jsonl from one request at a
time, datasets one after another, equals the one from 64 requests in flight over 4 datasets in
flight, datasets in the reverse order. Real server, fp32.

What holds (and is asserted): the same generated text, extracted answers, chosen choices and
scores, and log-likelihoods within LOGLIK_TOLERANCE. Not bit identity: vLLM batches whatever
is in flight and its CPU kernels round by batch shape (seen: -0.8086103 vs -0.8086067 on a
busy machine). vLLM's batch-invariant mode (VLLM_BATCH_INVARIANT=1) exists only for GPUs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark_eval.server import ServerHandle

from ..conftest import assert_same_answers, finished_run, run_cli

pytestmark = [pytest.mark.server, pytest.mark.opencompass]


def _samples(server: ServerHandle, data_root: Path, results: Path, datasets: str, subjects: str, batch_size: int,
             in_flight: int) -> bytes:
    done = run_cli(["run"], {
        "service_port": server.base_url.rsplit(":", 1)[1], "model_name": server.served_model_name,
        "eval_datasets": datasets, "subjects": subjects, "limit": "4", "max_out_len": "32",
        "batch_size": str(batch_size), "datasets_in_flight": str(in_flight), "COMPASS_DATA_CACHE": str(data_root),
        "results_dir": str(results)}, timeout=900)
    lines = (finished_run(done) / "samples.jsonl").read_bytes().splitlines(keepends=True)
    order = [json.loads(line)["dataset"] for line in lines]
    # the plan's dataset order is the file's order: sort to compare
    return b"".join(sorted(lines, key=lambda line: (json.loads(line)["dataset"], int(json.loads(line)["id"])))) + \
        json.dumps(list(dict.fromkeys(order))).encode()


def test_same_answers_whatever_the_concurrency_and_dataset_order(vllm_server: ServerHandle, data_root: Path,
                                                                 tmp_path: Path) -> None:
    one = _samples(vllm_server, data_root, tmp_path / "c1", "mmlu_gen mmlu_ppl", "college_physics,marketing", 1, 1)
    many = _samples(vllm_server, data_root, tmp_path / "c64", "mmlu_ppl mmlu_gen", "marketing,college_physics", 64, 4)
    *one_lines, one_order = one.splitlines()
    *many_lines, many_order = many.splitlines()
    assert json.loads(one_order) != json.loads(many_order)  # the datasets really ran in another order
    assert len(one_lines) == 2 * 4 + 2 * 4  # both datasets, both subjects, 4 samples each
    assert_same_answers(b"\n".join(one_lines), b"\n".join(many_lines))
