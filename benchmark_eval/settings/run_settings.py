"""Run settings: the classic env vars and the CLI flags, parsed once into one typed object.

`RunSettings` holds what every run has. Each backend's module extends it with its own fields
(benchmark_eval/backends/: ServerRunSettings, HfRunSettings, OfflineRunSettings, each with its
`mode` as a Literal), and the mode (vllm_path, or hf_path alone) chooses which one a run gets.
Everything downstream (plan, run, results) takes settings, never `os.environ`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from ..errors import UserError
from ..paths import default_results_root

#: vllm_path values -> backend. vllm and vllm_ppl both use the running server (chat for
#: generation, /v1/completions for log-likelihoods); offline runs vLLM's engine in-process.
MODES = {"vllm": "vllm", "vllm_ppl": "vllm", "api": "vllm", "offline": "vllm_offline",
         "vllm_offline": "vllm_offline", "hf": "hf"}


def setting(default: Any = ..., *, env: str, help: str, hint: str | None = None, flags: tuple[str, ...] = (),
            also_env: tuple[str, ...] = (), **constraints: Any) -> Any:
    """A settings field with everything users see of it, said once: its classic env var
    (`also_env`: older names that mean the same), the `benchmark-eval run` flag(s) (default
    --ENV-NAME), the help text, and the hint that follows a bad value."""
    extra: dict[str, JsonValue] = {"env": env, "also_env": [*also_env], "help": help, "hint": hint,
                                   "flags": [*(flags or ("--" + env.lower().replace("_", "-"),))]}
    return Field(default, json_schema_extra=extra, **constraints)


def logprobs_setting() -> Any:
    """`logprobs`, for every backend whose generations can carry token log-probs (a fresh field each)."""
    # Per generated token: its log-prob and the top-k alternatives, for compare's divergence
    # analysis and flip triage (samples.jsonl grows about 0.1 KB per token at k=5; 2 is the
    # compact form that still gives the margin at a divergence; 0 asks for none).
    return setting(5, env="logprobs", help="top-k log-probs kept per generated token (0: none)", ge=0, le=20,
                   hint="set logprobs to a whole number 0-20 (0 turns token log-probs off, 2 is compact)")


_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class RunSettings(BaseModel):
    """What every evaluation run has, whatever answers its requests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Each backend's settings narrow this to its own Literal.
    mode: str = setting(
        "vllm", env="vllm_path", flags=("--mode",),
        help="vllm | vllm_ppl (the running server), offline (vLLM engine); hf_path alone selects local weights",
        hint="set vllm_path=vllm or vllm_ppl (the running server), vllm_path=offline (vLLM engine, no server), or hf_path=FOLDER (local weights)")
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
    temperature: float = setting(0.0, env="temperature", help="sampling temperature (0 = greedy)", ge=0,
                                 hint="set temperature to a number >= 0 (0 = greedy, comparable across devices)")
    results_root: Path = setting(default_factory=default_results_root, env="results_dir", help="results root")
    # cpu, cuda or npu for local weights; over the API a label for run.json.
    device: str | None = setting(None, env="device", help="cpu, cuda or npu for local weights; over the API a label for run.json",
                                 hint="set device=cpu, cuda or npu")
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

    @property
    def is_local(self) -> bool:
        return False

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
    def model_abbr(self) -> str:
        """Model name as a folder/abbr (served names may contain '/')."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.model_name)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> RunSettings:
        """Build the settings of the backend the values select, from env vars, with explicit
        overrides (CLI flags) winning."""
        values: dict[str, Any] = {}
        for env_name, field in env_vars().items():
            raw = env.get(env_name)
            if raw is not None and raw.strip() != "":
                values[field] = raw.strip()
            elif raw is not None and field == "model_name":
                values[field] = raw  # an explicitly empty model name is an error, not a default
        values.update({k: v for k, v in overrides.items() if v is not None})
        return parse_run_settings(values)


def parse_run_settings(values: Mapping[str, Any]) -> RunSettings:
    """The settings of the backend `values` select: vllm_path, or hf_path alone for local weights.
    Settings that belong to other backends are ignored (one shell may export them all)."""
    from ..backends import settings_class_for

    given = values.get("mode")
    if given is None:
        mode = "hf" if values.get("model_path") else "vllm"
    elif isinstance(given, str) and given.strip() in MODES:
        mode = MODES[given.strip()]
    else:
        raise UserError(f"vllm_path={given!r} is not valid (use vllm, vllm_ppl or offline); {_declared_hint('mode')}")
    model = settings_class_for(mode)
    kept = {k: v for k, v in values.items() if k in model.model_fields}
    return parse_settings(model, {**kept, "mode": mode})


@cache
def _fields() -> dict[str, dict[str, Any]]:
    """Every settings field of every backend -> its declaration (env, flags, help, hint)."""
    from ..backends import all_settings_classes

    declared: dict[str, dict[str, Any]] = {}
    models: list[type[RunSettings]] = [RunSettings, *all_settings_classes()]
    for model in models:
        for name, field in model.model_fields.items():
            if isinstance(field.json_schema_extra, dict):
                declared.setdefault(name, dict(field.json_schema_extra))
    return declared


def _declared_hint(field: str) -> str:
    return str(_fields()[field]["hint"])


def env_vars() -> dict[str, str]:
    """env var (as users of the classic opencompass.sh know it) -> settings field."""
    return {env: field for field, d in _fields().items() for env in (d["env"], *d["also_env"])}


def field_env(field: str) -> str:
    """The env var that names a field in messages (hf_path, not model_path)."""
    return str(_fields()[field]["env"]) if field in _fields() else field


def cli_options() -> list[tuple[str, list[str], str]]:
    """(field, flags, help) of every setting, for `benchmark-eval run`."""
    return [(field, d["flags"], f"{d['help']} (env {d['env']})") for field, d in _fields().items()]


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
        declared = _fields().get(field, {}) if issubclass(model, RunSettings) else {}
        name = declared.get("env", field)
        if first["type"] == "missing":
            raise UserError(f"{name} is not set; {declared.get('hint') or 'set it'}") from None
        given = values.get(field)
        message = first["msg"].removeprefix("Value error, ")
        hint = declared.get("hint") or f"check {name}"
        raise UserError(f"{name}={given!r} is not valid ({message}); {hint}") from None
