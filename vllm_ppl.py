#!/usr/bin/env python3
"""PPL (log-likelihood) tests through vLLM's offline engine, no server: a thin shim over
`benchmark-eval run --mode offline`.

    python vllm_ppl.py --model-path /path/to/model --datasets "mmlu_ppl ceval_ppl" \
        [--tp 1] [--max-seq-len 2048] [--batch-size 16] [--dtype float32] [--device cpu|cuda|npu] \
        [--subjects a,b] [--limit N] [--data-root DIR]

The engine runs in the vLLM environment (.venv-vllm) as a worker process; scoring follows the
same rule as the API and HF backends (see README, "PPL tests three ways").
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
cli = os.path.join(here, ".venv", "bin", "benchmark-eval")
if not os.path.exists(cli):
    sys.exit(f"error: benchmark-eval is not installed in {here}/.venv; run: bash {here}/install.sh")
os.execv(cli, [cli, "run", "--mode", "offline", *sys.argv[1:]])
