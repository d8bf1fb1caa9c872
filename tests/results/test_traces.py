"""Generation traces and request figures: what the model class writes, what samples.jsonl and run.json get."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark_eval.results import RunDir
from benchmark_eval.results.requests import request_phase_s, request_stats
from benchmark_eval.results.traces import TraceWriter, compact_trace, read_traces


def test_compact_trace_rounds_and_keeps_nan_as_none() -> None:
    content = [{"token": "A", "logprob": -0.123456789, "top_logprobs": [{"token": "A", "logprob": -0.123456789},
                                                                        {"token": "B", "logprob": float("nan")}]}]
    trace = compact_trace("stop", 1, content)
    assert trace == {"finish_reason": "stop", "output_tokens": 1, "tokens": ["A"], "logprobs": [-0.12346],
                     "top": [[("A", -0.12346), ("B", None)]]}
    assert compact_trace("length", 3, None) == {"finish_reason": "length", "output_tokens": 3}


def test_a_line_cut_short_is_skipped_and_ended(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    writer = TraceWriter(run.generations)
    writer.write([("a", compact_trace("stop", 1, None))])
    with open(writer.path, "a", encoding="utf-8") as f:
        f.write('{"prompt": "b", "trace": {"finish_re')  # a process killed mid-line
    writer.write([("c", compact_trace("length", 2, None))])  # the resumed process (same pid here)
    traces = read_traces(run)
    assert sorted(traces) == ["a", "c"] and traces["c"].finish_reason == "length"


def _batch(start: float, end: float, latencies: list[float], tokens: int | None, cached: int = 0, retried: int = 0) -> dict:
    return {"items": len(latencies) + cached, "cached": cached, "sent": len(latencies) + retried, "start": start, "end": end,
            "latency_s": latencies, "retried": retried, "output_tokens": tokens}


def test_request_stats_from_the_batch_log(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.logs.mkdir()
    batches = [_batch(0, 10, [1.0] * 10, 100), _batch(5, 20, [2.0] * 20, 300, retried=2),
               _batch(30, 31, [], None, cached=7)]  # answered from the cache: no server time
    run.request_batches.write_text("".join(json.dumps(b) + "\n" for b in batches))
    run.failed_before.write_text(json.dumps({"key": "k1", "path": "/x", "reason": "r"}) + "\n")
    stats = request_stats(run)
    assert stats is not None
    assert request_phase_s(batches[:2]) == 20  # overlapping spans counted once
    assert (stats.sent, stats.from_cache, stats.retried, stats.failed_then_resumed) == (30, 7, 2, 1)
    assert stats.request_phase_s == 20 and stats.requests_per_s == pytest.approx(1.5)
    assert stats.output_tokens == 400 and stats.output_tokens_per_s == pytest.approx(20)
    assert stats.latency_p50_s == 2.0
    assert request_stats(RunDir(tmp_path / "none")) is None


def test_traces_are_read_on_and_a_line_not_yet_ended_waits(tmp_path: Path) -> None:
    """TraceReader, as samples_ahead.py calls it while OpenCompass appends."""
    from benchmark_eval.results.traces import TraceReader

    run = RunDir(tmp_path)
    writer = TraceWriter(run.generations)
    writer.write([("a", compact_trace("stop", 1, None))])
    line = json.dumps({"prompt": "b", "trace": compact_trace("length", 2, None)})
    with open(writer.path, "a", encoding="utf-8") as f:
        f.write(line[:20])  # being written
    reader = TraceReader(run)
    assert sorted(reader.read_on()) == ["a"]
    with open(writer.path, "a", encoding="utf-8") as f:
        f.write(line[20:] + "\n")
    writer.write([("c", compact_trace("stop", 3, None))])
    assert sorted(reader.read_on()) == ["a", "b", "c"] and reader.traces["b"].output_tokens == 2
