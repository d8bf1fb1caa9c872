"""One evaluation run: preflight -> plan -> OpenCompass -> run.json + samples.jsonl.

A run that stopped (server gone, retries exhausted, Ctrl-C) is resumed in its own folder:
OpenCompass re-uses the datasets it finished and the request cache answers every request
that was already answered, so only what is missing is sent again.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from .. import __version__, stops
from ..backends import Backend, Target, backend_for
from ..backends.selection import parse_run_settings
from ..console import make_console
from ..data.preflight import DataInfo, check_data_apart
from ..errors import EvaluationFailed, UserError
from ..handoff import DATA_ROOT_ENV, PRELOAD_TOKENIZER_ENV, PRESTART_CLIENT_ENV
from ..plan import (
    PlannedDataset,
    build_config,
    expected_requests,
    groups_for,
    is_loglik,
    plan_datasets,
    prepare_dataset,
    runs_code,
    write_config,
)
from ..results import MANIFEST, BenchmarkGroup, DatasetOutcome, RunDir, RunManifest, read_outcomes, record_group_scores
from ..results.manifest import config_sha256, host_description, now_iso, package_versions
from ..results.records import (
    CONTINUATION,
    SCHEMA_VERSION,
    DatasetRecord,
    Environment,
    Failure,
    Generation,
    Interruption,
    LocalTarget,
    ModelInfo,
    ServerTarget,
    Slice,
    ToolInfo,
)
from ..results.requests import request_stats
from ..results.run_dir import free_folder
from ..results.samples_ahead import SamplesAhead
from ..runners import Runner, runner_for
from ..sandbox import protections as sandbox_protections
from ..server.metrics import latency_between, scrape
from ..settings import RunSettings
from .opencompass_runner import OpenCompassProcess


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    outcomes: list[DatasetOutcome]
    groups: list[BenchmarkGroup]  # OpenCompass's benchmark groups the datasets fill, with its scores


@dataclass(frozen=True)
class _Prepared:
    """What the checks and the plan produced, before anything long starts."""

    backend: Backend[Any]
    runner: Runner
    target: Target
    datasets: list[dict[str, Any]]
    planned: list[PlannedDataset]
    groups: list[BenchmarkGroup]


def _prepare(settings: RunSettings) -> _Prepared:
    """The plan and the model's preflight (the data preflight is `check_data_apart`, run beside
    OpenCompass's start)."""
    stops.set_phase("preflight")
    planned = plan_datasets(settings.datasets, settings.subjects, settings.limit)
    backend, runner = backend_for(settings.mode), runner_for(settings.runner)
    target = backend.preflight(settings)
    runner.preflight(settings)
    datasets = [prepare_dataset(p, settings) for p in planned]
    groups = groups_for({p.abbr: p.config_name for p in planned}, settings.limit)
    return _Prepared(backend, runner, target, datasets, planned, groups)


def _start_opencompass(settings: RunSettings, prep: _Prepared, run_dir: RunDir) -> tuple[OpenCompassProcess, dict[str, DataInfo]]:
    """OpenCompass started on the run's plan, importing while the data preflight runs; the data's
    description once it passed. A failed or stopped preflight stops OpenCompass again."""
    env = dict(prep.backend.task_env(settings))
    here = prep.runner.infers_in_opencompass(prep.backend.in_process)
    if here:  # the model, so its tokenizer and its client, lives in OpenCompass's process
        env |= {PRELOAD_TOKENIZER_ENV: str(prep.target.tokenizer), PRESTART_CLIENT_ENV: "1"}
    process = OpenCompassProcess(run_dir, settings.data_root.resolve(), env, prep.runner.scratch_parent(run_dir))
    try:
        return process, check_data_apart(prep.planned, settings.data_root.resolve(), keep=process.built_datasets if here else None)
    except BaseException:
        process.stop()
        raise


def _write_plan(settings: RunSettings, prep: _Prepared, run_dir: RunDir, run_id: str) -> None:
    """OpenCompass's config for this run, its paths those of the folder where the run is now."""
    model = prep.backend.model_entry(settings, prep.target, run_dir).to_config()
    runners = prep.runner.configs(settings, run_id, in_process_inference=prep.backend.in_process)
    write_config(build_config(prep.datasets, model, runners.infer, runners.eval, workers=runners.workers,
                              summary_groups=[g.summary_group() for g in prep.groups]),
                 run_dir.plan_config)


def _new_run_dir(settings: RunSettings) -> tuple[RunDir, list[Path]]:
    """A fresh run folder, and the folders made for it (the run folder and any parents it needed)."""
    parent = settings.results_root.resolve() / settings.model_abbr / settings.benchmark_type
    run_dir = free_folder(parent, datetime.now().strftime("%Y%m%d_%H%M%S"))
    made = [run_dir, *(p for p in run_dir.parents if not p.exists())]
    run_dir.mkdir(parents=True)
    return RunDir(run_dir), made


def run_evaluation(settings: RunSettings, console: Console | None = None) -> RunResult:
    """Run the evaluation; raise `EvaluationFailed` (after recording why) if any dataset has no score."""
    console = console or make_console()
    prep = _prepare(settings)
    run_dir, made = _new_run_dir(settings)
    run_id = uuid.uuid4().hex[:12]
    try:
        _write_plan(settings, prep, run_dir, run_id)
        opencompass, data = _start_opencompass(settings, prep, run_dir)
    except BaseException:
        shutil.rmtree(run_dir.path, ignore_errors=True)  # nothing is left of a run whose preflight failed
        for folder in made[1:]:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    manifest = RunManifest(
        schema_version=SCHEMA_VERSION,
        run_id=run_id,
        tool=ToolInfo(name="benchmark-eval", version=__version__),
        status="running",
        started_at=now_iso(),
        mode=settings.mode,
        model=ModelInfo(name=settings.model_name, served=prep.target.served_name, abbr=settings.model_abbr,
                        tokenizer_path=str(prep.target.tokenizer)),
        server=prep.target.record if isinstance(prep.target.record, ServerTarget) else None,
        local=prep.target.record if isinstance(prep.target.record, LocalTarget) else None,
        generation=Generation(max_out_len=settings.max_out_len, temperature=settings.temperature,
                              max_seq_len=settings.max_seq_len, batch_size=settings.batch_size),
        slice=Slice(subjects=list(settings.subjects or []), limit=settings.limit),
        data_root=str(settings.data_root.resolve()),
        datasets={
            cfg["abbr"]: DatasetRecord(config=p.config_name, subject=p.subject, path=data[p.abbr].path,
                                       files=data[p.abbr].files, samples=data[p.abbr].rows,
                                       prompt_config_sha256=config_sha256(cfg), records=data[p.abbr].records,
                                       scoring=CONTINUATION if is_loglik(cfg) else None)
            for p, cfg in zip(prep.planned, prep.datasets)
        },
        groups=prep.groups or None,
        environment=Environment(host=host_description(), device=prep.target.device_label, packages=package_versions()),
        settings=settings.model_dump(mode="json"),
        runner=prep.runner.record(settings),
    )
    if any(runs_code(cfg) for cfg in prep.datasets):
        # Model-written programs run in the sandbox; record what it could enforce on this host.
        manifest.sandbox = sandbox_protections()
    if prep.target.served_name != settings.model_name:
        console.print(f"model_name '{settings.model_name}' is this run's label: the server serves one model, "
                      f"'{prep.target.served_name}', and the requests go to it (run.json records both)")
    try:
        run_dir.write_manifest(manifest)
    except BaseException:
        opencompass.stop()
        raise
    with _recording_stops(run_dir, manifest):
        return _execute(settings, prep, data, run_dir, manifest, opencompass, console)


@contextlib.contextmanager
def _recording_stops(run_dir: RunDir, manifest: RunManifest) -> Iterator[None]:
    """A stop signal from here on leaves run.json saying so: status interrupted, when, in which phase."""
    def mark(signum: int, phase: str | None = None) -> None:
        manifest.status = "interrupted"
        manifest.interrupted = Interruption(at=now_iso(), phase=phase or stops.current_phase(),
                                            signal=signal.Signals(signum).name)
        run_dir.write_manifest(manifest)

    stops.on_hard_stop(mark)
    try:
        yield
    except stops.Interrupted as stop:
        mark(stop.signum, stop.phase)
        stop.run_dir = str(run_dir.path)
        raise
    finally:
        stops.on_hard_stop(None)


def resume_evaluation(path: Path, console: Console | None = None, data_root: Path | None = None) -> RunResult:
    """Finish a run that stopped, in its own folder, re-using every answered request.

    The folder may have moved (another path, another host): the plan is written anew for where
    it is, and the data are found in `data_root` (else where the run found them) and must hash
    as the run's did."""
    console = console or make_console()
    run_dir = RunDir(path.resolve())
    not_ours = UserError(f"{run_dir.path} is not a run folder of benchmark-eval (no readable {MANIFEST}); "
                         "give the folder a run printed, e.g. results/<model>/<type>/<stamp>")
    status = run_dir.read_status()
    if status is None:
        raise not_ours
    if status == "ok":
        raise UserError(f"{run_dir.path} finished already (status ok); there is nothing to resume")
    try:
        manifest = run_dir.read_manifest()
    except (OSError, ValueError):  # ValidationError is a ValueError
        raise not_ours from None
    if not run_dir.plan_config.is_file():
        raise UserError(f"{run_dir.path} has no {run_dir.plan_config.relative_to(run_dir.path)}; "
                        "it stopped before its plan was written, start a new run")
    settings = parse_run_settings(manifest.settings or {})
    if data_root is not None:
        settings = settings.model_copy(update={"data_root": data_root})
    elif not settings.data_root.is_dir():
        raise UserError(f"the run's data folder {settings.data_root} is not on this host; set {DATA_ROOT_ENV} "
                        "to the folder holding data/ here (its files must be the run's: their hashes are checked)")
    prep = _prepare(settings)  # the server (or the weights) and the data must be there again
    changed = [cfg["abbr"] for cfg in prep.datasets
               if cfg["abbr"] not in manifest.datasets
               or manifest.datasets[cfg["abbr"]].prompt_config_sha256 != config_sha256(cfg)]
    if changed or len(prep.datasets) != len(manifest.datasets):
        raise UserError(f"the dataset configs changed since {run_dir.path} started ({', '.join(changed) or 'dataset list'}); "
                        "resuming would mix two plans, start a new run")
    _write_plan(settings, prep, run_dir, manifest.run_id or uuid.uuid4().hex[:12])
    opencompass, data = _start_opencompass(settings, prep, run_dir)
    try:
        _same_data(manifest, prep, data)
        manifest.resumed_at = [*(manifest.resumed_at or []), now_iso()]
        manifest.status = "running"
        # this attempt records its own failures and stops
        manifest.failures = manifest.failed_requests = manifest.interrupted = None
        run_dir.write_manifest(manifest)
        with _recording_stops(run_dir, manifest):
            for outcome in read_outcomes(run_dir, settings.model_abbr, list(manifest.datasets)):
                stale = run_dir.results(settings.model_abbr, outcome.abbr)
                if not outcome.ok and stale.exists():
                    stale.unlink()  # OpenCompass would re-use a failed evaluation's result file as done
            return _execute(settings, prep, data, run_dir, manifest, opencompass, console)
    finally:
        opencompass.stop()  # (ended already, unless this attempt went no further than its start)


def _same_data(manifest: RunManifest, prep: _Prepared, data: dict[str, DataInfo]) -> None:
    """Data files are identified by their hashes, wherever the data root is."""
    for planned, cfg in zip(prep.planned, prep.datasets):
        found, recorded = data[planned.abbr].files, manifest.datasets[cfg["abbr"]].files
        if found != recorded:
            changed = sorted(set(found.items()) ^ set(recorded.items()))
            raise UserError(f"the data of {cfg['abbr']} are not the run's ({changed[0][0]} differs); resuming would "
                            f"mix two datasets: point {DATA_ROOT_ENV} at the run's data, or start a new run")


def _execute(settings: RunSettings, prep: _Prepared, data: dict[str, DataInfo], run_dir: RunDir, manifest: RunManifest,
             opencompass: OpenCompassProcess, console: Console) -> RunResult:
    samples = SamplesAhead(run_dir, settings.model_abbr, [d["abbr"] for d in prep.datasets])
    try:
        return _follow_and_record(settings, prep, data, run_dir, manifest, opencompass, console, samples)
    finally:
        samples.close()


def _follow_and_record(settings: RunSettings, prep: _Prepared, data: dict[str, DataInfo], run_dir: RunDir,
                       manifest: RunManifest, opencompass: OpenCompassProcess, console: Console,
                       samples: SamplesAhead) -> RunResult:
    try:
        if run_dir.failed_requests.exists():  # an earlier attempt's: kept, to count the failures resumed
            with open(run_dir.failed_before, "a", encoding="utf-8") as history:
                history.write(run_dir.failed_requests.read_text(encoding="utf-8"))
            run_dir.failed_requests.unlink()
        console.print(f"[bold]benchmark-eval[/] {len(prep.datasets)} dataset(s), "
                      f"{sum(d.rows for d in data.values())} samples -> {run_dir.path}", soft_wrap=True)
        requests = sum(expected_requests(cfg, data[cfg["abbr"]].rows) for cfg in prep.datasets)
        # The server's own clock for the run's requests (time to first token): read before and after.
        endpoints = manifest.server.endpoints if manifest.server is not None else []
        before = scrape(endpoints) if endpoints else None
        opencompass.go()
        # each dataset's samples built while the others run (this process would only wait)
        code = opencompass.follow(console, settings.model_abbr, requests, len(prep.datasets), on_tick=samples.poll)
        after = scrape(endpoints) if before is not None else None
    finally:
        opencompass.stop()  # (it has ended already unless we are on our way out of an error or a stop)
    if manifest.runner is not None:
        prep.runner.finish(manifest.runner, manifest.run_id or "")
    outcomes = read_outcomes(run_dir, settings.model_abbr, [d["abbr"] for d in prep.datasets])
    failed = [o for o in outcomes if not o.ok]
    manifest.finished_at = now_iso()
    manifest.opencompass_exit_code = code
    for outcome in outcomes:
        manifest.datasets[outcome.abbr].metrics = outcome.metrics if outcome.ok else {}
    record_group_scores(run_dir, settings.model_abbr, manifest.groups or [])
    if failed or code != 0:
        manifest.status = "failed"
        manifest.failures = [Failure(dataset=o.abbr, error=o.error, log=o.log) for o in failed]
        requests_failed = _failed_requests(run_dir)
        if requests_failed:
            manifest.failed_requests = requests_failed
        run_dir.write_manifest(manifest)
        lines = "\n".join(f"  {o.abbr}: {o.error}; read {o.log}" for o in failed)
        if not failed:
            lines = f"  OpenCompass exited with code {code}; read {run_dir.opencompass_log}"
        if requests_failed:
            first = requests_failed[0]
            lines += (f"\n  {len(requests_failed)} request(s) failed for good, e.g. {first['path']}: {first['reason']}"
                      f" (all in {run_dir.failed_requests})")
        raise EvaluationFailed(
            f"{len(failed)} of {len(outcomes)} dataset(s) failed; no scores were recorded for them (run folder {run_dir.path}); "
            f"when the cause is fixed, finish it with: benchmark-eval run --resume {run_dir.path} (or resume={run_dir.path} bash opencompass.sh)",
            details=lines,
        )
    stops.set_phase("writing results")
    # A dataset's samples at a time: a run's samples (70,210 for MMLU PPL written five times) are never all held.
    manifest.samples = samples.write()
    manifest.status = "ok"
    manifest.requests = request_stats(run_dir)
    if manifest.requests is not None:
        manifest.requests.server = latency_between(before, after)
    run_dir.write_manifest(manifest)
    return RunResult(run_dir.path, outcomes, manifest.groups or [])


def _failed_requests(run_dir: RunDir) -> list[dict[str, Any]]:
    path = run_dir.failed_requests
    if not path.exists():
        return []
    unique: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            unique.setdefault(record["key"], record)
    return list(unique.values())
