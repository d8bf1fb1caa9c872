"""The model's `ApiClient` in a process of its own.

Against a fast server the client's event loop (aiohttp, the request cache, keeping each answer)
held OpenCompass's interpreter lock for 4.4 s of an 11 s MMLU window, in the process that also
builds every prompt and evaluates every dataset. A second core sat half idle. So the one
client of a model runs in a child process, and OpenCompass's process only hands it requests
and takes their kept answers: the same `ApiClient` (its bound on requests in flight across
every dataset, retries, failover, cache and logs), in another interpreter.

The child is started with `spawn` (a fresh interpreter: OpenCompass's process has threads by
then, which `fork` would not carry safely) and imports no OpenCompass. Requests cross by pickle,
so their `keep`, `output_tokens`, `progress` and `then` callables are module-level functions or
partials of them (answers.py, progress.py). The child ends when told to (`close`), when its pipe
closes (OpenCompass's process ended), or with the process group a stop ends; a child that dies
fails every call waiting on it with RequestFailed, never a hang.

Starting an interpreter and importing the client takes most of a second: OpenCompass's process
starts the child while it waits for "go" (`prestart`, with PRESTART_CLIENT_ENV set), and the
model's first client takes that child and hands it its settings.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from ...handoff import PRESTART_CLIENT_ENV

if TYPE_CHECKING:  # aiohttp and the client are imported where they run: the CLI only reads the name below
    from .api_client import ApiRequest, RequestFailed

#: Set (run/pipeline.py): OpenCompass's process starts a client process before "go".
_prestarted: list[tuple[Any, Connection]] = []  # (process, our end), taken by the first client
_prestarted_lock = threading.Lock()


def _spawn(client: dict[str, Any] | None) -> tuple[Any, Connection]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(theirs, client), name="api-client", daemon=True)
    process.start()
    theirs.close()
    return process, ours


def prestart() -> None:
    """Start a client process that waits for its settings, if PRESTART_CLIENT_ENV asks for one."""
    if os.environ.get(PRESTART_CLIENT_ENV):
        with _prestarted_lock:
            if not _prestarted:
                _prestarted.append(_spawn(None))


class ClientProcess:
    """`ApiClient.post_all` and `close`, served by a child process; any number of threads may
    call `post_all` at once (each call is served by a thread of the child)."""

    def __init__(self, **client: Any) -> None:
        with _prestarted_lock:
            waiting = _prestarted.pop() if _prestarted else None
        if waiting is not None:
            self._process, self._conn = waiting
            try:
                self._conn.send(("start", client))
            except OSError:  # it died meanwhile: the reader finds its end closed and fails the calls
                pass
        else:
            self._process, self._conn = _spawn(client)
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._waiting: dict[int, Future[list[Any]]] = {}
        self._ended = False  # no answer comes any more
        self._calls = itertools.count()
        self._reader = threading.Thread(target=self._read, name="api-client-answers", daemon=True)
        self._reader.start()

    def post_all(self, requests: Iterable[ApiRequest], progress: Callable[[int], None] | None = None,
                 then: Callable[[list[Any]], list[Any]] | None = None) -> list[Any]:
        answer: Future[list[Any]] = Future()
        call = next(self._calls)
        with self._lock:
            if self._ended:
                raise self._gone()
            self._waiting[call] = answer
        try:
            with self._send_lock:
                self._conn.send(("post_all", call, list(requests), progress, then))
        except (OSError, ValueError):  # its end is closed: the reader fails the call
            pass
        return answer.result()

    def close(self) -> None:
        if self._process.is_alive():
            try:
                with self._send_lock:
                    self._conn.send(("close",))
            except (OSError, ValueError):
                pass
            self._process.join(60)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._reader.join()
        self._conn.close()

    def _read(self) -> None:
        while True:
            try:
                call, ok, value = self._conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                answer = self._waiting.pop(call)
            if ok:
                answer.set_result(value)
            else:
                answer.set_exception(value)
        with self._lock:  # the child has ended: no answer will come for what still waits
            waiting, self._waiting, self._ended = list(self._waiting.values()), {}, True
        for answer in waiting:
            answer.set_exception(self._gone())

    def _gone(self) -> RequestFailed:
        from .api_client import RequestFailed

        self._process.join(5)
        return RequestFailed(f"the request client's process ended (exit code {self._process.exitcode}); "
                             "its requests got no answer")


def _serve(conn: Connection, client_args: dict[str, Any] | None) -> None:
    # Stops are the parent's to handle: it ends its process group, this process included.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if client_args is None:  # prestarted: the settings come with the first message
        try:
            _, client_args = conn.recv()
        except (EOFError, OSError):  # no model took it
            return
    assert client_args is not None
    from .api_client import ApiClient, RequestFailed

    client = ApiClient(**client_args)
    send_lock = threading.Lock()

    def post_all(call: int, requests: list[ApiRequest], progress: Callable[[int], None] | None,
                 then: Callable[[list[Any]], list[Any]] | None) -> None:
        try:
            reply: tuple[int, bool, Any] = (call, True, client.post_all(requests, progress, then))
        except Exception as error:  # noqa: BLE001 (handed to the caller, who raises it)
            reply = (call, False, error)
        with send_lock:
            try:
                conn.send(reply)
            except Exception as error:  # noqa: BLE001 (an error that cannot be pickled: its text)
                conn.send((call, False, RequestFailed(f"{type(error).__name__}: {error}")))

    # One thread per call in flight: each waits in post_all while the client's loop works.
    with ThreadPoolExecutor(max_workers=256, thread_name_prefix="call") as calls:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the parent has gone
                break
            if message[0] == "close":
                break
            calls.submit(post_all, *message[1:])
    client.close()
    conn.close()
