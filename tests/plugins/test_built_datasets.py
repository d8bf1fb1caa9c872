"""compat.built_datasets: a dataset the data preflight built reaches OpenCompass's inference,
once, and is the dataset the inference would have built."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from benchmark_eval import compat, handoff


@pytest.fixture
def kept_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "built"
    folder.mkdir()
    monkeypatch.setenv(handoff.BUILT_DATASETS_ENV, str(folder))
    return folder


@pytest.mark.parametrize("config", ["mmlu_gen", "ceval_gen", "gsm8k_gen", "humaneval_gen", "Xsum_gen"])
def test_the_preflight_dataset_is_the_one_inference_builds_and_is_taken_once(config: str, data_root: Path,
                                                                              kept_folder: Path) -> None:
    from opencompass.utils import build_dataset_from_cfg

    from benchmark_eval.data.check import data_root_env, inspect_dataset
    from benchmark_eval.plan import plan_datasets

    subject = {"mmlu_gen": ("abstract_algebra",), "ceval_gen": ("computer_network",)}.get(config)
    item = plan_datasets((config,), subject, 5)[0]
    with data_root_env(data_root):
        inspect_dataset(item, data_root, keep=kept_folder)
        assert len(list(kept_folder.iterdir())) == 1
        # the inference's config: the same dataset under other inference settings
        cfg = {**item.cfg, "infer_cfg": {"inferencer": {"max_out_len": 7}}}
        kept, from_preflight = compat.build_for_inference(cfg)
        again, again_from_preflight = compat.build_for_inference(cfg)
        fresh = build_dataset_from_cfg(item.cfg)
    assert from_preflight and not again_from_preflight and not list(kept_folder.iterdir())
    assert type(kept) is type(fresh)
    for split in ("train", "test"):
        assert kept.reader.dataset[split].to_list() == fresh.reader.dataset[split].to_list()
    assert (kept.reader.input_columns, kept.reader.output_column) == (fresh.reader.input_columns, fresh.reader.output_column)


def test_another_dataset_config_is_built_not_taken(data_root: Path, kept_folder: Path) -> None:
    from benchmark_eval.data.check import data_root_env, inspect_dataset
    from benchmark_eval.plan import plan_datasets

    three, five = plan_datasets(("gsm8k_gen",), None, 3)[0], plan_datasets(("gsm8k_gen",), None, 5)[0]
    with data_root_env(data_root):
        inspect_dataset(three, data_root, keep=kept_folder)
        dataset, from_preflight = compat.build_for_inference(five.cfg)  # another test_range: another dataset
    assert not from_preflight and len(dataset.test) == 5 and len(list(kept_folder.iterdir())) == 1


def test_a_dataset_that_cannot_be_pickled_is_left_out(tmp_path: Path) -> None:
    compat.keep_built({"abbr": "x"}, threading.Lock(), tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_dataset_built_for_inference_is_handed_to_its_evaluation_once(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opencompass.tasks import openicl_eval
    from opencompass.utils import build_dataset_from_cfg

    from benchmark_eval.data.check import data_root_env
    from benchmark_eval.plan import plan_datasets

    monkeypatch.delenv(handoff.BUILT_DATASETS_ENV, raising=False)
    cfg = plan_datasets(("gsm8k_gen",), None, 3)[0].cfg
    stock_build = openicl_eval.build_dataset_from_cfg
    assert stock_build is build_dataset_from_cfg  # the name the eval task calls, as its module bound it
    try:
        compat.share_built_datasets()
        with data_root_env(data_root):
            built, from_preflight = compat.build_for_inference(cfg)
            handed = openicl_eval.build_dataset_from_cfg({**cfg, "eval_cfg": {"other": 1}})  # its evaluation's config
            again = openicl_eval.build_dataset_from_cfg(cfg)  # handed over once: a second evaluation builds its own
            fresh = build_dataset_from_cfg(cfg)
        assert handed is built and again is not built and not from_preflight
        assert again.test.to_list() == built.test.to_list() == fresh.test.to_list()
    finally:
        openicl_eval.build_dataset_from_cfg = stock_build
