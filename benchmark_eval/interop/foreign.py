"""What another tool's output folder holds, read into one typed record before anything is written.

A reader (one module per tool: `opencompass_dir`, `aisbench_dir`) turns a folder into a
`ForeignRun`; `importer` turns that into a run folder of ours. Readers only read: every
problem with the folder is found before the run folder exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import UserError
from ..results.records import ImportedTool

ToolName = Literal["opencompass", "aisbench"]


@dataclass
class ForeignDataset:
    """One dataset of the foreign run: its config as the tool dumped it, and its predictions in
    index order (OpenCompass's own record per sample: origin_prompt, prediction, gold)."""

    cfg: dict[str, Any]
    predictions: list[dict[str, Any]]
    metrics: dict[str, float] = field(default_factory=dict)  # the tool's own scores, where it kept them
    details: list[dict[str, Any]] | None = None  # the tool's per-sample results (AISBench --dump-eval-details)

    @property
    def abbr(self) -> str:
        return str(self.cfg["abbr"])


@dataclass
class ForeignRun:
    tool: ToolName
    folder: Path  # the output folder read (OpenCompass: the timestamped one)
    config_file: Path
    model: dict[str, Any]  # the model's config as dumped
    model_abbr: str
    datasets: list[ForeignDataset]
    summary: Path | None = None  # the tool's summary table, if it wrote one
    refused: list[str] = field(default_factory=list)  # datasets left out, each with its one-line reason


class SummaryOnly(UserError):
    """The folder has a summary but no per-sample predictions: nothing to pair sample by sample."""

    def __init__(self, message: str, summary: Path) -> None:
        super().__init__(message)
        self.summary = summary
        self.tool: ImportedTool = "opencompass"  # set by the reader that found it


def read_json(path: Path, what: str) -> Any:
    """A JSON file the tool wrote; a truncated or broken one is one line, not a traceback."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {what} {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise UserError(f"{what} {path} is not valid JSON (line {error.lineno}: {error.msg}): "
                        "the file is truncated or was written by something else; re-run that dataset with the tool") from None


def load_dumped_config(path: Path) -> dict[str, Any]:
    """The config the tool dumped (plain Python: literal values and dotted type names)."""
    from mmengine.config import Config

    try:
        return dict(Config.fromfile(str(path)).to_dict())
    except Exception as error:  # mmengine raises anything from SyntaxError to ImportError on a bad file
        raise UserError(f"cannot load the dumped config {path} ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None


def pick_model(models: list[dict[str, Any]], present: list[str], wanted: str | None, folder: Path) -> tuple[dict[str, Any], str]:
    """The model to import: `wanted` (an abbr), or the only one there is."""
    by_abbr = {str(m.get("abbr")): m for m in models if m.get("abbr")}
    names = [a for a in by_abbr if a in present] or present
    if wanted is not None:
        if wanted not in by_abbr or wanted not in present:
            raise UserError(f"model '{wanted}' has no predictions in {folder}; it holds {', '.join(names) or 'none'}: "
                            "pass one of them with --model")
        return by_abbr[wanted], wanted
    if len(names) != 1:
        raise UserError(f"{folder} holds predictions of {len(names)} models ({', '.join(names)}); pick one with --model")
    return by_abbr.get(names[0], {"abbr": names[0]}), names[0]


def _stamps(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and p.name[:1].isdigit()) if path.is_dir() else []


def find_output(path: Path) -> Path:
    """The timestamped output folder: `path` itself, or the newest one inside a work dir (both
    tools write `<work_dir>/<stamp>/configs/...`)."""
    if (path / "configs").is_dir():
        return path
    stamped = [p for p in _stamps(path) if (p / "configs").is_dir()]
    if not stamped:
        raise UserError(f"{path} is not an OpenCompass or AISBench output folder (no configs/ in it or in a timestamped "
                        "folder inside); give the folder the tool printed, e.g. outputs/default/20250101_120000")
    return stamped[-1]


@dataclass
class OutputFolder:
    """What both tools' folders share: the dumped config, the model picked, the summary."""

    folder: Path
    config_file: Path
    cfg: dict[str, Any]
    model: dict[str, Any]
    model_abbr: str
    summary: Path | None

    @property
    def dataset_cfgs(self) -> list[dict[str, Any]]:
        datasets = [dict(d) for d in self.cfg.get("datasets") or []]
        if not datasets:
            raise UserError(f"{self.config_file} lists no datasets; it is not the config of an evaluation")
        return datasets


def pick_datasets(cfgs: list[dict[str, Any]], wanted: tuple[str, ...] | None, folder: Path) -> list[dict[str, Any]]:
    """The dataset configs `--datasets` names (by abbr), in the folder's order; all without it."""
    if not wanted:
        return cfgs
    abbrs = [str(c.get("abbr")) for c in cfgs]
    unknown = [w for w in wanted if w not in abbrs]
    if unknown:
        raise UserError(f"--datasets: {', '.join(unknown)} not in {folder} (it holds {', '.join(abbrs[:6])}"
                        f"{', ...' if len(abbrs) > 6 else ''}); name datasets by their abbr")
    return [c for c in cfgs if str(c.get("abbr")) in wanted]


def open_output(path: Path, model: str | None) -> OutputFolder:
    """The output folder, its newest dumped config (a folder reused with -r has one per attempt)
    and the model to import; a folder with a summary and no predictions is `SummaryOnly`."""
    folder = find_output(path.resolve())
    configs = sorted((folder / "configs").glob("*.py"))
    if not configs:
        raise UserError(f"{folder / 'configs'} holds no dumped config (*.py); the run did not get past its start")
    cfg = load_dumped_config(configs[-1])
    predictions = folder / "predictions"
    present = sorted(p.name for p in predictions.iterdir() if p.is_dir()) if predictions.is_dir() else []
    summaries = sorted((folder / "summary").glob("summary_*.csv"))
    if not present:
        if summaries:
            raise SummaryOnly(f"{folder} has a summary but no predictions/: there are no per-sample results to pair", summaries[-1])
        raise UserError(f"{folder} has neither predictions/ nor a summary; the run did not get to its answers")
    model_cfg, model_abbr = pick_model([dict(m) for m in cfg.get("models") or []], present, model, folder)
    return OutputFolder(folder, configs[-1], cfg, model_cfg, model_abbr, summaries[-1] if summaries else None)
