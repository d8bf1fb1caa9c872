"""samples.jsonl: one normalised line per scored sample, the unit of every comparison."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .outputs import read_details, read_predictions
from .records import Choice, GenerationTrace, Sample
from .run_dir import RunDir
from .scripts import prompt_scripts
from .traces import read_traces

#: How stock OpenCompass's perplexity inferencer keys each choice of a prediction ("label: A").
STOCK_PPL_LABEL = "label: "
# Detail keys that describe the sample rather than score it.
_NOT_SCORES = {"example_abbr", "pred", "answer", "prompt", "task_id", "result", "origin_prediction", "predictions", "references", "refr"}


def prompt_sha256(prompt: Any) -> str:
    """Hash of the exact prompt sent (a string, or a list of chat messages)."""
    text = prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def first_replica(value: Any) -> Any:
    # OpenCompass's details hold one list entry per replica; we run one replica.
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def detail_scores(detail: dict[str, Any]) -> dict[str, float]:
    """The numbers of one per-sample result (OpenCompass's details): its scores."""
    scores: dict[str, float] = {}
    for key, raw in detail.items():
        value = first_replica(raw)
        if key in _NOT_SCORES or not isinstance(value, (bool, int, float)):
            continue
        name = "correct" if key == "is_correct" else key
        scores[name] = float(value)
    return scores


def build_samples(run_dir: RunDir, model_abbr: str, abbr: str,
                  traces: dict[str, GenerationTrace] | None = None) -> list[Sample]:
    """`traces`: the run's generation traces (`results.traces.read_traces`), read once per run."""
    if traces is None:
        traces = read_traces(run_dir)
    predictions = read_predictions(run_dir, model_abbr, abbr)
    details = read_details(run_dir, model_abbr, abbr)
    samples = []
    for index in sorted(predictions, key=int):
        pred = predictions[index]
        detail = details[int(index)] if int(index) < len(details) else {}
        sample = Sample(
            dataset=abbr,
            id=str(index),
            prompt_sha256=prompt_sha256(pred.get("origin_prompt")),
            prompt_scripts=prompt_scripts(pred.get("origin_prompt")),
            prediction=pred.get("prediction"),
            extracted=first_replica(detail.get("pred")),
            reference=first_replica(detail["answer"]) if "answer" in detail else pred.get("gold"),
            scores=detail_scores(detail),
        )
        trace = traces.get(sample.prompt_sha256)
        if trace is not None and "choices" not in pred:
            sample.generation = trace
        stock_ppl = sorted(k for k in pred if k.startswith(STOCK_PPL_LABEL))
        if stock_ppl and "choices" not in pred:
            # Stock OpenCompass's perplexity test: its chosen label, and every choice's whole prompt
            # as the sample's input (no log-likelihoods: its perplexities do not pair with ours).
            prompts = [pred[k].get("prompt") for k in stock_ppl]
            sample.prompt_sha256 = prompt_sha256(prompts)
            sample.prompt_scripts = prompt_scripts(prompts[0])
            sample.chosen = pred.get("prediction")
        if "choices" in pred:  # a log-likelihood test: every choice's score, for log-prob parity
            sample.prompt_sha256 = prompt_sha256([pred.get("origin_prompt"), *(c["continuation"] for c in pred["choices"])])
            sample.chosen = pred.get("prediction")
            sample.choices = [Choice(**{k: c[k] for k in ("label", "loglik", "n_tokens", "mean")}) for c in pred["choices"]]
        samples.append(sample)
    return samples
