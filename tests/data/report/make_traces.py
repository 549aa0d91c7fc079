#!/usr/bin/env python3
"""Writes the constructed traces of tests/cli/report.sh (run from this directory; the outputs are
checked in, this script documents how they were made and what the right answers are).

Every trace: start-up (the runtime's globals), compiling the program (lexer, parse tree, bytecode;
no pysite= yet), an import compiled from source while the program runs (lib/helper.py), then a main
loop of ITER iterations. Each iteration allocates a float (12 bytes, 1 block) and a tuple (40 bytes,
3 blocks) that die in the same iteration, and appends to a rolling history of 50 entries (16 bytes
each; the oldest dies once it is full).
  steady.trace.gz        just that: the live floor is flat once the history is full
  leak.trace.gz          plus, every 10th iteration, a 24-byte dict (2 blocks) at <stdin>:20 that never dies
  startup_peak.trace.gz  the parse tree is 8 KB (512 blocks): the peak is while compiling
  nosites.trace.gz       leak.trace.gz without site= and pysite= fields
The expected answers printed at the end are computed here independently of blockheap."""
import gzip
import sys

ITER = 2000


def build(kind):
    ev = []          # (line text, is_event)
    nid = [0]

    def a(nbytes, site, py=None):
        nid[0] += 1
        t = "a %d %d site=%s" % (nid[0], nbytes, site)
        if py:
            t += " pysite=" + py
        ev.append(t)
        return nid[0]

    def d(i):
        ev.append("d %d" % i)

    ev.append("# start-up")
    a(64, "mp_init<main_<main")
    a(48, "mp_obj_dict_init<mp_init<main_")
    ev.append("# compiling the program")
    lexer = a(100, "mp_lexer_new<mp_lexer_new_from_fd<execute_from_lexer")
    tree = a(8192 if kind == "startup_peak" else 512, "parser_alloc<push_result_rule<mp_parse")
    a(256, "mp_emit_bc_end_pass<compile_scope<mp_compile_to_raw_code")
    d(lexer)
    d(tree)
    a(16, "mp_obj_new_fun_bc<mp_make_function_from_proto_fun<mp_compile")   # compile ends here
    compile_end = sum(1 for x in ev if not x.startswith("#"))
    ev.append("# the program runs: import helper (compiled from source)")
    a(32, "mp_map_rehash<mp_map_lookup<mp_obj_dict_store", "<stdin>:1")
    t2 = a(300, "parser_alloc<push_result_rule<mp_parse", "<stdin>:2")
    a(128, "mp_emit_bc_end_pass<compile_scope<mp_compile_to_raw_code", "<stdin>:2")
    d(t2)
    a(16, "mp_obj_new_fun_bc<mp_make_function_from_proto_fun<mp_compile", "<stdin>:2")
    a(200, "mp_obj_new_list<mp_execute_bytecode<fun_bc_call", "lib/helper.py:3")   # the last new file
    ev.append("# main loop")
    hist = []
    for it in range(ITER):
        f = a(12, "mp_obj_new_float<mp_binary_op<mp_execute_bytecode", "<stdin>:10")
        u = a(40, "mp_obj_new_tuple<mp_execute_bytecode<fun_bc_call", "<stdin>:11")
        h = a(16, "mp_obj_new_str_copy<mp_execute_bytecode<fun_bc_call", "lib/helper.py:7")
        hist.append(h)
        if len(hist) > 50:
            d(hist.pop(0))
        if kind in ("leak", "nosites") and it % 10 == 9:
            a(24, "mp_obj_new_dict<mp_execute_bytecode<fun_bc_call", "<stdin>:20")
        d(f)
        d(u)
    lines = ["heaptrace 1", "block 16", "word 4"] + ev
    if kind == "nosites":
        lines = [x.split(" site=")[0] for x in lines]
    return lines, compile_end


def expected(lines):
    size, live, blocks, peak, at = {}, set(), 0, 0, 0
    allocs = 0
    n = 0
    for x in lines[3:]:
        if x.startswith("#"):
            continue
        n += 1
        p = x.split()
        if p[0] == "a":
            allocs += 1
            size[p[1]] = int(p[2])
            live.add(p[1])
            blocks += (int(p[2]) + 15) // 16
        elif p[0] == "d":
            live.discard(p[1])
            blocks -= (size[p[1]] + 15) // 16
        if blocks > peak:
            peak, at = blocks, n
    return peak, at, n, allocs, blocks


for kind in ("steady", "leak", "startup_peak", "nosites"):
    lines, compile_end = build(kind)
    with gzip.GzipFile(kind + ".trace.gz", "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())
    peak, at, n, allocs, end = expected(lines)
    print("%-13s events %d allocations %d peak_blocks %d peak_event %d compile_end_event %d live_at_end %d"
          % (kind, n, allocs, peak, at, compile_end, end), file=sys.stderr)
