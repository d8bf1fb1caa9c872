"""The one scoring rule for log-likelihood (PPL) tests, shared by every backend.

A multiple-choice item is scored as the log-likelihood of each choice's continuation given
the context all choices share:

* context = the longest common prefix of the choices' full prompts, with its trailing
  whitespace moved onto the continuations (lm-evaluation-harness's convention: "Answer: "
  + "C" is scored as "Answer:" + " C", the tokens the model would really produce);
* token ids: ids(context) and ids(context + continuation) from the model's own tokenizer;
  the continuation is ids(context + continuation)[len(ids(context)):], or ids(continuation)
  on its own when the tokenizer merges across the boundary;
* score = sum of log p(token | all earlier tokens) over the continuation tokens, summed in
  float64 in token order; the per-token mean is recorded beside it;
* chosen = the choice with the highest sum (ties: the first in the dataset's label order).

Every backend computes log-probs for exactly these ids and nothing else: no padding, and
(for local weights) one sequence per forward pass, so batch size cannot change a score.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .tokenizers import encode


@dataclass(frozen=True)
class ContinuationRequest:
    context: str
    continuation: str
    # ids of context + continuation (special tokens included) where a caller already encoded that
    # text, e.g. for the length check: scoring then does not encode it again. Not part of equality.
    whole_ids: Sequence[int] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TokenizedRequest:
    context_ids: tuple[int, ...]
    continuation_ids: tuple[int, ...]

    @property
    def ids(self) -> list[int]:
        return [*self.context_ids, *self.continuation_ids]


@dataclass(frozen=True)
class ContinuationScore:
    loglik: float
    n_tokens: int

    @property
    def mean(self) -> float:
        return self.loglik / self.n_tokens


class ContinuationScorer(Protocol):
    """What a model class offers to `ChoiceLoglikInferencer` (beside OpenCompass's own API)."""

    def score_continuations(self, requests: Sequence[ContinuationRequest]) -> list[ContinuationScore]: ...


def split_choices(prompts: Sequence[str]) -> tuple[str, list[str]]:
    """(shared context, one continuation per prompt) for the full prompts of one item."""
    if len(prompts) < 2:
        raise ValueError("a log-likelihood item needs at least two choices to tell context from answer")
    context = os.path.commonprefix(list(prompts))
    stripped = context.rstrip()
    if not stripped:
        raise ValueError("the choices share no context: nothing to condition the answers on")
    if any(len(p) == len(context) for p in prompts):
        # One choice is a prefix of another: back off to a whitespace boundary so both score tokens.
        cut = max(stripped.rfind(" "), stripped.rfind("\n"))
        stripped = stripped[:cut].rstrip() if cut > 0 else stripped
    return stripped, [p[len(stripped):] for p in prompts]


def tokenize_requests(tokenizer: Any, requests: Sequence[ContinuationRequest]) -> list[TokenizedRequest]:
    """The exact ids every backend scores (a Hugging Face tokenizer, transformers 4 or 5).

    Tokenized in batches (the fast tokenizers encode a batch in parallel, and an item's choices
    share one context, encoded once); a batch gives each text the ids a call on it alone gives.
    """
    contexts = list(dict.fromkeys(r.context for r in requests))
    # one tuple per context, shared by its choices
    context_ids = {c: tuple(ids) for c, ids in zip(contexts, encode(tokenizer, contexts, special=True))}
    unknown = [i for i, r in enumerate(requests) if r.whole_ids is None]
    encoded = iter(encode(tokenizer, [requests[i].context + requests[i].continuation for i in unknown], special=True))
    wholes = [list(r.whole_ids) if r.whole_ids is not None else next(encoded) for r in requests]
    out: list[TokenizedRequest | None] = []
    merged: list[int] = []  # requests whose tokenizer merged across the boundary
    for i, (request, whole) in enumerate(zip(requests, wholes)):
        context = context_ids[request.context]
        if tuple(whole[: len(context)]) == context and len(whole) > len(context):
            out.append(TokenizedRequest(context, tuple(whole[len(context):])))
        else:
            out.append(None)
            merged.append(i)
    alone = encode(tokenizer, [requests[i].continuation for i in merged], special=False) if merged else []
    for i, continuation in zip(merged, alone):
        out[i] = TokenizedRequest(context_ids[requests[i].context], tuple(continuation))
    for request, tokenized in zip(requests, out):
        if tokenized is None or not tokenized.context_ids or not tokenized.continuation_ids:
            raise ValueError(f"cannot score {request.continuation!r}: empty context or continuation after tokenizing")
    return [t for t in out if t is not None]


def single_token_choices(item: Sequence[TokenizedRequest]) -> list[int] | None:
    """An item's choice tokens when it has several choices of one token each, else None (its
    choices share one context: `tokenize_requests` gives every choice of a context the same ids)."""
    if len(item) > 1 and all(len(r.continuation_ids) == 1 for r in item):
        return [r.continuation_ids[0] for r in item]
    return None


def tokenize_request(tokenizer: Any, request: ContinuationRequest) -> TokenizedRequest:
    return tokenize_requests(tokenizer, [request])[0]


def score_from_logprobs(token_logprobs: Sequence[float]) -> ContinuationScore:
    """Sum the continuation tokens' log-probs (float64, in order)."""
    total = 0.0
    for value in token_logprobs:
        total += float(value)
    return ContinuationScore(total, len(token_logprobs))
