"""The run's request figures (speed, retries, failures resumed) from its client's logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .records import RequestStats
from .run_dir import RunDir


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # cut short by a killed process
    return out


def request_phase_s(batches: list[dict[str, Any]]) -> float:
    """Seconds during which requests were in flight: the union of the batches' spans, which
    overlap when datasets are in flight together (a plain sum would count the overlap twice)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted((b["start"], b["end"]) for b in batches):
        total += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return total


def request_stats(run_dir: RunDir) -> RequestStats | None:
    """None for a run that sent no request through our client (local weights)."""
    batches = _lines(run_dir.request_batches)
    if not batches:
        return None
    # Spans of batches that sent nothing are answers from the cache: no server time.
    phase = request_phase_s([b for b in batches if b.get("sent", 0)])
    latencies = [s for b in batches for s in b.get("latency_s", [])]
    token_counts = [b["output_tokens"] for b in batches if b.get("output_tokens") is not None]
    tokens = int(sum(token_counts)) if token_counts else None
    failed = {r["key"] for r in _lines(run_dir.failed_before) + _lines(run_dir.failed_requests) if "key" in r}
    p50, p99 = (float(np.percentile(latencies, q)) for q in (50, 99)) if latencies else (None, None)
    return RequestStats(
        sent=len(latencies), from_cache=sum(b.get("cached", 0) for b in batches),
        retried=sum(b.get("retried", 0) for b in batches), failed_then_resumed=len(failed),
        request_phase_s=round(phase, 3),
        requests_per_s=round(len(latencies) / phase, 3) if phase > 0 and latencies else None,
        output_tokens=tokens,
        output_tokens_per_s=round(tokens / phase, 2) if tokens is not None and phase > 0 else None,
        latency_p50_s=None if p50 is None else round(p50, 4), latency_p99_s=None if p99 is None else round(p99, 4))
