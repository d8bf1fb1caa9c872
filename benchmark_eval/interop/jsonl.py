"""JSON Lines files another tool wrote: a broken line is one line of error, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UserError


def read_jsonl(path: Path, tool: str) -> list[dict[str, Any]]:
    rows = []
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise UserError(f"{path} line {number} is not valid JSON: the file is truncated or was written by "
                                    f"something else; re-run that dataset with {tool}") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path} line {number} is not a JSON object; it was not written by {tool}")
                rows.append(row)
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    return rows
