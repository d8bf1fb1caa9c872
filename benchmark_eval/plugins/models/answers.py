"""What is kept of a server's answer: the `keep` functions of the model classes' requests.

They run where the answers arrive, in the client's own process (client_process.py), so they
live here, importable without OpenCompass, and are plain functions (or partials of them): a
request crosses into that process by pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from ...results.traces import compact_trace, trace_writer
from .api_client import RequestFailed


class _Alternative(msgspec.Struct):
    token: str
    logprob: float


class _TokenLogprob(msgspec.Struct):
    token: str
    logprob: float
    top_logprobs: list[_Alternative] | None = None


class _ChatLogprobs(msgspec.Struct):
    content: list[_TokenLogprob] | None = None


class _ChatMessage(msgspec.Struct):
    content: str | None = None


class _ChatChoice(msgspec.Struct):
    message: _ChatMessage
    finish_reason: str | None = None
    logprobs: _ChatLogprobs | None = None


class _Usage(msgspec.Struct):
    completion_tokens: int | None = None


class _ChatAnswer(msgspec.Struct):
    choices: list[_ChatChoice]
    usage: _Usage | None = None


_CHAT_ANSWER = msgspec.json.Decoder(_ChatAnswer)


def generation(raw: bytes) -> dict[str, Any]:
    """A chat answer as kept (and cached): its text and its trace."""
    try:
        answer = _CHAT_ANSWER.decode(raw)
    except msgspec.MsgspecError:
        try:  # a NaN or Infinity log-prob is not JSON, but Python's json (hence a server) writes it
            answer = msgspec.convert(json.loads(raw), _ChatAnswer)
        except (ValueError, msgspec.MsgspecError) as error:
            raise RequestFailed(f"the server's answer is not a chat completion ({error})") from None
    if not answer.choices:
        return {"text": "", "trace": compact_trace(None, 0, None)}
    choice = answer.choices[0]
    content = None
    if choice.logprobs is not None and choice.logprobs.content is not None:
        content = [msgspec.to_builtins(entry) for entry in choice.logprobs.content]
    tokens = answer.usage.completion_tokens if answer.usage else None
    return {"text": choice.message.content or "", "trace": compact_trace(choice.finish_reason, tokens, content)}


class _ScoredChoice(msgspec.Struct):
    index: int = 0
    # One entry per prompt token, each left undecoded (msgspec.Raw) until it is needed: the
    # continuation's few are, the context's hundreds are not.
    prompt_logprobs: list[msgspec.Raw] | None = None


class _ScoringAnswer(msgspec.Struct):
    choices: list[_ScoredChoice]


_SCORING_ANSWER = msgspec.json.Decoder(_ScoringAnswer)


def _logprob_of(entries: list[msgspec.Raw] | None, position: int, token: int) -> float:
    entry = msgspec.json.decode(entries[position]) if entries is not None and position < len(entries) else None
    if not entry or str(token) not in entry:
        raise RequestFailed(f"the server returned no log-prob for prompt token {token}")
    return float(entry[str(token)]["logprob"])


def generated_tokens(kept: dict[str, Any]) -> int | None:
    """Tokens generated, from a kept generation (the client's speed figures)."""
    tokens: int | None = kept["trace"]["output_tokens"]
    return tokens


def continuation_logprobs(spans: list[tuple[int, list[int]]], raw: bytes) -> list[list[float]]:
    """Each prompt's continuation tokens' log-probs; `spans`: each prompt's (first continuation
    position, continuation token ids)."""
    try:
        choices = sorted(_SCORING_ANSWER.decode(raw).choices, key=lambda c: c.index)
    except msgspec.MsgspecError as error:
        raise RequestFailed(f"the server's answer is not a completion with prompt_logprobs ({error})") from None
    if len(choices) != len(spans):
        raise RequestFailed(f"the server answered {len(choices)} choice(s) for {len(spans)} prompt(s)")
    return [[_logprob_of(choice.prompt_logprobs, i, token) for i, token in enumerate(tokens, start)]
            for choice, (start, tokens) in zip(choices, spans)]


def texts(answers: list[dict[str, Any]]) -> list[str]:
    """The texts of kept generations."""
    return [answer["text"] for answer in answers]


def texts_after_traces(folder: Path, keys: list[str], answers: list[dict[str, Any]]) -> list[str]:
    """Each generation's trace written under its prompt's hash (`keys`), then the texts: the
    traces are on disk before the texts reach OpenCompass, so a sample never has a text without
    its trace. (Run in the client's process: the traces never cross into OpenCompass's.)"""
    trace_writer(folder).write(zip(keys, (answer["trace"] for answer in answers)))
    return texts(answers)


class _NextTokenLogprobs(msgspec.Struct):
    token_logprobs: list[float | None] | None = None
    top_logprobs: list[dict[str, float] | None] | None = None


class _NextTokenChoice(msgspec.Struct):
    logprobs: _NextTokenLogprobs | None = None


class _NextTokenAnswer(msgspec.Struct):
    choices: list[_NextTokenChoice]


_NEXT_TOKEN_ANSWER = msgspec.json.Decoder(_NextTokenAnswer)


def _next_token_logprobs(raw: bytes) -> _NextTokenLogprobs:
    try:
        answer = _NEXT_TOKEN_ANSWER.decode(raw)
    except msgspec.MsgspecError as error:
        raise RequestFailed(f"the server's answer is not a completion with log-probs ({error})") from None
    if len(answer.choices) != 1 or answer.choices[0].logprobs is None:
        raise RequestFailed("the server answered a next-token request without log-probs")
    return answer.choices[0].logprobs


def label_logprobs(token_ids: list[int], raw: bytes) -> list[list[float]] | None:
    """Each requested token's log-prob as the next token (`logprob_token_ids`), one list per
    choice, as `continuation_logprobs` gives them for single-token continuations; None when the
    answer lacks them (a server that ignores the field: the first such request finds out)."""
    top = _next_token_logprobs(raw).top_logprobs
    step = top[0] if top else None
    if step is None or any(f"token_id:{t}" not in step for t in token_ids):
        return None
    return [[float(step[f"token_id:{t}"])] for t in token_ids]


def forced_logprob(raw: bytes) -> list[list[float]]:
    """The log-prob of the one allowed next token (`allowed_token_ids`), as one choice's list."""
    values = _next_token_logprobs(raw).token_logprobs
    if not values or values[0] is None:
        raise RequestFailed("the server returned no log-prob for the allowed token")
    return [[float(values[0])]]

