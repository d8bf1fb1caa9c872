"""Resolve OpenCompass dataset config names into dataset configs, sliced as asked.

Any stock config under `opencompass/configs/datasets/` works (`mmlu_gen`, `gsm8k_gen`, ...);
`subjects` keeps only those subjects of subject-split datasets, `limit` keeps the first N
samples of each dataset (or subject) through OpenCompass's own `test_range`.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError


@dataclass(frozen=True)
class PlannedDataset:
    """One OpenCompass dataset entry (one subject of MMLU, all of XSum, ...)."""

    config_name: str  # the eval_datasets word it came from, e.g. "mmlu_gen"
    cfg: dict[str, Any]  # the OpenCompass dataset config, ready to dump

    @property
    def abbr(self) -> str:
        return str(self.cfg["abbr"])

    @property
    def subject(self) -> str | None:
        name = self.cfg.get("name")
        return str(name) if name is not None else None


def stock_config_root() -> Path:
    import opencompass

    return Path(opencompass.__file__).resolve().parent / "configs" / "datasets"


@functools.lru_cache(maxsize=1)
def _config_index() -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in sorted(stock_config_root().rglob("*.py")):
        index.setdefault(path.stem, path)
    return index


def find_config(name: str) -> Path:
    index = _config_index()
    if name in index:
        return index[name]
    close = difflib.get_close_matches(name, index.keys(), n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "use a config name from opencompass/configs/datasets, e.g. mmlu_gen"
    raise UserError(f"unknown dataset '{name}' in eval_datasets: no such OpenCompass dataset config; {hint}")


def _plain(value: Any) -> Any:
    """Config values as plain data: classes and functions become dotted names.

    OpenCompass resolves dotted names itself, and a plain config dumps and reloads cleanly.
    """
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if callable(value) and hasattr(value, "__module__") and hasattr(value, "__qualname__"):
        return f"{value.__module__}.{value.__qualname__}"
    return value


def type_name(value: Any) -> str:
    """A config `type` (a dotted name or a class) by its class name: 'PPLInferencer'."""
    if isinstance(value, str):
        return value.rsplit(".", 1)[-1]
    return getattr(value, "__name__", str(value))


def load_config(name: str) -> list[dict[str, Any]]:
    """All dataset entries a stock config defines (its `*_datasets` lists)."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(find_config(name)))
    entries: list[dict[str, Any]] = []
    for key in cfg:
        if key.endswith("_datasets") and isinstance(cfg[key], list):
            entries += [_plain(d.to_dict() if hasattr(d, "to_dict") else d) for d in cfg[key]]
    if not entries:
        raise UserError(f"'{name}' is an OpenCompass config but defines no datasets; pick a dataset config such as mmlu_gen")
    return entries


def run_abbr(entry: dict[str, Any]) -> str:
    """The abbr a stock dataset entry runs under: stock PPL and generative configs share abbrs
    (lukaemon_mmlu_X) and results are kept per abbr, so PPL entries get "_ppl" appended."""
    abbr = str(entry.get("abbr", ""))
    is_ppl = type_name(entry.get("infer_cfg", {}).get("inferencer", {}).get("type")) == "PPLInferencer"
    return f"{abbr}_ppl" if is_ppl and not abbr.endswith("_ppl") else abbr


def plan_datasets(
    names: tuple[str, ...], subjects: tuple[str, ...] | None = None, limit: int | None = None
) -> list[PlannedDataset]:
    """Load, filter by subject and cut to `limit` every named dataset config."""
    for name in names:
        find_config(name)  # fail fast on the first unknown name, before any slow load
    planned: list[PlannedDataset] = []
    used_subjects: set[str] = set()
    for name in dict.fromkeys(names):  # keep order, drop repeats
        entries = load_config(name)
        is_split = subjects and sum(1 for e in entries if e.get("name") is not None) > 1
        if is_split:
            assert subjects is not None  # is_split implies it
            kept = [e for e in entries if e.get("name") in subjects]
            if not kept:
                known = ", ".join(sorted(str(e.get("name")) for e in entries)[:8])
                raise UserError(f"none of subjects={','.join(subjects)} is a subject of {name}; its subjects include {known}, ...")
            used_subjects.update(str(e["name"]) for e in kept)
            entries = kept
        for entry in entries:
            if limit is not None:
                reader = dict(entry.get("reader_cfg", {}))
                reader["test_range"] = f"[0:{limit}]"
                entry["reader_cfg"] = reader
            entry["abbr"] = run_abbr(entry)
            planned.append(PlannedDataset(name, entry))
    seen: dict[str, str] = {}
    for item in planned:
        if item.abbr in seen and seen[item.abbr] != item.config_name:
            raise UserError(f"eval_datasets {seen[item.abbr]} and {item.config_name} both define dataset {item.abbr}; "
                            "keep one of them (or run them as two runs)")
        seen[item.abbr] = item.config_name
    if subjects:
        unused = [s for s in subjects if s not in used_subjects]
        if unused:
            raise UserError(f"subject(s) {', '.join(unused)} belong to none of eval_datasets={' '.join(names)}; check the spelling (MMLU uses e.g. high_school_geography)")
    return planned
