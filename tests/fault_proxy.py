"""A fault-injecting HTTP proxy in front of the REAL vLLM server (a test tool, not a fake server).

Every request is forwarded to the upstream server unless the fault plan says otherwise. It
counts, per exact request (path + body), how often it was forwarded and answered 200, so a
test can prove that a resumed run did not send a finished request again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

#: plan(key, attempt) -> "pass", "500" or "delay"; attempt counts from 0 per exact request.
FaultPlan = Callable[[str, int], str]


class EveryFifthFirstAttempt:
    """Every 5th new request fails its first attempt, alternately with HTTP 500 and a delay."""

    def __init__(self) -> None:
        self._new = 0
        self._lock = threading.Lock()

    def __call__(self, key: str, attempt: int) -> str:
        if attempt:
            return "pass"
        with self._lock:
            n = self._new
            self._new += 1
        if n % 5 != 3:
            return "pass"
        return "500" if (n // 5) % 2 == 0 else "delay"


class FaultProxy:
    def __init__(self, upstream: str, plan: FaultPlan | None = None, delay_s: float = 0.0,
                 rewrite_models: Callable[[dict], dict] | None = None,
                 rewrite_request: Callable[[dict], dict] | None = None,
                 rewrite_answer: Callable[[dict, bytes], bytes] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.rewrite_models = rewrite_models  # alters GET /v1/models answers (what preflight sees)
        # Alter a POST's body before the real server gets it (its answer is then the server's
        # real answer to another request), or the real answer (what no server would send).
        self.rewrite_request = rewrite_request
        self.rewrite_answer = rewrite_answer
        self.plan = plan or (lambda key, attempt: "pass")
        self.delay_s = delay_s
        self.attempts: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()  # 200s delivered, per request key
        self.faults: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()  # faults, per request key
        # Attempts whose real answer took longer than `slow_s`: the client may have given up on
        # them and retried, a retry with a cause that is not ours (a loaded CPU server).
        self.slow_s: float | None = None
        self.slow: Counter[str] = Counter()
        self.after_answer: Callable[[int], None] | None = None  # called with the number of 200s so far
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=600)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # /v1/models etc.: never faulted
                self._forward(b"", counted=False)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._forward(body, counted=True)

            def _forward(self, body: bytes, counted: bool) -> None:
                key = hashlib.sha256(self.path.encode() + b"\0" + body).hexdigest()
                action = "pass"
                if counted:
                    with proxy._lock:
                        attempt = proxy.attempts[key]
                        proxy.attempts[key] += 1
                    action = proxy.plan(key, attempt)
                if action != "pass":
                    with proxy._lock:
                        proxy.faults[action] += 1
                        proxy.injected[key] += 1
                    if action == "delay":
                        time.sleep(proxy.delay_s)  # the client's timeout fires first
                    return self._reply(500, b'{"error": "injected fault"}')
                sent = body
                if counted and proxy.rewrite_request:
                    sent = json.dumps(proxy.rewrite_request(json.loads(body))).encode()
                started = time.monotonic()
                try:
                    upstream = proxy._http.request(self.command, proxy.upstream + self.path, content=sent or None,
                                                   headers={"Content-Type": "application/json"})
                except httpx.TransportError as error:  # the real server is gone
                    return self._reply(502, f'{{"error": "upstream: {type(error).__name__}"}}'.encode())
                content = upstream.content
                if counted and proxy.slow_s is not None and time.monotonic() - started > proxy.slow_s:
                    with proxy._lock:
                        proxy.slow[key] += 1
                if counted and proxy.rewrite_answer and upstream.status_code == 200:
                    content = proxy.rewrite_answer(json.loads(body), content)
                if self.path.startswith("/v1/models") and proxy.rewrite_models and upstream.status_code == 200:
                    content = json.dumps(proxy.rewrite_models(upstream.json())).encode()
                self._reply(upstream.status_code, content, upstream.headers.get("content-type", "application/json"))
                if counted and upstream.status_code == 200:
                    with proxy._lock:
                        proxy.answered[key] += 1
                        total = sum(proxy.answered.values())
                    if proxy.after_answer:
                        proxy.after_answer(total)

        return Handler
