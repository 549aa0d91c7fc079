#!/usr/bin/env bash
# Every benchmark, one command (`make bench`); each prints its table with the baseline measured in
# the same run (micropython's placement, glibc malloc), so ratios are comparable.
#   1. speed: ns per alloc+free pair and worst-case allocation, every policy and glibc malloc
#   2. replay throughput and `margin` wall time on the largest shared trace; speed on real
#      programs: the shared traces replayed on every policy and through glibc malloc
#   3. fragmentation: min heap / peak live for every shared trace x every policy
#   4. fidelity: agreement with MicroPython's own runs, per trace
# 2-4 need ../shared (the shared traces); they say so and are skipped without it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="$here/build/64"
shared="${BH_SHARED:-$here/../shared}"

echo "== speed"
"$bin/bench_speed" "${BH_SPEED_OPS:-200000}"
if [ ! -d "$shared/traces" ]; then
  echo "SKIPPED: replay speed, fragmentation and fidelity benchmarks: $shared/traces is absent"
  exit 0
fi
echo; echo "== replay speed"
bash "$here/bench/replay_speed.sh" "$bin/blockheap" "$shared"
echo; echo "== speed on real programs"
"$bin/bench_trace_speed" "$shared"/traces/*.trace.gz
echo; echo "== fragmentation"
bash "$here/bench/fragmentation.sh" --bin "$bin/blockheap"
echo; echo "== fidelity"
bash "$here/bench/replay_fidelity.sh" "$bin/blockheap" "$shared"
