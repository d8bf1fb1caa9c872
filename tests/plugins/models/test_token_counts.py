"""Token counts through the fast tokenizer's Rust encoder are Transformers' own counts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmark_eval import handoff
from benchmark_eval.demo.model import is_ready
from benchmark_eval.paths import demo_model_dir
from benchmark_eval.plugins.models.tokenizers import encode, load_tokenizer, token_counts


@pytest.mark.skipif(not is_ready(), reason="the demo model is prepared by install.sh")
def test_counts_equal_transformers_counts_on_real_prompts(data_root: Path) -> None:
    tokenizer = load_tokenizer(str(demo_model_dir()))
    texts = ["", " ", "<|im_start|>user\nhi<|im_end|>\n", "naïve café 数学 🙂\t\n"]
    for path in sorted((data_root / "data" / "mmlu" / "test").glob("*.csv"))[:6]:
        with open(path, newline="", encoding="utf-8") as f:
            texts += [f"{row[0]}\nA) {row[1]}\nB) {row[2]}\nC) {row[3]}\nD) {row[4]}" for row in csv.reader(f)]
    assert tokenizer.is_fast and len(texts) > 500
    assert token_counts(tokenizer, texts) == [len(tokenizer(t).input_ids) for t in texts]
    assert [token_counts(tokenizer, [t])[0] for t in texts] == [len(tokenizer(t).input_ids) for t in texts]  # one text: its own path
    # the ids themselves, with and without special tokens (scoring encodes through the same path)
    for special in (True, False):
        expected = [list(ids) for ids in tokenizer(texts, add_special_tokens=special)["input_ids"]]
        assert encode(tokenizer, texts, special) == expected
        assert [encode(tokenizer, [t], special)[0] for t in texts] == expected


@pytest.mark.skipif(not is_ready(), reason="the demo model is prepared by install.sh")
def test_the_token_bound_is_never_below_the_count() -> None:
    """Seeded random texts over ASCII, accents, combining marks, CJK, emoji, zero-width and
    special-token strings: the byte bound is an upper bound, and reached (it is not loose by
    design). A tokenizer that rewrites text first (a normalizer) gets no bound."""
    import random

    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast

    from benchmark_eval.plugins.models.tokenizers import token_count_bound

    tokenizer = load_tokenizer(str(demo_model_dir()))
    bound = token_count_bound(tokenizer)
    assert bound is not None
    pieces = [chr(c) for c in range(32, 127)] + ["é", "\u0301", "数", "学", "🙂", "\u200b", "\u3000", "\n", "\t",
                                                 "<|im_start|>", "<|im_end|>", "<|endoftext|>", "  ", "\n\n"]
    rng = random.Random(17)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 300))) for _ in range(3000)]
    counts = token_counts(tokenizer, texts)
    assert all(c <= bound(t) for c, t in zip(counts, texts))
    assert any(c == bound(t) and c > 0 for c, t in zip(counts, texts))
    rewritten = tokenizer.backend_tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    rewritten.normalizer = normalizers.NFKC()
    assert token_count_bound(PreTrainedTokenizerFast(tokenizer_object=rewritten)) is None


def test_datasets_asking_at_once_share_one_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first datasets in flight ask for the tokenizer together; it is loaded once (each loaded
    its own copy before: 1 s at the start of every run), and preloaded from the environment."""
    from concurrent.futures import ThreadPoolExecutor

    from benchmark_eval.plugins.models import tokenizers

    if not is_ready():
        pytest.skip("the demo model is not installed (bash install.sh)")
    tokenizers._load.cache_clear()
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: load_tokenizer(str(demo_model_dir())), range(4)))
    assert all(t is loaded[0] for t in loaded)
    tokenizers._load.cache_clear()
    monkeypatch.setenv(handoff.PRELOAD_TOKENIZER_ENV, str(demo_model_dir()))
    tokenizers.preload_tokenizer()
    assert tokenizers._load.cache_info().currsize == 1 and load_tokenizer(str(demo_model_dir())) is tokenizers._load(str(demo_model_dir()))
