/* heaptrace-1 allocation traces (format: ../shared/reference/heaptrace.md).
 *
 * Two layers:
 *   - bh_trace_reader: a streaming reader over bh_lines (plain, gzip or stdin). It validates every
 *     line and yields one event at a time; memory grows with the number of object IDs (a few bytes
 *     each), never with the number of lines.
 *   - bh_trace: the whole trace parsed once into a compact array (8 bytes per event, 8 more per
 *     allocation for its site tokens), which the replay runs from as many times as a search needs.
 *
 * Object IDs are mapped to dense indices (the allocation's ordinal, 0-based), so every per-object
 * table downstream is a flat array. Site and pysite strings are interned to small integers
 * (1-based; 0 means "not given"), one table each. */
#ifndef BH_TOOLS_TRACE_H
#define BH_TOOLS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* ---- interned strings: name <-> small integer (1-based, 0 = none) */
typedef struct bh_intern {
    char **names;      /* names[i - 1] for id i */
    uint32_t *hashes;  /* hashes[i - 1], lens[i - 1]: compared before the bytes */
    uint32_t *lens;
    uint32_t count, cap;
    uint32_t *slots;   /* open addressing: id, 0 = empty */
    uint32_t nslots;   /* power of two */
} bh_intern;

void bh_intern_init(bh_intern *t);
/* The id of s[0..len) (added if new), or 0 when out of memory. */
uint32_t bh_intern_get(bh_intern *t, const char *s, size_t len);
/* The id of s[0..len), or 0 if it was never added. */
uint32_t bh_intern_find(const bh_intern *t, const char *s, size_t len);
/* The name of id, or "" for 0 or an unknown id. */
const char *bh_intern_name(const bh_intern *t, uint32_t id);
void bh_intern_free(bh_intern *t);

/* ---- events */
typedef enum bh_trace_kind {
    BH_EV_ALLOC = 0,   /* a ID BYTES [fin=1] [site=S] [pysite=P] */
    BH_EV_FREE = 1,    /* f ID */
    BH_EV_REALLOC = 2, /* r ID BYTES */
    BH_EV_DEAD = 3,    /* d ID */
    BH_EV_COLLECT = 4  /* c */
} bh_trace_kind;

typedef struct bh_trace_event {
    bh_trace_kind kind;
    uint64_t id;          /* as written (0 for c) */
    uint32_t obj;         /* dense index: the ordinal of the object's `a` event, 0-based */
    uint32_t bytes;       /* a, r */
    bool fin;             /* a: fin=1 */
    uint32_t site;        /* a: interned site= token, 0 if absent */
    uint32_t pysite;      /* a: interned pysite= token, 0 if absent */
    unsigned long line;   /* 1-based line in the file */
} bh_trace_event;

/* The largest BYTES a trace may give (a 32-bit target cannot ask for more). */
#define BH_TRACE_MAX_BYTES 0xFFFFFFFFu
/* The most objects a trace may allocate (the dense index has 28 bits in the compact form). */
#define BH_TRACE_MAX_OBJECTS ((uint32_t)1 << 28)

/* A run of consecutive IDs: ID first + k is dense index obj + k, for k < count. */
typedef struct bh_trace_idrun {
    uint64_t first;
    uint32_t obj;
    uint32_t count;
} bh_trace_idrun;

typedef struct bh_trace_reader {
    bh_lines lines;
    unsigned block_bytes, word_bytes;
    unsigned long first_event_line;  /* 0 until the first event */
    uint64_t events;                 /* events yielded so far */
    /* ID -> dense index (IDs are given in increasing order, so this is a sorted list of runs) */
    bh_trace_idrun *runs;
    size_t nruns, runs_cap;
    uint64_t last_id;
    /* per dense index: 2 bits, BH_OBJ_* (see trace.c) */
    uint8_t *state;
    uint32_t nobjects;
    size_t state_cap;
    bh_intern *sites, *pysites;      /* where tokens are interned (owned by the caller or by the
                                        reader, see own_interns) */
    bool own_interns;
    bool failed;                     /* a validation error was reported; no more events */
} bh_trace_reader;

/* Opens path ("-" for stdin) and reads the header (heaptrace 1, block, word). On any error prints
 * "FILE:LINE: what" (or "FILE: ...") on stderr and returns false; bh_trace_reader_close is still
 * safe to call. sites/pysites: tables to intern into, or NULL for tables owned by the reader. */
bool bh_trace_reader_open(bh_trace_reader *r, const char *path, bh_intern *sites, bh_intern *pysites);
/* 1: *ev holds the next event; 0: end of the trace; -1: malformed input or read error (reported
 * on stderr as FILE:LINE: ...). */
int bh_trace_reader_next(bh_trace_reader *r, bh_trace_event *ev);
void bh_trace_reader_close(bh_trace_reader *r);

/* ---- the compact in-memory trace */

/* One event in 8 bytes: kind in the top 3 bits of `word`, fin in bit 28, dense index below. */
typedef struct bh_trace_packed {
    uint32_t word;
    uint32_t bytes;
} bh_trace_packed;

#define BH_PACK_KIND_SHIFT 29
#define BH_PACK_FIN 0x10000000u
#define BH_PACK_OBJ_MASK 0x0FFFFFFFu

static inline bh_trace_kind bh_packed_kind(bh_trace_packed e) { return (bh_trace_kind)(e.word >> BH_PACK_KIND_SHIFT); }
static inline uint32_t bh_packed_obj(bh_trace_packed e) { return e.word & BH_PACK_OBJ_MASK; }
static inline bool bh_packed_fin(bh_trace_packed e) { return (e.word & BH_PACK_FIN) != 0; }

typedef struct bh_trace {
    char *name;                /* the path as given */
    unsigned block_bytes, word_bytes;
    bh_trace_packed *events;
    size_t nevents;
    uint32_t nobjects;         /* allocations (a lines) */
    uint32_t *site;            /* per object: interned site= (0 = none) */
    uint32_t *pysite;          /* per object: interned pysite= */
    bh_intern sites, pysites;
    /* line numbers: event i is on line first_event_line + i + (non-event lines before it). The
     * non-event lines after the first event (comments, blank lines) are recorded sparsely as
     * (event index, total skipped so far) whenever the total changes. */
    unsigned long first_event_line;
    uint32_t *skip_event;
    unsigned long *skip_total;
    size_t nskips, skips_cap;
    size_t counts[5];          /* events of each kind */
} bh_trace;

/* Reads and validates the whole trace. false (with FILE:LINE: on stderr) on malformed input. */
bool bh_trace_load(bh_trace *t, const char *path);
/* Is path a trace (its first line starts "heaptrace"; the reader checks the rest)? 1 yes, 0 no,
 * -1 if it cannot be read (said on stderr). "-" (standard input, which cannot be read twice) is taken
 * as a trace. Lets a command take a trace or a dump file. */
int bh_trace_sniff(const char *path);
void bh_trace_free(bh_trace *t);
/* The 1-based line of event i (0-based). */
unsigned long bh_trace_line(const bh_trace *t, size_t i);

/* Peak live data of the trace in blocks of block_bytes: the largest total, over the run, of the
 * blocks (and requested bytes) of objects allocated and not yet dead or freed. No non-moving heap
 * can run the trace with fewer pool blocks. at_event: the event (0-based) where it is first reached.
 * false if out of memory. */
typedef struct bh_trace_peak {
    uint64_t blocks, bytes;
    size_t at_event;
    uint64_t largest_request_blocks;
} bh_trace_peak;
bool bh_trace_peak_live(const bh_trace *t, size_t block_bytes, bh_trace_peak *peak);

/* Letter of an event kind: 'a', 'f', 'r', 'd', 'c'. */
char bh_trace_kind_letter(bh_trace_kind k);

#endif
