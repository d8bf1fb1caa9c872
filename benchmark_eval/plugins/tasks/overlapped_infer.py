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

Each dataset is evaluated as soon as its predictions are written, in the same thread, by the
stock `OpenICLEvalTask` on the run's own eval settings (`evaluate_now`): OpenCompass's
evaluation stage, which starts only after every inference, finds its result file and skips
it. Against a real server, which the client mostly waits on, the evaluations (the HumanEval
sandbox, ROUGE over XSum, accuracy) hide behind the requests still in flight; against the
instant stub, where this process is busy throughout, they only move (docs/performance.md).
An evaluation that fails here leaves no result file, and the stage runs it again exactly as
before, with its error where it always was. Retrievers and evaluators that seed the global
random generators run one at a time (`compat.serialize_global_rng_users`), so threads do not
change what they draw.
(OpenCompass's own early evaluation, `OpenICLEvalWatchTask`, sleeps 10 s before its first look
and then polls status files that only its concurrent infer task writes, every 5 s: longer than
a whole MMLU run's evaluations against a fast server.)
"""

from __future__ import annotations

import copy
import os
import os.path as osp
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from mmengine.config import Config
from opencompass.tasks import OpenICLEvalTask, OpenICLInferTask
from opencompass.utils import build_model_from_cfg, get_infer_output_path, model_abbr_from_cfg

from ...compat import build_for_inference, infer_one_dataset


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
        # the data preflight's build where it left it; kept for its evaluation in this process
        task.dataset, from_preflight = build_for_inference(dataset_cfg)
        task.sub_cfg = {"models": [model_cfg], "datasets": [[dataset_cfg]]}
        # The config as the evaluation stage will see it: the stock inference writes its model
        # object into infer_cfg.inferencer.
        as_planned = copy.deepcopy(dataset_cfg)
        source = "the data preflight's" if from_preflight else "built here"
        task.logger.info(f"Dataset {dataset_cfg.get('abbr')}: inference starts (dataset: {source})")
        infer_one_dataset(task)
        self.evaluate_now(model_cfg, as_planned)

    def evaluate_now(self, model_cfg: Any, dataset_cfg: Any) -> None:
        """The evaluation stage's own task for this one dataset: the same class, the same config
        (the eval keys OpenCompass's partitioner keeps, `eval.runner.task.dump_details` among
        them, are in this task's config too), the same result file."""
        cfg = Config({"models": [model_cfg], "datasets": [[dataset_cfg]], "work_dir": self.work_dir})
        if "eval" in self.cfg:
            cfg["eval"] = self.cfg["eval"]
        results = get_infer_output_path(model_cfg, dataset_cfg, osp.join(self.work_dir, "results"))
        try:
            OpenICLEvalTask(cfg).run()
        except Exception as error:  # noqa: BLE001 (any failure: the stage's own run reports it)
            if osp.exists(results):
                os.remove(results)  # half-written: the stage would take it for done
            self.logger.warning(f"Dataset {dataset_cfg.get('abbr')}: evaluation after inference failed "
                                f"({type(error).__name__}: {error}); OpenCompass's evaluation stage runs it again")
