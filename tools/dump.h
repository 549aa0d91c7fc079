/* MicroPython heap dumps: the text of micropython.mem_info(1) (and pyb.info(1)) read into a model,
 * and each dump area reproduced in a real bh_heap so that every figure comes from the library.
 *
 * THE MODEL
 *   a file          -> a sequence of dumps, in file order (a log with several dumps is a time series)
 *   a dump          -> where it starts, the header numbers it printed (by MicroPython's names, each
 *                      with a `present` flag), its block size, one or more areas, consistency notes
 *   an area         -> one "GC memory layout; from ADDR:" section (a split heap prints several):
 *                      the pool's address and one state character per block.
 *
 * Block states, one char per block, as MicroPython prints them:
 *   '.'  free                     '='  tail (pre-v1.8.1 dumps print 't'; normalised to '=' here)
 *   'h'  head, no listed type     'm'  marked head (a dump taken during a collection)
 *   any other letter: the head of an object of that type: T tuple, L list, D dict, S str/bytes,
 *   A array/bytearray, F float, B bytecode function, M module (Q and q: qstr pools, in debug builds).
 *   An object is one head followed by its tails; a tail never follows a free block.
 *
 * WHAT THE READER ACCEPTS (the format rules are in shared/reference/micropython-gc.md)
 *   - the header of micropython.mem_info(): an optional "mem: total=, current=, peak=" line, a
 *     "stack: N out of M" (or "stack: N") line, "GC: total: T, used: U, free: F" (optionally
 *     ", max new split: S"), " No. of 1-blocks: ..., 2-blocks: ..., max blk sz: ..." (optionally
 *     ", max free sz: ..."; the leading space may be missing);
 *   - pyb.info(1)'s summary: "GC:", "  T total", "  U : F", "  1=N1 2=N2 m=MAX";
 *   - maps of every era: offsets of 5 hex digits (up to v1.19) or 8 (v1.20+), optionally "0x",
 *     counted from the pool (v1.8.1+) or the low 20 bits of the block's address with 't' tails
 *     (up to v1.8.0); "(N lines all free)" anywhere; a short last line; several sections;
 *   - a map without a header (it then starts at a "GC memory layout" line or at offset 0);
 *   - noise: anything else is ignored (REPL prompts and echo, "soft reboot", a trailing "None",
 *     program output), including text before each line (timestamps, log prefixes), and '#'
 *     comment lines (the last one before a dump becomes its title).
 * Block size: from the offsets' step per line (0x400: 16 bytes, 0x800: 32), else from the header's
 * total over the map's blocks, else assumed 16 (a note says so).
 *
 * ERRORS: a dump that is malformed or cut short (a header with no map, a map line of the wrong length
 * or with a character MicroPython never prints, offsets out of sequence, a map shorter or longer than
 * the header's total, ...) makes bh_dump_file_read fail with "FILE:LINE: what is wrong" on stderr.
 * Disagreements between a complete map and its header's counts are not errors: they are notes and
 * clear `consistent` (MicroPython before v1.8.2 miscounted an object ending in the last block).
 */
#ifndef BH_TOOLS_DUMP_H
#define BH_TOOLS_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockheap.h"

/* Blocks per map line, in every era. */
#define BH_DUMP_LINE_BLOCKS 64
/* Largest dump accepted (all areas together), so that a corrupt "(N lines all free)" cannot ask
 * for gigabytes: 16M blocks is a 256 MB heap of 16-byte blocks. */
#define BH_DUMP_MAX_BLOCKS ((size_t)1 << 24)

/* ---- the header numbers, by the names MicroPython prints them with */
typedef enum bh_dump_field {
    BH_DUMP_STACK,          /* "stack: N"                                                    */
    BH_DUMP_STACK_OUT_OF,   /* "... out of M"                                                */
    BH_DUMP_MEM_TOTAL,      /* "mem: total=N" (unix debug builds): bytes ever allocated      */
    BH_DUMP_MEM_CURRENT,    /* "current=N"                                                   */
    BH_DUMP_MEM_PEAK,       /* "peak=N"                                                      */
    BH_DUMP_TOTAL,          /* "GC: total: N" bytes; pyb.info: "N total"                     */
    BH_DUMP_USED,           /* "used: N" bytes; pyb.info: "N : ..."                          */
    BH_DUMP_FREE,           /* "free: N" bytes; pyb.info: "... : N"                          */
    BH_DUMP_MAX_NEW_SPLIT,  /* "max new split: N" bytes (split-heap-auto builds)             */
    BH_DUMP_ONE_BLOCKS,     /* "No. of 1-blocks: N" objects; pyb.info: "1=N"                 */
    BH_DUMP_TWO_BLOCKS,     /* "2-blocks: N" objects; pyb.info: "2=N"                        */
    BH_DUMP_MAX_BLK_SZ,     /* "max blk sz: N" blocks, the largest object; pyb.info: "m=N"   */
    BH_DUMP_MAX_FREE_SZ,    /* "max free sz: N" blocks, the longest free run (v1.8.2+)       */
    BH_DUMP_FIELD_COUNT
} bh_dump_field;

/* MicroPython's name of a field: "stack", "stack out of", "mem total", "mem current", "mem peak",
 * "total", "used", "free", "max new split", "No. of 1-blocks", "2-blocks", "max blk sz",
 * "max free sz". Also the keys of the "header" object in JSON output. */
const char *bh_dump_field_name(bh_dump_field f);

typedef struct bh_dump_number {
    bool present;
    uint64_t value;
} bh_dump_number;

typedef enum bh_dump_header_kind {
    BH_DUMP_HEADER_NONE = 0,  /* a map printed on its own (e.g. gc.dump_alloc_table()) */
    BH_DUMP_HEADER_MEM_INFO,  /* micropython.mem_info(1) */
    BH_DUMP_HEADER_PYB_INFO   /* pyb.info(1) / machine.info(1) on stmhal/stm32 */
} bh_dump_header_kind;

typedef enum bh_dump_block_size_source {
    BH_DUMP_BLOCK_SIZE_FROM_OFFSETS = 0, /* the step of the map's line offsets */
    BH_DUMP_BLOCK_SIZE_FROM_HEADER,      /* header total / map blocks (a map with one line) */
    BH_DUMP_BLOCK_SIZE_ASSUMED           /* neither: 16 bytes, as on every 32-bit port */
} bh_dump_block_size_source;

/* ---- one "GC memory layout" section */
typedef struct bh_dump_area {
    unsigned long line;       /* its "GC memory layout" line, or its first map line if none */
    unsigned long end_line;   /* its last map line or "(N lines all free)" */
    bool address_present;     /* false when the section had no "GC memory layout; from" line */
    uint64_t address;         /* the pool's address, block 0 */
    size_t blocks;            /* blocks in the map */
    char *states;             /* `blocks` state chars (see the top), NUL-terminated */
    unsigned offset_digits;   /* hex digits of its first offset: 5 (up to v1.19) or 8; 0 if the
                                 area printed only "(N lines all free)" */
    bool offsets_absolute;    /* offsets are the low 20 bits of addresses (up to v1.8.0) */
    bool t_tails;             /* tails were printed as 't' (up to v1.8.0) */
} bh_dump_area;

typedef struct bh_dump_note {
    unsigned long line;       /* the line it is about (0: the dump as a whole) */
    char *text;
} bh_dump_note;

/* ---- one dump */
typedef struct bh_dump {
    unsigned long line;       /* first line of the dump (its first header line or layout line) */
    unsigned long end_line;   /* last line that belongs to it */
    char *title;              /* the last '#' comment line before it, '#'s stripped; or NULL */
    bh_dump_header_kind header_kind;
    unsigned long header_line;            /* the "GC: total" / "GC:" line; 0 without a header */
    bh_dump_number header[BH_DUMP_FIELD_COUNT];
    size_t block_bytes;
    bh_dump_block_size_source block_bytes_from;
    bh_dump_area *areas;      /* in the order printed; at least one */
    size_t area_count;
    size_t blocks;            /* all areas' blocks */
    bh_dump_note *notes;      /* parse notes, then consistency notes (header vs map) */
    size_t note_count;
    bool consistent;          /* every number the header printed equals the library's figure
                                 for the map (true when there is no header) */
} bh_dump;

typedef struct bh_dump_file {
    char *name;               /* as given ("<stdin>" for "-") */
    bh_dump *dumps;
    size_t count;
    unsigned long error_line; /* after a failed read: where, and what (also printed on stderr) */
    char error[256];
} bh_dump_file;

/* Reads every dump in path (plain or gzip; "-" is stdin), checks each header against the library's
 * figures for its map (bh_dump_measure) and records the notes. Returns false on malformed or truncated
 * input, on a file without any dump, or when a map cannot be reproduced, after printing
 * "FILE:LINE: what is wrong" on stderr (bh_report_at); f is then empty but for error_line/error.
 * Release with bh_dump_file_free either way. O(size of the file + blocks). */
bool bh_dump_file_read(const char *path, bh_dump_file *f);
void bh_dump_file_free(bh_dump_file *f);

/* The map format of a dump, for people: "pre-v1.8.1 ('t' tails, absolute offsets)",
 * "v1.8.1-v1.19 (5-digit offsets)", "v1.20+ (8-digit offsets)", or "map only". */
const char *bh_dump_format_name(const bh_dump *d);

/* The state of one block: true for the head of an object ('h', 'm' or a type letter). */
bool bh_dump_is_head(char state);
/* Blocks of the object whose head is at `block` (the head and its tails); 0 if no head is there. */
size_t bh_dump_object_blocks(const bh_dump_area *a, size_t block);

/* ---- an area reproduced in a real bh_heap
 * An empty heap with policy micropython places allocations in address order, so allocating each
 * object (a head and its tails) and each free run (a placeholder) in address order, then freeing the
 * placeholders, leaves the heap exactly as the map shows it.
 * MicroPython's pools are always 4*A blocks (A = allocation-table bytes), and so are blockheap's. A map
 * whose block count is not a multiple of 4 (only a cut or edited dump has one) is reproduced in a pool
 * up to 3 blocks longer, the surplus held by one guard object past the map's end: it keeps the last
 * free run from growing, and bh_dump_heap_info takes it out of the counts. */
typedef struct bh_dump_heap {
    bh_heap heap;
    void *arena;              /* owned */
    size_t block_bytes;
    size_t blocks;            /* the map's blocks: heap blocks [0, blocks) */
    size_t pad_blocks;        /* 0..3 guard blocks after them */
    size_t largest_object_blocks; /* the map's largest object, as bh_size measured it */
    unsigned char *block0;    /* the address of block 0 */
} bh_dump_heap;

/* Builds dh from the area. False (and `why` says why) if the library refuses the block size or the
 * reproduction does not come out as the map (then bh_check or placement is wrong). O(blocks). */
bool bh_dump_heap_load(bh_dump_heap *dh, const bh_dump_area *a, size_t block_bytes, char *why,
                       size_t why_cap);
void bh_dump_heap_free(bh_dump_heap *dh);
/* The address of a block of the map, inside dh's pool. */
void *bh_dump_heap_block(const bh_dump_heap *dh, size_t block);
/* bh_info_get, less the guard object (pool_blocks is then the map's blocks). */
void bh_dump_heap_info(const bh_dump_heap *dh, bh_info *info);

/* ---- a dump's figures, all from the library: each area loaded, measured and checked */
#define BH_DUMP_RUN_BUCKETS 24 /* free runs of [2^i, 2^(i+1)) blocks; the last takes longer ones */
typedef struct bh_dump_figures {
    /* bh_info over all areas as MicroPython's gc_info adds them up: counts and bytes summed, the
     * largest object and the longest free run the maximum over areas. */
    bh_info info;
    size_t largest_free_bytes;                /* bh_largest_free: the largest allocation now */
    size_t run_hist[BH_DUMP_RUN_BUCKETS];     /* bh_free_runs, summed over areas */
    bool checked;                             /* bh_check passed for every area */
} bh_dump_figures;

/* False (and `why`) if an area cannot be loaded. O(blocks). */
bool bh_dump_measure(const bh_dump *d, bh_dump_figures *fig, char *why, size_t why_cap);

#endif
