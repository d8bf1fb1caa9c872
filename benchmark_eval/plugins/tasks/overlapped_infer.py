"""OpenCompass's inference task with several datasets in flight at once.

Stock `OpenICLInferTask` runs its datasets one after another: each is loaded, its prompts
built and tokenised, its requests sent and its predictions written before the next starts,
so the server idles at every dataset boundary (57 of them for MMLU) and waits on the tail of
each. Here up to `model.datasets_in_flight` datasets run in threads, each through the stock
task's own per-dataset inference (`compat.infer_one_dataset`) (its retriever, inferencer and output paths unchanged), while the
model's one client keeps its bound on requests in flight across all of them. A model without
that attribute (local weights) runs its datasets one by one, as stock.

Only for tasks that run inside OpenCompass's process (its LocalRunner in `debug` mode): a task
run as a script is always the stock class.
"""

from __future__ import annotations

import copy
import os.path as osp
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from opencompass.tasks import OpenICLInferTask
from opencompass.utils import build_model_from_cfg, get_infer_output_path, model_abbr_from_cfg

from ..compat import build_for_inference, infer_one_dataset


class OverlappedInferTask(OpenICLInferTask):
    def run(self, cur_model: Any = None, cur_model_abbr: str | None = None) -> None:
        for model_cfg, dataset_cfgs in zip(self.model_cfgs, self.dataset_cfgs):
            if cur_model is not None and cur_model_abbr == model_abbr_from_cfg(model_cfg):
                model = cur_model
            else:
                model = build_model_from_cfg(model_cfg)
            self.model, self.model_cfg = model, model_cfg  # OpenCompass's runner re-uses them for its next task
            todo = [d for d in dataset_cfgs
                    if not osp.exists(get_infer_output_path(model_cfg, d, osp.join(self.work_dir, "predictions")))]
            try:
                self._run_all(model, model_cfg, todo)
            finally:
                if hasattr(model, "close"):
                    model.close()

    def _run_all(self, model: Any, model_cfg: Any, dataset_cfgs: list[Any]) -> None:
        in_flight = max(1, int(getattr(model, "datasets_in_flight", 1)))
        with ThreadPoolExecutor(in_flight, thread_name_prefix="dataset") as pool:
            futures = [pool.submit(self._one, model, model_cfg, cfg) for cfg in dataset_cfgs]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            error = next((f.exception() for f in done if f.exception() is not None), None)
            if error is not None:
                for future in futures:
                    future.cancel()  # datasets not started; those running finish (their predictions are kept)
                raise error

    def _one(self, model: Any, model_cfg: Any, dataset_cfg: Any) -> None:
        # The stock task keeps the current dataset on `self`: each thread gets its own copy.
        task = copy.copy(self)
        task.model = model
        task.model_cfg = model_cfg
        task.max_out_len = model_cfg.get("max_out_len", None)
        task.batch_size = model_cfg.get("batch_size", None)
        task.min_out_len = model_cfg.get("min_out_len", None)
        task.dataset_cfg = dataset_cfg
        task.infer_cfg = dataset_cfg["infer_cfg"]
        task.dataset = build_for_inference(dataset_cfg)  # kept for its evaluation in this process
        task.sub_cfg = {"models": [model_cfg], "datasets": [[dataset_cfg]]}
        task.logger.info(f"Dataset {dataset_cfg.get('abbr')}: inference starts")
        infer_one_dataset(task)
