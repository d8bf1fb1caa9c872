"""Contract tests for `compat.lazy_dataset_loaders` (benchmark_eval/plugins/compat/loaders.py):
the names it takes from single loader modules are a full import's objects, and what it cannot
settle loads the whole package."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

from benchmark_eval import compat


def test_the_loader_index_names_the_objects_a_full_import_binds() -> None:
    """Every name `lazy_dataset_loaders` takes from one submodule is the object the whole
    package binds to that name (a fresh run of its __init__, whatever this process imported)."""
    spec = importlib.util.find_spec("opencompass.datasets")
    assert spec is not None and spec.origin is not None and spec.loader is not None
    index = compat.dataset_loader_index(Path(spec.origin).parent)
    whole = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(whole)
    settled = {name: where for name, where in index.items() if where is not None}
    assert len(settled) > 1000 and {"MMLUDataset", "CEvalDataset", "GSM8KDataset", "HumanevalDataset", "XsumDataset"} <= set(settled)
    wrong = []
    for name, (module, attribute) in settled.items():
        value = getattr(importlib.import_module(f"opencompass.datasets.{module}"), attribute, None)
        if value is None:
            continue  # not bound there after all: the lazy package then loads the whole package
        if name not in vars(whole) or vars(whole)[name] is not value:
            wrong.append(name)
    assert wrong == []


LAZY_CHECK = """
import sys
from benchmark_eval.compat import lazy_dataset_loaders
lazy_dataset_loaders()
from opencompass.cli.main import main
from opencompass.utils import build_dataset_from_cfg
from opencompass.datasets import MMLUDataset, CEvalDataset, GSM8KDataset, gsm8k_postprocess, HumanevalDataset, XsumDataset
loaders = sorted(m for m in sys.modules if m.startswith("opencompass.datasets."))
print(len(loaders), MMLUDataset.__module__)
from opencompass.registry import LOAD_DATASET
print(LOAD_DATASET.get("ChatMLDataset").__name__, len([m for m in sys.modules if m.startswith("opencompass.datasets.")]) > 400)
import opencompass.datasets
try:
    opencompass.datasets.NoSuchLoader
except AttributeError as error:
    print("AttributeError", error)
"""


def test_lazy_loaders_import_what_a_run_names_and_the_rest_on_demand() -> None:
    out = subprocess.run([sys.executable, "-c", LAZY_CHECK], capture_output=True, text=True, timeout=120, check=True).stdout.split("\n")
    count, module = out[0].split()
    assert int(count) < 30 and module == "opencompass.datasets.mmlu"  # not the 460 loaders
    assert out[1] == "ChatMLDataset True"  # a registry lookup by bare name loads the whole package
    assert out[2].startswith("AttributeError") and "NoSuchLoader" in out[2]
