"""OpenCompass prompts -> token ids for local generation (HF weights or vLLM offline).

Chat models get their own chat template (as the vLLM server applies it to chat requests);
base models get the plain concatenation. OpenCompass's own message conversion is reused.
"""

from __future__ import annotations

from typing import Any, Literal

from opencompass.models.base import LMTemplateParser
from opencompass.models.base_api import APITemplateParser

from ...compat import convert_chat_messages

HFType = Literal["base", "chat"]

# HUMAN/BOT/SYSTEM rounds kept as roles, so the chat template sees real messages.
_CHAT_META = {"round": [{"role": "HUMAN", "api_role": "HUMAN"}, {"role": "BOT", "api_role": "BOT", "generate": True}],
              "reserved_roles": [{"role": "SYSTEM", "api_role": "SYSTEM"}]}


def template_parser(hf_type: HFType) -> Any:
    return APITemplateParser(_CHAT_META) if hf_type == "chat" else LMTemplateParser()


def generation_ids(tokenizer: Any, inputs: list[Any], hf_type: HFType) -> list[list[int]]:
    if hf_type == "chat":
        texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
                 for m in convert_chat_messages(inputs)]
        # The template already holds any special tokens.
        return [list(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    return [list(tokenizer(t if isinstance(t, str) else LMTemplateParser().parse_template(t, mode="gen"),
                           add_special_tokens=True)["input_ids"]) for t in inputs]
