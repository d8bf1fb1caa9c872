"""XSum -> data/Xsum/dev.jsonl ({"id", "dialogue", "summary"}, as OpenCompass reads it).

Sources: the original release (a folder of <bbcid>.summary files plus
XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json), a CSV with id/dialogue/summary, or JSONL/Parquet
with id/document/summary (the Hugging Face form).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...errors import UserError
from .base import ConversionResult, read_records, require_columns

OUTPUT = Path("data/Xsum/dev.jsonl")
SPLIT_FILE = "XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json"
_SECTION = re.compile(r"\[SN\](URL|TITLE|FIRST-SENTENCE|RESTBODY)\[SN\]")
_SPLITS = {"test": "test", "validation": "validation", "dev": "validation", "train": "train"}


def parse_summary_file(text: str) -> dict[str, str]:
    """Sections of one .summary file: URL, TITLE, FIRST-SENTENCE (the summary), RESTBODY (the article)."""
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def _id(value: Any) -> Any:
    text = str(value).strip()
    return int(text) if text.isdigit() else text  # OpenCompass's copy has numeric ids


def _from_release(folder: Path, split: str) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    split_file = folder / SPLIT_FILE
    if not split_file.is_file():
        found = next(folder.rglob(SPLIT_FILE), None)
        if found is None:
            raise UserError(f"{folder} has no {SPLIT_FILE}; it lists which ids belong to train/validation/test")
        split_file = found
    ids = json.loads(split_file.read_text(encoding="utf-8")).get(_SPLITS.get(split, split))
    if ids is None:
        raise UserError(f"{split_file} has no split '{split}'; use --split test, validation or train")
    files = {p.stem: p for p in folder.rglob("*.summary")}
    records, skipped = [], []
    for bbcid in ids:
        path = files.get(str(bbcid))
        if path is None:
            skipped.append((str(bbcid), "no .summary file"))
            continue
        sections = parse_summary_file(path.read_text(encoding="utf-8", errors="strict"))
        records.append({"id": bbcid, "dialogue": sections.get("RESTBODY", ""), "summary": sections.get("FIRST-SENTENCE", "")})
    return records, skipped


def convert_xsum(source: Path, split: str = "test", **_: Any) -> ConversionResult:
    result = ConversionResult()
    if source.is_dir():
        records, result.skipped = _from_release(source, split)
        text_key = "dialogue"
    else:
        records = read_records(source)
        text_key = require_columns(records, source, ("id", "dialogue", "summary"), ("id", "document", "summary"))[1]
    lines = []
    for record in records:
        rid = str(record.get("id"))
        dialogue, summary = record.get(text_key), record.get("summary")
        if not isinstance(dialogue, str) or not dialogue.strip():
            result.skipped.append((rid, "empty article"))
        elif not isinstance(summary, str) or not summary.strip():
            result.skipped.append((rid, "empty summary"))
        else:
            lines.append(json.dumps({"id": _id(record["id"]), "dialogue": dialogue, "summary": summary}, ensure_ascii=False))
    if lines:
        result.files[OUTPUT] = "\n".join(lines) + "\n"
        result.written[OUTPUT] = len(lines)
    return result
