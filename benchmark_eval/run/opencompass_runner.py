"""Run OpenCompass on a dumped config, from a scratch folder, with a progress display."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import stops
from ..handoff import BUILT_DATASETS_ENV, DATA_ROOT_ENV, LAUNCH, PROGRESS_ENV, WAIT_FOR_GO_ENV, opencompass_argv
from ..plugins.models.progress import read_count
from ..results import RunDir


def opencompass_env(data_root: Path, progress_file: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env[DATA_ROOT_ENV] = str(data_root)
    env.pop("DATASET_SOURCE", None)
    # Everything is local: never let a loader or tokenizer reach for a hub.
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_EVALUATE_OFFLINE="1")
    env[PROGRESS_ENV] = str(progress_file)
    # Threads (datasets in flight, the request loop) each get a malloc arena by default, and
    # memory freed in one is not handed back for another. With two arenas and PPL items scored
    # in chunks, OpenCompass's process peaked at 1.1 GB on 6 MMLU PPL subjects instead of 2.4 GB.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    return env


class OpenCompassProcess:
    """OpenCompass on the run's plan, started before the data preflight ends.

    Importing OpenCompass takes seconds; the data preflight (every dataset loaded with
    OpenCompass's own loader) takes as long. So OpenCompass starts first and imports while the
    preflight runs, then waits for `go()`; `stop()` ends it (and its tasks) if the run goes no
    further. It runs from a scratch folder, because it writes ./tmp, ./.cache and
    ./icl_inference_output into its current folder; its console goes to logs/opencompass.log.
    The data preflight leaves the datasets it built in `built_datasets`, inside that folder, and
    OpenCompass's inference takes them from there (compat.build_for_inference).
    """

    def __init__(self, run_dir: RunDir, data_root: Path, extra_env: dict[str, str] | None = None,
                 scratch_parent: Path | None = None) -> None:
        self.run_dir = run_dir
        run_dir.opencompass_log.parent.mkdir(parents=True, exist_ok=True)
        run_dir.progress_file.write_bytes(b"")
        self._scratch = tempfile.TemporaryDirectory(prefix=".opencompass-", dir=scratch_parent)
        self.built_datasets = Path(self._scratch.name) / "built-datasets"
        self.built_datasets.mkdir()
        cmd = [sys.executable, "-c", LAUNCH, *opencompass_argv(run_dir.plan_config, run_dir.path)]
        env = {**opencompass_env(data_root, run_dir.progress_file, extra_env), WAIT_FOR_GO_ENV: "1",
               BUILT_DATASETS_ENV: str(self.built_datasets)}
        with stops.deferred(), open(run_dir.opencompass_log, "wb") as log:  # the child keeps its own handle
            # Its own process group: a stop reaches OpenCompass (and its tasks) through us only,
            # and stop_group ends all of it.
            self.process = subprocess.Popen(cmd, cwd=self._scratch.name, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.PIPE, env=env, start_new_session=True)
            stops.register_group(self.process.pid)

    def go(self) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(b"go\n")
            self.process.stdin.close()
        except BrokenPipeError:  # it died while importing: follow() reports its exit code
            pass

    def stop(self) -> None:
        """End it and its tasks if still running, and remove its scratch folder (again: harmless)."""
        if self.process.poll() is None:  # a stop signal, a failed preflight, or our own error
            stops.stop_group(self.process.pid)
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        self._scratch.cleanup()

    def follow(self, console: Console, model_abbr: str, total_requests: int, total_datasets: int,
               on_tick: Callable[[], None] | None = None) -> int:
        """Run to completion; return OpenCompass's exit code (which is 0 even if tasks failed).
        `on_tick`: called with each refresh of the progress display (every half second).
        The caller stops it on every way out (pipeline._execute)."""
        _follow(self.process, console, total_requests, total_datasets, self.run_dir.progress_file,
                self.run_dir.predictions_dir(model_abbr), self.run_dir.results_dir(model_abbr), on_tick)
        return self.process.returncode


def _follow(process: subprocess.Popen[bytes], console: Console, total_requests: int, total_datasets: int,
            progress_file: Path, predictions_dir: Path, results_dir: Path, on_tick: Callable[[], None] | None) -> None:
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
            if on_tick is not None:
                on_tick()

        while process.poll() is None:
            refresh()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.5)  # back at once when it ends, not up to half a second later
        refresh()  # the final counts, once OpenCompass has exited
