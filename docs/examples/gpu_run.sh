#!/usr/bin/env bash
# The CUDA half of the worked example, as run on the H100 machine (see README.md here).
# That machine has Python 3.12, torch (CUDA) and transformers 5 but no OpenCompass, no vLLM
# and no registry. Before this script: the wheelhouse (bash install.sh --download-wheels ...),
# the data slice (as $STAGE/data/...) and the demo model's .gguf were copied into $STAGE.
#
#   STAGE=/root/stage bash docs/examples/gpu_run.sh OUT_DIR
set -euo pipefail
out=${1:?usage: gpu_run.sh OUT_DIR}
stage=${STAGE:?set STAGE to the folder holding wheels/, data/ and the .gguf}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# 1. the toolkit on the host's own torch/transformers: only what the host lacks is installed
bash install.sh --with-vllm none --system-site-packages --wheelhouse "$stage/wheels"
# 2. the demo model, converted on this host from the same .gguf the CPU side used
.venv/bin/benchmark-eval prepare-demo-model --gguf "$stage/model.gguf" --converter .venv/bin/python
sha256sum .cache/models/SmolLM2-135M-Instruct/model.safetensors | tee "$out/model.sha256"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.csv"
# 3. the same slice as the CPU runs, fp32 and bf16
for dtype in float32 bfloat16; do
  .venv/bin/benchmark-eval run --hf-path .cache/models/SmolLM2-135M-Instruct --hf-type chat --device cuda \
    --dtype "$dtype" --datasets "mmlu_ppl ceval_ppl mmlu_gen_4d595a" \
    --subjects abstract_algebra,anatomy,astronomy,college_biology,computer_network,art_studies,ideological_and_moral_cultivation \
    --limit 40 --max-out-len 16 --batch-size 16 --data-root "$stage" \
    --results-dir "$stage/results" --benchmark-type "cuda-$dtype"
done
tar -C "$stage/results" -czf "$out/cuda-runs.tgz" .
