"""Is a data root complete and readable for the planned datasets? Every problem, not the first.

`inspect_dataset` is the one check: `run`'s preflight stops at its first problem,
`benchmark-eval data check` tabulates all of them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fileio import sha256_file
from ..plan import PlannedDataset
from .layouts import LAYOUTS, Layout


@dataclass
class DataInfo:
    """What a dataset will read: its files (with sha256) and its sample count."""

    path: str
    files: dict[str, str] = field(default_factory=dict)
    rows: int = 0  # samples OpenCompass evaluates
    records: int | None = None  # records in the evaluated split's files (known layouts)
    references: list[str] | None = None  # the evaluated samples' gold answers, where asked for (import)


@contextlib.contextmanager
def data_root_env(root: Path) -> Iterator[None]:
    """OpenCompass reads the data root from COMPASS_DATA_CACHE; set it only while needed."""
    import datasets

    datasets.disable_progress_bars()  # loaders' "Map:" bars would bury the progress display
    saved = {k: os.environ.get(k) for k in ("COMPASS_DATA_CACHE", "DATASET_SOURCE")}
    os.environ["COMPASS_DATA_CACHE"] = str(root)
    os.environ.pop("DATASET_SOURCE", None)  # a hub source would mean downloads
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class DataProblem(Exception):
    def __init__(self, problem: str, fix: str, status: str = "broken") -> None:
        super().__init__(problem)
        self.problem, self.fix, self.status = problem, fix, status


def _read_text(path: Path) -> str:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataProblem(f"{path} is not UTF-8 (byte {error.start})", "re-save the file as UTF-8") from None
    if not text.strip():
        raise DataProblem(f"{path} is empty", "restore the file from the dataset's release")
    return text  # LF and CRLF both read fine below


def check_file(path: Path, layout: Layout) -> int:
    """The file's record count; DataProblem when it is missing or unreadable."""
    if not path.is_file():
        raise DataProblem(f"{path} is missing", f"put the file there (layout: {layout.folder}/...)", status="missing")
    text = _read_text(path)
    required = layout.required(layout.split_of(path))
    if layout.kind == "jsonl":
        count = 0
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            count += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise DataProblem(f"{path} line {number} is not JSON", "one JSON object per line") from None
            missing = [c for c in required if c not in record]
            if missing:
                raise DataProblem(f"{path} line {number} lacks {', '.join(missing)}",
                                  f"each line needs {', '.join(required)} (benchmark-eval data convert writes them)")
        return count
    rows = list(csv.reader(io.StringIO(text)))
    if layout.kind == "csv_header":
        missing = [c for c in required if c not in rows[0]]
        if missing:
            raise DataProblem(f"{path} has no column {', '.join(missing)} (header: {','.join(rows[0])})",
                              f"the header must hold {','.join(required)}")
        rows = rows[1:]
    width = len(rows[0]) if layout.kind == "csv_header" and rows else len(layout.columns)
    bad = next((i for i, row in enumerate(rows, 1) if row and len(row) != width), None)
    if bad is not None:
        raise DataProblem(f"{path} row {bad} has {len(rows[bad - 1])} columns, not {width}",
                          "quote fields holding commas; no header row in MMLU files")
    if not rows:
        raise DataProblem(f"{path} has a header but no rows", "restore the file from the dataset's release")
    return sum(1 for row in rows if row)


def _location(cfg: dict[str, Any], root: Path) -> Path:
    from ..compat import datasets_mapping

    raw = str(cfg.get("path", ""))
    if os.path.isabs(raw):
        return Path(raw)
    return root / str(datasets_mapping().get(raw, {}).get("local", raw))


def _dataset_files(location: Path, subject: str | None) -> list[Path]:
    if location.is_file():
        return [location]
    files = sorted(p for p in location.rglob("*") if p.is_file())
    if subject:
        files = [p for p in files if p.name.startswith(f"{subject}_") or p.stem == subject]
    return files


def inspect_dataset(item: PlannedDataset, root: Path, references: bool = False, keep: Path | None = None) -> DataInfo:
    """Check one planned dataset under `root` (COMPASS_DATA_CACHE must point there); raise DataProblem.
    `references`: also return the gold answers as OpenCompass's inferencers record them.
    `keep`: leave the dataset built there for the run's inference (compat.keep_built)."""
    from ..compat import fast_in_memory_fingerprints, keep_built, lazy_dataset_loaders

    lazy_dataset_loaders()  # before anything imports all of OpenCompass's loaders
    from opencompass.utils.build import build_dataset_from_cfg

    fast_in_memory_fingerprints()
    layout = LAYOUTS.get(str(item.cfg.get("path", "")))
    records = None
    if layout is not None:
        evaluated = item.cfg.get("reader_cfg", {}).get("test_split", "test")
        counts = {path: check_file(path, layout) for path in layout.files(root, item.subject)}
        records = sum(n for path, n in counts.items() if layout.split_of(path) == evaluated)
    location = _location(item.cfg, root)
    if not location.exists():
        raise DataProblem(f"no data at {location}", "put the files there or point the data root at the folder holding data/",
                          status="missing")
    try:
        dataset = build_dataset_from_cfg(item.cfg)
        test = dataset.test
        rows = len(test)
        column = item.cfg.get("reader_cfg", {}).get("output_column")
        golds = [str(x) for x in test[column]] if references and column else None
    except Exception as error:  # OpenCompass loaders fail with anything from asserts to KeyErrors
        detail = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        raise DataProblem(f"cannot read the data under {location} ({detail})", "check the files' layout and columns") from None
    if rows == 0:
        raise DataProblem(f"no samples under {location}", "the file is empty or limit/test split selects nothing")
    files = _dataset_files(location, item.subject)
    if keep is not None:
        keep_built(item.cfg, dataset, keep)
    return DataInfo(str(location), {str(p.relative_to(root)) if p.is_relative_to(root) else str(p): sha256_file(p)
                                    for p in files}, rows, records, golds)


@dataclass
class CheckRow:
    """One dataset config's verdict over all its subjects."""

    dataset: str
    files: int = 0
    rows: int = 0  # records in the evaluated split
    samples: int = 0  # what OpenCompass evaluates (it skips records it cannot use)
    problems: list[DataProblem] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.problems:
            return "ok"
        return "missing" if all(p.status == "missing" for p in self.problems) else "broken"


def check_root(names: tuple[str, ...], root: Path) -> list[CheckRow]:
    """Check every subject of every named dataset config; collect all problems."""
    from ..plan import plan_datasets

    rows = []
    with data_root_env(root):
        for name in names:
            row = CheckRow(name)
            for item in plan_datasets((name,)):
                try:
                    info = inspect_dataset(item, root)
                except DataProblem as problem:
                    row.problems.append(problem)
                    continue
                row.files += len(info.files)
                row.samples += info.rows
                row.rows += info.records if info.records is not None else info.rows
            rows.append(row)
    return rows
