"""Both kinds of test over a running vLLM OpenAI-compatible server.

Generation posts to `/v1/chat/completions` (messages built by OpenCompass's own OpenAI-class
conversion, through `compat.ChatMessages`); log-likelihood scoring, which no OpenCompass API class offers, posts token-id
prompts to `/v1/completions` with `prompt_logprobs`, so the server scores exactly the ids of
the shared rule. Both go through `ApiClient`: `max_workers` requests in flight across the
whole dataset, timeouts, retries with backoff, and the run's request cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opencompass.models.base_api import BaseAPIModel

from ..compat import ChatMessages
from .api_client import ApiClient, RequestFailed
from .continuation import ContinuationRequest, ContinuationScore, TokenizedRequest, score_from_logprobs, tokenize_request
from .progress import tick
from .tokenizers import load_tokenizer


class VLLMApi(BaseAPIModel):
    """`path` is the served model's name; `tokenizer_path` a local copy of its tokenizer."""

    is_api = True

    def __init__(self, path: str, openai_api_base: str, tokenizer_path: str, key: str = "EMPTY",
                 endpoints: list[str] | None = None, temperature: float = 0.0, max_seq_len: int = 2048,
                 max_workers: int = 16, query_per_second: int = 1000, retry: int = 3, timeout: float = 600,
                 cache_path: str | None = None, log_dir: str | None = None, backoff_s: float = 1.0,
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
        self.messages = ChatMessages(self.get_token_len)

    def get_token_len(self, prompt: str) -> int:
        # As OpenCompass's OpenAI class counts with a Hugging Face tokenizer (special tokens included).
        return len(load_tokenizer(self.tokenizer_path)(prompt).input_ids)

    def _client(self) -> ApiClient:
        return ApiClient(self.endpoints, self.key, timeout=self.timeout, retries=int(self.retry),
                         concurrency=int(self.max_workers), cache_path=self.cache_path,
                         log_dir=self.log_dir, backoff_s=self.backoff_s)

    def generate(self, inputs: list[Any], max_out_len: int, **kwargs: Any) -> list[str]:
        bodies = [self._chat_body(prompt, max_out_len) for prompt in inputs]
        client = self._client()
        try:
            answers = client.map(lambda body: self._post(client, "/chat/completions", body), bodies)
        finally:
            client.close()
        return [(a["choices"][0]["message"].get("content") or "") if a["choices"] else "" for a in answers]

    def _chat_body(self, prompt: Any, max_out_len: int) -> dict[str, Any]:
        messages, max_out_len = self.messages.build(prompt, max_out_len, self.max_seq_len)
        return {"model": self.path, "max_tokens": max_out_len, "n": 1, "temperature": self.temperature,
                "messages": messages}

    @staticmethod
    def _post(client: ApiClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = client.post(path, body)
        tick()
        return answer

    def score_continuations(self, requests: Sequence[ContinuationRequest]) -> list[ContinuationScore]:
        tokenizer = load_tokenizer(self.tokenizer_path)
        tokenized = [tokenize_request(tokenizer, r) for r in requests]
        client = self._client()
        try:
            return client.map(lambda r: self._score_one(client, r), tokenized)
        finally:
            client.close()

    def _score_one(self, client: ApiClient, request: TokenizedRequest) -> ContinuationScore:
        body = {"model": self.path, "prompt": request.ids, "max_tokens": 1, "temperature": 0, "prompt_logprobs": 0}
        entries = self._post(client, "/completions", body)["choices"][0]["prompt_logprobs"]
        start = len(request.context_ids)
        return score_from_logprobs([_logprob_of(entries[i], token) for i, token in enumerate(request.continuation_ids, start)])


def _logprob_of(entry: dict[str, Any] | None, token: int) -> float:
    if not entry or str(token) not in entry:
        raise RequestFailed(f"the server returned no log-prob for prompt token {token}")
    return float(entry[str(token)]["logprob"])
