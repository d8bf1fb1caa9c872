#!/usr/bin/env bash
# Log-likelihood (PPL) tests at accelerator speed, as run on the device tool's H100 machine for
# docs/examples/h100-ppl: all of MMLU test + C-Eval val PPL on the three paths (a bf16 vLLM
# server's API, vLLM offline, HF weights on CUDA), scored the next-token way, with a bare client
# replaying the API run's requests; and on a slice of MMLU, the same three paths both ways
# (prompt_logprobs against next_token), side by side, with their answers compared. Before it,
# STAGE holds what docs/examples/h100-vllm/stage.sh packed (DATA="data/mmlu data/ceval").
#
#   STAGE=/root/stage setsid bash docs/examples/h100-ppl/ppl_suite.sh /root/out &
#
# Writes OUT/driver.log as it goes, OUT/runs/<label>/... and the benchmark's JSON files, then `done`.
set -uo pipefail
out=${1:?usage: ppl_suite.sh OUT}
stage=${STAGE:?set STAGE to the staged folder}
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
# shellcheck source=../h100-vllm/driver_common.sh
source docs/examples/h100-vllm/driver_common.sh

# shellcheck source=../h100-vllm/install_there.sh
[ "${SKIP_INSTALL:-0}" = 1 ] || source docs/examples/h100-vllm/install_there.sh  # SKIP_INSTALL=1: installed before

model=.cache/models/SmolLM2-135M-Instruct
served=smollm2-135m-instruct
port=8000
log "server bf16 starting"
.venv/bin/python vllm_api.py start --model "$model" --served-model-name "$served" --port $port --device cuda \
  --dtype bfloat16 --max-model-len 8192 --python "$stage/vllm-python" --startup-timeout 600 \
  --gpu-memory-utilization 0.3 >"$out/logs/start.log" 2>&1 || { log "server failed: $(tail -1 "$out/logs/start.log")"; exit 1; }
log "server ready"

export COMPASS_DATA_CACHE=$stage BENCHMARK_EVAL_TEST_DATA=$stage PYTHONUNBUFFERED=1
speed() {  # LABEL [ppl_speed.py args...]
  local label=$1; shift
  log "ppl_speed $label"
  .venv/bin/python benchmarks/ppl_speed.py --port $port --served "$served" --model "$model" --device cuda --dtype bfloat16 \
    --vllm-python "$stage/vllm-python" --concurrency 128 --results "$out/runs/$label" --label "$label" "$@" \
    >"$out/logs/$label.log" 2>&1
  log "ppl_speed $label exit $?: $(grep -c . "$out/logs/$label.log") lines"
  cp benchmarks/results/ppl_speed_"$label".json "$out/" 2>/dev/null
}
# The server's runs first; then, the server stopped (vLLM offline takes most of the GPU's memory),
# the offline engine's and HF's. Full: all of MMLU test + C-Eval val, next-token scoring. Slice:
# two large MMLU subjects, today's whole-prompt requests against next-token, answers compared.
full=(--modes next_token --datasets "mmlu_ppl ceval_ppl" --subjects "" --limit 0)
slice=(--datasets mmlu_ppl --subjects "high_school_psychology,miscellaneous" --limit 100)
speed h100-full-api --paths api "${full[@]}"
speed h100-slice-api --paths api "${slice[@]}"
.venv/bin/python vllm_api.py stop --port $port >/dev/null 2>&1
log "server stopped"
for path in offline hf; do speed "h100-full-$path" --paths $path "${full[@]}"; done
for path in offline hf; do speed "h100-slice-$path" --paths $path "${slice[@]}"; done
# 3. the full runs' answers, path against path: compare's log-prob parity
for pair in "api offline" "api hf" "hf offline"; do
  set -- $pair
  .venv/bin/benchmark-eval compare "$out"/runs/h100-full-"$1"/"$1"/next_token/*/*/2* "$out"/runs/h100-full-"$2"/"$2"/next_token/*/*/2* \
    --out "$out/compare/$2-vs-$1" --units mmlu_ppl,ceval_ppl >"$out/compare-$2-vs-$1.txt" 2>&1
  log "compare $2 vs $1 exit $?"
done
