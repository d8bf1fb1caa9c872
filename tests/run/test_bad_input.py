"""`benchmark-eval run` refuses bad input before any long work: one line, non-zero exit."""

from pathlib import Path

import pytest

from benchmark_eval.run.server import ServerHandle, free_port

from ..conftest import assert_one_line_error, run_cli


def _env(server: ServerHandle, data_root: Path, **extra: str) -> dict[str, str]:
    port = server.base_url.rsplit(":", 1)[1]
    env = {"model_name": server.served_model_name, "service_port": port, "eval_datasets": "mmlu_gen",
           "subjects": "anatomy", "limit": "2", "COMPASS_DATA_CACHE": str(data_root)}
    env.update(extra)
    return env


@pytest.mark.parametrize(("extra", "fragments"), [
    ({"eval_datasets": "mmlu_gen no_such_dataset_gen"}, ["unknown dataset 'no_such_dataset_gen'"]),
    ({"max_out_len": "lots"}, ["max_out_len='lots'"]),
    ({"batch_size": "-2"}, ["batch_size='-2'"]),
    ({"model_name": "gpt-9"}, ["not 'gpt-9'", "set model_name"]),
    ({"model_name": ""}, ["model_name"]),
    ({"host": "no-such-host.invalid"}, ["no-such-host.invalid"]),
])
def test_bad_settings(vllm_server: ServerHandle, data_root: Path, tmp_path: Path, extra: dict[str, str], fragments: list[str]) -> None:
    done = run_cli(["run"], _env(vllm_server, data_root, results_dir=str(tmp_path), **extra), timeout=120)
    assert_one_line_error(done, 2, *fragments)
    assert not any(tmp_path.iterdir()), "nothing may be written for refused input"


def test_wrong_port(vllm_server: ServerHandle, data_root: Path, tmp_path: Path) -> None:
    port = str(free_port())
    done = run_cli(["run"], _env(vllm_server, data_root, service_port=port, results_dir=str(tmp_path)), timeout=120)
    assert_one_line_error(done, 2, "cannot reach", port)


def test_missing_data_folder(vllm_server: ServerHandle, tmp_path: Path) -> None:
    done = run_cli(["run"], _env(vllm_server, tmp_path / "no-data", results_dir=str(tmp_path / "r")), timeout=120)
    assert_one_line_error(done, 2, "data folder", "COMPASS_DATA_CACHE")


def test_data_root_without_the_dataset(vllm_server: ServerHandle, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    done = run_cli(["run"], _env(vllm_server, tmp_path, results_dir=str(tmp_path / "r")), timeout=120)
    assert_one_line_error(done, 2, "lukaemon_mmlu_anatomy", "anatomy_dev.csv is missing")


@pytest.mark.parametrize(("extra", "fragments"), [
    ({"hf_path": "/no/such/model"}, ["model folder /no/such/model does not exist"]),
    ({"hf_path": "{tmp}"}, ["is not a model folder (no config.json)"]),
    ({"hf_path": "{model}", "device": "cuda"}, ["device=cuda but torch sees no CUDA device"]),
    ({"hf_path": "{model}", "vllm_path": "offline", "vllm_python": "/no/python"}, ["vLLM interpreter /no/python not found"]),
])
def test_bad_local_weights(data_root: Path, tmp_path: Path, extra: dict[str, str], fragments: list[str]) -> None:
    from benchmark_eval.paths import demo_model_dir

    values = {k: v.format(tmp=tmp_path, model=demo_model_dir()) for k, v in extra.items()}
    results = tmp_path / "results"
    done = run_cli(["run"], {"eval_datasets": "mmlu_ppl", "subjects": "anatomy", "limit": "2",
                             "COMPASS_DATA_CACHE": str(data_root), "results_dir": str(results), **values}, timeout=120)
    assert_one_line_error(done, 2, *fragments)
    assert not results.exists(), "nothing may be written for refused input"
