"""vLLM's offline engine behind a line protocol, run in the vLLM environment.

vLLM and OpenCompass cannot share an environment (their transformers pins differ), so the
OpenCompass model class `benchmark_eval.plugins.models.vllm_offline.VLLMOffline` starts this file
with the vLLM interpreter and talks JSON lines to it. It is run by path and imports nothing
of benchmark_eval, only the standard library and vLLM.

argv[1]: JSON engine options (model, dtype, max_model_len, tensor_parallel_size, enforce_eager, seed).
stdin:   {"op": "score", "prompts": [[token ids], ...]}
         {"op": "generate", "prompts": [[token ids], ...], "max_tokens": N, "logprobs": K}
stdout:  {"ready": true, "vllm_version": ...} once, then one answer line per request:
         {"logprobs": [[log p(token i | tokens < i) for i >= 1], ...]}, or
         {"texts": [...], "traces": [{"finish_reason", "output_tokens", "content"}, ...]} where
         content is None (K = 0) or, per generated token, {"token", "logprob", "top_logprobs":
         [{"token", "logprob"}, ...K]} (the server's chat `logprobs.content` shape),
         or {"error": "..."}. Everything else vLLM prints goes to stderr.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any


def _end_group(*_: object) -> None:
    # The caller died (PR_SET_PDEATHSIG) or asked us to stop: take the engine's processes
    # with us; they share this worker's process group.
    os.killpg(0, signal.SIGKILL)


def _trace(output: Any, k: int) -> dict[str, Any]:
    """One generation's finish reason, length and (k >= 1) per-token log-probs with the top k."""
    content = None
    if k and output.logprobs is not None:
        content = []
        for token_id, entries in zip(output.token_ids, output.logprobs):
            top = sorted(entries.values(), key=lambda e: e.rank)[:k]
            content.append({"token": entries[token_id].decoded_token or "", "logprob": entries[token_id].logprob,
                            "top_logprobs": [{"token": e.decoded_token or "", "logprob": e.logprob} for e in top]})
    return {"finish_reason": output.finish_reason, "output_tokens": len(output.token_ids), "content": content}


def _next_token_logprobs(llm: Any, sampling_params: Any, contexts: list[Any], tokens: list[list[int]]) -> list[list[float]]:
    """Per context, the log-probs of the given tokens as its next token (vLLM's raw log-probs:
    the model's log-softmax), one forward pass per context."""
    try:  # vLLM with logprob_token_ids: exactly these ids, one request per context
        params = [sampling_params(max_tokens=1, temperature=0, logprobs=len(ids), logprob_token_ids=list(ids)) for ids in tokens]
    except TypeError:
        params = None
    if params is not None:
        outputs = llm.generate(contexts, params, use_tqdm=False)
        return [[out.outputs[0].logprobs[0][t].logprob for t in ids] for out, ids in zip(outputs, tokens)]
    # An older vLLM: each token forced in turn (the prefix cache computes each context once).
    pairs = [(context, t) for context, ids in zip(contexts, tokens) for t in ids]
    forced = [sampling_params(max_tokens=1, temperature=0, logprobs=0, allowed_token_ids=[t]) for _, t in pairs]
    outputs = iter(llm.generate([context for context, _ in pairs], forced, use_tqdm=False))
    return [[next(outputs).outputs[0].logprobs[0][t].logprob for t in ids] for ids in tokens]


def main() -> None:
    options = json.loads(sys.argv[1])
    # Keep stdout for the protocol: whatever vLLM writes to fd 1 goes to stderr instead.
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)

    signal.signal(signal.SIGTERM, _end_group)
    import vllm
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    llm = LLM(model=options["model"], tokenizer=options["model"], dtype=options.get("dtype", "auto"),
              max_model_len=options.get("max_model_len"), tensor_parallel_size=options.get("tensor_parallel_size", 1),
              enforce_eager=options.get("enforce_eager", False), seed=options.get("seed", 0),
              skip_tokenizer_init=False)
    signal.signal(signal.SIGTERM, _end_group)  # vLLM may have installed its own
    print(json.dumps({"ready": True, "vllm_version": vllm.__version__}), file=protocol)

    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            prompts = [TokensPrompt(prompt_token_ids=ids) for ids in request["prompts"]]
            if request["op"] == "score":
                params = SamplingParams(max_tokens=1, temperature=0, prompt_logprobs=0)
                outputs = llm.generate(prompts, params, use_tqdm=False)
                answer: dict[str, Any] = {"logprobs": [
                    [entry[token].logprob for entry, token in zip(out.prompt_logprobs[1:], ids[1:])]
                    for out, ids in zip(outputs, request["prompts"])]}
            elif request["op"] == "next_token":
                answer = {"logprobs": _next_token_logprobs(llm, SamplingParams, prompts, request["tokens"])}
            elif request["op"] == "generate":
                k = int(request.get("logprobs") or 0)
                params = SamplingParams(max_tokens=request["max_tokens"], temperature=0, logprobs=k or None)
                outputs = llm.generate(prompts, params, use_tqdm=False)
                answer = {"texts": [out.outputs[0].text for out in outputs],
                          "traces": [_trace(out.outputs[0], k) for out in outputs]}
            else:
                answer = {"error": f"unknown op {request['op']!r}"}
        except Exception as error:  # answer it; the caller decides what a failure means
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), file=protocol)
    protocol.flush()
    # Stop the engine's own processes first: skipping this leaves them running (about 4 GB
    # each on CPU); then exit hard, as vLLM's interpreter-exit hooks abort on some builds.
    engine_core = getattr(llm.llm_engine, "engine_core", None)
    if engine_core is not None and hasattr(engine_core, "shutdown"):
        engine_core.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
