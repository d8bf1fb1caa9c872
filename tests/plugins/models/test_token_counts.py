"""Token counts through the fast tokenizer's Rust encoder are Transformers' own counts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

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
