"""Log-prob parity for PPL (log-likelihood) datasets.

PPL samples carry every choice's log-likelihood (`Sample.choices`: label, loglik, n_tokens,
mean) and the chosen label (`Sample.chosen`). Two devices agree when they choose the same
answer and give close log-likelihoods; the choice distributions are compared by KL.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import log_softmax

from ..numbers import significant
from ..results import Sample


@dataclass
class LogprobParity:
    n: int
    chosen_agree: float  # share of samples with the same chosen answer
    abs_diff_percentiles: dict[str, float]  # |delta loglik| over all choices: p50, p90, p99, max
    mean_kl: float  # mean KL(baseline || candidate) of the softmax over choices, 4 significant figures
    max_kl: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _logliks(sample: Sample) -> dict[str, float] | None:
    if not sample.choices:
        return None
    return {str(c.label): c.loglik for c in sample.choices}


def logprob_parity(pairs: list[tuple[Sample, Sample]]) -> LogprobParity | None:
    """None when the samples carry no per-choice log-likelihoods (generative datasets)."""
    agree, diffs, kls = [], [], []
    for base, cand in pairs:
        b, c = _logliks(base), _logliks(cand)
        if b is None or c is None or set(b) != set(c):
            continue
        labels = sorted(b)
        bv, cv = np.array([b[k] for k in labels]), np.array([c[k] for k in labels])
        agree.append(base.chosen == cand.chosen)
        diffs.extend(np.abs(bv - cv))
        lp, lq = log_softmax(bv), log_softmax(cv)
        kls.append(float(np.sum(np.exp(lp) * (lp - lq))))
    if not agree:
        return None
    p50, p90, p99 = np.percentile(diffs, [50, 90, 99])
    return LogprobParity(len(agree), float(np.mean(agree)),
                         {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(np.max(diffs))},
                         significant(float(np.mean(kls))), significant(float(np.max(kls))))
