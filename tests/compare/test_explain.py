"""Divergence, flip triage and request health on samples whose answers are known by construction
(fast tier); the same code on real runs (fp32 against weights rounded to FP8) is tested in test_explain_real.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmark_eval.compare.divergence import first_divergence, prefix_agreement, summarise
from benchmark_eval.compare.health import compare_health
from benchmark_eval.compare.runs import LoadedRun
from benchmark_eval.compare.triage import reading, triage, triage_choices
from benchmark_eval.results import Choice, RunManifest, Sample
from benchmark_eval.results.records import GenerationTrace


def _trace(tokens: list[str], tops: list[list[tuple[str, float]]], finish: str = "stop") -> GenerationTrace:
    return GenerationTrace(finish_reason=finish, output_tokens=len(tokens), tokens=tokens,
                           logprobs=[dict(top).get(t, -5.0) for t, top in zip(tokens, tops)], top=tops)


def _sample(text: str, trace: GenerationTrace | None, extracted: str | None = None, correct: float = 1.0,
            reference: str = "A", id: str = "0") -> Sample:
    return Sample(dataset="d", id=id, prompt_sha256="p", prediction=text, extracted=extracted if extracted is not None else text[:1],
                  reference=reference, scores={"correct": correct}, generation=trace)


BASE = _trace(["The", " answer", " is", " A"],
              [[("The", -0.1), ("A", -2.5)], [(" answer", -0.2), (" reply", -1.9)], [(" is", -0.05), (":", -3.0)],
               [(" A", -0.70), (" B", -0.75), (" C", -3.0)]])
NEAR = _trace(["The", " answer", " is", " B"],
              [[("The", -0.11), ("A", -2.4)], [(" answer", -0.21), (" reply", -1.8)], [(" is", -0.06), (":", -2.9)],
               [(" B", -0.69), (" A", -0.74), (" C", -3.1)]])


def test_first_divergence_margin_and_lookup() -> None:
    d = first_divergence(BASE, NEAR)
    assert d is not None and d.position == 3 and (d.baseline_token, d.candidate_token) == (" A", " B")
    assert d.margin == pytest.approx(0.05) and d.candidate_logprob_of_baseline == pytest.approx(-0.74)
    assert first_divergence(BASE, BASE) is None
    shorter = _trace(["The", " answer"], BASE.top[:2] if BASE.top else [])
    assert first_divergence(BASE, shorter).position == 2  # the candidate stopped: it parts there


def test_prefix_agreement_is_recomputed_by_hand() -> None:
    d = first_divergence(BASE, NEAR)
    agreement = prefix_agreement(BASE, NEAR, d)
    assert agreement.positions == 4 and agreement.top1_agree == 3  # position 3 (common context) differs in top-1
    assert sorted(agreement.abs_dlogprob) == pytest.approx([0.01, 0.01, 0.01])
    # KL over the baseline's top-k, both renormalised, at position 0 by hand
    p = [math.exp(-0.1), math.exp(-2.5)]
    q = [math.exp(-0.11), math.exp(-2.4)]
    p = [x / sum(p) for x in p]
    q = [x / sum(q) for x in q]
    kl0 = sum(a * math.log(a / b) for a, b in zip(p, q))
    assert agreement.kl[0] == pytest.approx(kl0)


def test_summary_splits_near_ties_from_confident_divergences() -> None:
    sure = _trace(["The", " answer", " is", " C"], [*(BASE.top or [])[:3], [(" C", -0.1), (" A", -4.0)]])
    confident_base = _trace(["The", " answer", " is", " A"], [*(BASE.top or [])[:3], [(" A", -0.1), (" C", -4.0)]])
    pairs = [(_sample("The answer is A", BASE), _sample("The answer is B", NEAR)),
             (_sample("The answer is A", confident_base), _sample("The answer is C", sure)),
             (_sample("The answer is A", BASE), _sample("The answer is A", BASE))]
    summary = summarise("d", pairs, tau=0.5)
    assert summary is not None and (summary.pairs, summary.diverging, summary.near_tie, summary.confident) == (3, 2, 1, 1)
    assert summary.positions == [3, 3] and summary.margins == pytest.approx([0.05, 3.9])
    assert summarise("d", [(_sample("x", None), _sample("y", None))], 0.5) is None


@pytest.mark.parametrize(("base", "cand", "cause"), [
    (_sample("The answer is A", BASE), _sample("", _trace([], [])), "empty-or-error"),
    (_sample("The answer is A", BASE), _sample("A. " + "la la " * 20, _trace(["A"], [[("A", -0.1)]])), "degenerate"),
    (_sample("The answer is A", BASE), _sample("The answer is Б это ответ на вопрос", None), "degenerate"),
    (_sample("The answer is A", BASE), _sample("The answer is A", GenerationTrace(
        finish_reason="stop", output_tokens=1, tokens=["x"], logprobs=[None])), "degenerate"),
    (_sample("The answer is A", BASE), _sample("The answer", _trace(["The", " answer"], (BASE.top or [])[:2], "length")), "truncated"),
    (_sample("The answer is A", BASE, extracted="A"), _sample("The answer is A", BASE, extracted="", correct=0), "extraction"),
    (_sample("The answer is A", BASE, extracted="A"), _sample("The answer is A", BASE, extracted="A", correct=0), "scoring"),
    (_sample("The answer is A", BASE, extracted="A"), _sample("The answer is B", NEAR, extracted="B", correct=0), "near-tie"),
    (_sample("The answer is A", None, extracted="A"), _sample("The answer is B", None, extracted="B", correct=0), "no-logprobs"),
])
def test_each_cause(base: Sample, cand: Sample, cause: str) -> None:
    assert triage(base, cand, tau=0.5).cause == cause
    if cause == "near-tie":  # the same flip with a small τ is a confident one
        assert triage(base, cand, tau=0.01).cause == "confident"


def test_ppl_flips_use_the_choice_margin() -> None:
    def ppl(chosen: str, a: float, b: float) -> Sample:
        return Sample(dataset="d", id="0", prompt_sha256="p", prediction=chosen, chosen=chosen, scores={"correct": 1.0},
                      choices=[Choice(label="A", loglik=a, n_tokens=1, mean=a), Choice(label="B", loglik=b, n_tokens=1, mean=b)])
    assert triage_choices(ppl("A", -1.0, -1.1), ppl("B", -1.1, -1.0), 0.5).cause == "near-tie"
    assert triage_choices(ppl("A", -1.0, -3.0), ppl("B", -3.0, -1.0), 0.5).cause == "confident"


def test_reading_names_the_confident_ones() -> None:
    from collections import Counter

    text = reading(Counter({"near-tie": 31, "confident": 3}), 0.5)
    assert text.startswith("31 of 34 flips are near-ties") and "3 confident divergence(s) to read" in text


def test_a_candidate_that_truncates_more_is_flagged() -> None:
    def run(truncated: set[int]) -> LoadedRun:
        samples = {("d", str(i)): _sample("text", GenerationTrace(finish_reason="length" if i in truncated else "stop",
                                                                 output_tokens=5), id=str(i)) for i in range(200)}
        manifest = RunManifest.model_validate({"schema": 1, "status": "ok", "model": {"name": "m"}, "datasets": {}})
        return LoadedRun(Path("."), manifest, samples)
    keys = [("d", str(i)) for i in range(200)]
    flagged = compare_health(run({1, 2}), run(set(range(30))), keys)
    assert flagged is not None and flagged.flags and "truncation" in flagged.flags[0]
    same = compare_health(run({1, 2}), run({2, 3}), keys)
    assert same is not None and not same.flags


def _ceval_question(data_root: Path) -> tuple[str, str, str]:
    """A real C-Eval validation question, its prompt as OpenCompass's ceval_gen builds it, its
    answer letter and that choice's Chinese text."""
    import csv

    with open(data_root / "data" / "ceval" / "formal_ceval" / "val" / "computer_network_val.csv", encoding="utf-8") as f:
        # the first whose right choice is Chinese text of some length
        row = next(r for r in csv.DictReader(f) if sum("\u4e00" <= ch <= "\u9fff" for ch in r[r["answer"]]) >= 6)
    prompt = f"以下是中国关于计算机网络考试的单项选择题，请选出其中的正确答案。\n{row['question']}\n" + \
        "".join(f"{c}. {row[c]}\n" for c in "ABCD") + "答案: "
    return prompt, row["answer"], row[row["answer"]]


def test_an_answer_in_the_prompts_language_is_never_degenerate(data_root: Path) -> None:
    from benchmark_eval.compare.triage import degenerate_reason
    from benchmark_eval.results.scripts import prompt_scripts

    prompt, letter, choice = _ceval_question(data_root)
    messages = [{"role": "HUMAN", "prompt": prompt}]  # OpenCompass's chat prompt: roles are not text
    assert prompt_scripts(messages) == ["HAN", "LATIN"] == prompt_scripts(prompt)
    assert prompt_scripts([{"role": "HUMAN", "prompt": "Ｑ：what？"}]) == ["LATIN"]  # full-width Latin is Latin

    def answer(text: str, scripts: list[str] | None = prompt_scripts(messages)) -> Sample:
        return Sample(dataset="ceval-computer_network", id="0", prompt_sha256="p", prompt_scripts=scripts,
                      prediction=text, extracted=text[:1], reference=letter, scores={"correct": 1.0})

    chinese, terse = answer(f"{letter}. {choice}"), answer(letter)
    assert len(choice) >= 5 and degenerate_reason(chinese, terse) is None
    assert triage(terse, chinese, 0.5).cause != "degenerate"
    # Without the prompt's systems (runs that did not record them) only the answers speak.
    assert degenerate_reason(answer(f"{letter}. {choice}", None), answer(letter, None)) is not None
    # Real degenerate output is still caught in a Chinese sample.
    for broken, why in ((f"{letter}. {choice} это неправильный ответ", "CYRILLIC"),
                        (f"{letter}. {choice} คำตอบไม่ถูกต้อง", "THAI"),
                        (f"{letter}. {choice} これはひらがなです", "HIRAGANA"),
                        (f"{letter}. {choice[:2]}\ufffd\ufffd", "replacement"),
                        (f"{letter}. " + "分组乱序" * 20, "repetition loop")):
        reason = degenerate_reason(answer(broken), terse)
        assert reason is not None and why in reason, (broken, reason)
    english = Sample(dataset="mmlu", id="0", prompt_sha256="p", prompt_scripts=["LATIN"], prediction="The answer is B",
                     extracted="B", reference="B", scores={"correct": 1.0})
    thai = english.model_copy(update={"prediction": "The answer is B คำตอบไม่ถูกต้องเลย"})
    reason = degenerate_reason(thai, english)
    assert reason is not None and "THAI" in reason


def test_units_at_chance_floor_or_ceiling_are_marked(data_root: Path) -> None:
    from benchmark_eval.compare.judgeable import choices_of, not_judgeable

    def mcq(correct: int, n: int, letters: str = "ABCD") -> tuple[list[Sample], list[float]]:
        samples = [Sample(dataset="d", id=str(i), prompt_sha256="p", prediction="A", reference=letters[i % len(letters)],
                          scores={"correct": float(i < correct)}) for i in range(n)]
        return samples, [100.0 * (i < correct) for i in range(n)]

    assert choices_of(mcq(1, 40)[0]) == 4 and choices_of(mcq(1, 40, "ABCDE")[0]) == 5
    assert choices_of(mcq(1, 40, "AB")[0]) == 4  # a slice's letters: four at least
    assert choices_of([Sample(dataset="d", id="0", prompt_sha256="p", reference="42", scores={})]) is None  # GSM8K: no choices
    # C-Eval's 1,346 questions at 26.26% (the demo model's): not above a 25% guess
    reason = not_judgeable([mcq(353, 1346)], 26.23)
    assert reason is not None and "not distinguishable from guessing (25.00 by chance" in reason
    assert not_judgeable([mcq(420, 1346)], 31.2) is None  # clearly above chance
    floor = not_judgeable([mcq(8, 14042)], 0.06)  # MMLU gen's 0.06: the floor
    assert floor is not None and "at the floor" in floor and "0.06" in floor
    ceiling = not_judgeable([mcq(995, 1000)], 99.5)
    assert ceiling is not None and "ceiling" in ceiling
    # not multiple choice and neither floor nor ceiling: judged
    free = [Sample(dataset="g", id=str(i), prompt_sha256="p", reference=str(i), scores={"correct": 1.0}) for i in range(50)]
    assert not_judgeable([(free, [100.0] * 10 + [0.0] * 40)], 20.0) is None
