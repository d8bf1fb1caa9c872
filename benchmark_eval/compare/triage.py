"""One cause for every flipped sample, so that a FAIL or INCONCLUSIVE says why.

The causes are tried in this order, the first that holds is the cause (an earlier one explains
the later ones: a side that returned nothing also "diverged"):
  empty-or-error  one side's answer is empty, or it ended in an error or abort
  degenerate      one side's answer is a repetition loop, garbled text or text in a writing
                  system that neither the prompt, the reference nor the other side uses (a
                  Chinese answer to a Chinese question never is), or carries a NaN-like log-prob
  truncated       exactly one side stopped at max_out_len (finish_reason "length")
  extraction      both sides wrote the same text but extracted different answers, or the
                  answer extraction found nothing on one side only
  scoring         same text, same extracted answer, different score (the evaluator itself
                  varied, e.g. a program's time limit)
  near-tie        the generations part where the baseline's top-1 led its top-2 by less than τ
  confident       they part where the baseline was sure (a lead of τ or more): read these
  no-logprobs     the texts differ and the runs kept no token log-probs to say where or why
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from ..results import Sample
from ..results.records import GenerationTrace
from ..results.scripts import scripts_in
from .divergence import TokenDivergence, first_divergence, has_tokens

Cause = Literal["empty-or-error", "degenerate", "truncated", "extraction", "scoring", "near-tie", "confident",
                "no-logprobs"]
CAUSES: tuple[Cause, ...] = ("empty-or-error", "degenerate", "truncated", "extraction", "scoring", "near-tie",
                             "confident", "no-logprobs")
#: vLLM writes a log-prob of minus infinity as -9999.0.
_NEG_INF_LOGPROB = -9999.0
# A unit of 2-40 characters repeated at least 5 times in a row, over 60 characters or more.
_LOOP = re.compile(r"(.{2,40}?)\1{4,}", re.DOTALL)
_LOOP_MIN_CHARS = 60


@dataclass(frozen=True)
class Triage:
    cause: Cause
    detail: str  # one line for a person
    divergence: TokenDivergence | None = None
    aligned: tuple[str, str, str] | None = None  # common prefix, baseline's rest, candidate's rest


def _text(sample: Sample) -> str:
    return "" if sample.prediction is None else str(sample.prediction)


def _stopped_badly(trace: GenerationTrace | None) -> bool:
    return trace is not None and trace.finish_reason in ("error", "abort")


def degenerate_reason(sample: Sample, other: Sample) -> str | None:
    """Why a sample's output is degenerate, or None. `other`: the same sample on the other side."""
    trace = sample.generation
    if trace is not None and trace.logprobs is not None and any(
            lp is None or lp <= _NEG_INF_LOGPROB for lp in trace.logprobs):
        return "a NaN or -inf log-prob among its tokens"
    text = _text(sample)
    if "\ufffd" in text:
        return "garbled text (Unicode replacement characters)"
    loop = max((m.group(0) for m in _LOOP.finditer(text)), key=len, default="")
    if len(loop) >= _LOOP_MIN_CHARS:
        unit = _LOOP.match(loop)
        return f"a repetition loop ({unit.group(1)!r} repeated)" if unit else "a repetition loop"
    letters = scripts_in(text)
    # What the sample is written in: its prompt's systems (recorded since samples carry them),
    # the other side's answer and the reference. A language the prompt uses is never foreign.
    known = set(scripts_in(_text(other)) + scripts_in(str(sample.reference or "")))
    known.update(sample.prompt_scripts or (), other.prompt_scripts or ())
    foreign = sum(n for script, n in letters.items() if script not in known)
    if known and foreign >= 5 and foreign >= 0.2 * sum(letters.values()):
        scripts = ", ".join(sorted(s for s in letters if s not in known))
        return f"text in a writing system that neither the prompt, the reference nor the other side uses ({scripts})"
    return None


def _aligned(base: Sample, cand: Sample) -> tuple[str, str, str]:
    """Both texts cut at their first differing character: (common prefix, baseline's rest, candidate's rest)."""
    b, c = _text(base), _text(cand)
    n = next((i for i, (x, y) in enumerate(zip(b, c)) if x != y), min(len(b), len(c)))
    return b[:n], b[n:], c[n:]


def _extraction_failed(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def triage(base: Sample, cand: Sample, tau: float) -> Triage:
    for side, sample in (("baseline", base), ("candidate", cand)):
        if not _text(sample).strip() or _stopped_badly(sample.generation):
            reason = sample.generation.finish_reason if _stopped_badly(sample.generation) and sample.generation else "empty"
            return Triage("empty-or-error", f"the {side}'s answer: {reason}")
    for side, sample, other in (("baseline", base, cand), ("candidate", cand, base)):
        reason = degenerate_reason(sample, other)
        if reason:
            return Triage("degenerate", f"the {side}'s answer: {reason}", aligned=_aligned(base, cand))
    truncated = [side for side, s in (("baseline", base), ("candidate", cand))
                 if s.generation is not None and s.generation.finish_reason == "length"]
    if len(truncated) == 1:
        return Triage("truncated", f"only the {truncated[0]} stopped at max_out_len", aligned=_aligned(base, cand))
    if _text(base) == _text(cand):
        if base.extracted != cand.extracted:
            return Triage("extraction", f"same text, extracted {base.extracted!r} vs {cand.extracted!r}")
        return Triage("scoring", "same text and extracted answer, scored differently by the evaluator")
    failed = [side for side, s in (("baseline", base), ("candidate", cand)) if _extraction_failed(s.extracted)]
    if len(failed) == 1:
        return Triage("extraction", f"no answer extracted from the {failed[0]}'s text", aligned=_aligned(base, cand))
    if not (has_tokens(base) and has_tokens(cand)):
        return Triage("no-logprobs", "the texts differ; the runs kept no token log-probs", aligned=_aligned(base, cand))
    assert base.generation is not None and cand.generation is not None
    divergence = first_divergence(base.generation, cand.generation)
    if divergence is None:  # same tokens, different text: the detokenisation differs
        return Triage("confident", "same tokens, different text (detokenisation)", aligned=_aligned(base, cand))
    where = (f"token {divergence.position}: baseline {divergence.baseline_token!r}, "
             f"candidate {divergence.candidate_token!r}")
    if divergence.margin is None:
        return Triage("confident", f"{where}; no top-2 log-prob stored, margin unknown", divergence, _aligned(base, cand))
    lookup = ("not in the candidate's top-k" if divergence.candidate_logprob_of_baseline is None
              else f"candidate's log-prob of it {divergence.candidate_logprob_of_baseline:.3f}")
    cause: Cause = "near-tie" if divergence.margin < tau else "confident"
    return Triage(cause, f"{where}; baseline margin {divergence.margin:.3f} nats ({lookup})", divergence,
                  _aligned(base, cand))


def reading(counts: Counter[str], tau: float) -> str:
    """The one-line reading of a unit's (or a run's) causes."""
    total = sum(counts.values())
    if not total:
        return "no flipped sample"
    lead, n = counts.most_common(1)[0]
    words = {"near-tie": f"near-ties (baseline margin < {tau:g} nats: rounding can flip them)",
             "confident": "confident divergences (the baseline was sure)", "truncated": "truncated on one side",
             "extraction": "extraction differences", "empty-or-error": "empty or error answers",
             "degenerate": "degenerate outputs", "scoring": "scored differently on the same answer",
             "no-logprobs": "unexplained (no token log-probs kept)"}
    text = f"{n} of {total} flips are {words[lead]}"
    if counts["confident"] and lead != "confident":  # named on its own: these are the ones to read
        text += f"; {counts['confident']} confident divergence(s) to read"
    rest = [f"{counts[c]} {words[c].split(' (')[0]}" for c in CAUSES if c not in (lead, "confident") and counts[c]]
    return text + (f"; {', '.join(rest)}" if rest else "")


def triage_choices(base: Sample, cand: Sample, tau: float) -> Triage:
    """A log-likelihood (PPL) flip: the baseline's lead of its chosen answer over its runner-up
    is the margin (the same τ as for generations: both are log-prob differences)."""
    if base.chosen == cand.chosen:
        return Triage("scoring", f"same chosen answer {base.chosen!r}, scored differently")
    b = {str(c.label): c.loglik for c in base.choices or []}
    c = {str(x.label): x.loglik for x in cand.choices or []}
    chosen = str(base.chosen)
    others = [v for label, v in b.items() if label != chosen]
    if chosen not in b or not others:
        return Triage("confident", f"chose {base.chosen!r} vs {cand.chosen!r}; margin unknown")
    margin = b[chosen] - max(others)
    gap = f"; the candidate's log-likelihood of it {c[chosen]:.3f}" if chosen in c else ""
    detail = f"chose {base.chosen!r} vs {cand.chosen!r}; baseline lead over its runner-up {margin:.3f} nats{gap}"
    return Triage("near-tie" if margin < tau else "confident", detail)


def explain_flip(base: Sample, cand: Sample, tau: float) -> Triage:
    return triage_choices(base, cand, tau) if base.choices is not None and cand.choices is not None else triage(base, cand, tau)
