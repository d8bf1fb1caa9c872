"""Other tools' runs: import stock OpenCompass and AISBench output folders as run folders of
ours, and export ours in their layouts. One reader module per tool, behind `READERS`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import UserError
from .aisbench_dir import is_aisbench_folder, read_aisbench
from .foreign import ForeignRun, SummaryOnly, ToolName
from .opencompass_dir import is_opencompass_folder, read_opencompass

#: tool -> (does this folder look like its output, read it)
READERS: dict[ToolName, tuple[Callable[[Path], bool], Callable[[Path, str | None, tuple[str, ...] | None], ForeignRun]]] = {
    "aisbench": (is_aisbench_folder, read_aisbench),  # first: AISBench folders also look like OpenCompass's
    "opencompass": (is_opencompass_folder, read_opencompass),
}


def _read(tool: ToolName, path: Path, model: str | None, datasets: tuple[str, ...] | None) -> ForeignRun:
    try:
        return READERS[tool][1](path, model, datasets)
    except SummaryOnly as only:
        only.tool = tool  # the folder's summary is this tool's (its 1% reference says so)
        raise


def read_foreign(path: Path, tool: str | None, model: str | None, datasets: tuple[str, ...] | None = None) -> ForeignRun:
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; give the output folder of an OpenCompass or AISBench run")
    if tool is not None:
        if tool not in READERS:
            raise UserError(f"--from {tool!r}: give opencompass or aisbench")
        return _read(tool, path, model, datasets)
    for name, (looks_like, _) in READERS.items():
        if looks_like(path):
            return _read(name, path, model, datasets)
    raise UserError(f"{path} is not an OpenCompass or AISBench output folder (no configs/ with predictions/ in it or in a "
                    "timestamped folder inside); give the folder the tool printed, e.g. outputs/default/20250101_120000")


__all__ = ["READERS", "ForeignRun", "SummaryOnly", "read_foreign"]
