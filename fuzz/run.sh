#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt, clang), replays each saved corpus
# (fuzz/corpus/<target>: seeds and past findings, a regression test), then fuzzes every target for
# SECONDS, all at once (the machine's cores are shared), starting from the saved corpus. New
# inputs go to BUILD/work/<target>; a crash, leak or model disagreement leaves BUILD/crash-*
# and fails the run. Prints the executions of each target.
#   usage: fuzz/run.sh BUILD_DIR SECONDS        (SECONDS 0: the regression replay only)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?build dir}
seconds=${2:-45}
targets=(api trace dump qstr)

probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$probe/p.c"
if ! command -v clang >/dev/null 2>&1 || ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
  rm -rf "$probe"
  echo "SKIPPED: fuzzing (install clang libclang-rt-14-dev)"
  exit 0
fi
rm -rf "$probe"

cmake -S fuzz -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug >/dev/null || exit 1
cmake --build "$build" -j "$(nproc)" >/dev/null || { cmake --build "$build"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
common=("-artifact_prefix=$build/" -print_final_stats=1)
declare -A max_len=([api]=600 [trace]=8192 [dump]=20000 [qstr]=4096)
# -close_fd_mask=2 for the parsers: they report malformed input on stderr, thousands of times a
# second; libFuzzer and the sanitizers keep reporting on a copy of stderr. Not for fuzz_api: the
# model's message on a disagreement goes to stderr.
declare -A fd_mask=([api]=0 [trace]=2 [dump]=2 [qstr]=2)

status=0
for t in "${targets[@]}"; do
  if ! "$build/fuzz_$t" "${common[@]}" -close_fd_mask="${fd_mask[$t]}" -runs=0 "fuzz/corpus/$t" >"$build/regress_$t.log" 2>&1; then
    echo "fuzz_$t: the saved corpus fails (log: $build/regress_$t.log)"
    tail -n 40 "$build/regress_$t.log"
    status=1
  else
    echo "fuzz_$t: saved corpus replayed, $(ls "fuzz/corpus/$t" | wc -l) inputs, no failure"
  fi
done
[ "$status" -eq 0 ] || exit 1
[ "$seconds" -gt 0 ] || exit 0

pids=()
for t in "${targets[@]}"; do
  mkdir -p "$build/work/$t"
  "$build/fuzz_$t" "${common[@]}" -close_fd_mask="${fd_mask[$t]}" -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=20 \
    -rss_limit_mb=2048 "$build/work/$t" "fuzz/corpus/$t" >"$build/fuzz_$t.log" 2>&1 &
  pids+=($!)
done
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if wait "${pids[$i]}"; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz_$t.log" | tail -n 1)
    echo "fuzz_$t: ${execs:-?} executions in ${seconds}s, no failure"
  else
    echo "fuzz_$t: FAILED (log: $build/fuzz_$t.log; input: $build/crash-* / leak-* / timeout-*)"
    grep -E -A 30 'ERROR|model:|runtime error' "$build/fuzz_$t.log" | head -n 60
    status=1
  fi
done
exit "$status"
