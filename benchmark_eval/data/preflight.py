"""The data preflight, made before any long work whatever the backend: every dataset's files
exist, read cleanly and load with OpenCompass's own loader. (The model's own preflight is its
backend's: benchmark_eval/backends/.)"""

from __future__ import annotations

import multiprocessing
import signal
from multiprocessing.connection import Connection
from pathlib import Path

from ..errors import UserError
from ..plan import PlannedDataset
from .check import DataInfo, DataProblem, data_root_env, inspect_dataset

__all__ = ["DataInfo", "check_data", "check_data_apart"]


def check_data(planned: list[PlannedDataset], root: Path, references: bool = False,
               keep: Path | None = None) -> dict[str, DataInfo]:
    """Every dataset's files exist, read cleanly and load with OpenCompass's own loader; no downloads.
    `keep`: a folder where each dataset built is left for the run's inference."""
    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist; set COMPASS_DATA_CACHE to the folder that holds data/ (e.g. data/mmlu, data/ceval)")
    infos: dict[str, DataInfo] = {}
    with data_root_env(root):
        for item in planned:
            try:
                infos[item.abbr] = inspect_dataset(item, root, references, keep)
            except DataProblem as problem:
                raise UserError(f"dataset {item.abbr} ({item.config_name}): {problem.problem}; {problem.fix} "
                                f"(benchmark-eval data check lists every problem)") from None
    return infos


def check_data_apart(planned: list[PlannedDataset], root: Path, references: bool = False,
                     keep: Path | None = None) -> dict[str, DataInfo]:
    """`check_data` in a child process: OpenCompass's loaders and the datasets they build (some
    500 MB for all of MMLU) stay out of this process, which lives for the whole run; the datasets
    reach OpenCompass's process through `keep` (OpenCompassProcess.built_datasets)."""
    receive, send = multiprocessing.Pipe(duplex=False)
    # fork: nothing to import again, and this process has no threads yet
    child = multiprocessing.get_context("fork").Process(target=_check_in_child, args=(planned, root, references, keep, send), daemon=True)
    child.start()
    send.close()
    try:
        kind, value = receive.recv()
    except EOFError:
        child.join()
        raise RuntimeError(f"the data preflight's process died (exit code {child.exitcode})") from None
    finally:
        if child.is_alive():  # a stop signal while it checks
            child.kill()
        child.join()
        receive.close()
    if kind == "error":
        raise UserError(value)
    infos: dict[str, DataInfo] = value
    return infos


def _check_in_child(planned: list[PlannedDataset], root: Path, references: bool, keep: Path | None,
                    send: Connection) -> None:
    # Stops are the parent's to handle (it kills this process): not our handlers, no traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        send.send(("ok", check_data(planned, root, references, keep)))
    except UserError as error:
        send.send(("error", str(error)))
