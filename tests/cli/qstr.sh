#!/usr/bin/env bash
# Command-line test of `blockheap qstr`. Arguments: the blockheap binary, the source tree, ../shared.
# Runs on the copy of the real sample in tests/data/qstr/, so it needs nothing from ../shared; the C
# preprocessor and python3 steps (the build's own preprocessing and makeqstrdata.py's reading, as
# docs/qstr-rules.md states them) run when those programs are there.
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$2
SHARED=${3:-}
SAMPLE=$SRC/tests/data/qstr/unix32_sensor_node.txt
[ -f "$SAMPLE" ] || { echo "missing $SAMPLE"; exit 1; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }

# the sample's own numbers, from its header (I1)
hdr=$(head -n 1 "$SAMPLE")
n_qstr=$(sed -n 's/.*n_qstr=\([0-9]*\),.*/\1/p' <<<"$hdr")
total=$(sed -n 's/.*n_total_bytes=\([0-9]*\).*/\1/p' <<<"$hdr")
[ -n "$n_qstr" ] && [ -n "$total" ] || { echo "cannot read the sample's header"; exit 1; }

# ---- the real sample, to a file
"$BIN" qstr "$SAMPLE" -o "$T/out.h" >"$T/sum" 2>"$T/err"
rc=$?
check "sample: exit 0 (got $rc)" test $rc -eq 0
check "sample: nothing on stderr" test ! -s "$T/err"
check "sample: summary counts n_qstr=$n_qstr strings" grep -q "strings found: *$n_qstr " "$T/sum"
check "sample: summary gives n_total_bytes=$total" grep -q "RAM the pools use: *$total bytes" "$T/sum"
written=$(grep -c '^Q(' "$T/out.h")
refused=$(sed -n 's/^ *strings refused: *\([0-9]*\)$/\1/p' "$T/sum")
check "sample: written ($written) + refused ($refused) = n_qstr ($n_qstr)" test $((written + refused)) -eq "$n_qstr"
check "sample: summary says $written written" grep -q "strings written: *$written " "$T/sum"
check "sample: every line blank, a // comment or Q(...)" \
    test "$(grep -cvE '^$|^//|^Q\(.*\)$' "$T/out.h")" -eq 0
check "sample: one refused line per refused string" \
    test "$(sed -n '/^\/\/ Refused/,$p' "$T/out.h" | grep -c '^// "')" -eq "$refused"

# ---- G1: the build's preprocessing step (py/py.mk) leaves every Q(...) line as it is
CC=$(command -v cc || command -v gcc || true)
if [ -n "$CC" ]; then
    for std in gnu99 c99; do
        sed 's/^Q(.*)/"&"/' "$T/out.h" | "$CC" -E -P -std=$std -Wall -Werror - 2>"$T/cpp.err" \
            | sed 's/^"\(Q(.*)\)"/\1/' >"$T/pre.$std.h"
        check "G1: $CC -E -std=$std -Wall -Werror takes the fragment" test ! -s "$T/cpp.err"
        check "G1: the Q(...) lines come out of the preprocessor unchanged (-std=$std)" \
            cmp -s <(grep '^Q(' "$T/out.h") <(grep '^Q(' "$T/pre.$std.h")
    done
    # and the strings refused for G1 do break it
    printf 'Q(quote"d)\n' | sed 's/^Q(.*)/"&"/' | "$CC" -E -P -std=gnu99 -Wall -Werror - >/dev/null 2>&1
    check "G1: a raw quote does fail the preprocessing step" test $? -ne 0
else
    echo "skip G1: no C compiler"
fi

# ---- G2-G7: makeqstrdata.py's way of reading, done by python3 from the rules of the doc
PY=$(command -v python3 || true)
if [ -n "$PY" ] && [ -n "$CC" ]; then
    "$PY" - "$T/pre.gnu99.h" "$SRC/docs/qstr-rules.md" "$written" <<'EOF'
import re, sys
from html.entities import codepoint2name
path, doc, written = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = dict(codepoint2name)
block = open(doc, encoding="utf-8").read().split("```text qstr-names\n")[1].split("```")[0]
for line in block.splitlines():
    f = line.split()
    if f and f[0].startswith("0x"):
        names[int(f[0], 16)] = f[-2]          # code, char, name, source
def ident(s):  # G4
    return "".join(c if re.match(r"[A-Za-z0-9_]$", c) else "_%s_" % names.get(ord(c), "0x%02x" % ord(c))
                   for c in s)
seen, n = {}, 0
with open(path, "rt", encoding="utf-8") as f:          # G2, G7
    for line in f:
        line = line.strip()
        m = re.match(r"^Q\((.*)\)$", line)
        if not m:
            continue
        q = {"\\n": "\n", "\\r\\n": "\r\n"}.get(m.group(1), m.group(1))   # G3
        assert len(q.encode("utf-8")) < 256, q                           # G6
        i = ident(q)
        assert i not in seen, (q, seen.get(i))                           # G4
        seen[i] = q
        n += 1
assert n == written, (n, written)
print("ok   G2-G7: python3 reads %d strings, all named apart" % n)
EOF
    [ $? -eq 0 ] || bad "G2-G7: python3 reading of the preprocessed fragment"
else
    echo "skip G2-G7 python3 check: no python3 or no C compiler"
fi

# ---- many constructed strings, end to end: every string written comes back exactly through the
# real preprocessor and a python3 reading as docs/qstr-rules.md states makeqstrdata.py's (G1-G7), and
# every string refused (but for name clashes) does break one of them when written raw
if [ -n "$PY" ] && [ -n "$CC" ]; then
    "$PY" - "$BIN" "$CC" "$T" "$SRC/docs/qstr-rules.md" <<'EOF'
import random, re, subprocess, sys
from html.entities import codepoint2name
BIN, CC, T, DOC = sys.argv[1:5]
names = dict(codepoint2name)
for line in open(DOC, encoding="utf-8").read().split("```text qstr-names\n")[1].split("```")[0].splitlines():
    f = line.split()
    if f and f[0].startswith("0x"):
        names[int(f[0], 16)] = f[-2]
ident = lambda s: "".join(c if re.match(r"[A-Za-z0-9_]$", c) else "_%s_" % names.get(ord(c), "0x%02x" % ord(c)) for c in s)

def pipeline(text):
    """The build's steps for a qstrdefsport.h (py/py.mk), then makeqstrdata.py's reading: the
    strings read, in order, or None if a step fails."""
    wrapped = re.sub(rb"(?m)^Q\(.*\)$", lambda m: b'"' + m.group(0) + b'"', text)
    r = subprocess.run([CC, "-E", "-P", "-std=gnu99", "-Wall", "-Werror", "-"], input=wrapped, capture_output=True)
    if r.returncode != 0:
        return None
    pre = re.sub(rb'(?m)^"(Q\(.*\))"$', rb"\1", r.stdout)
    open(T + "/e2e.pre.h", "wb").write(pre)
    out = []
    try:
        with open(T + "/e2e.pre.h", "rt", encoding="utf-8") as f:
            for line in f:
                m = re.match(r"^Q\((.*)\)$", line.strip())
                if m:
                    q = {"\\n": "\n", "\\r\\n": "\r\n"}.get(m.group(1), m.group(1))
                    if len(q.encode("utf-8")) >= 256:
                        return None
                    out.append(q)
    except UnicodeDecodeError:
        return None
    return out

atoms = [b"a", b"Z", b"_", b"9", b" ", b".", b"(", b")", b"\\", b'"', b"?", b"??", b"=", b"/", b"-", b"!",
         b"\t", b"\x1b", b"\x7f", b"\r", b"\n", b"\xc3\xa9", b"\xe2\x98\x83", b"\xff", b"\xed\xa0\x80",
         b"\xe2\x80\xae", b"\xe2\x80\xac", b"\xe2\x81\xa6", b"\xe2\x81\xa9", b"\\n", b"//", b"/*", b"~", b"\xcb\x9c"]
rnd = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 7)
cases = {b"\n", b"\\n", b"\\r\\n", b"x" * 255, b"y" * 256, b"a.b", b"a_dot_b"}
while len(cases) < 400:
    s = b"".join(rnd.choice(atoms) for _ in range(rnd.randint(1, 4)))
    if b"\r\n" in s or b"\nQ(" in s or b"\x00" in s:
        continue            # the two known ambiguities of a log (docs/qstr-rules.md, Limits)
    cases.add(s)
cases = sorted(cases) + [b"plain last"]   # a plain last entry: no ambiguity at the end of the run
dump = b"qstr pool: n_pool=1, n_qstr=%d, n_str_data_bytes=%d, n_total_bytes=9999\n" % (
    len(cases), sum(len(c) + 1 for c in cases))
dump += b"".join(b"Q(" + c + b")\n" for c in cases)
open(T + "/e2e.txt", "wb").write(dump)
r = subprocess.run([BIN, "qstr", T + "/e2e.txt", "-o", T + "/e2e.h", "--json"], capture_output=True)
assert r.returncode == 0, r.stderr
frag = open(T + "/e2e.h", "rb").read()
got = pipeline(frag)
assert got is not None, "the fragment does not pass the build's steps"
want = [c for c in cases]
written = [q.encode("utf-8") for q in got]
assert len(set(written)) == len(written) and all(w in set(cases) for w in written), "unknown or repeated strings"
idents = [ident(q) for q in got]
assert len(set(idents)) == len(idents), "two strings with one name"
# every refused string is listed, C-quoted, with its reasons
refused = re.findall(rb'(?m)^// (".*?(?<!\\)(?:\\\\)*"): (.*)$', frag)
def unquote(q):
    out, i, q = bytearray(), 1, q[:-1]
    while i < len(q):
        c = q[i:i + 1]
        if c != b"\\":
            out += c; i += 1; continue
        e = q[i + 1:i + 2]
        if e == b"x":
            out.append(int(q[i + 2:i + 4], 16)); i += 4
        else:
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(e, e); i += 2
    return bytes(out)
ref = {unquote(q): why for q, why in refused}
assert set(ref) | set(written) == set(cases) and not set(ref) & set(written), "a string neither written nor refused"
broken = clashes = port_dependent = 0
for s, why in ref.items():
    if b"same MP_QSTR_ name" in why:
        assert ident(s.decode("utf-8")) in idents, s
        clashes += 1
        continue
    if why.startswith(b"contains a double quote") and b"; and " not in why:
        # G1: an even number of unescaped quotes depends on the port's macros; an odd one must fail
        i, quotes = 0, 0
        while i < len(s):
            quotes += s[i:i + 1] == b'"'
            i += 2 if s[i:i + 1] == b"\\" else 1
        if quotes % 2 == 0:
            port_dependent += 1
            continue
    back = pipeline(b"Q(" + s + b")\n")
    assert back != [s.decode("utf-8", "replace")], (s, why, "is refused but the build takes it")
    broken += 1
print("ok   end to end: %d strings written come back exactly; of those refused, %d break the build's steps, "
      "%d clash by name, %d hold an even number of quotes (port-dependent)" % (len(written), broken, clashes, port_dependent))
EOF
    [ $? -eq 0 ] || bad "end to end through $CC and python3"
else
    echo "skip end to end: no python3 or no C compiler"
fi

# ---- the same strings from stdin, from gzip, with -o -: fragment on stdout, summary on stderr
strip_src() { grep -v '^// Written by'; }
"$BIN" qstr - <"$SAMPLE" >"$T/stdin.h" 2>"$T/stdin.sum"
check "stdin: exit 0" test $? -eq 0
check "stdin: same fragment" cmp -s <(strip_src <"$T/out.h") <(strip_src <"$T/stdin.h")
check "stdin: summary on stderr" grep -q "strings found: *$n_qstr " "$T/stdin.sum"
if command -v gzip >/dev/null; then
    gzip -c "$SAMPLE" >"$T/s.txt.gz"
    "$BIN" qstr "$T/s.txt.gz" -o - >"$T/gz.h" 2>"$T/gz.sum"
    check "gzip: exit 0" test $? -eq 0
    check "gzip: same fragment" cmp -s <(strip_src <"$T/out.h") <(strip_src <"$T/gz.h")
fi

# ---- a console log with two runs and other output: the union, once each
{
    echo "MicroPython v1.23.0 on 2024-06-02; linux version"
    echo ">>> import micropython"
    echo ">>> micropython.qstr_info(1)"
    cat "$SAMPLE"
    echo ">>> print('hello')"
    echo "hello"
    echo ">>> micropython.qstr_info(1)"
    sed 's/$/\r/' "$SAMPLE"   # from a board: CR LF (I5)
    echo ">>> "
} >"$T/log.txt"
"$BIN" qstr "$T/log.txt" -o "$T/log.h" >"$T/log.sum" 2>&1
check "log: exit 0" test $? -eq 0
check "log: 2 runs" grep -q "qstr_info runs: *2$" "$T/log.sum"
check "log: n_qstr=$n_qstr strings, once each" grep -q "strings found: *$n_qstr ($((2 * n_qstr)) " "$T/log.sum"
check "log: same fragment as the sample alone" cmp -s <(strip_src <"$T/out.h") <(strip_src <"$T/log.h")

# ---- --json
"$BIN" qstr "$SAMPLE" --json -o "$T/j.h" >"$T/j.json"
check "json: exit 0" test $? -eq 0
if [ -n "$PY" ]; then
    "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["strings_found"] == int(sys.argv[2]) and j["n_total_bytes"] == int(sys.argv[3]), j
assert j["strings_written"] + j["strings_refused"] == j["strings_found"]
assert len(j["refused"]) == j["strings_refused"] and all(r["reasons"] for r in j["refused"])
' "$T/j.json" "$n_qstr" "$total"
    check "json: valid, and its numbers match the header" test $? -eq 0
fi

# ---- the README's example is real output: its summary, its Q(...) lines, its refused lines
readme=$(sed -n '/^## Move your strings to ROM/,$p' "$SRC/README.md")
if [ -n "$readme" ]; then
    (cd "$SRC" && "$BIN" qstr tests/data/qstr/unix32_sensor_node.txt -o "$T/readme.h") >"$T/readme.sum"
    check "README: the summary is the tool's" cmp -s <(sed "s|-> $T/readme.h|-> qstrdefs.h|" "$T/readme.sum") \
        <(sed -n '/^blockheap qstr: /,/^```/p' <<<"$readme" | sed '$d')
    missing=0
    while IFS= read -r l; do grep -qxF -- "$l" "$T/readme.h" || missing=1; done < <(grep -E '^Q\(|^// "' <<<"$readme")
    check "README: its Q(...) and refused lines are in the fragment" test $missing -eq 0
fi

# ---- the bundled sample is the one in ../shared
if [ -n "$SHARED" ] && [ -f "$SHARED/dumps/qstr/unix32_sensor_node.txt" ]; then
    check "bundled sample equals ../shared's" cmp -s "$SAMPLE" "$SHARED/dumps/qstr/unix32_sensor_node.txt"
else
    echo "skip comparing with ../shared: not there"
fi

# ---- malformed input: FILE:LINE on stderr and exit 2; bad usage exit 2; unwritable output exit 1
expect_bad() { # description, expected line, file
    local d=$1 line=$2 f=$3
    "$BIN" qstr "$f" -o "$T/never.h" >/dev/null 2>"$T/bad.err"
    local rc=$?
    check "$d: exit 2 (got $rc)" test $rc -eq 2
    check "$d: stderr says $f:$line:" grep -q "^$f:$line: " "$T/bad.err"
}
printf 'hello\nqstr pool: n_pool=1, n_qstr=two, n_str_data_bytes=3, n_total_bytes=9\n' >"$T/b1.txt"
expect_bad "bad header" 2 "$T/b1.txt"
{ head -n 4 "$SAMPLE"; echo ">>> "; } >"$T/b2.txt"
expect_bad "run cut short" 5 "$T/b2.txt"
printf 'Q(a)\nQ(b\n' >"$T/b3.txt"
expect_bad "unterminated entry" 2 "$T/b3.txt"
printf 'nothing to see\n' >"$T/b4.txt"
expect_bad "no qstr_info output" 1 "$T/b4.txt"
check "malformed input leaves no output file" test ! -e "$T/never.h"
"$BIN" qstr "$T/does-not-exist.txt" >/dev/null 2>&1
check "missing file: exit 2" test $? -eq 2
"$BIN" qstr >/dev/null 2>&1
check "no FILE: exit 2" test $? -eq 2
"$BIN" qstr --bogus "$SAMPLE" >/dev/null 2>&1
check "unknown option: exit 2" test $? -eq 2
"$BIN" qstr --len-bytes 3 "$SAMPLE" >/dev/null 2>&1
check "--len-bytes 3: exit 2" test $? -eq 2
"$BIN" qstr --help >"$T/help" 2>&1
check "--help: exit 0 and usage" grep -q "usage: blockheap qstr" "$T/help"
"$BIN" qstr "$SAMPLE" -o "$T/no/such/dir/out.h" >/dev/null 2>&1
check "unwritable output: exit 1" test $? -eq 1

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
