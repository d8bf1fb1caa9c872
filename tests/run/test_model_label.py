"""model_name as the classic manual uses it: the evaluation's name, which "need not match the
model the server was started with"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark_eval.demo.model import SERVED_NAME
from benchmark_eval.server import ServerHandle

from ..conftest import assert_one_line_error, assert_same_answers, finished_run, run_cli
from ..fault_proxy import FaultProxy

pytestmark = [pytest.mark.server, pytest.mark.opencompass]

SLICE = {"eval_datasets": "mmlu_gen", "subjects": "anatomy", "limit": "3", "max_out_len": "8", "batch_size": "4"}


def _env(port: str, data_root: Path, results: Path, name: str) -> dict[str, str]:
    return {"service_port": port, "model_name": name, "COMPASS_DATA_CACHE": str(data_root),
            "results_dir": str(results), **SLICE}


def test_a_label_names_the_results_and_requests_go_to_the_one_served_model(
        vllm_server: ServerHandle, data_root: Path, tmp_path: Path) -> None:
    port = vllm_server.base_url.rsplit(":", 1)[1]
    labelled = run_cli(["run"], _env(port, data_root, tmp_path / "a", "llama_7b"))
    run_dir = finished_run(labelled)
    assert run_dir.parent.parent.name == "llama_7b"  # results/<model_name>/<benchmark_type>/<stamp>
    notes = [line for line in labelled.stderr.splitlines() if "is this run's label" in line]
    assert len(notes) == 1 and f"'{SERVED_NAME}'" in notes[0], labelled.stderr[-2000:]
    model = json.loads((run_dir / "run.json").read_text())["model"]
    assert model["name"] == "llama_7b" and model["served"] == SERVED_NAME

    named = finished_run(run_cli(["run"], _env(port, data_root, tmp_path / "b", SERVED_NAME)))
    # Same answers, not the same bytes: the generated tokens' log-probs move in the 5th decimal
    # when the server batches the requests differently.
    assert_same_answers((run_dir / "samples.jsonl").read_bytes(), (named / "samples.jsonl").read_bytes())
    # compare pairs runs by the model that answered, not by the label: comparable (0 or 2), never 3
    compared = run_cli(["compare", str(named), str(run_dir), "--out", str(tmp_path / "cmp"), "--resamples", "200"])
    assert compared.returncode in (0, 11), compared.stdout + compared.stderr[-2000:]
    assert "model (served)" not in (tmp_path / "cmp" / "report.md").read_text()


def test_several_served_models_and_a_name_that_matches_none(vllm_server: ServerHandle, data_root: Path,
                                                            tmp_path: Path) -> None:
    def two_models(models: dict) -> dict:
        models["data"].append({**models["data"][0], "id": "second-model"})
        return models

    with FaultProxy(vllm_server.base_url, rewrite_models=two_models) as proxy:
        done = run_cli(["run"], _env(str(proxy.port), data_root, tmp_path, "llama_7b"))
    assert_one_line_error(done, 2, "not 'llama_7b'", SERVED_NAME, "second-model", "set model_name to one of")
    assert not any(tmp_path.iterdir())
