"""Contract tests for every OpenCompass symbol and behaviour that is not its public API
(benchmark_eval/plugins/compat.py): an OpenCompass upgrade that changes one fails here, in
seconds, naming it."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
from pathlib import Path

import pytest
from opencompass.models import OpenAISDK
from opencompass.openicl.icl_evaluator import RougeEvaluator
from opencompass.openicl.icl_inferencer import GenInferencer
from opencompass.runners import LocalRunner
from opencompass.utils.prompt import PromptList

from benchmark_eval import compat, handoff
from benchmark_eval.demo.model import is_ready
from benchmark_eval.paths import demo_model_dir
from benchmark_eval.plugins.models.vllm_api import VLLMApi


def test_the_pinned_opencompass_is_installed() -> None:
    assert importlib.metadata.version("opencompass") == compat.OPENCOMPASS_VERSION


def _prompts() -> list[object]:
    chat = PromptList([{"role": "SYSTEM", "prompt": "Answer briefly."}, {"role": "HUMAN", "prompt": "2+2?"},
                       {"role": "BOT", "prompt": "4"}, {"role": "HUMAN", "prompt": "And 3+3?"}])
    return ["What is the capital of France?", chat, "word " * 3000]


@pytest.fixture(scope="module")
def stock_sdk() -> OpenAISDK:
    assert is_ready(), "the demo model is missing: run bash install.sh"
    return OpenAISDK(path="m", key="EMPTY", openai_api_base="http://127.0.0.1:9/v1",
                     tokenizer_path=str(demo_model_dir()), max_seq_len=2048)


@pytest.mark.parametrize("mode", ["none", "rear"])
def test_chat_messages_are_the_stock_openai_sdk_requests(stock_sdk: OpenAISDK, mode: str) -> None:
    """VLLMApi builds its chat bodies without OpenAISDK's client; the messages and the adjusted
    max_out_len must be exactly what a fully built OpenAISDK would send."""
    ours = VLLMApi(path="m", openai_api_base="http://127.0.0.1:9/v1", tokenizer_path=str(demo_model_dir()))
    ours.messages.mode = stock_sdk.mode = mode
    for prompt in _prompts():
        assert ours.get_token_len(str(prompt)) == stock_sdk.get_token_len(str(prompt))
        if mode == "none" and isinstance(prompt, str) and prompt.startswith("word"):
            with pytest.raises(ValueError, match="exceeds max_seq_len"):
                ours.messages.build(prompt, 64, 2048)
            continue
        stock_messages, stock_len = stock_sdk._preprocess_messages(
            prompt.copy() if isinstance(prompt, PromptList) else prompt, 64, 2048, mode, stock_sdk.get_token_len)
        messages, max_out_len = ours.messages.build(prompt.copy() if isinstance(prompt, PromptList) else prompt, 64, 2048)
        assert messages == stock_sdk._messages_to_chat_completions(stock_messages)
        assert max_out_len == stock_len


def test_chat_messages_convert_roles() -> None:
    [messages] = compat.convert_chat_messages([_prompts()[1]])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"] == "And 3+3?"


def test_dump_results_dict_writes_what_the_eval_task_reads(tmp_path: Path) -> None:
    results = {"0": {"origin_prompt": "q", "prediction": "é", "choices": [{"label": "A", "loglik": -1.5}]}}
    compat.dump_results_dict(results, str(tmp_path / "predictions.json"))
    assert json.loads((tmp_path / "predictions.json").read_text(encoding="utf-8")) == results


def test_rouge_metric_and_its_inputs() -> None:
    assert Path(compat.bundled_metric("rouge")).is_file()
    inputs = compat.rouge_inputs(RougeEvaluator(), ["The cat sat."], ["A cat sat down."])
    assert set(inputs) == {"predictions", "references"}
    assert len(inputs["predictions"]) == len(inputs["references"]) == 1


def test_datasets_mapping_names_the_offline_folders() -> None:
    mapping = compat.datasets_mapping()
    assert mapping["opencompass/mmlu"]["local"].rstrip("/").endswith("data/mmlu")
    assert mapping["opencompass/ceval-exam"]["local"].rstrip("/").endswith("data/ceval/formal_ceval")


def test_debug_local_runner_runs_tasks_in_its_own_process() -> None:
    """local_runner(in_process=True) relies on LocalRunner's debug branch calling task.run() in-process."""
    runner = compat.local_runner({"type": "opencompass.tasks.OpenICLEvalTask"}, in_process=True)
    assert runner["type"] == "opencompass.runners.LocalRunner" and runner["debug"] is True
    assert "debug" in inspect.signature(LocalRunner.__init__).parameters
    source = inspect.getsource(LocalRunner.launch)
    assert "if self.debug:" in source and "task.run(" in source


def test_gen_inferencer_batches_by_the_model_entrys_batch_size() -> None:
    """WHOLE_DATASET relies on GenInferencer handing the model `batch_size` prompts per call."""
    source = inspect.getsource(GenInferencer.inference)
    assert "self.get_dataloader(prompt_list[index:], self.batch_size)" in source
    assert handoff.WHOLE_DATASET >= 1_000_000


def test_summary_groups_and_the_primary_metric() -> None:
    groups = {g["name"]: g for g in compat.summary_groups()}
    assert len(groups["mmlu"]["subsets"]) == 57 and sum(groups["mmlu-weighted"]["weights"].values()) == 14042
    assert len(groups["ceval"]["subsets"]) == 52 and "lukaemon_mmlu_anatomy" in groups["mmlu-stem"]["subsets"]
    assert compat.primary_metric(["rouge2", "rouge1", "rougeL"]) == "rouge1"
    assert compat.primary_metric(["exotic", "other"]) == "exotic"
    from opencompass.summarizers.default import METRIC_WHITELIST

    assert compat.metric_whitelist() == METRIC_WHITELIST  # read from the source without the import


def test_unformatted_config_dumps_are_the_same_config(tmp_path: Path) -> None:
    """opencompass_main skips yapf through `yapf_api.FormatCode`, which mmengine's pretty_text
    imports at each call; the unformatted text must load back as the same config."""
    from mmengine.config import Config
    from yapf.yapflib import yapf_api

    source = inspect.getsource(Config.pretty_text.fget)
    assert "from yapf.yapflib.yapf_api import FormatCode" in source and "FormatCode(text" in source
    assert inspect.signature(yapf_api.FormatCode).parameters  # still a function of the text
    config = {"datasets": [{"abbr": "a,b", "reader_cfg": {"input_columns": ["q"]}, "n": 3, "x": None, "f": 0.5}],
              "models": [{"type": "benchmark_eval.plugins.models.vllm_api.VLLMApi", "endpoints": ["u"]}]}
    plain = tmp_path / "plain.py"
    plain.write_text(Config(config, format_python_code=False).pretty_text)
    assert Config.fromfile(str(plain)).to_dict() == Config(config).to_dict()


def test_infer_task_runs_one_dataset_from_its_attributes() -> None:
    """OverlappedInferTask sets what OpenICLInferTask.run sets per dataset, then calls _inference;
    LocalRunner's debug branch reads task.model and task.model_cfg afterwards."""
    from opencompass.tasks import OpenICLInferTask

    run = inspect.getsource(OpenICLInferTask.run)
    for attribute in ("self.model = ", "self.model_cfg = ", "self.dataset_cfg = ", "self.infer_cfg = ", "self.dataset = ",
                      "self.sub_cfg = ", "self.max_out_len = ", "self.batch_size = ", "self.min_out_len = ", "self._inference()"):
        assert attribute in run, attribute
    launch = inspect.getsource(LocalRunner.launch)
    assert "task.model" in launch and "task.model_cfg" in launch


def test_in_memory_datasets_get_random_fingerprints_and_file_backed_ones_keep_theirs(tmp_path: Path) -> None:
    """compat.fast_in_memory_fingerprints: the contract with `datasets` is the name
    Dataset.__init__ calls (arrow_dataset.generate_fingerprint) and `cache_files`."""
    import datasets

    rows = [{"question": f"q{i}", "answer": "A"} for i in range(50)]
    compat.fast_in_memory_fingerprints()  # (other tests in this process may have called it already)
    compat.fast_in_memory_fingerprints()  # idempotent: wraps once
    assert datasets.arrow_dataset.generate_fingerprint is not datasets.fingerprint.generate_fingerprint
    one, two = datasets.Dataset.from_list(rows), datasets.Dataset.from_list(rows)
    # what datasets itself does (its own hasher, left in place): the same rows, the same fingerprint
    assert datasets.fingerprint.generate_fingerprint(one) == datasets.fingerprint.generate_fingerprint(two)
    assert one._fingerprint != two._fingerprint and not one.cache_files  # random: nothing hashed
    mapped = one.map(lambda r: {"prompt": r["question"] + "?"})
    assert mapped["prompt"] == [f"q{i}?" for i in range(50)] and mapped.to_list() == two.map(lambda r: {"prompt": r["question"] + "?"}).to_list()
    (tmp_path / "d.jsonl").write_text("".join(f'{{"question": "q{i}"}}\n' for i in range(5)))
    load = lambda: datasets.load_dataset("json", data_files=str(tmp_path / "d.jsonl"), cache_dir=str(tmp_path / "cache"), split="train")  # noqa: E731
    first, second = load(), load()
    assert first.cache_files and first._fingerprint == second._fingerprint  # file-backed: its own, deterministic


def test_the_evaluation_stage_skips_a_dataset_already_evaluated() -> None:
    """OverlappedInferTask.evaluate_now relies on three stock behaviours: the partitioners keep
    the eval keys in every task's config; the eval partitioner makes no task for a dataset whose
    result file exists; the eval task skips such a dataset too."""
    from opencompass.partitioners import NaivePartitioner
    from opencompass.tasks import OpenICLEvalTask

    keep = NaivePartitioner(out_dir="results").keep_keys
    assert {"eval.runner.task.dump_details", "eval.runner.task.judge_cfg", "eval.runner.task.cal_extract_rate"} <= set(keep)
    assert "if osp.exists(filename):" in inspect.getsource(NaivePartitioner.partition)
    assert "if osp.exists(out_path):" in inspect.getsource(OpenICLEvalTask.run)


def _mmlu_task(tmp_path: Path) -> tuple[object, dict[str, object], dict[str, object]]:
    from mmengine.config import Config

    from benchmark_eval.plan import plan_datasets, with_our_classes
    from benchmark_eval.plugins.tasks import OverlappedInferTask

    dataset = with_our_classes(plan_datasets(("mmlu_gen",), ("anatomy",), 4)[0].cfg)  # our evaluator, as a run has
    model = {"abbr": "m", "type": "x"}
    cfg = Config({"models": [model], "datasets": [[dataset]], "work_dir": str(tmp_path),
                  "eval": {"runner": {"task": {"dump_details": True}}}})
    return OverlappedInferTask(cfg), model, dataset


def test_a_dataset_is_evaluated_after_its_inference_as_the_stage_would(data_root: Path, tmp_path: Path) -> None:
    from mmengine.config import Config
    from opencompass.tasks import OpenICLEvalTask

    from benchmark_eval.data.check import data_root_env

    task, model, dataset = _mmlu_task(tmp_path)
    results = tmp_path / "results" / "m" / f"{dataset['abbr']}.json"
    with data_root_env(data_root):
        task.evaluate_now(model, dataset)  # type: ignore[attr-defined]
        assert not results.exists()  # no predictions: it failed, and left the dataset to the stage
        predictions = tmp_path / "predictions" / "m" / f"{dataset['abbr']}.json"
        predictions.parent.mkdir(parents=True)
        answers = ["A", "B", "C", "D"]
        predictions.write_text(json.dumps({str(i): {"origin_prompt": "q", "prediction": f"The answer is {a}", "gold": a}
                                           for i, a in enumerate(answers)}))
        task.evaluate_now(model, dataset)  # type: ignore[attr-defined]
        ours = json.loads(results.read_text())
        results.rename(tmp_path / "ours.json")  # the stage's own task, on the same config, writes it again
        OpenICLEvalTask(Config({"models": [model], "datasets": [[dataset]], "work_dir": str(tmp_path),
                                "eval": {"runner": {"task": {"dump_details": True}}}})).run()
        stage = json.loads(results.read_text())
    assert ours == stage and "details" in ours and 0 <= ours["accuracy"] <= 100


def test_the_modules_that_seed_the_global_random_generators_are_the_serialized_ones() -> None:
    import opencompass.openicl

    root = Path(opencompass.openicl.__file__).parent
    seeding = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                     if "random.seed(" in p.read_text(encoding="utf-8"))
    assert seeding == sorted(compat.GLOBAL_RNG_MODULES)


def test_random_retrieval_beside_evaluations_in_threads_is_the_sequential_one(data_root: Path) -> None:
    """Datasets in flight together, each evaluated as soon as its inference ends: a random
    retriever's draws in one thread and an accuracy evaluation's seeding in another."""
    import threading

    from opencompass.openicl.icl_evaluator import AccEvaluator
    from opencompass.openicl.icl_retriever import RandomRetriever
    from opencompass.utils import build_dataset_from_cfg

    from benchmark_eval.data.check import data_root_env
    from benchmark_eval.plan import plan_datasets

    with data_root_env(data_root):
        dataset = build_dataset_from_cfg(plan_datasets(("mmlu_gen",), ("professional_law",), None)[0].cfg)
    stock_signature = inspect.signature(AccEvaluator().score)
    compat.serialize_global_rng_users()
    compat.serialize_global_rng_users()  # idempotent: wraps once
    # OpenCompass's eval task hands score() the arguments its signature names
    assert inspect.signature(AccEvaluator().score) == stock_signature and "references" in stock_signature.parameters
    retriever = RandomRetriever(dataset, ice_num=3, seed=43)
    alone = retriever.retrieve()
    assert len(alone) == len(dataset.test) > 1000
    stop = threading.Event()

    scored: list[float] = []

    def evaluate() -> None:
        while not stop.is_set():
            scored.append(AccEvaluator().score(["A", "B"] * 50, ["A", "C"] * 50)["accuracy"])

    drawn: list[list[list[int]]] = []
    evaluators = [threading.Thread(target=evaluate) for _ in range(2)]
    retrievers = [threading.Thread(target=lambda: drawn.append(RandomRetriever(dataset, ice_num=3, seed=43).retrieve()))
                  for _ in range(3)]
    for thread in evaluators + retrievers:
        thread.start()
    for thread in retrievers:
        thread.join()
    stop.set()
    for thread in evaluators:
        thread.join()
    assert len(drawn) == 3 and all(d == alone for d in drawn)
    assert scored and set(scored) == {50.0}  # the evaluations ran beside them, and right
