#!/usr/bin/env bash
# Log-likelihood (PPL) tests at accelerator speed, as run on the device tool's H100 machine for
# docs/examples/h100-ppl: all of MMLU test + C-Eval val PPL on the three paths (a bf16 vLLM
# server's API with a bare client replaying its requests, vLLM offline, HF weights on CUDA),
# scored the next-token way, each pair compared; vLLM's batch-invariant mode on a generative
# suite (two runs with it, one without, on one server each); then on a slice of MMLU, offline and
# HF both ways (prompt_logprobs against next_token), their answers compared. Before it, STAGE
# holds what docs/examples/h100-vllm/stage.sh packed (DATA="data/mmlu data/ceval").
#
#   STAGE=/root/stage setsid bash docs/examples/h100-ppl/ppl_suite.sh /root/res &
#
# Writes RES/driver.log as it goes, RES/runs/<label>/... and the benchmark's JSON files, then `done`.
set -uo pipefail
out=${1:?usage: ppl_suite.sh RES}
stage=${STAGE:?set STAGE to the staged folder}
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
# shellcheck source=../h100-vllm/driver_common.sh
source docs/examples/h100-vllm/driver_common.sh

# shellcheck source=../h100-vllm/install_there.sh
[ "${SKIP_INSTALL:-0}" = 1 ] || source docs/examples/h100-vllm/install_there.sh  # SKIP_INSTALL=1: installed before

model=.cache/models/SmolLM2-135M-Instruct
served=smollm2-135m-instruct
export COMPASS_DATA_CACHE=$stage BENCHMARK_EVAL_TEST_DATA=$stage PYTHONUNBUFFERED=1
start_server() {  # PORT LABEL [extra launcher args...]
  local port=$1 label=$2; shift 2
  log "server $label starting"
  .venv/bin/python vllm_api.py start --model "$model" --served-model-name "$served" --port "$port" --device cuda \
    --dtype bfloat16 --max-model-len 8192 --python "$stage/vllm-python" --startup-timeout 600 \
    --gpu-memory-utilization 0.3 "$@" >"$out/logs/start-$label.log" 2>&1 \
    || { log "server $label failed: $(tail -1 "$out/logs/start-$label.log")"; return 1; }
  log "server $label ready"
}
speed() {  # LABEL [ppl_speed.py args...]
  local label=$1; shift
  log "ppl_speed $label"
  .venv/bin/python benchmarks/ppl_speed.py --port 8000 --served "$served" --model "$model" --device cuda --dtype bfloat16 \
    --vllm-python "$stage/vllm-python" --concurrency 128 --results "$out/runs/$label" --label "$label" "$@" \
    >"$out/logs/$label.log" 2>&1
  log "ppl_speed $label exit $?: $(grep -v -c Warning "$out/logs/$label.log") lines"
  cp benchmarks/results/ppl_speed_"$label".json "$out/" 2>/dev/null
}
run_dir() { ls -d "$out"/runs/"$1"/*/*/2* "$out"/runs/"$1"/*/*/*/*/2* 2>/dev/null | head -1; }  # LABEL -> its run folder

# 1. All of MMLU test + C-Eval val, next-token scoring: the API (and a bare client replaying the
#    run's requests), then, the server stopped (the offline engine takes most of the GPU's
#    memory), vLLM offline and HF weights. Each pair compared with log-prob parity.
full=(--modes next_token --datasets "mmlu_ppl ceval_ppl" --subjects "" --limit 0)
start_server 8000 bf16 || exit 1
speed h100-full-api --paths api "${full[@]}"
.venv/bin/python vllm_api.py stop --port 8000 >/dev/null 2>&1
log "server bf16 stopped"
for path in offline hf; do speed "h100-full-$path" --paths $path "${full[@]}"; done
for pair in "api offline" "api hf" "hf offline"; do
  set -- $pair
  .venv/bin/benchmark-eval compare "$(run_dir h100-full-"$1")" "$(run_dir h100-full-"$2")" --out "$out/compare/$2-vs-$1" \
    --units mmlu_ppl,ceval_ppl >"$out/compare-$2-vs-$1.txt" 2>&1
  log "compare $2 vs $1 exit $?"
done

# 2. Batch-invariant mode on a generative suite (MMLU and C-Eval, 60 questions a subject): two
#    runs on a server with VLLM_BATCH_INVARIANT=1, one on a server without, 128 in flight.
gen() {  # LABEL PORT
  log "run $1"
  env service_port="$2" model_name="$served" batch_size=128 max_out_len=32 eval_datasets="mmlu_gen ceval_gen" limit=60 \
    results_dir="$out/runs/$1" .venv/bin/benchmark-eval run >"$out/logs/$1.log" 2>&1
  log "run $1 exit $?"
}
if start_server 8001 batch-invariant --batch-invariant; then
  gen bi-1 8001
  gen bi-2 8001
  .venv/bin/python vllm_api.py stop --port 8001 >/dev/null 2>&1
fi
if start_server 8002 plain; then
  gen plain-1 8002
  .venv/bin/python vllm_api.py stop --port 8002 >/dev/null 2>&1
fi
for pair in "bi-1 bi-2" "plain-1 bi-1"; do
  set -- $pair
  .venv/bin/benchmark-eval compare "$(run_dir "$1")" "$(run_dir "$2")" --out "$out/compare/$2-vs-$1" >"$out/compare-$2-vs-$1.txt" 2>&1
  log "compare $2 vs $1 exit $?"
done

# 3. A slice (two large MMLU subjects, 100 questions each): offline and HF, whole prompts against
#    next-token questions, the answers compared.
slice=(--datasets mmlu_ppl --subjects "high_school_psychology,miscellaneous" --limit 100)
for path in offline hf; do speed "h100-slice-$path" --paths $path "${slice[@]}"; done
