"""Equivalence margins: 1% relative by default, per dataset from a YAML file under configs/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError


class Margins:
    def __init__(self, relative: float = 0.01, per_dataset: dict[str, dict[str, float]] | None = None) -> None:
        self.relative = relative
        self.per_dataset = per_dataset or {}

    def points(self, dataset: str, config_name: str | None, baseline: float) -> tuple[float, str]:
        """The margin in score points, and how it was set (for the report)."""
        rule = self.per_dataset.get(dataset) or (self.per_dataset.get(config_name) if config_name else None) or {}
        if "absolute" in rule:
            return float(rule["absolute"]), f"{rule['absolute']} points (absolute)"
        relative = float(rule.get("relative", self.relative))
        return relative * abs(baseline), f"{relative * 100:g}% of the baseline"

    @classmethod
    def load(cls, path: Path | None, relative: float) -> Margins:
        if path is None:
            return cls(relative)
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            default = float(data.get("default", {}).get("relative", relative))
            per = {str(k): {kk: float(vv) for kk, vv in v.items() if kk in ("relative", "absolute")}
                   for k, v in (data.get("datasets") or {}).items()}
        except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError) as error:
            raise UserError(f"cannot read margins file {path} ({type(error).__name__}); it must be YAML with default.relative and datasets.<name>.relative|absolute") from None
        return cls(default, per)
