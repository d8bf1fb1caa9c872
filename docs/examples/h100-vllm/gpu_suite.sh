#!/usr/bin/env bash
# The full-scale sign-off of docs/examples/h100-vllm, as run on the device tool's H100 machine
# (Python 3.12, torch 2.11.0+cu130, transformers 5.17; no vLLM, no OpenCompass, no registry).
# Before it, $STAGE holds what stage.sh packed here: vllm/ (vLLM 0.26.0, trimmed, and the 25
# wheels it lacks there), wheels/ (the toolkit's), model.gguf (the demo model) and data.tar.xz.
#
#   STAGE=/root/stage setsid bash docs/examples/h100-vllm/gpu_suite.sh /root/out &
#
# It installs, starts three vLLM servers through our launcher (bf16, fp32, fp8 weights with an
# fp8 KV cache) one after another (vLLM profiles free GPU memory at start), evaluates each as
# soon as it is ready (full MMLU test + C-Eval val generative, full C-Eval val log-likelihood,
# then GSM8K test, HumanEval and XSum at max_out_len 512), runs local HF weights fp32 on CUDA on
# C-Eval val log-likelihood, replays the bf16 generative run's requests with a bare client and
# makes that run again (both alone on the machine), packs the run records into OUT/pack and
# writes `done` into OUT. OUT must not be the device tool's $OUT: that is emptied at every call.
set -uo pipefail
out=${1:?usage: gpu_suite.sh OUT}
stage=${STAGE:?set STAGE to the staged folder}
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
# shellcheck source=driver_common.sh
source docs/examples/h100-vllm/driver_common.sh

# 1. the toolkit on the host's torch and transformers; vLLM beside it, seen only by its servers
# shellcheck source=install_there.sh
source docs/examples/h100-vllm/install_there.sh

model=.cache/models/SmolLM2-135M-Instruct
served=smollm2-135m-instruct
# start NAME PORT DTYPE [vLLM args...]: our launcher, waiting until /v1/models answers. Eager
# mode: a server is ready in about a minute instead of two (no compile, no CUDA graphs); every
# configuration runs it, so it is no difference between them.
start() {
  local name=$1 port=$2 dtype=$3; shift 3
  log "server $name starting on $port"
  if .venv/bin/python vllm_api.py start --model "$model" --served-model-name "$served" --port "$port" --device cuda \
      --dtype "$dtype" --max-model-len 8192 --python "$stage/vllm-python" --startup-timeout 600 \
      --gpu-memory-utilization 0.2 --enforce-eager "$@" >"$out/logs/start-$name.log" 2>&1; then
    log "server $name ready"
  else
    log "server $name failed: $(tail -1 "$out/logs/start-$name.log")"; return 1
  fi
}
# evaluate CONFIG PORT KIND [LABEL]: one run of a configuration (one max_out_len each); LABEL
# names its folder (default CONFIG)
evaluate() {
  local cfg=$1 port=$2 kind=$3 label=${4:-$1} datasets out_len=32
  case $kind in
    short) datasets="mmlu_gen ceval_gen" ;;                   # a letter, said in a few words
    ppl) datasets="ceval_ppl" ;;                             # log-likelihoods
    long) datasets="gsm8k_gen Xsum_gen"; out_len=512 ;;       # reasoning, summaries
    code) datasets="humaneval_gen"; out_len=512 ;;            # its own run: it needs the sandbox there
  esac
  log "run $label/$kind"
  env service_port="$port" model_name="$served" eval_datasets="$datasets" max_out_len=$out_len max_seq_len=8192 \
    batch_size=128 COMPASS_DATA_CACHE="$stage" results_dir="$out/runs/$label" benchmark_type="$kind" \
    device="NVIDIA H100, vLLM 0.26.0 $label" .venv/bin/benchmark-eval run >"$out/logs/run-$label-$kind.log" 2>&1
  log "run $label/$kind exit $?"
}
# serve NAME PORT DTYPE [vLLM args...]: start, then mark it up or failed for await.
serve() { if start "$@"; then touch "$out/.up-$1"; else touch "$out/.failed-$1"; return 1; fi; }
await() { until [ -e "$out/.up-$1" ] || [ -e "$out/.failed-$1" ]; do sleep 2; done; }
chain() { for kind in ${KINDS-short ppl code}; do evaluate "$1" "$2" "$kind"; done; }
# The long generations (GSM8K, XSum at max_out_len 512) come last, after the bare-client pair:
# the runs a short hold can lose.
late() { for kind in ${LATE_KINDS-long}; do evaluate "$1" "$2" "$kind"; done; }
# Servers start one at a time (vLLM profiles the GPU's free memory while it starts). CONFIGS
# picks some of them; KINDS and LATE_KINDS (empty: none) the runs of each.
configs=" ${CONFIGS:-bf16 fp32 fp8} "
if [[ $configs == *" bf16 "* ]]; then serve bf16 8001 bfloat16 && chain bf16 8001 & await bf16; fi
if [[ $configs == *" fp32 "* ]]; then serve fp32 8002 float32 && chain fp32 8002 & await fp32; fi
# Dynamic FP8 weights (no calibration data) with an FP8 KV cache.
if [[ $configs == *" fp8 "* ]]; then serve fp8 8003 bfloat16 --quantization fp8 --kv-cache-dtype fp8 && chain fp8 8003 & await fp8; fi
if [ "${HF:-1}" = 1 ]; then
  log "run hf-fp32/ppl"
  .venv/bin/benchmark-eval run --hf-path "$model" --hf-type chat --device cuda --dtype float32 --datasets ceval_ppl \
    --batch-size 64 --max-seq-len 8192 --data-root "$stage" --results-dir "$out/runs/hf-fp32" --benchmark-type ppl \
    >"$out/logs/run-hf-fp32-ppl.log" 2>&1
  log "run hf-fp32/ppl exit $?"
fi
wait
# With nothing else running: a bare client replays the bf16 generative run's requests, then the
# same run is made again. The pair gives the whole-run/bare ratio side by side, and the repeat is
# the sequential noise floor (the same server, run twice, one after the other).
if [ "${BARE:-1}" = 1 ]; then
  log "bare client replay of the bf16 generative run"
  timeout 300 .venv/bin/python benchmarks/bare_replay.py "$out"/runs/bf16/*/short/2* --url http://127.0.0.1:8001 \
    --out "$out/bare.json" >"$out/logs/bare.log" 2>&1
  log "bare exit $?"
  evaluate bf16 8001 short bf16-again
fi
for cfg in $configs; do
  case $cfg in bf16) port=8001 ;; fp32) port=8002 ;; fp8) port=8003 ;; esac
  [ -e "$out/.up-$cfg" ] && late "$cfg" "$port" &
done
wait
# Run records only (run.json, samples.jsonl, summaries, request logs), one archive per configuration.
mkdir -p "$out/pack"
for cfg in bf16 bf16-again fp32 fp8 hf-fp32; do
  (cd "$out/runs" && find "$cfg" -path '*/predictions' -prune -o \( -name run.json -o -name samples.jsonl -o -name '*.csv' \
    -o -name request_batches.jsonl \) -print | tar -cf - -T - | xz -T16 -3 >"$out/pack/$cfg.tar.xz")
done
