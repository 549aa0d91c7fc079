#!/usr/bin/env bash
# Fragmentation benchmark: every shared trace x every placement policy, all in one run.
#
#   bench/fragmentation.sh [--policies p1,p2,...|all] [--traces t1,t2,...] [--oracle AGE]
#                          [--block B] [--bin PATH] [--jobs N]
#
# Per trace, `blockheap margin TRACE --policy all --json` (the library itself, MicroPython's arena
# layout, 16-byte blocks and finalisers as recorded, host semantics `micropython`) gives for every
# policy the lower bound (peak live blocks), the minimum heap (the smallest pool, in steps of 4
# blocks, at which the trace completes, among every size margin runs: it bisects, then scans a
# window around the transition, because placement is not monotonic in the heap size), the size from
# which every size passes, and the collections at the minimum. Then `blockheap replay` adds, per
# policy: what `micropython` does at that same heap (its collections, or F if it fails there), and
# the policy's collections at 1.25x the lower bound (F if it fails there).
# Printed: one row per trace; per policy the geometric mean and the worst of min heap / lower bound
# (and of all-pass-from / lower bound), how many traces need more heap than with micropython, and
# on how many the policy runs at every heap size micropython runs at (its all-pass-from is at most
# micropython's minimum: no heap that works under micropython fails under it).
# The last column, hints@AGE, is not a policy but a bound: adaptive given BH_LONG_LIVED from the
# trace's future for every object that lives AGE allocations or more (`--oracle-hints AGE`; default
# 500, 0 leaves it out): what the lifetime prediction would give if it were perfect.
# --block B replays the traces with B-byte blocks instead of the 16 they were recorded with (32: a
# 64-bit port): the same programs in another geometry, a check that the policies' constants, chosen
# on 16-byte blocks, are not fitted to it.
# Takes about 10 minutes on 2 CPUs (583 s for the table in README.md).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BH_BIN:-$here/build/place/blockheap}"
SHARED="${BH_SHARED:-$here/../shared}"
POLICIES="all"
TRACES=""
JOBS="${BH_JOBS:-$(nproc 2>/dev/null || echo 2)}"
ORACLE=500
BLOCK=16
while [ $# -gt 0 ]; do
    case "$1" in
    --policies) POLICIES="$2"; shift 2 ;;
    --traces) TRACES="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --oracle) ORACLE="$2"; shift 2 ;;
    --block) BLOCK="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "fragmentation.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$BIN" ] || { echo "fragmentation.sh: no binary at $BIN (build the target blockheap_cli)" >&2; exit 2; }

case "$BLOCK" in 16|32|64|128) ;; *) echo "fragmentation.sh: --block must be 16, 32, 64 or 128" >&2; exit 2 ;; esac

exec python3 - "$BIN" "$SHARED" "$POLICIES" "$TRACES" "$JOBS" "$ORACLE" "$BLOCK" <<'PY'
import concurrent.futures as cf, json, math, os, subprocess, sys, time

BIN, SHARED, POLICIES, TRACES, JOBS = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ORACLE = int(sys.argv[6])
B = int(sys.argv[7])  # block bytes (the traces': 16-byte blocks, finalisers on: MicroPython's layout)
HINTS = f'hints@{ORACLE}'  # the bound's column: adaptive with --oracle-hints ORACLE

def policy_args(p):
    return ['adaptive', '--oracle-hints', str(ORACLE)] if p == HINTS else [p]

def atb_bytes_for(total):
    unit = 12 + 32 * B
    t = total - 1
    return (t // unit) * 8 + ((t % unit) * 8) // unit

def arena_for(pool):
    """bh_arena_bytes_for(pool, 16, true): the smallest arena whose pool has >= pool blocks"""
    a = (pool + 3) // 4
    unit = 12 + 32 * B
    t = (a // 8) * unit + ((a % 8) * unit + 7) // 8 + 1
    t = (t + B - 1) & ~(B - 1)
    while t > B and atb_bytes_for(t - B) >= a:
        t -= B
    while atb_bytes_for(t) < a:
        t += B
    return t

def trace_path(t):
    return f'{SHARED}/traces/{t}.trace.gz'

def margin(trace, policy=None):
    args = [BIN, 'margin', trace_path(trace), '--block', str(B), '--json', '--jobs', str(JOBS), '--policy']
    if policy:
        args += policy_args(policy)
    else:
        args += [POLICIES] if POLICIES == 'all' or ',' not in POLICIES else ['all']
    out = subprocess.run(args, capture_output=True, text=True)
    try:
        d = json.loads(out.stdout)
    except ValueError:
        sys.exit(f'margin failed on {trace}: {out.stderr.strip()[:500]}')
    if policy:
        return d['policies'][0]
    return {p['policy']: p for p in d['policies']}

def replay(trace, policy, heap):
    out = subprocess.run([BIN, 'replay', trace_path(trace), '--block', str(B), '--heap', str(heap), '--json',
                          '--policy'] + policy_args(policy),
                         capture_output=True, text=True)
    try:
        d = json.loads(out.stdout)
    except ValueError:
        sys.exit(f'replay failed to run: {trace} {policy} {heap}: {out.stderr.strip()[:500]}')
    return bool(d['completed']), int(d['collections'])

traces = TRACES.split(',') if TRACES else sorted(
    f[:-len('.trace.gz')] for f in os.listdir(f'{SHARED}/traces') if f.endswith('.trace.gz'))
t0 = time.time()
res = {}
for t in traces:
    m = margin(t)
    if POLICIES != 'all':
        m = {p: m[p] for p in POLICIES.split(',')}
    if ORACLE > 0:
        m[HINTS] = margin(t, HINTS)
    res[t] = m
    print(f'# {t}: margin done ({time.time() - t0:.0f} s)', file=sys.stderr)
policies = list(res[traces[0]].keys())

# the extra replays: micropython at each policy's min heap, each policy at 1.25x the lower bound
jobs = []
for t in traces:
    for p in policies:
        r = res[t][p]
        if r['completes']:
            jobs.append((t, 'micropython', r['min_heap_bytes'], (t, p, 'mp_at_min')))
        lb = r['peak_live_blocks']
        jobs.append((t, p, arena_for((lb * 5 + 3) // 4), (t, p, 'at125')))
extra = {}
with cf.ThreadPoolExecutor(max_workers=JOBS) as ex:
    for key, rr in zip([j[3] for j in jobs], ex.map(lambda j: replay(j[0], j[1], j[2]), jobs)):
        extra[key] = rr

W = 29
print(f'# fragmentation benchmark: min heap / lower bound (peak live blocks), by `blockheap margin`, {B}-byte blocks')
print(f'# cell: ratio  collections at the min heap / micropython\'s collections at that same heap (F: it fails'
      f' there)  collections at 1.25x the lower bound (F: fails there)')
print(f'{"trace":22s} {"lower":>6s}' + ''.join(f' | {p:>{W}s}' for p in policies))
ratios = {p: [] for p in policies}
allpass = {p: [] for p in policies}
for t in traces:
    row = f'{t:22s} {res[t][policies[0]]["peak_live_blocks"]:6d}'
    for p in policies:
        r = res[t][p]
        if not r['completes']:
            row += f' | {"never completes":>{W}s}'
            continue
        lb = r['peak_live_blocks']
        ratio = r['min_pool_blocks'] / lb
        ratios[p].append((ratio, t))
        allpass[p].append(atb_bytes_for(r['all_pass_from_bytes'] & ~(B - 1)) * 4 / lb)
        ok, gcs = extra.get((t, p, 'mp_at_min'), (False, 0))
        ok125, gcs125 = extra[(t, p, 'at125')]
        cell = f'{ratio:.3f} {r["collections_at_min"]:>6d}/{(str(gcs) if ok else "F"):>5s} {(str(gcs125) if ok125 else "F"):>6s}'
        row += f' | {cell:>{W}s}'
    print(row)

def geo(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float('nan')

print(f'{"geomean min/lower":29s}' + ''.join(f' | {geo([x for x, _ in ratios[p]]):{W}.3f}' for p in policies))
print(f'{"worst min/lower":29s}' + ''.join(
    f' | {max(ratios[p])[0]:{W - 16}.3f} {max(ratios[p])[1][:15]:>15s}' if ratios[p] else f' | {"-":>{W}s}'
    for p in policies))
print(f'{"geomean all-pass-from/lower":29s}' + ''.join(f' | {geo(allpass[p]):{W}.3f}' for p in policies))
print(f'{"worst all-pass-from/lower":29s}' + ''.join(
    f' | {max(allpass[p]) if allpass[p] else float("nan"):{W}.3f}' for p in policies))
if 'micropython' in policies:
    def worse(p):
        return sum(1 for t in traces if res[t][p]['completes'] and
                   res[t][p]['min_pool_blocks'] > res[t]['micropython']['min_pool_blocks'])
    print(f'{"traces worse than micropython":29s}' + ''.join(f' | {worse(p):{W}d}' for p in policies))
    def runs_where_mp_runs(p):
        # every heap size from the policy's all-pass-from up passes, so if that is at most
        # micropython's minimum, the policy runs at every size micropython runs at (within the
        # range margin checked)
        return sum(1 for t in traces if res[t][p]['completes'] and res[t]['micropython']['completes'] and
                   res[t][p]['all_pass_from_bytes'] <= res[t]['micropython']['min_heap_bytes'])
    print(f'{"runs where micropython runs":29s}' + ''.join(
        f' | {(f"{runs_where_mp_runs(p)}/{len(traces)}" if p != "micropython" else "-"):>{W}s}'
        for p in policies))
print(f'# {len(traces)} traces, {time.time() - t0:.0f} s')
PY
