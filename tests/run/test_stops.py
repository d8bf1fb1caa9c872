"""SIGINT and SIGTERM at each phase of a real run: a quick stop, nothing left running, an honest
run.json, one line with the resume command, and a resume that ends as an uninterrupted run.

Every process a run starts carries the test's marker in its environment (the server, its
engine and workers, OpenCompass and its tasks); sandboxed programs run under private uids
from 1,000,000 and their launchers are named by their command line. After each stop none
of them may be left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.server import ServerHandle

from ..conftest import _CLASSIC, CLI, assert_same_answers, finished_run

pytestmark = [pytest.mark.server, pytest.mark.opencompass]

STOP_WITHIN_S = 15.0  # "a few seconds", with room for a loaded 2-core machine
SLICE = {"eval_datasets": "mmlu_gen mmlu_ppl humaneval_gen", "subjects": "abstract_algebra", "limit": "4",
         "max_out_len": "16", "batch_size": "1"}  # one request at a time: byte-identical answers


def _ours(marker: str) -> list[str]:
    """Processes of this test's runs still alive: marker in the environment, a sandbox uid or launcher."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            proc = Path("/proc", pid)
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if (marker.encode() in (proc / "environ").read_bytes() or proc.stat().st_uid >= 1_000_000
                    or "benchmark_eval/sandbox/launcher.py" in cmdline):
                found.append(f"{pid}: {cmdline[:120]}")
        except OSError:
            pass
    return found


class Run:
    """`benchmark-eval run ...` as a background process of its own, as a user's shell starts it."""

    def __init__(self, args: list[str], env: dict[str, str], ignore_sigint: bool = False) -> None:
        self.marker = f"stop-test-{uuid.uuid4().hex[:10]}"
        full = {k: v for k, v in os.environ.items() if k not in _CLASSIC}
        full.update(env, BENCHMARK_EVAL_TEST_MARKER=self.marker)

        def start() -> None:
            if ignore_sigint:  # what a non-interactive shell does to a background job
                signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.process = subprocess.Popen(CLI + args, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, start_new_session=True, preexec_fn=start)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, (what, self.process.communicate())
            assert time.monotonic() < deadline, f"never saw: {what}"
            time.sleep(0.2)

    def child_running(self, word: str) -> bool:
        return any(word in line for line in _ours(self.marker))

    def stop(self, signum: int, then: int | None = None) -> tuple[int, float, str]:
        started = time.monotonic()
        self.process.send_signal(signum)
        if then is not None:
            self.process.send_signal(then)
        _, err = self.process.communicate(timeout=120)
        return self.process.returncode, time.monotonic() - started, err


def _assert_clean_stop(run: Run, code: int, seconds: float, err: str, signum: int, phase: str) -> list[str]:
    assert code == 128 + signum, err[-3000:]
    assert seconds < STOP_WITHIN_S, seconds
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1 and f"by {signal.Signals(signum).name} during {phase}" in lines[0], err[-2000:]
    time.sleep(1.0)  # anything that escaped has a moment to show itself
    assert _ours(run.marker) == []
    return lines


def _env(server: ServerHandle, data_root: Path, results: Path) -> dict[str, str]:
    return {"service_port": server.base_url.rsplit(":", 1)[1], "model_name": SERVED_NAME,
            "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(results), **SLICE}


def _progress(results: Path) -> int:
    files = list(results.glob("*/*/*/logs/requests.progress"))
    return files[0].stat().st_size if files else 0


def _resumed(run_dir: Path) -> bool:
    try:
        return bool(json.loads((run_dir / "run.json").read_text()).get("resumed_at"))
    except ValueError:  # being written
        return False


def _run_dir(line: str) -> Path:
    return Path(line.split("benchmark-eval run --resume ", 1)[1].split(" ", 1)[0])


@pytest.fixture(scope="module")
def clean_run(vllm_server: ServerHandle, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("clean")
    done = subprocess.run(CLI + ["run"], env={**{k: v for k, v in os.environ.items() if k not in _CLASSIC},
                                              **_env(vllm_server, data_root, results)},
                          capture_output=True, text=True, timeout=900)
    return finished_run(done)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_during_the_demo_server_start_up(signum: int, tmp_path: Path) -> None:
    # SIGINT as a background job of a script gets it: ignored at start, which we must override.
    run = Run(["run", "--demo"], {"results_dir": str(tmp_path)}, ignore_sigint=signum == signal.SIGINT)
    run.wait_for(lambda: run.child_running("vllm.entrypoints.openai.api_server"), "the demo's vLLM server starting")
    time.sleep(3.0)  # well inside its ~30 s start-up, loading the model
    code, seconds, err = run.stop(signum)
    _assert_clean_stop(run, code, seconds, err, signum, "server start-up")
    assert not list(tmp_path.rglob("run.json"))
    # Not a terminal: whole lines (rich used to break this one at 80 columns: "(about 40 \ns)").
    assert any(line.startswith("demo: starting") and line.endswith("(about 40 s)") for line in err.splitlines()), err


def test_sigterm_during_preflight(data_root: Path, tmp_path: Path) -> None:
    # A host that accepts the connection and never answers: preflight waits on GET /v1/models.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        run = Run(["run"], {"service_port": str(silent.getsockname()[1]), "model_name": SERVED_NAME,
                            "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(tmp_path), **SLICE})
        time.sleep(4.0)
        code, seconds, err = run.stop(signal.SIGTERM)
    _assert_clean_stop(run, code, seconds, err, signal.SIGTERM, "preflight")
    assert not any(tmp_path.iterdir()), "nothing is written before preflight passes"


def test_sigint_during_requests_then_resume(vllm_server: ServerHandle, data_root: Path, tmp_path: Path,
                                            clean_run: Path) -> None:
    run = Run(["run"], _env(vllm_server, data_root, tmp_path))
    run.wait_for(lambda: _progress(tmp_path) >= 3, "three answered requests")
    code, seconds, err = run.stop(signal.SIGINT)
    [line] = _assert_clean_stop(run, code, seconds, err, signal.SIGINT, "requests")
    run_dir = _run_dir(line)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["interrupted"]["phase"] == "requests" and manifest["interrupted"]["signal"] == "SIGINT"
    assert manifest["interrupted"]["at"] and not (run_dir / "samples.jsonl").exists()

    resumed = subprocess.run(CLI + ["run", "--resume", str(run_dir)], capture_output=True, text=True, timeout=900)
    assert finished_run(resumed) == run_dir
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "ok" and "interrupted" not in manifest
    # The resumed requests are batched differently from the clean run's: same answers, log-probs
    # within the batching bound.
    assert_same_answers((run_dir / "samples.jsonl").read_bytes(), (clean_run / "samples.jsonl").read_bytes())


def test_sigterm_during_evaluation_then_resume(clean_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / clean_run.name
    shutil.copytree(clean_run, run_dir)
    for folder in ("results", "summary"):  # every prediction present: the run goes straight to evaluation
        shutil.rmtree(run_dir / folder)
    (run_dir / "samples.jsonl").unlink()
    manifest = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**manifest, "status": "failed"}))

    run = Run(["run", "--resume", str(run_dir)], {})
    # OpenCompass starts with the data preflight and imports meanwhile; run.json records the
    # resumed attempt once the preflight passed, and then "go" sends OpenCompass, imported by
    # then, straight to its evaluations: about a second for these three datasets.
    run.wait_for(lambda: _resumed(run_dir) and run.child_running("opencompass"), "OpenCompass evaluating")
    time.sleep(0.3)
    code, seconds, err = run.stop(signal.SIGTERM)
    _assert_clean_stop(run, code, seconds, err, signal.SIGTERM, "evaluation")
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["interrupted"]["phase"] == "evaluation"

    resumed = subprocess.run(CLI + ["run", "--resume", str(run_dir)], capture_output=True, text=True, timeout=900)
    assert finished_run(resumed) == run_dir
    assert (run_dir / "samples.jsonl").read_bytes() == (clean_run / "samples.jsonl").read_bytes()


def test_a_second_signal_stops_at_once(vllm_server: ServerHandle, data_root: Path, tmp_path: Path) -> None:
    run = Run(["run"], _env(vllm_server, data_root, tmp_path))
    run.wait_for(lambda: _progress(tmp_path) >= 2, "two answered requests")
    # The graceful stop takes well under a second here, so the second signal follows at once
    # (a second SIGINT that close would merge with the first: the kernel does not queue them).
    code, seconds, err = run.stop(signal.SIGINT, then=signal.SIGTERM)
    assert code == 143 and "interrupted again (SIGTERM): stopped at once" in err, err[-2000:]
    assert seconds < 3.0, seconds  # no grace period the second time
    time.sleep(1.0)
    assert _ours(run.marker) == []
    [manifest] = [json.loads(p.read_text()) for p in tmp_path.rglob("run.json")]
    assert manifest["status"] == "interrupted"
