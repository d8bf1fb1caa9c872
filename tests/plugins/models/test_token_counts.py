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


def _brute_force(tokenizer: object, items: list[tuple[str, list[str]]]) -> list[tuple[list[int], list[list[int]]]]:
    return [(encode(tokenizer, [context])[0], encode(tokenizer, [context + c for c in conts])) for context, conts in items]


def _five_shot(rows: list[list[str]], header: str, ask: str) -> list[tuple[str, list[str]]]:
    """5-shot multiple-choice contexts as the PPL configs write them (the shots from the rows
    themselves), each with its choices' continuations: a letter after a space, or after a line break."""
    def block(row: list[str]) -> str:
        return f"{row[0]}\nA. {row[1]}\nB. {row[2]}\nC. {row[3]}\nD. {row[4]}\n{ask}"
    shots = "\n\n".join(f"{block(row)} {row[5]}" for row in rows[:5])
    return [(f"{header}\n\n{shots}\n\n{block(row)}", [f" {letter}" for letter in "ABCD"] if i % 2 else
             [f" \n{letter}" for letter in "ABCD"]) for i, row in enumerate(rows[5:])]


@pytest.mark.skipif(not is_ready(), reason="the demo model is prepared by install.sh")
def test_each_context_encoded_once_gives_every_whole_prompts_ids(data_root: Path) -> None:
    """encode_choices encodes a context once and each choice with the context's last two lines;
    the ids must be those of every whole prompt encoded alone: over MMLU's and C-Eval's questions
    in 5-shot prompts and over seeded random texts (accents, CJK, emoji, digits, runs of spaces
    and line breaks, special-token strings), with continuations that merge across the cut. A
    tokenizer whose pieces are not cut by patterns alone (a normalizer) encodes whole prompts."""
    import random

    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast

    from benchmark_eval.plugins.models.tokenizers import encode_choices

    tokenizer = load_tokenizer(str(demo_model_dir()))
    items: list[tuple[str, list[str]]] = []
    for path in sorted((data_root / "data" / "mmlu" / "test").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            items += _five_shot(list(csv.reader(f))[:12], f"The following are multiple choice questions about {path.stem}.",
                                "Answer:")
    for path in sorted((data_root / "data" / "ceval" / "formal_ceval" / "val").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            rows = [row[1:] for row in list(csv.reader(f))[1:]]
        items += _five_shot(rows, f"以下是中国关于{path.stem}考试的单项选择题，请选出其中的正确答案。", "答案：")
    pieces = [chr(c) for c in range(32, 127)] + ["é", "\u0301", "数", "学", "🙂", "\u200b", "\u3000", "\n", "\t", "12345",
                                                 "<|im_start|>", "<|im_end|>", "  ", "\n\n", " \n", "'s", "...", "\r\n"]
    rng = random.Random(23)

    def text(lo: int, hi: int) -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(lo, hi)))
    items += [(text(1, 200) + rng.choice("xA.:9数"), [text(1, 6) for _ in range(rng.randint(2, 4))]) for _ in range(2500)]
    assert len(items) > 3500
    assert encode_choices(tokenizer, items) == _brute_force(tokenizer, items)
    rewritten = tokenizer.backend_tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    rewritten.normalizer = normalizers.NFKC()
    other = PreTrainedTokenizerFast(tokenizer_object=rewritten)
    assert encode_choices(other, items[-300:]) == _brute_force(other, items[-300:])
