"""The request client against the real server: identical requests go out once; the cache answers."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from benchmark_eval.plugins.models.api_client import ApiClient, ApiRequest, RequestFailed
from benchmark_eval.server import ServerHandle, free_port


def _body(server: ServerHandle, text: str) -> dict:
    return {"model": server.served_model_name, "messages": [{"role": "user", "content": text}], "max_tokens": 8,
            "temperature": 0}


def test_identical_requests_are_sent_once_and_cached(vllm_server: ServerHandle, tmp_path: Path) -> None:
    cache = tmp_path / "requests.sqlite"
    requests = [ApiRequest("/chat/completions", _body(vllm_server, t)) for t in ("Name a colour.", "Name a fruit.")] * 4
    client = ApiClient(vllm_server.base_url + "/v1", "EMPTY", timeout=120, retries=0, concurrency=8, cache_path=cache,
                       log_dir=tmp_path)
    told: list[int] = []
    answers = client.post_all(requests, progress=told.append)
    client.close()
    assert client.sent == 2 and sum(told) == 2  # two distinct requests answered
    assert answers[0] == answers[2] == answers[4] and answers[1] == answers[3]
    (batch,) = [json.loads(line) for line in (tmp_path / "request_batches.jsonl").read_text().splitlines()]
    assert batch["items"] == 8 and batch["sent"] == 2

    again = ApiClient(vllm_server.base_url + "/v1", "EMPTY", timeout=120, retries=0, concurrency=2, cache_path=cache)
    assert again.post_all(requests) == answers
    # What the caller keeps is part of the key: a different keep is a different request.
    kept = again.post_all([ApiRequest(r.path, r.body, keep=lambda raw: json.loads(raw)["choices"][0]["message"]["content"],
                                      keep_name="text") for r in requests[:2]])
    again.close()
    assert again.sent == 2 and kept == [a["choices"][0]["message"]["content"] for a in answers[:2]]
    with sqlite3.connect(cache) as db:  # the exact request is kept beside its answer
        stored = [json.loads(r[0]) for r in db.execute("SELECT request FROM answers")]
    assert sorted(r["body"]["messages"][0]["content"] for r in stored) == ["Name a colour."] * 2 + ["Name a fruit."] * 2


def test_refused_connection_fails_after_retries_and_is_logged(tmp_path: Path) -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}/v1", "EMPTY", timeout=5, retries=2, concurrency=2,
                       log_dir=tmp_path, backoff_s=0.05)
    with pytest.raises(RequestFailed, match="failed after 3 attempt"):
        client.post_all([ApiRequest("/chat/completions", {"x": 1}), ApiRequest("/chat/completions", {"x": 2})])
    client.close()
    failed = [json.loads(line) for line in (tmp_path / "failed_requests.jsonl").read_text().splitlines()]
    assert failed and all("ClientConnectorError" in f["reason"] for f in failed)


def test_a_rejected_request_is_not_retried(vllm_server: ServerHandle, tmp_path: Path) -> None:
    client = ApiClient(vllm_server.base_url + "/v1", "EMPTY", timeout=60, retries=3, concurrency=1, log_dir=tmp_path)
    with pytest.raises(RequestFailed, match="rejected, HTTP 4"):
        client.post("/chat/completions", {"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]})
    client.close()
    assert client.sent == 1
