"""Faults between OpenCompass and the REAL vLLM server, injected by a proxy of ours.

(a) 20% of requests fail their first attempt (HTTP 500 or delayed past the timeout): the
    final samples.jsonl equals a clean run's.
(b)+(c) the server is killed mid-run and does not come back: the run stops with exit 3 (evaluation failed), a
    message naming the failed requests and how to resume, and no scores; the server is
    restarted, the run folder moved elsewhere and its data copied elsewhere, the run resumed:
    samples.jsonl equals the clean run's, and no request answered before the kill reached the
    server again (the moved folder's request cache answered them). Data whose hashes differ
    from the run's are refused.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections import Counter
from pathlib import Path

import pytest

from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.errors import EXIT_EVAL_FAILED
from benchmark_eval.paths import demo_model_dir
from benchmark_eval.server import ServerHandle, free_port, start_server, stop_server
from benchmark_eval.settings import ServerSettings

from ..conftest import assert_one_line_error, assert_same_answers, finished_run, run_cli
from ..fault_proxy import EveryFifthFirstAttempt, FaultProxy

SLICE = {"eval_datasets": "mmlu_gen mmlu_ppl", "subjects": "abstract_algebra,anatomy", "limit": "3",
         "max_out_len": "24", "batch_size": "4"}


def _env(port: int, data_root: Path, results: Path, **extra: str) -> dict[str, str]:
    return {"service_port": str(port), "model_name": SERVED_NAME, "COMPASS_DATA_CACHE": str(data_root),
            "results_dir": str(results), **SLICE, **extra}


@pytest.fixture(scope="module")
def clean_samples(vllm_server: ServerHandle, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    port = int(vllm_server.base_url.rsplit(":", 1)[1])
    done = run_cli(["run"], _env(port, data_root, tmp_path_factory.mktemp("clean")), timeout=900)
    return (finished_run(done) / "samples.jsonl").read_bytes()


def test_transient_faults_change_nothing(vllm_server: ServerHandle, data_root: Path, tmp_path: Path, clean_samples: bytes) -> None:
    # The timeout leaves room for the slowest real answer: with datasets in flight together, a
    # PPL item's four prompts can wait behind generations for more than 8 s on this CPU server.
    with FaultProxy(vllm_server.base_url, EveryFifthFirstAttempt(), delay_s=40) as proxy:
        proxy.slow_s = 25  # near the client's 30 s timeout, from the proxy's side of the wire
        done = run_cli(["run"], _env(proxy.port, data_root, tmp_path, request_timeout="30"), timeout=900)
    run_dir = finished_run(done)
    assert proxy.faults["500"] >= 1 and proxy.faults["delay"] >= 1, proxy.faults
    total = len(proxy.attempts)
    assert sum(proxy.faults.values()) >= total // 5, (proxy.faults, total)
    assert_same_answers((run_dir / "samples.jsonl").read_bytes(), clean_samples)
    # Every retry has a cause: its injected fault, or a real answer slow enough that the client
    # gave up on it. Every request was answered, and twice only where a slow answer came too late.
    assert max(proxy.attempts.values()) >= 2  # the injected faults were retried
    uncaused = {k: n for k, n in proxy.attempts.items() if n > 1 + proxy.injected[k] + proxy.slow[k]}
    assert uncaused == {}, (uncaused, proxy.slow)
    assert all(1 <= proxy.answered[k] <= 1 + proxy.slow[k] for k in proxy.attempts), (proxy.answered, proxy.slow)


def _server(port: int, state: Path) -> tuple[ServerSettings, ServerHandle]:
    settings = ServerSettings(model_path=demo_model_dir(), served_model_name=SERVED_NAME, port=port, dtype="float32",
                              state_dir=state)
    return settings, start_server(settings)


def test_server_killed_then_resume_sends_only_what_is_missing(data_root: Path, tmp_path: Path, clean_samples: bytes) -> None:
    port = free_port()
    settings, handle = _server(port, tmp_path / "server")
    try:
        with FaultProxy(handle.base_url) as proxy:
            def kill_after(answered: int) -> None:
                if answered == 7:  # mid-run: inside the first dataset
                    os.killpg(handle.pid, signal.SIGKILL)

            proxy.after_answer = kill_after
            env = _env(proxy.port, data_root, tmp_path / "results", request_timeout="20", max_retries="2")
            failed = run_cli(["run"], env, timeout=900)
            # (c) the server never came back: non-zero, clear, and no scores anywhere.
            assert failed.returncode == EXIT_EVAL_FAILED, failed.stderr[-3000:]
            assert "Traceback" not in failed.stderr
            assert "failed for good" in failed.stderr and "--resume" in failed.stderr
            assert "scores" not in failed.stdout
            (run_dir,) = (tmp_path / "results").glob("*/*/*")
            run = json.loads((run_dir / "run.json").read_text())
            assert run["status"] == "failed" and run["failed_requests"]
            unfinished = {f["dataset"] for f in run["failures"]}
            assert unfinished and all(run["datasets"][abbr]["metrics"] == {} for abbr in unfinished)
            assert not (run_dir / "samples.jsonl").exists()
            answered_before = Counter(proxy.answered)
            attempts_before = Counter(proxy.attempts)
            assert sum(answered_before.values()) >= 7

            stop_server(port, settings.state_dir)  # reap the killed server's record
            settings, handle = _server(port, tmp_path / "server")
            # The folder moves (another path, another name) and its data are found elsewhere:
            # identified by their hashes, they must be the run's.
            moved = tmp_path / "elsewhere" / "the-run"
            moved.parent.mkdir()
            run_dir = run_dir.rename(moved)
            copied = tmp_path / "data-here"
            shutil.copytree(data_root / "data" / "mmlu", copied / "data" / "mmlu")
            altered = copied / "data" / "mmlu" / "test" / "anatomy_test.csv"
            original = altered.read_bytes()
            altered.write_bytes(original.replace(b"A", b"a", 1))
            refused = run_cli(["run", "--resume", str(run_dir)], {"COMPASS_DATA_CACHE": str(copied)}, timeout=300)
            assert_one_line_error(refused, 2, "anatomy_test.csv", "not the run's")
            altered.write_bytes(original)
            resumed = run_cli(["run", "--resume", str(run_dir)], {"COMPASS_DATA_CACHE": str(copied)}, timeout=900)
            assert finished_run(resumed) == run_dir
            assert_same_answers((run_dir / "samples.jsonl").read_bytes(), clean_samples)
            sent_again = [k for k in answered_before if proxy.attempts[k] > attempts_before[k]]
            assert sent_again == [], f"{len(sent_again)} finished request(s) were sent again"
            assert sum(proxy.attempts.values()) > sum(attempts_before.values())  # the missing ones were sent
            resumed_run = json.loads((run_dir / "run.json").read_text())
            assert resumed_run["status"] == "ok" and "failed_requests" not in resumed_run
    finally:
        stop_server(port, settings.state_dir)
