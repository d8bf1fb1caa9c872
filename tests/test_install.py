"""install.sh on the hosts people have: which it refuses (fast), and whether every lock resolves
for every supported platform and Python from the public registry alone (tools/check_locks.py,
pip's configuration emptied, so a wheel that only this machine has cannot hide)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _install(tmp_path: Path, version: str) -> subprocess.CompletedProcess[str]:
    """install.sh with an interpreter that says it is Python `version` (and nothing else)."""
    fake = tmp_path / "python"
    supported = "0" if version in ("3.10.13", "3.11.7", "3.12.1") else "1"
    fake.write_text(f'#!/bin/sh\ncase "$2" in *python_version*) echo {version};; *) exit {supported};; esac\n')
    fake.chmod(0o755)
    return subprocess.run(["bash", str(REPO / "install.sh"), "--with-vllm", "none"], env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake)},
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


@pytest.mark.parametrize("version", ["3.9.18", "3.13.0"])
def test_an_unsupported_python_is_one_line(tmp_path: Path, version: str) -> None:
    done = _install(tmp_path, version)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"install.sh: needs Python 3.10, 3.11 or 3.12, not {version}; set PYTHON=/path/to/python3.11"]


@pytest.mark.registry
def test_every_lock_resolves_for_every_supported_host() -> None:
    done = subprocess.run([sys.executable, str(REPO / "tools" / "check_locks.py")], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert done.stdout.count("resolves") == len(done.stdout.splitlines()) > 0
