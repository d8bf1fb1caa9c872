"""A request counter shared between OpenCompass's task subprocesses and our progress display.

Each finished request appends one byte to a file named by an env var; the parent process
reads the file size. Appends of one byte are atomic, so no locking across processes.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...handoff import PROGRESS_ENV


def tick(count: int = 1) -> None:
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "ab") as f:
            f.write(b"." * count)


def tick_each(per_answer: int, count: int = 1) -> None:
    """`tick` for answers that each stand for `per_answer` prompts (a PPL item's choices)."""
    tick(count * per_answer)


def read_count(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
