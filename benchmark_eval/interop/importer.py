"""Another tool's run -> a run folder of ours (run.json with `imported_from`, samples.jsonl),
which `compare` then takes as a baseline like any other.

Stock OpenCompass predictions are scored again, by OpenCompass itself with this toolkit's
evaluators (the run's own plan, its evaluation stage only: the predictions are all there, so
no request is sent), so every sample has its per-sample score even when the run kept no
details. A stock perplexity dataset keeps its inferencer: its chosen answers are scored as they
were chosen, by whole-prompt perplexity, and its record says so (`DatasetRecord.scoring`). AISBench's per-sample results (`--dump-eval-details`) are kept as AISBench scored them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from ..compat import local_runner
from ..data.check import DataInfo
from ..data.preflight import check_data_apart
from ..errors import EvaluationFailed, UserError
from ..paths import folder_safe
from ..plan import EVAL_TASK, INFER_TASK, PlannedDataset, build_config, groups_for, with_our_classes, write_config
from ..plan.datasets import find_config, load_config, run_abbr, type_name
from ..results import RunDir, build_samples, prompt_sha256, read_outcomes, record_group_scores
from ..results.manifest import config_sha256, now_iso
from ..results.records import (
    SCHEMA_VERSION,
    WHOLE_PROMPT,
    BenchmarkGroup,
    DatasetRecord,
    Environment,
    Generation,
    ImportRecord,
    ModelInfo,
    RunManifest,
    Sample,
    Slice,
)
from ..results.run_dir import free_folder
from ..results.samples import detail_scores, first_replica
from ..results.scripts import prompt_scripts
from ..run.opencompass_runner import OpenCompassProcess
from .foreign import ForeignDataset, ForeignRun
from .opencompass_dir import is_stock_ppl
from .scored import ScoredRun, write_scored

# Where a stock dataset class comes from, for OpenCompass's benchmark groups (mmlu, ceval, ...).
_CONFIG_OF_TYPE = {"MMLUDataset": "mmlu_gen", "CEvalDataset": "ceval_gen", "GSM8KDataset": "gsm8k_gen",
                   "HumanevalDataset": "humaneval_gen", "XsumDataset": "Xsum_gen"}
_API_MODELS = re.compile(r"OpenAI|API|Api")  # OpenAISDK, OpenAI, VLLMCustomAPIChat, ...

#: What no output folder of these tools records, whatever it holds.
UNKNOWN = ["the data files the original run read (prompts are compared sample by sample instead)",
           "the server's vLLM version and model folder", "the original run's host and packages",
           "generation log-probs (no token divergence for its samples)"]
#: What a stock perplexity dataset does not keep.
NO_CHOICE_LOGLIKS = ("per-choice log-likelihoods (stock perplexity tests keep whole-prompt perplexities: "
                     "no log-prob parity for its samples)")


@dataclass(frozen=True)
class ImportResult:
    run_dir: Path
    samples: int
    rescored_differs: list[str]  # datasets whose score by our evaluators differs from the tool's own


def _model_abbr(foreign: ForeignRun) -> str:
    return folder_safe(foreign.model_abbr)


def _max_out_len(cfg: dict[str, Any], model: dict[str, Any]) -> int:
    inferencer = cfg.get("infer_cfg", {}).get("inferencer", {})
    return int(inferencer.get("max_out_len") or model.get("max_out_len") or 512)


def our_dataset_config(cfg: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """The stock config as one of our runs of the same dataset holds it: our classes, the abbr a
    run gives it, and the generation length the inferencer got (from the model's config when the
    dataset's names none, as OpenCompass's inference task does)."""
    # A stock perplexity dataset's answers were chosen by whole-prompt perplexity: scored as chosen.
    ours = with_our_classes(cfg, inferencer_too=not is_stock_ppl(cfg))
    ours["abbr"] = run_abbr(cfg)
    inferencer = ours.get("infer_cfg", {}).get("inferencer", {})
    if type_name(inferencer.get("type")) in ("GenInferencer", "ChatInferencer"):
        inferencer["max_out_len"] = _max_out_len(cfg, model)
    return ours


@functools.cache
def _abbrs_of(name: str) -> frozenset[str]:
    """The abbrs a stock dataset config defines (loaded once per config, not once per subject)."""
    try:
        find_config(name)
        return frozenset(run_abbr(e) for e in load_config(name))
    except UserError:
        return frozenset()


def _config_name(cfg: dict[str, Any]) -> str | None:
    """The stock dataset config the entry came from, where this toolkit knows it (for groups)."""
    name = _CONFIG_OF_TYPE.get(type_name(cfg.get("type")))
    return name if name is not None and run_abbr(cfg) in _abbrs_of(name) else None


def _slice(cfgs: list[dict[str, Any]]) -> Slice:
    limits = set()
    for cfg in cfgs:
        match = re.fullmatch(r"\[0?:(\d+)\]", str(cfg.get("reader_cfg", {}).get("test_range", "")).replace(" ", ""))
        limits.add(int(match.group(1)) if match else None)
    subjects = sorted({str(c["name"]) for c in cfgs if c.get("name") is not None})
    return Slice(subjects=subjects, limit=limits.pop() if len(limits) == 1 else None)


def _generation(model: dict[str, Any], cfgs: list[dict[str, Any]]) -> Generation:
    lengths = {_max_out_len(c, model) for c in cfgs}
    kwargs = model.get("generation_kwargs") or {}
    temperature = model.get("temperature", kwargs.get("temperature"))
    return Generation(max_out_len=lengths.pop() if len(lengths) == 1 else max(lengths),
                      temperature=None if temperature is None else float(temperature),
                      max_seq_len=int(model.get("max_seq_len") or 2048), batch_size=int(model.get("batch_size") or 1))


@contextlib.contextmanager
def _fresh_run_dir(out_root: Path, foreign: ForeignRun) -> Iterator[RunDir]:
    """The import's run folder; removed again if anything fails: nothing half-written that could
    pass for a result."""
    path = free_folder(out_root.resolve() / _model_abbr(foreign) / f"imported-{foreign.tool}", foreign.folder.name)
    path.mkdir(parents=True)
    try:
        yield RunDir(path)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def _check_predictions(dataset: ForeignDataset, abbr: str, info: DataInfo, data_root: Path) -> None:
    """One prediction per sample, and the gold answers the tool saw are the ones in the data we
    score against (OpenCompass's inferencers record the raw output column as `gold`)."""
    if len(dataset.predictions) != info.rows:
        raise UserError(f"{abbr}: {len(dataset.predictions)} predictions for {info.rows} samples in {data_root}; "
                        "the predictions file is cut short or the data differs from the run's")
    differ = [i for i, (p, gold) in enumerate(zip(dataset.predictions, info.references or []))
              if "gold" in p and str(p["gold"]) != gold]
    if differ:
        raise UserError(f"{abbr}: {len(differ)} reference answer(s) in {data_root} differ from the ones the run saw "
                        f"(e.g. sample {differ[0]}); point --data-root (COMPASS_DATA_CACHE) at the data that run used")


def import_foreign(foreign: ForeignRun | ScoredRun, data_root: Path, out_root: Path, console: Console) -> ImportResult:
    """Write the run folder; nothing is left of it if any step fails."""
    if isinstance(foreign, ScoredRun):  # lm-eval, EvalScope: scored by the tool, kept as it scored them
        path, samples = write_scored(foreign, out_root)
        return ImportResult(path, samples, [])
    if foreign.tool == "aisbench":
        return _keep_tool_scores(foreign, out_root)
    ours = [our_dataset_config(d.cfg, foreign.model) for d in foreign.datasets]
    planned = [PlannedDataset(_config_name(d.cfg) or "", cfg) for d, cfg in zip(foreign.datasets, ours)]
    data = check_data_apart(planned, data_root, references=True)
    for dataset, cfg in zip(foreign.datasets, ours):
        _check_predictions(dataset, cfg["abbr"], data[cfg["abbr"]], data_root)
    with _fresh_run_dir(out_root, foreign) as run_dir:
        return _rescore(foreign, run_dir, ours, planned, data, data_root, console)


def _rescore(foreign: ForeignRun, run_dir: RunDir, ours: list[dict[str, Any]], planned: list[PlannedDataset],
             data: dict[str, DataInfo], data_root: Path, console: Console) -> ImportResult:
    """OpenCompass's evaluation stage over the tool's predictions, with our evaluators."""
    abbr_model = _model_abbr(foreign)
    for dataset, cfg in zip(foreign.datasets, ours):
        path = run_dir.predictions(abbr_model, cfg["abbr"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({str(i): p for i, p in enumerate(dataset.predictions)}, ensure_ascii=False), encoding="utf-8")
    known = {p.abbr: p.config_name for p in planned if p.config_name}
    slice_ = _slice(ours)
    groups = groups_for(known, slice_.limit) if known else []
    # The model is named for OpenCompass's paths only: every prediction is there, so it is never built.
    model = {"type": "opencompass.models.OpenAISDK", "abbr": abbr_model, "path": str(foreign.model.get("path", abbr_model))}
    write_config(build_config(ours, model, local_runner(INFER_TASK, in_process=True), local_runner(EVAL_TASK, in_process=True),
                              summary_groups=[g.summary_group() for g in groups]), run_dir.plan_config)
    opencompass = OpenCompassProcess(run_dir, data_root)
    try:
        opencompass.go()
        code = opencompass.follow(console, abbr_model, 0, len(ours))
    finally:
        opencompass.stop()
    outcomes = read_outcomes(run_dir, abbr_model, [c["abbr"] for c in ours])
    failed = [o for o in outcomes if not o.ok]
    if failed or code != 0:
        raise EvaluationFailed(f"scoring the imported predictions failed for {len(failed)} dataset(s) "
                               f"({', '.join(o.abbr for o in failed) or f'OpenCompass exited with {code}'}); nothing was imported",
                               details="\n".join(f"  {o.abbr}: {o.error}" for o in failed))
    samples = [s for o in outcomes for s in build_samples(run_dir, abbr_model, o.abbr, {})]
    records = {cfg["abbr"]: DatasetRecord(config=p.config_name or cfg["abbr"], subject=p.subject, path=data[cfg["abbr"]].path,
                                          files=data[cfg["abbr"]].files, samples=data[cfg["abbr"]].rows,
                                          prompt_config_sha256=config_sha256(cfg), metrics=o.metrics,
                                          scoring=WHOLE_PROMPT if is_stock_ppl(cfg) else None)
               for cfg, p, o in zip(ours, planned, outcomes)}
    record_group_scores(run_dir, abbr_model, groups)
    manifest = _manifest(foreign, records, groups, slice_, str(data_root), "benchmark-eval", len(samples))
    run_dir.write_samples(samples)
    run_dir.write_manifest(manifest)
    differs = [o.abbr for d, o in zip(foreign.datasets, outcomes)
               if any(abs(d.metrics[m] - v) > 1e-6 for m, v in o.metrics.items() if m in d.metrics)]
    return ImportResult(run_dir.path, len(samples), differs)


def _keep_tool_scores(foreign: ForeignRun, out_root: Path) -> ImportResult:
    """AISBench: its per-sample results as it scored them (its classes are its own, so OpenCompass
    cannot score them again here); the data it read is unknown to us."""
    samples: list[Sample] = []
    records = {}
    for dataset in foreign.datasets:
        abbr = dataset.abbr
        for index, (prediction, detail) in enumerate(zip(dataset.predictions, dataset.details or [])):
            scores = _detail_scores(detail)
            if not scores:
                raise UserError(f"{abbr}: AISBench's details hold no per-sample score (sample {index} has no 'correct'); "
                                "a dataset scored only as a whole cannot be paired sample by sample")
            samples.append(Sample(dataset=abbr, id=str(index), prompt_sha256=prompt_sha256(prediction.get("origin_prompt")),
                                  prompt_scripts=prompt_scripts(prediction.get("origin_prompt")),
                                  prediction=prediction.get("prediction"), extracted=first_replica(detail.get("predictions")),
                                  reference=first_replica(detail.get("references", prediction.get("gold"))), scores=scores))
        records[abbr] = DatasetRecord(config=_config_name(dataset.cfg) or abbr, subject=dataset.cfg.get("name"), path=str(dataset.cfg.get("path")), files={},
                                      samples=len(dataset.predictions), prompt_config_sha256=config_sha256(dataset.cfg),
                                      metrics=dataset.metrics)
    slice_ = _slice([d.cfg for d in foreign.datasets])
    known = {abbr: r.config for abbr, r in records.items() if r.config != abbr}
    groups = groups_for(known, slice_.limit) if known else []
    with _fresh_run_dir(out_root, foreign) as run_dir:
        run_dir.write_samples(samples)
        run_dir.write_manifest(_manifest(foreign, records, groups, slice_, None, "aisbench", len(samples)))
    return ImportResult(run_dir.path, len(samples), [])


def _detail_scores(detail: dict[str, Any]) -> dict[str, float]:
    """AISBench's per-sample result: its `correct`, and any other number in it (per-sample ROUGE,
    written by `export --format aisbench`); the model post-processor's twin columns are
    AISBench's second opinion, not the score."""
    return {k: v for k, v in detail_scores(detail).items() if not k.startswith("model_")}


def _manifest(foreign: ForeignRun, records: dict[str, DatasetRecord], groups: list[BenchmarkGroup], slice_: Slice,
              data_root: str | None, scored_by: Literal["benchmark-eval", "aisbench"], samples: int) -> RunManifest:
    # The served name: OpenCompass's API classes call it `path`; AISBench's `model` (its `path` is the tokenizer).
    name = str(foreign.model.get("model") or foreign.model.get("path") or foreign.model_abbr)
    tokenizer = foreign.model.get("tokenizer_path") or (foreign.model.get("path") if foreign.model.get("model") else None)
    unknown = list(UNKNOWN) if data_root else ["the data files the original run read", *UNKNOWN[1:]]
    if any(r.scoring == WHOLE_PROMPT for r in records.values()):
        unknown.append(NO_CHOICE_LOGLIKS)
    return RunManifest(
        schema_version=SCHEMA_VERSION, status="ok", finished_at=now_iso(),
        mode="vllm" if _API_MODELS.search(str(foreign.model.get("type", ""))) else None,
        model=ModelInfo(name=name, served=name, abbr=_model_abbr(foreign), tokenizer_path=tokenizer),
        generation=_generation(foreign.model, [d.cfg for d in foreign.datasets]),
        slice=slice_, data_root=data_root, datasets=records, groups=groups, environment=Environment(), samples=samples,
        imported_from=ImportRecord(tool=foreign.tool, folder=str(foreign.folder), config_file=str(foreign.config_file),
                                   model_type=str(foreign.model.get("type", "unknown")), imported_at=now_iso(), scored_by=scored_by,
                                   original_metrics={d.abbr: d.metrics for d in foreign.datasets if d.metrics}, unknown=unknown),
    )
