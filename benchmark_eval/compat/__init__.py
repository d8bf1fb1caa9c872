"""Every OpenCompass symbol and behaviour we rely on that is not its public API, in one place.

Pinned to OpenCompass 0.5.4 (requirements/evaluator.lock). Each entry here has a contract test
in tests/plugins/test_compat.py (the loaders': test_compat_loaders.py; the skipped length
checks': test_length_checks.py; the built datasets' hand-offs: test_built_datasets.py) that
runs in seconds at most, so an OpenCompass upgrade that moves or changes one fails there
first, with the symbol's name, not forty minutes into a run.
Nothing else in the package imports a private OpenCompass name. OpenCompass is imported inside
each function (importing it takes seconds): planning a run and the CLI's checks stay fast.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import io
import os
import runpy
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..handoff import BUILT_DATASETS_ENV
from .built_datasets import build_for_inference, keep_built, share_built_datasets
from .loaders import OPENCOMPASS_VERSION, dataset_loader_index, lazy_dataset_loaders

__all__ = ["BUILT_DATASETS_ENV", "OPENCOMPASS_VERSION", "build_for_inference", "keep_built",
           "share_built_datasets", "ChatMessages", "bundled_metric", "dataset_loader_index",
           "lazy_dataset_loaders", "no_length_checks_without_examples",
           "convert_chat_messages", "datasets_mapping", "dump_results_dict", "infer_one_dataset", "local_runner",
           "rouge_inputs", "primary_metric", "summary_groups"]

def datasets_mapping() -> dict[str, dict[str, str]]:
    """Dataset `path` names ("opencompass/mmlu") -> their folder under the data root, as
    OpenCompass's get_data_path resolves them offline."""
    from opencompass.utils.datasets_info import DATASETS_MAPPING

    mapping: dict[str, dict[str, str]] = DATASETS_MAPPING
    return mapping


def summary_groups() -> list[dict[str, Any]]:
    """OpenCompass's own benchmark groups (mmlu, mmlu-stem, mmlu-weighted, ceval, ceval-hard,
    cmmlu, ...), in file order, as its summarizer configs define them: `name`, `subsets` (dataset
    abbrs, or [abbr, metric] pairs) and, for weighted groups, `weights`.

    They live in `opencompass/configs/summarizers/groups/*.py`, plain Python files of
    `*_summary_groups` lists that stock configs pull in with `read_base()`; running each file
    reads them without re-typing a subject list. Entries without subsets are skipped.
    """
    import opencompass

    root = Path(opencompass.__file__).resolve().parent / "configs" / "summarizers" / "groups"
    groups: list[dict[str, Any]] = []
    for path in sorted(root.glob("*.py")):
        with contextlib.redirect_stdout(io.StringIO()):  # a few files print while they build their lists
            namespace = runpy.run_path(str(path))
        for key, value in namespace.items():
            if key.endswith("_summary_groups") and isinstance(value, list):
                groups += [g for g in value if isinstance(g, dict) and g.get("name") and g.get("subsets")]
    return groups


def primary_metric(metrics: list[str]) -> str:
    """The metric OpenCompass's summarizer puts first for a dataset (and averages in a group):
    the first of its METRIC_WHITELIST present, else the first reported."""
    return next((m for m in metric_whitelist() if m in metrics), metrics[0])


@functools.cache
def metric_whitelist() -> list[str]:
    """`opencompass.summarizers.default.METRIC_WHITELIST`, read from its source as a literal:
    importing that module imports most of OpenCompass (1.6 s of compare's run on two
    15,000-sample runs, for one list). tests/plugins/test_compat.py pins it to the import."""
    spec = importlib.util.find_spec("opencompass")
    assert spec is not None and spec.submodule_search_locations, "OpenCompass is not installed"
    source = Path(next(iter(spec.submodule_search_locations))) / "summarizers" / "default.py"
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "METRIC_WHITELIST" for t in node.targets):
            return [str(item) for item in ast.literal_eval(node.value)]
    raise RuntimeError(f"METRIC_WHITELIST is not a literal in {source}; read it by import in compat.metric_whitelist")


def local_runner(task: dict[str, Any], in_process: bool) -> dict[str, Any]:
    """OpenCompass's LocalRunner; in its `debug` mode every task runs inside OpenCompass's own
    process, one after another, instead of a Python start per task.

    Stock OpenCompass starts a process per task (9-16 s each here, about 10 minutes for the 57
    MMLU subjects' evaluations). An API model is a thin HTTP client and evaluation needs no
    device, so those run in-process, their tasks, evaluators and outputs unchanged. Local
    weights keep an inference process of their own (device pinning).
    """
    return {"type": "opencompass.runners.LocalRunner", "max_num_workers": 1, "debug": in_process, "task": dict(task)}


def fast_in_memory_fingerprints() -> None:
    """Hugging Face `datasets` fingerprints every Dataset it makes by hashing its whole state,
    the in-memory Arrow table included (dill over every row): a quarter of the time OpenCompass's
    loaders take to build MMLU and C-Eval's 109 datasets (about 1 s of 4.5 here), paid in the
    data preflight and again in each inference. A fingerprint only names a dataset's on-disk
    cache, and a dataset held in memory has none (datasets never caches `map` on it), so such a
    dataset gets a random fingerprint, as datasets itself gives one it cannot hash. A dataset
    backed by cache files keeps its own. Idempotent."""
    from datasets import arrow_dataset, fingerprint

    original = arrow_dataset.generate_fingerprint  # the name Dataset.__init__ calls
    if getattr(original, "_in_memory_random", False):
        return

    def generate(dataset: Any) -> str:
        return str(fingerprint.generate_random_fingerprint() if not dataset.cache_files else original(dataset))

    generate._in_memory_random = True  # type: ignore[attr-defined]
    arrow_dataset.generate_fingerprint = generate


_GLOBAL_RNG = threading.RLock()
#: OpenCompass's openicl modules that seed Python's or numpy's global random generator.
GLOBAL_RNG_MODULES = ("icl_evaluator/icl_hf_evaluator.py", "icl_evaluator/lm_evaluator.py",
                      "icl_retriever/icl_mdl_retriever.py", "icl_retriever/icl_random_retriever.py")


def serialize_global_rng_users() -> None:
    """OpenCompass's random retrievers seed numpy's global generator, then draw every test
    item's in-context examples from it; its Hugging Face evaluators (accuracy among them) seed
    both global generators, score, and put the old state back. Run one at a time, as stock
    OpenCompass runs its datasets and evaluations, that is deterministic. With datasets in flight
    together and each evaluated as soon as its inference ends (tasks/overlapped_infer.py), one
    thread's seeding would land between another's draws. So these run one at a time, under one
    process-wide lock: their results are those of a sequential run (the judge-model LMEvaluator,
    which seeds too, included). Idempotent; contract test: the modules that seed are exactly
    GLOBAL_RNG_MODULES."""
    from opencompass.openicl.icl_evaluator import LMEvaluator
    from opencompass.openicl.icl_evaluator.icl_hf_evaluator import HuggingfaceEvaluator
    from opencompass.openicl.icl_retriever import MDLRetriever, RandomRetriever

    for cls, name in ((HuggingfaceEvaluator, "score"), (LMEvaluator, "score"), (RandomRetriever, "retrieve"),
                      (MDLRetriever, "retrieve")):
        if not getattr(cls.__dict__[name], "_serialized", False):
            setattr(cls, name, _serialized(cls.__dict__[name]))


def _serialized(original: Callable[..., Any]) -> Callable[..., Any]:
    # functools.wraps keeps the signature: OpenCompass's eval task passes an evaluator's score
    # exactly the arguments its signature names.
    @functools.wraps(original)
    def serialized(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _GLOBAL_RNG:
            return original(self, *args, **kwargs)

    serialized._serialized = True  # type: ignore[attr-defined]
    return serialized


def no_length_checks_without_examples() -> None:
    """OpenCompass's GenInferencer counts every prompt's tokens for one use: to drop in-context
    examples from a prompt longer than max_seq_len (`while len(ice_idx) > 0 and count >
    max_seq_len`). A dataset without examples (every `ice_idx` empty: a zero-shot retriever) can
    drop none, so for it the counts change nothing, yet cost a tokenization per prompt: 4 s of
    OpenCompass's interpreter for MMLU's 14,042 generation prompts. Such a dataset's prompts are
    built without the check; the prompts are the same (contract test). Idempotent."""
    from opencompass.openicl.icl_inferencer import GenInferencer

    original = GenInferencer.get_generation_prompt_list_from_retriever_indices
    if getattr(original, "_checks_examples_only", False):
        return

    @functools.wraps(original)
    def prompts(self: Any, ice_idx_list: list[list[int]], retriever: Any, gen_field_replace_token: str,
                max_seq_len: int | None = None, ice_template: Any = None, prompt_template: Any = None) -> Any:
        return original(self, ice_idx_list, retriever, gen_field_replace_token,
                        max_seq_len if any(ice_idx_list) else None, ice_template, prompt_template)

    prompts._checks_examples_only = True  # type: ignore[attr-defined]
    GenInferencer.get_generation_prompt_list_from_retriever_indices = prompts


def infer_one_dataset(task: Any) -> None:
    """Run the inference of the one dataset an `OpenICLInferTask` holds (`model`, `model_cfg`,
    `dataset_cfg`, `infer_cfg`, `dataset`, `sub_cfg`, `max_out_len`, `batch_size` and
    `min_out_len` set as its `run` sets them): its retriever, inferencer and output file."""
    task._inference()


def convert_chat_messages(inputs: list[Any]) -> list[list[dict[str, str]]]:
    """OpenCompass's prompts (str or PromptList) -> chat messages, as its HF chat models build them."""
    from opencompass.models.huggingface_above_v4_33 import _convert_chat_messages

    messages: list[list[dict[str, str]]] = _convert_chat_messages(inputs)
    return messages


def dump_results_dict(results: dict[str, Any], path: str) -> None:
    """Write predictions the way OpenCompass's inferencers write them (the eval task reads them)."""
    from opencompass.openicl.icl_inferencer.icl_base_inferencer import dump_results_dict as dump

    dump(results, path)


def bundled_metric(name: str) -> str:
    """The copy of a Hugging Face `evaluate` metric that OpenCompass ships (no hub access)."""
    from opencompass.openicl.icl_evaluator import icl_hf_evaluator

    return os.path.join(os.path.dirname(icl_hf_evaluator.__file__), "hf_metrics", f"{name}.py")


def rouge_inputs(evaluator: Any, predictions: list[Any], references: list[Any]) -> dict[str, Any]:
    """What OpenCompass's RougeEvaluator hands the metric: its own preprocessing of both sides."""
    inputs: dict[str, Any] = evaluator._preprocess(predictions, references)
    return inputs


class ChatMessages:
    """OpenCompass's OpenAI-class conversion of a prompt into chat messages, with its
    truncation and max_out_len adjustment, without an OpenAI client: the server model class
    (VLLMApi) sends its own requests, so the bodies stay exactly the stock ones.

    With mode "none" the conversion uses token counts only to refuse a prompt longer than
    max_seq_len and to lower max_out_len to what still fits (max_seq_len - count - 100). Given
    `upper_bound` (`tokenizers.token_count_bound`), a prompt whose bound already leaves room for
    max_out_len is converted with the bounds: both uses come out as with the exact counts, and
    no text is tokenized. Any other prompt is counted exactly."""

    def __init__(self, get_token_len: Callable[[str], int], mode: str = "none",
                 upper_bound: Callable[[], Callable[[str], int] | None] | None = None) -> None:
        from opencompass.models.openai_api import OpenAI
        from opencompass.utils.logging import get_logger

        # The methods used below need only these attributes of an OpenAI instance; building
        # one for real would load a tokenizer and want an API key.
        sdk = OpenAI.__new__(OpenAI)
        sdk.logger = get_logger()
        sdk.get_token_len = get_token_len
        sdk.image_format = None
        sdk.image_min_edge = None
        self._sdk = sdk
        self.mode = mode
        self._upper_bound = upper_bound

    def build(self, prompt: Any, max_out_len: int, max_seq_len: int) -> tuple[list[dict[str, Any]], int]:
        """The request's messages and the max_out_len that still fits max_seq_len."""
        count = self._sdk.get_token_len
        bound = self._upper_bound() if self._upper_bound is not None and self.mode == "none" else None
        if bound is not None:
            texts: list[Any] = [prompt] if isinstance(prompt, str) else [
                item.get("prompt", item.get("content")) if isinstance(item, dict) else None for item in prompt]
            if all(isinstance(t, str) for t in texts) and sum(map(bound, texts)) + 100 + max_out_len <= max_seq_len:
                count = bound
        messages, max_out_len = self._sdk._preprocess_messages(prompt, max_out_len, max_seq_len, self.mode, count)
        return self._sdk._messages_to_chat_completions(messages), max_out_len
