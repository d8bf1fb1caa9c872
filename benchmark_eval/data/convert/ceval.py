"""C-Eval from its Hugging Face export (id, question, A-D, answer, explanation; one subject
per file or a subject column) -> data/ceval/formal_ceval/<split>/<subject>_<split>.csv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import ConversionResult, answer_letter, read_records, require_columns, subject_split_files

HEADER = ["id", "question", "A", "B", "C", "D", "answer", "explanation"]


def convert_ceval(source: Path, split: str = "val", subject: str | None = None, **_: Any) -> ConversionResult:
    records = read_records(source)
    require_columns(records, source, ("question", "A", "B", "C", "D"))
    result = ConversionResult()
    rows: dict[tuple[str, str], list[list[Any]]] = {}
    for index, record in enumerate(records):
        name = str(record.get("subject") or subject or "").strip()
        row_split = str(record.get("split") or split)
        raw_answer = record.get("answer")
        answer = answer_letter(raw_answer) if raw_answer not in (None, "") else ""
        if not name:
            result.skipped.append((str(index), "no subject (add a subject column or pass --subject)"))
        elif answer is None or (answer == "" and row_split != "test"):
            result.skipped.append((str(index), f"answer {raw_answer!r} is not A-D (only the test split may lack it)"))
        else:
            rid = record.get("id", len(rows.get((name, row_split), [])))
            rows.setdefault((name, row_split), []).append(
                [rid, record["question"], record["A"], record["B"], record["C"], record["D"], answer,
                 record.get("explanation") or ""])
    subject_split_files(rows, "data/ceval/formal_ceval", HEADER, result)
    return result
