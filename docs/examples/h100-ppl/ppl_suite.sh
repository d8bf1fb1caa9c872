#!/usr/bin/env bash
# Log-likelihood (PPL) tests at accelerator speed, as run on the device tool's H100 machine for
# docs/examples/h100-ppl: all of MMLU test + C-Eval val PPL on the three paths (a bf16 vLLM
# server's API with a bare client replaying its requests, vLLM offline, HF weights on CUDA),
# scored the next-token way, each pair compared; vLLM's batch-invariant mode on a generative
# suite (two runs with it, two without, on one server each); then on a slice of MMLU, offline and
# HF both ways (prompt_logprobs against next_token), their answers compared. Before it, STAGE
# holds what docs/examples/h100-vllm/stage.sh packed (DATA="data/mmlu data/ceval").
#
#   STAGE=/root/stage setsid bash docs/examples/h100-ppl/ppl_suite.sh /root/res &
#
# The same steps on a CPU host, small (a check of the script itself):
#   STAGE=../shared/datasets SKIP_INSTALL=1 DEVICE=cpu DTYPE=float32 VLLM_PY=.venv-vllm/bin/python \
#     FULL_SUBJECTS=astronomy,computer_network FULL_LIMIT=4 GEN_LIMIT=2 SLICE_LIMIT=2 \
#     GEN_SUBJECTS=astronomy,computer_network \
#     STEPS="full gen slice" bash docs/examples/h100-ppl/ppl_suite.sh /tmp/res
#
# Writes RES/driver.log as it goes, RES/runs/<label>/... and the benchmark's JSON files, then `done`.
set -uo pipefail
out=$(realpath -m "${1:?usage: ppl_suite.sh RES}")
stage=$(realpath "${STAGE:?set STAGE to the staged folder}")
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
# shellcheck source=../h100-vllm/driver_common.sh
source docs/examples/h100-vllm/driver_common.sh

# shellcheck source=../h100-vllm/install_there.sh
[ "${SKIP_INSTALL:-0}" = 1 ] || source docs/examples/h100-vllm/install_there.sh  # SKIP_INSTALL=1: installed before

device=${DEVICE:-cuda} dtype=${DTYPE:-bfloat16} vllm_py=$(realpath -ms "${VLLM_PY:-$stage/vllm-python}")
gpu_args=(); [ "$device" = cuda ] && gpu_args=(--gpu-memory-utilization 0.3)
model=.cache/models/SmolLM2-135M-Instruct
served=smollm2-135m-instruct
export COMPASS_DATA_CACHE=$stage BENCHMARK_EVAL_TEST_DATA=$stage PYTHONUNBUFFERED=1
start_server() {  # PORT LABEL [extra launcher args...]
  local port=$1 label=$2; shift 2
  log "server $label starting"
  .venv/bin/python vllm_api.py start --model "$model" --served-model-name "$served" --port "$port" --device "$device" \
    --dtype "$dtype" --max-model-len 8192 --python "$vllm_py" --startup-timeout 600 \
    "${gpu_args[@]}" "$@" >"$out/logs/start-$label.log" 2>&1 \
    || { log "server $label failed: $(tail -1 "$out/logs/start-$label.log")"; return 1; }
  log "server $label ready"
}
stop_server() { .venv/bin/python vllm_api.py stop --port "$1" >/dev/null 2>&1; log "server on $1 stopped"; }
speed() {  # LABEL [ppl_speed.py args...]
  local label=$1; shift
  log "ppl_speed $label"
  .venv/bin/python benchmarks/ppl_speed.py --port 8000 --served "$served" --model "$model" --device "$device" --dtype "$dtype" \
    --vllm-python "$vllm_py" --concurrency 128 --results "$out/runs/$label" --label "$label" "$@" \
    >"$out/logs/$label.log" 2>&1
  log "ppl_speed $label exit $?: $(grep -E '^ |^[a-z]+:' "$out/logs/$label.log" | tr -s ' ' | paste -sd ';')"
  cp benchmarks/results/ppl_speed_"$label".json "$out/" 2>/dev/null
}
run_dir() { find "$out/runs/$1" -name run.json -printf '%h\n' 2>/dev/null | sort | tail -1; }  # LABEL -> its run folder
compare() {  # A B NAME: compare run A (baseline) with run B
  .venv/bin/benchmark-eval compare "$(run_dir "$1")" "$(run_dir "$2")" --out "$out/compare/$3" --allow-mismatch \
    >"$out/compare-$3.txt" 2>&1
  log "compare $3 exit $?: $(grep -m1 -i verdict "$out/compare-$3.txt")"
}

# 1. All of MMLU test + C-Eval val, next-token scoring: the API (and a bare client replaying the
#    run's requests), then, the server stopped (the offline engine takes most of the GPU's
#    memory), vLLM offline and HF weights. Each pair compared with log-prob parity.
steps=" ${STEPS:-full gen slice} "  # which of the three parts run
if [[ $steps == *" full "* ]]; then
full=(--modes next_token --datasets "mmlu_ppl ceval_ppl" --subjects "${FULL_SUBJECTS:-}" --limit "${FULL_LIMIT:-0}")
start_server 8000 bf16 || exit 1
speed h100-full-api --paths api "${full[@]}"
stop_server 8000
for path in offline hf; do speed "h100-full-$path" --paths $path "${full[@]}"; done
compare h100-full-api h100-full-offline offline-vs-api
compare h100-full-api h100-full-hf hf-vs-api
compare h100-full-offline h100-full-hf hf-vs-offline
fi

# 2. Batch-invariant mode on a generative suite (MMLU and C-Eval, GEN_LIMIT questions a
#    subject): two runs on a server with VLLM_BATCH_INVARIANT=1, two on a server without, 128 in
#    flight; each run's wall time is in its run.json.
gen() {  # LABEL PORT
  log "run $1"
  env service_port="$2" model_name="$served" batch_size=128 max_out_len=32 max_seq_len=8192 eval_datasets="mmlu_gen ceval_gen" \
    limit="${GEN_LIMIT:-60}" ${GEN_SUBJECTS:+subjects=$GEN_SUBJECTS} results_dir="$out/runs/$1" .venv/bin/benchmark-eval run >"$out/logs/$1.log" 2>&1
  log "run $1 exit $?"
}
if [[ $steps == *" gen "* ]]; then
if start_server 8001 batch-invariant --batch-invariant; then
  gen bi-1 8001
  gen bi-2 8001
  stop_server 8001
fi
if start_server 8002 plain; then
  gen plain-1 8002
  gen plain-2 8002
  stop_server 8002
fi
compare bi-1 bi-2 bi-2-vs-bi-1
compare plain-1 plain-2 plain-2-vs-plain-1
compare plain-1 bi-1 bi-1-vs-plain-1
fi

# 3. A slice (two large MMLU subjects, SLICE_LIMIT questions each): offline and HF, whole prompts
#    against next-token questions, the answers compared.
if [[ $steps == *" slice "* ]]; then
slice=(--datasets mmlu_ppl --subjects "high_school_psychology,miscellaneous" --limit "${SLICE_LIMIT:-100}")
for path in offline hf; do speed "h100-slice-$path" --paths $path "${slice[@]}"; done
fi
