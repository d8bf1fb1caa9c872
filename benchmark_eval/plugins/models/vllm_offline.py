"""vLLM's offline engine (no server) as an OpenCompass model class.

The engine runs in the vLLM environment as a worker process (`workers/vllm_engine.py`);
this class tokenizes with the model's tokenizer (the shared rule's exact ids), sends token
ids, and reads back prompt log-probs or generated text with its trace (finish reason, length,
and with `logprobs` >= 1 each token's log-prob and top-k alternatives), written by prompt hash
as the API model class writes them (`results.traces`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ... import workers
from ...handoff import generations_folder
from ...results.samples import prompt_sha256
from ...results.traces import TraceWriter, compact_trace
from .chat_prompts import HFType, generation_ids
from .continuation import (
    ContinuationRequest,
    ContinuationScore,
    TokenizedRequest,
    logprobs_along_trie,
    next_token_questions,
    score_from_logprobs,
    tokenized_items,
)
from .devices import engine_env
from .local import LocalModel
from .progress import tick

_WORKER = Path(workers.__file__).resolve().parent / "vllm_engine.py"


class EngineFailed(RuntimeError):
    pass


class VLLMOffline(LocalModel):
    def __init__(self, path: str, vllm_python: str, hf_type: HFType = "chat", dtype: str = "auto",
                 tensor_parallel_size: int = 1, max_seq_len: int = 2048, scoring_batch_size: int = 64,
                 device: str = "cpu", env: dict[str, str] | None = None, logprobs: int = 0, ppl_requests: str = "next_token",
                 log_dir: str | None = None, meta_template: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(path, hf_type, max_seq_len, meta_template)
        self.scoring_batch_size = scoring_batch_size
        self.logprobs = logprobs
        self.ppl_requests = ppl_requests  # next_token, or prompt_logprobs: every choice's whole prompt
        self.traces = TraceWriter(generations_folder(log_dir)) if log_dir else None
        options = {"model": path, "dtype": dtype, "max_model_len": max_seq_len,
                   "tensor_parallel_size": tensor_parallel_size, "enforce_eager": device == "cpu"}
        # Its own process group, so closing it also reaches the engine's child processes.
        self._engine = subprocess.Popen([vllm_python, str(_WORKER), json.dumps(options)], text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=engine_env(device, os.environ, env or {}),
                                        start_new_session=True, preexec_fn=_die_with_parent)
        weakref.finalize(self, _close_engine, self._engine)
        ready = self._engine.stdout.readline() if self._engine.stdout else ""
        if not ready.strip():
            raise EngineFailed(f"the vLLM engine did not start (exit code {self._engine.wait()}); see the task log above")

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._engine.stdin is not None and self._engine.stdout is not None
        self._engine.stdin.write(json.dumps(request) + "\n")
        self._engine.stdin.flush()
        line = self._engine.stdout.readline()
        if not line:
            raise EngineFailed(f"the vLLM engine died (exit code {self._engine.wait()}); see the task log above")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise EngineFailed(f"the vLLM engine failed: {answer['error']}")
        return answer

    def score_continuations(self, requests: Sequence[ContinuationRequest]) -> list[ContinuationScore]:
        items = tokenized_items(self.tokenizer, requests)
        scores: list[ContinuationScore] = []
        for chunk in _chunks(items, self.scoring_batch_size):
            # Next-token scoring: one question per node of an item's token trie (MMLU: the context
            # once); an item whose trie is large, or every item under prompt_logprobs, whole prompts.
            tries = [next_token_questions(item) if self.ppl_requests == "next_token" else None for item in chunk]
            asked = [([*item[0].context_ids, *prefix], tokens) for item, nodes in zip(chunk, tries) if nodes is not None
                     for prefix, tokens in nodes.items()]
            nexts = iter(self._ask({"op": "next_token", "prompts": [ids for ids, _ in asked],
                                    "tokens": [tokens for _, tokens in asked]})["logprobs"] if asked else [])
            whole = [r for item, nodes in zip(chunk, tries) if nodes is None for r in item]
            prompts = iter(self._ask({"op": "score", "prompts": [r.ids for r in whole]})["logprobs"] if whole else [])
            for item, nodes in zip(chunk, tries):
                if nodes is not None:
                    scores += map(score_from_logprobs, logprobs_along_trie(item, nodes, [next(nexts) for _ in nodes]))
                    continue
                for request in item:  # logprobs[i] belongs to token i + 1: the continuation's are the last ones
                    scores.append(score_from_logprobs(next(prompts)[len(request.context_ids) - 1:]))
            tick(sum(len(item) for item in chunk))
        return scores

    def generate(self, inputs: list[Any], max_out_len: int, **kwargs: Any) -> list[str]:
        answer = self._ask({"op": "generate", "prompts": generation_ids(self.tokenizer, inputs, self.hf_type),
                            "max_tokens": max_out_len, "logprobs": self.logprobs})
        if self.traces is not None:  # before the texts go back: a sample never has a text without its trace
            self.traces.write((prompt_sha256(prompt), compact_trace(t["finish_reason"], t["output_tokens"], t["content"]))
                              for prompt, t in zip(inputs, answer["traces"]))
        tick(len(inputs))
        return list(answer["texts"])


def _chunks(items: list[list[TokenizedRequest]], prompts: int) -> Iterator[list[list[TokenizedRequest]]]:
    """Whole items, about `prompts` choices per engine call."""
    chunk: list[list[TokenizedRequest]] = []
    for item in items:
        chunk.append(item)
        if sum(len(i) for i in chunk) >= prompts:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _die_with_parent() -> None:
    """In the worker, before exec: SIGTERM when its parent (OpenCompass's task) dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the finalizer below still closes it on a normal exit


def _close_engine(engine: subprocess.Popen[str]) -> None:
    """End of stdin asks the worker to stop its engine; the group kill catches what remains."""
    if engine.poll() is None and engine.stdin:
        engine.stdin.close()
        try:
            engine.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(engine.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
