#!/usr/bin/env bash
# Thin shim: bash compare.sh BASELINE_RUN CANDIDATE_RUN [--out DIR] [--margin 0.01] ...
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cli="$here/.venv/bin/benchmark-eval"
[ -x "$cli" ] || { echo "error: benchmark-eval is not installed in $here/.venv; run: bash $here/install.sh" >&2; exit 2; }
exec "$cli" compare "$@"
