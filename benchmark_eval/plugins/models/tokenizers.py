"""One cached tokenizer per model folder, loaded offline."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from ...handoff import PRELOAD_TOKENIZER_ENV

#: A tokenizer folder for OpenCompass's process to load while it waits for "go" (set by run/pipeline.py).
_LOADING = threading.Lock()


def load_tokenizer(path: str) -> Any:
    """Loaded once per folder, also when several datasets in flight ask at once (unlocked, each
    of the first four loaded its own copy: 1 s at the start of every run)."""
    with _LOADING:
        return _load(str(path))


@lru_cache(maxsize=4)
def _load(path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def preload_tokenizer() -> None:
    """Load the tokenizer PRELOAD_TOKENIZER_ENV names, if any: the model's first prompts then find it."""
    path = os.environ.get(PRELOAD_TOKENIZER_ENV)
    if path:
        load_tokenizer(path)


def encode(tokenizer: Any, texts: list[str], special: bool = True) -> list[list[int]]:
    """tokenizer(texts, add_special_tokens=special).input_ids, through the fast tokenizer's Rust
    encoder directly where there is one (and it truncates and pads nothing, as Transformers'
    call does not by default). Transformers' Python wrapper around it cost 0.8 ms a prompt, 11 s
    of CPU for MMLU's 14,042 length checks; the ids are the same
    (tests/plugins/models/test_token_counts.py). Every count and every scored id goes through here."""
    if not texts:
        return []
    backend = getattr(tokenizer, "backend_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    if backend is None or backend.truncation is not None or backend.padding is not None:
        return [list(ids) for ids in tokenizer(texts, add_special_tokens=special)["input_ids"]]
    if len(texts) == 1:
        # One text (the length check's count of each generation prompt): encode_batch would hand
        # it to its thread pool and wait for a worker, which on a busy machine (two cores shared
        # with the request loop and the server) waited milliseconds to be scheduled: 17 s of the
        # length checks' thread time over MMLU's 14,042 prompts instead of about 2.5 s.
        return [backend.encode(texts[0], add_special_tokens=special).ids]
    return [encoding.ids for encoding in backend.encode_batch(texts, add_special_tokens=special)]


def token_counts(tokenizer: Any, texts: list[str]) -> list[int]:
    """len(tokenizer(text).input_ids) for each text, special tokens included."""
    return [len(ids) for ids in encode(tokenizer, texts)]


def _pre_tokenizers(spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    if spec is None:
        return []
    return [p for inner in spec.get("pretokenizers", []) for p in _pre_tokenizers(inner)] if spec.get("type") == "Sequence" else [spec]


def _last_lines_start(text: str) -> int:
    """Where the text's last two lines begin (0 for a text of one or two lines)."""
    last = text.rfind("\n", 0, len(text) - 1)
    return text.rfind("\n", 0, last) + 1 if last > 0 else 0


def encode_choices(tokenizer: Any, items: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[list[int], list[list[int]]]]:
    """For each (context, continuations): encode(context) and encode(context + c) for each c, as
    `encode` gives them (special tokens included).

    A byte-level BPE (`_pieces_merge_alone`) cuts a text into pieces by its pre-tokenizer's
    pattern and merges bytes within a piece only, and where a piece starts depends on the few
    characters around it, not on text a line away. So the ids of context + c are the context's
    ids up to its last two lines, then the ids of those lines + c: each context is encoded once,
    and each choice only with the lines it ends in, instead of every choice's whole prompt
    (MMLU: four 5-shot prompts an item). Each item's cut is checked: the context's own ids must
    end with those of its last two lines encoded alone; where they do not, and for every other
    tokenizer, the whole texts are encoded (tests/plugins/models/test_token_counts.py holds the
    two ways equal over MMLU's and C-Eval's prompts)."""
    context_ids = encode(tokenizer, [context for context, _ in items])
    cut_lines = _pieces_merge_alone(tokenizer)
    cuts = [_last_lines_start(context) if cut_lines else -1 for context, _ in items]
    tails = encode(tokenizer, [context[cut:] for (context, _), cut in zip(items, cuts) if cut >= 0], special=False)
    ends = iter(encode(tokenizer, [context[cut:] + c for (context, conts), cut in zip(items, cuts) if cut >= 0 for c in conts],
                       special=False))
    heads: list[list[int] | None] = []
    tail_ids = iter(tails)
    for ids, cut in zip(context_ids, cuts):
        tail = next(tail_ids) if cut >= 0 else None
        heads.append(ids[:len(ids) - len(tail)] if tail and ids[len(ids) - len(tail):] == tail else None)
    ended = [[next(ends) for _ in conts] if cut >= 0 else [] for (_, conts), cut in zip(items, cuts)]
    whole = iter(encode(tokenizer, [context + c for (context, conts), head in zip(items, heads) if head is None for c in conts]))
    return [(ids, [head + end for end in ends_of] if head is not None else [next(whole) for _ in conts])
            for ids, head, ends_of, (_, conts) in zip(context_ids, heads, ended, items)]


def _byte_level_bpe(tokenizer: Any) -> dict[str, Any] | None:
    """The fast tokenizer's spec where it is a byte-level BPE whose pieces nothing rewrites first
    (no normalizer, no prefix space added) and that splits by patterns only; else None."""
    backend = getattr(tokenizer, "backend_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    if backend is None:
        return None
    spec: dict[str, Any] = json.loads(backend.to_str())
    pieces = _pre_tokenizers(spec.get("pre_tokenizer"))
    byte_level = [p for p in pieces if p.get("type") == "ByteLevel"]
    if (spec.get("normalizer") is not None or spec.get("model", {}).get("type") != "BPE" or not byte_level
            or any(p.get("add_prefix_space") for p in byte_level)
            or any(p.get("type") not in ("ByteLevel", "Split", "Digits", "Punctuation") for p in pieces)):
        return None
    return spec


@lru_cache(maxsize=4)
def _pieces_merge_alone(tokenizer: Any) -> bool:
    return _byte_level_bpe(tokenizer) is not None


@lru_cache(maxsize=4)
def token_count_bound(tokenizer: Any) -> Callable[[str], int] | None:
    """An upper bound on `token_counts` of a text that tokenizes nothing, where the tokenizer
    admits one; else None.

    A byte-level BPE (GPT-2's scheme: SmolLM2, Llama 3, ...) maps every UTF-8 byte of the text
    to one symbol and merges symbols, so each token covers at least one byte: at most one token
    per byte, plus the special tokens its post-processor adds. That holds only when nothing
    rewrites the text first (no normalizer) and no prefix space is added (which ByteLevel adds to
    every piece a Split or an added token leaves). Every other tokenizer gets None: exact counts."""
    if _byte_level_bpe(tokenizer) is None:
        return None
    specials = len(tokenizer.backend_tokenizer.encode("", add_special_tokens=True).ids)

    def bound(text: str) -> int:
        return len(text.encode("utf-8")) + specials

    return bound
