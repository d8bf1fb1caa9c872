"""What the two local backends (HF weights, vLLM offline) share as OpenCompass model classes:
the model's own tokenizer for the scoring rule, and chat or base prompt handling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opencompass.models.base import BaseModel

from .chat_prompts import HFType, template_parser
from .continuation import TokenizedRequest, tokenize_items
from .tokenizers import load_tokenizer


class LocalModel(BaseModel):
    is_api = False

    def __init__(self, path: str, hf_type: HFType, max_seq_len: int, meta_template: dict[str, Any] | None) -> None:
        super().__init__(path=path, max_seq_len=max_seq_len, meta_template=meta_template)
        self.hf_type = hf_type
        self.template_parser = template_parser(hf_type)
        self.tokenizer = load_tokenizer(path)

    def get_token_len(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])

    def tokenize_choices(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[TokenizedRequest]]:
        """The ids each item's choices are scored with (kept from ChoiceLoglikInferencer's length check)."""
        return tokenize_items(self.tokenizer, items)

    def get_ppl(self, inputs: list[str], mask_length: list[int] | None = None) -> list[float]:
        raise NotImplementedError("PPL datasets run through ChoiceLoglikInferencer (score_continuations)")
