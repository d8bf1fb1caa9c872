"""Run settings: the classic env vars and the CLI flags, parsed once into one typed object.

`RunSettings` holds what every run has. Each backend's module extends it with its own fields
(benchmark_eval/backends/: ServerRunSettings, HfRunSettings, OfflineRunSettings, each with its
`mode` as a Literal); backends/selection.py maps the mode (vllm_path, or hf_path alone) to the
class a run gets. This module knows no backend. Everything downstream (plan, run, results)
takes settings, never `os.environ`.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from ..errors import UserError
from ..paths import default_results_root, folder_safe


def setting(default: Any = ..., *, env: str | None = None, help: str, hint: str | None = None, flags: tuple[str, ...] = (),
            also_env: tuple[str, ...] = (), **constraints: Any) -> Any:
    """A settings field with everything users see of it, said once: its classic env var, if it
    has one (`also_env`: older names that mean the same), the command's flag(s) (default
    --ENV-NAME), the help text, and the hint that follows a bad value."""
    if not flags and env is None:
        raise TypeError("a setting without an env var needs its flags")
    extra: dict[str, JsonValue] = {"env": env, "also_env": [*also_env], "help": help, "hint": hint,
                                   "flags": [*(flags or ("--" + str(env).lower().replace("_", "-"),))]}
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
    # How a log-likelihood item is scored on every backend (plugins/models/continuation.py): the
    # answers are the same within batching noise either way (tested); prompt_logprobs is the
    # form every vLLM version serves.
    ppl_requests: Literal["next_token", "prompt_logprobs"] = setting(
        "next_token", env="ppl_requests",
        help="PPL scoring: next_token (one next-token question per node of an item's token trie: MMLU's context once, "
             "the four letters' log-probs as its next token), or prompt_logprobs (every choice's whole prompt)",
        hint="set ppl_requests to next_token or prompt_logprobs")

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
        return folder_safe(self.model_name)


def declaration(model: type[BaseModel], field: str) -> dict[str, Any]:
    """What `setting(...)` declared for a field of `model` (env, flags, help, hint); {} for others."""
    info = model.model_fields.get(field)
    extra = info.json_schema_extra if info is not None else None
    return dict(extra) if isinstance(extra, dict) else {}


def process_env() -> Mapping[str, str]:
    """This process's environment: the one place a command reads it (through the declarations)."""
    return os.environ


def values_from_env(model: type[BaseModel], env: Mapping[str, str]) -> dict[str, str]:
    """The fields of `model` that `env` sets through their declared env vars (blank is unset)."""
    values: dict[str, str] = {}
    for name in model.model_fields:
        declared = declaration(model, name)
        for env_name in (declared.get("env"), *declared.get("also_env", ())):
            raw = env.get(env_name) if env_name else None
            if raw is not None and raw.strip():
                values[name] = raw.strip()
                break
    return values


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
        declared = declaration(model, field)
        name = declared.get("env") or (declared.get("flags") or [field])[0]
        if first["type"] == "missing":
            raise UserError(f"{name} is not set; {declared.get('hint') or 'set it'}") from None
        given = values.get(field)
        message = first["msg"].removeprefix("Value error, ")
        hint = declared.get("hint") or f"check {name}"
        raise UserError(f"{name}={given!r} is not valid ({message}); {hint}") from None
