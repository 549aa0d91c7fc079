#!/usr/bin/env bash
# Command-line test of `blockheap replay`. Arguments: the blockheap binary, the source tree, ../shared.
# Runs on the bundled traces (examples/traces), so it needs nothing from ../shared.
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

# completes at 4096 (MicroPython's own minimum is 2832)
"$BIN" replay "$TRACE" --heap 4096 >"$T/out" 2>"$T/err"; rc=$?
check "4096: exit 0 (got $rc)" test $rc -eq 0
check "4096: completed" has "$T/out" "completed all 28646 events"
check "4096: peak live 172 blocks" has "$T/out" "peak live    172 blocks"
check "4096: nothing on stderr" test ! -s "$T/err"

# fails below the peak, with the event, the line and the verdict
"$BIN" replay "$TRACE" --heap 2800 --map >"$T/out" 2>"$T/err"; rc=$?
check "2800: exit 1 (got $rc)" test $rc -eq 1
check "2800: failure reported" has "$T/out" "FAILED at event 63 (line 66)"
check "2800: verdict" has "$T/out" "exhausted"
check "2800: --map prints the heap map" has "$T/out" "GC memory layout; from"

# JSON with the documented keys
"$BIN" replay "$TRACE" --heap 2800 --json >"$T/json" 2>"$T/err"; rc=$?
check "json: exit 1" test $rc -eq 1
for key in completed heap_bytes pool_blocks block_bytes policy events collections peak_live_blocks \
           failed_event failed_line request_bytes free_bytes largest_free_bytes verdict; do
    check "json: key $key" has "$T/json" "\"$key\":"
done
check "json: verdict value" has "$T/json" '"verdict":"exhausted"'
check "json: one line" test "$(wc -l <"$T/json")" -eq 1

# the same trace from stdin, uncompressed
gzip -dc "$TRACE" | "$BIN" replay - --heap 4096 --json >"$T/stdin" 2>"$T/err"; rc=$?
check "stdin: exit 0 (got $rc)" test $rc -eq 0
check "stdin: completed" has "$T/stdin" '"completed":true'

# MicroPython's own runs of the bundled traces: every row agrees
for name in dict_del bm_fannkuch; do
    "$BIN" replay "$SRC/examples/traces/$name.trace.gz" --runs "$SRC/examples/traces/$name.mp_runs.tsv" >"$T/runs" 2>&1; rc=$?
    check "$name: every MicroPython run agrees (exit $rc)" test $rc -eq 0
    tail -n 1 "$T/runs"
done

# --oracle-hints: said in the text and the JSON; a bad AGE is a usage error
"$BIN" replay "$TRACE" --heap 4096 --policy adaptive --oracle-hints 100 >"$T/out" 2>"$T/err"; rc=$?
check "oracle: exit 0 (got $rc)" test $rc -eq 0
check "oracle: said" has "$T/out" "oracle hints BH_LONG_LIVED on every object that lives 100 allocations or more"
"$BIN" replay "$TRACE" --heap 4096 --policy adaptive --oracle-hints 100 --json >"$T/json" 2>"$T/err"
check "oracle: json key" has "$T/json" '"oracle_hints_age":100'
"$BIN" replay "$TRACE" --heap 4096 --oracle-hints 0 >/dev/null 2>"$T/err"; rc=$?
check "oracle 0: exit 2 (got $rc)" test $rc -eq 2
check "oracle 0: said" has "$T/err" "bad --oracle-hints '0'"
"$BIN" browse "$TRACE" --oracle-hints 5 -o "$T/page.html" >/dev/null 2>"$T/err"; rc=$?
check "oracle in browse: refused, exit 2 (got $rc)" test $rc -eq 2
check "oracle in browse: said" has "$T/err" "oracle-hints is not taken here"

# usage errors are exit 2
"$BIN" replay "$TRACE" >/dev/null 2>&1; check "no --heap: exit 2" test $? -eq 2
"$BIN" replay "$TRACE" --heap 4096 --policy nosuch >/dev/null 2>&1; check "bad policy: exit 2" test $? -eq 2
"$BIN" replay "$T/does-not-exist" --heap 4096 >/dev/null 2>&1; check "missing file: exit 2" test $? -eq 2
"$BIN" replay "$TRACE" --heap 12x >/dev/null 2>&1; check "bad --heap: exit 2" test $? -eq 2

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
