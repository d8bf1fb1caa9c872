"""Concurrency changes no answer: samples.jsonl at 1 and 16 requests in flight, real server, fp32.

What holds (and is asserted): the same generated text, extracted answers, chosen choices and
scores, and log-likelihoods within LOGLIK_TOLERANCE. Not bit identity: vLLM batches whatever
is in flight and its CPU kernels round by batch shape (seen: -0.8086103 vs -0.8086067 on a
busy machine). vLLM's batch-invariant mode (VLLM_BATCH_INVARIANT=1) exists only for GPUs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark_eval.server import ServerHandle

from ..conftest import assert_same_answers, finished_run, run_cli

pytestmark = [pytest.mark.server, pytest.mark.opencompass]


def _samples(server: ServerHandle, data_root: Path, results: Path, batch_size: int) -> bytes:
    done = run_cli(["run"], {
        "service_port": server.base_url.rsplit(":", 1)[1], "model_name": server.served_model_name,
        "eval_datasets": "mmlu_gen mmlu_ppl", "subjects": "college_physics,marketing", "limit": "4", "max_out_len": "32",
        "batch_size": str(batch_size), "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(results)}, timeout=900)
    return (finished_run(done) / "samples.jsonl").read_bytes()


def test_same_answers_at_concurrency_1_and_16(vllm_server: ServerHandle, data_root: Path, tmp_path: Path) -> None:
    one = _samples(vllm_server, data_root, tmp_path / "c1", 1)
    sixteen = _samples(vllm_server, data_root, tmp_path / "c16", 16)
    assert one.count(b"\n") == 2 * 4 + 2 * 4  # both datasets, both subjects, 4 samples each
    assert_same_answers(one, sixteen)
