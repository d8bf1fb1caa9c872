"""Which backend's settings a run gets, and every run setting users can name (all backends').

The mode table lives here, beside the backends it names: vllm_path=vllm / vllm_ppl use the
running server (chat for generation, /v1/completions for log-likelihoods), offline runs vLLM's
engine in a worker, and hf_path alone selects local weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from ..errors import UserError
from ..settings import RunSettings, declaration, parse_settings
from . import all_settings_classes, settings_class_for

#: vllm_path values -> backend mode.
MODES = {"vllm": "vllm", "vllm_ppl": "vllm", "api": "vllm", "offline": "vllm_offline",
         "vllm_offline": "vllm_offline", "hf": "hf"}


def parse_run_settings(values: Mapping[str, Any]) -> RunSettings:
    """The settings of the backend `values` select: vllm_path, or hf_path alone for local weights.
    Settings that belong to other backends are ignored (one shell may export them all)."""
    given = values.get("mode")
    if given is None:
        mode = "hf" if values.get("model_path") else "vllm"
    elif isinstance(given, str) and given.strip() in MODES:
        mode = MODES[given.strip()]
    else:
        raise UserError(f"vllm_path={given!r} is not valid (use vllm, vllm_ppl or offline); {declaration(RunSettings, 'mode')['hint']}")
    model = settings_class_for(mode)
    kept = {k: v for k, v in values.items() if k in model.model_fields}
    return parse_settings(model, {**kept, "mode": mode})


def run_settings_from_env(env: Mapping[str, str], **overrides: Any) -> RunSettings:
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


@cache
def _fields() -> dict[str, dict[str, Any]]:
    """Every settings field of every backend -> its declaration (env, flags, help, hint)."""
    declared: dict[str, dict[str, Any]] = {}
    models: list[type[RunSettings]] = [RunSettings, *all_settings_classes()]
    for model in models:
        for name in model.model_fields:
            if found := declaration(model, name):
                declared.setdefault(name, found)
    return declared


def env_vars() -> dict[str, str]:
    """env var (as users of the classic opencompass.sh know it) -> settings field."""
    return {env: field for field, d in _fields().items() for env in (d["env"], *d["also_env"])}


def cli_options() -> list[tuple[str, list[str], str]]:
    """(field, flags, help) of every setting, for `benchmark-eval run`."""
    return [(field, d["flags"], f"{d['help']} (env {d['env']})") for field, d in _fields().items()]
