"""Accuracy with a per-sample `correct` flag (the stock AccEvaluator gives only the mean)."""

from __future__ import annotations

from typing import Any

from opencompass.openicl.icl_evaluator import AccEvaluator


class AccuracyEvaluator(AccEvaluator):
    def score(self, predictions: list[Any], references: list[Any], test_set: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = super().score(predictions, references)
        if "error" in result:
            return result
        # AccEvaluator maps str(prediction) and str(reference) to ids and compares them,
        # so string equality is exactly its notion of a correct sample.
        result["details"] = [
            {"pred": p, "answer": r, "correct": str(p) == str(r)} for p, r in zip(predictions, references)
        ]
        return result
