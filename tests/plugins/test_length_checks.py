"""Token counts skipped where they cannot change a request (compat.no_length_checks_without_examples,
the byte bound in compat.ChatMessages): the same prompts, messages and max_out_len as with every
count made, on real MMLU and C-Eval data."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from opencompass.openicl.icl_inferencer import GenInferencer
from opencompass.utils.prompt import PromptList

from benchmark_eval import compat
from benchmark_eval.paths import demo_model_dir


def _prompt_lists(data_root: Path, config: str, subjects: tuple[str, ...], max_seq_len: int, counted: list[str],
                  build: Any = None) -> list[object]:
    """The generation prompts GenInferencer builds for a stock config's datasets (its own
    retriever and templates), the model side of its length check counting for real."""
    from opencompass.registry import ICL_PROMPT_TEMPLATES, ICL_RETRIEVERS
    from opencompass.utils import build_dataset_from_cfg

    from benchmark_eval.data.check import data_root_env
    from benchmark_eval.plan import plan_datasets
    from benchmark_eval.plugins.models.tokenizers import load_tokenizer, token_counts

    tokenizer = load_tokenizer(str(demo_model_dir()))

    class Counting:
        def get_token_len_from_template(self, prompt: object, mode: str) -> int:
            counted.append(str(prompt))
            return token_counts(tokenizer, [str(prompt)])[0]

    prompts: list[object] = []
    for planned in plan_datasets((config,), subjects, None):
        infer = planned.cfg["infer_cfg"]
        with data_root_env(data_root):
            dataset = build_dataset_from_cfg(planned.cfg)
        templates = {k: ICL_PROMPT_TEMPLATES.build(infer[k]) for k in ("ice_template", "prompt_template") if k in infer}
        retriever = ICL_RETRIEVERS.build({**infer["retriever"], "dataset": dataset})
        inferencer = GenInferencer.__new__(GenInferencer)
        inferencer.model = Counting()
        prompts += (build or GenInferencer.get_generation_prompt_list_from_retriever_indices)(
            inferencer, retriever.retrieve(), retriever, gen_field_replace_token="", max_seq_len=max_seq_len, **templates)
    return prompts


def test_prompts_without_examples_are_built_without_counting_and_are_the_same(data_root: Path) -> None:
    compat.no_length_checks_without_examples()
    compat.no_length_checks_without_examples()  # idempotent: wraps once
    ours = GenInferencer.get_generation_prompt_list_from_retriever_indices
    stock = ours.__wrapped__  # type: ignore[attr-defined]
    assert getattr(stock, "__wrapped__", None) is None and inspect.signature(ours) == inspect.signature(stock)
    zero, few = ("mmlu_gen", ("anatomy", "college_physics"), 2048), ("ceval_gen", ("computer_network",), 700)
    counted_stock: list[str] = []
    zero_stock = _prompt_lists(data_root, *zero, counted_stock, build=stock)
    zero_counts = len(counted_stock)
    few_stock = _prompt_lists(data_root, *few, counted_stock, build=stock)  # 5-shot, short: examples are dropped
    assert zero_counts == len(zero_stock) and len(counted_stock) - zero_counts > len(few_stock)
    counted: list[str] = []
    assert _prompt_lists(data_root, *zero, counted) == zero_stock and counted == []
    assert _prompt_lists(data_root, *few, counted) == few_stock and len(counted) == len(counted_stock) - zero_counts


def test_chat_messages_with_token_bounds_are_those_with_exact_counts(data_root: Path) -> None:
    """Real MMLU prompts, and prompts around the limit: the same messages and max_out_len with the
    bound as with exact counts; exact counts only where the bound cannot settle it."""
    from benchmark_eval.plugins.models.tokenizers import load_tokenizer, token_count_bound, token_counts

    tokenizer = load_tokenizer(str(demo_model_dir()))
    bound = token_count_bound(tokenizer)
    assert bound is not None  # SmolLM2: byte-level BPE, no normalizer
    exact_calls: list[str] = []

    def exact(text: str) -> int:
        exact_calls.append(text)
        return token_counts(tokenizer, [text])[0]

    counted: list[str] = []
    prompts: list[object] = [str(p) for p in _prompt_lists(data_root, "mmlu_gen", ("anatomy",), 2048, counted)]
    prompts += [PromptList([{"role": "HUMAN", "prompt": str(p)}, {"role": "BOT", "prompt": "A"},
                            {"role": "HUMAN", "prompt": "Again?"}]) for p in prompts[:20]]
    prompts += ["word " * 380, "é" * 900, "数" * 700, "🙂" * 400]  # near the limit; the last, most tokens a byte
    with_bound = compat.ChatMessages(exact, upper_bound=lambda: bound)
    exact_only = compat.ChatMessages(exact)
    settled = 0
    for prompt in prompts:
        texts = [prompt] if isinstance(prompt, str) else [item["prompt"] for item in prompt]  # type: ignore[attr-defined]
        tight = 2048 - 100 - sum(token_counts(tokenizer, texts)) + 1  # exact counts lower it by one
        for max_out_len in (64, tight):
            exact_calls.clear()
            ours = with_bound.build(prompt, max_out_len, 2048)
            settled += not exact_calls
            assert ours == exact_only.build(prompt, max_out_len, 2048)
            assert (ours[1] == max_out_len - 1) == (max_out_len == tight)
    assert settled >= len(prompts) - 4  # every MMLU prompt settled by its bound at max_out_len 64
