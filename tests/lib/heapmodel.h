/* A reference model of a bh_heap and a driver that applies random operations to both and compares
 * them after every one. Shared by the seeded walk (tests/lib/test_walk.c, choices from a PRNG) and
 * the API fuzzer (fuzz/fuzz_api.c, choices read from the fuzzer's input), so that both explore the
 * same operations against the same checks.
 *
 * The model is plain C arrays: which objects exist, where, how many bytes were asked for, what
 * they hold. Each object holds HM_LINKS pointer-sized words (references to other objects, or
 * stale values) followed by a payload derived from its tag. The host's roots are the objects
 * marked `root`, plus a few "noise" words (a stale stack: addresses of freed objects, interior
 * pointers, pointers into the metadata) that must not keep anything alive unless they happen to
 * equal the address of a live object's head.
 *
 * After every operation (hm_check):
 *   - bh_check holds;
 *   - the heap's objects (bh_walk) are exactly the model's, with the model's block counts, and no
 *     two model objects overlap;
 *   - every object's contents are what the model wrote (across realloc, moves and collections);
 *   - bh_info's object and block counts, misuse count and collection count, and the failure
 *     count, are what the model expects.
 * At every collection (through the host's collect callback) the model computes, before the
 * collector runs, the objects reachable from the roots by the collector's own rule (a word marks
 * an object iff it equals the address of its head), reading the real memory of reachable objects,
 * stale words included. Afterwards the heap must hold exactly those: every reachable object
 * survives, and every object that is unreachable and not named by any stale word is reclaimed.
 * Finalisers must run exactly for the unreachable objects allocated with BH_FINALISER, once each,
 * with the heap locked and their contents intact.
 * On allocation: new memory is zeroed; a NULL result is either an injected failure or a real one
 * (no free run long enough remains, and the failure record says so); policy micropython places at
 * the lowest-addressed free run that fits (its documented contract).
 * On realloc: the model predicts shrink / grow in place / move / refuse, and added bytes are zero.
 * Misuse (bad pointers, lock and collection protocol errors) is counted and reported with the kind
 * the header documents, and changes nothing.
 *
 * The includer defines HM_FAIL(...) (printf-style; must not return) before including this file. */
#ifndef BH_HEAPMODEL_H
#define BH_HEAPMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockheap.h"

#ifndef HM_FAIL
#error "define HM_FAIL(...) before including heapmodel.h"
#endif

#ifdef BH_FAIL_INJECTION
/* src/alloc.c, test builds: allocation number bh_fail_at (counting from 1) fails; 0 disables. */
extern size_t bh_fail_at, bh_alloc_count;
#endif

enum {
    HM_MAX_OBJS = 384,   /* model slots */
    HM_LINKS = 2,        /* pointer words at the start of every object */
    HM_NOISE = 6,        /* stale words on the host's "stack" */
    HM_GRAVE = 16,       /* addresses of recently freed objects, for stale words */
    HM_MAX_PAYLOAD = 4096
};

/* Where choices come from: a PRNG (walk) or the fuzzer's bytes (then `exhausted` ends the run). */
typedef struct hm_source {
    const uint8_t *data;
    size_t len, pos;
    uint64_t rng;
    bool exhausted;
} hm_source;

static inline uint32_t hm_draw(hm_source *s, uint32_t n)
{
    if (n <= 1)
        return 0;
    if (s->data == NULL) {
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        return (uint32_t)((s->rng >> 11) % n);
    }
    uint32_t v = 0;
    for (uint32_t span = n - 1; span != 0; span >>= 8) {
        if (s->pos >= s->len) {
            s->exhausted = true;
            return 0;
        }
        v = (v << 8) | s->data[s->pos++];
    }
    return v % n;
}

/* How a heap is set up. */
typedef struct hm_params {
    size_t arena_bytes;
    size_t arena_offset;      /* bytes the arena starts past an aligned address (0..15) */
    size_t block_bytes;       /* 0: default */
    unsigned policy;
    size_t threshold_blocks;
    size_t mark_stack_entries; /* 0: the default stack inside bh_heap */
    bool without_finalisers;
    bool no_auto_collect;
} hm_params;

typedef struct hm_obj {
    uint8_t *p;
    size_t bytes;             /* as requested */
    size_t blocks;
    uint32_t tag;             /* payload byte i is (uint8_t)(tag * 31 + i) */
    uintptr_t words[HM_LINKS];/* what the first words hold: references, NULL, or stale values */
    bool live;                /* in the heap */
    bool owned;               /* the host still uses it (false after a free the locked heap deferred) */
    bool root;
    bool finaliser;           /* has the finaliser bit (allocated with BH_FINALISER, FTB present) */
    bool dies;                /* during a collection: predicted unreachable */
    bool finalised;           /* during a collection: its finaliser ran */
} hm_obj;

typedef struct hm_stats {
    size_t ops, allocs, alloc_failures, injected_failures, frees, reallocs, moves, collections,
        finalisers, misuses, deferred_frees, reclaimed;
} hm_stats;

typedef struct hm {
    bh_heap h;
    hm_params prm;
    bh_config cfg;
    void *arena_mem;
    uint8_t *arena;
    size_t *mark_stack;
    hm_obj objs[HM_MAX_OBJS];
    int *owner;               /* per pool block: the slot of the object covering it, or -1 */
    uint8_t *pattern;         /* pattern[k] = (uint8_t)k, for memcmp of payloads */
    uintptr_t noise[HM_NOISE];
    uintptr_t grave[HM_GRAVE];
    unsigned grave_next;
    uint32_t next_tag;
    int pinned;               /* slot held by the caller during a realloc (the heap pins it) */
    size_t expected_misuse, expected_failures, expected_collections;
    size_t misuse_seen[BH_MISUSE_COUNT];
    bh_misuse last_misuse;
    const void *last_misuse_ptr;
    bool collecting;          /* inside the collect callback */
    int collect_protocol;     /* explicit collection: 0 normal, else a protocol misuse to commit */
    hm_source src;
    hm_stats st;
} hm;

static inline size_t hm_min_bytes(void) { return HM_LINKS * sizeof(uintptr_t); }

static inline size_t hm_blocks_for(const hm *m, size_t bytes)
{
    return bytes / m->h.block_bytes + (bytes % m->h.block_bytes != 0);
}

/* adaptive's size class for a new object of a learned site: 64 blocks and more rounded up to a
 * multiple of g = 2^(floor(log2 n) - 2), except one block more than such a multiple, which stays
 * (src/place_segregated.c, seg_size_class) */
static inline size_t hm_size_class(size_t nblocks)
{
    if (nblocks < 64)
        return nblocks;
    unsigned lg = 0;
    while ((nblocks >> lg) > 1)
        lg++;
    size_t g = (size_t)1 << (lg - 2);
    return (nblocks - 1) % g == 0 ? nblocks : (nblocks + g - 1) / g * g;
}

static inline size_t hm_block_of(const hm *m, const void *p)
{
    return (size_t)((const uint8_t *)p - m->h.pool) / m->h.block_bytes;
}

/* ---- contents */

static void hm_fill(hm *m, hm_obj *o, size_t from)
{
    for (int l = 0; l < HM_LINKS; l++)
        memcpy(o->p + l * sizeof(uintptr_t), &o->words[l], sizeof(uintptr_t));
    if (from < hm_min_bytes())
        from = hm_min_bytes();
    if (o->bytes > from)
        memcpy(o->p + from, m->pattern + ((o->tag * 31u + from) & 0xFFu), o->bytes - from);
}

static void hm_check_contents(const hm *m, const hm_obj *o, int slot)
{
    for (int l = 0; l < HM_LINKS; l++) {
        uintptr_t got;
        memcpy(&got, o->p + l * sizeof(uintptr_t), sizeof got);
        if (got != o->words[l])
            HM_FAIL("op %zu: word %d of object %d (tag %u) changed", m->st.ops, l, slot, o->tag);
    }
    size_t from = hm_min_bytes();
    if (o->bytes > from &&
        memcmp(o->p + from, m->pattern + ((o->tag * 31u + from) & 0xFFu), o->bytes - from) != 0)
        HM_FAIL("op %zu: payload of object %d (tag %u, %zu bytes) changed", m->st.ops, slot, o->tag,
                o->bytes);
}

static void hm_set_word(hm_obj *o, int l, uintptr_t v)
{
    o->words[l] = v;
    memcpy(o->p + l * sizeof(uintptr_t), &v, sizeof v);
}

/* ---- the owner map: rebuilt from the model; fails on overlap or an object outside the pool */

static void hm_rebuild_owner(hm *m)
{
    for (size_t b = 0; b < m->h.pool_blocks; b++)
        m->owner[b] = -1;
    for (int i = 0; i < HM_MAX_OBJS; i++) {
        const hm_obj *o = &m->objs[i];
        if (!o->live)
            continue;
        if (o->p < m->h.pool || (size_t)(o->p - m->h.pool) % m->h.block_bytes != 0)
            HM_FAIL("op %zu: object %d at %p is not a block of the pool", m->st.ops, i, (void *)o->p);
        size_t head = hm_block_of(m, o->p);
        if (head + o->blocks > m->h.pool_blocks)
            HM_FAIL("op %zu: object %d runs past the pool", m->st.ops, i);
        for (size_t b = head; b < head + o->blocks; b++) {
            if (m->owner[b] != -1)
                HM_FAIL("op %zu: objects %d and %d overlap at block %zu", m->st.ops, m->owner[b], i, b);
            m->owner[b] = i;
        }
    }
}

/* The live object whose head is at address w, or -1 (the collector's rule for a word). */
static int hm_head_at(const hm *m, uintptr_t w)
{
    uintptr_t base = (uintptr_t)m->h.pool;
    if (w < base || w - base >= (uintptr_t)m->h.pool_blocks * m->h.block_bytes ||
        (w - base) % m->h.block_bytes != 0)
        return -1;
    int s = m->owner[(w - base) / m->h.block_bytes];
    return s >= 0 && (uintptr_t)m->objs[s].p == w ? s : -1;
}

/* ---- the heap's view against the model */

struct hm_walk_ctx {
    hm *m;
    size_t objects, used_blocks, next_block;
};

static bool hm_walk_one(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    struct hm_walk_ctx *wc = ctx;
    hm *m = wc->m;
    if (block != wc->next_block || nblocks == 0)
        HM_FAIL("op %zu: bh_walk skipped or repeated blocks at %zu", m->st.ops, block);
    wc->next_block = block + nblocks;
    if (is_free) {
        for (size_t b = block; b < block + nblocks; b++)
            if (m->owner[b] != -1)
                HM_FAIL("op %zu: block %zu of object %d is free in the heap", m->st.ops, b, m->owner[b]);
        return true;
    }
    int s = m->owner[block];
    if (s < 0 || m->objs[s].p != obj)
        HM_FAIL("op %zu: the heap has an object at block %zu (%zu blocks) the model does not know",
                m->st.ops, block, nblocks);
    if (m->objs[s].blocks != nblocks)
        HM_FAIL("op %zu: object %d has %zu blocks in the heap, %zu in the model", m->st.ops, s, nblocks,
                m->objs[s].blocks);
    wc->objects++;
    wc->used_blocks += nblocks;
    return true;
}

static void hm_check(hm *m)
{
    if (!bh_check(&m->h))
        HM_FAIL("op %zu: bh_check failed", m->st.ops);
    hm_rebuild_owner(m);
    struct hm_walk_ctx wc = {m, 0, 0, 0};
    bh_walk(&m->h, hm_walk_one, &wc);
    if (wc.next_block != m->h.pool_blocks)
        HM_FAIL("op %zu: bh_walk ended at block %zu of %zu", m->st.ops, wc.next_block, m->h.pool_blocks);
    size_t live = 0, used = 0;
    for (int i = 0; i < HM_MAX_OBJS; i++)
        if (m->objs[i].live) {
            live++;
            used += m->objs[i].blocks;
            hm_check_contents(m, &m->objs[i], i);
        }
    if (live != wc.objects || used != wc.used_blocks)
        HM_FAIL("op %zu: model has %zu objects in %zu blocks, heap %zu in %zu", m->st.ops, live, used,
                wc.objects, wc.used_blocks);
    bh_info info;
    bh_info_get(&m->h, &info);
    if (info.objects != live || info.used_blocks != used || info.free_blocks != m->h.pool_blocks - used)
        HM_FAIL("op %zu: bh_info counts %zu objects, %zu used blocks; model %zu, %zu", m->st.ops,
                info.objects, info.used_blocks, live, used);
    if (info.misuse != m->expected_misuse)
        HM_FAIL("op %zu: %zu misuses counted, %zu expected", m->st.ops, info.misuse, m->expected_misuse);
    if (info.collections != m->expected_collections)
        HM_FAIL("op %zu: %zu collections counted, %zu made", m->st.ops, info.collections,
                m->expected_collections);
    bh_failure f;
    bh_last_failure(&m->h, &f);
    if (f.failures != m->expected_failures)
        HM_FAIL("op %zu: %zu failures recorded, %zu expected", m->st.ops, f.failures, m->expected_failures);
    if (bh_is_locked(&m->h))
        HM_FAIL("op %zu: the heap is still locked", m->st.ops);
}

/* ---- collection: predict, collect, compare */

static void hm_predict_survivors(hm *m)
{
    hm_rebuild_owner(m);
    int stack[HM_MAX_OBJS];
    bool reached[HM_MAX_OBJS];
    int sp = 0;
    memset(reached, 0, sizeof reached);
#define HM_REACH(slot)                                                                             \
    do {                                                                                           \
        int s_ = (slot);                                                                           \
        if (s_ >= 0 && !reached[s_]) {                                                             \
            reached[s_] = true;                                                                    \
            stack[sp++] = s_;                                                                      \
        }                                                                                          \
    } while (0)
    for (int i = 0; i < HM_MAX_OBJS; i++)
        if (m->objs[i].live && m->objs[i].root)
            HM_REACH(i);
    for (int k = 0; k < HM_NOISE; k++)
        HM_REACH(hm_head_at(m, m->noise[k]));
    if (m->pinned >= 0)
        HM_REACH(m->pinned);
    while (sp > 0) {
        const hm_obj *o = &m->objs[stack[--sp]];
        size_t n = o->blocks * m->h.block_bytes;
        for (size_t off = 0; off + sizeof(uintptr_t) <= n; off += sizeof(uintptr_t)) {
            uintptr_t w;
            memcpy(&w, o->p + off, sizeof w);
            HM_REACH(hm_head_at(m, w));
        }
    }
#undef HM_REACH
    for (int i = 0; i < HM_MAX_OBJS; i++) {
        m->objs[i].dies = m->objs[i].live && !reached[i];
        m->objs[i].finalised = false;
    }
}

static void hm_finalise_cb(void *ctx, bh_heap *h, void *obj)
{
    hm *m = ctx;
    if (!m->collecting)
        HM_FAIL("op %zu: a finaliser ran outside a collection", m->st.ops);
    int s = hm_head_at(m, (uintptr_t)obj);
    if (s < 0)
        HM_FAIL("op %zu: finaliser called for %p, not an object of the model", m->st.ops, obj);
    hm_obj *o = &m->objs[s];
    if (!o->dies || !o->finaliser || o->finalised)
        HM_FAIL("op %zu: finaliser for object %d (dies %d, finaliser %d, already %d)", m->st.ops, s, o->dies,
                o->finaliser, o->finalised);
    o->finalised = true;
    m->st.finalisers++;
    if (!bh_is_locked(h))
        HM_FAIL("op %zu: heap not locked in a finaliser", m->st.ops);
    hm_check_contents(m, o, s);
    /* What a finaliser may try: the header documents allocation as refused (misuse, failure
     * recorded as locked) and frees as ignored. */
    switch (hm_draw(&m->src, 4)) {
    case 0:
        if (bh_alloc(h, 1 + hm_draw(&m->src, 64), 0) != NULL)
            HM_FAIL("op %zu: allocation inside a finaliser succeeded", m->st.ops);
        m->expected_misuse++;
        m->expected_failures++;
        break;
    case 1:
        bh_free(h, obj); /* ignored: the sweep frees it */
        break;
    case 2:
        if (bh_size(h, obj) != o->blocks * h->block_bytes)
            HM_FAIL("op %zu: bh_size in a finaliser", m->st.ops);
        break;
    default:
        break;
    }
}

static void hm_collect_cb(void *ctx, bh_heap *h)
{
    hm *m = ctx;
    if (m->collecting)
        HM_FAIL("op %zu: the collect callback re-entered", m->st.ops);
    hm_predict_survivors(m);
    m->collecting = true;
    const void *roots[HM_MAX_OBJS + HM_NOISE];
    size_t n = 0;
    for (int i = 0; i < HM_MAX_OBJS; i++)
        if (m->objs[i].live && m->objs[i].root)
            roots[n++] = m->objs[i].p;
    for (int k = 0; k < HM_NOISE; k++)
        roots[n++] = (const void *)m->noise[k];
    int protocol = m->collect_protocol;
    m->collect_protocol = 0;
    if (protocol == 1) { /* roots and end before the start: ignored */
        bh_collect_roots(h, roots, n);
        bh_collect_end(h);
        m->expected_misuse += 2;
    }
    bh_collect_start(h);
    if (protocol == 2) { /* started twice: the second start is ignored */
        bh_collect_start(h);
        m->expected_misuse++;
    }
    if (!bh_is_locked(h))
        HM_FAIL("op %zu: heap not locked during a collection", m->st.ops);
    /* the roots in two calls, in a drawn order: the result must not depend on either */
    size_t split = hm_draw(&m->src, (uint32_t)n + 1);
    bh_collect_roots(h, roots + split, n - split);
    bh_collect_roots(h, roots, split);
    bh_collect_end(h);
    if (protocol == 3) { /* ended twice: the second end is ignored */
        bh_collect_end(h);
        m->expected_misuse++;
    }
    m->collecting = false;
    m->expected_collections++;
    m->st.collections++;
    bool finalisers_run = !m->prm.without_finalisers;
    for (int i = 0; i < HM_MAX_OBJS; i++) {
        hm_obj *o = &m->objs[i];
        if (!o->live)
            continue;
        if (finalisers_run && o->dies && o->finaliser && !o->finalised)
            HM_FAIL("op %zu: unreachable object %d's finaliser did not run", m->st.ops, i);
        if (o->dies) {
            o->live = false;
            o->root = false;
            m->st.reclaimed++;
        }
    }
    hm_rebuild_owner(m);
    /* the heap must now hold exactly the survivors: hm_check after the operation compares all of
     * it; the object count here catches it even inside an allocation */
    bh_info info;
    bh_info_get(h, &info);
    size_t live = 0;
    for (int i = 0; i < HM_MAX_OBJS; i++)
        live += m->objs[i].live;
    if (info.objects != live)
        HM_FAIL("op %zu: after the collection the heap has %zu objects, the model predicted %zu", m->st.ops,
                info.objects, live);
}

static void hm_misuse_cb(void *ctx, bh_heap *h, bh_misuse what, const void *ptr)
{
    hm *m = ctx;
    (void)h;
    m->last_misuse = what;
    m->last_misuse_ptr = ptr;
    m->misuse_seen[what]++;
}

/* ---- set-up and tear-down */

/* false if the library refuses the parameters (the model then has nothing to run). */
static bool hm_init(hm *m, const hm_params *prm, hm_source src)
{
    memset(m, 0, sizeof *m);
    m->prm = *prm;
    m->src = src;
    m->pinned = -1;
    m->next_tag = 1;
    m->arena_mem = malloc(prm->arena_bytes + 128);
    m->pattern = malloc(256 + HM_MAX_PAYLOAD + 64);
    if (!m->arena_mem || !m->pattern)
        HM_FAIL("out of memory");
    for (size_t k = 0; k < 256 + HM_MAX_PAYLOAD + 64; k++)
        m->pattern[k] = (uint8_t)k;
    /* aligned to the largest block the walks use, then offset: the same heap on every run */
    uintptr_t aligned = ((uintptr_t)m->arena_mem + 63) & ~(uintptr_t)63;
    m->arena = (uint8_t *)aligned + prm->arena_offset % 16;
    memset(m->arena, 0xA5, prm->arena_bytes); /* garbage: init must clear what it uses */
    m->cfg.block_bytes = prm->block_bytes;
    m->cfg.policy = (bh_policy)prm->policy;
    m->cfg.threshold_blocks = prm->threshold_blocks;
    m->cfg.without_finalisers = prm->without_finalisers;
    m->cfg.no_auto_collect = prm->no_auto_collect;
    if (prm->mark_stack_entries) {
        m->mark_stack = malloc(prm->mark_stack_entries * sizeof(size_t));
        if (!m->mark_stack)
            HM_FAIL("out of memory");
        m->cfg.mark_stack = m->mark_stack;
        m->cfg.mark_stack_entries = prm->mark_stack_entries;
    }
    m->cfg.collect = hm_collect_cb;
    m->cfg.finalise = hm_finalise_cb;
    m->cfg.misuse = hm_misuse_cb;
    m->cfg.ctx = m;
#ifdef BH_FAIL_INJECTION
    bh_fail_at = 0;
#endif
    if (!bh_init(&m->h, m->arena, prm->arena_bytes, &m->cfg)) {
        free(m->mark_stack);
        free(m->arena_mem);
        free(m->pattern);
        m->arena_mem = NULL;
        return false;
    }
    /* the documented pool size, for a start aligned to the block (bh_pool_blocks_for's premise) */
    if ((uintptr_t)m->arena % m->h.block_bytes == 0 &&
        m->h.pool_blocks != bh_pool_blocks_for(prm->arena_bytes, prm->block_bytes, !prm->without_finalisers))
        HM_FAIL("bh_init's pool (%zu blocks) differs from bh_pool_blocks_for", m->h.pool_blocks);
    m->owner = malloc(m->h.pool_blocks * sizeof(int));
    if (!m->owner)
        HM_FAIL("out of memory");
    hm_check(m);
    return true;
}

/* Drops every root and stale word: one collection must then reclaim everything, running every
 * remaining finaliser. Then releases the model's memory. */
static void hm_finish(hm *m)
{
    for (int i = 0; i < HM_MAX_OBJS; i++)
        m->objs[i].root = false;
    for (int k = 0; k < HM_NOISE; k++)
        m->noise[k] = 0;
    bh_collect(&m->h);
    hm_check(m);
    bh_info info;
    bh_info_get(&m->h, &info);
    if (info.objects != 0 || info.free_blocks != m->h.pool_blocks || info.free_runs != 1)
        HM_FAIL("without roots a collection left %zu objects, %zu free runs", info.objects, info.free_runs);
#ifdef BH_FAIL_INJECTION
    bh_fail_at = 0;
#endif
    free(m->owner);
    free(m->mark_stack);
    free(m->arena_mem);
    free(m->pattern);
}

/* ---- choosing */

static int hm_pick(hm *m, bool want_live)
{
    uint32_t start = hm_draw(&m->src, HM_MAX_OBJS);
    for (uint32_t k = 0; k < HM_MAX_OBJS; k++) {
        int i = (int)((start + k) % HM_MAX_OBJS);
        bool usable = want_live ? m->objs[i].live && m->objs[i].owned : !m->objs[i].live;
        if (usable)
            return i;
    }
    return -1;
}

static size_t hm_random_size(hm *m)
{
    uint32_t r = hm_draw(&m->src, 100);
    size_t min = hm_min_bytes();
    size_t pool_bytes = m->h.pool_blocks * m->h.block_bytes;
    size_t max = pool_bytes < HM_MAX_PAYLOAD ? pool_bytes : HM_MAX_PAYLOAD;
    if (r < 55)
        return min + hm_draw(&m->src, 40);
    if (r < 85)
        return min + hm_draw(&m->src, 300);
    return min + hm_draw(&m->src, (uint32_t)(max > min ? max - min : 1));
}

/* Lowest-addressed run of n free blocks in the model, or (size_t)-1. */
static size_t hm_lowest_fit(const hm *m, size_t n)
{
    size_t run = 0;
    for (size_t b = 0; b < m->h.pool_blocks; b++) {
        run = m->owner[b] == -1 ? run + 1 : 0;
        if (run >= n)
            return b + 1 - n;
    }
    return (size_t)-1;
}

static size_t hm_largest_run(const hm *m)
{
    size_t run = 0, best = 0;
    for (size_t b = 0; b < m->h.pool_blocks; b++) {
        run = m->owner[b] == -1 ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return best;
}

/* A NULL from an allocation of nbytes (not locked, nbytes > 0): injected, or the heap really has
 * no room, and the failure record says why. Call right after the failing call. */
static void hm_account_failure(hm *m, size_t nbytes, const char *what)
{
    m->expected_failures++;
    m->st.alloc_failures++;
#ifdef BH_FAIL_INJECTION
    if (bh_fail_at != 0 && bh_alloc_count == bh_fail_at) {
        bh_fail_at = 0;
        m->st.injected_failures++;
        return;
    }
#endif
    hm_rebuild_owner(m);
    size_t nblocks = hm_blocks_for(m, nbytes);
    size_t largest = hm_largest_run(m);
    if (largest >= nblocks)
        HM_FAIL("op %zu: %s of %zu bytes (%zu blocks) failed with a free run of %zu blocks", m->st.ops, what,
                nbytes, nblocks, largest);
    bh_failure f;
    bh_last_failure(&m->h, &f);
    bh_info info;
    bh_info_get(&m->h, &info);
    bh_verdict want = bh_verdict_for(nblocks, info.free_blocks, largest);
    bool may_collect = !m->prm.no_auto_collect;
    if (f.request_bytes != nbytes || f.request_blocks != nblocks || f.verdict != want ||
        f.free_blocks != info.free_blocks || f.largest_free_blocks != largest || f.collected != may_collect)
        HM_FAIL("op %zu: failure record of %s: %zu bytes, %zu blocks, verdict %s (want %s), free %zu (%zu), "
                "largest %zu (%zu), collected %d (want %d)",
                m->st.ops, what, f.request_bytes, f.request_blocks, bh_verdict_name(f.verdict),
                bh_verdict_name(want), f.free_blocks, info.free_blocks, f.largest_free_blocks, largest,
                f.collected, may_collect);
}

/* Stale words: a holder of a reference to the object at old keeps it (the host forgot it) with
 * probability 1/keep_one_in, else gets `now` (NULL after a free, the new address after a move). */
static void hm_update_references(hm *m, uintptr_t old, uintptr_t now, uint32_t keep_one_in)
{
    for (int j = 0; j < HM_MAX_OBJS; j++)
        if (m->objs[j].live)
            for (int l = 0; l < HM_LINKS; l++)
                if (m->objs[j].words[l] == old && hm_draw(&m->src, keep_one_in) != 0)
                    hm_set_word(&m->objs[j], l, now);
}

static void hm_bury(hm *m, uintptr_t p)
{
    m->grave[m->grave_next++ % HM_GRAVE] = p;
}

/* ---- the operations */

static void hm_op_alloc(hm *m)
{
    int i = hm_pick(m, false);
    if (i < 0)
        return;
    size_t bytes = hm_random_size(m);
    uint32_t r = hm_draw(&m->src, 64);
    if (r == 0)
        bytes = m->h.pool_blocks * m->h.block_bytes + 1 + hm_draw(&m->src, 1000); /* never fits */
    else if (r == 1)
        bytes = SIZE_MAX - hm_draw(&m->src, 1000); /* block count must not overflow */
    unsigned flags = 0;
    if (hm_draw(&m->src, 6) == 0)
        flags |= BH_FINALISER;
    if (hm_draw(&m->src, 6) == 0)
        flags |= BH_LONG_LIVED;
    uintptr_t site = hm_draw(&m->src, 4) == 0 ? 0 : 1 + hm_draw(&m->src, 12);
    uint8_t *p;
    if (hm_draw(&m->src, 16) == 0) {
        flags = 0;
        site = 0;
        p = bh_realloc(&m->h, NULL, bytes, true); /* documented as bh_alloc(h, nbytes, 0) */
    } else {
        p = bh_alloc_site(&m->h, bytes, flags, site);
    }
    m->st.allocs++;
    if (p == NULL) {
        hm_account_failure(m, bytes, "allocation");
        return;
    }
    if (bytes > m->h.pool_blocks * m->h.block_bytes)
        HM_FAIL("op %zu: an allocation of %zu bytes larger than the pool succeeded", m->st.ops, bytes);
    hm_rebuild_owner(m); /* the state the allocation searched: after any collection it made */
    size_t nblocks = hm_blocks_for(m, bytes);
    /* adaptive may give a large object of a site its size class (the site's learned state is the
     * heap's: either size is right, nothing else) */
    if ((m->prm.policy == BH_POLICY_ADAPTIVE || m->prm.policy == BH_POLICY_ADAPTIVE_O1) && site != 0 && hm_size_class(nblocks) != nblocks &&
        bh_size(&m->h, p) == hm_size_class(nblocks) * m->h.block_bytes)
        nblocks = hm_size_class(nblocks);
    size_t block = hm_block_of(m, p);
    if (p < m->h.pool || (size_t)(p - m->h.pool) % m->h.block_bytes != 0 || block + nblocks > m->h.pool_blocks)
        HM_FAIL("op %zu: allocation returned %p, not a block of the pool", m->st.ops, (void *)p);
    for (size_t b = block; b < block + nblocks; b++)
        if (m->owner[b] != -1)
            HM_FAIL("op %zu: new object at block %zu overlaps object %d", m->st.ops, block, m->owner[b]);
    if (m->prm.policy == BH_POLICY_MICROPYTHON && hm_lowest_fit(m, nblocks) != block)
        HM_FAIL("op %zu: policy micropython placed %zu blocks at %zu, the lowest fit is %zu", m->st.ops,
                nblocks, block, hm_lowest_fit(m, nblocks));
    if (bh_size(&m->h, p) != nblocks * m->h.block_bytes)
        HM_FAIL("op %zu: bh_size of a new object", m->st.ops);
    for (size_t k = 0; k < nblocks * m->h.block_bytes; k++)
        if (p[k] != 0)
            HM_FAIL("op %zu: byte %zu of a new object is not zero", m->st.ops, k);
    hm_obj *o = &m->objs[i];
    memset(o, 0, sizeof *o);
    o->p = p;
    o->bytes = bytes;
    o->blocks = nblocks;
    o->tag = m->next_tag++;
    o->live = o->owned = true;
    o->finaliser = (flags & BH_FINALISER) && !m->prm.without_finalisers;
    hm_fill(m, o, 0);
    /* reachable now: a root, or linked from another object (which may itself be unreachable: then
     * both die at the next collection, as in a real host that dropped the holder) */
    int holder = hm_pick(m, true);
    if (holder >= 0 && holder != i && hm_draw(&m->src, 3) != 0)
        hm_set_word(&m->objs[holder], (int)hm_draw(&m->src, HM_LINKS), (uintptr_t)p);
    else
        o->root = true;
}

static void hm_op_free(hm *m)
{
    int i = hm_pick(m, true);
    if (i < 0)
        return;
    hm_obj *o = &m->objs[i];
    bh_free(&m->h, o->p);
    m->st.frees++;
    o->live = false;
    o->root = false;
    hm_update_references(m, (uintptr_t)o->p, 0, 4);
    hm_bury(m, (uintptr_t)o->p);
}

static void hm_op_realloc(hm *m)
{
    int i = hm_pick(m, true);
    if (i < 0)
        return;
    hm_obj *o = &m->objs[i];
    size_t bytes = hm_random_size(m);
    bool allow_move = hm_draw(&m->src, 4) != 0;
    if (hm_draw(&m->src, 32) == 0) { /* nbytes 0: documented as bh_free */
        if (bh_realloc(&m->h, o->p, 0, allow_move) != NULL)
            HM_FAIL("op %zu: bh_realloc(p, 0) returned non-NULL", m->st.ops);
        o->live = o->root = false;
        hm_update_references(m, (uintptr_t)o->p, 0, 4);
        hm_bury(m, (uintptr_t)o->p);
        m->st.frees++;
        return;
    }
    hm_rebuild_owner(m);
    size_t old_blocks = o->blocks, new_blocks = hm_blocks_for(m, bytes);
    size_t head = hm_block_of(m, o->p);
    bool in_place = new_blocks <= old_blocks;
    if (!in_place && head + new_blocks <= m->h.pool_blocks) {
        in_place = true;
        for (size_t b = head + old_blocks; b < head + new_blocks; b++)
            if (m->owner[b] != -1)
                in_place = false;
    }
    m->pinned = i; /* the heap keeps p alive across a collection its move makes */
    uint8_t *p = bh_realloc(&m->h, o->p, bytes, allow_move);
    m->pinned = -1;
    m->st.reallocs++;
    if (!o->live)
        HM_FAIL("op %zu: the object being reallocated was collected", m->st.ops);
    if (p == NULL) {
        if (in_place)
            HM_FAIL("op %zu: realloc %zu -> %zu blocks could be done in place but failed", m->st.ops, old_blocks,
                    new_blocks);
        if (!allow_move) {
            bh_failure f;
            bh_last_failure(&m->h, &f);
            if (f.verdict != BH_VERDICT_IMMOVABLE)
                HM_FAIL("op %zu: realloc without move: verdict %s", m->st.ops, bh_verdict_name(f.verdict));
            m->expected_failures++;
            m->st.alloc_failures++;
        } else {
            hm_account_failure(m, bytes, "moving realloc");
        }
        return; /* unchanged: hm_check verifies */
    }
    if (in_place ? p != o->p : p == o->p)
        HM_FAIL("op %zu: realloc %zu -> %zu blocks: predicted %s, got %s", m->st.ops, old_blocks, new_blocks,
                in_place ? "in place" : "a move", p == o->p ? "in place" : "a move");
    size_t kept = bytes < o->bytes ? bytes : o->bytes;
    size_t from = hm_min_bytes();
    if (kept > from && memcmp(p + from, m->pattern + ((o->tag * 31u + from) & 0xFFu), kept - from) != 0)
        HM_FAIL("op %zu: realloc lost the contents of object %d", m->st.ops, i);
    for (size_t k = old_blocks * m->h.block_bytes; k < new_blocks * m->h.block_bytes; k++)
        if (p[k] != 0)
            HM_FAIL("op %zu: byte %zu added by realloc is not zero", m->st.ops, k);
    if (bh_size(&m->h, p) != new_blocks * m->h.block_bytes)
        HM_FAIL("op %zu: bh_size after realloc", m->st.ops);
    uintptr_t old = (uintptr_t)o->p;
    o->p = p;
    o->bytes = bytes;
    o->blocks = new_blocks;
    hm_fill(m, o, kept);
    if (p != (uint8_t *)old) {
        m->st.moves++;
        hm_update_references(m, old, (uintptr_t)p, 8);
        hm_bury(m, old);
    }
}

static void hm_op_relink(hm *m)
{
    int i = hm_pick(m, true);
    if (i < 0)
        return;
    switch (hm_draw(&m->src, 4)) {
    case 0:
        m->objs[i].root = false;
        break;
    case 1:
        m->objs[i].root = true;
        break;
    default: {
        int j = hm_pick(m, true);
        uintptr_t v = j >= 0 && hm_draw(&m->src, 5) != 0 ? (uintptr_t)m->objs[j].p : 0;
        hm_set_word(&m->objs[i], (int)hm_draw(&m->src, HM_LINKS), v);
        break;
    }
    }
}

static void hm_op_noise(hm *m)
{
    int k = (int)hm_draw(&m->src, HM_NOISE);
    int i = hm_pick(m, true);
    uintptr_t v = 0;
    switch (hm_draw(&m->src, 6)) {
    case 0:
        v = m->grave[hm_draw(&m->src, HM_GRAVE)]; /* a freed object's address: stale */
        break;
    case 1:
        if (i >= 0) /* an interior pointer: keeps nothing alive */
            v = (uintptr_t)m->objs[i].p + 1 + hm_draw(&m->src, (uint32_t)(m->objs[i].blocks * m->h.block_bytes - 1));
        break;
    case 2:
        v = (uintptr_t)m->h.atb + hm_draw(&m->src, (uint32_t)(m->h.pool - m->h.atb)); /* the metadata */
        break;
    case 3:
        v = (uintptr_t)m->h.pool + m->h.block_bytes * hm_draw(&m->src, (uint32_t)m->h.pool_blocks);
        break;
    case 4:
        if (i >= 0) /* a head: a real reference from the stack */
            v = (uintptr_t)m->objs[i].p;
        break;
    default:
        break;
    }
    m->noise[k] = v;
}

/* A pointer the heap must refuse, with the misuse kind the header documents; 0 if none was found. */
static const void *hm_bad_pointer(hm *m, bh_misuse *kind)
{
    static const int foreign_object = 0;
    hm_rebuild_owner(m);
    int i = hm_pick(m, true);
    switch (hm_draw(&m->src, 6)) {
    case 0:
        *kind = BH_MISUSE_FOREIGN;
        return &foreign_object;
    case 1: /* the allocation table, the gap byte or the finaliser table */
        *kind = BH_MISUSE_FOREIGN;
        return m->h.atb + hm_draw(&m->src, (uint32_t)(m->h.pool - m->h.atb));
    case 2:
        *kind = BH_MISUSE_FOREIGN;
        return m->h.pool + m->h.pool_blocks * m->h.block_bytes; /* one past the pool */
    case 3: /* inside an object: not block aligned, or a tail */
        if (i < 0)
            return NULL;
        *kind = BH_MISUSE_INTERIOR;
        return m->objs[i].p + 1 + hm_draw(&m->src, (uint32_t)(m->objs[i].blocks * m->h.block_bytes - 1));
    default: { /* a free block: double free, use after free */
        size_t start = hm_draw(&m->src, (uint32_t)m->h.pool_blocks);
        for (size_t k = 0; k < m->h.pool_blocks; k++) {
            size_t b = (start + k) % m->h.pool_blocks;
            if (m->owner[b] == -1) {
                *kind = BH_MISUSE_FREED;
                return m->h.pool + b * m->h.block_bytes;
            }
        }
        return NULL;
    }
    }
}

static void hm_op_misuse(hm *m)
{
    bh_misuse kind = BH_MISUSE_COUNT;
    const void *q = NULL;
    uint32_t what = hm_draw(&m->src, 7);
    if (what < 4) {
        q = hm_bad_pointer(m, &kind);
        if (q == NULL)
            return;
        m->last_misuse = BH_MISUSE_COUNT;
        switch (what) {
        case 0:
            bh_free(&m->h, (void *)(uintptr_t)q);
            break;
        case 1:
            if (bh_realloc(&m->h, (void *)(uintptr_t)q, 1 + hm_draw(&m->src, 200), hm_draw(&m->src, 2)) != NULL)
                HM_FAIL("op %zu: realloc of a bad pointer returned non-NULL", m->st.ops);
            break;
        case 2:
            if (bh_size(&m->h, q) != 0)
                HM_FAIL("op %zu: bh_size of a bad pointer is not 0", m->st.ops);
            break;
        default:
            if (bh_realloc(&m->h, (void *)(uintptr_t)q, 0, true) != NULL) /* = bh_free */
                HM_FAIL("op %zu: realloc(bad, 0) returned non-NULL", m->st.ops);
            break;
        }
    } else if (what == 4) {
        kind = BH_MISUSE_UNLOCK;
        bh_unlock(&m->h);
    } else if (what == 5) {
        kind = BH_MISUSE_COLLECTING;
        bh_collect_roots(&m->h, NULL, 0);
    } else {
        kind = BH_MISUSE_COLLECTING;
        bh_collect_end(&m->h);
    }
    m->expected_misuse++;
    m->st.misuses++;
    if (m->last_misuse != kind)
        HM_FAIL("op %zu: misuse %u reported as %u", m->st.ops, (unsigned)kind, (unsigned)m->last_misuse);
}

/* Locked: allocation and realloc refused (misuse, failure recorded as locked), free deferred. */
static void hm_op_locked(hm *m)
{
    unsigned depth = 1 + hm_draw(&m->src, 2);
    for (unsigned d = 0; d < depth; d++)
        bh_lock(&m->h);
    if (!bh_is_locked(&m->h))
        HM_FAIL("op %zu: bh_lock did not lock", m->st.ops);
    bh_failure f;
    if (bh_alloc(&m->h, 1 + hm_draw(&m->src, 100), 0) != NULL)
        HM_FAIL("op %zu: allocation while locked succeeded", m->st.ops);
    bh_last_failure(&m->h, &f);
    if (f.verdict != BH_VERDICT_LOCKED || m->last_misuse != BH_MISUSE_LOCKED)
        HM_FAIL("op %zu: locked allocation: verdict %s", m->st.ops, bh_verdict_name(f.verdict));
    m->expected_misuse++;
    m->expected_failures++;
    int i = hm_pick(m, true);
    if (i >= 0) {
        hm_obj *o = &m->objs[i];
        if (bh_realloc(&m->h, o->p, o->bytes + m->h.block_bytes, true) != NULL)
            HM_FAIL("op %zu: realloc while locked succeeded", m->st.ops);
        m->expected_misuse++;
        m->expected_failures++;
        if (bh_size(&m->h, o->p) != o->blocks * m->h.block_bytes)
            HM_FAIL("op %zu: bh_size while locked", m->st.ops);
        if (hm_draw(&m->src, 2)) {
            /* the free is ignored: the object stays until a collection finds it unreachable */
            bh_free(&m->h, o->p);
            o->owned = false;
            o->root = false;
            hm_update_references(m, (uintptr_t)o->p, 0, 4);
            m->st.deferred_frees++;
        }
    }
    for (unsigned d = 0; d < depth; d++)
        bh_unlock(&m->h);
}

/* One operation; false when a fuzzer's input is used up. */
static bool hm_step(hm *m)
{
    uint32_t r = hm_draw(&m->src, 100);
    if (m->src.exhausted)
        return false;
    m->st.ops++;
    if (r < 40) {
        hm_op_alloc(m);
    } else if (r < 52) {
        hm_op_free(m);
    } else if (r < 66) {
        hm_op_realloc(m);
    } else if (r < 80) {
        hm_op_relink(m);
    } else if (r < 86) {
        m->collect_protocol = hm_draw(&m->src, 8) == 0 ? 1 + (int)hm_draw(&m->src, 3) : 0;
        bh_collect(&m->h);
    } else if (r < 89) {
        hm_op_misuse(m);
    } else if (r < 92) {
        hm_op_locked(m);
    } else if (r < 96) {
        hm_op_noise(m);
    } else if (r < 99) {
#ifdef BH_FAIL_INJECTION
        bh_fail_at = bh_alloc_count + 1 + hm_draw(&m->src, 4);
#endif
    } else {
        bh_set_threshold(&m->h, hm_draw(&m->src, 2) ? 0 : 1 + hm_draw(&m->src, 200));
    }
    hm_check(m);
    return true;
}

/* Parameters drawn from the source (the fuzzer's first bytes, or a seed). */
static hm_params hm_draw_params(hm_source *s, size_t max_arena)
{
    static const size_t block_words[] = {2, 4, 8};
    hm_params p;
    memset(&p, 0, sizeof p);
    p.arena_bytes = 64 + hm_draw(s, (uint32_t)(max_arena - 64));
    p.arena_offset = hm_draw(s, 16);
    p.block_bytes = hm_draw(s, 4) == 0 ? 0 : block_words[hm_draw(s, 3)] * sizeof(void *);
    p.policy = hm_draw(s, BH_POLICY_COUNT);
    p.threshold_blocks = hm_draw(s, 3) == 0 ? 1 + hm_draw(s, 100) : 0;
    p.mark_stack_entries = hm_draw(s, 2) == 0 ? 1 + hm_draw(s, 4) : 0;
    p.without_finalisers = hm_draw(s, 4) == 0;
    p.no_auto_collect = hm_draw(s, 6) == 0;
    return p;
}

/* ---- driving: one seeded walk of `ops` steps over a heap of prm, with the final checks. The
 * model's statistics go to *st (may be NULL). */
static inline void hm_walk(const hm_params *prm, uint64_t seed, size_t ops, hm_stats *st)
{
    hm *m = malloc(sizeof *m);
    if (!m)
        HM_FAIL("out of memory");
    hm_source src = {NULL, 0, 0, seed * 0x9E3779B97F4A7C15ull + 1, false};
    if (st)
        memset(st, 0, sizeof *st);
    size_t block_bytes = prm->block_bytes ? prm->block_bytes : 4 * sizeof(void *);
    bool indexed = prm->policy >= BH_POLICY_LIFETIME && prm->policy <= BH_POLICY_ADAPTIVE_O1;
    if (!hm_init(m, prm, src) && indexed && block_bytes < 16) {
        free(m); /* documented: the free-run tree needs 16-byte blocks (8-byte ones on 32-bit) */
        return;
    }
    if (m->arena_mem == NULL)
        HM_FAIL("bh_init refused arena %zu, block %zu, policy %u", prm->arena_bytes, prm->block_bytes,
                prm->policy);
    for (size_t op = 0; op < ops; op++)
        hm_step(m);
    hm_finish(m);
    if (st)
        *st = m->st;
    free(m);
}

/* A number from the environment (walk lengths, seeds, logging), or dflt. */
static inline size_t hm_env_or(const char *name, size_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? (size_t)strtoull(s, NULL, 10) : dflt;
}

#endif
