"""MMLU from its Hugging Face export (question, subject, choices, answer index or letter)
-> data/mmlu/<split>/<subject>_<split>.csv (no header: question, A, B, C, D, answer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import ConversionResult, answer_letter, read_records, require_columns, subject_split_files


def convert_mmlu(source: Path, split: str = "test", subject: str | None = None, **_: Any) -> ConversionResult:
    records = read_records(source)
    require_columns(records, source, ("question", "choices", "answer"))
    result = ConversionResult()
    rows: dict[tuple[str, str], list[list[Any]]] = {}
    for index, record in enumerate(records):
        name = str(record.get("subject") or subject or "").strip()
        choices, answer = record.get("choices"), answer_letter(record.get("answer"))
        if not name:
            result.skipped.append((str(index), "no subject (add a subject column or pass --subject)"))
        elif not isinstance(choices, list) or len(choices) != 4:
            result.skipped.append((str(index), "choices is not a list of 4"))
        elif answer is None:
            result.skipped.append((str(index), f"answer {record.get('answer')!r} is not 0-3 or A-D"))
        else:
            key = (name, str(record.get("split") or split))
            rows.setdefault(key, []).append([record["question"], *choices, answer])
    subject_split_files(rows, "data/mmlu", None, result)
    return result
