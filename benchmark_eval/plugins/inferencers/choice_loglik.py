"""Multiple-choice log-likelihood scoring in place of OpenCompass's `PPLInferencer`.

`PPLInferencer` asks the model for a per-label, per-batch "PPL" whose meaning differs by
model class (padding, which tokens are averaged). This inferencer builds the same prompts
with the dataset's own retriever and templates, splits each item into shared context and
per-choice continuation, and asks the model for the continuation log-likelihoods under the
one rule in `benchmark_eval.plugins.models.continuation`. All items of a dataset go to the model at
once, so an API backend can keep the server busy across the whole dataset.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from opencompass.models.base import LMTemplateParser
from opencompass.openicl.icl_inferencer.icl_base_inferencer import BaseInferencer

from ...compat import dump_results_dict
from ..models.continuation import ContinuationRequest, TokenizedRequest, split_choices

#: An item's prompts' token counts, and their ids where the model gave them.
Counted = tuple[list[int], list[TokenizedRequest | None]]

@contextlib.contextmanager
def _rows_read_once(retriever: Any) -> Iterator[None]:
    """The retriever's test rows as a list while prompts are built: OpenCompass's
    generate_label_prompt reads its row from the Hugging Face dataset once per label, and each
    read costs a table slice (a quarter of MMLU's prompt building went there)."""
    rows = retriever.test_ds
    if getattr(rows, "format", {}).get("type", "") is not None or not hasattr(rows, "to_list"):
        yield  # not a plain Hugging Face dataset: read as OpenCompass reads it
        return
    retriever.test_ds = rows.to_list()
    try:
        yield
    finally:
        retriever.test_ds = rows


# Plain text for every backend: a chat meta template must not change what PPL scores.
_PLAIN = LMTemplateParser()


class ChoiceLoglikInferencer(BaseInferencer):
    def __init__(self, model: Any, max_seq_len: int | None = None, batch_size: int | None = 1,
                 output_json_filepath: str | None = "./icl_inference_output",
                 output_json_filename: str | None = "predictions", labels: list[Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(model=model, max_seq_len=max_seq_len, batch_size=batch_size,
                         output_json_filename=output_json_filename, output_json_filepath=output_json_filepath,
                         **kwargs)
        self.labels = labels
        self._ice: dict[tuple[int, tuple[int, ...]], Any] = {}  # in-context text by (retriever, example ids)

    def _label_prompts(self, retriever: Any, idx: int, ice_idx: list[int], labels: list[Any],
                       ice_template: Any, prompt_template: Any) -> list[str]:
        # A fixed-k retriever gives every item the same examples: build their text once.
        key = (id(retriever), tuple(ice_idx))
        if key not in self._ice:
            self._ice[key] = retriever.generate_ice(ice_idx, ice_template=ice_template)
        ice = self._ice[key]
        return [_PLAIN.parse_template(retriever.generate_label_prompt(
            idx, ice, label, ice_template=ice_template, prompt_template=prompt_template), mode="ppl")
            for label in labels]

    def _counted(self, items: list[tuple[str, list[str]]]) -> list[Counted]:
        """Per item: its prompts' token counts (the length check's) and the ids scoring will use,
        where the model offers them (ours: each context encoded once, `tokenizers.encode_choices`);
        a model with OpenCompass's get_token_len alone gives counts and encodes what it scores."""
        tokenize = getattr(self.model, "tokenize_choices", None)
        if tokenize is None:
            return [([self.model.get_token_len(context + c) for c in conts], [None] * len(conts)) for context, conts in items]
        return [([r.prompt_len for r in item], list(item)) for item in tokenize(items)]

    def _fitted(self, retriever: Any, indices: list[list[int]], items: list[tuple[str, list[str]]], labels: list[Any],
                ice_template: Any, prompt_template: Any) -> tuple[list[tuple[str, list[str]]], list[Counted]]:
        """Like PPLInferencer: drop an item's in-context examples until its longest prompt fits
        (in rounds: each round builds the items still too long with one example fewer, counted
        in one batch)."""
        counted = self._counted(items)
        long = [i for i, (lengths, _) in enumerate(counted) if indices[i] and max(lengths) > self.max_seq_len]
        while long:
            for i in long:
                indices[i] = indices[i][:-1]
                items[i] = split_choices(self._label_prompts(retriever, i, indices[i], labels, ice_template, prompt_template))
            for i, again in zip(long, self._counted([items[i] for i in long])):
                counted[i] = again
            long = [i for i in long if indices[i] and max(counted[i][0]) > self.max_seq_len]
        return items, counted

    def inference(self, retriever: Any, ice_template: Any = None, prompt_template: Any = None,
                  output_json_filepath: str | None = None, output_json_filename: str | None = None,
                  normalizing_str: str | None = None) -> list[Any]:
        if normalizing_str is not None:
            raise ValueError("normalizing_str is not supported: scores are continuation log-likelihoods")
        labels = self.labels or retriever.get_labels(ice_template=ice_template, prompt_template=prompt_template)
        indices = [list(ice_idx) for ice_idx in retriever.retrieve()]
        with _rows_read_once(retriever):
            items = [split_choices(self._label_prompts(retriever, idx, ice_idx, labels, ice_template, prompt_template))
                     for idx, ice_idx in enumerate(indices)]
            kept: list[list[TokenizedRequest | None]] = [[None] * len(conts) for _, conts in items]
            if self.max_seq_len:  # every item counted in one batch; only those too long are built again
                items, counted = self._fitted(retriever, indices, items, labels, ice_template, prompt_template)
                kept = [ids for _, ids in counted]
        self._ice.clear()
        requests = [ContinuationRequest(context, cont, tokenized)
                    for (context, conts), item_ids in zip(items, kept) for cont, tokenized in zip(conts, item_ids)]
        del kept
        scores = iter(self.model.score_continuations(requests))

        reader = retriever.dataset_reader
        golds = reader.dataset["test"][reader.output_column] if reader.output_column else [None] * len(items)
        results: dict[str, dict[str, Any]] = {}
        predictions = []
        for idx, ((context, conts), gold) in enumerate(zip(items, golds)):
            choices = []
            for label, cont in zip(labels, conts):
                score = next(scores)
                choices.append({"label": label, "continuation": cont, "loglik": score.loglik,
                                "n_tokens": score.n_tokens, "mean": score.mean})
            best = max(range(len(choices)), key=lambda i: (choices[i]["loglik"], -i))
            predictions.append(labels[best])
            results[str(idx)] = {"prediction": labels[best], "gold": gold, "origin_prompt": context, "choices": choices}

        if self.is_main_process:
            path = output_json_filepath or self.output_json_filepath
            os.makedirs(path, exist_ok=True)
            dump_results_dict(results, os.path.join(path, output_json_filename or self.output_json_filename))
        return predictions
