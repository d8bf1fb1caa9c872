"""Generation traces: what the server said about each generation besides its text.

OpenCompass keeps a generation's text only. The model class (`VLLMApi.generate`) writes the
rest, by the hash of the exact prompt, to `logs/generations/<host>-<pid>.jsonl` (one file per
process: OpenCompass's task processes, here or on Slurm nodes, never share one); samples.jsonl
takes it from there.
A line cut short by a killed process is skipped: its prediction was never written either
(the trace is written before the text is handed back), and the resumed run writes it again
from the request cache.
"""

from __future__ import annotations

import functools
import json
import math
import os
import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .records import GenerationTrace
from .run_dir import RunDir, paused_gc

_DECIMALS = 5


def _logprob(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else round(number, _DECIMALS)


def compact_trace(finish_reason: str | None, output_tokens: int | None,
                  content: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The stored form of a chat answer's `logprobs.content` (None: no log-probs asked)."""
    trace: dict[str, Any] = {"finish_reason": finish_reason, "output_tokens": output_tokens}
    if content is not None:
        trace["tokens"] = [entry["token"] for entry in content]
        trace["logprobs"] = [_logprob(entry["logprob"]) for entry in content]
        if any(entry.get("top_logprobs") for entry in content):
            trace["top"] = [[(alt["token"], _logprob(alt["logprob"])) for alt in entry.get("top_logprobs") or []]
                            for entry in content]
    return trace


class TraceWriter:
    """Appends (prompt hash, trace) lines to this process's file; thread-safe."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / f"{socket.gethostname()}-{os.getpid()}.jsonl"
        self._lock = threading.Lock()

    def write(self, traces: Iterable[tuple[str, dict[str, Any]]]) -> None:
        text = "".join(json.dumps({"prompt": key, "trace": trace}, ensure_ascii=False) + "\n" for key, trace in traces)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a+", encoding="utf-8") as f:
                if f.tell() and not _ends_with_newline(self.path):
                    f.write("\n")  # a line cut short by a killed process with this pid: end it
                f.write(text)


@functools.cache
def trace_writer(folder: Path) -> TraceWriter:
    """This process's one writer for `folder` (its lock keeps the lines of threads apart)."""
    return TraceWriter(folder)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


class _TraceLine(BaseModel):
    prompt: str
    trace: GenerationTrace


def read_traces(run_dir: RunDir) -> dict[str, GenerationTrace]:
    """prompt hash -> trace, over every process's file (the same prompt has the same trace)."""
    return TraceReader(run_dir).read_on()


class TraceReader:
    """The run's traces, read on from where the last call stopped (samples_ahead.py reads them
    while OpenCompass still appends). A line without its newline yet is left for the next call;
    a line that does not parse (cut short, see above) is skipped."""

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir
        self.traces: dict[str, GenerationTrace] = {}
        self._read_to: dict[Path, int] = {}

    def read_on(self) -> dict[str, GenerationTrace]:
        # paused_gc: a trace is a few small lists; the collector's passes over 14,000 of them were
        # two thirds of the time (0.55 s against 0.20 s for MMLU's generations)
        with paused_gc():
            for path in sorted(self.run_dir.generations.glob("*.jsonl")):
                start = self._read_to.get(path, 0)
                with open(path, "rb") as f:
                    f.seek(start)
                    data = f.read()
                complete = data.rfind(b"\n") + 1
                for line in data[:complete].splitlines():
                    try:  # parsed and checked in one pass by pydantic (twice as fast as json.loads, then validate)
                        record = _TraceLine.model_validate_json(line)
                    except ValueError:  # ValidationError included
                        continue
                    self.traces[record.prompt] = record.trace
                self._read_to[path] = start + complete
        return self.traces
