"""ROUGE with per-sample scores, from the same metric code OpenCompass uses for the mean."""

from __future__ import annotations

from typing import Any

import evaluate
from opencompass.openicl.icl_evaluator import RougeEvaluator as StockRougeEvaluator

from ...compat import bundled_metric, rouge_inputs


class RougeEvaluator(StockRougeEvaluator):
    """ROUGE-1/2/L/Lsum F-measures x100, per sample and as their exact mean."""

    def score(self, predictions: list[Any], references: list[Any], test_set: Any = None) -> dict[str, Any]:
        if len(predictions) != len(references):
            return {"error": "predictions and references have different lengths"}
        # The stock class loads OpenCompass's bundled copy of the metric (no hub access).
        per_sample = evaluate.load(bundled_metric("rouge")).compute(
            **rouge_inputs(self, predictions, references), use_aggregator=False
        )
        keys = sorted(per_sample)
        # The stock aggregate is a bootstrap median of means (a random estimate of the
        # mean); report the exact mean, so samples.jsonl and the summary agree exactly.
        result: dict[str, Any] = {k: 100 * sum(per_sample[k]) / max(len(predictions), 1) for k in keys}
        result["details"] = [
            {"pred": p, "answer": r, **{k: float(per_sample[k][i]) * 100 for k in keys}}
            for i, (p, r) in enumerate(zip(predictions, references))
        ]
        return result
