"""`benchmark-eval run` refuses bad input before any long work: one line, non-zero exit."""

from pathlib import Path

import pytest

from benchmark_eval.server import ServerHandle, free_port

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
    ({"model_name": ""}, ["model_name"]),
    ({"host": "no-such-host.invalid"}, ["no-such-host.invalid"]),
    ({"max_out_len": "-5"}, ["max_out_len='-5'", "positive whole number"]),
    ({"batch_size": "1.5"}, ["batch_size='1.5'"]),
    ({"limit": "0"}, ["limit='0'"]),
    ({"limit": "ten"}, ["limit='ten'"]),
    ({"service_port": "http"}, ["service_port='http'", "1-65535"]),
    ({"service_port": "70000"}, ["service_port='70000'"]),
    ({"host": "http://localhost:8000"}, ["is not a host name", "service_port"]),
    ({"temperature": "-1"}, ["temperature='-1'"]),
    ({"request_timeout": "0"}, ["request_timeout='0'"]),
    ({"max_retries": "-1"}, ["max_retries='-1'"]),
    ({"max_retries": "many"}, ["max_retries='many'"]),
    ({"max_seq_len": "0"}, ["max_seq_len='0'"]),
    ({"benchmark_type": "a/b"}, ["benchmark_type='a/b'", "folder name"]),
    ({"vllm_path": "tgi"}, ["vllm_path='tgi'", "vllm_path=vllm"]),
    ({"eval_datasets": " "}, ["eval_datasets is not set"]),
    ({"subjects": "no_such_subject"}, ["no_such_subject"]),
    ({"endpoints": "localhost"}, ["endpoints='localhost'", "HOST:PORT"]),
    ({"runner": "k8s"}, ["runner='k8s'", "runner=slurm"]),
    ({"max_num_workers": "0"}, ["max_num_workers='0'"]),
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


def _copy_anatomy(root: Path, data_root: Path) -> tuple[Path, Path]:
    for split in ("dev", "test"):
        (root / "data" / "mmlu" / split).mkdir(parents=True)
        name = f"anatomy_{split}.csv"
        (root / "data" / "mmlu" / split / name).write_bytes((data_root / "data" / "mmlu" / split / name).read_bytes())
    return root / "data" / "mmlu" / "dev" / "anatomy_dev.csv", root / "data" / "mmlu" / "test" / "anatomy_test.csv"


@pytest.mark.parametrize(("breakage", "fragments"), [
    ("empty_file", ["anatomy_test.csv", "empty"]),
    ("bad_encoding", ["anatomy_test.csv", "UTF-8"]),
    ("wrong_columns", ["anatomy_dev.csv"]),
    ("missing_file", ["anatomy_dev.csv is missing"]),
])
def test_bad_data_files(vllm_server: ServerHandle, data_root: Path, tmp_path: Path, breakage: str, fragments: list[str]) -> None:
    dev, test = _copy_anatomy(tmp_path / "root", data_root)
    if breakage == "empty_file":
        test.write_bytes(b"")
    elif breakage == "bad_encoding":
        test.write_bytes(test.read_bytes()[:200] + "caf\xe9".encode("latin-1") + b"\n")
    elif breakage == "wrong_columns":
        dev.write_text("question\nwhat?\n")
    elif breakage == "missing_file":
        dev.unlink()
    done = run_cli(["run"], _env(vllm_server, tmp_path / "root", results_dir=str(tmp_path / "r")), timeout=120)
    assert_one_line_error(done, 2, *fragments)
    assert not (tmp_path / "r").exists(), "nothing may be written for refused input"


@pytest.mark.parametrize(("case", "fragments"), [
    ("no_such_folder", ["no such run folder"]),
    ("not_a_run", ["is not a run folder", "run.json"]),
    ("corrupt_manifest", ["is not a run folder"]),
    ("finished_run", ["finished already", "nothing to resume"]),
    ("latest_when_none_unfinished", ["no unfinished run"]),
])
def test_bad_resume_targets(tmp_path: Path, case: str, fragments: list[str]) -> None:
    run_dir = tmp_path / "results" / "m" / "accuracy" / "20260101_000000"
    run_dir.mkdir(parents=True)
    target = str(run_dir)
    if case == "no_such_folder":
        target = str(tmp_path / "nowhere")
    elif case == "corrupt_manifest":
        (run_dir / "run.json").write_text("{not json")
    elif case in ("finished_run", "latest_when_none_unfinished"):
        (run_dir / "run.json").write_text('{"status": "ok", "settings": {}}')
    env = {"resume": "1" if case == "latest_when_none_unfinished" else target, "model_name": "m",
           "eval_datasets": "mmlu_gen", "results_dir": str(tmp_path / "results")}
    before = sorted(p.name for p in run_dir.iterdir())
    done = run_cli(["run"], env, timeout=120)
    assert_one_line_error(done, 2, *fragments)
    assert sorted(p.name for p in run_dir.iterdir()) == before, "a refused resume must not touch the run folder"


@pytest.mark.parametrize("env", [{"limit": "5"}, {"eval_datasets": "mmlu_gen", "service_port": "8000"}, {"subjects": "anatomy"}])
def test_settings_without_a_model_are_not_the_demo(tmp_path: Path, env: dict[str, str]) -> None:
    # Only no settings at all runs the demo; a half-set target is a mistake to point out.
    done = run_cli(["run"], {**env, "results_dir": str(tmp_path)}, timeout=120)
    assert_one_line_error(done, 2, "no model_name", "unset them all to run the demo")
    assert not any(tmp_path.iterdir())
