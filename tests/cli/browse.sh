#!/usr/bin/env bash
# The heap browser in a real browser: `blockheap browse` writes pages from the bundled dumps and
# trace, headless Chromium (driven by playwright-core) opens them from disk and checks the grid's
# block count, an object's size on click, and that the timeline slider switches the heap; it saves
# screenshots. Args: blockheap binary, source dir, shared dir.
# Exits 77 (skipped) without /usr/bin/chromium or tests/browser/node_modules/playwright-core:
# bash .ci/run installs both (apt-get install chromium; npm ci in tests/browser).
set -u
BH=$1
SRC=$2
DATA=$SRC/tests/data/browse
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || [ ! -d "$SRC/tests/browser/node_modules/playwright-core" ] || ! command -v node >/dev/null; then
    echo "skipped: chromium or playwright-core not installed (bash .ci/run installs them)"
    exit 77
fi
export CHROMIUM
OUT=$PWD/browser # in the build directory: build/64/browser/heap.png
mkdir -p "$OUT"
status=0

# ---- the dumps: what the page must show, read off the dump itself
DUMP=$DATA/unix32_misc_pystone.txt
"$BH" browse "$DUMP" -o "$OUT/heap.html" | tee "$OUT/heap.out" || exit 1
tool_blocks=$(sed -n 's/.*snapshots, \([0-9]*\) blocks shown last.*/\1/p' "$OUT/heap.out")
# the header's total bytes over the block size (offsets step 0x400 per 64 blocks: 16-byte blocks)
header_total=$(sed -n 's/^GC: total: \([0-9]*\),.*/\1/p' "$DUMP" | head -1)
blocks=$((header_total / 16))
if [ "$tool_blocks" != "$blocks" ]; then
    echo "FAIL the tool shows $tool_blocks blocks, the dump's header says $blocks"
    status=1
fi
# a known object: on the first dump's line 00000400, the 'h' before "=======T" (8 blocks)
line=$(grep -m1 '^00000400: ' "$DUMP")
map=${line#*: }
before=${map%%h=======T*}
object_block=$((64 + ${#before}))
expect="{\"blocks\": $blocks, \"snapshots\": 4,
         \"object\": {\"block\": $object_block, \"blocks\": 8, \"bytes\": 128}}"
node "$SRC/tests/browser/check.mjs" "$OUT/heap.html" "$OUT/heap.png" "$expect" || status=1

# ---- a failed replay: dict_del in 2000 bytes; the page opens at the failure
"$BH" browse "$DATA/dict_del.trace.gz" --heap 2000 -o "$OUT/trace.html" | tee "$OUT/trace.out" || exit 1
tool_blocks=$(sed -n 's/.*snapshots, \([0-9]*\) blocks shown last.*/\1/p' "$OUT/trace.out")
tool_snaps=$(sed -n 's/.*: \([0-9]*\) snapshots,.*/\1/p' "$OUT/trace.out")
expect="{\"blocks\": $tool_blocks, \"snapshots\": $tool_snaps, \"failure\": true}"
node "$SRC/tests/browser/check.mjs" "$OUT/trace.html" "$OUT/trace.png" "$expect" || status=1

exit $status
