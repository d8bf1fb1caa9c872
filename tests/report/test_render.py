"""compare -> report.md, report.html, verdict.json, in-process on run folders written through the
typed records (the real-server versions of these checks are in tests/compare/)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark_eval.compare.margins import Margins
from benchmark_eval.compare.signoff import compare_runs
from benchmark_eval.errors import EXIT_NOT_COMPARABLE, UserError
from benchmark_eval.report.render import write_report
from benchmark_eval.results import DatasetRecord, RunDir, RunManifest, Sample
from benchmark_eval.results.records import Environment, Generation, ModelInfo


def _run(folder: Path, correct: np.ndarray, device: str, max_out_len: int = 64) -> Path:
    run = RunDir(folder)
    folder.mkdir(parents=True)
    samples = [Sample(dataset="mmlu_x", id=str(i), prompt_sha256=f"{i:064d}", prediction="AB"[int(c)], extracted="AB"[int(c)],
                      reference="B", scores={"correct": float(c)}) for i, c in enumerate(correct)]
    run.write_samples(samples)
    run.write_manifest(RunManifest(
        schema_version=1, status="ok", mode="vllm", model=ModelInfo(name="m"),
        generation=Generation(max_out_len=max_out_len, temperature=0.0, max_seq_len=2048, batch_size=16),
        datasets={"mmlu_x": DatasetRecord(config="mmlu_gen", files={"data/mmlu/x.csv": "0" * 64}, samples=len(samples),
                                          prompt_config_sha256="1" * 64, metrics={"accuracy": 100 * float(correct.mean())})},
        environment=Environment(device=device), samples=len(samples)))
    return folder


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    base = rng.random(400) < 0.6
    cand = base.copy()
    cand[:6] = ~cand[:6]  # six flips
    return _run(tmp_path / "gpu", base, "cuda"), _run(tmp_path / "npu", cand, "npu")


def test_report_files_say_what_the_comparison_found(pair: tuple[Path, Path], tmp_path: Path) -> None:
    comparison = compare_runs(*pair, Margins(0.01), resamples=2000)
    paths = write_report(comparison, tmp_path / "out")
    verdict = json.loads(paths["json"].read_text())
    assert verdict["verdict"] == comparison.verdict and verdict["exit_code"] == comparison.exit_code
    assert verdict["baseline"]["label"] == "cuda" and verdict["candidate"]["label"] == "npu"
    [metric] = verdict["metrics"]
    assert metric["flipped"] == 6 and metric["paired"]["n"] == 400
    flips = metric["paired"]["flips"]
    assert flips["right_to_wrong"] + flips["wrong_to_right"] == 6
    md = paths["md"].read_text()
    assert "mmlu_x" in md and "### mmlu_x / accuracy (6)" in md
    html = paths["html"].read_text()
    assert html.count("data:image/png;base64,") == 4 and "mmlu_x" in html  # no token traces: no divergence plots
    assert not verdict["noise_floor"]  # the devices differ
    # every flip has a cause; without token log-probs the texts differ for no stated reason
    assert verdict["flip_causes"][0]["causes"]["no-logprobs"] == 6 and verdict["divergence"] == []
    assert "6 of 6 flips are unexplained (no token log-probs kept)" in md


def test_a_generation_setting_that_differs_is_named(tmp_path: Path) -> None:
    correct = np.ones(10, dtype=bool)
    base, cand = _run(tmp_path / "a", correct, "cuda"), _run(tmp_path / "b", correct, "npu", max_out_len=999)
    with pytest.raises(UserError) as refused:
        compare_runs(base, cand, Margins(0.01))
    assert refused.value.exit_code == EXIT_NOT_COMPARABLE
    assert "generation.max_out_len: 64 vs 999" in refused.value.details
