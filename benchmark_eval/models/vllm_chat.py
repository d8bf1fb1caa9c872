"""Generative tests over vLLM's OpenAI-compatible chat endpoint.

OpenCompass's `OpenAISDK` is sound (bounded retries, a timeout) but tells nobody how far it
got; this subclass only counts finished requests for the progress display.
"""

from __future__ import annotations

from opencompass.models import OpenAISDK

from .progress import tick


class VLLMChat(OpenAISDK):
    def _generate(self, input, max_out_len: int, temperature: float) -> str:  # type: ignore[no-untyped-def]
        try:
            return super()._generate(input, max_out_len, temperature)
        finally:
            tick()
