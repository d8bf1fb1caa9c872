"""One evaluation run: preflight -> plan -> OpenCompass -> run.json + samples.jsonl."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from .. import __version__
from ..errors import EvaluationFailed, UserError
from ..models.devices import device_env
from ..plan import build_config, expected_requests, model_config, plan_datasets, prepare_dataset, runs_code, write_config
from ..results import SAMPLES, DatasetOutcome, build_samples, read_outcomes, write_jsonl_atomic, write_manifest
from ..results.manifest import config_sha256, host_description, now_iso, package_versions
from ..sandbox import protections as sandbox_protections
from ..settings import RunSettings
from .opencompass_runner import run_opencompass
from .local_model import check_local_model, device_description, model_description
from .preflight import check_data, check_server, resolve_tokenizer


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    outcomes: list[DatasetOutcome]


def _new_run_dir(settings: RunSettings) -> Path:
    parent = settings.results_root.resolve() / settings.model_abbr / settings.benchmark_type
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    run_dir = parent / stamp
    suffix = 1
    while run_dir.exists():  # two runs in one second must not share a folder
        run_dir = parent / f"{stamp}_{suffix}"
        suffix += 1
    run_dir.mkdir(parents=True)
    return run_dir


def run_evaluation(settings: RunSettings, console: Console | None = None) -> RunResult:
    """Run the evaluation; raise `EvaluationFailed` (after recording why) if any dataset has no score."""
    console = console or Console(stderr=True)
    planned = plan_datasets(settings.datasets, settings.subjects, settings.limit)
    target: dict[str, Any]
    if settings.is_local:
        tokenizer = check_local_model(settings)
        compute = device_description(settings)
        target = {"local": {**model_description(tokenizer), **compute, "hf_type": settings.hf_type,
                            "tensor_parallel_size": settings.tensor_parallel_size}}
        device_label = f"{compute['device']}: {compute['name']}"
    else:
        server = check_server(settings)
        tokenizer = resolve_tokenizer(settings, server)
        target = {"server": {"url": server.url, "models": server.models, "root": server.root,
                             "max_model_len": server.max_model_len, "vllm_version": server.version}}
        device_label = settings.device or "unknown (served remotely)"
    data_root = settings.data_root.resolve()
    data = check_data(planned, data_root)

    run_dir = _new_run_dir(settings)
    datasets = [prepare_dataset(p, settings) for p in planned]
    manifest: dict[str, Any] = {
        "schema": 1,
        "tool": {"name": "benchmark-eval", "version": __version__},
        "status": "running",
        "started_at": now_iso(),
        "mode": settings.mode,
        "model": {"name": settings.model_name, "abbr": settings.model_abbr, "tokenizer_path": str(tokenizer)},
        **target,
        "generation": {"max_out_len": settings.max_out_len, "temperature": settings.temperature,
                       "max_seq_len": settings.max_seq_len, "batch_size": settings.batch_size},
        "slice": {"subjects": list(settings.subjects or []), "limit": settings.limit},
        "data_root": str(data_root),
        "datasets": {
            cfg["abbr"]: {"config": p.config_name, "subject": p.subject, "path": data[p.abbr].path,
                          "files": data[p.abbr].files, "samples": data[p.abbr].rows,
                          "prompt_config_sha256": config_sha256(cfg)}
            for p, cfg in zip(planned, datasets)
        },
        "environment": {"host": host_description(), "device": device_label,
                        "packages": package_versions()},
        "settings": settings.model_dump(mode="json"),
    }
    if any(runs_code(cfg) for cfg in datasets):
        # Model-written programs run in the sandbox; record what it could enforce on this host.
        manifest["sandbox"] = sandbox_protections()
    write_manifest(run_dir, manifest)

    config_path = write_config(build_config(datasets, model_config(settings, tokenizer)), run_dir / "configs" / "benchmark_eval_plan.py")
    console.print(f"[bold]benchmark-eval[/] {len(datasets)} dataset(s), {sum(d.rows for d in data.values())} samples -> {run_dir}", soft_wrap=True)
    requests = sum(expected_requests(cfg, data[cfg["abbr"]].rows) for cfg in datasets)
    code = run_opencompass(config_path, run_dir, data_root, settings.model_abbr, requests, len(datasets), console,
                           extra_env=device_env(settings.device or "cpu", settings.num_devices) if settings.is_local else {})
    outcomes = read_outcomes(run_dir, settings.model_abbr, [d["abbr"] for d in datasets])
    failed = [o for o in outcomes if not o.ok]
    manifest["finished_at"] = now_iso()
    manifest["opencompass_exit_code"] = code
    for outcome in outcomes:
        manifest["datasets"][outcome.abbr]["metrics"] = outcome.metrics if outcome.ok else {}
    if failed or code != 0:
        manifest["status"] = "failed"
        manifest["failures"] = [{"dataset": o.abbr, "error": o.error, "log": o.log} for o in failed]
        write_manifest(run_dir, manifest)
        lines = "\n".join(f"  {o.abbr}: {o.error}; read {o.log}" for o in failed)
        if not failed:
            lines = f"  OpenCompass exited with code {code}; read {run_dir / 'logs' / 'opencompass.log'}"
        raise EvaluationFailed(
            f"{len(failed)} of {len(outcomes)} dataset(s) failed; no scores were recorded for them (run folder {run_dir})",
            details=lines,
        )
    samples = [line for o in outcomes for line in build_samples(run_dir, settings.model_abbr, o.abbr)]
    write_jsonl_atomic(run_dir / SAMPLES, samples)
    manifest["status"] = "ok"
    manifest["samples"] = len(samples)
    write_manifest(run_dir, manifest)
    return RunResult(run_dir, outcomes)
