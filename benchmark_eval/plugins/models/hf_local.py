"""Local Hugging Face weights on cpu, cuda or npu, as one OpenCompass model class.

Written against plain `transformers` (4.57 in the evaluator environment, 5.x on GPU images)
rather than OpenCompass's HF classes, which call tokenizer APIs transformers 5 removed and
whose PPL depends on padding. Scoring follows `continuation`'s rule: one pass per node of an
item's token trie (MMLU: one over the shared context), one sequence a pass on the CPU, so batch
size (which applies to generation) never changes a score there. Generations leave the same
traces as the server's (finish reason, length and, with `logprobs` >= 1, each token's log-prob
from the raw logits and the top-k alternatives), by prompt hash (`results.traces`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...handoff import generations_folder
from ...results.samples import prompt_sha256
from ...results.traces import TraceWriter, compact_trace
from .chat_prompts import HFType, generation_ids
from .continuation import (
    ContinuationRequest,
    ContinuationScore,
    TokenizedRequest,
    logprobs_along_trie,
    next_token_questions,
    score_from_logprobs,
    tokenized_items,
)
from .devices import Device, prepare_device
from .local import LocalModel
from .progress import tick

#: Padded tokens per forward pass when an accelerator asks next-token questions in batches.
_BATCH_TOKENS = 16384


class HFCausalLM(LocalModel):
    def __init__(self, path: str, hf_type: HFType = "chat", device: Device = "cpu", dtype: str = "float32",
                 num_devices: int = 1, max_seq_len: int = 2048, logprobs: int = 0, ppl_requests: str = "next_token",
                 log_dir: str | None = None,
                 meta_template: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(path, hf_type, max_seq_len, meta_template)
        self.logprobs = logprobs
        self.ppl_requests = ppl_requests  # next_token, or prompt_logprobs: every choice's whole sequence
        self.traces = TraceWriter(generations_folder(log_dir)) if log_dir else None
        import torch
        from transformers import AutoModelForCausalLM

        self.device = prepare_device(device)
        # Single-token choices in padded batches on an accelerator; one context per pass on the CPU.
        self.batched_next_token = not str(self.device).startswith("cpu")
        # RunSettings allows auto, float32, bfloat16, float16: torch's own names.
        torch_dtype = getattr(torch, dtype) if dtype != "auto" else "auto"
        placement: dict[str, Any] = {"device_map": "auto"} if num_devices > 1 else {}
        # Any: the class is chosen from config.json at run time (LlamaForCausalLM, ...).
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, local_files_only=True, **placement)
        if not placement:
            model.to(self.device)
        model.eval()
        self.model = model

    def score_continuations(self, requests: Sequence[ContinuationRequest]) -> list[ContinuationScore]:
        # An item's choices are consecutive requests with one context. Next-token scoring: one
        # pass per node of the item's token trie (MMLU: one over the context), none per choice.
        items = tokenized_items(self.tokenizer, requests)
        tries = {i: nodes for i, item in enumerate(items)
                 if self.ppl_requests == "next_token" and (nodes := next_token_questions(item)) is not None}
        asked = [((*items[i][0].context_ids, *prefix), tokens) for i, nodes in tries.items() for prefix, tokens in nodes.items()]
        answers = iter(self._next_token_logprobs(asked))
        scores: list[ContinuationScore] = []
        for i, item in enumerate(items):
            if i in tries:
                nodes = tries[i]
                scores += map(score_from_logprobs, logprobs_along_trie(item, nodes, [next(answers) for _ in nodes]))
            else:
                scores += [self._sequence_score(r) for r in item]
            tick(len(item))
        return scores

    def _logits(self, ids: Sequence[int]) -> Any:
        import torch

        # One sequence per forward pass: CPU and GPU kernels pick their reduction order by batch
        # shape (measured here: fp32 logits move by up to 3.5e-3 between batch 1 and 4), so any
        # batching, padded or not, would make a score depend on its neighbours.
        with torch.no_grad():
            return self.model(input_ids=torch.tensor([list(ids)], device=self.model.device)).logits[0]

    def _sequence_score(self, request: TokenizedRequest) -> ContinuationScore:
        import torch

        logits = self._logits(request.ids)
        start = len(request.context_ids)
        # Position t predicts token t+1; log-softmax in float32 whatever the weights' dtype.
        logprobs = torch.log_softmax(logits[start - 1:-1].float(), dim=-1)
        targets = torch.tensor(request.continuation_ids, device=logprobs.device)
        return score_from_logprobs(logprobs.gather(1, targets[:, None])[:, 0].tolist())

    def _next_token_logprobs(self, asked: list[tuple[tuple[int, ...], list[int]]]) -> list[list[float]]:
        """Per (context, tokens): the tokens' log-probs as the context's next token, from one pass
        over the context (a causal model's last context position is what the whole prompt's pass
        computes for it). On the CPU one context per pass, as every score there. On an
        accelerator, contexts of similar length in right-padded batches: the padding comes after
        every real token, so no real position attends to it, but the batch shape changes the
        kernels' reduction order, and with it the last digits (docs/ppl.md states the bound)."""
        import torch

        out: list[list[float]]
        if not self.batched_next_token:
            out = []
            for context, tokens in asked:
                last = torch.log_softmax(self._logits(context)[-1].float(), dim=-1)
                out.append([float(last[t]) for t in tokens])
            return out
        out = [[] for _ in asked]
        order = sorted(range(len(asked)), key=lambda i: len(asked[i][0]))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        start = 0
        while start < len(order):
            # As many contexts as fit _BATCH_TOKENS padded tokens (the longest is last in a batch).
            stop = start + 1
            while stop < len(order) and (stop - start + 1) * len(asked[order[stop]][0]) <= _BATCH_TOKENS:
                stop += 1
            batch = order[start:stop]
            width = len(asked[batch[-1]][0])
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for place, i in enumerate(batch):
                ids[place, :len(asked[i][0])] = torch.tensor(asked[i][0])
                mask[place, :len(asked[i][0])] = 1
            with torch.no_grad():
                logits = self.model(input_ids=ids.to(self.model.device), attention_mask=mask.to(self.model.device)).logits
            for place, i in enumerate(batch):
                values = torch.log_softmax(logits[place, len(asked[i][0]) - 1].float(), dim=-1)
                out[i] = [float(values[t]) for t in asked[i][1]]
            start = stop
        return out

    def generate(self, inputs: list[Any], max_out_len: int, **kwargs: Any) -> list[str]:
        import torch

        prompts = generation_ids(self.tokenizer, inputs, self.hf_type)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        width = max(map(len, prompts))
        # Left padding so every row's generation starts at the same position.
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.model.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.model.device)
        with torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_out_len,
                                      do_sample=False, pad_token_id=pad, return_dict_in_generate=True,
                                      output_logits=self.logprobs > 0)
        rows = out.sequences[:, width:].tolist()
        if self.traces is not None:  # before the texts go back: a sample never has a text without its trace
            self.traces.write((prompt_sha256(prompt), self._trace(rows[b], out.logits, b)) for b, prompt in enumerate(inputs))
        tick(len(prompts))
        return [self.tokenizer.decode(row, skip_special_tokens=True) for row in rows]

    def _trace(self, row: list[int], logits: Any, b: int) -> dict[str, Any]:
        """Row b's generation as the server describes one: it stops at (and includes) an
        end-of-text token, the rest of the row is padding."""
        import torch

        configured = self.model.generation_config.eos_token_id  # an id, a list of ids, or None
        ends = {t for t in [*([configured] if isinstance(configured, int) else configured or []), self.tokenizer.eos_token_id]
                if t is not None}
        stop = next((i + 1 for i, token in enumerate(row) if token in ends), None)
        length = stop or len(row)
        content = None
        if self.logprobs > 0 and logits is not None:
            content = []
            for step, token in enumerate(row[:length]):
                # Raw logits (not the processed scores), in float32 whatever the weights' dtype.
                logprobs = torch.log_softmax(logits[step][b].float(), dim=-1)
                top = torch.topk(logprobs, self.logprobs)
                content.append({"token": self.tokenizer.decode([token]), "logprob": float(logprobs[token]),
                                "top_logprobs": [{"token": self.tokenizer.decode([i]), "logprob": v}
                                                 for v, i in zip(top.values.tolist(), top.indices.tolist())]})
        return compact_trace("stop" if stop else "length", length, content)
