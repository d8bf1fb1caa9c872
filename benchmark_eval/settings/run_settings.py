"""Run settings: the classic env vars and the CLI flags, parsed once into one typed object.

Everything downstream (plan, run, results) takes a `RunSettings`, never `os.environ`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import UserError
from ..paths import default_results_root

#: env var (as users of the classic opencompass.sh know it) -> RunSettings field.
ENV_VARS: dict[str, str] = {
    "vllm_path": "mode",
    "host": "host",
    "service_port": "port",
    "model_name": "model_name",
    "eval_datasets": "datasets",
    "max_out_len": "max_out_len",
    "batch_size": "batch_size",
    "benchmark_type": "benchmark_type",
    "subjects": "subjects",
    "limit": "limit",
    "COMPASS_DATA_CACHE": "data_root",
    "tokenizer_path": "tokenizer_path",
    "api_key": "api_key",
    "temperature": "temperature",
    "results_dir": "results_root",
    "request_timeout": "request_timeout",
    "max_retries": "retries",
    "endpoints": "endpoints",
    "runner": "runner",
    "partition": "partition",
    "quotatype": "quotatype",
    "qos": "qos",
    "max_num_workers": "max_num_workers",
    "srun_args": "srun_args",
    "max_seq_len": "max_seq_len",
    "hf_path": "model_path",
    "model_path": "model_path",
    "hf_type": "hf_type",
    "device": "device",
    "hf_num_gpus": "num_devices",
    "dtype": "dtype",
    "tp_size": "tensor_parallel_size",
    "vllm_python": "vllm_python",
}
FIELD_TO_ENV: dict[str, str] = {}
for _env, _field in ENV_VARS.items():
    FIELD_TO_ENV.setdefault(_field, _env)  # hf_path names model_path in messages

#: vllm_path values -> backend. vllm and vllm_ppl both use the running server (chat for
#: generation, /v1/completions for log-likelihoods); offline runs vLLM's engine in-process.
MODES = {"vllm": "vllm", "vllm_ppl": "vllm", "api": "vllm", "offline": "vllm_offline",
         "vllm_offline": "vllm_offline", "hf": "hf"}
LOCAL_MODES = ("vllm_offline", "hf")

# How to fix a bad value, per field; shown after what was wrong.
_HINTS: dict[str, str] = {
    "mode": "set vllm_path=vllm or vllm_ppl (the running server), vllm_path=offline (vLLM engine, no server), or hf_path=FOLDER (local weights)",
    "model_path": "set hf_path (or model_path) to a local model folder with config.json",
    "hf_type": "set hf_type=base or hf_type=chat (chat applies the model's chat template)",
    "device": "set device=cpu, cuda or npu",
    "num_devices": "set hf_num_gpus to a whole number >= 1",
    "dtype": "set dtype=auto, float32, bfloat16 or float16",
    "tensor_parallel_size": "set tp_size to a whole number >= 1",
    "host": "set host to the server's host name or IP, e.g. host=127.0.0.1",
    "port": "set service_port to the server's port, a whole number 1-65535, e.g. service_port=8000",
    "model_name": "set model_name to the name the server serves (see GET /v1/models)",
    "datasets": "set eval_datasets to OpenCompass dataset config names, e.g. eval_datasets='mmlu_gen ceval_gen'",
    "max_out_len": "set max_out_len to a positive whole number, e.g. max_out_len=512",
    "batch_size": "set batch_size to a positive whole number, e.g. batch_size=16",
    "limit": "set limit to a positive whole number of samples per dataset, or leave it unset",
    "temperature": "set temperature to a number >= 0 (0 = greedy, comparable across devices)",
    "request_timeout": "set request_timeout to a positive number of seconds",
    "endpoints": "set endpoints to servers of the same model as HOST:PORT, space- or comma-separated, e.g. endpoints='10.0.0.5:8000 10.0.0.6:8000'",
    "runner": "set runner=local (this machine) or runner=slurm (OpenCompass's Slurm runner, srun)",
    "max_num_workers": "set max_num_workers to a whole number >= 1 (Slurm jobs at once)",
    "srun_args": "set srun_args to extra srun options, e.g. srun_args='--time=02:00:00 --account=eval'",
    "retries": "set max_retries to a whole number >= 0 (retries per request after a transient failure)",
    "max_seq_len": "set max_seq_len to a positive whole number of tokens",
    "benchmark_type": "use letters, digits, '.', '_' or '-' only, e.g. benchmark_type=accuracy",
}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class RunSettings(BaseModel):
    """One evaluation run: over a running vLLM server, vLLM's offline engine, or local HF weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["vllm", "vllm_offline", "hf"] = "vllm"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    model_name: str = ""  # the served name over the API; local runs default to the folder's name
    datasets: tuple[str, ...] = Field(min_length=1)
    max_out_len: int = Field(512, gt=0)
    batch_size: int = Field(16, gt=0)
    max_seq_len: int = Field(2048, gt=0)
    benchmark_type: str = "accuracy"
    subjects: tuple[str, ...] | None = None
    limit: int | None = Field(None, gt=0)
    data_root: Path = Field(default_factory=Path.cwd)
    tokenizer_path: Path | None = None
    api_key: str = "EMPTY"
    temperature: float = Field(0.0, ge=0)
    results_root: Path = Field(default_factory=default_results_root)
    request_timeout: float = Field(600.0, gt=0)
    retries: int = Field(3, ge=0)  # per request, after a refused/reset connection, a timeout or a 5xx
    # Several servers of the same model (HOST:PORT each); unset: host and port.
    endpoints: tuple[str, ...] | None = None
    # Where OpenCompass's tasks run: here, or through its Slurm runner (srun).
    runner: Literal["local", "slurm"] = "local"
    partition: str | None = None
    quotatype: str | None = None
    qos: str | None = None
    max_num_workers: int = Field(4, ge=1)
    srun_args: tuple[str, ...] = ()
    # Local weights (hf) and vLLM offline:
    model_path: Path | None = None
    hf_type: Literal["base", "chat"] = "chat"
    device: str | None = None  # cpu, cuda or npu for local weights; over the API a label for run.json
    num_devices: int = Field(1, ge=1)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    tensor_parallel_size: int = Field(1, ge=1)
    vllm_python: Path | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_alias(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip() in MODES:
            return MODES[value.strip()]
        return value

    @model_validator(mode="before")
    @classmethod
    def _local_weights_mean_hf(cls, values: Any) -> Any:
        # hf_path=FOLDER alone selects local weights; vllm_path=offline keeps vLLM's engine.
        if isinstance(values, dict) and values.get("model_path") and "mode" not in values:
            values = {**values, "mode": "hf"}
        return values

    @model_validator(mode="after")
    def _what_the_mode_needs(self) -> RunSettings:
        if self.mode in LOCAL_MODES:
            if self.device not in (None, "cpu", "cuda", "npu"):
                raise ValueError(f"device={self.device!r} is not valid for local weights; set device=cpu, cuda or npu")
            if self.model_path is None:
                raise ValueError("no local model folder; set hf_path (or model_path) to a folder with config.json")
            if not self.model_name:
                object.__setattr__(self, "model_name", self.model_path.resolve().name)
        elif not self.model_name.strip():
            raise ValueError("model_name is not set; set model_name to the name the server serves (see GET /v1/models)")
        return self

    @property
    def is_local(self) -> bool:
        return self.mode in LOCAL_MODES

    @field_validator("model_name")
    @classmethod
    def _model_name_not_blank(cls, value: str) -> str:
        if value and not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("benchmark_type")
    @classmethod
    def _safe_folder_name(cls, value: str) -> str:
        # It becomes a folder name under results/: no slashes or spaces.
        if not _SAFE_NAME.match(value):
            raise ValueError(f"{value!r} cannot be used as a folder name")
        return value

    @field_validator("host")
    @classmethod
    def _host_is_a_name(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c in value for c in "/ ") or (":" in value and not value.startswith("[")):
            raise ValueError(f"{value!r} is not a host name (give the port in service_port)")
        return value

    @field_validator("endpoints", mode="before")
    @classmethod
    def _endpoint_list(cls, value: Any) -> Any:
        items = split_words(value) if isinstance(value, str) else value
        if items is None:
            return None
        for item in items:
            host, _, port = str(item).removeprefix("http://").rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{item!r} is not HOST:PORT")
        return tuple(str(item).removeprefix("http://").rstrip("/") for item in items) or None

    @field_validator("srun_args", mode="before")
    @classmethod
    def _shell_words(cls, value: Any) -> Any:
        return tuple(shlex.split(value)) if isinstance(value, str) else value

    @field_validator("datasets", "subjects", mode="before")
    @classmethod
    def _split_words(cls, value: Any) -> Any:
        # Env vars give "a b" or "a,b"; flags may give a list.
        return split_words(value) if isinstance(value, str) else value

    @property
    def base_url(self) -> str:
        return self.base_urls[0]

    @property
    def base_urls(self) -> list[str]:
        """Every server to spread requests over (the first one is the `host`/`service_port` one when unset)."""
        return [f"http://{e}" for e in self.endpoints] if self.endpoints else [f"http://{self.host}:{self.port}"]

    @property
    def model_abbr(self) -> str:
        """Model name as a folder/abbr (served names may contain '/')."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.model_name)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> RunSettings:
        """Build settings from env vars, with explicit overrides (CLI flags) winning."""
        values: dict[str, Any] = {}
        for env_name, field in ENV_VARS.items():
            raw = env.get(env_name)
            if raw is not None and raw.strip() != "":
                values[field] = raw.strip()
            elif raw is not None and field == "model_name":
                values[field] = raw  # an explicitly empty model name is an error, not a default
        values.update({k: v for k, v in overrides.items() if v is not None})
        return parse_settings(cls, values)


def split_words(value: str) -> tuple[str, ...]:
    """'a b', 'a,b' or 'a, b' -> ('a', 'b'): how env vars list datasets and subjects."""
    return tuple(w for w in re.split(r"[\s,]+", value) if w)


def parse_settings(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """Validate `values` into `model`, turning the first problem into one clear line."""
    try:
        return model(**values)
    except ValidationError as error:
        first = error.errors()[0]
        if not first["loc"]:  # a check across fields: its message says what to do
            raise UserError(first["msg"].removeprefix("Value error, ")) from None
        field = str(first["loc"][0])
        name = FIELD_TO_ENV.get(field, field)
        if first["type"] == "missing":
            raise UserError(f"{name} is not set; {_HINTS.get(field, 'set it')}") from None
        given = values.get(field)
        message = first["msg"].removeprefix("Value error, ")
        hint = _HINTS.get(field, f"check {name}")
        raise UserError(f"{name}={given!r} is not valid ({message}); {hint}") from None
