"""Clean stops: SIGINT (Ctrl-C) and SIGTERM (timeout, CI, process managers) at any point of a run.

The first signal raises `Interrupted` in the main thread, wherever it is (server start-up,
preflight, requests, evaluation, writing results). The code that started a process stops
it on the way out (`stop_group`: SIGTERM to its process group, SIGKILL after a grace
period), the pipeline marks run.json "interrupted" with the time and the phase, and the
CLI prints one line and exits 128+signal (130, 143). A second signal does not wait: every
process group we started is SIGKILLed, the run is marked, and we exit at once.

Every process we start runs in a process group of its own (the server with its engine and
workers, OpenCompass with its tasks), registered here, so that a signal meant for us never
reaches them half-way and nothing outlives us. Sandboxed programs and vLLM's offline
worker die with their parents (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from types import FrameType

STOP_GRACE_S = 5.0  # how long a process group may take to end on SIGTERM before SIGKILL
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A stop signal arrived. BaseException: no `except Exception` on the way may swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.phase = _state.phase
        self.run_dir: str | None = None  # set once run.json records the interruption

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class _State:
    def __init__(self) -> None:
        self.phase = "start-up"
        self.groups: set[int] = set()
        self.signals = 0
        self.deferred = 0
        self.pending: int | None = None
        self.on_hard_stop: Callable[[int], None] | None = None


_state = _State()


def set_phase(phase: str) -> None:
    """What the run is doing now: named in run.json and the message if a stop arrives."""
    _state.phase = phase


def current_phase() -> str:
    return _state.phase


def stopping() -> bool:
    return _state.signals > 0


def _handler(signum: int, frame: FrameType | None) -> None:
    _state.signals += 1
    if _state.signals > 1:
        _hard_stop(signum)
    if _state.deferred:
        _state.pending = signum  # raised when the protected step is done
        return
    raise Interrupted(signum)


def _hard_stop(signum: int) -> None:
    for group in list(_state.groups):
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    if _state.on_hard_stop is not None:
        with contextlib.suppress(Exception):
            _state.on_hard_stop(signum)
    os.write(2, f"interrupted again ({signal.Signals(signum).name}): stopped at once\n".encode())
    os._exit(128 + signum)


@contextlib.contextmanager
def handle_stops() -> Iterator[None]:
    """Route SIGINT and SIGTERM to `Interrupted` for the duration (also when the caller's
    shell started us with SIGINT ignored, as a background job of a script is)."""
    previous = {s: signal.signal(s, _handler) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold a stop signal until the block is done (starting a process and registering its
    group must not be split by one); it is raised right after."""
    _state.deferred += 1
    try:
        yield
    finally:
        _state.deferred -= 1
        if not _state.deferred and _state.pending is not None:
            signum, _state.pending = _state.pending, None
            raise Interrupted(signum)


def on_hard_stop(callback: Callable[[int], None] | None) -> None:
    """What a second signal must still do before exiting (mark run.json)."""
    _state.on_hard_stop = callback


def register_group(pgid: int) -> None:
    _state.groups.add(pgid)


def stop_group(pgid: int, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group, SIGKILL what is left after `grace` seconds; reap the leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _group_alive(pgid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pgid, os.WNOHANG)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, 0)
    _state.groups.discard(pgid)


def _group_alive(pgid: int) -> bool:
    """Any process left in the group (its leader is reaped by stop_group's loop when it is ours)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
