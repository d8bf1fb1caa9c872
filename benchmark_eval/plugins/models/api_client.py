"""Requests to the server: bounded concurrency, timeouts, retries with backoff, a request cache.

Every request is keyed by its exact content (path + JSON body, and the name of what the caller
keeps of the answer). An answered request is stored, with the request itself, in the run's
cache (SQLite, safe across processes), so a resumed run, or a second identical request, is
answered from the cache and never sent again; identical requests in flight at once share one
answer. Transient faults (refused or reset connections, timeouts, HTTP 5xx and 429) are
retried with exponential backoff; a request that still fails is logged to
`<log_dir>/failed_requests.jsonl` and raises. Each `post_all` call logs its timing to
`<log_dir>/request_batches.jsonl` (the benchmarks read it).

Several endpoints (servers of one model) share the same bound on requests in flight: each
request goes to the next endpoint in turn; one that fails a request is taken out for a
while and the request goes to the next one at once, so a dead server costs no answers.

Why asyncio: against a fast server the client is the bottleneck. One event loop (in a thread
of its own, shared by every caller of this client, so datasets in flight together share one
bound) drives all requests; a thread per request spent more time switching than sending.
Callers block in `post_all`; any number of them may call at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from ...fileio import append_jsonl
from ...results.run_dir import FAILED_REQUESTS as FAILED_REQUESTS_PATH
from ...results.run_dir import REQUEST_BATCHES as REQUEST_BATCHES_PATH

# The files go into `log_dir` (the run folder's logs/), under the names RunDir gives them.
FAILED_REQUESTS = Path(FAILED_REQUESTS_PATH).name
REQUEST_BATCHES = Path(REQUEST_BATCHES_PATH).name

_RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
_ENCODE = msgspec.json.Encoder(order="sorted").encode  # sorted keys: one request, one key
_TAKE_OUT_S = 15.0  # how long an endpoint that failed a request gets no new ones
_FLUSH_EVERY = 128  # answers per cache transaction


class RequestFailed(RuntimeError):
    """A request failed for good (retries exhausted, or the server rejected it)."""


class _NotStarted(Exception):
    """A request not sent because another of its batch had failed for good."""


@dataclass(frozen=True)
class ApiRequest:
    """One POST. `keep` reduces the answer to what the caller needs: that is what is cached and
    returned (a PPL answer holds a log-prob for every prompt token; the caller needs a few, and
    decoding only those is most of the client's time against a fast server).
    `keep_name` names the reduction and is part of the cache key, so a cached answer is only
    ever handed to a caller that keeps the same thing."""

    path: str
    body: dict[str, Any]
    keep: Callable[[bytes], Any] | None = None  # from the answer's raw JSON; None: all of it, decoded
    keep_name: str = ""
    output_tokens: Callable[[Any], int | None] | None = None  # from the kept answer: tokens generated (speed)

    def payload(self) -> bytes:
        return _ENCODE(self.body)


def request_key(path: str, payload: bytes, keep_name: str = "") -> str:
    return hashlib.sha256(b"\n".join((path.encode(), payload, keep_name.encode()))).hexdigest()


class RequestCache:
    """Answered requests by key; safe across threads and processes (SQLite WAL).

    Answers are written in batches, one transaction each (`_FLUSH_EVERY` answers, and at the end
    of every `post_all`): a transaction per answer cost 0.2 ms of the client's thread, 3 s over
    MMLU's 14,042 requests against a fast server. An answer not yet written is still found by
    `get_many`; one lost with a killed process is merely asked again on resume."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # No fsync per transaction: a process that dies keeps every committed answer (WAL); only
        # a power cut may lose the last ones, and a lost answer is merely asked again.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, body TEXT NOT NULL, request TEXT)")
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, str, str]] = {}

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            found.update((key, msgspec.json.decode(self._pending[key][1])) for key in unique if key in self._pending)
            for start in range(0, len(unique), 500):  # SQLite's bound on parameters per statement
                chunk = unique[start:start + 500]
                rows = self._db.execute(f"SELECT key, body FROM answers WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                found.update((key, msgspec.json.decode(body)) for key, body in rows)
        return found

    def put(self, key: str, answer: Any, path: str, payload: bytes) -> None:
        request = b'{"path": ' + _ENCODE(path) + b', "body": ' + payload + b"}"
        with self._lock:
            self._pending[key] = (key, _ENCODE(answer).decode(), request.decode())
            full = len(self._pending) >= _FLUSH_EVERY
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._pending = list(self._pending.values()), {}
            if rows:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", rows)
                self._db.execute("COMMIT")

    def close(self) -> None:
        self.flush()
        self._db.close()


class ApiClient:
    def __init__(self, base_urls: str | Sequence[str], api_key: str, timeout: float, retries: int, concurrency: int,
                 cache_path: Path | None = None, log_dir: Path | None = None, backoff_s: float = 1.0) -> None:
        self.retries = retries
        self.concurrency = max(1, concurrency)
        self.backoff_s = backoff_s
        self.timeout = timeout
        self.api_key = api_key
        self.cache = RequestCache(cache_path) if cache_path else None
        self.log_dir = log_dir
        self.endpoints = [u.rstrip("/") for u in ([base_urls] if isinstance(base_urls, str) else base_urls)]
        self._out_until = dict.fromkeys(self.endpoints, 0.0)
        self._turn = 0
        self.sent = 0  # requests that reached the network (cache misses x attempts)
        # Per answered request (not from the cache): (seconds of its answering try, tries, tokens
        # generated); taken by the batch log line of the post_all call that asked for it.
        self._answered: dict[str, tuple[float, int, int | None]] = {}
        self._in_flight: dict[str, asyncio.Future[Any]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="api-client", daemon=True)
        self._thread.start()
        self._session: aiohttp.ClientSession | None = None
        self._gate: asyncio.Semaphore | None = None

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._session is not None:
            asyncio.run_coroutine_threadsafe(self._session.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        if self.cache:
            self.cache.close()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """The JSON answer to one request: from the cache, or from the server (with retries)."""
        return self.post_all([ApiRequest(path, body)])[0]

    def post_all(self, requests: Iterable[ApiRequest], progress: Callable[[int], None] | None = None,
                 then: Callable[[list[Any]], list[Any]] | None = None) -> list[Any]:
        """Every request's (kept) answer, in order, with at most `concurrency` in flight across
        all callers; on a failure, send no more of these and raise it. `progress(n)` is told
        of answers as they come (cached ones at once); `then(answers)`, if given, is what is
        returned (run where the answers are: in the client's process, client_process.py)."""
        requests = list(requests)
        started = time.time()
        payloads = [r.payload() for r in requests]
        keys = [request_key(r.path, p, r.keep_name) for r, p in zip(requests, payloads)]
        answers = self.cache.get_many(keys) if self.cache else {}
        if answers and progress:
            progress(sum(k in answers for k in keys))
        missing = {k: (r, p) for k, r, p in zip(keys, requests, payloads) if k not in answers}
        cached = len(set(keys)) - len(missing)
        try:
            if missing:
                work = self._answer_all(missing, progress)
                answers.update(asyncio.run_coroutine_threadsafe(work, self._loop).result())
        finally:  # a failed batch is logged too: what it sent took server time
            if self.cache:
                self.cache.flush()  # a finished (or failed) batch's answers are on disk before it returns
            if self.log_dir:
                self._log_batch(len(requests), cached, started, list(missing))
        ordered = [answers[k] for k in keys]
        return then(ordered) if then is not None else ordered

    def _log_batch(self, items: int, cached: int, started: float, asked: list[str]) -> None:
        # Only this call's own requests: the client is shared by the datasets in flight.
        answered = [self._answered.pop(k) for k in asked if k in self._answered]
        tokens = [t for _, _, t in answered if t is not None]
        assert self.log_dir is not None
        append_jsonl(self.log_dir / REQUEST_BATCHES, {
            "items": items, "cached": cached, "sent": sum(tries for _, tries, _ in answered), "concurrency": self.concurrency,
            "start": started, "end": time.time(),
            "latency_s": [round(s, 4) for s, _, _ in answered], "retried": sum(tries > 1 for _, tries, _ in answered),
            "output_tokens": sum(tokens) if tokens else None})

    async def _answer_all(self, missing: dict[str, tuple[ApiRequest, bytes]],
                          progress: Callable[[int], None] | None) -> dict[str, Any]:
        if self._session is None:
            connections = self.concurrency * len(self.endpoints)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=connections, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"})
            self._gate = asyncio.Semaphore(self.concurrency)
        failed = asyncio.Event()  # set at the first failure: what has not started yet, does not
        unreported = [0]

        async def one(key: str, request: ApiRequest, payload: bytes) -> Any:
            answer = await self._answer(key, request, payload, failed)
            unreported[0] += 1
            if progress and unreported[0] >= 32:  # tell in batches: each report writes a file
                progress(unreported[0])
                unreported[0] = 0
            return answer

        tasks = [asyncio.ensure_future(one(k, r, p)) for k, (r, p) in missing.items()]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        if progress and unreported[0]:
            progress(unreported[0])
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:  # those in flight at the failure finished (and filled the cache)
            raise next((e for e in errors if not isinstance(e, _NotStarted)), errors[0])
        return dict(zip(missing, results))

    async def _answer(self, key: str, request: ApiRequest, payload: bytes, failed: asyncio.Event) -> Any:
        twin = self._in_flight.get(key)
        if twin is not None:  # the same request is on its way (from this or another caller): share its answer
            return await asyncio.shield(twin)
        mine: asyncio.Future[Any] = self._loop.create_future()
        self._in_flight[key] = mine
        try:
            assert self._gate is not None
            async with self._gate:
                if failed.is_set():
                    raise _NotStarted()
                answer = await self._send(key, request, payload)
        except BaseException as error:
            mine.set_exception(error)
            mine.exception()  # retrieved: a twin may not be waiting for it
            failed.set()
            raise
        finally:
            del self._in_flight[key]
        mine.set_result(answer)
        return answer

    def _order(self) -> list[str]:
        """Endpoints for one round of tries: in turn, those taken out last (tried only if all are)."""
        start = self._turn
        self._turn += 1
        n = len(self.endpoints)
        turn = [self.endpoints[(start + i) % n] for i in range(n)]
        now = time.monotonic()
        return [u for u in turn if self._out_until[u] <= now] or turn

    async def _send(self, key: str, request: ApiRequest, payload: bytes) -> Any:
        assert self._session is not None
        attempts = self.retries + 1
        problem = ""
        tries = 0
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(min(self.backoff_s * 2 ** (attempt - 1), 30.0))
            for url in self._order():
                self.sent += 1
                tries += 1
                sent_at = time.perf_counter()
                try:
                    async with self._session.post(url + request.path, data=payload) as response:
                        status, raw = response.status, await response.read()
                except (aiohttp.ClientError, asyncio.TimeoutError) as error:  # refused, reset, timed out
                    problem = f"{url}: {type(error).__name__}: {error}" if str(error) else f"{url}: {type(error).__name__}"
                    self._out_until[url] = time.monotonic() + _TAKE_OUT_S
                    continue
                text = raw[:300].decode(errors="replace")
                if status in _RETRYABLE_STATUS:
                    problem = f"{url}: HTTP {status}: {text[:200]}"
                    self._out_until[url] = time.monotonic() + _TAKE_OUT_S
                    continue
                if status != 200:  # the request itself is wrong: retrying cannot help
                    raise self._failure(key, request.path, f"rejected, HTTP {status}: {text}")
                latency = time.perf_counter() - sent_at
                kept = request.keep(raw) if request.keep else msgspec.json.decode(raw)
                if self.cache:
                    self.cache.put(key, kept, request.path, payload)
                self._answered[key] = (latency, tries, request.output_tokens(kept) if request.output_tokens else None)
                return kept
        raise self._failure(key, request.path, f"failed after {attempts} attempt(s): {problem}")

    def _failure(self, key: str, path: str, reason: str) -> RequestFailed:
        """Log a request that failed for good; the error to raise for it."""
        if self.log_dir:
            append_jsonl(self.log_dir / FAILED_REQUESTS, {"key": key, "path": path, "reason": reason})
        return RequestFailed(f"request {key[:12]} to {path} {reason}")
