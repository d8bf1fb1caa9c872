"""What OpenCompass opens for the datasets we know, so a check can name each missing file.

Other datasets are still checked, through OpenCompass's own loader only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    folder: str  # under the data root
    kind: str  # "csv" (no header), "csv_header" or "jsonl"
    columns: tuple[str, ...]  # header names / JSON keys that must be present; csv: the count
    splits: tuple[str, ...] = ()  # per-subject files: <folder>/<split>/<subject>_<split>.csv
    file: str = ""  # single-file datasets

    def required(self, split: str) -> tuple[str, ...]:
        # C-Eval's public test split has no answers (they are withheld).
        return tuple(c for c in self.columns if not (split == "test" and c == "answer" and self.kind == "csv_header"))

    def split_of(self, path: Path) -> str:
        return path.parent.name if self.splits else "test"

    def files(self, root: Path, subject: str | None) -> list[Path]:
        if self.file:
            return [root / self.folder / self.file]
        return [root / self.folder / split / f"{subject}_{split}.csv" for split in self.splits]


LAYOUTS: dict[str, Layout] = {
    "opencompass/mmlu": Layout("data/mmlu", "csv", ("question", "A", "B", "C", "D", "answer"), ("dev", "test")),
    "opencompass/ceval-exam": Layout("data/ceval/formal_ceval", "csv_header", ("question", "A", "B", "C", "D", "answer"),
                                     ("dev", "val", "test")),
    "opencompass/xsum": Layout("data/Xsum", "jsonl", ("dialogue", "summary"), file="dev.jsonl"),
    "opencompass/humaneval": Layout("data/humaneval", "jsonl", ("task_id", "prompt", "canonical_solution", "test", "entry_point"),
                                    file="human-eval-v2-20210705.jsonl"),
}
