"""What a vLLM server was started with, as far as it changes the numbers it gives back.

A server run talks to whatever answers at host:port, and the API does not say how the server
was started. Two sources say it: the launch record `vllm_api.py start` writes beside its pid
file (`vllm-PORT.json`), found again by a run on the same host while that server lives, and
`server_args` for a server started some other way. Either becomes run.json's
`server.launch`, and compare names every numerics setting that differs between two runs: a
bf16 candidate against an fp32 baseline, or an fp8-quantized one against bf16, is the change
under test, said as such, not an unexplained difference.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from ..errors import UserError
from ..paths import server_state_dir
from ..results.records import AcceleratorInfo, ServerLaunch

# vLLM server flags that change what the model computes, by the name compare gives them.
# (Flags that only change speed or memory, such as --gpu-memory-utilization or
# --max-num-seqs, can change batching and so the last digits; the noise floor covers that.)
NUMERICS_FLAGS: dict[str, str] = {
    "--dtype": "dtype",
    "--quantization": "quantization", "-q": "quantization",
    "--kv-cache-dtype": "kv_cache_dtype",
    "--max-model-len": "max_model_len",
    "--tensor-parallel-size": "tensor_parallel_size", "-tp": "tensor_parallel_size",
    "--pipeline-parallel-size": "pipeline_parallel_size", "-pp": "pipeline_parallel_size",
    "--data-parallel-size": "data_parallel_size", "-dp": "data_parallel_size",
    "--seed": "seed",
    "--enforce-eager": "enforce_eager",
}
# On/off flags: `--enforce-eager` alone means true, `--no-enforce-eager` false.
_SWITCHES = {"--enforce-eager"}
#: vLLM's batch-invariant mode is an environment variable, not a flag: the launch record names it
#: as a numerics setting (`batch_invariant`), and `server_args` may carry it as VLLM_BATCH_INVARIANT=1.
BATCH_INVARIANT_ENV = "VLLM_BATCH_INVARIANT"


def numerics_of(args: Sequence[str]) -> dict[str, str]:
    """The numerics settings in a vLLM argument list (`--flag value`, `--flag=value`, switches)."""
    found: dict[str, str] = {}
    items = list(args)
    for i, item in enumerate(items):
        flag, eq, inline = item.partition("=")
        if flag == BATCH_INVARIANT_ENV and eq:
            found["batch_invariant"] = "true" if inline.strip() == "1" else "false"
        elif flag.startswith("--no-") and "--" + flag[5:] in _SWITCHES:
            found[NUMERICS_FLAGS["--" + flag[5:]]] = "false"
        elif flag in _SWITCHES:
            found[NUMERICS_FLAGS[flag]] = "true"
        elif flag in NUMERICS_FLAGS:
            value = inline if eq else (items[i + 1] if i + 1 < len(items) else "")
            found[NUMERICS_FLAGS[flag]] = value.strip().lower()
    return found


def declared_launch(server_args: str) -> ServerLaunch:
    """`server_args` as a user gave it, for a server that vllm_api.py did not start."""
    try:
        args = shlex.split(server_args)
    except ValueError as error:
        raise UserError(f"server_args {server_args!r} cannot be split into arguments ({error}); quote it as a shell would") from None
    return ServerLaunch(args=args, numerics=numerics_of(args), source="declared")


def record_path(port: int, state_dir: Path | None = None) -> Path:
    return (state_dir or server_state_dir()) / f"vllm-{port}.json"


def write_launch(port: int, args: Sequence[str], state_dir: Path, device: str, accelerator: AcceleratorInfo | None = None,
                 env: Mapping[str, str] | None = None) -> None:
    numerics = numerics_of(args)
    if (env or {}).get(BATCH_INVARIANT_ENV, "0") == "1":  # asked for by --batch-invariant or exported
        numerics["batch_invariant"] = "true"
    launch = ServerLaunch(args=list(args), numerics=numerics, source="launcher", device=device, accelerator=accelerator)
    record_path(port, state_dir).write_text(launch.model_dump_json(indent=2) + "\n")


def _alive(pid_path: Path) -> bool:
    try:
        os.kill(int(pid_path.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def recorded_launch(port: int, model_root: str | None) -> ServerLaunch | None:
    """The launch record of the live server that vllm_api.py started on this port on this host,
    when it serves `model_root` (the folder /v1/models reports); None otherwise."""
    path = record_path(port)
    if not path.is_file() or not _alive(path.with_suffix(".pid")):
        return None  # never started here, or a stale record of a server since gone
    with contextlib.suppress(OSError, ValidationError):
        launch = ServerLaunch.model_validate_json(path.read_text())
        model = launch.args[launch.args.index("--model") + 1] if "--model" in launch.args[:-1] else None
        if model_root is None or model == model_root:
            return launch
    return None
