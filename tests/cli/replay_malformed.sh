#!/usr/bin/env bash
# Every trace of the malformed corpus (tests/data/traces/malformed/expect.tsv) makes replay, margin
# and fragility stop with "FILE:LINE: what is wrong" and exit status 2. Arguments: the blockheap
# binary, the source tree, ../shared.
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$2
DIR=$SRC/tests/data/traces/malformed
fails=0
n=0
while IFS=$'\t' read -r file line text; do
    case "$file" in '#'*|'') continue ;; esac
    n=$((n + 1))
    for cmd in replay margin fragility; do
        case $cmd in
            replay) args=(--heap 64K) ;;
            margin) args=() ;;
            fragility) args=(--heap 64K --variants 2) ;;
        esac
        err=$("$BIN" $cmd "$DIR/$file" "${args[@]}" 2>&1 >/dev/null); rc=$?
        if [ "$line" = "*" ]; then prefix="$DIR/$file:"; else prefix="$DIR/$file:$line: "; fi
        if [ $rc -ne 2 ]; then
            echo "FAIL $file ($cmd): exit $rc, expected 2"; fails=$((fails + 1))
        elif [ "${err#"$prefix"}" = "$err" ] || [ "${err#*"$text"}" = "$err" ]; then
            echo "FAIL $file ($cmd): expected '$prefix...$text', got: $err"; fails=$((fails + 1))
        fi
    done
    echo "ok   $file"
done <"$DIR/expect.tsv"
[ $n -ge 15 ] || { echo "FAIL only $n cases"; exit 1; }
[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
echo "$n malformed traces: FILE:LINE: and exit 2 from replay, margin and fragility"
