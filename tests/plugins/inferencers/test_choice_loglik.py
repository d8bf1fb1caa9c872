"""ChoiceLoglikInferencer inside OpenCompass's own machinery (its dataset loader, retriever and
prompt templates, on the demo's MMLU data), with a scripted scorer in place of a model: the
bookkeeping around the scores is what is tested here. Real backends' scores: test_backends_agree."""

from __future__ import annotations

import json
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opencompass.registry import ICL_PROMPT_TEMPLATES, ICL_RETRIEVERS
from opencompass.utils.build import build_dataset_from_cfg

from benchmark_eval.data.check import data_root_env
from benchmark_eval.paths import demo_data_root
from benchmark_eval.plan import plan_datasets, prepare_dataset
from benchmark_eval.plugins.inferencers import ChoiceLoglikInferencer
from benchmark_eval.plugins.models.continuation import ContinuationRequest, ContinuationScore, TokenizedRequest
from benchmark_eval.settings import RunSettings


class ScriptedScorer:
    """Scores each continuation by a rule of the test's own; records every request."""

    def __init__(self, loglik: dict[str, float]) -> None:
        self.loglik = loglik
        self.requests: list[ContinuationRequest] = []

    def get_token_len(self, prompt: str) -> int:
        return len(prompt.split())

    def score_continuations(self, requests: Sequence[ContinuationRequest]) -> list[ContinuationScore]:
        self.requests.extend(requests)
        return [ContinuationScore(self.loglik[r.continuation.strip()[:1]], 2) for r in requests]


def _infer(tmp_path: Path, scorer: ScriptedScorer, max_seq_len: int | None = None) -> tuple[dict[str, Any], list[str]]:
    settings = RunSettings(model_name="m", datasets=("mmlu_ppl",), subjects=("global_facts",), limit=3,
                           data_root=demo_data_root())
    [planned] = plan_datasets(settings.datasets, settings.subjects, settings.limit)
    cfg = prepare_dataset(planned, settings)
    with data_root_env(demo_data_root()):
        dataset = build_dataset_from_cfg(cfg)
    infer = cfg["infer_cfg"]
    retriever = ICL_RETRIEVERS.build({**infer["retriever"], "dataset": dataset})
    templates = {k: ICL_PROMPT_TEMPLATES.build(infer[k]) if infer.get(k) else None for k in ("ice_template", "prompt_template")}
    inferencer = ChoiceLoglikInferencer(model=scorer, max_seq_len=max_seq_len, output_json_filepath=str(tmp_path))
    predictions = inferencer.inference(retriever, **templates, output_json_filename="items.json")  # as OpenICLInferTask names it
    results = json.loads((tmp_path / "items.json").read_text(encoding="utf-8"))
    if max_seq_len is None:  # the prompts are OpenCompass's own, built as PPLInferencer builds them
        labels = retriever.get_labels(**templates)
        for idx, ice_idx in enumerate(retriever.retrieve()):
            ice = retriever.generate_ice(ice_idx, ice_template=templates["ice_template"])
            prompts = [retriever.generate_label_prompt(idx, ice, label, **templates) for label in labels]
            assert [results[str(idx)]["origin_prompt"] + c["continuation"] for c in results[str(idx)]["choices"]] == prompts
    return results, predictions


def test_the_highest_loglik_wins_and_ties_go_to_the_first_label(tmp_path: Path) -> None:
    scorer = ScriptedScorer({"A": -3.0, "B": -1.0, "C": -1.0, "D": -2.0})  # B and C tie: B
    results, predictions = _infer(tmp_path, scorer)
    assert predictions == ["B", "B", "B"] and len(results) == 3
    for item in results.values():
        assert [c["label"] for c in item["choices"]] == ["A", "B", "C", "D"]
        assert [c["loglik"] for c in item["choices"]] == [-3.0, -1.0, -1.0, -2.0]
        assert all(c["n_tokens"] == 2 and c["mean"] == c["loglik"] / 2 for c in item["choices"])
        assert item["prediction"] == "B" and item["gold"] in "ABCD"
    # one request per choice, each the item's shared context and that choice's continuation
    assert len(scorer.requests) == 12
    first = results["0"]
    assert all(r.context == first["origin_prompt"] for r in scorer.requests[:4])
    assert [r.continuation for r in scorer.requests[:4]] == [c["continuation"] for c in first["choices"]]
    assert all(r.continuation.startswith(" ") or not first["origin_prompt"].endswith(" ") for r in scorer.requests)


def test_in_context_examples_are_dropped_until_the_prompt_fits(tmp_path: Path) -> None:
    scorer = ScriptedScorer({"A": -1.0, "B": -2.0, "C": -3.0, "D": -4.0})
    full, _ = _infer(tmp_path / "full", scorer)
    longest = max(len((item["origin_prompt"] + c["continuation"]).split()) for item in full.values() for c in item["choices"])
    short, predictions = _infer(tmp_path / "short", ScriptedScorer(scorer.loglik), max_seq_len=longest // 2)
    assert predictions == ["A", "A", "A"]
    for key, item in short.items():
        assert len(item["origin_prompt"].split()) < len(full[key]["origin_prompt"].split())
        assert full[key]["origin_prompt"].endswith(item["origin_prompt"].split("\n")[-1])


def test_normalizing_strings_are_refused(tmp_path: Path) -> None:
    inferencer = ChoiceLoglikInferencer(model=ScriptedScorer({}), output_json_filepath=str(tmp_path))
    with pytest.raises(ValueError, match="normalizing_str"):
        inferencer.inference(retriever=None, normalizing_str="Answer:")


class TokenizingScorer(ScriptedScorer):
    """A scorer that tokenizes (as every model class of ours does): one fake id per word."""

    def __init__(self, loglik: dict[str, float]) -> None:
        super().__init__(loglik)
        self.tokenized_items = 0

    def tokenize_choices(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[TokenizedRequest]]:
        self.tokenized_items += len(items)
        return [[TokenizedRequest(array("i", range(len(context.split()))), (7,), len((context + c).split())) for c in conts]
                for context, conts in items]


def test_the_length_checks_ids_are_the_ones_scored(tmp_path: Path) -> None:
    """A model that tokenizes gives the length check its counts and ids; the requests carry those
    ids to scoring (nothing encoded twice), also for items built again with fewer examples."""
    full, _ = _infer(tmp_path / "full", ScriptedScorer({"A": -1.0, "B": -2.0, "C": -3.0, "D": -4.0}))
    longest = max(len((item["origin_prompt"] + c["continuation"]).split()) for item in full.values() for c in item["choices"])
    scorer = TokenizingScorer({"A": -1.0, "B": -2.0, "C": -3.0, "D": -4.0})
    short, _ = _infer(tmp_path / "short", scorer, max_seq_len=longest // 2)
    assert scorer.tokenized_items > 3  # the three items, then each built again until it fits
    assert all(r.tokenized is not None and r.tokenized.continuation_ids == (7,) for r in scorer.requests)
    for request in scorer.requests:
        assert request.tokenized is not None and len(request.tokenized.context_ids) == len(request.context.split())
    assert [item["origin_prompt"] for item in short.values()] == [r.context for r in scorer.requests[::4]]
