#!/usr/bin/env bash
# On the H100 machine, from what stage.sh packed (STAGE: vllm/, wheels/, model.gguf, data.tar.xz):
# the toolkit on the host's torch and transformers (.venv), vLLM beside it in STAGE/vsite, seen
# only by its servers through STAGE/vllm-python, the demo model converted, the data unpacked.
# Sourced by gpu_suite.sh and ppl_suite.sh, which define OUT, STAGE and log().
log "install"
bash install.sh --with-vllm none --system-site-packages --wheelhouse "$stage/wheels" >"$out/logs/install.log" 2>&1 \
  || { log "install.sh failed"; exit 1; }
python3 -m pip install -q --no-index --no-deps --no-compile --target "$stage/vsite" "$stage"/vllm/*.whl \
  >"$out/logs/vllm-install.log" 2>&1 || { log "vllm install failed"; exit 1; }
printf '#!/bin/sh\nPYTHONPATH=%s exec python3 "$@"\n' "$stage/vsite" >"$stage/vllm-python"
chmod +x "$stage/vllm-python"
.venv/bin/benchmark-eval prepare-demo-model --gguf "$stage/model.gguf" --converter .venv/bin/python \
  >"$out/logs/model.log" 2>&1 || { log "prepare-demo-model failed"; exit 1; }
sha256sum .cache/models/SmolLM2-135M-Instruct/model.safetensors >"$out/model.sha256"
tar -C "$stage" -xJf "$stage/data.tar.xz"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$out/gpu.csv"
"$stage/vllm-python" -c 'import vllm, torch; print("vllm", vllm.__version__, "torch", torch.__version__)' >"$out/versions.txt" 2>&1
log "installed: $(tail -1 "$out/versions.txt")"
