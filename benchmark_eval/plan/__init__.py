"""Plan: settings -> the OpenCompass config that will run."""

from .config import api_model, build_config, prepare_dataset, write_config
from .datasets import PlannedDataset, find_config, plan_datasets

__all__ = ["PlannedDataset", "api_model", "build_config", "find_config", "plan_datasets", "prepare_dataset", "write_config"]
