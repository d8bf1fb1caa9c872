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
    [request] = _model(True)._scoring_requests(item)
    assert request.body["prompt"] == [1, 2, 3] and request.body["logprob_token_ids"] == [4, 5]
    assert "prompt_logprobs" not in request.body and request.body["max_tokens"] == 1
    assert request.keep(_next_token_answer({"token_id:9": -0.1, "token_id:4": -1.5, "token_id:5": -0.25})) == [[-1.5], [-0.25]]
    assert request.keep(_next_token_answer({"token_id:9": -0.1})) is None  # a server that ignored the field


def test_without_logprob_token_ids_each_choice_is_forced_in_turn() -> None:
    item = [TokenizedRequest((1, 2, 3), (4,)), TokenizedRequest((1, 2, 3), (5,))]
    requests = _model(False)._scoring_requests(item)
    assert [r.body["allowed_token_ids"] for r in requests] == [[4], [5]] and all(r.body["prompt"] == [1, 2, 3] for r in requests)
    assert requests[0].keep(_next_token_answer(None, -1.25)) == [[-1.25]]


def test_multi_token_items_and_the_prompt_logprobs_setting_ask_whole_prompts() -> None:
    mixed = [TokenizedRequest((1, 2, 3), (4,)), TokenizedRequest((1, 2, 3), (5, 6))]
    single = [TokenizedRequest((1, 2, 3), (4,)), TokenizedRequest((1, 2, 3), (5,))]
    for model, item in ((_model(True), mixed), (_model(True, "prompt_logprobs"), single)):
        [request] = model._scoring_requests(item)
        assert request.body["prompt_logprobs"] == 0 and request.body["prompt"] == [[*r.context_ids, *r.continuation_ids] for r in item]
