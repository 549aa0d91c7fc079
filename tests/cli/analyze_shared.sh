#!/usr/bin/env bash
# `blockheap analyze` over every real dump in ../shared/dumps: each is read (exit 0), and for each
# dump whose header printed "max free sz" the largest free run reported equals it; every header
# agrees with its map except the known pre-v1.8.2 miscount. Skipped (77) without ../shared.
# Args: blockheap binary, source dir, shared dir.
set -u
BH=$1
DUMPS=$3/dumps
KNOWN_BAD_HEADER=mp_issue2057_2016_oldformat.txt
if [ ! -d "$DUMPS" ]; then
    echo "skipped: ../shared absent ($DUMPS not found)"
    exit 77
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
num() { grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; } # the first "KEY":NUMBER of stdin
for f in "$DUMPS"/*.txt; do
    name=$(basename "$f")
    if ! "$BH" analyze "$f" >"$OUT/text" 2>"$OUT/stderr"; then
        bad "$name: analyze failed: $(head -n 1 "$OUT/stderr")"
        continue
    fi
    if ! "$BH" analyze --json "$f" >"$OUT/json" 2>"$OUT/stderr"; then
        bad "$name: analyze --json failed: $(head -n 1 "$OUT/stderr")"
        continue
    fi
    while IFS= read -r dump; do
        line=$(echo "$dump" | num line)
        largest=$(echo "$dump" | num largest_free_blocks)
        header=$(echo "$dump" | grep -o '"header":{[^}]*}')
        max_free=$(echo "$header" | num "max free sz")
        consistent=$(echo "$dump" | grep -o '"consistent":[a-z]*' | cut -d: -f2)
        if [ -n "$max_free" ]; then
            if [ "$largest" = "$max_free" ]; then
                ok "$name:$line: largest free run $largest blocks = header's max free sz $max_free"
            else
                bad "$name:$line: largest free run $largest blocks, header's max free sz $max_free"
            fi
        else
            ok "$name:$line: largest free run $largest blocks (the header has no max free sz)"
        fi
        if [ "$consistent" = true ]; then
            ok "$name:$line: header agrees with the map"
        elif [ "$name" = "$KNOWN_BAD_HEADER" ] && echo "$dump" | grep -q "before v1.8.2"; then
            ok "$name:$line: header disagrees, reported as MicroPython's pre-v1.8.2 miscount"
        else
            bad "$name:$line: header disagrees with the map: $(echo "$dump" | grep -o '"notes":.*')"
        fi
    done <"$OUT/json"
done
echo "$passed passed, $failed failed"
test "$failed" = 0
