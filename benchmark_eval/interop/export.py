"""A run folder of ours in another tool's layout, for dashboards built on those layouts.

OpenCompass's layout is what OpenCompass itself wrote into the run folder (predictions/,
results/ with details, summary/, configs/): copied. AISBench's is built from it and from
samples.jsonl: `predictions/<model>/<abbr>.jsonl` (a line per sample), `results/<model>/<abbr>.json`
with the metrics and AISBench's per-sample `details`, and its summary CSV."""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from pathlib import Path
from typing import Any, Literal

from ..errors import UserError
from ..results import RunDir, RunManifest, Sample
from ..results.outputs import latest_summary_csv
from ..results.run_dir import PLAN_CONFIG
from .foreign import read_json

ExportFormat = Literal["opencompass", "aisbench"]


def _finished(run: Path) -> tuple[RunDir, RunManifest]:
    run_dir = RunDir(run.resolve())
    try:
        manifest = run_dir.read_manifest()
    except (OSError, ValueError):
        raise UserError(f"{run} is not a run folder of benchmark-eval (no readable run.json); give a folder `run` printed") from None
    if manifest.status != "ok":
        raise UserError(f"{run} has status {manifest.status}; only a finished run can be exported (resume it first)")
    return run_dir, manifest


def _target(out: Path, run_dir: RunDir) -> Path:
    target = out.resolve() / run_dir.path.name
    if target.exists():
        raise UserError(f"{target} exists already; pass another --out or remove it")
    return target


def export_run(run: Path, fmt: ExportFormat, out: Path) -> Path:
    run_dir, manifest = _finished(run)
    abbr = manifest.model.abbr or manifest.model.name
    if not run_dir.predictions_dir(abbr).is_dir():
        origin = manifest.imported_from.tool if manifest.imported_from else "?"
        raise UserError(f"{run} holds no OpenCompass predictions (it was imported from {origin} with its own scores); "
                        "export the original folder instead")
    target = _target(out, run_dir)
    try:
        if fmt == "opencompass":
            _opencompass(run_dir, abbr, target)
        else:
            _aisbench(run_dir, manifest, abbr, target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _opencompass(run_dir: RunDir, abbr: str, target: Path) -> None:
    for folder in ("predictions", "results", "summary"):
        if (run_dir.path / folder).is_dir():
            shutil.copytree(run_dir.path / folder, target / folder)
    configs = target / "configs"
    configs.mkdir(parents=True)
    for config in sorted((run_dir.path / "configs").glob("*.py")):
        # OpenCompass's readers take the newest dump (`<stamp>_<pid>.py`); our plan sorts before it.
        name = f"{run_dir.path.name}_0.py" if config.name == Path(PLAN_CONFIG).name else config.name
        shutil.copy2(config, configs / name)


def _aisbench(run_dir: RunDir, manifest: RunManifest, abbr: str, target: Path) -> None:
    samples: dict[str, list[Sample]] = {}
    for sample in run_dir.read_samples():
        samples.setdefault(sample.dataset, []).append(sample)
    for dataset, record in manifest.datasets.items():
        predictions = read_json(run_dir.predictions(abbr, dataset), "predictions file")
        rows, details = [], {}
        for sample in sorted(samples.get(dataset, []), key=lambda s: int(s.id)):
            pred = predictions[sample.id]
            rows.append({"data_abbr": dataset, "id": int(sample.id), "success": True, "uuid": uuid.uuid4().hex,
                         "origin_prompt": pred.get("origin_prompt"), "prediction": pred.get("prediction"), "gold": pred.get("gold")})
            detail: dict[str, Any] = {"prompt": pred.get("origin_prompt"), "origin_prediction": pred.get("prediction"),
                                      "predictions": sample.extracted, "references": sample.reference}
            for name, value in sample.scores.items():  # AISBench's `correct`, and any per-sample score besides
                detail[name] = bool(value) if name == "correct" else value
            details[sample.id] = detail
        _write(target / "predictions" / abbr / f"{dataset}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        _write(target / "results" / abbr / f"{dataset}.json",
               json.dumps({**record.metrics, "details": details, "type": "PPL" if record.config.endswith("_ppl") else "GEN"},
                          ensure_ascii=False, indent=4))
    _summary(run_dir, manifest, abbr, target)
    configs = target / "configs"
    configs.mkdir(parents=True)
    if run_dir.plan_config.is_file():
        shutil.copy2(run_dir.plan_config, configs / f"{run_dir.path.name}_0.py")
    else:  # a run folder from before plans were kept: the names AISBench's readers need
        from mmengine.config import Config

        plain = {"datasets": [{"abbr": d} for d in manifest.datasets],
                 "models": [{"abbr": abbr, "path": manifest.model.served or manifest.model.name}]}
        (configs / f"{run_dir.path.name}_0.py").write_text(Config(plain, format_python_code=False).pretty_text)


def _summary(run_dir: RunDir, manifest: RunManifest, abbr: str, target: Path) -> None:
    stock = latest_summary_csv(run_dir)
    if stock is not None:  # OpenCompass's and AISBench's summary CSVs share their columns
        _write(target / "summary" / stock.name, stock.read_text(encoding="utf-8"))
        return
    path = target / "summary" / f"summary_{run_dir.path.name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["dataset", "version", "metric", "mode", abbr])
        for dataset, record in manifest.datasets.items():
            for metric, value in record.metrics.items():
                writer.writerow([dataset, "-", metric, "gen", f"{value:.2f}"])


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
