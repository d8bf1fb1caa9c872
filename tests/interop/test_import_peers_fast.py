"""lm-eval and EvalScope imports without a server, on folders built here to each tool's layout:
lm-eval 0.4.13's EvaluationTracker (`<output_path>/<model>/results_<stamp>.json` and
`samples_<task>_<stamp>.jsonl`) and EvalScope 1.14's work dir (`<stamp>/configs/task_config.yaml`,
`reviews/<model>/<benchmark>_<subset>.jsonl`, `reports/<model>/<benchmark>.json`), the shapes
test_import_peers.py reads from the real tools. Here: scores kept, groups rebuilt from lm-eval's
own score, corpus metrics left out with their reason, other configs refused naming the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from benchmark_eval.errors import EXIT_NOT_COMPARABLE

from ..conftest import assert_one_line_error, finished_run, run_cli

STAMP = "2026-01-01T12-00-00.000000"
TASKS = {"mc_a": [1, 0, 1, 1], "mc_b": [0, 1]}  # acc per document


def _mc_config(task: str, fewshot: int) -> dict[str, Any]:
    return {"task": task, "dataset_path": "csv", "dataset_kwargs": {"data_files": {"test": f"/host/{task}.csv"}},
            "output_type": "multiple_choice", "num_fewshot": fewshot, "doc_to_choice": ["A", "B"],
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1, "base_url": "http://gpu-host:8000/v1/completions"}}


def _mc_line(task: str, doc: int, acc: int) -> dict[str, Any]:
    logliks = ["-0.5", "-1.5"] if acc else ["-1.5", "-0.5"]  # the right answer is A
    return {"doc_id": doc, "target": "0", "arguments": {f"gen_args_{i}": str({"arg_0": f"{task} q{doc}\nAnswer:", "arg_1": f" {c}"})
                                                        for i, c in enumerate("AB")},
            "resps": [[[x, "False"]] for x in logliks], "filtered_resps": [[x, "False"] for x in logliks], "filter": "none",
            "metrics": ["acc"], "doc_hash": f"d{task}{doc}", "prompt_hash": f"p{task}{doc}", "target_hash": "t0", "acc": float(acc)}


def lmeval_folder(root: Path, fewshot: int = 0, flip: bool = False, bleu: bool = False) -> Path:
    """An lm-eval output folder: two multiple-choice tasks in a group averaged by size, and
    optionally a task with only a corpus-level metric (BLEU)."""
    tasks = {t: list(v) for t, v in TASKS.items()}
    if flip:
        tasks["mc_a"][0] = 0
    folder = root / "model-x"
    folder.mkdir(parents=True)
    configs = {t: _mc_config(t, fewshot) for t in tasks}
    results = {t: {"acc,none": sum(v) / len(v), "acc_stderr,none": 0.1} for t, v in tasks.items()}
    everything = [a for v in tasks.values() for a in v]
    groups = {"mc": {"acc,none": sum(everything) / len(everything)}}  # weight_by_size
    for task, accs in tasks.items():
        lines = [_mc_line(task, d, a) for d, a in enumerate(accs)]
        (folder / f"samples_{task}_{STAMP}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if bleu:
        configs["tr"] = {"task": "tr", "output_type": "generate_until", "metric_list": [{"metric": "bleu", "aggregation": "bleu"}]}
        results["tr"] = {"bleu,none": 12.0}
        line = {"doc_id": 0, "target": "x", "resps": [["y"]], "filtered_resps": ["y"], "filter": "none", "metrics": ["bleu"],
                "doc_hash": "d", "prompt_hash": "p", "target_hash": "t", "bleu": ["x", "y"]}
        (folder / f"samples_tr_{STAMP}.jsonl").write_text(json.dumps(line) + "\n")
    (folder / f"results_{STAMP}.json").write_text(json.dumps({
        "results": {**results, **{g: dict(v) for g, v in groups.items()}}, "groups": groups,
        "group_subtasks": {"mc": list(TASKS)}, "configs": configs, "n-samples": {t: {"original": 100, "effective": len(v)} for t, v in tasks.items()},
        "config": {"model": "local-completions", "model_args": "model=served,base_url=http://gpu-host:8000/v1/completions", "limit": None},
        "lm_eval_version": "0.4.13", "model_name": "served", "model_name_sanitized": "model-x"}))
    return root


def test_an_lm_eval_folder_imports_with_its_scores_choices_and_group(tmp_path: Path) -> None:
    run = finished_run(run_cli(["import", str(lmeval_folder(tmp_path / "lm", bleu=True)), "--out", str(tmp_path / "out")]))
    manifest = json.loads((run / "run.json").read_text())
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert run.parent.name == "imported-lm-eval" and run.name == STAMP
    assert manifest["imported_from"]["scored_by"] == "lm-eval" and manifest["model"]["served"] == "served"
    assert sorted(manifest["datasets"]) == ["mc_a", "mc_b"]  # tr: BLEU is corpus-level, left out
    assert manifest["datasets"]["mc_a"]["metrics"] == {"acc": 75.0}
    task_config = manifest["datasets"]["mc_a"]["task_config"]
    assert "data_files" not in task_config["dataset_kwargs"] and task_config["metadata"] == {"version": 1}  # host facts out
    first = next(s for s in samples if s["dataset"] == "mc_a" and s["id"] == "0")
    assert first["scores"] == {"acc": 100.0} and first["chosen"] == "A" and first["reference"] == "A"
    assert [(c["label"], c["loglik"]) for c in first["choices"]] == [("A", -0.5), ("B", -1.5)]
    [group] = manifest["groups"]
    assert group["name"] == "mc" and group["weights"] == {"mc_a": 4.0, "mc_b": 2.0} and group["source"] == "lm-eval"


def test_an_lm_eval_folder_says_what_it_leaves_out(tmp_path: Path) -> None:
    done = run_cli(["import", str(lmeval_folder(tmp_path / "lm", bleu=True)), "--out", str(tmp_path / "out")])
    assert "left out: tr: its metrics (bleu) are not per-sample means; nothing pairs sample by sample" in done.stderr
    picked = finished_run(run_cli(["import", str(tmp_path / "lm"), "--datasets", "mc_b", "--out", str(tmp_path / "one")]))
    assert list(json.loads((picked / "run.json").read_text())["datasets"]) == ["mc_b"]
    assert_one_line_error(run_cli(["import", str(tmp_path / "lm"), "--datasets", "tr"]), 2, "nothing in", "tr: its metrics (bleu)")
    (tmp_path / "lm" / "model-x" / f"samples_mc_b_{STAMP}.jsonl").unlink()
    assert_one_line_error(run_cli(["import", str(tmp_path / "lm"), "--out", str(tmp_path / "none")]), 2, "run lm-eval with --log_samples")
    assert not (tmp_path / "none").exists()


def test_lm_eval_runs_pair_and_another_few_shot_setting_is_refused_by_name(tmp_path: Path) -> None:
    def imported(name: str, **kwargs: Any) -> Path:
        return finished_run(run_cli(["import", str(lmeval_folder(tmp_path / name, **kwargs)), "--out", str(tmp_path / "out" / name)]))

    base, flipped, other = imported("base"), imported("flipped", flip=True), imported("other", fewshot=5)
    done = run_cli(["compare", str(base), str(flipped), "--out", str(tmp_path / "cmp")])
    assert done.returncode in (0, 10, 11), done.stderr[-2000:]
    [unit] = json.loads((tmp_path / "cmp" / "verdict.json").read_text())["units"]
    assert unit["unit"] == "mc" and unit["paired"]["flips"]["right_to_wrong"] == 1
    assert "lm-eval's mc weights" in unit["estimator"]
    done = run_cli(["compare", str(base), str(other), "--out", str(tmp_path / "cmp2")])
    assert done.returncode == EXIT_NOT_COMPARABLE, done.stderr[-2000:]
    assert "mc_a: task config differs: num_fewshot: 0 vs 5" in done.stdout + done.stderr


def test_a_group_score_that_no_weighting_reproduces_is_left_to_its_tasks(tmp_path: Path) -> None:
    from benchmark_eval.interop.lmeval_dir import read_lmeval

    root = lmeval_folder(tmp_path)
    results_file = root / "model-x" / f"results_{STAMP}.json"
    results = json.loads(results_file.read_text())
    results["groups"]["mc"]["acc,none"] = 0.9
    results_file.write_text(json.dumps(results))
    run = read_lmeval(root)
    assert run.groups == [] and run.refused == [
        "group mc: its acc,none is not an average of its tasks' scores that benchmark-eval can reproduce; signed off task by task"]


def evalscope_folder(root: Path, max_tokens: int = 32, right: tuple[int, ...] = (1, 0, 1)) -> Path:
    """An EvalScope work dir: gsm8k (one subset) and a two-subset benchmark."""
    stamp = root / "20260101_120000"
    (stamp / "configs").mkdir(parents=True)
    benchmarks = {"gsm8k": ["main"], "mmlu": ["anatomy", "virology"]}
    resolved = {b: {"name": b, "subset_list": s, "few_shot_num": 0, "dataset_id": f"/host/{b}", "prompt_template": "{question}"}
                for b, s in benchmarks.items()}
    (stamp / "configs" / "task_config.yaml").write_text(yaml.safe_dump({
        "model": "served", "model_id": "served", "eval_type": "openai_api", "evalscope_version": "1.14.1", "limit": 3,
        "generation_config": {"max_tokens": max_tokens, "temperature": 0.0, "batch_size": 4}, "resolved_benchmarks": resolved}))
    (stamp / "reviews" / "served").mkdir(parents=True)
    for benchmark, subsets in benchmarks.items():
        for subset in subsets:
            lines = [{"index": i, "target": ["4"], "messages": [{"role": "user", "content": f"{subset} q{i}", "source": None},
                                                                 {"role": "assistant", "content": "4" if r else "5", "source": "generate"}],
                      "sample_score": {"score": {"value": {"acc": float(r)}, "prediction": "4" if r else "5",
                                                 "extracted_prediction": "4" if r else "5"}, "generation_index": 0}}
                     for i, r in enumerate(right)]
            (stamp / "reviews" / "served" / f"{benchmark}_{subset}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root


def test_an_evalscope_folder_imports_with_its_scores_and_benchmarks(tmp_path: Path) -> None:
    run = finished_run(run_cli(["import", str(evalscope_folder(tmp_path / "es")), "--out", str(tmp_path / "out")]))
    manifest = json.loads((run / "run.json").read_text())
    assert sorted(manifest["datasets"]) == ["gsm8k", "mmlu_anatomy", "mmlu_virology"]  # one subset: the benchmark's name
    assert manifest["datasets"]["gsm8k"]["metrics"] == {"acc": 200 / 3}
    assert "dataset_id" not in manifest["datasets"]["gsm8k"]["task_config"]
    [group] = manifest["groups"]
    assert group["name"] == "mmlu" and group["subsets"] == ["mmlu_anatomy", "mmlu_virology"] and group["source"] == "EvalScope"
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert {(s["dataset"], s["id"], s["scores"]["acc"], s["extracted"]) for s in samples if s["dataset"] == "gsm8k"} == {
        ("gsm8k", "0", 100.0, "4"), ("gsm8k", "1", 0.0, "5"), ("gsm8k", "2", 100.0, "4")}
    picked = finished_run(run_cli(["import", str(tmp_path / "es"), "--datasets", "mmlu", "--out", str(tmp_path / "one")]))
    assert sorted(json.loads((picked / "run.json").read_text())["datasets"]) == ["mmlu_anatomy", "mmlu_virology"]


def test_evalscope_runs_pair_and_another_generation_config_is_refused_by_name(tmp_path: Path) -> None:
    base = finished_run(run_cli(["import", str(evalscope_folder(tmp_path / "a")), "--out", str(tmp_path / "out-a")]))
    flipped = finished_run(run_cli(["import", str(evalscope_folder(tmp_path / "b", right=(0, 0, 1))), "--out", str(tmp_path / "out-b")]))
    other = finished_run(run_cli(["import", str(evalscope_folder(tmp_path / "c", max_tokens=16)), "--out", str(tmp_path / "out-c")]))
    done = run_cli(["compare", str(base), str(flipped), "--out", str(tmp_path / "cmp"), "--units", "gsm8k"])
    assert done.returncode in (0, 10, 11), done.stderr[-2000:]
    [unit] = json.loads((tmp_path / "cmp" / "verdict.json").read_text())["units"]
    assert unit["paired"]["flips"]["right_to_wrong"] == 1
    done = run_cli(["compare", str(base), str(other), "--out", str(tmp_path / "cmp2")])
    assert done.returncode == EXIT_NOT_COMPARABLE, done.stderr[-2000:]
    assert "gsm8k: task config differs: run.generation_config.max_tokens: 32 vs 16" in done.stdout + done.stderr
