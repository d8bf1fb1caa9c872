"""EvalScope output folders (`evalscope eval ... --work-dir OUT`, 1.x): `OUT/<stamp>/` with
`configs/task_config.yaml` (the run's settings, every benchmark resolved), `reviews/<model>/
<benchmark>_<subset>.jsonl` (a line per sample: index, target, the messages sent and answered,
and `sample_score`: EvalScope's own per-sample scores, the extracted and raw prediction) and
`reports/<model>/<benchmark>.json`. Layout as EvalScope 1.14's evaluator writes it, checked on
its real outputs by the tests.

Each sample keeps EvalScope's own score. EvalScope records no hash of its inputs: a sample's is
taken over the messages it sent and its target, so two runs pair only where the prompts were the
same; each benchmark's resolved settings (templates, few-shot, metrics, generation config) are
compared key by key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from ..results.records import BenchmarkGroup, DatasetRecord, ModelInfo, Sample
from ..results.scripts import prompt_scripts
from .foreign import read_json
from .jsonl import read_jsonl
from .scored import POINTS, ScoredDataset, ScoredRun, input_sha256, without

_CONFIG = Path("configs") / "task_config.yaml"
#: Where a benchmark's data was read from and how fast: not what its prompts are.
_HOST_KEYS = {"dataset_id": None, "dataset_hub": None, "dataset_dir": None, "force_redownload": None}


def _output(path: Path) -> Path | None:
    if (path / _CONFIG).is_file():
        return path
    stamped = sorted(p for p in path.iterdir() if (p / _CONFIG).is_file()) if path.is_dir() else []
    return stamped[-1] if stamped else None


def is_evalscope_folder(path: Path) -> bool:
    return _output(path) is not None


def _settings(folder: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load((folder / _CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise UserError(f"cannot read {folder / _CONFIG} ({type(error).__name__}); it is not EvalScope's task config") from None
    if not isinstance(data, dict) or not isinstance(data.get("resolved_benchmarks"), dict):
        raise UserError(f"{folder / _CONFIG} has no resolved_benchmarks; EvalScope 1.x writes them; this was written by an "
                        "older EvalScope or by something else: re-run with EvalScope 1.x")
    return data


def task_config(benchmark: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """What makes a benchmark's prompts and scores: its resolved settings without where the data
    was read from, and the run's generation config (not its batch size), chat template and seed."""
    generation = without(settings.get("generation_config") or {}, {"batch_size": None})
    return {**without(benchmark, _HOST_KEYS),
            "run": {"generation_config": generation, "chat_template": settings.get("chat_template"),
                    "seed": settings.get("seed"), "repeats": settings.get("repeats")}}


def _report_scores(folder: Path, model: str, benchmark: str) -> dict[str, dict[str, float]]:
    """subset -> metric -> EvalScope's score (0-1), from its report, where it wrote one."""
    path = folder / "reports" / model / f"{benchmark}.json"
    if not path.is_file():
        return {}
    report = read_json(path, "EvalScope report")
    out: dict[str, dict[str, float]] = {}
    for metric in report.get("metrics") or [] if isinstance(report, dict) else []:
        name = str((metric.get("identity") or {}).get("name") or metric.get("name"))
        for category in metric.get("categories") or []:
            for subset in category.get("subsets") or []:
                if isinstance(subset.get("score"), (int, float)):
                    out.setdefault(str(subset.get("name")), {})[name] = float(subset["score"])
    return out


def _sample(abbr: str, line: dict[str, Any]) -> Sample:
    score = (line.get("sample_score") or {}).get("score") or {}
    messages = line.get("messages") or []
    sent = [m for m in messages if isinstance(m, dict) and m.get("source") != "generate"]
    values = score.get("value") or {}
    target = line.get("target")
    return Sample(dataset=abbr, id=str(line["index"]),
                  prompt_sha256=input_sha256([(m.get("role"), m.get("content")) for m in sent], target),
                  prompt_scripts=prompt_scripts([{"content": m.get("content") or ""} for m in sent if isinstance(m.get("content"), str)]),
                  prediction=score.get("prediction"), extracted=score.get("extracted_prediction"),
                  reference=target[0] if isinstance(target, list) and len(target) == 1 else target,
                  scores={k: float(v) * POINTS for k, v in values.items() if isinstance(v, (int, float))})


def _subset(abbr: str, benchmark: str, review: Path, ours: dict[str, Any], reported: dict[str, float]) -> ScoredDataset | str:
    lines = read_jsonl(review, "EvalScope")
    if any(int((line.get("sample_score") or {}).get("generation_index") or 0) for line in lines):
        return f"{abbr}: answered several times per question (repeats); pairing takes one answer per question"
    if any("index" not in line for line in lines):
        raise UserError(f"{review}: a line has no index; it is not an EvalScope review file")
    samples = sorted((_sample(abbr, line) for line in lines), key=lambda s: int(s.id))
    names = sorted({k for s in samples for k in s.scores})
    if not names:
        return f"{abbr}: its reviews hold no numeric per-sample score; nothing pairs sample by sample"
    metrics = {m: reported[m] * POINTS if m in reported else sum(s.scores.get(m, 0.0) for s in samples) / len(samples) for m in names}
    record = DatasetRecord(config=benchmark, path=None, files={}, samples=len(samples),
                           prompt_config_sha256=input_sha256(ours), metrics=metrics, task_config=ours)
    return ScoredDataset(record, samples)


def _pick_model(folder: Path, settings: dict[str, Any], model: str | None) -> str:
    present = sorted(p.name for p in (folder / "reviews").iterdir() if p.is_dir()) if (folder / "reviews").is_dir() else []
    if not present:
        raise UserError(f"{folder} has no reviews/: EvalScope did not get to scoring its answers; finish the run first")
    wanted = model or (str(settings.get("model_id")) if len(present) > 1 else present[0])
    if wanted not in present:
        raise UserError(f"model '{wanted}' has no reviews in {folder}; it holds {', '.join(present)}: pass one of them with --model")
    return wanted


def read_evalscope(path: Path, model: str | None = None, wanted: tuple[str, ...] | None = None) -> ScoredRun:
    folder = _output(path.resolve())
    if folder is None:
        raise UserError(f"{path} is not an EvalScope output folder (no {_CONFIG})")
    settings = _settings(folder)
    model_name = _pick_model(folder, settings, model)
    datasets: dict[str, ScoredDataset] = {}
    groups, refused = [], []
    for benchmark, resolved in settings["resolved_benchmarks"].items():
        subsets = [str(s) for s in resolved.get("subset_list") or ["default"]]
        # EvalScope's files are <benchmark>_<subset>; a benchmark of one subset is its own dataset (gsm8k).
        abbrs = [f"{benchmark}_{s}" for s in subsets] if len(subsets) > 1 else [str(benchmark)]
        if wanted and not set(abbrs) & set(wanted) and benchmark not in wanted:
            continue
        ours = task_config(dict(resolved), settings)
        reported = _report_scores(folder, model_name, str(benchmark))
        for subset, abbr in zip(subsets, abbrs):
            if wanted and abbr not in wanted and benchmark not in wanted:
                continue
            review = folder / "reviews" / model_name / f"{benchmark}_{subset}.jsonl"
            if not review.is_file():
                raise UserError(f"{abbr} has no reviews of {model_name} in {folder} ({review.name} is missing): "
                                "the run did not finish it; finish it with EvalScope (--use-cache) first")
            found = _subset(abbr, str(benchmark), review, ours, reported.get(subset, {}))
            if isinstance(found, str):
                refused.append(found)
            else:
                datasets[abbr] = found
        present = [a for a in abbrs if a in datasets]
        if len(subsets) > 1 and present:  # EvalScope's benchmark score: every sample of its subsets counts once
            metric = next(iter(datasets[present[0]].record.metrics))
            groups.append(BenchmarkGroup(name=str(benchmark), subsets=present, total_subsets=len(subsets),
                                         subset_metrics=dict.fromkeys(present, metric),
                                         weights={a: float(datasets[a].record.samples) for a in present},
                                         limit=_limit(settings), source="EvalScope"))
    if wanted:
        known = set(datasets) | {g.name for g in groups} | {r.split(":")[0] for r in refused}
        missing = [w for w in wanted if w not in known]
        if missing:
            raise UserError(f"--datasets: {', '.join(missing)} not in {folder}; name EvalScope benchmarks (gsm8k) or "
                            "benchmark_subset files (gsm8k_main)")
    if not datasets:
        raise UserError(f"nothing in {folder} can be imported: {'; '.join(refused) or 'it holds no reviews'}")
    served = str(settings.get("model") or model_name)
    return ScoredRun(tool="evalscope", folder=folder, config_file=folder / _CONFIG,
                     model_type=str(settings.get("eval_type") or "unknown"),
                     model=ModelInfo(name=served, served=served, abbr=model_name), model_abbr=model_name,
                     datasets=datasets, groups=groups,
                     packages={"evalscope": str(settings["evalscope_version"])} if settings.get("evalscope_version") else {},
                     limit=_limit(settings), stamp=folder.name, refused=refused)


def _limit(settings: dict[str, Any]) -> int | None:
    limit = settings.get("limit")
    return int(limit) if isinstance(limit, int) and not isinstance(limit, bool) else None
