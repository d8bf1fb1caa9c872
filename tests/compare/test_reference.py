"""Sign-off against published reference scores (no baseline run), on a real run."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from benchmark_eval.compare.reference import ReferenceFile
from benchmark_eval.errors import EXIT_VERDICT_FAIL
from benchmark_eval.paths import REPO_ROOT

from ..conftest import assert_one_line_error, run_cli


def _targets(run: Path, bump: float, rule: dict[str, float]) -> list[dict[str, object]]:
    metrics = json.loads((run / "run.json").read_text())["datasets"]["Xsum"]["metrics"]
    return [{"dataset": "Xsum", "metric": m, "reference": round(metrics[m] + bump, 4), **rule} for m in ("rouge1", "rouge2")]


def test_a_run_that_meets_its_targets_passes(runs: dict[str, Path], tmp_path: Path) -> None:
    ref = tmp_path / "ref.yaml"
    ref.write_text(yaml.safe_dump({"name": "met", "targets": _targets(runs["fp32"], 0.0, {"fraction": 0.999})}))
    done = run_cli(["compare", "--reference", str(ref), str(runs["fp32"]), "--out", str(tmp_path / "r")])
    assert done.returncode == 0, done.stdout + done.stderr
    report = (tmp_path / "r" / "report.md").read_text()
    assert "**PASS**" in report and "no paired statistics are possible" in report
    verdict = json.loads((tmp_path / "r" / "verdict.json").read_text())
    assert verdict["verdict"] == "PASS" and verdict["paired_statistics"] is False
    for target in verdict["targets"]:  # the candidate's own interval brackets its score
        assert target["ci"][0] <= target["value"] <= target["ci"][1] and target["n"] == 8


def test_a_run_that_misses_a_target_fails_and_says_by_how_much(runs: dict[str, Path], tmp_path: Path) -> None:
    ref = tmp_path / "ref.yaml"
    ref.write_text(yaml.safe_dump({"name": "missed", "targets": _targets(runs["fp32"], 5.0, {"margin": 1.0})}))
    done = run_cli(["compare", "--reference", str(ref), str(runs["fp32"]), "--out", str(tmp_path / "r")])
    assert done.returncode == EXIT_VERDICT_FAIL, done.stdout + done.stderr
    assert "Xsum rouge1: FAIL (missed by 4.0000)" in done.stdout
    report = (tmp_path / "r" / "report.md").read_text()
    assert "## What missed" in report and "is 4.0000 below the threshold" in report


def test_shipped_mlperf_targets_load() -> None:
    ref = ReferenceFile.load(REPO_ROOT / "configs/references/mlperf-llama2-70b-openorca.yaml")
    assert [(t.metric, t.reference, t.threshold) for t in ref.targets] == [
        ("rouge1", 44.4312, 44.4312 * 0.999), ("rouge2", 22.0352, 22.0352 * 0.999), ("rougeL", 28.6162, 28.6162 * 0.999)]


def test_bad_reference_files_are_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "targets": [{"dataset": "Xsum", "metric": "rouge1", "reference": 40}]}))
    assert_one_line_error(run_cli(["compare", "--reference", str(bad), str(runs["fp32"])]), 2, "exactly one of fraction or margin")
    assert_one_line_error(run_cli(["compare", "--reference", str(tmp_path / "none.yaml"), str(runs["fp32"])]), 2, "does not exist")
    assert_one_line_error(run_cli(["compare", "--reference", str(bad), str(runs["fp32"]), str(runs["rounded"])]), 2,
                          "give one run folder")
