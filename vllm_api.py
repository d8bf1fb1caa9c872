#!/usr/bin/env python3
"""Start or stop vLLM's OpenAI-compatible server: a thin shim over `benchmark-eval server`.

    python vllm_api.py start --model /path/to/model --port 8000 [--device cuda --dtype bfloat16 ...]
    python vllm_api.py stop --port 8000
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
cli = os.path.join(here, ".venv", "bin", "benchmark-eval")
if not os.path.exists(cli):
    sys.exit(f"error: benchmark-eval is not installed in {here}/.venv; run: bash {here}/install.sh")
os.execv(cli, [cli, "server", *sys.argv[1:]])
