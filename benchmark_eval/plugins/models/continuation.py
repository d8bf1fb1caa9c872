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

Every backend computes log-probs for exactly these ids and nothing else (docs/ppl.md says how
each path asks for them and what batching changes).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Protocol

from .tokenizers import encode, encode_choices


@dataclass(frozen=True)
class TokenizedRequest:
    context_ids: Sequence[int]  # shared by an item's choices (an array of 4-byte ids: a dataset's are kept at once)
    continuation_ids: tuple[int, ...]
    # len(ids(context + continuation)): the prompt's length as OpenCompass counts it (the length
    # check); context_ids + continuation_ids except where the tokenizer merges across the cut.
    prompt_len: int = field(default=0, compare=False)

    @property
    def ids(self) -> list[int]:
        return [*self.context_ids, *self.continuation_ids]


@dataclass(frozen=True)
class ContinuationRequest:
    context: str
    continuation: str
    # Its ids where a caller already tokenized it (the inferencer's length check): scoring then
    # does not encode the same text again. Not part of equality.
    tokenized: TokenizedRequest | None = field(default=None, compare=False, repr=False)


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


def _common_prefix(texts: Sequence[str]) -> str:
    """os.path.commonprefix, by halving: slice comparisons run in C, where commonprefix's loop
    over characters cost 10 s of MMLU's 14,042 items of 5-shot prompts."""
    low, high = min(texts), max(texts)  # every text's common prefix is theirs
    good, bad = 0, min(len(low), len(high)) + 1
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if low[:middle] == high[:middle] else (good, middle)
    return low[:good]


def split_choices(prompts: Sequence[str]) -> tuple[str, list[str]]:
    """(shared context, one continuation per prompt) for the full prompts of one item."""
    if len(prompts) < 2:
        raise ValueError("a log-likelihood item needs at least two choices to tell context from answer")
    context = _common_prefix(prompts)
    stripped = context.rstrip()
    if not stripped:
        raise ValueError("the choices share no context: nothing to condition the answers on")
    if any(len(p) == len(context) for p in prompts):
        # One choice is a prefix of another: back off to a whitespace boundary so both score tokens.
        cut = max(stripped.rfind(" "), stripped.rfind("\n"))
        stripped = stripped[:cut].rstrip() if cut > 0 else stripped
    return stripped, [p[len(stripped):] for p in prompts]


def tokenize_items(tokenizer: Any, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[TokenizedRequest]]:
    """The exact ids every backend scores, per item (context, continuations), from a Hugging Face
    tokenizer (transformers 4 or 5): the context's ids are ids(context); a continuation's are
    ids(context + continuation) past them, or ids(continuation) on its own where the tokenizer
    merges across the cut. An item's choices share one array of context ids."""
    out: list[list[TokenizedRequest]] = []
    merged: list[tuple[int, int]] = []  # (item, choice) whose tokenizer merged across the cut
    for i, (ids, wholes) in enumerate(encode_choices(tokenizer, items)):
        context_ids = array("i", ids)
        item: list[TokenizedRequest] = []
        for j, whole in enumerate(wholes):
            if len(whole) > len(ids) and whole[:len(ids)] == ids:
                item.append(TokenizedRequest(context_ids, tuple(whole[len(ids):]), len(whole)))
            else:
                item.append(TokenizedRequest(context_ids, (), len(whole)))
                merged.append((i, j))
        out.append(item)
    alone = encode(tokenizer, [items[i][1][j] for i, j in merged], special=False) if merged else []
    for (i, j), ids_alone in zip(merged, alone):
        out[i][j] = TokenizedRequest(out[i][j].context_ids, tuple(ids_alone), out[i][j].prompt_len)
    for (_, conts), item in zip(items, out):
        for continuation, tokenized in zip(conts, item):
            if not tokenized.context_ids or not tokenized.continuation_ids:
                raise ValueError(f"cannot score {continuation!r}: empty context or continuation after tokenizing")
    return out


def tokenized_items(tokenizer: Any, requests: Sequence[ContinuationRequest]) -> list[list[TokenizedRequest]]:
    """`tokenize_items` over requests, item by item (an item's choices are consecutive requests
    with one context); an item whose requests carry their ids keeps them."""
    groups = [list(group) for _, group in groupby(requests, key=lambda r: r.context)]
    unknown = [group for group in groups if any(r.tokenized is None for r in group)]
    fresh = dict(zip(map(id, unknown), tokenize_items(tokenizer, [(g[0].context, [r.continuation for r in g]) for g in unknown])))
    return [fresh[id(group)] if id(group) in fresh else [r.tokenized for r in group if r.tokenized is not None]
            for group in groups]


def tokenize_requests(tokenizer: Any, requests: Sequence[ContinuationRequest]) -> list[TokenizedRequest]:
    return [r for item in tokenized_items(tokenizer, requests) for r in item]


def tokenize_request(tokenizer: Any, request: ContinuationRequest) -> TokenizedRequest:
    return tokenize_requests(tokenizer, [request])[0]


#: Tries of more nodes than this (long continuations) are scored as whole sequences: one
#: request or pass per choice instead of many next-token questions.
MAX_TRIE_NODES = 16


def next_token_questions(item: Sequence[TokenizedRequest]) -> dict[tuple[int, ...], list[int]] | None:
    """The item's token trie (`token_trie`) where next-token questions score it, else None
    (a trie over MAX_TRIE_NODES nodes)."""
    nodes = token_trie(item)
    return nodes if len(nodes) <= MAX_TRIE_NODES else None


def token_trie(item: Sequence[TokenizedRequest]) -> dict[tuple[int, ...], list[int]]:
    """The item's continuations as a token trie: each prefix they share (the empty one first) ->
    the tokens that follow it, in the choices' order. A continuation token's log-prob is that
    token's as the next one after the context + its prefix: one next-token question per node
    (MMLU's " A" ... " D": one; C-Eval's " ", "\n", letter: three)."""
    nodes: dict[tuple[int, ...], list[int]] = {}
    for request in item:
        for j, token in enumerate(request.continuation_ids):
            following = nodes.setdefault(request.continuation_ids[:j], [])
            if token not in following:
                following.append(token)
    return nodes


def logprobs_along_trie(item: Sequence[TokenizedRequest], nodes: dict[tuple[int, ...], list[int]],
                        answers: Sequence[Sequence[float]]) -> list[list[float]]:
    """Each choice's continuation log-probs from the answers to `nodes`' questions (per node, in
    its order, one log-prob per following token)."""
    logprob = {(prefix, token): value for (prefix, tokens), values in zip(nodes.items(), answers)
               for token, value in zip(tokens, values, strict=True)}
    return [[logprob[(r.continuation_ids[:j], token)] for j, token in enumerate(r.continuation_ids)] for r in item]


def score_from_logprobs(token_logprobs: Sequence[float]) -> ContinuationScore:
    """Sum the continuation tokens' log-probs (float64, in order)."""
    total = 0.0
    for value in token_logprobs:
        total += float(value)
    return ContinuationScore(total, len(token_logprobs))
