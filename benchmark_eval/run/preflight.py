"""The data preflight, made before any long work whatever the backend: every dataset's files
exist, read cleanly and load with OpenCompass's own loader. (The model's own preflight is its
backend's: benchmark_eval/backends/.)"""

from __future__ import annotations

from pathlib import Path

from ..data.check import DataInfo, DataProblem, data_root_env, inspect_dataset
from ..errors import UserError
from ..plan import PlannedDataset

__all__ = ["DataInfo", "check_data"]


def check_data(planned: list[PlannedDataset], root: Path) -> dict[str, DataInfo]:
    """Every dataset's files exist, read cleanly and load with OpenCompass's own loader; no downloads."""
    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist; set COMPASS_DATA_CACHE to the folder that holds data/ (e.g. data/mmlu, data/ceval)")
    infos: dict[str, DataInfo] = {}
    with data_root_env(root):
        for item in planned:
            try:
                infos[item.abbr] = inspect_dataset(item, root)
            except DataProblem as problem:
                raise UserError(f"dataset {item.abbr} ({item.config_name}): {problem.problem}; {problem.fix} "
                                f"(benchmark-eval data check lists every problem)") from None
    return infos
