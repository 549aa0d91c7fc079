#!/usr/bin/env bash
# `blockheap analyze` on the dumps bundled in the repository (no ../shared needed): the text, the
# answers to --need, the map, JSON, stdin and gzip input, and usage errors.
# Args: blockheap binary, source dir, shared dir.
set -u
BH=$1
SRC=$2
EXAMPLE=$SRC/examples/dumps/mp_issue2057_2016_oldformat.txt
DATA=$SRC/tests/data/dumps
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
has() { grep -q -F -e "$1" "$2"; }
hasnt() { ! grep -q -F -e "$1" "$2"; }

# ---- the README's example: a 2016 pyboard heap, 97% fragmented, header miscounted by MicroPython
run "$BH" analyze "$EXAMPLE"
check "example: exit 0" test "$rc" = 0
check "example: nothing on stderr" test ! -s "$OUT/stderr"
check "example: where the dump starts" has "mp_issue2057_2016_oldformat.txt:2: dump 1 of 1" "$OUT/stdout"
check "example: its era" has "pre-v1.8.1 ('t' tails, address offsets); 16-byte blocks (from the offsets)" "$OUT/stdout"
check "example: totals" has "166400 bytes (10400 blocks) at 0x20003600: used 145840 (88%), free 20560 (12%)" "$OUT/stdout"
check "example: largest free run" has "largest free:  560 B (35 blocks) at 0x20025ea0" "$OUT/stdout"
check "example: free runs" has "free runs:     103; by length in blocks: 1: 5, 2-3: 4, 4-7: 8, 8-15: 70" "$OUT/stdout"
check "example: fragmentation" has "fragmentation: 97.3% of the free memory is outside the largest free run" "$OUT/stdout"
check "example: objects" has "objects:       4331 in 142.4 KB: 3434 of 1 block, 434 of 2" "$OUT/stdout"
check "example: by type" has "by type:     h untyped 3585 (128.3 KB), T tuple 336" "$OUT/stdout"
check "example: a wall" has "walls:         freeing the object at 0x20025e80 (32 B) would make a free run of 816 B (51 blocks; the longest now: 35)" "$OUT/stdout"
check "example: header disagrees" has "header:        DISAGREES with the map" "$OUT/stdout"
check "example: says why" has "the header says No. of 1-blocks: 3433, the map gives 3434" "$OUT/stdout"
check "example: MicroPython's bug" has "MicroPython before v1.8.2 did not count" "$OUT/stdout"
check "example: no colour into a pipe" hasnt $'\033' "$OUT/stdout"

# ---- --need: fits; fragmentation (and what to free); exhaustion
run "$BH" analyze "$EXAMPLE" --need 512
check "need 512: fits, exit 0" test "$rc" = 0
check "need 512: says so" has "need:          512 B (32 blocks): fits (the largest free run is 560 B)" "$OUT/stdout"
run "$BH" analyze "$EXAMPLE" --need 1K
check "need 1K: exit 1" test "$rc" = 1
check "need 1K: fragmented" has "does NOT fit, the heap is fragmented: 20.1 KB is free in all, but the largest free run is 560 B" "$OUT/stdout"
check "need 1K: what to free" has "freeing the 3 objects at 0x20025d70, 0x20025d80, 0x20025e80 (80 B) would make a 1.0 KB free run: enough" "$OUT/stdout"
run "$BH" analyze "$EXAMPLE" --need=64K
check "need 64K: exit 1" test "$rc" = 1
check "need 64K: exhausted" has "does NOT fit, the heap is exhausted: only 20.1 KB is free in all" "$OUT/stdout"

# ---- --map: MicroPython's layout, free lines abbreviated; colour only when asked or on a terminal
run "$BH" analyze "$DATA/mp_issue6086_esp8266.txt" --map
check "map: exit 0" test "$rc" = 0
check "map: a line of blocks" has "  00000: MDThhhDMhTDhThDTB=TB=BhhTTB=h====h===hh==h======================" "$OUT/stdout"
check "map: free lines abbreviated" has "(25 lines all free)  <- in the largest free run" "$OUT/stdout"
check "map: the last line" has "  09400: ...." "$OUT/stdout"
check "map: plain into a pipe" hasnt $'\033' "$OUT/stdout"
run "$BH" analyze "$DATA/mp_issue6086_esp8266.txt" --map --color
check "map --color: ANSI colour" has $'\033[42;30m' "$OUT/stdout"

# ---- a map with no header, after a soft reboot
run "$BH" analyze "$DATA/mp_issue7778_esp32_noheader.txt"
check "no header: exit 0" test "$rc" = 0
check "no header: said" has "map without a header, v1.8.1-v1.19 (5-digit offsets)" "$OUT/stdout"
check "no header: nothing to check" has "header:        none printed: nothing to check" "$OUT/stdout"

# ---- a time series: four dumps of one run, with JSON
run "$BH" analyze "$DATA/unix32_misc_pystone.txt"
check "series: exit 0" test "$rc" = 0
check "series: summary" has "unix32_misc_pystone.txt: 4 dumps in sequence:" "$OUT/stdout"
check "series: last dump titled" has "dump 4 of 4: mem_info(1) after gc.collect" "$OUT/stdout"
run "$BH" analyze --json "$DATA/unix32_misc_pystone.txt"
check "json: exit 0" test "$rc" = 0
check "json: one object per dump" test "$(grep -c '^{.*}$' "$OUT/stdout")" = 4
for key in line block_bytes pool_blocks total_bytes used_bytes free_bytes largest_free_blocks largest_free_bytes \
    free_runs header consistent fragmentation walls objects_by_type objects_by_size notes; do
    check "json: every dump has \"$key\"" test "$(grep -c "\"$key\":" "$OUT/stdout")" = 4
done
check "json: the first dump" has '"line":6,' "$OUT/stdout"
check "json: header by MicroPython's names" has '"header":{"stack":736,"stack out of":40000,"mem total":25271,"mem current":6925,"mem peak":19565,"total":32000,"used":7424,"free":24576,"No. of 1-blocks":79,"2-blocks":21,"max blk sz":49,"max free sz":724}' "$OUT/stdout"
check "json: largest free equals max free sz" has '"largest_free_blocks":724,"largest_free_bytes":11584' "$OUT/stdout"
check "json: consistent" test "$(grep -c '"consistent":true' "$OUT/stdout")" = 4
if command -v python3 >/dev/null 2>&1; then
    check "json: each line is valid JSON" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' "$OUT/stdout"
fi

# ---- stdin and gzip
run bash -c "cat '$DATA/mp_issue6086_esp8266.txt' | '$BH' analyze -"
check "stdin: exit 0" test "$rc" = 0
check "stdin: named" has "<stdin>:2: dump 1 of 1" "$OUT/stdout"
gzip -c "$DATA/mp_issue6086_esp8266.txt" >"$OUT/esp.txt.gz"
run "$BH" analyze "$OUT/esp.txt.gz"
check "gzip: exit 0" test "$rc" = 0
check "gzip: read" has "largest free:  25.1 KB (1609 blocks)" "$OUT/stdout"

# ---- usage and bad input
run "$BH" analyze
check "no file: exit 2" test "$rc" = 2
check "no file: usage" has "usage: blockheap analyze" "$OUT/stderr"
run "$BH" analyze --help
check "--help: exit 0" test "$rc" = 0
check "--help: on stdout" has "--need BYTES" "$OUT/stdout"
run "$BH" analyze --frobnicate "$EXAMPLE"
check "unknown option: exit 2" test "$rc" = 2
run "$BH" analyze --need lots "$EXAMPLE"
check "bad --need: exit 2" test "$rc" = 2
check "bad --need: says so" has "--need wants a size" "$OUT/stderr"
run "$BH" analyze "$OUT/does-not-exist.txt"
check "missing file: exit 2" test "$rc" = 2
check "missing file: named" has "does-not-exist.txt: cannot open" "$OUT/stderr"
run "$BH" analyze "$DATA/malformed/map_cut_short.txt"
check "cut dump: exit 2" test "$rc" = 2
check "cut dump: FILE:LINE" has "map_cut_short.txt:7: the map has 128 blocks" "$OUT/stderr"
check "cut dump: no analysis printed" test ! -s "$OUT/stdout"

echo "$passed passed, $failed failed"
test "$failed" = 0
