#!/usr/bin/env bash
# Thin shim over `benchmark-eval run`: it reads the classic env vars itself
# (vllm_path host service_port max_out_len batch_size eval_datasets model_name
#  benchmark_type subjects limit COMPASS_DATA_CACHE tokenizer_path ...).
# With none of them set it runs the embedded demo.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cli="$here/.venv/bin/benchmark-eval"
if [ ! -x "$cli" ]; then
  echo "error: benchmark-eval is not installed in $here/.venv; run: bash $here/install.sh" >&2
  exit 2
fi
exec "$cli" run "$@"
