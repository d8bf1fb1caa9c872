"""Plan: settings -> the OpenCompass config that will run."""

from .config import (
           EVAL_TASK,
           INFER_TASK,
           OVERLAPPED_INFER_TASK,
           build_config,
           expected_requests,
           is_loglik,
           prepare_dataset,
           runs_code,
           with_our_classes,
           write_config,
)
from .datasets import PlannedDataset, find_config, plan_datasets
from .groups import groups_for, headline_groups

__all__ = ["EVAL_TASK", "INFER_TASK", "OVERLAPPED_INFER_TASK", "PlannedDataset", "build_config", "expected_requests", "find_config", "groups_for",
           "headline_groups", "is_loglik",
           "plan_datasets", "prepare_dataset", "runs_code", "with_our_classes", "write_config"]
