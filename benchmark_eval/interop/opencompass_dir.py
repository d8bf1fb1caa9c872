"""Stock OpenCompass output folders (0.2.x to 0.5.x): `<work_dir>/<stamp>/` with
`configs/<stamp>_<pid>.py`, `predictions/<model>/<abbr>.json` (or `<abbr>_0.json`, `<abbr>_1.json`,
... where a partitioner split the dataset), `results/<model>/<abbr>.json` (with or without
`details`) and `summary/summary_<stamp>.csv`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError
from ..plan.datasets import type_name
from .foreign import ForeignDataset, ForeignRun, SummaryOnly, load_dumped_config, pick_model, read_json

# The inferencers whose predictions pair with ours sample by sample.
_GENERATIVE = {"GenInferencer", "ChatInferencer"}


def is_opencompass_folder(path: Path) -> bool:
    return (path / "configs").is_dir() or any((p / "configs").is_dir() for p in _stamps(path))


def _stamps(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and p.name[:1].isdigit()) if path.is_dir() else []


def find_output(path: Path) -> Path:
    """The timestamped output folder: `path` itself, or the newest one inside a work dir."""
    if (path / "configs").is_dir():
        return path
    stamped = [p for p in _stamps(path) if (p / "configs").is_dir()]
    if not stamped:
        raise UserError(f"{path} is not an OpenCompass output folder (no configs/ in it or in a timestamped folder inside); "
                        "give the folder OpenCompass printed, e.g. outputs/default/20250101_120000")
    return stamped[-1]


def _config_file(folder: Path) -> Path:
    files = sorted((folder / "configs").glob("*.py"))
    if not files:
        raise UserError(f"{folder / 'configs'} holds no dumped config (*.py); the run did not get past its start")
    return files[-1]  # a reused folder (-r) gets a config per attempt: the last one ran last


def read_predictions(folder: Path, model_abbr: str, abbr: str) -> list[dict[str, Any]] | None:
    """A dataset's predictions in index order, its split parts joined as OpenCompass's evaluation
    joins them; None when the run left none."""
    base = folder / "predictions" / model_abbr
    whole = base / f"{abbr}.json"
    parts = [whole] if whole.is_file() else []
    while not whole.is_file() and (base / f"{abbr}_{len(parts)}.json").is_file():
        parts.append(base / f"{abbr}_{len(parts)}.json")
    if not parts:
        return None
    rows: list[dict[str, Any]] = []
    for part in parts:
        data = read_json(part, "predictions file")
        if not isinstance(data, dict) or any(str(i) not in data for i in range(len(data))):
            raise UserError(f"predictions file {part} is not OpenCompass's index -> record mapping; re-run that dataset with OpenCompass")
        rows += [data[str(i)] for i in range(len(data))]
    return rows


def _metrics(folder: Path, model_abbr: str, abbr: str) -> dict[str, float]:
    path = folder / "results" / model_abbr / f"{abbr}.json"
    if not path.is_file():
        return {}
    data = read_json(path, "results file")
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)} if isinstance(data, dict) else {}


def read_opencompass(path: Path, model: str | None = None) -> ForeignRun:
    folder = find_output(path.resolve())
    config_file = _config_file(folder)
    cfg = load_dumped_config(config_file)
    datasets_cfg = [dict(d) for d in cfg.get("datasets") or []]
    if not datasets_cfg:
        raise UserError(f"{config_file} lists no datasets; it is not the config of an OpenCompass evaluation")
    present = sorted(p.name for p in (folder / "predictions").iterdir() if p.is_dir()) if (folder / "predictions").is_dir() else []
    summaries = sorted((folder / "summary").glob("summary_*.csv"))
    if not present:
        if summaries:
            raise SummaryOnly(f"{folder} has a summary but no predictions/: there are no per-sample results to pair", summaries[-1])
        raise UserError(f"{folder} has neither predictions/ nor a summary; the run did not get to its answers")
    model_cfg, model_abbr = pick_model([dict(m) for m in cfg.get("models") or []], present, model, folder)
    datasets, missing = [], []
    for dataset_cfg in datasets_cfg:
        abbr = str(dataset_cfg.get("abbr") or "")
        inferencer = type_name(dataset_cfg.get("infer_cfg", {}).get("inferencer", {}).get("type"))
        if inferencer not in _GENERATIVE:
            raise UserError(f"{abbr} was scored by {inferencer}: stock OpenCompass's perplexity tests score the whole prompt, "
                            "benchmark-eval scores each choice's continuation, so their samples do not pair; "
                            "sign off against its summary (benchmark-eval import writes a 1%-rule reference from it) or re-run the baseline")
        predictions = read_predictions(folder, model_abbr, abbr)
        if predictions is None:
            missing.append(abbr)
            continue
        datasets.append(ForeignDataset(cfg=dataset_cfg, predictions=predictions, metrics=_metrics(folder, model_abbr, abbr)))
    if missing:
        raise UserError(f"{len(missing)} of {len(datasets_cfg)} dataset(s) have no predictions of {model_abbr} in {folder} "
                        f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): the run did not finish them; "
                        "finish it with OpenCompass (-r) first")
    return ForeignRun(tool="opencompass", folder=folder, config_file=config_file, model=model_cfg, model_abbr=model_abbr,
                      datasets=datasets, summary=summaries[-1] if summaries else None)
