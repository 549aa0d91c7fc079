#!/usr/bin/env bash
# Agreement of `blockheap replay --policy micropython` with MicroPython itself: every row of every
# traces/mp_runs/NAME.tsv (the heap sizes MicroPython was run at, pass or fail), per trace.
# Usage: bench/replay_fidelity.sh [BLOCKHEAP] [SHARED]
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$HERE/build/64/blockheap}
SHARED=${2:-$HERE/../shared}
[ -x "$BIN" ] || { echo "no binary $BIN (make first)"; exit 1; }
[ -d "$SHARED/traces/mp_runs" ] || { echo "no $SHARED/traces/mp_runs: the shared data is not here"; exit 1; }
for tsv in "$SHARED"/traces/mp_runs/*.tsv; do
    name=$(basename "$tsv" .tsv)
    "$BIN" replay "$SHARED/traces/$name.trace.gz" --policy micropython --runs "$tsv" | tail -n 1
done
