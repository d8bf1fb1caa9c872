#!/usr/bin/env bash
# What the device drivers (gpu_suite.sh, ppl_suite.sh) share: OUT's folders, a timestamped log
# (OUT/driver.log) and `done` written into OUT when the driver ends, however it ends.
mkdir -p "$out/runs" "$out/logs"
log() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$out/driver.log"; }
trap 'log "driver ended"; touch "$out/done"' EXIT
