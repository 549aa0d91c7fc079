#!/usr/bin/env bash
# Command-line test of `blockheap margin` and `blockheap fragility` on the bundled traces.
# Arguments: the blockheap binary, the source tree, ../shared. Needs nothing from ../shared.
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$2
TRACE=$SRC/examples/traces/dict_del.trace.gz
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
has() { grep -q -- "$2" "$1"; }

# MicroPython's own minimum for dict_del is 2832 bytes (../shared/traces/minheap.tsv)
"$BIN" margin "$TRACE" --heap 4096 >"$T/out" 2>"$T/err"; rc=$?
check "margin: exit 0 (got $rc)" test $rc -eq 0
check "margin: lower bound" has "$T/out" "lower bound    2832 bytes"
check "margin: min heap" has "$T/out" "min heap       2832 bytes"
check "margin: all pass" has "$T/out" "all pass from  2832 bytes"
check "margin: margin of 4096" has "$T/out" "margin         1264 bytes"
check "margin: peak growth" has "$T/out" "peak growth    76 blocks"
check "margin: nothing on stderr (not a terminal)" test ! -s "$T/err"

"$BIN" margin "$TRACE" --heap 4096 --policy all --json >"$T/json" 2>"$T/err"; rc=$?
check "margin json: exit 0 (got $rc)" test $rc -eq 0
for key in policy peak_live_blocks lower_bound_bytes min_heap_bytes min_pool_blocks all_pass_from_bytes \
           checked_up_to_bytes collections_at_min heap_bytes margin_bytes; do
    check "margin json: key $key" has "$T/json" "\"$key\":"
done
check "margin json: micropython's minimum" has "$T/json" '"policy":"micropython","block_bytes":16,"peak_live_blocks":172,"lower_bound_bytes":2832,"completes":true,"min_heap_bytes":2832'

# a heap that is too small: the margin is negative
"$BIN" margin "$TRACE" --heap 2000 >"$T/out" 2>&1; rc=$?
check "margin 2000: exit 0" test $rc -eq 0
check "margin 2000: fails" has "$T/out" "FAILS"
check "margin 2000: negative margin" has "$T/out" "margin         -832 bytes"

# fragility: deterministic for a seed, documented JSON keys
"$BIN" fragility "$TRACE" --heap 2832 --variants 8 --seed 3 --json | sed 's/"seconds":[^,}]*//' >"$T/f1"
"$BIN" fragility "$TRACE" --heap 2832 --variants 8 --seed 3 --json --jobs 1 | sed 's/"seconds":[^,}]*//' >"$T/f2"
check "fragility: same seed, same result (1 or 2 threads)" cmp -s "$T/f1" "$T/f2"
for key in variants failed p50 p90 max fraction_failed base_min_heap_bytes details; do
    check "fragility json: key $key" has "$T/f1" "\"$key\":"
done
"$BIN" fragility "$TRACE" --heap 2832 --variants 8 --seed 4 --json | sed 's/"seconds":[^,}]*//' >"$T/f3"
check "fragility: another seed, other variants" test -n "$(cmp "$T/f1" "$T/f3")"
"$BIN" fragility "$TRACE" --heap 3K --variants 4 >"$T/out" 2>&1; rc=$?
check "fragility text: exit 0" test $rc -eq 0
check "fragility text: table" has "$T/out" "fail at heap"

"$BIN" fragility "$TRACE" >/dev/null 2>&1; check "fragility without --heap: exit 2" test $? -eq 2
"$BIN" margin >/dev/null 2>&1; check "margin without a trace: exit 2" test $? -eq 2

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
