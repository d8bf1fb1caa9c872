"""Both kinds of test over a running vLLM OpenAI-compatible server.

Generation goes through OpenCompass's `OpenAISDK` (chat endpoint, bounded retries, a
timeout). Log-likelihood scoring, which no OpenCompass API class offers, goes to
`/v1/completions` with token-id prompts and `prompt_logprobs`: the server scores exactly
the ids of the shared rule, up to `max_workers` requests in flight across the dataset.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from opencompass.models import OpenAISDK

from .continuation import (ContinuationRequest, ContinuationScore, TokenizedRequest, score_from_logprobs,
                           tokenize_request)
from .progress import tick
from .tokenizers import load_tokenizer


class ScoringRequestFailed(RuntimeError):
    pass


class VLLMApi(OpenAISDK):
    def _generate(self, input, max_out_len: int, temperature: float) -> str:  # type: ignore[no-untyped-def]
        try:
            return super()._generate(input, max_out_len, temperature)
        finally:
            tick()

    def score_continuations(self, requests: Sequence[ContinuationRequest]) -> list[ContinuationScore]:
        tokenizer = load_tokenizer(self.tokenizer_path)
        tokenized = [tokenize_request(tokenizer, r) for r in requests]
        base = self.openai_api_base.rstrip("/")
        with httpx.Client(base_url=base, timeout=self.timeout,
                          headers={"Authorization": f"Bearer {self.keys[0]}"}) as client:
            with ThreadPoolExecutor(max_workers=max(1, int(self.max_workers))) as pool:
                return list(pool.map(lambda r: self._score_one(client, r), tokenized))

    def _score_one(self, client: httpx.Client, request: TokenizedRequest) -> ContinuationScore:
        body = {"model": self.path, "prompt": request.ids, "max_tokens": 1, "temperature": 0,
                "prompt_logprobs": 0}
        attempts = max(1, int(self.retry) + 1)
        for attempt in range(attempts):
            try:
                response = client.post("/completions", json=body)
                if response.status_code < 500:
                    break
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.TransportError as error:  # refused, reset, timed out
                problem = f"{type(error).__name__}: {error}"
            if attempt + 1 < attempts:
                time.sleep(min(2 ** attempt, 30))
        else:
            raise ScoringRequestFailed(f"scoring request failed after {attempts} attempts: {problem}")
        if response.status_code != 200:
            raise ScoringRequestFailed(f"scoring request rejected, HTTP {response.status_code}: {response.text[:300]}")
        entries = response.json()["choices"][0]["prompt_logprobs"]
        start = len(request.context_ids)
        logprobs = [_logprob_of(entries[i], token) for i, token in enumerate(request.continuation_ids, start)]
        tick()
        return score_from_logprobs(logprobs)


def _logprob_of(entry: dict[str, Any] | None, token: int) -> float:
    if not entry or str(token) not in entry:
        raise ScoringRequestFailed(f"the server returned no log-prob for prompt token {token}")
    return float(entry[str(token)]["logprob"])
