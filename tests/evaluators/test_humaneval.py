"""The 164 canonical HumanEval solutions pass through the sandboxed evaluator; wrong ones fail."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark_eval.evaluators.humaneval import HumanEvalEvaluator


def _problems(data_root: Path) -> list[dict]:
    path = data_root / "data" / "humaneval" / "human-eval-v2-20210705.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_canonical_solutions_all_pass(data_root: Path) -> None:
    problems = _problems(data_root)
    assert len(problems) == 164
    result = HumanEvalEvaluator().score([p["canonical_solution"] for p in problems], [p["task_id"] for p in problems], problems)
    failed = {d["task_id"]: d["result"] for d in result["details"] if not d["correct"]}
    assert failed == {}
    assert result["humaneval_pass@1"] == 100.0


def test_wrong_and_broken_solutions_fail(data_root: Path) -> None:
    problems = _problems(data_root)[:3]
    completions = ["    return None\n", "    return (\n", "    raise SystemExit(1)\n"]
    result = HumanEvalEvaluator().score(completions, [p["task_id"] for p in problems], problems)
    assert [d["correct"] for d in result["details"]] == [False, False, False]
    assert result["details"][1]["result"].startswith("failed: SyntaxError")
    assert result["humaneval_pass@1"] == 0.0
