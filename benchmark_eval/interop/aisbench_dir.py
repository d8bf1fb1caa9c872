"""AISBench output folders (`ais_bench ... -w outputs/default`): `<work_dir>/<stamp>/` with
`configs/`, `predictions/<model>/<abbr>.jsonl` (a line per answered sample: data_abbr, id,
origin_prompt, prediction, gold) and `results/<model>/<abbr>.json`, whose `details` (written
with `--dump-eval-details`) hold AISBench's per-sample results: those are imported as AISBench
scored them, since its dataset and evaluator classes are its own."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..results.outputs import numeric_metrics
from .foreign import ForeignDataset, ForeignRun, find_output, open_output, pick_datasets, read_json
from .jsonl import read_jsonl


def is_aisbench_folder(path: Path) -> bool:
    try:
        folder = find_output(path)
    except UserError:
        return False
    return any("ais_bench." in f.read_text(encoding="utf-8", errors="replace") for f in (folder / "configs").glob("*.py"))


def read_aisbench(path: Path, model: str | None = None, wanted: tuple[str, ...] | None = None) -> ForeignRun:
    out = open_output(path, model)
    folder, model_abbr = out.folder, out.model_abbr
    datasets = []
    for dataset_cfg in pick_datasets(out.dataset_cfgs, wanted, folder):
        abbr = str(dataset_cfg.get("abbr"))
        predictions_file = folder / "predictions" / model_abbr / f"{abbr}.jsonl"
        if not predictions_file.is_file():
            raise UserError(f"{abbr} has no predictions of {model_abbr} in {folder} ({predictions_file.name} is missing): "
                            "the run did not finish it; finish it with AISBench (-r) first")
        results_file = folder / "results" / model_abbr / f"{abbr}.json"
        results = read_json(results_file, "results file") if results_file.is_file() else {}
        details = results.get("details") if isinstance(results, dict) else None
        if not isinstance(details, dict):
            raise UserError(f"{abbr}: {results_file} has no per-sample details; re-run AISBench's evaluation with them: "
                            f"ais_bench CONFIG -m eval --dump-eval-details -r {folder.name} -w {folder.parent}")
        rows = sorted(read_jsonl(predictions_file, "AISBench"), key=lambda r: int(r.get("id", 0)))
        if [int(r.get("id", -1)) for r in rows] != list(range(len(rows))) or len(details) != len(rows):
            raise UserError(f"{abbr}: {predictions_file} holds {len(rows)} answers and {results_file.name} {len(details)} results, "
                            "not one per sample; some requests failed: re-run them with AISBench (-r) first")
        datasets.append(ForeignDataset(cfg=dataset_cfg, predictions=rows, metrics=numeric_metrics(results),
                                       details=[details[str(i)] for i in range(len(rows))]))
    return ForeignRun(tool="aisbench", folder=folder, config_file=out.config_file, model=out.model, model_abbr=model_abbr,
                      datasets=datasets, summary=out.summary)
