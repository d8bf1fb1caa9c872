"""The peer cross-check: stock OpenCompass (its own CLI, OpenAISDK, its own evaluators) against
the real fp32 server, imported, then compared with our run of the same config on the same server.

Same configs on a greedy fp32 server: every sample's prompt, prediction, extracted answer and
score is ours, the comparison is comparable with no flip, and what an OpenCompass folder cannot
record is stamped in the report. A stock run with a different config is refused as not
comparable, its differences listed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.errors import EXIT_NOT_COMPARABLE
from benchmark_eval.server import ServerHandle

from ..conftest import assert_one_line_error, finished_run, run_cli
from .stock_opencompass import MODEL_ABBR, run_stock_opencompass, stock_datasets

pytestmark = [pytest.mark.server, pytest.mark.opencompass]

CONFIGS = ("mmlu_gen", "ceval_gen", "gsm8k_gen", "Xsum_gen")
SUBJECTS = ("anatomy", "computer_network")
LIMIT, MAX_OUT_LEN = 4, 32


def _ours(server: ServerHandle, data_root: Path, results: Path) -> Path:
    return finished_run(run_cli(["run"], {
        "service_port": server.base_url.rsplit(":", 1)[1], "model_name": SERVED_NAME, "eval_datasets": " ".join(CONFIGS),
        "subjects": ",".join(SUBJECTS), "limit": str(LIMIT), "max_out_len": str(MAX_OUT_LEN), "batch_size": "4",
        "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(results)}))


def _import(folder: Path, data_root: Path, out: Path) -> Path:
    return finished_run(run_cli(["import", str(folder), "--data-root", str(data_root), "--out", str(out)]))


def _samples(run_dir: Path) -> dict[tuple[str, str], dict]:
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return {(r["dataset"], r["id"]): r for r in rows}


@pytest.fixture(scope="module")
def stock_and_ours(vllm_server: ServerHandle, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("stock")
    stock = run_stock_opencompass(vllm_server.base_url, stock_datasets(CONFIGS, SUBJECTS, LIMIT, MAX_OUT_LEN), work, data_root)
    return stock, _import(work / "outputs", data_root, work / "imported"), _ours(vllm_server, data_root, work / "ours")


def test_a_stock_opencompass_run_imports_with_our_predictions_and_scores(stock_and_ours: tuple[Path, Path, Path]) -> None:
    stock, imported, ours = stock_and_ours
    manifest = json.loads((imported / "run.json").read_text())
    origin = manifest["imported_from"]
    assert origin["tool"] == "opencompass" and origin["folder"] == str(stock) and origin["scored_by"] == "benchmark-eval"
    assert origin["model_type"] == "opencompass.models.OpenAISDK" and manifest["model"]["served"] == SERVED_NAME
    assert manifest["generation"]["max_out_len"] == MAX_OUT_LEN and manifest["generation"]["temperature"] == 0.0
    assert {g["name"] for g in manifest["groups"]} >= {"mmlu", "ceval"}
    a, b = _samples(imported), _samples(ours)
    assert a.keys() == b.keys() and len(a) == 4 * LIMIT
    for key, sample in a.items():  # the same prompt, text, extraction and score, sample by sample
        theirs = {k: sample[k] for k in ("prompt_sha256", "prediction", "extracted", "reference", "scores")}
        assert theirs == {k: b[key][k] for k in theirs}, key
    ours_manifest = json.loads((ours / "run.json").read_text())
    for abbr, record in manifest["datasets"].items():
        assert record["prompt_config_sha256"] == ours_manifest["datasets"][abbr]["prompt_config_sha256"], abbr
        assert record["files"] == ours_manifest["datasets"][abbr]["files"], abbr
    # Stock OpenCompass's own scores of the same predictions, kept beside ours: accuracy is the same
    # evaluator's, exactly. ROUGE differs on purpose (docs/evaluating.md, "Results"): the stock aggregate is a
    # bootstrap median of means, ours the exact mean of the per-sample scores in samples.jsonl.
    for abbr, stock_metrics in origin["original_metrics"].items():
        for metric, value in stock_metrics.items():
            ours_value = record_metric(manifest, abbr, metric)
            if metric == "accuracy":
                assert value == pytest.approx(ours_value), abbr
            else:
                per_sample = [s["scores"][metric] for (d, _), s in a.items() if d == abbr]
                assert ours_value == pytest.approx(sum(per_sample) / len(per_sample), abs=1e-9)
                assert abs(value - ours_value) < 2.0, (abbr, metric, value, ours_value)


def record_metric(manifest: dict, abbr: str, metric: str) -> float:
    return float(manifest["datasets"][abbr]["metrics"][metric])


def test_the_imported_baseline_compares_with_no_flip_and_says_what_it_could_not_check(
        stock_and_ours: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, imported, ours = stock_and_ours
    done = run_cli(["compare", str(imported), str(ours), "--out", str(tmp_path)])
    assert done.returncode in (0, 10, 11), done.stdout + done.stderr  # comparable: a verdict, never 12
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["mismatches"] == [] and all(m["flipped"] == 0 for m in verdict["metrics"])
    assert verdict["baseline"]["label"].endswith("imported from opencompass")
    assert any("server's vLLM version" in u for u in verdict["unchecked"])
    assert "Checks not made" in (tmp_path / "report.md").read_text()
    assert "not checked: baseline (imported from opencompass" in done.stdout


def test_a_stock_run_of_another_config_is_not_comparable(vllm_server: ServerHandle, data_root: Path, tmp_path: Path,
                                                         stock_and_ours: tuple[Path, Path, Path]) -> None:
    shorter = stock_datasets(("gsm8k_gen",), None, LIMIT, 16)
    run_stock_opencompass(vllm_server.base_url, shorter, tmp_path / "stock", data_root)
    imported = _import(tmp_path / "stock" / "outputs", data_root, tmp_path / "imported")
    done = run_cli(["compare", str(imported), str(stock_and_ours[2])])
    assert done.returncode == EXIT_NOT_COMPARABLE, done.stdout + done.stderr
    assert "generation.max_out_len: 16 vs 32" in done.stderr and "gsm8k: prompt/few-shot config differs" in done.stderr

    # Other data than the run read: its recorded gold answers do not match, and nothing is imported.
    changed = tmp_path / "other-data" / "data" / "gsm8k"
    shutil.copytree(data_root / "data" / "gsm8k", changed)
    lines = (changed / "test.jsonl").read_text().splitlines(keepends=True)
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "answer": first["answer"] + "0"}) + "\n"
    (changed / "test.jsonl").write_text("".join(lines))
    refused = run_cli(["import", str(tmp_path / "stock" / "outputs"), "--data-root", str(changed.parent.parent),
                       "--out", str(tmp_path / "refused")])
    assert_one_line_error(refused, 2, "gsm8k: 1 reference answer(s)", "differ from the ones the run saw")
    assert not (tmp_path / "refused").exists()


def test_a_predictions_file_cut_short_is_one_line(stock_and_ours: tuple[Path, Path, Path], data_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "outputs" / stock_and_ours[0].name
    shutil.copytree(stock_and_ours[0], copy)
    predictions = copy / "predictions" / MODEL_ABBR / "gsm8k.json"
    predictions.write_text(predictions.read_text()[:-200])
    done = run_cli(["import", str(copy), "--data-root", str(data_root), "--out", str(tmp_path / "out")])
    assert done.returncode == 2 and "gsm8k.json is not valid JSON" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
