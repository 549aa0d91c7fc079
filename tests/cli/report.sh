#!/usr/bin/env bash
# `blockheap report` on the constructed traces of tests/data/report (made by make_traces.py there,
# which also computes the answers below independently): a steady program, one with a slow leak
# from one site, one whose peak is while compiling, and the leak without site fields. Also the
# command line: --help, bad options, malformed input (FILE:LINE, exit 2), --heap, -o (HTML).
# Args: blockheap binary, source dir, shared dir (unused).
set -u
BH=$1
DATA=$2/tests/data/report
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# the value at the end of the first match of PATTERN $2 in file $1 (a number, bool or string)
val() { grep -o "$2" "$1" | head -n 1 | sed -e 's/.*"://' -e 's/^"//' -e 's/"$//'; }
expect() { # name got want
    if [ "$2" = "$3" ]; then ok "$1 = $3"; else bad "$1: got '$2', want '$3'"; fi
}
# sum of "blocks" of every group in the at_peak list KEY (JSON on one line, --top large)
sum_groups() {
    grep -o "\"$2\":\[[^]]*\]" "$1" | head -n 1 | grep -o '"blocks":[0-9]*' | cut -d: -f2 |
        awk '{s += $1} END {print s + 0}'
}

run() { # name args... -> $OUT/name.{out,err,rc}
    local name=$1
    shift
    "$BH" report "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
    echo $? >"$OUT/$name.rc"
}

for k in steady leak startup_peak nosites; do
    run "$k" "$DATA/$k.trace.gz" --json --top 100000
    run "$k.txt" "$DATA/$k.trace.gz"
    expect "$k: exit status (json)" "$(cat "$OUT/$k.rc")" 0
    expect "$k: exit status (text)" "$(cat "$OUT/$k.txt.rc")" 0
done

# the answers make_traces.py printed
expect "steady: peak blocks" "$(val "$OUT/steady.out" '"peak":{"blocks":[0-9]*')" 103
expect "steady: peak event" "$(grep -o '"peak":{[^}]*}' "$OUT/steady.out" | grep -o '"event":[0-9]*' | cut -d: -f2)" 267
expect "steady: compile end event" "$(val "$OUT/steady.out" '"compile_end_event":[0-9]*')" 8
expect "steady: main loop starts after the import" "$(val "$OUT/steady.out" '"main_loop_start_event":[0-9]*')" 15
expect "steady: growing" "$(val "$OUT/steady.out" '"growing":[a-z]*')" false
if grep -q '^verdict     steady: ' "$OUT/steady.txt.out"; then ok "steady: text verdict steady"; else bad "steady: text verdict: $(grep '^verdict' "$OUT/steady.txt.out")"; fi

expect "leak: peak blocks" "$(val "$OUT/leak.out" '"peak":{"blocks":[0-9]*')" 502
expect "leak: peak event" "$(grep -o '"peak":{[^}]*}' "$OUT/leak.out" | grep -o '"event":[0-9]*' | cut -d: -f2)" 12162
expect "leak: growing" "$(val "$OUT/leak.out" '"growing":[a-z]*')" true
expect "leak: top grower" "$(grep -o '"growth":{"python_line":\[{"name":"[^"]*","blocks":[0-9]*,"delta_blocks":[0-9]*' "$OUT/leak.out" | sed 's/.*"name":"\([^"]*\)".*"delta_blocks":\([0-9]*\)/\1 +\2/')" "<stdin>:20 +180"
# 2 blocks every 10 iterations of 3.1 allocations: 64.5 blocks per 1000 allocations
expect "leak: trend" "$(val "$OUT/leak.out" '"slope_late_per_1000":[0-9.]*' | cut -c1-4)" 64.5
if grep -q '^verdict     growing: possible leak at <stdin>:20 (+180 blocks; C site mp_obj_new_dict<' "$OUT/leak.txt.out"; then
    ok "leak: text verdict names <stdin>:20"
else
    bad "leak: text verdict: $(grep '^verdict' "$OUT/leak.txt.out")"
fi
expect "leak: top Python line at the peak" "$(grep -o '"python_line":\[{"name":"[^"]*","blocks":[0-9]*' "$OUT/leak.out" | head -n 1 | sed 's/.*"name":"\([^"]*\)","blocks":\([0-9]*\)/\1 \2/')" "<stdin>:20 400"

expect "startup_peak: peak blocks" "$(val "$OUT/startup_peak.out" '"peak":{"blocks":[0-9]*')" 542
expect "startup_peak: peak event" "$(grep -o '"peak":{[^}]*}' "$OUT/startup_peak.out" | grep -o '"event":[0-9]*' | cut -d: -f2)" 5
expect "startup_peak: phase of the peak" "$(val "$OUT/startup_peak.out" '"phase":"[^"]*"')" "start-up & compile"
expect "startup_peak: top C site at the peak" "$(grep -o '"c_site":\[{"name":"[^"]*"' "$OUT/startup_peak.out" | head -n 1 | sed 's/.*"name":"//; s/"$//')" "parser_alloc<push_result_rule<mp_parse"
expect "startup_peak: growing" "$(val "$OUT/startup_peak.out" '"growing":[a-z]*')" false

expect "nosites: peak blocks" "$(val "$OUT/nosites.out" '"peak":{"blocks":[0-9]*')" 502
expect "nosites: growing" "$(val "$OUT/nosites.out" '"growing":[a-z]*')" true
if grep -q '^  by size class' "$OUT/nosites.txt.out" && ! grep -q '^  by C site' "$OUT/nosites.txt.out"; then
    ok "nosites: grouped by size class only"
else
    bad "nosites: groups shown: $(grep '^  by ' "$OUT/nosites.txt.out" | tr '\n' ' ')"
fi
if grep -q 'possible leak at size class 2 blocks' "$OUT/nosites.txt.out"; then ok "nosites: the leak's size class"; else bad "nosites: verdict: $(grep '^verdict' "$OUT/nosites.txt.out")"; fi

# at the peak, every grouping adds up to the peak exactly
for k in steady leak startup_peak nosites; do
    peak=$(val "$OUT/$k.out" '"peak":{"blocks":[0-9]*')
    for g in python_line python_file c_site size_class; do
        s=$(sum_groups "$OUT/$k.out" "$g")
        expect "$k: $g groups add up to the peak" "$s" "$peak"
    done
done

# the command line
run help --help
expect "--help exit status" "$(cat "$OUT/help.rc")" 0
grep -q '^usage: blockheap report' "$OUT/help.out" && ok "--help prints the usage" || bad "--help: $(head -n 1 "$OUT/help.out")"
run noargs
expect "no trace: exit status" "$(cat "$OUT/noargs.rc")" 2
run badopt "$DATA/steady.trace.gz" --frobnicate
expect "unknown option: exit status" "$(cat "$OUT/badopt.rc")" 2
run badtop "$DATA/steady.trace.gz" --top 0
expect "--top 0: exit status" "$(cat "$OUT/badtop.rc")" 2
run missing "$OUT/no-such.trace"
expect "missing file: exit status" "$(cat "$OUT/missing.rc")" 2
printf 'heaptrace 1\nblock 16\nword 4\na 1 16\nd 2\n' >"$OUT/bad.trace"
run malformed "$OUT/bad.trace"
expect "malformed trace: exit status" "$(cat "$OUT/malformed.rc")" 2
grep -q "bad.trace:5:" "$OUT/malformed.err" && ok "malformed trace: FILE:LINE on stderr" || bad "malformed: stderr $(cat "$OUT/malformed.err")"
# a trace with no events at all still reports
printf 'heaptrace 1\nblock 16\nword 4\n' >"$OUT/empty.trace"
run empty "$OUT/empty.trace"
expect "empty trace: exit status" "$(cat "$OUT/empty.rc")" 0
run emptyj "$OUT/empty.trace" --json
expect "empty trace (json): exit status" "$(cat "$OUT/emptyj.rc")" 0
# from stdin
"$BH" report - --json <"$DATA/steady.trace.gz" >"$OUT/stdin.out" 2>&1
expect "stdin: peak blocks" "$(val "$OUT/stdin.out" '"peak":{"blocks":[0-9]*')" 103

# --heap: a heap below the peak fails (exit 1) and the live set at the failure is grouped
run small "$DATA/leak.trace.gz" --heap 4K --json
expect "--heap 4K: exit status" "$(cat "$OUT/small.rc")" 1
grep -q '"at_failure":{' "$OUT/small.out" && ok "--heap 4K: at_failure present" || bad "--heap 4K: no at_failure: $(head -c 300 "$OUT/small.out")"
run big "$DATA/leak.trace.gz" --heap 64K --json
expect "--heap 64K: exit status" "$(cat "$OUT/big.rc")" 0
expect "--heap 64K: completed" "$(grep -o '"replay":{[^}]*}' "$OUT/big.out" | grep -o '"completed":[a-z]*' | cut -d: -f2)" true

# -o: one self-contained HTML page, the text still on stdout
run html "$DATA/leak.trace.gz" -o "$OUT/leak.html"
expect "-o: exit status" "$(cat "$OUT/html.rc")" 0
grep -q '^verdict     growing' "$OUT/html.out" && ok "-o: the text report still on stdout" || bad "-o: stdout $(head -n 3 "$OUT/html.out")"
if [ -s "$OUT/leak.html" ] && grep -q '^<!doctype html>' "$OUT/leak.html" && grep -q '<svg ' "$OUT/leak.html" &&
    grep -q '</html>' "$OUT/leak.html"; then
    ok "-o: an HTML page with the timeline"
else
    bad "-o: not a page: $(head -c 200 "$OUT/leak.html")"
fi
if grep -Eqi '(src|href)=|url\(|@import|<script' "$OUT/leak.html"; then
    bad "-o: the page loads something: $(grep -Eoi '(src|href)=[^ ]*|url\([^)]*\)|@import|<script' "$OUT/leak.html" | head -n 3)"
else
    ok "-o: nothing loaded from outside, no script"
fi
grep -q '&lt;stdin&gt;:20' "$OUT/leak.html" && ! grep -q '<stdin>' "$OUT/leak.html" && ok "-o: names escaped" ||
    bad "-o: <stdin> not escaped"
run htmlbad "$DATA/leak.trace.gz" -o "$OUT/no-such-dir/x.html"
expect "-o into a missing directory: exit status" "$(cat "$OUT/htmlbad.rc")" 1

echo "$passed passed, $failed failed"
test "$failed" = 0
