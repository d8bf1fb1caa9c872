"""Which run folder `--resume` / `resume=` names: a folder, or 1 for the latest unfinished one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..backends.selection import run_settings_from_env
from ..errors import UserError
from ..results import RunDir

_LATEST = ("1", "true", "yes", "latest")


def find_run_to_resume(value: str, env: Mapping[str, str], flags: dict[str, Any]) -> Path:
    if value.lower() not in _LATEST:
        folder = Path(value).expanduser()
        if not folder.is_dir():
            raise UserError(f"resume={value!r}: no such run folder; give a folder a run printed, or resume=1 for the latest unfinished run")
        return folder
    # resume=1: the latest unfinished run of this model and benchmark_type, found from the usual env vars.
    settings = run_settings_from_env(env, **flags)
    parent = settings.results_root.resolve() / settings.model_abbr / settings.benchmark_type
    for folder in sorted(parent.glob("*"), reverse=True):
        status = RunDir(folder).read_status()
        if status is not None and status != "ok":
            return folder
    raise UserError(f"resume=1: no unfinished run under {parent}; start a new run (unset resume)")
