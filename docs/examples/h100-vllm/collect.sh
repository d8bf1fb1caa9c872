#!/usr/bin/env bash
# Packs what gpu_suite.sh or ppl_suite.sh has written so far (run records, logs, the bare-client figures; files not yet written are left out) into
# parts of 15 MiB under PARTS: the device tool brings back 8 files of 16 MiB, 64 MiB in all, per
# call, so a call copies four parts at most (cp PARTS/all.part.0[0-3] "$OUT"/, then 0[4-7] ...).
#
#   bash docs/examples/h100-vllm/collect.sh /root/res /root/parts
set -euo pipefail
res=${1:?usage: collect.sh RES PARTS}
parts=${2:?usage: collect.sh RES PARTS}
rm -rf "$parts" && mkdir -p "$parts"
(cd "$res" && { find runs -path '*/predictions' -prune -o \( -name run.json -o -name samples.jsonl -o -name '*.csv' \
  -o -name request_batches.jsonl \) -print; ls -d driver.log logs bare.json gpu.csv versions.txt model.sha256 compare compare-*.txt ppl_speed_*.json 2>/dev/null || true; } \
  | tar -cf - -T - | xz -T0 -3 >"$parts/all.tar.xz")
(cd "$parts" && split -b 15M -d all.tar.xz all.part. && rm all.tar.xz && sha256sum all.part.* >all.sha256 && ls -l)
