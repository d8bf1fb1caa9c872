"""Both kinds of test over a running vLLM OpenAI-compatible server.

Generation posts to `/v1/chat/completions` (messages built by OpenCompass's own OpenAI
class); log-likelihood scoring, which no OpenCompass API class offers, posts token-id
prompts to `/v1/completions` with `prompt_logprobs`, so the server scores exactly the ids of
the shared rule. Both go through `ApiClient`: `max_workers` requests in flight across the
whole dataset, timeouts, retries with backoff, and the run's request cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opencompass.models import OpenAISDK

from .api_client import ApiClient, RequestFailed
from .continuation import ContinuationRequest, ContinuationScore, TokenizedRequest, score_from_logprobs, tokenize_request
from .progress import tick
from .tokenizers import load_tokenizer


class VLLMApi(OpenAISDK):
    def __init__(self, *args: Any, cache_path: str | None = None, log_dir: str | None = None,
                 backoff_s: float = 1.0, endpoints: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoints = endpoints or [self.openai_api_base]
        self.cache_path = Path(cache_path) if cache_path else None
        self.log_dir = Path(log_dir) if log_dir else None
        self.backoff_s = backoff_s

    def _client(self) -> ApiClient:
        return ApiClient(self.endpoints, self.keys[0], timeout=self.timeout, retries=int(self.retry),
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
        messages, max_out_len = self._preprocess_messages(prompt, max_out_len, self.max_seq_len, self.mode,
                                                          self.get_token_len)
        return {"model": self.path, "max_tokens": max_out_len, "n": 1, "temperature": self.temperature,
                "messages": self._messages_to_chat_completions(messages)}

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
