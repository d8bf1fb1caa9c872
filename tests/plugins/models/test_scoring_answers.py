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
    return model._scoring_request([TokenizedRequest((1, 2, 3), (4,)), TokenizedRequest((1, 2, 3), (5, 6))])


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
