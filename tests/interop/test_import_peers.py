"""lm-evaluation-harness and EvalScope themselves (pinned, each in its own environment:
.venv-lmeval, .venv-evalscope) against the real fp32 server and one of the weights rounded to
FP8 (served in fp32), reading the shared data through task configs of their own kind
(peer_configs/), their outputs imported and compared.

lm-eval runs a log-likelihood group (local-completions, the model's tokenizer) and a generative
task (local-chat-completions, chat template); EvalScope its own GSM8K benchmark over the API. A
third run of each changes one generation setting: its comparison must refuse, naming it. Flips
are counted again here from the tools' own files, never from ours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.errors import EXIT_NOT_COMPARABLE
from benchmark_eval.paths import REPO_ROOT, demo_model_dir
from benchmark_eval.server import ServerHandle

from ..conftest import finished_run, run_cli

pytestmark = [pytest.mark.server]

CONFIGS = Path(__file__).parent / "peer_configs"
LM_EVAL = REPO_ROOT / ".venv-lmeval" / "bin" / "lm_eval"
EVALSCOPE = REPO_ROOT / ".venv-evalscope" / "bin" / "evalscope"
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MODELSCOPE_OFFLINE": "1"}
MMLU_LIMIT, GSM8K_LIMIT = 5, 6
VERDICT_CODES = {0, 10, 11}


def _tool(argv: list[str], cwd: Path) -> None:
    env = {**os.environ, **OFFLINE}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _lmeval(server: ServerHandle, tasks: Path, out: Path, loglik: bool, *extra: str) -> Path:
    if loglik:
        model = ["--model", "local-completions", "--model_args",
                 f"model={SERVED_NAME},base_url={server.base_url}/v1/completions,num_concurrent=4,max_retries=2,"
                 f"tokenizer={demo_model_dir()},tokenizer_backend=huggingface", "--tasks", "local_mmlu",
                 "--limit", str(MMLU_LIMIT)]
    else:
        model = ["--model", "local-chat-completions", "--model_args",
                 f"model={SERVED_NAME},base_url={server.base_url}/v1/chat/completions,num_concurrent=4,max_retries=2",
                 "--apply_chat_template", "--tasks", "local_gsm8k", "--limit", str(GSM8K_LIMIT)]
    _tool([str(LM_EVAL), "run", *model, "--include_path", str(tasks), "--output_path", str(out), "--log_samples", *extra], out.parent)
    [results] = sorted(out.glob("*/results_*.json"))
    return results


def _evalscope(server: ServerHandle, data: Path, out: Path, max_tokens: int) -> Path:
    _tool([str(EVALSCOPE), "eval", "--model", SERVED_NAME, "--api-url", f"{server.base_url}/v1", "--api-key", "EMPTY",
           "--eval-type", "openai_api", "--datasets", "gsm8k",
           "--dataset-args", json.dumps({"gsm8k": {"dataset_id": str(data), "few_shot_num": 0}}),
           "--generation-config", json.dumps({"max_tokens": max_tokens, "temperature": 0.0}),
           "--limit", str(GSM8K_LIMIT), "--eval-batch-size", "4", "--work-dir", str(out)], out.parent)
    [stamp] = [p for p in out.iterdir() if p.is_dir()]
    return stamp


@pytest.fixture(scope="module")
def peer_runs(vllm_server: ServerHandle, rounded_server: ServerHandle, data_root: Path,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert LM_EVAL.exists() and EVALSCOPE.exists(), "lm-eval or EvalScope is not installed: run bash install.sh --for-tests"
    work = tmp_path_factory.mktemp("peers")
    tasks = work / "tasks"
    tasks.mkdir()
    for config in CONFIGS.glob("*.yaml"):
        (tasks / config.name).write_text(config.read_text().replace("DATA", str(data_root / "data")))
    gsm8k = work / "evalscope-gsm8k"  # EvalScope reads a local dataset in the Hub's layout: a README naming its files
    (gsm8k / "main").mkdir(parents=True)
    shutil.copy(CONFIGS / "evalscope_gsm8k_README.md", gsm8k / "README.md")
    for split in ("test", "train"):
        (gsm8k / "main" / f"{split}.jsonl").symlink_to(data_root / "data" / "gsm8k" / f"{split}.jsonl")

    def on(server: ServerHandle, name: str) -> dict[str, Path]:  # one server's runs, one after another
        runs = {f"lm-mmlu-{name}": _lmeval(server, tasks, work / f"lm-mmlu-{name}", True),
                f"lm-gsm8k-{name}": _lmeval(server, tasks, work / f"lm-gsm8k-{name}", False),
                f"es-{name}": _evalscope(server, gsm8k, work / f"es-{name}", 32)}
        if name == "fp32":  # the same tasks with one generation setting changed
            runs["lm-gsm8k-other"] = _lmeval(server, tasks, work / "lm-gsm8k-other", False, "--gen_kwargs", "max_gen_toks=16")
            runs["es-other"] = _evalscope(server, gsm8k, work / "es-other", 16)
        return runs

    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda pair: on(*pair), [(vllm_server, "fp32"), (rounded_server, "rounded")]))
    outputs = {**both[0], **both[1]}
    imported = work / "imported"
    return {**outputs, **{f"imported-{name}": finished_run(run_cli(["import", str(path), "--out", str(imported / name)]))
                          for name, path in outputs.items()}}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _samples(run: Path) -> dict[tuple[str, str], dict]:
    return {(s["dataset"], s["id"]): s for s in _lines(run / "samples.jsonl")}


def _lm_samples(results: Path, task: str) -> list[dict]:
    stamp = results.stem.removeprefix("results_")
    return _lines(results.parent / f"samples_{task}_{stamp}.jsonl")


def test_lm_eval_runs_import_with_lm_evals_own_scores(peer_runs: dict[str, Path]) -> None:
    for name in ("fp32", "rounded"):
        results = json.loads(peer_runs[f"lm-mmlu-{name}"].read_text())
        run = peer_runs[f"imported-lm-mmlu-{name}"]
        manifest, samples = json.loads((run / "run.json").read_text()), _samples(run)
        assert manifest["imported_from"]["tool"] == "lm-eval" and manifest["imported_from"]["model_type"] == "local-completions"
        for task in ("local_mmlu_abstract_algebra", "local_mmlu_anatomy"):
            lines = _lm_samples(peer_runs[f"lm-mmlu-{name}"], task)
            assert len(lines) == MMLU_LIMIT and manifest["datasets"][task]["metrics"]["acc"] == pytest.approx(100 * results["results"][task]["acc,none"])
            for line in lines:
                ours = samples[(task, str(line["doc_id"]))]
                assert ours["scores"] == {"acc": 100 * line["acc"]}
                assert [c["loglik"] for c in ours["choices"]] == [float(r[0]) for r in line["filtered_resps"]]
        [group] = manifest["groups"]
        assert group["name"] == "local_mmlu" and group["scores"]["acc"] == pytest.approx(100 * results["groups"]["local_mmlu"]["acc,none"])
    gen = _samples(peer_runs["imported-lm-gsm8k-fp32"])
    for line in _lm_samples(peer_runs["lm-gsm8k-fp32"], "local_gsm8k"):
        ours = gen[("local_gsm8k", str(line["doc_id"]))]
        assert ours["prediction"] == line["resps"][0][0] and ours["extracted"] == line["filtered_resps"][0]
        assert ours["scores"] == {"exact_match,flexible-extract": 100 * line["exact_match"]}


def _flips(a: list[dict], b: list[dict], key: str, metric: str) -> int:
    right = {line[key]: line[metric] for line in a}
    return sum(1 for line in b if line[metric] != right[line[key]])


def _compare(base: Path, cand: Path, out: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    done = run_cli(["compare", str(base), str(cand), "--out", str(out)])
    assert "Traceback" not in done.stderr
    verdict = out / "verdict.json"
    return done, json.loads(verdict.read_text()) if verdict.exists() else {}


def test_lm_eval_fp32_against_rounded_weights_signs_off_with_the_flips_of_its_own_files(peer_runs: dict[str, Path], tmp_path: Path) -> None:
    done, verdict = _compare(peer_runs["imported-lm-mmlu-fp32"], peer_runs["imported-lm-mmlu-rounded"], tmp_path / "mmlu")
    assert done.returncode in VERDICT_CODES, done.stderr[-2000:]
    [unit] = verdict["units"]
    assert unit["unit"] == "local_mmlu" and unit["paired"]["n"] == 2 * MMLU_LIMIT
    flips = unit["paired"]["flips"]
    expected = sum(_flips(_lm_samples(peer_runs["lm-mmlu-fp32"], t), _lm_samples(peer_runs["lm-mmlu-rounded"], t), "doc_id", "acc")
                   for t in ("local_mmlu_abstract_algebra", "local_mmlu_anatomy"))
    assert flips["right_to_wrong"] + flips["wrong_to_right"] == expected
    parity = {m["dataset"]: m["logprob"] for m in verdict["metrics"]}
    assert all(p is not None and p["n"] == MMLU_LIMIT for p in parity.values())  # log-probs lm-eval logged: parity
    assert max(p["abs_diff_percentiles"]["max"] for p in parity.values()) > 0  # the rounded weights move them: a real difference
    done, verdict = _compare(peer_runs["imported-lm-gsm8k-fp32"], peer_runs["imported-lm-gsm8k-rounded"], tmp_path / "gsm8k")
    assert done.returncode in VERDICT_CODES, done.stderr[-2000:]
    flips = verdict["units"][0]["paired"]["flips"]
    expected = _flips(_lm_samples(peer_runs["lm-gsm8k-fp32"], "local_gsm8k"), _lm_samples(peer_runs["lm-gsm8k-rounded"], "local_gsm8k"),
                      "doc_id", "exact_match")
    assert flips["right_to_wrong"] + flips["wrong_to_right"] == expected


def test_an_lm_eval_run_of_another_generation_setting_is_not_comparable(peer_runs: dict[str, Path], tmp_path: Path) -> None:
    done, _ = _compare(peer_runs["imported-lm-gsm8k-fp32"], peer_runs["imported-lm-gsm8k-other"], tmp_path)
    assert done.returncode == EXIT_NOT_COMPARABLE, done.stdout[-2000:] + done.stderr[-2000:]
    # lm-eval's prompt_hash is of the prompt alone: the task config is what names the change.
    assert ("local_gsm8k: task config differs: generation_kwargs.max_gen_toks: 32 vs 16; run.gen_kwargs.max_gen_toks: "
            "null vs 16") in done.stderr


def _reviews(stamp: Path) -> list[dict]:
    [reviews] = list((stamp / "reviews").glob("*/gsm8k_main.jsonl"))
    return _lines(reviews)


def test_evalscope_runs_import_and_sign_off_with_the_flips_of_its_own_files(peer_runs: dict[str, Path], tmp_path: Path) -> None:
    for name in ("fp32", "rounded"):
        samples = _samples(peer_runs[f"imported-es-{name}"])
        reviews = _reviews(peer_runs[f"es-{name}"])
        assert len(samples) == len(reviews) == GSM8K_LIMIT
        for review in reviews:
            score = review["sample_score"]["score"]
            ours = samples[("gsm8k", str(review["index"]))]
            assert ours["scores"] == {k: 100 * v for k, v in score["value"].items()}
            assert ours["prediction"] == score["prediction"] and ours["extracted"] == score["extracted_prediction"]
    done, verdict = _compare(peer_runs["imported-es-fp32"], peer_runs["imported-es-rounded"], tmp_path / "es")
    assert done.returncode in VERDICT_CODES, done.stderr[-2000:]
    [unit] = verdict["units"]
    assert unit["unit"] == "gsm8k" and unit["paired"]["n"] == GSM8K_LIMIT
    a = [{"index": r["index"], "right": r["sample_score"]["score"]["value"]["accuracy"]} for r in _reviews(peer_runs["es-fp32"])]
    b = [{"index": r["index"], "right": r["sample_score"]["score"]["value"]["accuracy"]} for r in _reviews(peer_runs["es-rounded"])]
    flips = unit["paired"]["flips"]
    assert flips["right_to_wrong"] + flips["wrong_to_right"] == _flips(a, b, "index", "right")


def test_an_evalscope_run_of_another_generation_setting_is_not_comparable(peer_runs: dict[str, Path], tmp_path: Path) -> None:
    done, _ = _compare(peer_runs["imported-es-fp32"], peer_runs["imported-es-other"], tmp_path)
    assert done.returncode == EXIT_NOT_COMPARABLE, done.stdout[-2000:] + done.stderr[-2000:]
    assert "gsm8k: task config differs: run.generation_config.max_tokens: 32 vs 16" in done.stdout + done.stderr
