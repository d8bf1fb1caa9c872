"""What the server model class reads from a PPL answer: the continuation tokens' log-probs of
each prompt, by the choice's index (not its place in the list), and a clear failure when the
answer lacks them. Answers written here in the shape vLLM gives (checked against the real server
by every PPL run test); no server is involved."""

from __future__ import annotations

import json

import pytest

from benchmark_eval.plugins.models.api_client import RequestFailed
from benchmark_eval.plugins.models.continuation import TokenizedRequest
from benchmark_eval.plugins.models.vllm_api import VLLMApi


def _request() -> object:
    model = VLLMApi.__new__(VLLMApi)
    model.path = "m"
    # one item, two choices sharing the context (1, 2, 3): " A" = (4,), " B C" = (5, 6)
    return model._prompt_logprobs_request([TokenizedRequest((1, 2, 3), (4,)), TokenizedRequest((1, 2, 3), (5, 6))])


def _choice(index: int, ids: list[int], logprobs: list[float]) -> dict[str, object]:
    entries = [None, *({str(t): {"logprob": lp, "rank": 1, "decoded_token": "x"}} for t, lp in zip(ids[1:], logprobs))]
    return {"index": index, "text": "x", "prompt_logprobs": entries}


def test_the_continuation_log_probs_of_each_choice_in_index_order() -> None:
    request = _request()
    assert request.body["prompt"] == [[1, 2, 3, 4], [1, 2, 3, 5, 6]]
    answer = {"choices": [_choice(1, [1, 2, 3, 5, 6], [-9.0, -9.0, -0.5, -0.125]), _choice(0, [1, 2, 3, 4], [-9.0, -9.0, -0.25])]}
    assert request.keep(json.dumps(answer).encode()) == [[-0.25], [-0.5, -0.125]]
    assert request.keep_name == "continuation-logprobs:[3, 3]"  # what is kept is part of the cache key


@pytest.mark.parametrize(("answer", "message"), [
    ({"error": "x"}, "not a completion with prompt_logprobs"),
    ({"choices": [_choice(0, [1, 2, 3, 4], [-1.0, -1.0, -1.0])]}, "answered 1 choice"),
    ({"choices": [_choice(0, [1, 2, 3, 4], [-1.0, -1.0, -1.0]), _choice(1, [1, 2, 3, 9, 6], [-1.0] * 4)]}, "no log-prob for prompt token 5"),
    ({"choices": [{"index": 0}, {"index": 1}]}, "no log-prob for prompt token 4"),
])
def test_an_answer_without_them_fails_the_request(answer: dict[str, object], message: str) -> None:
    with pytest.raises(RequestFailed, match=message):
        _request().keep(json.dumps(answer).encode())


def _model(label_logprobs: bool | None, ppl_requests: str = "next_token") -> VLLMApi:
    import threading

    model = VLLMApi.__new__(VLLMApi)
    model.path, model.ppl_requests, model._probe_lock = "m", ppl_requests, threading.Lock()
    model._label_logprobs = label_logprobs  # as the probe found it: no probe is sent
    return model


def _next_token_answer(top: dict[str, float] | None, token_logprob: float | None = None) -> bytes:
    logprobs = {"tokens": ["token_id:9"], "token_logprobs": [token_logprob], "top_logprobs": [top], "text_offset": [0]}
    return json.dumps({"choices": [{"index": 0, "text": "x", "logprobs": logprobs}]}).encode()


def test_single_token_choices_ask_for_their_log_probs_as_the_next_token() -> None:
    item = [TokenizedRequest((1, 2, 3), (4,)), TokenizedRequest((1, 2, 3), (5,))]
    [request], combine = _model(True)._scoring_requests(item)
    assert request.body["prompt"] == [1, 2, 3] and request.body["logprob_token_ids"] == [4, 5]
    assert "prompt_logprobs" not in request.body and request.body["max_tokens"] == 1
    kept = request.keep(_next_token_answer({"token_id:9": -0.1, "token_id:4": -1.5, "token_id:5": -0.25}))
    assert combine([kept]) == [[-1.5], [-0.25]]
    assert request.keep(_next_token_answer({"token_id:9": -0.1})) is None  # a server that ignored the field
    with pytest.raises(RequestFailed, match="no log-probs for logprob_token_ids"):
        combine([None])


def test_multi_token_choices_ask_each_node_of_their_token_trie() -> None:
    """C-Eval's shape: the choices share " " and "\n" (7, 8), then part at the letter."""
    item = [TokenizedRequest((1, 2, 3), (7, 8, 4)), TokenizedRequest((1, 2, 3), (7, 8, 5))]
    requests, combine = _model(True)._scoring_requests(item)
    assert [(r.body["prompt"], r.body["logprob_token_ids"]) for r in requests] == [
        ([1, 2, 3], [7]), ([1, 2, 3, 7], [8]), ([1, 2, 3, 7, 8], [4, 5])]
    answers = [_next_token_answer({"token_id:7": -0.5}), _next_token_answer({"token_id:8": -0.25}),
               _next_token_answer({"token_id:4": -1.0, "token_id:5": -2.0})]
    assert combine([r.keep(a) for r, a in zip(requests, answers)]) == [[-0.5, -0.25, -1.0], [-0.5, -0.25, -2.0]]


def test_without_logprob_token_ids_each_edge_is_forced_in_turn() -> None:
    item = [TokenizedRequest((1, 2, 3), (7, 4)), TokenizedRequest((1, 2, 3), (7, 5))]
    requests, combine = _model(False)._scoring_requests(item)
    assert [(r.body["prompt"], r.body["allowed_token_ids"]) for r in requests] == [([1, 2, 3], [7]), ([1, 2, 3, 7], [4]), ([1, 2, 3, 7], [5])]
    kept = [r.keep(_next_token_answer(None, v)) for r, v in zip(requests, (-0.5, -1.25, -2.5))]
    assert combine(kept) == [[-0.5, -1.25], [-0.5, -2.5]]


def test_the_prompt_logprobs_setting_and_long_continuations_ask_whole_prompts() -> None:
    single = [TokenizedRequest((1, 2, 3), (4,)), TokenizedRequest((1, 2, 3), (5,))]
    long = [TokenizedRequest((1, 2, 3), tuple(range(10 + i, 30 + i))) for i in range(2)]  # a trie of 21 nodes
    for model, item in ((_model(True, "prompt_logprobs"), single), (_model(True), long)):
        [request], _ = model._scoring_requests(item)
        assert request.body["prompt_logprobs"] == 0 and request.body["prompt"] == [[*r.context_ids, *r.continuation_ids] for r in item]
