"""Run settings: the classic env vars and the CLI flags, parsed once into one typed object.

Everything downstream (plan, run, results) takes a `RunSettings`, never `os.environ`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    "max_seq_len": "max_seq_len",
}
FIELD_TO_ENV = {field: env for env, field in ENV_VARS.items()}

# How to fix a bad value, per field; shown after what was wrong.
_HINTS: dict[str, str] = {
    "mode": "set vllm_path=vllm (generative tests over the vLLM API)",
    "host": "set host to the server's host name or IP, e.g. host=127.0.0.1",
    "port": "set service_port to the server's port, a whole number 1-65535, e.g. service_port=8000",
    "model_name": "set model_name to the name the server serves (see GET /v1/models)",
    "datasets": "set eval_datasets to OpenCompass dataset config names, e.g. eval_datasets='mmlu_gen ceval_gen'",
    "max_out_len": "set max_out_len to a positive whole number, e.g. max_out_len=512",
    "batch_size": "set batch_size to a positive whole number, e.g. batch_size=16",
    "limit": "set limit to a positive whole number of samples per dataset, or leave it unset",
    "temperature": "set temperature to a number >= 0 (0 = greedy, comparable across devices)",
    "request_timeout": "set request_timeout to a positive number of seconds",
    "max_seq_len": "set max_seq_len to a positive whole number of tokens",
    "benchmark_type": "use letters, digits, '.', '_' or '-' only, e.g. benchmark_type=accuracy",
}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class RunSettings(BaseModel):
    """One evaluation run over a running vLLM OpenAI-compatible server."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["vllm"] = "vllm"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    model_name: str
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

    @field_validator("model_name")
    @classmethod
    def _model_name_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
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

    @field_validator("datasets", "subjects", mode="before")
    @classmethod
    def _split_words(cls, value: Any) -> Any:
        # Env vars give "a b" or "a,b"; flags may give a list.
        if isinstance(value, str):
            return tuple(w for w in re.split(r"[\s,]+", value) if w)
        return value

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

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


def parse_settings(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """Validate `values` into `model`, turning the first problem into one clear line."""
    try:
        return model(**values)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        name = FIELD_TO_ENV.get(field, field)
        if first["type"] == "missing":
            raise UserError(f"{name} is not set; {_HINTS.get(field, 'set it')}") from None
        given = values.get(field)
        message = first["msg"].removeprefix("Value error, ")
        hint = _HINTS.get(field, f"check {name}")
        raise UserError(f"{name}={given!r} is not valid ({message}); {hint}") from None
