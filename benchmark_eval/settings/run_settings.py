"""Run settings: the classic env vars and the CLI flags, parsed once into one typed object.

Everything downstream (plan, run, results) takes a `RunSettings`, never `os.environ`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator, model_validator

from ..errors import UserError
from ..paths import default_results_root

#: vllm_path values -> backend. vllm and vllm_ppl both use the running server (chat for
#: generation, /v1/completions for log-likelihoods); offline runs vLLM's engine in-process.
MODES = {"vllm": "vllm", "vllm_ppl": "vllm", "api": "vllm", "offline": "vllm_offline",
         "vllm_offline": "vllm_offline", "hf": "hf"}
LOCAL_MODES = ("vllm_offline", "hf")

def setting(default: Any = ..., *, env: str, help: str, hint: str | None = None, flags: tuple[str, ...] = (),
            also_env: tuple[str, ...] = (), **constraints: Any) -> Any:
    """A RunSettings field with everything users see of it, said once: its classic env var
    (`also_env`: older names that mean the same), the `benchmark-eval run` flag(s) (default
    --ENV-NAME), the help text, and the hint that follows a bad value."""
    extra: dict[str, JsonValue] = {"env": env, "also_env": [*also_env], "help": help, "hint": hint,
                       "flags": [*(flags or ("--" + env.lower().replace("_", "-"),))]}
    return Field(default, json_schema_extra=extra, **constraints)


_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class RunSettings(BaseModel):
    """One evaluation run: over a running vLLM server, vLLM's offline engine, or local HF weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["vllm", "vllm_offline", "hf"] = setting(
        "vllm", env="vllm_path", flags=("--mode",),
        help="vllm | vllm_ppl (the running server), offline (vLLM engine); hf_path alone selects local weights",
        hint="set vllm_path=vllm or vllm_ppl (the running server), vllm_path=offline (vLLM engine, no server), or hf_path=FOLDER (local weights)")
    host: str = setting("127.0.0.1", env="host", help="vLLM server host",
                        hint="set host to the server's host name or IP, e.g. host=127.0.0.1")
    port: int = setting(8000, env="service_port", flags=("--port",), help="vLLM server port", ge=1, le=65535,
                        hint="set service_port to the server's port, a whole number 1-65535, e.g. service_port=8000")
    # The served name over the API; local runs default to the folder's name.
    model_name: str = setting("", env="model_name", help="the evaluation's name; the served model's name over the API",
                              hint="set model_name to the name the server serves (see GET /v1/models)")
    datasets: tuple[str, ...] = setting(
        env="eval_datasets", flags=("--datasets",), min_length=1,
        help="OpenCompass dataset configs, e.g. 'mmlu_gen ceval_gen'",
        hint="set eval_datasets to OpenCompass dataset config names, e.g. eval_datasets='mmlu_gen ceval_gen'")
    max_out_len: int = setting(512, env="max_out_len", help="max new tokens", gt=0,
                               hint="set max_out_len to a positive whole number, e.g. max_out_len=512")
    batch_size: int = setting(16, env="batch_size", help="requests in flight (API); prompts per batch (local)", gt=0,
                              hint="set batch_size to a positive whole number, e.g. batch_size=16")
    max_seq_len: int = setting(2048, env="max_seq_len", help="max prompt tokens", gt=0,
                               hint="set max_seq_len to a positive whole number of tokens")
    benchmark_type: str = setting("accuracy", env="benchmark_type", help="results sub-folder",
                                  hint="use letters, digits, '.', '_' or '-' only, e.g. benchmark_type=accuracy")
    subjects: tuple[str, ...] | None = setting(None, env="subjects", help="comma-separated subjects to keep")
    limit: int | None = setting(None, env="limit", help="first N samples per dataset/subject", gt=0,
                                hint="set limit to a positive whole number of samples per dataset, or leave it unset")
    data_root: Path = setting(default_factory=Path.cwd, env="COMPASS_DATA_CACHE", flags=("--data-root",),
                              help="data root holding data/")
    tokenizer_path: Path | None = setting(None, env="tokenizer_path", help="local tokenizer folder")
    api_key: str = setting("EMPTY", env="api_key", help="API key of the server")
    temperature: float = setting(0.0, env="temperature", help="sampling temperature (0 = greedy)", ge=0,
                                 hint="set temperature to a number >= 0 (0 = greedy, comparable across devices)")
    results_root: Path = setting(default_factory=default_results_root, env="results_dir", help="results root")
    request_timeout: float = setting(600.0, env="request_timeout", help="seconds per request", gt=0,
                                     hint="set request_timeout to a positive number of seconds")
    # Per request, after a refused/reset connection, a timeout or a 5xx.
    retries: int = setting(3, env="max_retries", help="retries per request after a transient failure", ge=0,
                           hint="set max_retries to a whole number >= 0 (retries per request after a transient failure)")
    # Several servers of the same model (HOST:PORT each); unset: host and port.
    endpoints: tuple[str, ...] | None = setting(
        None, env="endpoints", help="several servers of one model, HOST:PORT each",
        hint="set endpoints to servers of the same model as HOST:PORT, space- or comma-separated, e.g. endpoints='10.0.0.5:8000 10.0.0.6:8000'")
    # Where OpenCompass's tasks run: here, or through its Slurm runner (srun).
    runner: Literal["local", "slurm"] = setting(
        "local", env="runner", help="local or slurm",
        hint="set runner=local (this machine) or runner=slurm (OpenCompass's Slurm runner, srun)")
    partition: str | None = setting(None, env="partition", help="Slurm partition")
    quotatype: str | None = setting(None, env="quotatype", help="Slurm quota type")
    qos: str | None = setting(None, env="qos", help="Slurm QOS")
    max_num_workers: int = setting(4, env="max_num_workers", help="Slurm jobs at once", ge=1,
                                   hint="set max_num_workers to a whole number >= 1 (Slurm jobs at once)")
    srun_args: tuple[str, ...] = setting(
        (), env="srun_args", help="extra srun options",
        hint="set srun_args to extra srun options, e.g. srun_args='--time=02:00:00 --account=eval'")
    # Local weights (hf) and vLLM offline:
    model_path: Path | None = setting(None, env="hf_path", also_env=("model_path",), flags=("--hf-path", "--model-path"),
                                      help="local model folder: runs on local weights",
                                      hint="set hf_path (or model_path) to a local model folder with config.json")
    hf_type: Literal["base", "chat"] = setting(
        "chat", env="hf_type", help="base or chat",
        hint="set hf_type=base or hf_type=chat (chat applies the model's chat template)")
    # cpu, cuda or npu for local weights; over the API a label for run.json.
    device: str | None = setting(None, env="device", help="cpu, cuda or npu for local weights; over the API a label for run.json",
                                 hint="set device=cpu, cuda or npu")
    num_devices: int = setting(1, env="hf_num_gpus", help="devices for local weights", ge=1,
                               hint="set hf_num_gpus to a whole number >= 1")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = setting(
        "auto", env="dtype", help="auto, float32, bfloat16, float16 for local weights",
        hint="set dtype=auto, float32, bfloat16 or float16")
    tensor_parallel_size: int = setting(1, env="tp_size", flags=("--tp-size", "--tp"), help="tensor parallel size for vLLM offline",
                                        ge=1, hint="set tp_size to a whole number >= 1")
    vllm_python: Path | None = setting(None, env="vllm_python", help="the interpreter with vLLM (vLLM offline)")

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


def _declared(field: str, key: str) -> Any:
    extra = RunSettings.model_fields[field].json_schema_extra
    assert isinstance(extra, dict)
    return extra[key]


#: env var (as users of the classic opencompass.sh know it) -> RunSettings field.
ENV_VARS: dict[str, str] = {env: field for field in RunSettings.model_fields
                            for env in (_declared(field, "env"), *_declared(field, "also_env"))}
#: RunSettings field -> the env var that names it in messages (hf_path, not model_path).
FIELD_TO_ENV: dict[str, str] = {field: _declared(field, "env") for field in RunSettings.model_fields}
#: How to fix a bad value, per field; shown after what was wrong.
_HINTS: dict[str, str] = {field: _declared(field, "hint") for field in RunSettings.model_fields
                          if _declared(field, "hint")}


def cli_options() -> list[tuple[str, list[str], str]]:
    """(field, flags, help) of every setting, for `benchmark-eval run`."""
    return [(field, _declared(field, "flags"), f"{_declared(field, 'help')} (env {_declared(field, 'env')})")
            for field in RunSettings.model_fields]


def split_words(value: str) -> tuple[str, ...]:
    """'a b', 'a,b' or 'a, b' -> ('a', 'b'): how env vars list datasets and subjects."""
    return tuple(w for w in re.split(r"[\s,]+", value) if w)


Settings = TypeVar("Settings", bound=BaseModel)


def parse_settings(model: type[Settings], values: dict[str, Any]) -> Settings:
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
