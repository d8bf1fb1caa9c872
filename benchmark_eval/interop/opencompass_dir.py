"""Stock OpenCompass output folders (0.2.x to 0.5.x): `<work_dir>/<stamp>/` with
`configs/<stamp>_<pid>.py`, `predictions/<model>/<abbr>.json` (or `<abbr>_0.json`, `<abbr>_1.json`,
... where a partitioner split the dataset), `results/<model>/<abbr>.json` (with or without
`details`) and `summary/summary_<stamp>.csv`.

Generative datasets pair with ours sample by sample. Perplexity (PPL) datasets import with their
chosen answer and its correctness: stock OpenCompass chooses by whole-prompt perplexity, so they
pair with another stock PPL run, never with one of ours (continuation log-likelihood), and keep no
per-choice log-likelihoods for log-prob parity. Datasets of any other inferencer are left out,
each with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError
from ..plan.datasets import type_name
from ..results.outputs import numeric_metrics
from .foreign import ForeignDataset, ForeignRun, find_output, open_output, pick_datasets, read_json

# The inferencers whose predictions import: generations, and stock perplexity choices.
_GENERATIVE = {"GenInferencer", "ChatInferencer"}
STOCK_PPL = "PPLInferencer"


def is_opencompass_folder(path: Path) -> bool:
    try:
        find_output(path)
    except UserError:
        return False
    return True


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
    return numeric_metrics(read_json(path, "results file"))


def read_opencompass(path: Path, model: str | None = None, wanted: tuple[str, ...] | None = None) -> ForeignRun:
    out = open_output(path, model)
    datasets, missing, refused = [], [], []
    for dataset_cfg in pick_datasets(out.dataset_cfgs, wanted, out.folder):
        abbr = str(dataset_cfg.get("abbr") or "")
        inferencer = type_name(dataset_cfg.get("infer_cfg", {}).get("inferencer", {}).get("type"))
        if inferencer not in _GENERATIVE and inferencer != STOCK_PPL:
            refused.append(f"{abbr}: scored by {inferencer}, whose outputs benchmark-eval cannot pair (it imports "
                           f"{', '.join(sorted(_GENERATIVE))} and {STOCK_PPL} datasets)")
            continue
        predictions = read_predictions(out.folder, out.model_abbr, abbr)
        if predictions is None:
            missing.append(abbr)
            continue
        datasets.append(ForeignDataset(cfg=dataset_cfg, predictions=predictions, metrics=_metrics(out.folder, out.model_abbr, abbr)))
    if missing:
        raise UserError(f"{len(missing)} of {len(out.dataset_cfgs)} dataset(s) have no predictions of {out.model_abbr} in {out.folder} "
                        f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): the run did not finish them; "
                        "finish it with OpenCompass (-r) first")
    if not datasets:
        raise UserError(f"nothing in {out.folder} can be imported: {'; '.join(refused)}")
    return ForeignRun(tool="opencompass", folder=out.folder, config_file=out.config_file, model=out.model,
                      model_abbr=out.model_abbr, datasets=datasets, summary=out.summary, refused=refused)


def is_stock_ppl(cfg: dict[str, Any]) -> bool:
    """A stock perplexity dataset: its answer chosen by whole-prompt perplexity."""
    return type_name(cfg.get("infer_cfg", {}).get("inferencer", {}).get("type")) == STOCK_PPL
