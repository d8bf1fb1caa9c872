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
    assert evaluators == ["benchmark_eval.plugins.evaluators.AccuracyEvaluator", "benchmark_eval.plugins.evaluators.RougeEvaluator",
                          "benchmark_eval.plugins.evaluators.HumanEvalEvaluator"]
    assert all(c["infer_cfg"]["inferencer"]["max_out_len"] == 33 for c in cfgs)


def test_ppl_configs_use_the_shared_loglik_inferencer_and_their_own_abbrs() -> None:
    from benchmark_eval.plan import expected_requests, is_loglik

    settings = RunSettings(model_name="m", datasets=("mmlu_ppl", "mmlu_gen"))
    planned = plan_datasets(("mmlu_ppl", "mmlu_gen"), ("anatomy",), 2)
    assert [p.abbr for p in planned] == ["lukaemon_mmlu_anatomy_ppl", "lukaemon_mmlu_anatomy"]
    ppl, gen = (prepare_dataset(p, settings) for p in planned)
    assert ppl["infer_cfg"]["inferencer"]["type"] == "benchmark_eval.plugins.inferencers.ChoiceLoglikInferencer"
    assert ppl["eval_cfg"]["evaluator"]["type"] == "benchmark_eval.plugins.evaluators.AccuracyEvaluator"
    assert is_loglik(ppl) and not is_loglik(gen)
    assert expected_requests(ppl, 2) == 8 and expected_requests(gen, 2) == 2


def test_two_configs_defining_one_dataset_are_refused() -> None:
    with pytest.raises(UserError, match="mmlu_gen and mmlu_gen_4d595a both define dataset lukaemon_mmlu_anatomy"):
        plan_datasets(("mmlu_gen", "mmlu_gen_4d595a"), ("anatomy",))


def test_prompt_config_hashes_are_those_of_runs_already_made() -> None:
    """The demo run recorded in tests/results/data (made before our OpenCompass classes moved into
    benchmark_eval.plugins) is planned again: every dataset's prompt_config_sha256 is the same, so
    runs made before and after compare as the same inputs."""
    from benchmark_eval.backends.selection import parse_run_settings
    from benchmark_eval.results import RunDir
    from benchmark_eval.results.manifest import config_sha256

    from ..results.test_records import DEMO_RUN

    manifest = RunDir(DEMO_RUN.path).read_manifest()
    settings = parse_run_settings(manifest.settings or {})
    planned = plan_datasets(settings.datasets, settings.subjects, settings.limit)
    hashes = {p.abbr: config_sha256(prepare_dataset(p, settings)) for p in planned}
    assert any(abbr.endswith("_ppl") for abbr in hashes)  # the inferencer's dotted name is in these
    assert hashes == {abbr: d.prompt_config_sha256 for abbr, d in manifest.datasets.items()}
