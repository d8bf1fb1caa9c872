"""The NPU server (fast, no NPU here): its cards and allocator, the one line that names a
missing vllm-ascend, torch_npu or CANN, and what the launch record says about the accelerator.

The Ascend host is laid out in tmp_path as CANN, the driver and npu-smi lay it out: CANN's
`<arch>-linux/ascend_toolkit_install.info` (`version=...`) and the driver's and firmware's
`version.info` (`Version=...`) as CANN's install guides show them, and `npu-smi info`'s table
as vllm-ascend's issue reports quote it (e.g. vllm-project/vllm-ascend#2534). No NPU has run it.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmark_eval import cli
from benchmark_eval.compare.comparability import ENVIRONMENT_ROWS
from benchmark_eval.errors import UserError
from benchmark_eval.results.records import AcceleratorInfo, RunManifest, ServerLaunch, ServerTarget
from benchmark_eval.server import build_command
from benchmark_eval.server.accelerators import accelerator_env, check_npu_stack, describe_npu, npu_smi_chip
from benchmark_eval.server.lifecycle import build_env
from benchmark_eval.settings import ServerSettings

from ..results.test_records import DEMO_RUN

NPU_SMI_INFO = """\
+------------------------------------------------------------------------------------------------+
| npu-smi 24.1.rc2                 Version: 24.1.rc2                                             |
+---------------------------+---------------+----------------------------------------------------+
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
| 0     910B3               | OK            | 93.1        37                0    / 0             |
| 0                         | 0000:C1:00.0  | 0           0    / 0          3161 / 65536         |
+===========================+===============+====================================================+
| 1     910B3               | OK            | 90.6        36                0    / 0             |
| 0                         | 0000:C2:00.0  | 0           0    / 0          3160 / 65536         |
+===========================+===============+====================================================+
+---------------------------+---------------+----------------------------------------------------+
| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
+===========================+===============+====================================================+
| No running processes found in NPU 0                                                            |
+===========================+===============+====================================================+
"""


def ascend_host(tmp_path: Path, cann: bool = True) -> tuple[Path, dict[str, str]]:
    """An Ascend host's files under tmp_path/Ascend, npu-smi on PATH, vllm-ascend and torch_npu
    installed (their dist-info) for the interpreter; returns (root, env)."""
    root = tmp_path / "Ascend"
    (root / "driver").mkdir(parents=True)
    (root / "driver" / "version.info").write_text("Version=24.1.rc2\nascendhal_version=7.35.23\n")
    (root / "firmware").mkdir()
    (root / "firmware" / "version.info").write_text("Version=7.3.0.1.231\nfirmware_version=1.0\n")
    if cann:
        info = root / "ascend-toolkit" / "latest" / f"{platform.machine()}-linux" / "ascend_toolkit_install.info"
        info.parent.mkdir(parents=True)
        info.write_text(f"package_name=Ascend-cann-toolkit\nversion=8.0.RC2\ninnerversion=V100R001C18SPC001B203\narch={platform.machine()}\nos=linux\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npu-smi").write_text(f"#!/bin/sh\ncat <<'EOF'\n{NPU_SMI_INFO}EOF\n")
    (bin_dir / "npu-smi").chmod(0o755)
    site = tmp_path / "site"
    for name, version in (("vllm_ascend", "0.9.1"), ("torch_npu", "2.5.1")):
        dist = site / f"{name}-{version}.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(site)}
    env.pop("ASCEND_TOOLKIT_HOME", None)
    env.pop("ASCEND_HOME_PATH", None)
    return root, env


def test_cards_and_the_multi_card_allocator() -> None:
    assert accelerator_env("npu", "0, 1,2,3", 4) == {"ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3",
                                                     "PYTORCH_NPU_ALLOC_CONF": "expandable_segments:False"}
    assert accelerator_env("npu", "5", 1) == {"ASCEND_RT_VISIBLE_DEVICES": "5"}
    assert accelerator_env("npu", None, 2) == {"PYTORCH_NPU_ALLOC_CONF": "expandable_segments:False"}  # tp 2, cards as exported
    assert accelerator_env("cuda", "2,3", 2) == {"CUDA_VISIBLE_DEVICES": "2,3"}
    assert accelerator_env("cpu", "0", 1) == {}


def test_an_npu_server_is_started_as_vllm_ascend_expects(tmp_path: Path) -> None:
    settings = ServerSettings(model_path=tmp_path, device="npu", devices="0,1", tensor_parallel_size=2, host="0.0.0.0")
    command = build_command(settings, Path("/opt/conda/bin/python"))
    assert command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]  # vllm-ascend serves through vLLM's entry point
    assert "--enforce-eager" not in command and command[command.index("--host") + 1] == "0.0.0.0"
    env = build_env(settings)
    assert env["ASCEND_RT_VISIBLE_DEVICES"] == "0,1" and env["PYTORCH_NPU_ALLOC_CONF"] == "expandable_segments:False"
    assert "--enforce-eager" in build_command(settings.model_copy(update={"extra_args": ("--enforce-eager",)}), Path("python"))


def test_a_missing_npu_component_is_one_line_naming_it(tmp_path: Path) -> None:
    root, env = ascend_host(tmp_path, cann=False)
    bare = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    with pytest.raises(UserError, match=r"needs vllm-ascend in .*--python"):
        check_npu_stack(Path(sys.executable), bare, root)
    (tmp_path / "site" / "torch_npu-2.5.1.dist-info" / "METADATA").unlink()
    with pytest.raises(UserError, match="needs torch_npu"):
        check_npu_stack(Path(sys.executable), env, root)
    root, env = ascend_host(tmp_path / "again", cann=False)
    with pytest.raises(UserError, match="needs the CANN toolkit.*set_env.sh"):
        check_npu_stack(Path(sys.executable), env, root)
    root, env = ascend_host(tmp_path / "whole")
    check_npu_stack(Path(sys.executable), env, root)  # everything there: no error


def test_server_start_names_the_missing_part_in_one_line(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    done = CliRunner().invoke(cli.app, ["server", "start", "--model", str(model), "--device", "npu", "--devices", "0,1",
                                        "--python", sys.executable, "--port", "18999"])
    assert isinstance(done.exception, UserError) and "needs vllm-ascend" in str(done.exception)
    done = CliRunner().invoke(cli.app, ["server", "start", "--model", str(model), "--device", "npu", "--devices", "zero"])
    assert isinstance(done.exception, UserError) and "--devices" in str(done.exception)


def test_the_npu_environment_is_described(tmp_path: Path) -> None:
    root, env = ascend_host(tmp_path)
    info = describe_npu(Path(sys.executable), {**env, "ASCEND_RT_VISIBLE_DEVICES": "0,1"}, root)
    assert info.model_dump(exclude={"packages"}) == {"kind": "npu", "name": "910B3", "count": 2, "driver": "24.1.rc2",
                                                     "firmware": "7.3.0.1.231", "toolkit": "CANN 8.0.RC2", "visible": "0,1"}
    assert info.packages["vllm-ascend"] == "0.9.1" and info.packages["torch-npu"] == "2.5.1"
    assert npu_smi_chip(NPU_SMI_INFO) == ("910B3", 2)
    # CANN found through set_env.sh's variable, wherever it is installed
    moved = tmp_path / "elsewhere" / "cann-8.1"
    (root / "ascend-toolkit").rename(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "latest").rename(moved)
    assert describe_npu(Path(sys.executable), {**env, "ASCEND_TOOLKIT_HOME": str(moved)}, root).toolkit == "CANN 8.0.RC2"


def test_compare_shows_each_sides_accelerator() -> None:
    manifest = RunManifest.model_validate(json.loads((DEMO_RUN.path / "run.json").read_text()))
    npu = AcceleratorInfo(kind="npu", name="910B3", count=8, driver="24.1.rc2", firmware="7.3.0.1.231", toolkit="CANN 8.0.RC2",
                          visible="0,1", packages={"vllm-ascend": "0.9.1", "torch-npu": "2.5.1"})
    server = ServerTarget(url="http://npu:8080", endpoints=[], models=["m"],
                          launch=ServerLaunch(args=["--dtype", "bfloat16"], numerics={"dtype": "bfloat16"}, source="launcher", accelerator=npu))
    row = dict(ENVIRONMENT_ROWS)["accelerator"]
    assert row(manifest.model_copy(update={"server": server})) == (
        "910B3, x8, cards 0,1, driver 24.1.rc2, firmware 7.3.0.1.231, CANN 8.0.RC2, torch-npu 2.5.1, vllm-ascend 0.9.1")
    assert row(manifest) is None  # a run without the record: the table says "-"
    # the record round-trips through run.json
    again = RunManifest.model_validate_json(manifest.model_copy(update={"server": server}).model_dump_json())
    assert again.server is not None and again.server.launch is not None and again.server.launch.accelerator == npu
