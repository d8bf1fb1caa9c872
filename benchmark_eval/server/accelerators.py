"""A server's accelerator: the environment it starts with, what it needs installed, and what
it is (for the launch record, run.json and compare's environment table).

Ascend: the cards a server may use are ASCEND_RT_VISIBLE_DEVICES (CUDA_VISIBLE_DEVICES's
counterpart); torch_npu's expandable segments break multi-card HCCL memory registration, so a
server on several cards gets PYTORCH_NPU_ALLOC_CONF=expandable_segments:False (local-weight runs
use the same rule, plugins/models/devices.py). The facts are read where CANN and the driver
put them: the toolkit's `<arch>-linux/ascend_toolkit_install.info` (`version=...`) under
ASCEND_TOOLKIT_HOME (set by CANN's set_env.sh) or the default install folders, the driver's
and firmware's `version.info` (`Version=...`) under /usr/local/Ascend, and `npu-smi info`'s
table for the chip's name. No NPU has run this code here: tests/run/test_accelerators.py
checks it against files and npu-smi output laid out as CANN, the driver and npu-smi lay them
out (as CANN's install guides and vllm-ascend's issue reports show them).
"""

from __future__ import annotations

import contextlib
import json
import platform
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ..errors import UserError
from ..results.records import AcceleratorInfo

ASCEND_ROOT = Path("/usr/local/Ascend")
VISIBLE_DEVICES = {"npu": "ASCEND_RT_VISIBLE_DEVICES", "cuda": "CUDA_VISIBLE_DEVICES"}
NPU_MULTI_CARD_ALLOC = {"PYTORCH_NPU_ALLOC_CONF": "expandable_segments:False"}


def device_count(devices: str | None, tensor_parallel_size: int) -> int:
    return len([d for d in devices.split(",") if d.strip()]) if devices else tensor_parallel_size


def accelerator_env(device: str, devices: str | None, cards: int) -> dict[str, str]:
    """The variables a server on `device` starts with: its cards and, on several NPUs, the allocator."""
    env: dict[str, str] = {}
    if devices and device in VISIBLE_DEVICES:
        env[VISIBLE_DEVICES[device]] = ",".join(d.strip() for d in devices.split(",") if d.strip())
    if device == "npu" and cards > 1:
        env.update(NPU_MULTI_CARD_ALLOC)
    return env


def _key_value(path: Path, key: str) -> str | None:
    """`key=value` from a version file (CANN: `version=`, driver and firmware: `Version=`)."""
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == key.lower() and value.strip():
                return value.strip()
    return None


def cann_info_file(env: Mapping[str, str], root: Path = ASCEND_ROOT) -> Path | None:
    """The CANN toolkit's install record, where set_env.sh's variables or the default layouts put it."""
    arch = f"{platform.machine()}-linux"
    homes = [Path(env[k]) for k in ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH") if env.get(k)]
    homes += [root / "ascend-toolkit" / "latest", root / "cann", *sorted(root.glob("cann-*"), reverse=True)]
    return next((home / arch / "ascend_toolkit_install.info" for home in homes
                 if (home / arch / "ascend_toolkit_install.info").is_file()), None)


def _package_versions(python: Path, names: list[str], env: Mapping[str, str]) -> dict[str, str | None]:
    """Installed versions of `names` in the server's interpreter (None: not installed)."""
    code = ("import json, importlib.metadata as m, sys\nout = {}\nfor n in sys.argv[1:]:\n"
            "    try: out[n] = m.version(n)\n    except m.PackageNotFoundError: out[n] = None\nprint(json.dumps(out))")
    try:
        done = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, timeout=60, env=dict(env))
        found: dict[str, str | None] = json.loads(done.stdout)
        return found
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return dict.fromkeys(names)


def npu_smi_chip(output: str) -> tuple[str | None, int]:
    """(the first chip's name, the number of NPUs) from `npu-smi info`'s table."""
    # Each NPU's first row: "| 0     910B3      | OK   | ..." (NPU id, name, health).
    rows = re.findall(r"^\|\s*(\d+)\s+(\S+)\s*\|\s*(OK|Warning|Alarm|Critical|\S+)\s*\|", output, re.M)
    names = [(npu, name) for npu, name, _ in rows if not name.isdigit()]
    return (names[0][1] if names else None), len({npu for npu, _ in names})


def _npu_smi(env: Mapping[str, str]) -> tuple[str | None, int, str | None]:
    """(chip name, NPU count, driver version as npu-smi reports it) or Nones without npu-smi."""
    tool = shutil.which("npu-smi", path=env.get("PATH"))
    if tool is None:
        return None, 0, None
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        output = subprocess.run([tool, "info"], capture_output=True, text=True, timeout=30, env=dict(env)).stdout
        name, count = npu_smi_chip(output)
        version = re.search(r"Version:\s*(\S+)", output)
        return name, count, version.group(1) if version else None
    return None, 0, None


def npu_packages(python: Path, env: Mapping[str, str]) -> dict[str, str | None]:
    return _package_versions(python, ["vllm-ascend", "torch-npu", "vllm", "torch"], env)


def check_npu_stack(python: Path, env: Mapping[str, str], root: Path = ASCEND_ROOT) -> None:
    """One line naming what an NPU server lacks: vllm-ascend, torch_npu (in `python`), or CANN."""
    packages = npu_packages(python, env)
    if packages["vllm-ascend"] is None:
        raise UserError(f"--device npu needs vllm-ascend in {python}; pass --python with the interpreter that has it "
                        "(pip install vllm-ascend, the release that matches your vLLM)")
    if packages["torch-npu"] is None:
        raise UserError(f"--device npu needs torch_npu in {python}; install the torch-npu release that matches your CANN and torch")
    if cann_info_file(env, root) is None:
        raise UserError(f"--device npu needs the CANN toolkit, and none was found (ASCEND_TOOLKIT_HOME unset, nothing under {root}); "
                        "source CANN's set_env.sh (e.g. . /usr/local/Ascend/ascend-toolkit/set_env.sh) before starting the server")


def describe_npu(python: Path, env: Mapping[str, str], root: Path = ASCEND_ROOT) -> AcceleratorInfo:
    name, count, smi_version = _npu_smi(env)
    info_file = cann_info_file(env, root)
    packages = {k: v for k, v in npu_packages(python, env).items() if v}
    return AcceleratorInfo(kind="npu", name=name, count=count or None,
                           driver=_key_value(root / "driver" / "version.info", "Version") or smi_version,
                           firmware=_key_value(root / "firmware" / "version.info", "Version"),
                           toolkit=f"CANN {_key_value(info_file, 'version')}" if info_file else None,
                           visible=env.get(VISIBLE_DEVICES["npu"]), packages=packages)


def describe_cuda(python: Path, env: Mapping[str, str]) -> AcceleratorInfo:
    """The GPU's name, count and driver from nvidia-smi; CUDA as the server's torch was built for it."""
    name, count, driver = None, None, None
    tool = shutil.which("nvidia-smi", path=env.get("PATH"))
    if tool:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            rows = subprocess.run([tool, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                  capture_output=True, text=True, timeout=30, env=dict(env)).stdout.strip().splitlines()
            if rows:
                name, _, driver = (part.strip() for part in rows[0].partition(","))
                count = len(rows)
    cuda = None
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        done = subprocess.run([str(python), "-c", "import torch; print(torch.version.cuda or '')"], capture_output=True,
                              text=True, timeout=120, env=dict(env))
        cuda = done.stdout.strip() or None
    packages = {k: v for k, v in _package_versions(python, ["vllm", "torch"], env).items() if v}
    return AcceleratorInfo(kind="cuda", name=name, count=count, driver=driver, toolkit=f"CUDA {cuda}" if cuda else None,
                           visible=env.get(VISIBLE_DEVICES["cuda"]), packages=packages)
