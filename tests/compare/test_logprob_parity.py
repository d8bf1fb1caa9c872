import math

import pytest

from benchmark_eval.compare.logprob_parity import logprob_parity
from benchmark_eval.results import Choice, Sample


def _sample(chosen: str, logliks: dict[str, float]) -> Sample:
    return Sample(dataset="d", id="0", prompt_sha256="p", scores={}, chosen=chosen,
                  choices=[Choice(label=k, loglik=v, n_tokens=1, mean=v) for k, v in logliks.items()])


def test_identical_logliks_agree_fully() -> None:
    s = _sample("A", {"A": -1.0, "B": -2.0, "C": -3.0, "D": -4.0})
    parity = logprob_parity([(s, s)] * 3)
    assert parity is not None and parity.n == 3 and parity.chosen_agree == 1.0
    assert parity.mean_kl == 0.0 and parity.abs_diff_percentiles["max"] == 0.0


def test_shifted_logliks_and_a_flipped_choice_are_measured() -> None:
    base = _sample("A", {"A": -1.0, "B": -1.5})
    cand = _sample("B", {"A": -1.6, "B": -1.5})
    parity = logprob_parity([(base, cand), (base, base)])
    assert parity.chosen_agree == 0.5
    assert parity.abs_diff_percentiles["max"] == pytest.approx(0.6)
    p = [1 / (1 + math.exp(-0.5)), 1 / (1 + math.exp(0.5))]
    q = [1 / (1 + math.exp(0.1)), 1 / (1 + math.exp(-0.1))]
    kl = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    assert parity.max_kl == pytest.approx(kl, rel=1e-3) and parity.mean_kl == pytest.approx(kl / 2, rel=1e-3)  # 4 figures kept


def test_generative_samples_have_no_parity() -> None:
    generated = Sample(dataset="d", id="0", prompt_sha256="p", scores={})
    assert logprob_parity([(generated, generated)]) is None
