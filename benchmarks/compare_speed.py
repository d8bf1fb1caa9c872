"""Benchmark: `benchmark-eval compare` + report on two runs of 15,000 samples each with
10,000 bootstrap resamples (goal: at most 10 s on the 2-core CI machine).

The two run folders are synthesised in the exact format opencompass.sh writes (run.json +
samples.jsonl): 14,042 MMLU-like accuracy samples over 57 subjects plus 958 XSum-like ROUGE
samples. Prints a small table and writes benchmarks/results/compare_speed.json.

usage: .venv/bin/python benchmarks/compare_speed.py
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SUBJECTS = 57
ACC_SAMPLES = 14_042
ROUGE_SAMPLES = 958


def write_run(folder: Path, rng: np.random.Generator, flip: float, device: str) -> None:
    folder.mkdir(parents=True)
    datasets: dict[str, dict] = {}
    lines = []
    per_subject = np.array_split(np.arange(ACC_SAMPLES), SUBJECTS)
    base_rng = np.random.default_rng(0)  # the same "truth" for both runs
    for s, idx in enumerate(per_subject):
        name = f"lukaemon_mmlu_subject{s:02d}"
        truth = base_rng.random(len(idx)) < 0.6
        correct = truth ^ (rng.random(len(idx)) < flip)
        for i, c in enumerate(correct):
            lines.append({"dataset": name, "id": str(i), "prompt_sha256": f"{s:02d}{i:062d}", "prediction": "A",
                          "extracted": "A", "reference": "A" if c else "B", "scores": {"correct": float(c)}})
        datasets[name] = {"config": "mmlu_gen", "files": {f"data/mmlu/test/s{s}_test.csv": "0" * 64},
                          "prompt_config_sha256": "1" * 64, "samples": len(idx), "metrics": {"accuracy": 100 * float(correct.mean())}}
    rouge = np.clip(base_rng.normal(30, 10, ROUGE_SAMPLES) + rng.normal(0, flip * 20, ROUGE_SAMPLES), 0, 100)
    for i, r in enumerate(rouge):
        lines.append({"dataset": "Xsum", "id": str(i), "prompt_sha256": f"x{i:063d}", "prediction": "p", "extracted": "p",
                      "reference": "r", "scores": {"rouge1": float(r)}})
    datasets["Xsum"] = {"config": "Xsum_gen", "files": {"data/Xsum/dev.jsonl": "2" * 64}, "prompt_config_sha256": "3" * 64,
                        "samples": ROUGE_SAMPLES, "metrics": {"rouge1": float(rouge.mean())}}
    manifest = {"schema": 1, "status": "ok", "mode": "vllm", "model": {"name": "m"},
                "generation": {"max_out_len": 512, "temperature": 0.0, "max_seq_len": 2048, "batch_size": 16},
                "datasets": datasets, "samples": len(lines), "environment": {"device": device}, "started_at": "x"}
    (folder / "run.json").write_text(json.dumps(manifest))
    with open(folder / "samples.jsonl", "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(1)
        base, cand = Path(tmp) / "base", Path(tmp) / "cand"
        write_run(base, rng, 0.01, "gpu")
        write_run(cand, rng, 0.01, "npu")
        cmd = [sys.executable, "-m", "benchmark_eval", "compare", str(base), str(cand), "--out", str(Path(tmp) / "out"),
               "--resamples", "10000"]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        assert done.returncode in (0, 10, 11), done.stderr
        verdict = json.loads((Path(tmp) / "out" / "verdict.json").read_text())
    result = {"samples_per_run": ACC_SAMPLES + ROUGE_SAMPLES, "datasets": SUBJECTS + 1, "resamples": 10_000,
              "seconds_end_to_end": round(seconds, 2), "goal_seconds": 10, "verdict": verdict["verdict"],
              "machine": {"cpu_count": __import__("os").cpu_count(), "platform": platform.platform()}}
    out = Path(__file__).parent / "results" / "compare_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'samples/run':>12} {'datasets':>9} {'resamples':>10} {'seconds':>8} {'goal':>5}")
    print(f"{result['samples_per_run']:>12} {result['datasets']:>9} {10_000:>10} {seconds:>8.2f} {10:>5}")


if __name__ == "__main__":
    main()
