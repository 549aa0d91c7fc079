#!/usr/bin/env bash
# `blockheap report` on logs of heap dumps: constructed logs with a known answer, a real one, and
# bad input. Args: blockheap binary, source dir, shared dir.
set -u
BIN=$1 SRC=$2
DATA=$SRC/tests/data/report
fails=0
check() { # name, expected verdict word
    out=$("$BIN" report "$DATA/$1.dumps.txt") || { echo "FAIL $1: exit $?"; fails=$((fails + 1)); return; }
    verdict=$(sed -n 's/^verdict *\([a-z ]*\):.*/\1/p' <<<"$out")
    if [ "$verdict" = "$2" ]; then echo "ok   $1: $verdict"; else echo "FAIL $1: verdict '$verdict', want '$2'"; fails=$((fails + 1)); fi
}
check steady steady
check growing growing
check fragmenting fragmenting

# JSON: four dumps, figures from the library (the growing log adds 320 bytes a dump)
json=$("$BIN" report "$DATA/growing.dumps.txt" --json)
grep -q '"dumps":4' <<<"$json" && grep -q '"used_bytes_per_dump":320' <<<"$json" && grep -q '"verdict":"growing"' <<<"$json" \
    && echo "ok   json" || { echo "FAIL json: $json"; fails=$((fails + 1)); }

# a real log of four dumps (bundled) reads as a series
out=$("$BIN" report "$SRC/tests/data/browse/unix32_misc_pystone.txt") && grep -q '^verdict' <<<"$out" \
    && [ "$(grep -c 'mem_info(1)' <<<"$out")" -eq 4 ] && echo "ok   real log" || { echo "FAIL real log"; fails=$((fails + 1)); }

# a malformed dump: FILE:LINE and exit 2
bad=$(mktemp)
printf 'GC memory layout; from 20000000:\n00000000: hh==zz\n' >"$bad"
err=$("$BIN" report "$bad" 2>&1 >/dev/null); rc=$?
if [ $rc -eq 2 ] && grep -q "^$bad:2:" <<<"$err"; then echo "ok   malformed"; else echo "FAIL malformed: rc $rc: $err"; fails=$((fails + 1)); fi
rm -f "$bad"
[ $fails -eq 0 ]
