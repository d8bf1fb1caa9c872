"""Both kinds of test over a running vLLM OpenAI-compatible server.

Generation posts to `/v1/chat/completions` (messages built by OpenCompass's own OpenAI-class
conversion, through `compat.ChatMessages`); log-likelihood scoring, which no OpenCompass API
class offers, posts token-id prompts to `/v1/completions` with `prompt_logprobs`, so the server
scores exactly the ids of the shared rule: one request per item, its choices as a list of
prompts (they share their context), and only the continuation tokens' log-probs are kept.
A generation's answer is kept with its trace (finish reason, output tokens and, with
`logprobs` >= 1, each token's log-prob and top-k alternatives), written beside OpenCompass's
predictions by prompt hash (`results.traces`).

Everything goes through one `ApiClient` per model, in a process of its own (client_process.py):
`max_workers` requests in flight across every dataset in flight (see `OverlappedInferTask`),
timeouts, retries with backoff, and the run's request cache.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from itertools import groupby
from pathlib import Path
from typing import Any

from opencompass.models.base_api import BaseAPIModel

from ...compat import ChatMessages
from ...handoff import generations_folder
from ...results.samples import prompt_sha256
from .answers import continuation_logprobs, generated_tokens, generation, texts, texts_after_traces
from .api_client import ApiRequest
from .client_process import ClientProcess
from .continuation import ContinuationRequest, ContinuationScore, TokenizedRequest, score_from_logprobs, tokenize_requests
from .progress import tick, tick_each
from .tokenizers import encode, load_tokenizer, token_count_bound, token_counts

_ITEMS_PER_CHUNK = 256  # a fixed size: chunks, hence requests and their cache keys, do not depend on concurrency


class VLLMApi(BaseAPIModel):
    """`path` is the served model's name; `tokenizer_path` a local copy of its tokenizer."""

    is_api = True

    def __init__(self, path: str, openai_api_base: str, tokenizer_path: str, key: str = "EMPTY",
                 endpoints: list[str] | None = None, temperature: float = 0.0, max_seq_len: int = 2048,
                 max_workers: int = 16, query_per_second: int = 1000, retry: int = 3, timeout: float = 600,
                 cache_path: str | None = None, log_dir: str | None = None, backoff_s: float = 1.0,
                 datasets_in_flight: int = 1, logprobs: int = 0, meta_template: dict[str, Any] | None = None) -> None:
        super().__init__(path=path, max_seq_len=max_seq_len, meta_template=meta_template, retry=retry,
                         query_per_second=query_per_second)
        self.key = key
        self.endpoints = endpoints or [openai_api_base]
        self.tokenizer_path = tokenizer_path
        self.temperature = temperature
        self.max_workers = max_workers
        self.timeout = timeout
        self.cache_path = Path(cache_path) if cache_path else None
        self.log_dir = Path(log_dir) if log_dir else None
        self.backoff_s = backoff_s
        self.datasets_in_flight = datasets_in_flight  # read by OverlappedInferTask
        self.logprobs = logprobs  # top-k alternatives per generated token; 0: no log-probs asked
        self.trace_folder = generations_folder(self.log_dir) if self.log_dir else None
        self.messages = ChatMessages(self.get_token_len, upper_bound=self._token_bound)
        # OpenCompass counts a prompt's tokens up to three times (its length check, then the
        # OpenAI-class truncation): count each prompt once.
        self._token_len = lru_cache(maxsize=8192)(self._count_tokens)
        self._client_lock = threading.Lock()
        self._api: ClientProcess | None = None

    def get_token_len(self, prompt: str) -> int:
        return self._token_len(prompt)

    def get_token_ids(self, prompts: list[str]) -> list[array[int]]:
        """The ids of each prompt (special tokens included), in batches, 4 bytes an id: the length
        check keeps them so that scoring does not encode the same text again."""
        tokenizer = load_tokenizer(self.tokenizer_path)
        return [array("i", ids) for start in range(0, len(prompts), 1024) for ids in encode(tokenizer, prompts[start:start + 1024])]

    def _token_bound(self) -> Callable[[str], int] | None:
        return token_count_bound(load_tokenizer(self.tokenizer_path))

    def _count_tokens(self, prompt: str) -> int:
        # As OpenCompass's OpenAI class counts with a Hugging Face tokenizer (special tokens included).
        return token_counts(load_tokenizer(self.tokenizer_path), [prompt])[0]

    @property
    def client(self) -> ClientProcess:
        """One client for every dataset this model serves: one bound on requests in flight. It runs
        in a process of its own (client_process.py), beside this one's prompts and evaluations."""
        with self._client_lock:
            if self._api is None:
                self._api = ClientProcess(base_urls=self.endpoints, api_key=self.key, timeout=self.timeout,
                                          retries=int(self.retry), concurrency=int(self.max_workers),
                                          cache_path=self.cache_path, log_dir=self.log_dir, backoff_s=self.backoff_s)
            return self._api

    def close(self) -> None:
        with self._client_lock:
            if self._api is not None:
                self._api.close()
                self._api = None

    def generate(self, inputs: list[Any], max_out_len: int, **kwargs: Any) -> list[str]:
        requests = [ApiRequest("/chat/completions", self._chat_body(prompt, max_out_len), keep=generation,
                               keep_name="generation-trace", output_tokens=generated_tokens)
                    for prompt in inputs]
        # The traces are written where the answers are, and only the texts come back.
        then = partial(texts_after_traces, self.trace_folder, [prompt_sha256(p) for p in inputs]) if self.trace_folder else texts
        generated: list[str] = self.client.post_all(requests, progress=tick, then=then)
        return generated

    def _chat_body(self, prompt: Any, max_out_len: int) -> dict[str, Any]:
        messages, max_out_len = self.messages.build(prompt, max_out_len, self.max_seq_len)
        body = {"model": self.path, "max_tokens": max_out_len, "n": 1, "temperature": self.temperature,
                "messages": messages}
        if self.logprobs > 0:  # the sampled token's log-prob and the top-k alternatives (greedy output unchanged: tested)
            body |= {"logprobs": True, "top_logprobs": self.logprobs}
        return body

    def score_continuations(self, requests: Sequence[ContinuationRequest]) -> list[ContinuationScore]:
        # An item's choices (consecutive requests with one context) make one request. Items go in
        # chunks, so that the token ids of a whole dataset never sit in memory at once; the other
        # datasets in flight keep the server busy at a chunk's tail.
        items = [list(group) for _, group in groupby(requests, key=lambda r: r.context)]
        scores: list[ContinuationScore] = []
        per_item = len(requests) // max(1, len(items))  # progress counts prompts
        for start in range(0, len(items), _ITEMS_PER_CHUNK):
            chunk = items[start:start + _ITEMS_PER_CHUNK]
            tokenized = iter(tokenize_requests(load_tokenizer(self.tokenizer_path), [r for item in chunk for r in item]))
            scoring = [self._scoring_request([next(tokenized) for _ in item]) for item in chunk]
            answers = self.client.post_all(scoring, progress=partial(tick_each, per_item))
            scores += [score_from_logprobs(logprobs) for answer in answers for logprobs in answer]
        return scores

    def _scoring_request(self, item: list[TokenizedRequest]) -> ApiRequest:
        body = {"model": self.path, "prompt": [r.ids for r in item], "max_tokens": 1, "temperature": 0, "prompt_logprobs": 0}
        spans = [(len(r.context_ids), list(r.continuation_ids)) for r in item]
        # The continuations' positions are part of what is kept, so part of the cache key.
        return ApiRequest("/completions", body, keep=partial(continuation_logprobs, spans),
                          keep_name=f"continuation-logprobs:{[start for start, _ in spans]}")
