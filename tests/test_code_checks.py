"""The code checks run with the tests: ruff over everything, mypy --strict over the package
(settings in pyproject.toml; tools pinned in requirements/dev.lock). Zero findings, so each
remaining `# type: ignore` and `# noqa` guards something named."""

from __future__ import annotations

import subprocess
import sys

from benchmark_eval.paths import REPO_ROOT


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    done = _tool("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_mypy_strict_finds_nothing() -> None:
    done = _tool("mypy")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout
