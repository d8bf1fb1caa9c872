"""The shared part of every converter: read tabular sources, collect skips, write safely.

A converter returns the files it would write (path -> text) and the records it skipped
with the reason; `write_conversion` refuses to overwrite without `force` and writes each
file atomically, so a failed conversion never leaves a half-written dataset behind.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import UserError
from ...fileio import atomic_write_text


@dataclass
class ConversionResult:
    files: dict[Path, str] = field(default_factory=dict)  # relative to the output root
    written: dict[Path, int] = field(default_factory=dict)  # records per file
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (record id, why)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV (with header), JSONL or Parquet file, as dicts."""
    if not path.is_file():
        raise UserError(f"{path} does not exist; pass the source file with --from")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pandas as pd

            return [{k: _plain(v) for k, v in row.items()} for row in pd.read_parquet(path).to_dict("records")]
        text = path.read_bytes().decode("utf-8-sig")
        if suffix in (".jsonl", ".json"):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        if suffix == ".csv":
            return list(csv.DictReader(io.StringIO(text)))
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error, ValueError, OSError) as error:
        raise UserError(f"cannot read {path} ({type(error).__name__}: {str(error)[:200]}); it must be UTF-8 CSV, JSONL or Parquet") from None
    raise UserError(f"{path}: unknown source type '{suffix}'; give a .csv, .jsonl or .parquet file (or an XSum .summary folder)")


def _plain(value: Any) -> Any:
    # Parquet list columns arrive as numpy arrays.
    return value.tolist() if hasattr(value, "tolist") else value


def require_columns(records: list[dict[str, Any]], path: Path, *options: tuple[str, ...]) -> tuple[str, ...]:
    """The first column set of `options` the records have (e.g. ('document',) or ('dialogue',))."""
    if not records:
        raise UserError(f"{path} has no records; nothing to convert")
    for columns in options:
        if all(c in records[0] for c in columns):
            return columns
    wanted = " or ".join("/".join(c) for c in options)
    raise UserError(f"{path} lacks the columns {wanted} (it has {', '.join(records[0])})")


def csv_text(rows: list[list[Any]], header: list[str] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write_conversion(result: ConversionResult, out_root: Path, force: bool) -> list[Path]:
    if not result.files:
        raise UserError("no records survived the conversion; see the skipped records above")
    targets = [out_root / rel for rel in result.files]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise UserError(f"{existing[0]} exists ({len(existing)} file(s) would be replaced); pass --force to overwrite")
    for target, text in zip(targets, result.files.values()):
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)
    return targets


def answer_letter(value: Any, n_choices: int = 4) -> str | None:
    """'B', 'b', 1 or '1' -> 'B'; None when it is not a valid answer."""
    text = str(value).strip()
    if text.isdigit() and int(text) < n_choices:
        return "ABCD"[int(text)]
    return text.upper() if text.upper() in "ABCD"[:n_choices] and len(text) == 1 else None


def subject_split_files(rows: dict[tuple[str, str], list[list[Any]]], folder: str, header: list[str] | None,
                        result: ConversionResult) -> None:
    """One CSV per (subject, split): <folder>/<split>/<subject>_<split>.csv, as OpenCompass reads them."""
    for (subject, split), subject_rows in sorted(rows.items()):
        path = Path(folder) / split / f"{subject}_{split}.csv"
        result.files[path] = csv_text(subject_rows, header)
        result.written[path] = len(subject_rows)
