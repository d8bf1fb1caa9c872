"""Our own ceiling: whole runs at full benchmark scale against the INSTANT STUB SERVER
(benchmarks/instant_server.py, a benchmark tool that answers at once, standing in for a fast
accelerator server; never used for a score), side by side with a bare asyncio client.

- ours: `benchmark-eval run`, whole run (wall time and the peak RSS of its process tree), its
  request phase (from logs/request_batches.jsonl) and the fixed cost (whole run - requests);
- bare: an asyncio aiohttp client replaying the exact request bodies our run sent (read back
  from the run's request cache) at the same concurrency: the floor a client can reach.

Workloads (pick with --only): gen (all of MMLU test, mmlu_gen), ppl (all of MMLU test,
mmlu_ppl), suite (full MMLU gen + C-Eval val gen + GSM8K test + HumanEval + XSum 1,000),
ppl5x (mmlu_ppl over a data root holding MMLU test five times: does memory grow with requests?).
Goals: gen whole run <= 10x bare, fixed cost <= 15 s; ppl peak RSS <= 1.5 GB (ppl's whole run
against bare is printed: next-token requests leave the bare client almost nothing to send,
docs/performance.md). Prints a table and writes benchmarks/results/ceiling_speed.json.

usage: .venv/bin/python benchmarks/ceiling_speed.py [--only gen,ppl,suite,ppl5x] [--concurrency 64] [--skip-bare] [--label after]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CLI, cached_requests, data_root, prompts_in, request_phase_s, run_folder, timed, write_result  # noqa: E402

from benchmark_eval.demo.model import SERVED_NAME  # noqa: E402
from benchmark_eval.paths import demo_model_dir  # noqa: E402
from benchmark_eval.server import free_port  # noqa: E402

WORKLOADS = {
    "gen": {"eval_datasets": "mmlu_gen", "max_out_len": "16"},
    "ppl": {"eval_datasets": "mmlu_ppl"},
    # C-Eval's 5-shot prompts pass 2048 tokens with the demo model's tokenizer, some XSum articles 4096.
    "suite": {"eval_datasets": "mmlu_gen ceval_gen gsm8k_gen humaneval_gen Xsum_gen", "max_out_len": "64", "max_seq_len": "8192"},
    "ppl5x": {"eval_datasets": "mmlu_ppl"},
}


@contextmanager
def instant_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("instant_server.py")), str(port),
                                SERVED_NAME, str(demo_model_dir())])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url + "/v1/models", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def mmlu_five_times(root: Path) -> Iterator[Path]:
    """A data root whose MMLU test files hold every row five times (the other folders linked)."""
    with tempfile.TemporaryDirectory(prefix="mmlu5x-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for entry in (root / "data").iterdir():
            if entry.name != "mmlu":
                (data / entry.name).symlink_to(entry)
        shutil.copytree(root / "data" / "mmlu", data / "mmlu")
        for path in (data / "mmlu" / "test").glob("*.csv"):
            text = path.read_text()
            path.write_text((text if text.endswith("\n") else text + "\n") * 5)
        yield Path(tmp)


def ours(url: str, workload: dict[str, str], results: Path, concurrency: int, root: Path) -> dict[str, Any]:
    env = {"service_port": url.rsplit(":", 1)[1], "model_name": SERVED_NAME, "batch_size": str(concurrency),
           "COMPASS_DATA_CACHE": str(root), "results_dir": str(results), **workload}
    run = timed([*CLI, "run"], env)
    run_dir = run_folder(run["stdout"])
    request_phase = request_phase_s(run_dir)
    requests = cached_requests(run_dir)
    samples = sum(1 for _ in (run_dir / "samples.jsonl").open())
    return {"run_s": run["seconds"], "request_phase_s": request_phase, "fixed_s": run["seconds"] - request_phase,
            "peak_rss_mib": run["peak_rss_mib"], "peak_rss_mib_by_process": run["peak_rss_mib_by_process"],
            "requests": len(requests), "samples": samples,
            "prompts": prompts_in(requests),
            "run_dir": str(run_dir), "_requests": requests}


async def _bare(url: str, requests: list[dict[str, Any]], concurrency: int) -> float:
    """aiohttp, the fastest asyncio client at hand: the floor is the client's, not httpx's."""
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url + "/v1/", connector=connector) as client:
        async def one(request: dict[str, Any]) -> None:
            async with gate, client.post(request["path"].lstrip("/"), json=request["body"]) as response:
                response.raise_for_status()
                await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(r) for r in requests))
        return time.perf_counter() - started


def measure(name: str, url: str, concurrency: int, tmp: Path, skip_bare: bool) -> dict[str, Any]:
    root = data_root()
    if name == "ppl5x":
        with mmlu_five_times(root) as five:
            result = ours(url, WORKLOADS[name], tmp / name, concurrency, five)
    else:
        result = ours(url, WORKLOADS[name], tmp / name, concurrency, root)
    requests = result.pop("_requests")
    if skip_bare:  # memory alone (e.g. ppl5x): the bare client's time is not wanted
        print(f"{name:6} {result['samples']:7d} samples | whole run {result['run_s']:7.1f} s | peak {result['peak_rss_mib']:5.0f} MiB"
              f" (each process's own peak: {result['peak_rss_mib_by_process']})", flush=True)
        return result
    result["bare_s"] = asyncio.run(_bare(url, requests, concurrency))
    result["ratio_whole_run"] = result["run_s"] / result["bare_s"]
    result["ratio_request_phase"] = result["request_phase_s"] / result["bare_s"]
    print(f"{name:6} {result['samples']:7d} samples {result['requests']:7d} requests | whole run {result['run_s']:7.1f} s"
          f" (requests {result['request_phase_s']:6.1f} s, fixed {result['fixed_s']:5.1f} s) | bare {result['bare_s']:6.1f} s"
          f" | ratio {result['ratio_whole_run']:5.2f} | peak {result['peak_rss_mib']:5.0f} MiB", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="gen,ppl,suite,ppl5x")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip-bare", action="store_true", help="no bare-client replay (memory measurements)")
    parser.add_argument("--label", default="", help="a name for this measurement in the result file (e.g. before)")
    args = parser.parse_args()
    report: dict[str, Any] = {"concurrency": args.concurrency, "server": "instant stub (benchmarks/instant_server.py)",
                              "label": args.label, "workloads": {}}
    with instant_server() as url, tempfile.TemporaryDirectory(prefix="ceiling-speed-") as tmp:
        for name in args.only.split(","):
            report["workloads"][name] = {"settings": WORKLOADS[name], **measure(name, url, args.concurrency, Path(tmp), args.skip_bare)}
    print(f"wrote {write_result('ceiling_speed', report, args.label)}")


if __name__ == "__main__":
    main()
