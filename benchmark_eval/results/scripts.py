"""The writing systems a text's letters are written in (LATIN, HAN, CYRILLIC, HIRAGANA, ...).

samples.jsonl records those of each prompt, so that flip triage can tell an answer in the
prompt's own language (a Chinese answer to a C-Eval question) from text in a system nothing in
the sample uses (Cyrillic in a Chinese answer: the classic sign of a broken kernel).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterator
from typing import Any

# Unicode names start with the system for most letters; these starts name it otherwise.
_SYSTEM = {"CJK": "HAN"}


def script_of(char: str) -> str | None:
    """The writing system of one letter, None for anything that is not a letter."""
    if not char.isalpha():
        return None
    # NFKC: a full-width Ａ is LATIN, a half-width ｶ is KATAKANA.
    folded = unicodedata.normalize("NFKC", char)[:1] or char
    name = unicodedata.name(folded, "")
    start = name.split(" ", 1)[0] if name else "UNKNOWN"
    return _SYSTEM.get(start, start)


def scripts_in(text: str) -> Counter[str]:
    """How many letters of each writing system `text` holds."""
    found: Counter[str] = Counter()
    for char in text:
        script = script_of(char)
        if script is not None:
            found[script] += 1
    return found


def _strings(value: Any) -> Iterator[str]:
    """The text of a prompt: a string, or chat messages (their contents, not their keys)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def prompt_scripts(prompt: Any) -> list[str]:
    """The writing systems a prompt uses, sorted. Roles such as HUMAN are Latin in every prompt,
    so only the contents of chat messages count."""
    if isinstance(prompt, (list, tuple)):
        texts = [(m.get("prompt") or m.get("content") or "") if isinstance(m, dict) else m for m in prompt]
    else:
        texts = [prompt]
    found: Counter[str] = Counter()
    for text in _strings(texts):
        found.update(scripts_in(text))
    return sorted(found)
