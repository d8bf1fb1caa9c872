"""Stock OpenCompass perplexity (PPL) runs, really run: OpenCompass's own CLI with its HF model
class on the demo weights in fp32 and in bf16 (stock PPL tests score prompts by local weights),
imported with each sample's chosen answer and its correctness, and compared: paired, the flips
the same as recounted from OpenCompass's own predictions files. Against a run of ours the pair is
refused as not comparable, naming the reason: the scoring rules differ.

The stock runs are C-Eval's PPL config made zero-shot (its retriever swapped for OpenCompass's
ZeroRetriever): five-shot prompts cost a minute per batch of the model on two CPU cores, and
what is tested here is the import, not the prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.errors import EXIT_NOT_COMPARABLE
from benchmark_eval.plan import plan_datasets
from benchmark_eval.server import ServerHandle

from ..conftest import assert_one_line_error, finished_run, run_cli
from .stock_opencompass import run_stock_opencompass, stock_hf_model

pytestmark = [pytest.mark.opencompass]

SUBJECTS = ("computer_network",)
LIMIT = 4


def _zero_shot(cfg: dict) -> dict:
    cfg["infer_cfg"]["retriever"] = {"type": "opencompass.openicl.icl_retriever.ZeroRetriever"}
    return cfg


def _stock_run(dtype: str, work: Path, data_root: Path) -> tuple[Path, Path]:
    """The stock run's output folder, and its import."""
    datasets = [_zero_shot(p.cfg) for p in plan_datasets(("ceval_ppl",), SUBJECTS, LIMIT)]
    folder = run_stock_opencompass(None, datasets, work / dtype, data_root, model=stock_hf_model(f"stock-hf-{dtype}", dtype))
    imported = finished_run(run_cli(["import", str(folder), "--data-root", str(data_root), "--out", str(work / "imported")]))
    return folder, imported


@pytest.fixture(scope="module")
def stock_pair(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    work = tmp_path_factory.mktemp("stock-ppl")
    return {dtype: _stock_run(dtype, work, data_root) for dtype in ("float32", "bfloat16")}


def _stock_correct(folder: Path) -> dict[tuple[str, str], bool]:
    """Right or wrong per sample, from OpenCompass's own predictions files (chosen label == gold)."""
    out = {}
    for path in sorted((folder / "predictions").glob("*/*.json")):
        for index, row in json.loads(path.read_text()).items():
            out[(path.stem, index)] = row["prediction"] == row["gold"]  # the abbrs end in _ppl (plan_datasets)
    return out


def test_two_stock_ppl_runs_import_and_pair(stock_pair: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    (fp32_folder, fp32), (bf16_folder, bf16) = stock_pair["float32"], stock_pair["bfloat16"]
    manifest = json.loads((fp32 / "run.json").read_text())
    assert {r["scoring"] for r in manifest["datasets"].values()} == {"whole-prompt perplexity"}
    assert any("no log-prob parity" in u for u in manifest["imported_from"]["unknown"])
    samples = [json.loads(line) for line in (fp32 / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == LIMIT * len(SUBJECTS)
    assert all(s["chosen"] in "ABCD" and "choices" not in s for s in samples)

    done = run_cli(["compare", str(fp32), str(bf16), "--out", str(tmp_path)])
    assert done.returncode in (0, 10, 11), done.stdout + done.stderr  # comparable: a verdict
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["mismatches"] == []
    a, b = _stock_correct(fp32_folder), _stock_correct(bf16_folder)
    for metric in verdict["metrics"]:  # flips recounted from OpenCompass's own files
        keys = [k for k in a if k[0] == metric["dataset"]]
        assert len(keys) == LIMIT
        assert metric["flipped"] == sum(a[k] != b[k] for k in keys), metric["dataset"]
    assert all(m.get("logprob") is None for m in verdict["metrics"])  # never faked from perplexities
    assert "no log-prob parity" in done.stdout


def test_stock_ppl_against_ours_is_refused_for_its_scoring_rule(stock_pair: dict[str, tuple[Path, Path]], data_root: Path,
                                                                vllm_server: ServerHandle, tmp_path: Path) -> None:
    ours = finished_run(run_cli(["run"], {
        "service_port": vllm_server.base_url.rsplit(":", 1)[1], "model_name": SERVED_NAME, "eval_datasets": "ceval_ppl",
        "subjects": ",".join(SUBJECTS), "limit": str(LIMIT), "COMPASS_DATA_CACHE": str(data_root),
        "results_dir": str(tmp_path / "ours")}))
    done = run_cli(["compare", str(stock_pair["float32"][1]), str(ours)])
    assert done.returncode == EXIT_NOT_COMPARABLE, done.stdout + done.stderr
    assert "the scoring rules differ, whole-prompt perplexity (baseline) against continuation log-likelihood" in done.stderr
    assert "prompt/few-shot config differs" not in done.stderr  # the reason, not its consequences


def test_datasets_picks_what_to_import(stock_pair: dict[str, tuple[Path, Path]], data_root: Path, tmp_path: Path) -> None:
    folder = stock_pair["float32"][0]
    one = sorted(p.stem for p in (folder / "predictions").glob("*/*.json"))[0]
    done = run_cli(["import", str(folder), "--data-root", str(data_root), "--out", str(tmp_path), "--datasets", one])
    picked = finished_run(done)
    assert list(json.loads((picked / "run.json").read_text())["datasets"]) == [one]
    assert_one_line_error(run_cli(["import", str(folder), "--data-root", str(data_root), "--datasets", "nope"]), 2,
                          "--datasets: nope not in", one)
