"""The model's client in a process of its own: the same answers, cache and failures as the
client in-process, from threads calling at once; a child that dies fails its callers, no hang."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from benchmark_eval import handoff
from benchmark_eval.handoff import PROGRESS_ENV
from benchmark_eval.plugins.models.answers import generated_tokens, generation
from benchmark_eval.plugins.models.api_client import ApiClient, ApiRequest, RequestFailed
from benchmark_eval.plugins.models.client_process import ClientProcess
from benchmark_eval.plugins.models.progress import read_count, tick_each
from benchmark_eval.server import ServerHandle, free_port


def _requests(server: ServerHandle, words: list[str]) -> list[ApiRequest]:
    return [ApiRequest("/chat/completions", {"model": server.served_model_name, "max_tokens": 6, "temperature": 0,
                                             "messages": [{"role": "user", "content": f"Say {w}."}]},
                       keep=generation, keep_name="generation-trace", output_tokens=generated_tokens) for w in words]


def test_answers_cache_and_logs_are_those_of_the_client_in_process(vllm_server: ServerHandle, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    progress = tmp_path / "progress"
    progress.write_bytes(b"")
    monkeypatch.setenv(PROGRESS_ENV, str(progress))  # the child inherits it, as OpenCompass's does
    words = [["red", "blue", "green"], ["one", "two"], ["cat", "dog", "red"]]  # "red" twice: one answer, from the cache
    remote = ClientProcess(base_urls=vllm_server.base_url + "/v1", api_key="EMPTY", timeout=120, retries=0,
                           concurrency=4, cache_path=tmp_path / "remote.sqlite", log_dir=tmp_path / "remote")
    with ThreadPoolExecutor(3) as callers:  # datasets in flight call at once
        answers = list(callers.map(lambda w: remote.post_all(_requests(vllm_server, w), progress=partial(tick_each, 2)), words))
    remote.close()
    local = ApiClient(vllm_server.base_url + "/v1", "EMPTY", timeout=120, retries=0, concurrency=4,
                      cache_path=tmp_path / "local.sqlite")
    expected = [local.post_all(_requests(vllm_server, w)) for w in words]
    local.close()
    assert answers == expected and answers[0][0] == answers[2][2] and answers[0][0]["trace"]["output_tokens"]
    assert read_count(progress) == 2 * 8  # every answer told, cached ones included, in the caller's unit
    batches = [json.loads(line) for line in (tmp_path / "remote" / "request_batches.jsonl").read_text().splitlines()]
    assert sorted(b["items"] for b in batches) == [2, 3, 3]
    again = ClientProcess(base_urls=f"http://127.0.0.1:{free_port()}/v1", api_key="EMPTY", timeout=5, retries=0,
                          concurrency=2, cache_path=tmp_path / "remote.sqlite")
    assert again.post_all(_requests(vllm_server, words[0])) == answers[0]  # all from the cache: nothing sent
    again.close()


def test_a_failed_request_raises_in_the_caller_and_is_logged_by_the_prestarted_child(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenCompass's process starts the child before "go"; the first client takes it and hands
    it its settings (here: the log folder, the retries)."""
    from benchmark_eval.plugins.models import client_process

    monkeypatch.setenv(handoff.PRESTART_CLIENT_ENV, "1")
    client_process.prestart()
    ((waiting, _),) = client_process._prestarted
    remote = ClientProcess(base_urls=f"http://127.0.0.1:{free_port()}/v1", api_key="EMPTY", timeout=5, retries=1,
                           concurrency=2, log_dir=tmp_path, backoff_s=0.05)
    assert remote._process is waiting and not client_process._prestarted
    with pytest.raises(RequestFailed, match="failed after 2 attempt"):
        remote.post_all([ApiRequest("/chat/completions", {"x": 1})])
    remote.close()
    (failed,) = [json.loads(line) for line in (tmp_path / "failed_requests.jsonl").read_text().splitlines()]
    assert "ClientConnectorError" in failed["reason"]


def test_a_child_that_dies_fails_every_waiting_caller(tmp_path: Path) -> None:
    remote = ClientProcess(base_urls=f"http://127.0.0.1:{free_port()}/v1", api_key="EMPTY", timeout=5, retries=5,
                           concurrency=2, backoff_s=30)  # the calls wait in their backoff
    errors: list[BaseException] = []

    def call() -> None:
        try:
            remote.post_all([ApiRequest("/chat/completions", {"x": threading.get_ident()})])
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    callers = [threading.Thread(target=call) for _ in range(3)]
    for thread in callers:
        thread.start()
    time.sleep(3)
    assert remote._process.pid is not None
    os.kill(remote._process.pid, signal.SIGKILL)
    started = time.monotonic()
    for thread in callers:
        thread.join(20)
    assert time.monotonic() - started < 15 and len(errors) == 3
    assert all(isinstance(e, RequestFailed) and "exit code -9" in str(e) for e in errors)
    with pytest.raises(RequestFailed, match="process ended"):  # and any later call at once
        remote.post_all([ApiRequest("/chat/completions", {"x": 0})])
    remote.close()
