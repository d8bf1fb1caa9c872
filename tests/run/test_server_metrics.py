"""Time to first token from vLLM's own /metrics histograms (fast: a page in vLLM's format served
locally; the real server's figures are checked in test_pipeline.py)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from benchmark_eval.server.metrics import Histogram, latency_between, parse, scrape

BOUNDS = ("0.1", "0.5", "1.0", "+Inf")


def _page(ttft: dict[str, list[int]], e2e: list[int] | None = None) -> str:
    """A /metrics page as vLLM writes it: one histogram series per engine, cumulative buckets."""
    lines = ["# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.",
             "# TYPE vllm:time_to_first_token_seconds histogram"]
    for engine, counts in ttft.items():
        lines += [f'vllm:time_to_first_token_seconds_bucket{{engine="{engine}",le="{le}",model_name="m"}} {c}.0'
                  for le, c in zip(BOUNDS, counts)]
        lines += [f'vllm:time_to_first_token_seconds_count{{engine="{engine}",model_name="m"}} {counts[-1]}.0',
                  f'vllm:time_to_first_token_seconds_sum{{engine="{engine}",model_name="m"}} 1.0']
    if e2e is not None:
        lines += ["# TYPE vllm:e2e_request_latency_seconds histogram"]
        lines += [f'vllm:e2e_request_latency_seconds_bucket{{engine="0",le="{le}",model_name="m"}} {c}.0'
                  for le, c in zip(BOUNDS, e2e)]
        lines += [f'vllm:e2e_request_latency_seconds_count{{engine="0",model_name="m"}} {e2e[-1]}.0']
    lines += ["# TYPE vllm:num_requests_running gauge", 'vllm:num_requests_running{engine="0",model_name="m"} 0.0']
    return "\n".join(lines) + "\n"


def test_quantiles_interpolate_within_buckets_as_prometheus_does() -> None:
    h = Histogram(((0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (float("inf"), 40.0)))
    assert h.quantile(0.5) == pytest.approx(0.1 + 0.4 * (10 / 20))  # rank 20: halfway into (0.1, 0.5]
    assert h.quantile(0.1) == pytest.approx(0.04)  # rank 4 of the first bucket's 10, from 0
    assert h.quantile(0.99) == pytest.approx(0.5 + 0.5 * (39.6 - 30) / 10)
    beyond = Histogram(((0.1, 1.0), (float("inf"), 4.0)))
    assert beyond.quantile(0.9) == 0.1  # past the last finite bound: that bound is all that is known
    assert Histogram(((float("inf"), 0.0),)).quantile(0.5) is None


def test_the_run_gets_the_difference_of_two_readings_summed_over_engines() -> None:
    before = parse(_page({"0": [1, 2, 3, 3]}, e2e=[0, 1, 3, 3]))
    after = parse(_page({"0": [11, 22, 23, 23], "1": [0, 10, 10, 10]}, e2e=[0, 11, 33, 33]))
    latency = latency_between(before, after)
    assert latency is not None and latency.requests == 30  # engine 0: 20 more, engine 1: 10 new
    # the run's 30: 10 below 0.1 s, 20 in (0.1, 0.5]: the median is 0.1 + 0.4 * 5/20
    assert latency.ttft_p50_s == pytest.approx(0.2) and latency.ttft_p99_s == pytest.approx(0.1 + 0.4 * 19.7 / 20, abs=1e-4)
    assert latency.e2e_p50_s == pytest.approx(0.5 + 0.5 * 5 / 20) and latency.queue_p50_s is None
    assert latency_between(before, before) is None  # no request finished in between
    assert latency_between(None, after) is None


@pytest.fixture
def served() -> Iterator[dict[str, object]]:
    state: dict[str, object] = {"status": 200, "body": ""}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = str(state["body"]).encode()
            self.send_response(int(str(state["status"])) if self.path == "/metrics" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()


def test_scrape_reads_every_endpoint_or_none(served: dict[str, object]) -> None:
    url = str(served["url"])
    served["body"] = _page({"0": [1, 2, 3, 3]})
    both = scrape([url, url])  # two endpoints: their histograms add up
    assert both is not None and both["ttft"].count == 6
    served["body"] = "# TYPE other_metric counter\nother_metric_total 1.0\n"
    assert scrape([url]) is None  # not vLLM's: no server latency rather than a wrong one
    served["status"] = 404
    assert scrape([url]) is None
    assert scrape(["http://127.0.0.1:9"]) is None  # nothing listening
