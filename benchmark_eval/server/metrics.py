"""The server's own latency figures, from vLLM's Prometheus endpoint (GET /metrics).

Our requests do not stream (one answer per request keeps the client simple and its answers
byte-identical to a plain request), so the client never sees the first token. vLLM times every
request itself, streamed or not, into histograms: time to first token, end-to-end latency and
time queued. A run reads them before its first request and after its last, and the difference
is the run's requests (plus any other client's requests to the same server meanwhile: the
record counts the requests it covers, so a reader can tell). Percentiles come from the bucket
counts, interpolated within a bucket as Prometheus's `histogram_quantile` does: as fine as
vLLM's bucket bounds, no finer.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ..results.records import ServerLatency

#: What we read, by vLLM's metric name (vllm/v1/metrics/loggers.py).
HISTOGRAMS = {
    "ttft": "vllm:time_to_first_token_seconds",
    "e2e": "vllm:e2e_request_latency_seconds",
    "queue": "vllm:request_queue_time_seconds",
}


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts by upper bound (the last bound is +inf), summed over label sets."""

    buckets: tuple[tuple[float, float], ...]

    @property
    def count(self) -> float:
        return self.buckets[-1][1] if self.buckets else 0.0

    def minus(self, earlier: Histogram) -> Histogram:
        before = dict(earlier.buckets)
        return Histogram(tuple((bound, count - before.get(bound, 0.0)) for bound, count in self.buckets))

    def quantile(self, q: float) -> float | None:
        """Prometheus's histogram_quantile: the bucket holding rank q·count, linear within it."""
        if self.count <= 0:
            return None
        rank = q * self.count
        lower, below = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if bound == float("inf"):
                    return lower  # beyond the last finite bound: its bound is all that is known
                inside = cumulative - below
                return lower + (bound - lower) * ((rank - below) / inside if inside > 0 else 1.0)
            lower, below = bound, cumulative
        return lower


Snapshot = dict[str, Histogram]


def parse(*pages: str) -> Snapshot:
    """The histograms we read, summed over /metrics pages (endpoints) and over each page's label
    sets (engines, models); a histogram no page has is left out."""
    wanted = {name: key for key, name in HISTOGRAMS.items()}
    counts: dict[str, dict[float, float]] = {}
    for page in pages:
        for family in text_string_to_metric_families(page):
            key = wanted.get(family.name)
            if key is None or family.type != "histogram":
                continue
            into = counts.setdefault(key, {})
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    bound = float(sample.labels["le"])
                    into[bound] = into.get(bound, 0.0) + sample.value
    return {key: Histogram(tuple(sorted(by_bound.items()))) for key, by_bound in counts.items() if by_bound}


def scrape(endpoints: list[str], timeout: float = 5.0) -> Snapshot | None:
    """Every endpoint's histograms, summed; None when any endpoint has none to give (not vLLM,
    metrics off, unreachable): then the run records no server latency rather than part of it."""
    pages = []
    for url in endpoints:
        try:
            response = httpx.get(f"{url.rstrip('/')}/metrics", timeout=timeout)
            response.raise_for_status()
        except httpx.HTTPError:
            return None
        if f"{HISTOGRAMS['ttft']}_bucket" not in response.text:
            return None
        pages.append(response.text)
    try:
        return parse(*pages)
    except ValueError:  # a page that is not Prometheus text
        return None


def latency_between(before: Snapshot | None, after: Snapshot | None) -> ServerLatency | None:
    """The server's figures for the requests it finished between two snapshots."""
    if before is None or after is None or "ttft" not in before or "ttft" not in after:
        return None
    delta = {key: after[key].minus(before[key]) for key in after if key in before}
    ttft = delta["ttft"]
    if ttft.count <= 0:
        return None

    def q(key: str, p: float) -> float | None:
        value = delta[key].quantile(p) if key in delta else None
        return None if value is None else round(value, 4)

    return ServerLatency(source="vllm /metrics", requests=int(ttft.count), ttft_p50_s=q("ttft", 0.5), ttft_p90_s=q("ttft", 0.9),
                         ttft_p99_s=q("ttft", 0.99), e2e_p50_s=q("e2e", 0.5), e2e_p99_s=q("e2e", 0.99),
                         queue_p50_s=q("queue", 0.5), queue_p99_s=q("queue", 0.99))
