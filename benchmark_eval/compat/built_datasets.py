"""Each dataset of a run built once, not three times.

Stock OpenCompass builds a dataset (its loader, then `BaseDataset.__init__`'s row-by-row `map`)
for every task that needs it, and our data preflight builds it once more to check it. Building
is deterministic: the same config and files give the same dataset, which is why stock
OpenCompass can build it again in each task. So a run passes the one it built along:

- the data preflight's child keeps each dataset it built (`keep_built`: a pickle in the folder
  that BUILT_DATASETS_ENV names, OpenCompass's private scratch folder), and the inference in
  OpenCompass's process takes it from there (`build_for_inference`) instead of building it
  again. Against a fast server the builds were 2.3 s of OpenCompass's interpreter time for the
  57 MMLU subjects, inside the request window; loading the pickles took 0.4 s there (0.07 s in
  a process of its own).
- the inference hands its dataset to the same process's evaluation (`share_built_datasets`).

Each hand-off is taken once, then dropped, so a run holds no dataset past its evaluation; a
task that finds none (a resumed run, a config the preflight did not see) builds its own, as stock.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
from pathlib import Path
from typing import Any

from ..handoff import BUILT_DATASETS_ENV

#: The folder where the data preflight leaves the datasets it built, for OpenCompass's process.

_BUILT: dict[str, Any] = {}  # dataset config -> the dataset its inference built, until its evaluation takes it
_BUILT_LOCK = threading.Lock()


def dataset_key(dataset_cfg: Any) -> str:
    """What decides a built dataset: its config without the inference and evaluation settings
    (the same dataset whatever prompt or evaluator a task puts on it)."""
    return json.dumps({k: v for k, v in dict(dataset_cfg).items() if k not in ("infer_cfg", "eval_cfg")},
                      sort_keys=True, default=str)


def _kept_path(folder: Path, dataset_cfg: Any) -> Path:
    return folder / f"{hashlib.sha256(dataset_key(dataset_cfg).encode()).hexdigest()[:32]}.pickle"


def keep_built(dataset_cfg: Any, dataset: Any, folder: Path) -> None:
    """Leave `dataset` in `folder` for OpenCompass's inference of `dataset_cfg`. A dataset that
    cannot be pickled is left out: its inference builds it, as stock."""
    path = _kept_path(folder, dataset_cfg)
    part = path.with_suffix(".part")
    try:
        with open(part, "wb") as file:
            pickle.dump(dataset, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(part, path)  # complete or absent, never half
    except Exception:  # noqa: BLE001 (pickle fails with anything a loader put in its dataset)
        part.unlink(missing_ok=True)


def _take_kept(dataset_cfg: Any) -> Any | None:
    folder = os.environ.get(BUILT_DATASETS_ENV)
    if not folder:
        return None
    path = _kept_path(Path(folder), dataset_cfg)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)  # taken once
    # Only this run's own preflight writes there: a private folder (mode 700) made for this run.
    return pickle.loads(data)  # noqa: S301


def build_for_inference(dataset_cfg: Any) -> tuple[Any, bool]:
    """The dataset for the inference of `dataset_cfg`: the one the data preflight built if it left
    it, else OpenCompass's `build_dataset_from_cfg`; and whether it was the preflight's. Kept for
    the same process's evaluation (`share_built_datasets`)."""
    dataset = _take_kept(dataset_cfg)
    from_preflight = dataset is not None
    if dataset is None:
        from opencompass.utils import build_dataset_from_cfg

        dataset = build_dataset_from_cfg(dataset_cfg)
    with _BUILT_LOCK:
        _BUILT[dataset_key(dataset_cfg)] = dataset
    return dataset, from_preflight


def share_built_datasets() -> None:
    """A dataset built for a dataset's inference is handed to its evaluation in the same process
    (API runs do both inside OpenCompass's own process), instead of being loaded and sliced
    again: 2-3 s for the 57 MMLU subjects. Handed over once, then dropped; an evaluation without
    one (a resumed run) builds its own."""
    from opencompass.tasks import openicl_eval
    from opencompass.utils import build_dataset_from_cfg

    def built_or_build(dataset_cfg: Any) -> Any:
        with _BUILT_LOCK:
            dataset = _BUILT.pop(dataset_key(dataset_cfg), None)
        return dataset if dataset is not None else build_dataset_from_cfg(dataset_cfg)

    openicl_eval.build_dataset_from_cfg = built_or_build  # the name the eval task bound at import
