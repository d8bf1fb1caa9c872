import pytest

from benchmark_eval.errors import UserError
from benchmark_eval.plan import plan_datasets, prepare_dataset
from benchmark_eval.settings import RunSettings


def test_unknown_dataset_is_refused_with_a_suggestion() -> None:
    with pytest.raises(UserError, match="unknown dataset 'mmlu_gne'.*mmlu_gen"):
        plan_datasets(("mmlu_gne",))


def test_subjects_and_limit_slice_subject_split_configs() -> None:
    planned = plan_datasets(("mmlu_gen", "ceval_gen", "Xsum_gen"), ("anatomy", "computer_network"), 3)
    abbrs = [p.abbr for p in planned]
    assert abbrs == ["lukaemon_mmlu_anatomy", "ceval-computer_network", "Xsum"]
    assert all(p.cfg["reader_cfg"]["test_range"] == "[0:3]" for p in planned)


def test_any_stock_config_name_works() -> None:
    planned = plan_datasets(("gsm8k_gen",))
    assert len(planned) == 1 and "gsm8k" in planned[0].abbr


def test_subject_that_matches_nothing_is_refused() -> None:
    with pytest.raises(UserError, match="anatmy"):
        plan_datasets(("mmlu_gen",), ("anatomy", "anatmy"))


def test_prepared_config_uses_our_evaluators_and_max_out_len() -> None:
    settings = RunSettings(model_name="m", datasets=("x",), max_out_len=33)
    planned = plan_datasets(("mmlu_gen", "Xsum_gen", "humaneval_gen"), ("anatomy",))
    cfgs = [prepare_dataset(p, settings) for p in planned]
    evaluators = [c["eval_cfg"]["evaluator"]["type"] for c in cfgs]
    assert evaluators == ["benchmark_eval.evaluators.AccuracyEvaluator", "benchmark_eval.evaluators.RougeEvaluator",
                          "benchmark_eval.evaluators.HumanEvalEvaluator"]
    assert all(c["infer_cfg"]["inferencer"]["max_out_len"] == 33 for c in cfgs)
