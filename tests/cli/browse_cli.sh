#!/usr/bin/env bash
# `blockheap browse` without a browser: it writes a self-contained page for dumps and for a trace
# replay, bounds its snapshots, and bad input gives FILE:LINE: and exit 2.
# (tests/cli/browse.sh opens the page in Chromium.) Args: blockheap binary, source dir, shared dir.
set -u
BH=$1
SRC=$2
DATA=$SRC/tests/data/browse
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
passed=0
failed=0
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
# run CMD... : status in $rc, stdout in $OUT/stdout, stderr in $OUT/stderr
run() { "$@" >"$OUT/stdout" 2>"$OUT/stderr"; rc=$?; }
has() { grep -q -e "$1" "$2"; }

# ---- dumps: four mem_info(1) dumps of one run, a 2000-block heap
run "$BH" browse "$DATA/unix32_misc_pystone.txt" -o "$OUT/dumps.html"
check "dumps: exit 0" test "$rc" = 0
check "dumps: says what it wrote" has "dumps.html: 4 snapshots, 2000 blocks shown last" "$OUT/stdout"
check "dumps: the data is in the page" has '"format":"blockheap-browse"' "$OUT/dumps.html"
check "dumps: the placeholder is gone" bash -c "! grep -q '@BLOCKHEAP_DATA@' '$OUT/dumps.html'"
check "dumps: types from the dump" has '"map":"h=Sh=h2Lh2=7' "$OUT/dumps.html"
check "dumps: the dump's own header" has '"max free sz":724' "$OUT/dumps.html"
# self-contained: nothing to fetch (JSON strings cannot carry '<': it is written \u003c)
check "dumps: nothing loaded from elsewhere" \
    bash -c "! grep -Eiq '<(script[^>]*src|link|img|iframe|object|embed)|@import|url\\(' '$OUT/dumps.html'"

run "$BH" browse "$DATA/unix32_misc_pystone.txt" -o -
check "dumps: -o - writes the page on stdout" has '^<!doctype html>' "$OUT/stdout"

# ---- a trace replay: dict_del fails in 2000 bytes (120 blocks), completes in 4096
run "$BH" browse "$DATA/dict_del.trace.gz" --heap 2000 -o "$OUT/fail.html"
check "trace, failing: exit 0" test "$rc" = 0
check "trace, failing: 120 blocks" has "fail.html: [0-9]* snapshots, 120 blocks shown last" "$OUT/stdout"
check "trace, failing: the failure is in the data" has '"failure":{"x":[0-9]*,"file":"[^"]*","line":[0-9]*,"request_bytes"' "$OUT/fail.html"
check "trace, failing: not completed" has '"completed":false' "$OUT/fail.html"
run "$BH" browse "$DATA/dict_del.trace.gz" --heap 4096 -o "$OUT/ok.html"
check "trace, completing: exit 0" test "$rc" = 0
check "trace, completing: no failure" has '"completed":true' "$OUT/ok.html"
check "trace, completing: null failure" has '"failure":null' "$OUT/ok.html"
snaps=$(sed -n 's/.*: \([0-9]*\) snapshots.*/\1/p' "$OUT/stdout")
check "trace: at most 200 snapshots ($snaps)" test "${snaps:-0}" -ge 100 -a "${snaps:-999}" -le 200
run "$BH" browse "$DATA/dict_del.trace.gz" --heap 4096 --snapshots 10 -o "$OUT/ten.html"
snaps=$(sed -n 's/.*: \([0-9]*\) snapshots.*/\1/p' "$OUT/stdout")
check "trace: --snapshots 10 keeps at most 10 ($snaps)" test "${snaps:-0}" -ge 5 -a "${snaps:-999}" -le 10

# ---- bad input: FILE:LINE: and exit 2
printf 'GC: total: 32000, used: 7424, free: 24576\n No. of 1-blocks: 79, 2-blocks: 21, max blk sz: 49, max free sz: 724\nGC memory layout; from 565c74a0:\n00000000: h=Sh=hhLhh=======h==========h=ShhhhBBDhhBT=BhSShhB==BBBBBBh=h===\n00000400: BBBBB\n' >"$OUT/short.txt"
run "$BH" browse "$OUT/short.txt" -o "$OUT/x.html"
check "a dump cut short: exit 2" test "$rc" = 2
check "a dump cut short: FILE:LINE:" has "^$OUT/short.txt:[0-9][0-9]*: " "$OUT/stderr"
printf 'heaptrace 1\nblock 16\nword 4\na 1 16\nq 2\n' >"$OUT/bad.trace"
run "$BH" browse "$OUT/bad.trace" --heap 4096 -o "$OUT/x.html"
check "a bad trace line: exit 2" test "$rc" = 2
check "a bad trace line: FILE:LINE:" has "^$OUT/bad.trace:5: " "$OUT/stderr"
run "$BH" browse "$DATA/dict_del.trace.gz" -o "$OUT/x.html"
check "a trace without --heap: exit 2" test "$rc" = 2
run "$BH" browse "$DATA/unix32_misc_pystone.txt" --heap 4096 -o "$OUT/x.html"
check "--heap with a dump: exit 2" test "$rc" = 2
run "$BH" browse "$OUT/no-such-file.txt" -o "$OUT/x.html"
check "a missing file: exit 2" test "$rc" = 2
run "$BH" browse --frobnicate "$DATA/unix32_misc_pystone.txt"
check "an unknown option: exit 2" test "$rc" = 2
run "$BH" browse --help
check "--help: exit 0" test "$rc" = 0

echo "browse_cli: $passed passed, $failed failed"
test "$failed" = 0
