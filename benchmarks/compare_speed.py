"""Benchmark: `benchmark-eval compare` + report on two runs of 15,000 samples each with
10,000 bootstrap resamples (goal: at most 10 s on the 2-core CI machine).

The two run folders are synthesised in the exact format opencompass.sh writes (run.json +
samples.jsonl): 14,042 MMLU-like accuracy samples over 57 subjects plus 958 XSum-like ROUGE
samples. Every sample carries a generation trace as a server run with the default logprobs=5
writes it (30 tokens for MMLU-like, 60 for XSum-like answers, top-5 per token); the candidate
parts from the baseline in 5% of the samples (at a near-tie in four of five), so the divergence
analysis, the flip triage and their plots do their full work. Prints a small table and writes
benchmarks/results/compare_speed.json (with the sizes of samples.jsonl and report.html).

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


VOCAB = [" the", " a", " answer", " is", " A", " B", " C", " D", ".", ",", " of", " to", " in", " and", "<|im_end|>"]
DIVERGE = 0.05


def trace(key: int, length: int, diverge: bool, rng: np.random.Generator) -> tuple[str, dict]:
    """A greedy generation's trace; the same key gives the same baseline tokens on both sides."""
    own = np.random.default_rng(key)
    ids = own.integers(0, len(VOCAB) - 1, length)
    part = int(own.integers(0, length)) if diverge else length
    near = own.random() < 0.8
    tokens, logprobs, top = [], [], []
    for i, t in enumerate(ids):
        lead = (0.05 if near else 3.0) if i == part else float(own.uniform(0.5, 4))
        first = float(-own.uniform(0.01, 1.0))
        alternatives = [int(x) for x in own.choice(len(VOCAB), 5, replace=False) if x != t][:4]
        row = [(VOCAB[t], first), *((VOCAB[a], first - lead - j) for j, a in enumerate(alternatives))]
        if i == part:  # the candidate takes the runner-up here, then its own way
            row = [row[1], row[0], *row[2:]]
        if i > part:
            row = [(VOCAB[(t + 1) % (len(VOCAB) - 1)], first), *row[1:]]
        noise = rng.normal(0, 0.01)
        row = [(tok, round(lp + noise, 5)) for tok, lp in row]
        tokens.append(row[0][0])
        logprobs.append(row[0][1])
        top.append(row)
    return "".join(tokens), {"finish_reason": "stop", "output_tokens": length, "tokens": tokens, "logprobs": logprobs, "top": top}


def write_run(folder: Path, rng: np.random.Generator, flip: float, device: str, candidate: bool = False) -> None:
    folder.mkdir(parents=True)
    datasets: dict[str, dict] = {}
    lines = []
    per_subject = np.array_split(np.arange(ACC_SAMPLES), SUBJECTS)
    base_rng = np.random.default_rng(0)  # the same "truth" for both runs
    for s, idx in enumerate(per_subject):
        name = f"lukaemon_mmlu_subject{s:02d}"
        truth = base_rng.random(len(idx)) < 0.6
        correct = truth ^ (rng.random(len(idx)) < flip)
        parts = base_rng.random(len(idx)) < DIVERGE
        for i, c in enumerate(correct):
            text, generation = trace(s * 100_000 + i, 30, bool(candidate and parts[i]), rng)
            lines.append({"dataset": name, "id": str(i), "prompt_sha256": f"{s:02d}{i:062d}", "prediction": text,
                          "extracted": "A", "reference": "A" if c else "B", "scores": {"correct": float(c)},
                          "generation": generation})
        datasets[name] = {"config": "mmlu_gen", "files": {f"data/mmlu/test/s{s}_test.csv": "0" * 64},
                          "prompt_config_sha256": "1" * 64, "samples": len(idx), "metrics": {"accuracy": 100 * float(correct.mean())}}
    rouge = np.clip(base_rng.normal(30, 10, ROUGE_SAMPLES) + rng.normal(0, flip * 20, ROUGE_SAMPLES), 0, 100)
    parts = base_rng.random(ROUGE_SAMPLES) < DIVERGE
    for i, r in enumerate(rouge):
        text, generation = trace(10_000_000 + i, 60, bool(candidate and parts[i]), rng)
        lines.append({"dataset": "Xsum", "id": str(i), "prompt_sha256": f"x{i:063d}", "prediction": text, "extracted": text,
                      "reference": "r", "scores": {"rouge1": float(r)}, "generation": generation})
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
        write_run(cand, rng, 0.01, "npu", candidate=True)
        cmd = [sys.executable, "-m", "benchmark_eval", "compare", str(base), str(cand), "--out", str(Path(tmp) / "out"),
               "--resamples", "10000"]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        assert done.returncode in (0, 10, 11), done.stderr
        verdict = json.loads((Path(tmp) / "out" / "verdict.json").read_text())
        sizes = {"samples_jsonl_mb": round((base / "samples.jsonl").stat().st_size / 2**20, 1),
                 "report_html_mb": round((Path(tmp) / "out" / "report.html").stat().st_size / 2**20, 2),
                 "verdict_json_mb": round((Path(tmp) / "out" / "verdict.json").stat().st_size / 2**20, 2)}
    diverging = sum(d["diverging"] for d in verdict["divergence"])
    result = {"samples_per_run": ACC_SAMPLES + ROUGE_SAMPLES, "datasets": SUBJECTS + 1, "resamples": 10_000,
              "traces": "every sample, top-5 per token", "diverging_samples": diverging,
              "seconds_end_to_end": round(seconds, 2), "goal_seconds": 10, "verdict": verdict["verdict"],
              **sizes, "goal_report_html_mb": 5,
              "machine": {"cpu_count": __import__("os").cpu_count(), "platform": platform.platform()}}
    out = Path(__file__).parent / "results" / "compare_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'samples/run':>12} {'datasets':>9} {'resamples':>10} {'seconds':>8} {'goal':>5} {'html MB':>8} {'samples MB':>11}")
    print(f"{result['samples_per_run']:>12} {result['datasets']:>9} {10_000:>10} {seconds:>8.2f} {10:>5} "
          f"{sizes['report_html_mb']:>8} {sizes['samples_jsonl_mb']:>11}")


if __name__ == "__main__":
    main()
