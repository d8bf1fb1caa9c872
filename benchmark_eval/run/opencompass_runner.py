"""Run OpenCompass on a dumped config, from a scratch folder, with a progress display.

OpenCompass writes ./tmp, ./.cache and ./icl_inference_output into its current folder, so
it runs from a temporary folder; its console output goes to <run>/logs/opencompass.log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..plugins.models.progress import PROGRESS_ENV, read_count
from ..results import RunDir
from . import stops

#: OpenCompass's CLI as this toolkit runs it (compat.opencompass_main), and as it ships.
LAUNCH = "from benchmark_eval.plugins.compat import opencompass_main; opencompass_main()"
STOCK_LAUNCH = "import sys; from opencompass.cli.main import main; sys.argv[0] = 'opencompass'; main()"


def opencompass_env(data_root: Path, progress_file: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env["COMPASS_DATA_CACHE"] = str(data_root)
    env.pop("DATASET_SOURCE", None)
    # Everything is local: never let a loader or tokenizer reach for a hub.
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_EVALUATE_OFFLINE="1")
    env[PROGRESS_ENV] = str(progress_file)
    # Threads (datasets in flight, the request loop) each get a malloc arena by default, and
    # memory freed in one is not handed back for another: two arenas kept the MMLU PPL run's
    # peak memory from growing with the number of datasets in flight.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    return env


def run_opencompass(
    run_dir: RunDir, data_root: Path, model_abbr: str, total_requests: int, total_datasets: int,
    console: Console, extra_env: dict[str, str] | None = None, scratch_parent: Path | None = None,
) -> int:
    """Run to completion; return OpenCompass's exit code (which is 0 even if tasks failed)."""
    log_path = run_dir.opencompass_log
    log_path.parent.mkdir(parents=True, exist_ok=True)
    progress_file = run_dir.progress_file
    progress_file.write_bytes(b"")
    results_dir = run_dir.results_dir(model_abbr)
    # OpenCompass's work dir is the run's parent and its "reuse" stamp the run folder's name,
    # so it writes predictions/, results/, summary/ and logs/ into the run folder itself.
    cmd = [sys.executable, "-c", LAUNCH, str(run_dir.plan_config), "-w", str(run_dir.path.parent), "-r", run_dir.path.name]
    predictions_dir = run_dir.predictions_dir(model_abbr)
    with tempfile.TemporaryDirectory(prefix=".opencompass-", dir=scratch_parent) as scratch, open(log_path, "wb") as log:
        with stops.deferred():
            # Its own process group: a stop reaches OpenCompass (and its tasks) through us only,
            # and stop_group ends all of it.
            process = subprocess.Popen(
                cmd, cwd=scratch, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=opencompass_env(data_root, progress_file, extra_env), start_new_session=True,
            )
            stops.register_group(process.pid)
        try:
            _follow(process, console, total_requests, total_datasets, progress_file, predictions_dir, results_dir)
        finally:
            if process.poll() is None:  # a stop signal (or our own error) while it runs
                stops.stop_group(process.pid)
    return process.returncode


def _follow(process: subprocess.Popen[bytes], console: Console, total_requests: int, total_datasets: int,
            progress_file: Path, predictions_dir: Path, results_dir: Path) -> None:
    """Show progress until OpenCompass exits; the phase is requests until every dataset has
    its predictions file, then evaluation."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=not console.is_terminal) as progress:
        requests = progress.add_task("requests", total=total_requests)
        datasets = progress.add_task("datasets scored", total=total_datasets)

        def refresh() -> None:
            # tmp_<abbr>.json: a dataset's partial predictions, not yet a finished one.
            predicted = sum(not f.name.startswith("tmp_") for f in predictions_dir.glob("*.json"))
            stops.set_phase("evaluation" if predicted >= total_datasets else "requests")
            progress.update(requests, completed=min(read_count(progress_file), total_requests))
            progress.update(datasets, completed=len(list(results_dir.glob("*.json"))) if results_dir.is_dir() else 0)

        while process.poll() is None:
            refresh()
            time.sleep(0.5)
        refresh()  # the final counts, once OpenCompass has exited
