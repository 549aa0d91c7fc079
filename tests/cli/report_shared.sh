#!/usr/bin/env bash
# `blockheap report` over every shared trace (../shared/traces/*.trace.gz): the text, the JSON and
# the HTML page are produced (exit 0); the peak the JSON gives is minheap.tsv's peak_live_blocks;
# at the peak, the blocks attributed to Python lines, Python files, C sites and size classes each
# add up to the peak exactly; and the end of compiling found from the data is minheap.tsv's
# compile_phase_end_event where it has one. Skipped (77) without ../shared.
# Args: blockheap binary, source dir, shared dir.
set -u
BH=$1
TRACES=$3/traces
if [ ! -d "$TRACES" ]; then
    echo "skipped: ../shared absent ($TRACES not found)"
    exit 77
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# minheap.tsv's column NAME for program $1
column() {
    awk -F'\t' -v prog="$1" -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        $1 == prog && c { print $c }' "$TRACES/minheap.tsv"
}
sum_groups() {
    grep -o "\"at_peak\":{.*" "$1" | grep -o "\"$2\":\[[^]]*\]" | head -n 1 | grep -o '"blocks":[0-9]*' |
        cut -d: -f2 | awk '{s += $1} END {print s + 0}'
}
for f in "$TRACES"/*.trace.gz; do
    name=$(basename "$f" .trace.gz)
    if ! "$BH" report "$f" >"$OUT/text" 2>"$OUT/err"; then
        bad "$name: report failed: $(head -n 1 "$OUT/err")"
        continue
    fi
    if ! "$BH" report "$f" --json --top 100000 -o "$OUT/page.html" >"$OUT/json" 2>"$OUT/err"; then
        bad "$name: report --json -o failed: $(head -n 1 "$OUT/err")"
        continue
    fi
    grep -q '</html>' "$OUT/page.html" && ok "$name: HTML page written" || bad "$name: HTML page incomplete"
    peak=$(grep -o '"peak":{"blocks":[0-9]*' "$OUT/json" | cut -d: -f3)
    want=$(column "$name" peak_live_blocks)
    if [ -n "$want" ]; then
        [ "$peak" = "$want" ] && ok "$name: peak $peak blocks = minheap.tsv" || bad "$name: peak $peak blocks, minheap.tsv $want"
    fi
    for g in python_line python_file c_site size_class; do
        s=$(sum_groups "$OUT/json" "$g")
        [ "$s" = "$peak" ] && ok "$name: by $g: $s blocks = the peak" || bad "$name: by $g: $s blocks, the peak is $peak"
    done
    want=$(column "$name" compile_phase_end_event)
    if [ -n "$want" ]; then
        got=$(grep -o '"compile_end_event":[0-9]*' "$OUT/json" | cut -d: -f2)
        [ "$got" = "$want" ] && ok "$name: compiling ends at event $got = minheap.tsv" ||
            bad "$name: compiling ends at event $got, minheap.tsv $want"
    fi
    grep -q '^verdict     \(steady\|growing\)' "$OUT/text" && ok "$name: a verdict" || bad "$name: no verdict"
done
echo "$passed passed, $failed failed"
test "$failed" = 0
