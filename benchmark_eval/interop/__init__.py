"""Other tools' runs: import stock OpenCompass, AISBench, lm-evaluation-harness and EvalScope
output folders as run folders of ours, and export ours in OpenCompass's and AISBench's layouts.
One reader module per tool, behind `READERS`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import UserError
from ..results.records import ImportedTool
from .aisbench_dir import is_aisbench_folder, read_aisbench
from .evalscope_dir import is_evalscope_folder, read_evalscope
from .foreign import ForeignRun, SummaryOnly
from .lmeval_dir import is_lmeval_folder, read_lmeval
from .opencompass_dir import is_opencompass_folder, read_opencompass
from .scored import ScoredRun

Reader = Callable[[Path, str | None, tuple[str, ...] | None], ForeignRun | ScoredRun]
#: tool -> (does this folder look like its output, read it), tried in this order: EvalScope's and
#: AISBench's folders have a configs/ like OpenCompass's, so OpenCompass comes last.
READERS: dict[ImportedTool, tuple[Callable[[Path], bool], Reader]] = {
    "evalscope": (is_evalscope_folder, read_evalscope),
    "lm-eval": (is_lmeval_folder, read_lmeval),
    "aisbench": (is_aisbench_folder, read_aisbench),
    "opencompass": (is_opencompass_folder, read_opencompass),
}
_WHAT = "an OpenCompass, AISBench, lm-eval or EvalScope output folder"


def _read(tool: ImportedTool, path: Path, model: str | None, datasets: tuple[str, ...] | None) -> ForeignRun | ScoredRun:
    try:
        return READERS[tool][1](path, model, datasets)
    except SummaryOnly as only:
        only.tool = tool  # the folder's summary is this tool's (its 1% reference says so)
        raise


def read_foreign(path: Path, tool: str | None, model: str | None, datasets: tuple[str, ...] | None = None) -> ForeignRun | ScoredRun:
    if not path.is_dir() and not is_lmeval_folder(path):  # lm-eval: a results file picks one of several runs
        raise UserError(f"{path} is not a folder; give {_WHAT}")
    if tool is not None:
        for name in READERS:
            if name == tool:
                return _read(name, path, model, datasets)
        raise UserError(f"--from {tool!r}: give one of {', '.join(READERS)}")
    for name, (looks_like, _) in READERS.items():
        if looks_like(path):
            return _read(name, path, model, datasets)
    raise UserError(f"{path} is not {_WHAT} (no configs/, results_*.json or configs/task_config.yaml in it or in a "
                    "folder inside); give the folder the tool printed, e.g. outputs/default/20250101_120000")


__all__ = ["READERS", "ForeignRun", "ScoredRun", "SummaryOnly", "read_foreign"]
