#!/usr/bin/env bash
# Every dump in tests/data/dumps/malformed makes `blockheap analyze` exit 2 with "FILE:LINE: what is
# wrong" on stderr, LINE and the words being those the file's first line expects
# ("# expect: LINE: TEXT"), and nothing on stdout. Run in the ASan build, a crash fails it.
# Args: blockheap binary, source dir, shared dir.
set -u
BH=$1
DIR=$2/tests/data/dumps/malformed
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
passed=0
failed=0
n=0
for f in "$DIR"/*.txt; do
    n=$((n + 1))
    expect=$(head -n 1 "$f")
    expect=${expect#\# expect: }
    line=${expect%%:*}
    text=${expect#*: }
    "$BH" analyze "$f" >"$OUT/stdout" 2>"$OUT/stderr"
    rc=$?
    first=$(head -n 1 "$OUT/stderr")
    if [ "$rc" = 2 ] && [ "${first#"$f:$line: "}" != "$first" ] && grep -q -F -e "$text" "$OUT/stderr" &&
        [ ! -s "$OUT/stdout" ]; then
        passed=$((passed + 1))
        echo "ok   $(basename "$f"): $first"
    else
        failed=$((failed + 1))
        echo "FAIL $(basename "$f"): exit $rc, wanted $f:$line: ...$text..., got: $first"
    fi
done
if [ "$n" -lt 20 ]; then
    echo "FAIL only $n malformed dumps: the corpus needs at least 20"
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
test "$failed" = 0
