"""Requests to the server: bounded concurrency, timeouts, retries with backoff, a request cache.

Every request is keyed by its exact content (path + JSON body). An answered request is
stored, with the request itself, in the run's cache (SQLite, safe across processes), so a
resumed run, or a second identical request, is answered from the cache and never sent
again; identical requests in flight at once share one answer. Transient faults (refused or
reset connections, timeouts, HTTP 5xx and 429) are retried with exponential backoff; a
request that still fails is logged to `<log_dir>/failed_requests.jsonl` and raises. Each
`map` call logs its timing to `<log_dir>/request_batches.jsonl` (the benchmarks read it).

Several endpoints (servers of one model) share the same bound on requests in flight: each
request goes to the next endpoint in turn; one that fails a request is taken out for a
while and the request goes to the next one at once, so a dead server costs no answers.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ...fileio import append_jsonl
from ...results.run_dir import FAILED_REQUESTS as FAILED_REQUESTS_PATH
from ...results.run_dir import REQUEST_BATCHES as REQUEST_BATCHES_PATH

# The files go into `log_dir` (the run folder's logs/), under the names RunDir gives them.
FAILED_REQUESTS = Path(FAILED_REQUESTS_PATH).name
REQUEST_BATCHES = Path(REQUEST_BATCHES_PATH).name

T = TypeVar("T")
R = TypeVar("R")
_RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
_TAKE_OUT_S = 15.0  # how long an endpoint that failed a request gets no new ones


class RequestFailed(RuntimeError):
    """A request failed for good (retries exhausted, or the server rejected it)."""


def request_key(path: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps({"path": path, "body": body}, sort_keys=True).encode()).hexdigest()


class RequestCache:
    """Answered requests by key; safe across threads and processes (SQLite WAL)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, body TEXT NOT NULL, request TEXT)")
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, answer: dict[str, Any], request: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (key, json.dumps(answer), json.dumps(request)))

    def close(self) -> None:
        self._db.close()


class ApiClient:
    def __init__(self, base_urls: str | Sequence[str], api_key: str, timeout: float, retries: int, concurrency: int,
                 cache_path: Path | None = None, log_dir: Path | None = None, backoff_s: float = 1.0) -> None:
        self.retries = retries
        self.concurrency = max(1, concurrency)
        self.backoff_s = backoff_s
        self.cache = RequestCache(cache_path) if cache_path else None
        self.log_dir = log_dir
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future[dict[str, Any]]] = {}
        self.endpoints = [u.rstrip("/") for u in ([base_urls] if isinstance(base_urls, str) else base_urls)]
        self._out_until = dict.fromkeys(self.endpoints, 0.0)
        self._turn = 0
        limits = httpx.Limits(max_connections=self.concurrency * len(self.endpoints),
                              max_keepalive_connections=self.concurrency * len(self.endpoints))
        self._http = httpx.Client(timeout=timeout, limits=limits, headers={"Authorization": f"Bearer {api_key}"})
        self.sent = 0  # requests that reached the network (cache misses x attempts)

    def close(self) -> None:
        self._http.close()
        if self.cache:
            self.cache.close()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer to one request: from the cache, or from the server (with retries)."""
        key = request_key(path, body)
        if self.cache and (cached := self.cache.get(key)) is not None:
            return cached
        with self._lock:
            twin = self._in_flight.get(key)
            if twin is None:
                mine: Future[dict[str, Any]] = Future()
                self._in_flight[key] = mine
        if twin is not None:  # the same request is on its way: share its answer
            return twin.result()
        try:
            answer = self._send(key, path, body)
        except BaseException as error:
            mine.set_exception(error)
            raise
        finally:
            with self._lock:
                del self._in_flight[key]
        mine.set_result(answer)
        return answer

    def _order(self) -> list[str]:
        """Endpoints for one round of tries: in turn, those taken out last (tried only if all are)."""
        with self._lock:
            start = self._turn
            self._turn += 1
        n = len(self.endpoints)
        turn = [self.endpoints[(start + i) % n] for i in range(n)]
        now = time.monotonic()
        return [u for u in turn if self._out_until[u] <= now] or turn

    def _take_out(self, url: str) -> None:
        with self._lock:
            self._out_until[url] = time.monotonic() + _TAKE_OUT_S

    def _send(self, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        attempts = self.retries + 1
        problem = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(self.backoff_s * 2 ** (attempt - 1), 30.0))
            for url in self._order():
                try:
                    with self._lock:
                        self.sent += 1
                    response = self._http.post(url + path, json=body)
                except httpx.TransportError as error:  # refused, reset, timed out
                    problem = f"{url}: {type(error).__name__}: {error}" if str(error) else f"{url}: {type(error).__name__}"
                    self._take_out(url)
                    continue
                if response.status_code in _RETRYABLE_STATUS:
                    problem = f"{url}: HTTP {response.status_code}: {response.text[:200]}"
                    self._take_out(url)
                    continue
                if response.status_code != 200:  # the request itself is wrong: retrying cannot help
                    raise self._failure(key, path, f"rejected, HTTP {response.status_code}: {response.text[:300]}")
                answer: dict[str, Any] = response.json()
                if self.cache:
                    self.cache.put(key, answer, {"path": path, "body": body})
                return answer
        raise self._failure(key, path, f"failed after {attempts} attempt(s): {problem}")

    def _failure(self, key: str, path: str, reason: str) -> RequestFailed:
        """Log a request that failed for good; the error to raise for it."""
        if self.log_dir:
            append_jsonl(self.log_dir / FAILED_REQUESTS, {"key": key, "path": path, "reason": reason})
        return RequestFailed(f"request {key[:12]} to {path} {reason}")

    def map(self, fn: Callable[[T], R], items: Sequence[T] | Iterable[T]) -> list[R]:
        """fn over all items with at most `concurrency` in flight; on a failure, start no more."""
        items = list(items)
        started, sent_before = time.time(), self.sent
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures: list[Future[R]] = [pool.submit(fn, item) for item in items]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            error = next((e for e in (f.exception() for f in done) if e is not None), None)
            if error is not None:
                for future in futures:
                    future.cancel()  # those not started; those in flight finish (and fill the cache)
                raise error
            results = [f.result() for f in futures]
        if self.log_dir:
            append_jsonl(self.log_dir / REQUEST_BATCHES, {"items": len(items), "sent": self.sent - sent_before,
                                                          "concurrency": self.concurrency, "start": started, "end": time.time()})
        return results
