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


def _kl_rows(b_top: list[tuple[str, float | None]], c_top: list[tuple[str, float | None]]
             ) -> tuple[list[float], list[float]] | None:
    """The two log-prob rows the truncated KL compares at one position: the baseline's top-k,
    and the candidate's log-probs of the same tokens (a token missing from its top-k gets its
    smallest top-k log-prob: an upper bound on its probability, so the KL is a lower bound)."""
    p = [lp for _, lp in b_top if lp is not None]
    q = [lp for _, lp in c_top if lp is not None]
    if len(p) != len(b_top) or len(q) != len(c_top):  # a NaN log-prob: no distribution to compare
        return None
    if [t for t, _ in b_top] == [t for t, _ in c_top]:
        return p, q  # the usual case: the same tokens in the same order
    c_map = {token: lp for token, lp in c_top if lp is not None}
    floor = min(q)
    return p, [c_map.get(token, floor) for token, _ in b_top]


def truncated_kl(rows_p: list[list[float]], rows_q: list[list[float]]) -> list[float]:
    """KL(baseline || candidate) per position, each row renormalised over its k tokens. Rows
    go through numpy in blocks of one k: a call per position cost 15,000 samples seconds."""
    out = [0.0] * len(rows_p)
    by_k: dict[int, list[int]] = {}
    for i, row in enumerate(rows_p):
        by_k.setdefault(len(row), []).append(i)
    for indices in by_k.values():
        p = np.array([rows_p[i] for i in indices], dtype=float)
        q = np.array([rows_q[i] for i in indices], dtype=float)
        p -= np.logaddexp.reduce(p, axis=1, keepdims=True)
        q -= np.logaddexp.reduce(q, axis=1, keepdims=True)
        for i, kl in zip(indices, np.maximum(0.0, np.sum(np.exp(p) * (p - q), axis=1))):
            out[i] = float(kl)
    return out


def _prefix(base: GenerationTrace, cand: GenerationTrace, divergence: TokenDivergence | None,
            rows_p: list[list[float]], rows_q: list[list[float]]) -> PrefixAgreement:
    """Top-1 agreement and |delta log-prob| over the common-context positions; their KL rows
    are appended to rows_p/rows_q (computed in one batch by the caller). The loop runs once per
    generated token of every sample, so it is written for speed."""
    out = PrefixAgreement()
    b_tokens, c_tokens = base.tokens or [], cand.tokens or []
    end = divergence.position + 1 if divergence is not None else len(b_tokens)
    end = min(end, len(b_tokens), len(c_tokens))
    out.positions = end
    same = [x == y for x, y in zip(b_tokens[:end], c_tokens[:end])]
    b_tops, c_tops = base.top or [], cand.top or []
    if len(b_tops) >= end and len(c_tops) >= end:
        identical = 0  # equal rows: a KL of exactly 0 (fp32 against itself: every row)
        for b_top, c_top in zip(b_tops[:end], c_tops[:end]):
            if not b_top or not c_top:
                continue
            out.top1_agree += b_top[0][0] == c_top[0][0]
            if b_top == c_top:
                identical += None not in (lp for _, lp in b_top)
                continue
            rows = _kl_rows(b_top, c_top)
            if rows is not None:
                rows_p.append(rows[0])
                rows_q.append(rows[1])
        out.kl = [0.0] * identical
    else:  # no top-k stored: the sampled (greedy) tokens are the top-1
        out.top1_agree = sum(same)
    if base.logprobs and cand.logprobs:
        out.abs_dlogprob = [abs(b - c) for b, c, s in zip(base.logprobs[:end], cand.logprobs[:end], same)
                            if s and b is not None and c is not None and math.isfinite(b - c)]
    return out


def prefix_agreement(base: GenerationTrace, cand: GenerationTrace, divergence: TokenDivergence | None) -> PrefixAgreement:
    """Over every position generated from the same context: up to and including the first
    differing one (its context was still common)."""
    rows_p: list[list[float]] = []
    rows_q: list[list[float]] = []
    out = _prefix(base, cand, divergence, rows_p, rows_q)
    out.kl += truncated_kl(rows_p, rows_q)
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
    rows_p: list[list[float]] = []
    rows_q: list[list[float]] = []
    for base, cand in pairs:
        if not (has_tokens(base) and has_tokens(cand)):
            continue
        assert base.generation is not None and cand.generation is not None
        summary.pairs += 1
        divergence = first_divergence(base.generation, cand.generation)
        summary.prefix.add(_prefix(base.generation, cand.generation, divergence, rows_p, rows_q))
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
    summary.prefix.kl += truncated_kl(rows_p, rows_q)
    return summary if summary.pairs else None
