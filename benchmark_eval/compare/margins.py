"""Equivalence margins: 1% relative by default; per unit or dataset from a YAML file under configs/."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError

#: The equivalence margin when none is given: 1% of the baseline's score (the classic rule's).
DEFAULT_MARGIN = 0.01


class Margins:
    def __init__(self, relative: float = DEFAULT_MARGIN, per_name: dict[str, dict[str, float]] | None = None,
                 source: Path | None = None, has_default: bool = True) -> None:
        self.relative = relative
        self.per_name = per_name or {}
        self.source = source
        self.has_default = has_default

    def points(self, names: Sequence[str | None], baseline: float) -> tuple[float, str]:
        """The margin in score points for the first of `names` the file sets (a unit, then its
        dataset or config), and how it was set (for the report)."""
        rule = next((self.per_name[n] for n in names if n and n in self.per_name), {})
        if "absolute" in rule:
            return float(rule["absolute"]), f"{rule['absolute']} points (absolute)"
        relative = float(rule.get("relative", self.relative))
        return relative * abs(baseline), f"{relative * 100:g}% of the baseline"

    def unused(self, names: Iterable[str]) -> list[str]:
        """Entries that set nothing in this comparison; an error when nothing in the file applies."""
        names = set(names)
        unused = sorted(k for k in self.per_name if k not in names)
        if self.source is not None and not self.has_default and self.per_name and len(unused) == len(self.per_name):
            raise UserError(f"margins file {self.source} names no unit of this comparison ({', '.join(unused[:5])}); "
                            f"name units such as {', '.join(sorted(names)[:5])}, or give default.relative")
        return unused

    @classmethod
    def load(cls, path: Path | None, relative: float) -> Margins:
        if path is None:
            return cls(relative)
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            default = float(data.get("default", {}).get("relative", relative))
            entries = {**(data.get("datasets") or {}), **(data.get("units") or {})}
            per = {str(k): {kk: float(vv) for kk, vv in v.items() if kk in ("relative", "absolute")}
                   for k, v in entries.items()}
        except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError) as error:
            raise UserError(f"cannot read margins file {path} ({type(error).__name__}); it must be YAML with "
                            "default.relative and units.<name>.relative|absolute (or datasets.<name>...)") from None
        return cls(default, per, path, has_default="default" in data)
