"""The one scoring rule: context/continuation split and the exact token ids."""

from __future__ import annotations

import pytest

from benchmark_eval.paths import demo_model_dir
from benchmark_eval.plugins.models.continuation import (
    ContinuationRequest,
    score_from_logprobs,
    split_choices,
    tokenize_request,
    tokenize_requests,
)
from benchmark_eval.plugins.models.tokenizers import load_tokenizer


def test_split_moves_trailing_space_onto_the_answers() -> None:
    context, conts = split_choices([f"Q?\nA. x\nB. y\nAnswer: {c}" for c in "AB"])
    assert context == "Q?\nA. x\nB. y\nAnswer:"
    assert conts == [" A", " B"]


def test_split_backs_off_when_one_choice_is_a_prefix_of_another() -> None:
    context, conts = split_choices(["Answer: A", "Answer: AB"])
    assert context == "Answer:" and conts == [" A", " AB"]


@pytest.mark.parametrize("prompts", [["only one"], ["A", "B"]])
def test_split_refuses_items_it_cannot_split(prompts: list[str]) -> None:
    with pytest.raises(ValueError):
        split_choices(prompts)


def test_continuation_ids_are_the_tokens_of_the_whole_text() -> None:
    # "Answer: " ends in a lone space token, "Answer: C" in the single token " C".
    tokenizer = load_tokenizer(str(demo_model_dir()))
    tokenized = tokenize_request(tokenizer, ContinuationRequest("Answer:", " C"))
    whole = tokenizer("Answer: C")["input_ids"]
    assert tokenized.ids == whole
    assert len(tokenized.continuation_ids) == 1
    assert tokenizer.decode(tokenized.continuation_ids) == " C"


def test_score_sums_in_order_and_records_the_mean() -> None:
    score = score_from_logprobs([-1.0, -0.5, -1.5])
    assert score.loglik == -3.0 and score.n_tokens == 3 and score.mean == -1.0


def test_batched_tokenizing_gives_each_request_the_ids_of_its_own_calls() -> None:
    """tokenize_requests encodes in batches and each context once; the ids must be those of one
    call per text (the rule as written), including the fallback when the boundary merges."""
    tokenizer = load_tokenizer(str(demo_model_dir()))
    items = [("The capital of France is", [" Paris", " Lyon"]), ("Answer:", [" A", " B", " C", " D"]),
             ("x =", ["=1", " 2"]), ("数学题：1+1=", ["2", "三"]), ("The capital of France is", [" Paris"]),
             ("Q: 2+2?\nA. 3\nB. 4\nAnswer:", [" A", " B", "\nB"]), ("line\n  indented\nlast", [" x", "\n\ny", "y"])]
    requests = [ContinuationRequest(context, c) for context, conts in items for c in conts]
    for request, batched in zip(requests, tokenize_requests(tokenizer, requests), strict=True):
        context = list(tokenizer(request.context, add_special_tokens=True)["input_ids"])
        whole = list(tokenizer(request.context + request.continuation, add_special_tokens=True)["input_ids"])
        one_by_one = whole[len(context):] if whole[:len(context)] == context and len(whole) > len(context) else \
            list(tokenizer(request.continuation, add_special_tokens=False)["input_ids"])
        assert (list(batched.context_ids), list(batched.continuation_ids)) == (context, one_by_one), request
        assert batched.prompt_len == len(whole)  # the length check's count: the whole prompt's


def test_ids_kept_from_the_length_check_score_exactly_as_encoding_again() -> None:
    """ChoiceLoglikInferencer hands scoring the ids its length check tokenized (the model's
    tokenize_choices); the requests must come out id for id as if scoring had encoded the text,
    and ids a request carries are used as given."""
    from benchmark_eval.plugins.models.continuation import TokenizedRequest, tokenize_items

    tokenizer = load_tokenizer(str(demo_model_dir()))
    items = [("The capital of France is", [" Paris", " Lyon"]), ("x =", ["=1", " 2"]), ("数学题：1+1=", ["2", "三"]),
             ("Q: one\nA. x\nB. y\nAnswer:", [" A", " B"])]
    plain = [ContinuationRequest(context, c) for context, conts in items for c in conts]
    tokenized = [r for item in tokenize_items(tokenizer, items) for r in item]
    kept = [ContinuationRequest(r.context, r.continuation, t) for r, t in zip(plain, tokenized)]
    assert kept == plain  # the ids are no part of a request's identity
    for a, b in zip(tokenize_requests(tokenizer, kept), tokenize_requests(tokenizer, plain), strict=True):
        assert (list(a.context_ids), a.continuation_ids, a.prompt_len) == (list(b.context_ids), b.continuation_ids, b.prompt_len)
        assert all(type(i) is int for i in a.ids)  # plain ints: they go into the request's JSON
    given = [ContinuationRequest(plain[0].context, plain[0].continuation, TokenizedRequest(tokenized[0].context_ids, (999,), 7))]
    assert tokenize_requests(tokenizer, given)[0].continuation_ids == (999,)
