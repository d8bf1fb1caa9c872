"""AISBench itself (ais-bench-benchmark from the registry, in .venv-aisbench: its own CLI, its
VLLMCustomAPIChat model config with its defaults, its GSM8K config and evaluator) against the real
fp32 server, imported with `--dump-eval-details`' per-sample results, then compared with our run.

AISBench's defaults are not ours (temperature 0.01, its own GSM8K prompt): the comparison must
refuse, listing them, rather than pass a baseline whose inputs differ."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.errors import EXIT_NOT_COMPARABLE
from benchmark_eval.paths import REPO_ROOT, demo_model_dir
from benchmark_eval.server import ServerHandle

from ..conftest import finished_run, run_cli

pytestmark = [pytest.mark.server, pytest.mark.opencompass]

AIS_BENCH = REPO_ROOT / ".venv-aisbench" / "bin" / "ais_bench"
LIMIT, MAX_OUT_LEN = 4, 32

# A config of the documented shape: AISBench's own model and dataset configs, pointed at the server and the data.
CONFIG = """\
from mmengine.config import read_base

with read_base():
    from ais_bench.benchmark.configs.summarizers.example import summarizer
    from ais_bench.benchmark.configs.models.vllm_api.vllm_api_general_chat import models as chat_models
    from ais_bench.benchmark.configs.datasets.gsm8k.gsm8k_gen_0_shot_cot_chat_prompt import gsm8k_datasets

models = [dict(chat_models[0], model={served!r}, path={tokenizer!r}, host_ip="127.0.0.1", host_port={port},
               max_out_len={max_out_len}, batch_size=4)]
datasets = [dict(gsm8k_datasets[0], path={data!r}, reader_cfg=dict(gsm8k_datasets[0]["reader_cfg"], test_range="[0:{limit}]"))]
"""


@pytest.fixture(scope="module")
def aisbench_run(vllm_server: ServerHandle, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert AIS_BENCH.exists(), "AISBench is not installed: run bash install.sh --for-tests"
    work = tmp_path_factory.mktemp("aisbench")
    (work / "ais_config.py").write_text(CONFIG.format(
        served=SERVED_NAME, tokenizer=str(demo_model_dir()), port=vllm_server.base_url.rsplit(":", 1)[1],
        max_out_len=MAX_OUT_LEN, data=str(data_root / "data" / "gsm8k"), limit=LIMIT))
    done = subprocess.run([str(AIS_BENCH), "ais_config.py", "-w", str(work / "outputs"), "--dump-eval-details"],
                          cwd=work, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return work / "outputs"


def test_an_aisbench_run_imports_with_its_own_per_sample_results(aisbench_run: Path, tmp_path: Path) -> None:
    imported = finished_run(run_cli(["import", str(aisbench_run), "--out", str(tmp_path)]))
    [stamp] = list(aisbench_run.iterdir())
    details = json.loads((stamp / "results" / "vllm-api-general-chat" / "gsm8k.json").read_text())
    manifest = json.loads((imported / "run.json").read_text())
    origin = manifest["imported_from"]
    assert origin["tool"] == "aisbench" and origin["scored_by"] == "aisbench"
    assert origin["model_type"].endswith("VLLMCustomAPIChat") and manifest["model"]["served"] == SERVED_NAME
    assert manifest["generation"]["temperature"] == 0.01  # AISBench's default, recorded as it ran
    assert manifest["datasets"]["gsm8k"]["config"] == "gsm8k_gen" and manifest["datasets"]["gsm8k"]["files"] == {}
    samples = [json.loads(line) for line in (imported / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == LIMIT
    for sample in samples:
        detail = details["details"][sample["id"]]
        assert sample["scores"]["correct"] == float(detail["correct"][0] if isinstance(detail["correct"], list) else detail["correct"])
        assert sample["prediction"] == detail["origin_prediction"]
    accuracy = 100 * sum(s["scores"]["correct"] for s in samples) / len(samples)
    assert manifest["datasets"]["gsm8k"]["metrics"]["accuracy"] == pytest.approx(accuracy) == pytest.approx(details["accuracy"])


def test_aisbench_defaults_make_the_comparison_refuse(aisbench_run: Path, vllm_server: ServerHandle, data_root: Path,
                                                     tmp_path: Path) -> None:
    imported = finished_run(run_cli(["import", str(aisbench_run), "--out", str(tmp_path / "imported")]))
    ours = finished_run(run_cli(["run"], {
        "service_port": vllm_server.base_url.rsplit(":", 1)[1], "model_name": SERVED_NAME, "eval_datasets": "gsm8k_gen",
        "limit": str(LIMIT), "max_out_len": str(MAX_OUT_LEN), "COMPASS_DATA_CACHE": str(data_root),
        "results_dir": str(tmp_path / "ours")}))
    done = run_cli(["compare", str(imported), str(ours)])
    assert done.returncode == EXIT_NOT_COMPARABLE, done.stdout + done.stderr
    for difference in ("generation.temperature: 0.01 vs 0.0", "gsm8k: prompt/few-shot config differs",
                       f"gsm8k: {LIMIT} sample prompt(s) differ"):
        assert difference in done.stderr, done.stderr
