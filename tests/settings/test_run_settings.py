from pathlib import Path

import pytest

from benchmark_eval.backends.selection import run_settings_from_env
from benchmark_eval.errors import UserError

BASE = {"model_name": "m", "eval_datasets": "mmlu_gen"}


def test_classic_env_vars_map_onto_fields() -> None:
    s = run_settings_from_env({
        "vllm_path": "vllm", "host": "10.0.0.5", "service_port": "8123", "max_out_len": "64", "batch_size": "4",
        "eval_datasets": "mmlu_gen  ceval_gen", "model_name": "qwen", "benchmark_type": "nightly",
        "subjects": "anatomy,astronomy", "limit": "7", "COMPASS_DATA_CACHE": "/data",
    })
    assert (s.host, s.port, s.max_out_len, s.batch_size, s.limit) == ("10.0.0.5", 8123, 64, 4, 7)
    assert s.datasets == ("mmlu_gen", "ceval_gen") and s.subjects == ("anatomy", "astronomy")
    assert s.data_root == Path("/data") and s.benchmark_type == "nightly"
    assert s.base_url == "http://10.0.0.5:8123" and s.temperature == 0.0


def test_flags_override_env() -> None:
    s = run_settings_from_env({**BASE, "max_out_len": "64"}, max_out_len="32")
    assert s.max_out_len == 32


def test_empty_env_values_mean_unset() -> None:
    assert run_settings_from_env({**BASE, "limit": "", "host": ""}).limit is None


@pytest.mark.parametrize(("env", "fragment"), [
    ({"max_out_len": "abc"}, "max_out_len='abc'"),
    ({"max_out_len": "-5"}, "max_out_len='-5'"),
    ({"batch_size": "1.5"}, "batch_size='1.5'"),
    ({"batch_size": "0"}, "batch_size='0'"),
    ({"service_port": "http"}, "service_port='http'"),
    ({"service_port": "70000"}, "service_port='70000'"),
    ({"limit": "ten"}, "limit='ten'"),
    ({"model_name": "  "}, "model_name"),
    ({"host": "http://x"}, "host='http://x'"),
    ({"benchmark_type": "a/b"}, "benchmark_type='a/b'"),
    ({"temperature": "-1"}, "temperature='-1'"),
    ({"vllm_path": "vllm_gpu"}, "vllm_path='vllm_gpu'"),
    # local weights and vLLM offline
    ({"vllm_path": "offline"}, "set hf_path"),
    ({"hf_path": "/m", "device": "tpu"}, "device='tpu' is not valid for local weights"),
    ({"hf_path": "/m", "hf_type": "instruct"}, "hf_type='instruct' is not valid"),
    ({"hf_path": "/m", "dtype": "fp8"}, "dtype='fp8' is not valid"),
    ({"hf_path": "/m", "hf_num_gpus": "0"}, "hf_num_gpus='0' is not valid"),
    ({"vllm_path": "sglang"}, "vllm_path='sglang' is not valid"),
])
def test_bad_values_give_one_clear_line(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(UserError) as raised:
        run_settings_from_env({**BASE, **env})
    message = str(raised.value)
    assert fragment in message and "\n" not in message
    assert "set " in message or "use " in message  # says how to fix it


def test_missing_required_values_say_what_to_set() -> None:
    with pytest.raises(UserError, match="eval_datasets is not set"):
        run_settings_from_env({"model_name": "m"})
    with pytest.raises(UserError, match="model_name is not set"):
        run_settings_from_env({"eval_datasets": "mmlu_gen"})


def test_hf_path_alone_selects_local_weights_named_after_the_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "Qwen-7B"
    settings = run_settings_from_env({"hf_path": str(model), "eval_datasets": "mmlu_ppl", "device": "npu",
                                     "hf_num_gpus": "8", "dtype": "bfloat16", "hf_type": "base"})
    assert settings.mode == "hf" and settings.is_local and settings.model_name == "Qwen-7B"
    assert (settings.device, settings.num_devices, settings.dtype, settings.hf_type) == ("npu", 8, "bfloat16", "base")


@pytest.mark.parametrize("value, mode", [("vllm", "vllm"), ("vllm_ppl", "vllm"), ("offline", "vllm_offline")])
def test_vllm_path_values(value: str, mode: str) -> None:
    env = {"vllm_path": value, "eval_datasets": "mmlu_ppl", "model_name": "m", "model_path": "/m"}
    assert run_settings_from_env(env).mode == mode


def test_the_mode_chooses_the_backends_own_settings() -> None:
    """Each backend's settings hold its own fields; what another backend reads is ignored, as
    one shell may export the variables of several."""
    server = run_settings_from_env({**BASE, "hf_num_gpus": "0"})
    assert type(server).__name__ == "ServerRunSettings" and not hasattr(server, "num_devices")
    local = run_settings_from_env({"hf_path": "/m", "eval_datasets": "mmlu_ppl", "service_port": "http"})
    assert type(local).__name__ == "HfRunSettings" and local.is_local and not hasattr(local, "port")
    offline = run_settings_from_env({"vllm_path": "offline", "hf_path": "/m", "eval_datasets": "mmlu_ppl", "tp_size": "2"})
    assert type(offline).__name__ == "OfflineRunSettings" and offline.tensor_parallel_size == 2


def test_settings_recorded_by_earlier_runs_still_parse() -> None:
    """resume re-parses run.json's settings; runs before per-backend settings recorded every field."""
    from benchmark_eval.backends.selection import parse_run_settings
    from benchmark_eval.paths import REPO_ROOT
    from benchmark_eval.results import RunDir

    for folder in sorted((REPO_ROOT / "docs" / "examples" / "runs").iterdir()):
        recorded = RunDir(folder).read_manifest().settings or {}
        assert "host" in recorded and "model_path" in recorded  # every backend's fields
        settings = parse_run_settings(recorded)
        assert settings.mode == recorded["mode"]
        assert all(recorded[k] == v for k, v in settings.model_dump(mode="json").items() if k in recorded)


def test_every_setting_has_one_env_var_and_its_own_flags() -> None:
    from benchmark_eval.backends.selection import cli_options, env_vars

    options = cli_options()
    fields = [field for field, _, _ in options]
    assert len(fields) == len(set(fields)) == len(set(env_vars().values()))
    flags = [flag for _, names, _ in options for flag in names]
    assert len(flags) == len(set(flags)) and all(flag.startswith("--") for flag in flags)
    assert all("(env " in text for _, _, text in options)
