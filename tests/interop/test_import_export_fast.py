"""Import and export without a server: bad folders get one line and exit 2, a summary-only folder
the 1% rule as a reference file, and a run exported in AISBench's layout imports back to the same
samples. The folders here are built to the tools' layouts by the tests (stated per test); the
real tools' own folders are read in test_import_opencompass.py (stock OpenCompass) and
test_import_aisbench.py (AISBench)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from ..conftest import assert_one_line_error, finished_run, run_cli
from ..results.test_records import DEMO_RUN

_GSM8K = ("dict(abbr='gsm8k', type='opencompass.datasets.GSM8KDataset', path='opencompass/gsm8k', "
          "reader_cfg=dict(input_columns=['question'], output_column='answer'), "
          "infer_cfg=dict(inferencer=dict(type='opencompass.openicl.icl_inferencer.{inferencer}')))")


def _opencompass_folder(root: Path, models: tuple[str, ...] = ("api",), inferencer: str = "GenInferencer") -> Path:
    """A folder in stock OpenCompass's layout (built here): configs/, predictions/<model>/<abbr>.json."""
    folder = root / "outputs" / "20250101_120000"
    (folder / "configs").mkdir(parents=True)
    model_list = ", ".join(f"dict(abbr='{m}', type='opencompass.models.OpenAISDK', path='served')" for m in models)
    (folder / "configs" / "20250101_120000_1.py").write_text(
        f"datasets = [{_GSM8K.format(inferencer=inferencer)}]\nmodels = [{model_list}]\n")
    for model in models:
        (folder / "predictions" / model).mkdir(parents=True)
        (folder / "predictions" / model / "gsm8k.json").write_text(
            json.dumps({"0": {"origin_prompt": "q", "prediction": "4", "gold": "#### 4"}}))
    return folder


def test_not_a_tool_folder_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run_cli(["import", str(tmp_path)]), 2, "is not an OpenCompass, AISBench, lm-eval or EvalScope output folder")
    assert_one_line_error(run_cli(["import", str(tmp_path / "nope")]), 2, "is not a folder")
    assert_one_line_error(run_cli(["import", str(tmp_path), "--from", "helm"]), 2, "give one of evalscope, lm-eval, aisbench, opencompass")
    assert_one_line_error(run_cli(["import", str(tmp_path), "--from", "lm-eval"]), 2, "holds no lm-eval results")
    assert_one_line_error(run_cli(["import", str(tmp_path), "--from", "evalscope"]), 2, "is not an EvalScope output folder")


def test_the_model_to_import_must_be_in_the_folder(tmp_path: Path) -> None:
    folder = _opencompass_folder(tmp_path, models=("gpu-a", "gpu-b"))
    assert_one_line_error(run_cli(["import", str(folder.parent)]), 2, "holds predictions of 2 models (gpu-a, gpu-b)", "--model")
    assert_one_line_error(run_cli(["import", str(folder), "--model", "npu"]), 2, "model 'npu' has no predictions", "gpu-a, gpu-b")


def test_a_truncated_predictions_file_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    folder = _opencompass_folder(tmp_path)
    (folder / "predictions" / "api" / "gsm8k.json").write_text('{"0": {"origin_prompt": "q", "predic')
    done = run_cli(["import", str(folder), "--out", str(tmp_path / "results")])
    assert_one_line_error(done, 2, "gsm8k.json is not valid JSON", "truncated")
    assert not (tmp_path / "results").exists()


def test_a_mixed_folder_leaves_out_what_cannot_pair_and_says_why(tmp_path: Path) -> None:
    """A folder (built here in stock OpenCompass's layout) whose second dataset was scored by an
    inferencer whose outputs do not pair (CLPInferencer: a probability per choice, no answer)."""
    from benchmark_eval.interop import read_foreign

    folder = _opencompass_folder(tmp_path)
    config = folder / "configs" / "20250101_120000_1.py"
    other = _GSM8K.format(inferencer="CLPInferencer").replace("abbr='gsm8k'", "abbr='gsm8k_clp'")
    config.write_text(config.read_text().replace("datasets = [", f"datasets = [{other}, "))
    foreign = read_foreign(folder, None, None)
    assert [d.abbr for d in foreign.datasets] == ["gsm8k"]
    assert foreign.refused == ["gsm8k_clp: scored by CLPInferencer, whose outputs benchmark-eval cannot pair "
                               "(it imports ChatInferencer, GenInferencer and PPLInferencer datasets)"]
    assert [d.abbr for d in read_foreign(folder, None, None, ("gsm8k",)).datasets] == ["gsm8k"]
    only_clp = run_cli(["import", str(folder), "--datasets", "gsm8k_clp"])
    assert_one_line_error(only_clp, 2, "nothing in", "can be imported: gsm8k_clp: scored by CLPInferencer")
    assert_one_line_error(run_cli(["import", str(folder), "--datasets", "gsm8k,mmlu"]), 2, "--datasets: mmlu not in", "gsm8k")


def test_a_summary_only_folder_gets_the_one_percent_rule_and_signs_off_against_it(tmp_path: Path) -> None:
    folder = tmp_path / "outputs" / "20250101_120000"
    (folder / "configs").mkdir(parents=True)
    (folder / "configs" / "20250101_120000_1.py").write_text(
        f"datasets = [{_GSM8K.format(inferencer='GenInferencer')}]\nmodels = [dict(abbr='gpu', path='served')]\n")
    (folder / "summary").mkdir()
    demo = json.loads((DEMO_RUN.path / "run.json").read_text())
    with open(folder / "summary" / "summary_20250101_120000.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["dataset", "version", "metric", "mode", "gpu"])
        for abbr, record in demo["datasets"].items():  # the baseline scored what the demo run scored
            for metric, value in record["metrics"].items():
                writer.writerow([abbr, "abc123", metric, "gen", f"{value:.2f}"])
    done = run_cli(["import", str(folder), "--out", str(tmp_path / "results")])
    assert_one_line_error(done, 2, "has a summary but no predictions", "compare --reference")
    reference = tmp_path / "results" / "references" / "20250101_120000-1pct.yaml"
    assert reference.is_file() and "name: opencompass summary of gpu, 1% rule" in reference.read_text()
    signed = run_cli(["compare", "--reference", str(reference), str(DEMO_RUN.path), "--out", str(tmp_path / "report")])
    assert signed.returncode == 0, signed.stdout + signed.stderr  # every score at its own baseline value: within 1%
    targets = json.loads((tmp_path / "report" / "verdict.json").read_text())["targets"]
    assert len(targets) == sum(len(r["metrics"]) for r in demo["datasets"].values())
    assert all(t["rule"].startswith(">= 0.99 x") and t["verdict"] == "PASS" for t in targets)


def test_an_aisbench_folder_without_details_says_how_to_add_them(tmp_path: Path) -> None:
    exported = finished_export(run_cli(["export", str(DEMO_RUN.path), "--format", "aisbench", "--out", str(tmp_path / "ais")]))
    for results in (exported / "results").rglob("*.json"):
        data = json.loads(results.read_text())
        results.write_text(json.dumps({k: v for k, v in data.items() if k != "details"}))
    assert_one_line_error(run_cli(["import", str(exported), "--from", "aisbench"]), 2, "has no per-sample details",
                          "-m eval --dump-eval-details")


def finished_export(done) -> Path:  # type: ignore[no-untyped-def]
    assert done.returncode == 0, done.stdout + done.stderr
    return Path(done.stdout.strip().splitlines()[-1].split("exported: ", 1)[1])


def test_a_run_exported_in_aisbench_layout_imports_back_to_its_samples(tmp_path: Path) -> None:
    exported = finished_export(run_cli(["export", str(DEMO_RUN.path), "--format", "aisbench", "--out", str(tmp_path / "ais")]))
    lines = (exported / "predictions" / "smollm2-135m-demo" / "Xsum.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(range(len(lines)))
    back = finished_run(run_cli(["import", str(exported), "--from", "aisbench", "--out", str(tmp_path / "imported")]))
    manifest = json.loads((back / "run.json").read_text())
    assert manifest["imported_from"]["tool"] == "aisbench" and manifest["imported_from"]["scored_by"] == "aisbench"
    original = {(s["dataset"], s["id"]): s for s in map(json.loads, (DEMO_RUN.path / "samples.jsonl").read_text().splitlines())}
    again = {(s["dataset"], s["id"]): s for s in map(json.loads, (back / "samples.jsonl").read_text().splitlines())}
    assert original.keys() == again.keys()
    for key, sample in original.items():
        assert again[key]["scores"] == sample["scores"] and again[key]["extracted"] == sample["extracted"], key
        if "choices" not in sample:  # generative: the same prompt; a PPL line's hash covers its choices too
            assert again[key]["prompt_sha256"] == sample["prompt_sha256"], key
    assert_one_line_error(run_cli(["export", str(DEMO_RUN.path), "--format", "aisbench", "--out", str(tmp_path / "ais")]),
                          2, "exists already")


def test_export_refuses_what_is_not_a_finished_run(tmp_path: Path) -> None:
    assert_one_line_error(run_cli(["export", str(tmp_path), "--format", "opencompass"]), 2, "is not a run folder of benchmark-eval")
    assert_one_line_error(run_cli(["export", str(DEMO_RUN.path), "--format", "csv"]), 2, "give opencompass or aisbench")
    unfinished = tmp_path / "run"
    shutil.copytree(DEMO_RUN.path, unfinished)
    manifest = json.loads((unfinished / "run.json").read_text())
    (unfinished / "run.json").write_text(json.dumps({**manifest, "status": "failed"}))
    assert_one_line_error(run_cli(["export", str(unfinished), "--format", "opencompass"]), 2, "has status failed")


def test_a_run_exported_in_opencompass_layout_is_opencompass_s_own_files(tmp_path: Path) -> None:
    exported = finished_export(run_cli(["export", str(DEMO_RUN.path), "--format", "opencompass", "--out", str(tmp_path)]))
    for folder in ("predictions", "results", "summary"):
        for original in (DEMO_RUN.path / folder).rglob("*.json*"):
            assert (exported / original.relative_to(DEMO_RUN.path)).read_bytes() == original.read_bytes()


def test_import_writes_where_run_writes(tmp_path: Path) -> None:
    """results_dir, else the checkout's results/, whatever the current folder: as `run` does."""
    from benchmark_eval.backends.selection import parse_run_settings
    from benchmark_eval.cli.importing import ImportOptions
    from benchmark_eval.cli.options import parse_options

    run_default = parse_run_settings({"model_name": "m", "datasets": "gsm8k_gen"}).results_root
    assert parse_options(ImportOptions, {}, env={}).out == run_default
    assert parse_options(ImportOptions, {}, env={"results_dir": str(tmp_path)}).out == tmp_path
    folder = tmp_path / "outputs" / "20250101_120000"
    (folder / "configs").mkdir(parents=True)
    (folder / "configs" / "20250101_120000_1.py").write_text(
        f"datasets = [{_GSM8K.format(inferencer='GenInferencer')}]\nmodels = [dict(abbr='gpu', path='served')]\n")
    (folder / "summary").mkdir()
    (folder / "summary" / "summary_20250101_120000.csv").write_text("dataset,version,metric,mode,gpu\ngsm8k,abc123,accuracy,gen,50.00\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli(["import", str(folder)], {"results_dir": str(tmp_path / "chosen")}, cwd=elsewhere)
    assert_one_line_error(done, 2, "has a summary but no predictions")
    assert (tmp_path / "chosen" / "references" / "20250101_120000-1pct.yaml").is_file()
    assert not (elsewhere / "results").exists()


def test_the_scoring_rule_is_the_reason_named_when_it_differs() -> None:
    from benchmark_eval.compare.comparability import input_differences
    from benchmark_eval.compare.runs import LoadedRun
    from benchmark_eval.results.records import RunManifest

    def run(scoring: str | None, config: str) -> LoadedRun:
        record = {"config": "ceval_ppl", "files": {}, "samples": 1, "prompt_config_sha256": config, "scoring": scoring}
        manifest = RunManifest.model_validate({"schema": 1, "status": "ok", "model": {"name": "m"},
                                               "datasets": {"ceval-x_ppl": record}})
        return LoadedRun(Path("."), manifest, {})

    stock, ours, older_ours = run("whole-prompt perplexity", "s"), run("continuation log-likelihood", "o"), run(None, "o")
    for candidate in (ours, older_ours):  # a run.json written before runs recorded their rule is ours too
        assert input_differences(stock, candidate, ["ceval-x_ppl"]) == [
            "ceval-x_ppl: the scoring rules differ, whole-prompt perplexity (baseline) against continuation log-likelihood "
            "(candidate): stock OpenCompass's perplexity tests choose by the whole prompt, benchmark-eval by each choice's "
            "continuation; compare two stock perplexity runs, or two of ours"]
    assert input_differences(ours, older_ours, ["ceval-x_ppl"]) == []
    assert input_differences(stock, run("whole-prompt perplexity", "s"), ["ceval-x_ppl"]) == []
