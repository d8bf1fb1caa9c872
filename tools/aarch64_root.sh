#!/usr/bin/env bash
# The NPU host's install, proved on a real aarch64 userspace under emulation (as root, on linux x86_64):
# a Debian arm64 root made with debootstrap, qemu-user-static running its binaries, this
# checkout cloned into it, `install.sh --with-vllm none` run there from the public registry only
# (pip's configuration emptied), then an aarch64 evaluator run against a vLLM server that listens
# on this host's loopback (chroot shares the network): start it first, e.g.
#   .venv/bin/benchmark-eval server start --model .cache/models/SmolLM2-135M-Instruct --port 18400 --dtype float32 \
#     --served-model-name smollm2-135m-demo
# and compare the run's samples.jsonl with an x86 run of the same settings against it.
#
#   sudo bash tools/aarch64_root.sh ROOT [SERVER_PORT]
#
# ROOT is made if missing (about 10 minutes). REUSE_INSTALL=1 keeps the root's install and brings
# only this checkout's code (the locks unchanged). Last, an HF-weights PPL slice runs on aarch64
# and on this host, and their samples are compared. Slow by nature: emulated Python is several times
# slower than native. Do not bind /sys into the root: with it, `import torch` segfaults under qemu.
set -euo pipefail
root=${1:?give the folder for the arm64 root}
port=${2:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "aarch64_root.sh: run as root (debootstrap, chroot and binfmt need it)" >&2; exit 2; }
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
command -v debootstrap >/dev/null && [ -e /usr/bin/qemu-aarch64-static ] || {
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static binfmt-support debootstrap >/dev/null; }
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
if [ ! -x "$root/usr/bin/python3" ]; then
  # The Debian mirror apt already uses on this host.
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)}
  debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates,git bookworm "$root" "$mirror"
fi
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
mountpoint -q "$root/proc" || mount --bind /proc "$root/proc"
mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
trap 'umount "$root/proc" "$root/dev" 2>/dev/null || true' EXIT
in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin PIP_CONFIG_FILE=/dev/null \
  SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$@"; }
echo "== $(in_root uname -m), $(in_root python3 --version)"
if [ "${REUSE_INSTALL:-0}" = 1 ] && [ -x "$root/work/benchmark_eval/.venv/bin/python" ]; then
  # The root's install kept (its editable install follows the checkout): this commit's code only.
  git -C "$root/work/benchmark_eval" fetch -q "$here" HEAD && git -C "$root/work/benchmark_eval" reset -q --hard FETCH_HEAD
  echo "== install kept (REUSE_INSTALL=1), code at $(git -C "$root/work/benchmark_eval" log --oneline -1)"
else
  rm -rf "$root/work/benchmark_eval" && mkdir -p "$root/work"
  git clone -q "$here" "$root/work/benchmark_eval"
  start=$(date +%s)
  in_root /bin/bash -c 'cd /work/benchmark_eval && bash install.sh --with-vllm none'
  echo "== install: $(( $(date +%s) - start )) s"
fi
in_root /work/benchmark_eval/.venv/bin/benchmark-eval --help > /dev/null && echo "== benchmark-eval starts on aarch64"
if [ -n "$port" ]; then
  # The demo's data, and the served model's tokenizer (the server's folder is outside the root).
  mkdir -p "$root/data" "$root/tok" && cp -r "$here/benchmark_eval/demo/data/." "$root/data/"
  cp "$here"/.cache/models/SmolLM2-135M-Instruct/*.json "$here"/.cache/models/SmolLM2-135M-Instruct/*.jinja "$root/tok/"
  start=$(date +%s)
  in_root /bin/bash -c "cd /work/benchmark_eval && vllm_path=vllm host=127.0.0.1 service_port=$port model_name=smollm2-135m-demo tokenizer_path=/tok \
    batch_size=1 datasets_in_flight=1 max_out_len=32 eval_datasets='ceval_gen mmlu_ppl' subjects=global_facts,computer_network limit=4 \
    COMPASS_DATA_CACHE=/data results_dir=/work/results bash opencompass.sh"
  echo "== aarch64 evaluator run: $(( $(date +%s) - start )) s; samples: $root/work/results"
fi

# Local HF weights on aarch64 (the PPL path of hf_path runs; one item per dataset: emulated torch
# takes tens of minutes per few-shot item), then the same slice here on x86_64:
# same chosen answers and scores, log-likelihoods within float noise.
mkdir -p "$root/model" "$root/data"
cp "$here"/.cache/models/SmolLM2-135M-Instruct/* "$root/model/"
cp -r "$here/benchmark_eval/demo/data/." "$root/data/"
slice="hf_path=@MODEL@ hf_type=base device=cpu dtype=float32 model_name=smollm2-hf eval_datasets='ceval_ppl mmlu_ppl' \
  subjects=computer_network,global_facts limit=1 COMPASS_DATA_CACHE=@DATA@ results_dir=@RESULTS@"
start=$(date +%s)
arm=$(in_root /bin/bash -c "cd /work/benchmark_eval && $(echo "$slice" | sed 's#@MODEL@#/model#; s#@DATA@#/data#; s#@RESULTS@#/work/hf-results#') \
  bash opencompass.sh" | tee /dev/stderr | sed -n 's/^results: //p')
echo "== aarch64 HF-weights run: $(( $(date +%s) - start )) s"
x86=$(bash -c "cd '$here' && $(echo "$slice" | sed "s#@MODEL@#$here/.cache/models/SmolLM2-135M-Instruct#; s#@DATA@#$here/benchmark_eval/demo/data#; s#@RESULTS@#$(mktemp -d)#") \
  bash opencompass.sh" | sed -n 's/^results: //p')
"$here/.venv/bin/python" - "$root$arm" "$x86" <<'PY'
import json, sys
arm, x86 = ([json.loads(line) for line in open(f"{folder}/samples.jsonl")] for folder in sys.argv[1:3])
assert len(arm) == len(x86) > 0, (len(arm), len(x86))
for a, b in zip(arm, x86):
    assert (a["dataset"], a["id"], a["chosen"], a["scores"]) == (b["dataset"], b["id"], b["chosen"], b["scores"]), (a, b)
gap = max(abs(x["loglik"] - y["loglik"]) for a, b in zip(arm, x86) for x, y in zip(a["choices"], b["choices"]))
print(f"== HF-weights slice: aarch64 and x86_64 agree on all {len(arm)} samples (chosen answer, score); "
      f"largest log-likelihood gap {gap:.2e} nats")
PY
