"""Both kinds of test over a running vLLM OpenAI-compatible server.

Generation posts to `/v1/chat/completions` (messages built by OpenCompass's own OpenAI-class
conversion, through `compat.ChatMessages`); log-likelihood scoring, which no OpenCompass API
class offers, posts token-id prompts to `/v1/completions`, so the server scores exactly the ids
of the shared rule: one request per node of an item's token trie asks for the log-probs of the
tokens that follow it as the next token (`_scoring_requests`); an item with a large trie, or
every item under `ppl_requests=prompt_logprobs`, asks its choices' prompts (one request, a list
of prompts) with `prompt_logprobs`; only the continuation tokens' log-probs are kept.
A generation's answer is kept with its trace (finish reason, output tokens and, with
`logprobs` >= 1, each token's log-prob and top-k alternatives), written beside OpenCompass's
predictions by prompt hash (`results.traces`).

Everything goes through one `ApiClient` per model, in a process of its own (client_process.py):
`max_workers` requests in flight across every dataset in flight (see `OverlappedInferTask`),
timeouts, retries with backoff, and the run's request cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from opencompass.models.base_api import BaseAPIModel

from ...compat import ChatMessages
from ...handoff import generations_folder
from ...results.samples import prompt_sha256
from .answers import (
    continuation_logprobs,
    forced_logprob,
    generated_tokens,
    generation,
    label_logprobs,
    texts,
    texts_after_traces,
)
from .api_client import ApiRequest, RequestFailed
from .client_process import ClientProcess
from .continuation import (
    ContinuationRequest,
    ContinuationScore,
    TokenizedRequest,
    logprobs_along_trie,
    next_token_questions,
    score_from_logprobs,
    tokenize_items,
    tokenized_items,
)
from .progress import tick, tick_each
from .tokenizers import load_tokenizer, token_count_bound, token_counts

_ITEMS_PER_CHUNK = 256  # a fixed size: chunks, hence requests and their cache keys, do not depend on concurrency
def _asked(answer: list[list[float]] | None) -> list[list[float]]:
    """A scoring request's per-choice log-probs; None only from a server that stopped taking
    logprob_token_ids after it took them for the probe."""
    if answer is None:
        raise RequestFailed("the server returned no log-probs for logprob_token_ids, which it took before")
    return answer


class VLLMApi(BaseAPIModel):
    """`path` is the served model's name; `tokenizer_path` a local copy of its tokenizer."""

    is_api = True

    def __init__(self, path: str, openai_api_base: str, tokenizer_path: str, key: str = "EMPTY",
                 endpoints: list[str] | None = None, temperature: float = 0.0, max_seq_len: int = 2048,
                 max_workers: int = 16, query_per_second: int = 1000, retry: int = 3, timeout: float = 600,
                 cache_path: str | None = None, log_dir: str | None = None, backoff_s: float = 1.0,
                 datasets_in_flight: int = 1, logprobs: int = 0, ppl_requests: str = "next_token",
                 meta_template: dict[str, Any] | None = None) -> None:
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
        self.ppl_requests = ppl_requests  # next_token, or prompt_logprobs for every item
        self._label_logprobs: bool | None = None  # does the server take logprob_token_ids? (asked once)
        self._probe_lock = threading.Lock()

    def get_token_len(self, prompt: str) -> int:
        return self._token_len(prompt)

    def tokenize_choices(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[TokenizedRequest]]:
        """The ids each item's choices are scored with (ChoiceLoglikInferencer's length check
        keeps them, so scoring does not encode the same text again)."""
        return tokenize_items(load_tokenizer(self.tokenizer_path), items)

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
        # Items go in chunks: the other datasets in flight keep the server busy at a chunk's tail.
        items = tokenized_items(load_tokenizer(self.tokenizer_path), requests)
        scores: list[ContinuationScore] = []
        for start in range(0, len(items), _ITEMS_PER_CHUNK):
            asked = [self._scoring_requests(item) for item in items[start:start + _ITEMS_PER_CHUNK]]
            scoring = [request for requests_of_item, _ in asked for request in requests_of_item]
            prompts = sum(len(item) for item in items[start:start + _ITEMS_PER_CHUNK])
            answers = iter(self.client.post_all(scoring, progress=partial(tick_each, max(1, round(prompts / len(scoring))))))
            for requests_of_item, combine in asked:
                scores += [score_from_logprobs(logprobs) for logprobs in combine([next(answers) for _ in requests_of_item])]
        return scores

    def _scoring_requests(self, item: list[TokenizedRequest]) -> tuple[list[ApiRequest], Callable[[list[Any]], list[list[float]]]]:
        """The requests that score an item's choices, and how their answers make each choice's
        continuation log-probs.

        Next-token scoring (the default): each continuation token's log-prob is that token's as
        the next one after the context and the continuation's earlier tokens. The choices'
        continuations form a token trie; each of its nodes (a prefix shared by some choices) is one
        request asking for the log-probs of the tokens that follow it there: MMLU's " A" ... " D"
        is one request, C-Eval's " ", "\n", then the letter three. Only those few log-probs come
        back, and the prefix cache computes the shared context once; a request with
        `prompt_logprobs` would have vLLM compute, detokenize and return one per prompt token, and
        skips the prefix cache. Log-probs are vLLM's raw ones (its default `--logprobs-mode
        raw_logprobs`): the model's log-softmax, before any mask. Items whose trie is large (long
        continuations), and `ppl_requests=prompt_logprobs`, ask each choice's whole prompt."""
        nodes = next_token_questions(item) if self.ppl_requests == "next_token" else None
        if nodes is None:  # (an item's choices share their context ids)
            return [self._prompt_logprobs_request(item)], lambda answers: _asked(answers[0])
        context = list(item[0].context_ids)
        if self._takes_label_logprobs(context, nodes[()]):  # a request per node: the log-probs of exactly its tokens
            requests = [self._label_request(context + list(prefix), tokens) for prefix, tokens in nodes.items()]
        else:  # a server without logprob_token_ids: a request per edge, its token the only one allowed
            requests = [ApiRequest("/completions", {"model": self.path, "prompt": context + list(prefix), "max_tokens": 1,
                                                    "temperature": 0, "logprobs": 0, "allowed_token_ids": [token],
                                                    "return_tokens_as_token_ids": True},
                                   keep=forced_logprob, keep_name="forced-logprob")
                        for prefix, tokens in nodes.items() for token in tokens]

        def combine(answers: list[Any]) -> list[list[float]]:
            # Either way the answers, flattened, hold one log-prob per edge, in the nodes' order.
            flat = iter(v[0] for answer in answers for v in _asked(answer))
            return logprobs_along_trie(item, nodes, [[next(flat) for _ in tokens] for tokens in nodes.values()])

        return requests, combine

    def _takes_label_logprobs(self, context: list[int], tokens: list[int]) -> bool:
        """Asked of the server once, by the first item scored this way: its request is the probe,
        and its answer, cached, is that item's (the datasets in flight wait for it: no request is
        sent twice)."""
        with self._probe_lock:
            if self._label_logprobs is None:
                try:
                    [answer] = self.client.post_all([self._label_request(context, tokens)])
                except RequestFailed:  # a server that rejects the field outright
                    answer = None
                self._label_logprobs = answer is not None
            return self._label_logprobs

    def _label_request(self, context: list[int], tokens: list[int]) -> ApiRequest:
        body = {"model": self.path, "prompt": context, "max_tokens": 1, "temperature": 0, "logprobs": len(tokens),
                "logprob_token_ids": tokens, "return_tokens_as_token_ids": True}
        return ApiRequest("/completions", body, keep=partial(label_logprobs, tokens), keep_name=f"label-logprobs:{tokens}")

    def _prompt_logprobs_request(self, item: list[TokenizedRequest]) -> ApiRequest:
        body = {"model": self.path, "prompt": [r.ids for r in item], "max_tokens": 1, "temperature": 0, "prompt_logprobs": 0}
        spans = [(len(r.context_ids), list(r.continuation_ids)) for r in item]
        # The continuations' positions are part of what is kept, so part of the cache key.
        return ApiRequest("/completions", body, keep=partial(continuation_logprobs, spans),
                          keep_name=f"continuation-logprobs:{[start for start, _ in spans]}")
