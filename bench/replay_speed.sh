#!/usr/bin/env bash
# Replay throughput (events per second) on every shared trace, and the wall time of `margin` (one
# policy) on the largest. Usage: bench/replay_speed.sh [BLOCKHEAP] [SHARED]
#   BLOCKHEAP  the binary (default build/64/blockheap)
#   SHARED     the shared data (default ../shared)
# Each replay runs at MicroPython's own minimum heap for the trace (traces/minheap.tsv), where the
# heap is fullest and collections most frequent: the slowest case that matters.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$HERE/build/64/blockheap}
SHARED=${2:-$HERE/../shared}
TRACES=$SHARED/traces
[ -x "$BIN" ] || { echo "no binary $BIN (make first)"; exit 1; }
[ -f "$TRACES/minheap.tsv" ] || { echo "no $TRACES/minheap.tsv: the shared data is not here"; exit 1; }
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

printf '%-24s %9s %9s %8s %10s\n' trace events heap seconds "M events/s"
largest="" largest_events=0 total_events=0 total_seconds=0
while IFS=$'\t' read -r name events _ _ _ heap _; do
    [ "$name" = program ] && continue
    [ -f "$TRACES/$name.trace.gz" ] || continue
    json=$("$BIN" replay "$TRACES/$name.trace.gz" --heap "$heap" --json)
    secs=$(field seconds <<<"$json")
    ran=$(field events <<<"$json" | head -n 1)
    printf '%-24s %9s %9s %8.3f %10.1f\n' "$name" "$ran" "$heap" "$secs" "$(awk "BEGIN{print $ran/$secs/1e6}")"
    total_events=$((total_events + ran))
    total_seconds=$(awk "BEGIN{print $total_seconds + $secs}")
    if [ "$events" -gt "$largest_events" ]; then largest=$name largest_events=$events; fi
done <"$TRACES/minheap.tsv"
printf '%-24s %9s %9s %8.3f %10.1f\n' "all" "$total_events" "" "$total_seconds" \
    "$(awk "BEGIN{print $total_events/$total_seconds/1e6}")"
echo "(replay only: the trace is parsed once per command, before the clock starts)"

echo
echo "margin on the largest trace, $largest ($largest_events events), one policy, $(nproc) cores:"
start=$(date +%s.%N)
"$BIN" margin "$TRACES/$largest.trace.gz" --json >/tmp/bh_bench_margin.$$ || exit 1
end=$(date +%s.%N)
runs=$(field runs </tmp/bh_bench_margin.$$)
min=$(field min_heap_bytes </tmp/bh_bench_margin.$$)
allpass=$(field all_pass_from_bytes </tmp/bh_bench_margin.$$)
rm -f /tmp/bh_bench_margin.$$
printf 'wall %.1f s for %s replays (min heap %s, all pass from %s)\n' "$(awk "BEGIN{print $end - $start}")" "$runs" "$min" "$allpass"
