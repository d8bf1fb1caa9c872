"""Where two devices' generations part, and how close their next-token distributions were.

Both runs sent the same prompt (paired samples share its hash), so until the first generated
token that differs both sides saw the same context: there their next-token distributions are
comparable position by position (top-1 agreement, a truncated KL over the top-k, the chosen
token's log-prob gap). At the first differing token, the baseline's margin (its top-1 minus
its top-2 log-prob) says whether the baseline itself was nearly undecided: a near-tie is what
rounding can flip (benign), a confident divergence is what it should not (read it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..results import Sample
from ..results.records import GenerationTrace

#: The default near-tie bound: a baseline top-1 lead under this many nats at the first differing
#: token. bf16 rounds log-probs by about 0.01-0.1 per token (FIELD-NOTES; the bf16-vs-fp32
#: prefixes measured in tests/compare show the same scale), so a lead of 0.5 nats is within
#: reach of accumulated rounding; one of several nats is not.
NEAR_TIE_NATS = 0.5


@dataclass(frozen=True)
class TokenDivergence:
    position: int  # index of the first generated token that differs (0 = the first token)
    baseline_token: str | None  # None: that side had stopped
    candidate_token: str | None
    margin: float | None  # baseline's top-1 minus top-2 log-prob there; None: not stored
    candidate_logprob_of_baseline: float | None  # from the candidate's top-k; None: not in it

    def near_tie(self, tau: float) -> bool | None:
        return None if self.margin is None else self.margin < tau


@dataclass
class PrefixAgreement:
    """Next-token distributions over the positions both sides generated from the same context."""

    positions: int = 0
    top1_agree: int = 0
    kl: list[float] = field(default_factory=list)  # truncated KL(baseline || candidate) per position
    abs_dlogprob: list[float] = field(default_factory=list)  # |delta log-prob| of the common chosen token

    def add(self, other: PrefixAgreement) -> None:
        self.positions += other.positions
        self.top1_agree += other.top1_agree
        self.kl += other.kl
        self.abs_dlogprob += other.abs_dlogprob


def has_tokens(sample: Sample) -> bool:
    return sample.generation is not None and sample.generation.tokens is not None


def first_divergence(base: GenerationTrace, cand: GenerationTrace) -> TokenDivergence | None:
    """None when both generated the same tokens."""
    b, c = base.tokens or [], cand.tokens or []
    position = next((i for i, (x, y) in enumerate(zip(b, c)) if x != y), min(len(b), len(c)))
    if position == len(b) == len(c):
        return None
    b_token = b[position] if position < len(b) else None
    c_token = c[position] if position < len(c) else None
    margin = lookup = None
    b_top = base.top[position] if base.top and position < len(base.top) else []
    if len(b_top) >= 2 and b_top[0][1] is not None and b_top[1][1] is not None:
        margin = float(b_top[0][1] - b_top[1][1])
    c_top = cand.top[position] if cand.top and position < len(cand.top) else []
    if b_token is not None:
        lookup = next((lp for token, lp in c_top if token == b_token), None)
    return TokenDivergence(position, b_token, c_token, margin, lookup)


def _truncated_kl(b_top: list[tuple[str, float | None]], c_top: list[tuple[str, float | None]]) -> float | None:
    """KL(baseline || candidate) over the baseline's top-k tokens, each side renormalised over
    them; a token missing from the candidate's top-k gets the candidate's smallest top-k log-prob
    (an upper bound on its probability, so the KL is a lower bound)."""
    if not b_top or not c_top or any(lp is None for _, lp in b_top + c_top):
        return None
    # Plain math, not numpy: k is 5 and there is a call per generated token (numpy's per-call
    # overhead made 15,000 samples take tens of seconds).
    c_map = {token: float(lp) for token, lp in c_top if lp is not None}
    floor = min(c_map.values())
    p = [float(lp) for _, lp in b_top if lp is not None]
    q = [c_map.get(token, floor) for token, _ in b_top]
    p_norm, q_norm = _logsumexp(p), _logsumexp(q)
    return max(0.0, sum(math.exp(x - p_norm) * ((x - p_norm) - (y - q_norm)) for x, y in zip(p, q)))


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def prefix_agreement(base: GenerationTrace, cand: GenerationTrace, divergence: TokenDivergence | None) -> PrefixAgreement:
    """Over every position generated from the same context: up to and including the first
    differing one (its context was still common)."""
    out = PrefixAgreement()
    b_tokens, c_tokens = base.tokens or [], cand.tokens or []
    end = divergence.position + 1 if divergence is not None else len(b_tokens)
    end = min(end, len(b_tokens), len(c_tokens))
    for i in range(end):
        b_top = base.top[i] if base.top and i < len(base.top) else []
        c_top = cand.top[i] if cand.top and i < len(cand.top) else []
        out.positions += 1
        if b_top and c_top:
            out.top1_agree += b_top[0][0] == c_top[0][0]
            kl = _truncated_kl(b_top, c_top)
            if kl is not None:
                out.kl.append(kl)
        elif b_tokens[i] == c_tokens[i]:  # no top-k stored: the sampled (greedy) tokens are the top-1
            out.top1_agree += 1
        b_lp = base.logprobs[i] if base.logprobs else None
        c_lp = cand.logprobs[i] if cand.logprobs else None
        if b_tokens[i] == c_tokens[i] and b_lp is not None and c_lp is not None and math.isfinite(b_lp - c_lp):
            out.abs_dlogprob.append(abs(b_lp - c_lp))
    return out


def percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(np.max(values))}


@dataclass
class DivergenceSummary:
    """One dataset's generative pairs with token traces on both sides."""

    dataset: str
    tau: float
    pairs: int = 0
    diverging: int = 0
    near_tie: int = 0
    confident: int = 0
    unknown_margin: int = 0  # no top-2 stored at the divergence
    # Each diverging pair: its first differing token and the baseline's margin there (None: not stored).
    points: list[tuple[int, float | None]] = field(default_factory=list)
    prefix: PrefixAgreement = field(default_factory=PrefixAgreement)

    @property
    def positions(self) -> list[int]:
        return [position for position, _ in self.points]

    @property
    def margins(self) -> list[float]:
        return [margin for _, margin in self.points if margin is not None]

    @property
    def share(self) -> float:
        return self.diverging / self.pairs if self.pairs else 0.0

    @property
    def top1_agreement(self) -> float | None:
        return self.prefix.top1_agree / self.prefix.positions if self.prefix.positions else None

    def to_dict(self) -> dict[str, object]:
        return {"dataset": self.dataset, "pairs": self.pairs, "diverging": self.diverging, "share": self.share,
                "near_tie": self.near_tie, "confident": self.confident, "unknown_margin": self.unknown_margin,
                "tau": self.tau, "position": percentiles([float(p) for p in self.positions]),
                "margin": percentiles(self.margins), "prefix_positions": self.prefix.positions,
                "top1_agreement": self.top1_agreement, "kl": percentiles(self.prefix.kl),
                "abs_dlogprob": percentiles(self.prefix.abs_dlogprob)}


def summarise(dataset: str, pairs: list[tuple[Sample, Sample]], tau: float) -> DivergenceSummary | None:
    """None when no pair has token traces on both sides (PPL datasets, log-probs off, old runs)."""
    summary = DivergenceSummary(dataset, tau)
    for base, cand in pairs:
        if not (has_tokens(base) and has_tokens(cand)):
            continue
        assert base.generation is not None and cand.generation is not None
        summary.pairs += 1
        divergence = first_divergence(base.generation, cand.generation)
        summary.prefix.add(prefix_agreement(base.generation, cand.generation, divergence))
        if divergence is None:
            continue
        summary.diverging += 1
        summary.points.append((divergence.position, divergence.margin))
        tie = divergence.near_tie(tau)
        if tie is None:
            summary.unknown_margin += 1
        else:
            summary.near_tie += tie
            summary.confident += not tie
    return summary if summary.pairs else None
