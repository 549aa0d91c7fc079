/* A seeded random walk of alloc / free / realloc / collect over random object graphs, checked
 * against a plain model after every operation:
 *   - bh_check holds;
 *   - the heap's objects (bh_walk) are exactly the model's, none overlapping;
 *   - every object's contents are what the model wrote (across realloc, moves and collections);
 *   - after a collection every object reachable from the roots survives and every other one is gone
 *     (the walk clears stale words, so nothing unreachable is referenced);
 *   - new memory is zeroed.
 * BH_WALK_OPS / BH_WALK_SEED in the environment lengthen the walk or change its seed. */
#include "testheap.h"

enum { MAX_OBJS = 600, LINKS = 2 };

typedef struct model_obj {
    uint8_t *p;
    size_t bytes;   /* as requested */
    uint32_t tag;   /* contents: links in words 0..LINKS-1, then bytes derived from tag */
    int links[LINKS];
    bool root;
    bool live;
} model_obj;

static model_obj objs[MAX_OBJS];
static uint64_t rng;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static size_t payload_start(void) { return LINKS * sizeof(void *); }

static void fill(model_obj *o)
{
    for (size_t i = payload_start(); i < o->bytes; i++)
        o->p[i] = (uint8_t)(o->tag * 31 + i);
}

static void check_contents(const model_obj *o)
{
    for (int l = 0; l < LINKS; l++) {
        void *want = o->links[l] >= 0 ? objs[o->links[l]].p : NULL;
        void *got;
        memcpy(&got, o->p + l * sizeof(void *), sizeof got);
        if (got != want)
            fail_msg("link %d of object %u changed", l, o->tag);
    }
    for (size_t i = payload_start(); i < o->bytes; i++)
        if (o->p[i] != (uint8_t)(o->tag * 31 + i))
            fail_msg("byte %zu of object %u changed", i, o->tag);
}

static void set_link(model_obj *o, int l, int target)
{
    o->links[l] = target;
    void *p = target >= 0 ? objs[target].p : NULL;
    memcpy(o->p + l * sizeof(void *), &p, sizeof p);
}

/* Clears every link to object i (so that no stale word keeps a dead object) and roots. */
static void forget(int i)
{
    for (int j = 0; j < MAX_OBJS; j++)
        if (objs[j].live)
            for (int l = 0; l < LINKS; l++)
                if (objs[j].links[l] == i)
                    set_link(&objs[j], l, -1);
    objs[i].live = false;
    objs[i].root = false;
}

static void refresh_links_to(int i)
{
    for (int j = 0; j < MAX_OBJS; j++)
        if (objs[j].live)
            for (int l = 0; l < LINKS; l++)
                if (objs[j].links[l] == i)
                    set_link(&objs[j], l, i);
}

struct walk_check {
    test_heap *t;
    size_t seen;
};

static bool check_object(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    struct walk_check *wc = ctx;
    (void)block;
    if (is_free)
        return true;
    for (int i = 0; i < MAX_OBJS; i++) {
        if (objs[i].live && objs[i].p == obj) {
            size_t want = (objs[i].bytes + wc->t->h.block_bytes - 1) / wc->t->h.block_bytes;
            if (want != nblocks)
                fail_msg("object %d: %zu blocks in the heap, %zu in the model", i, nblocks, want);
            wc->seen++;
            return true;
        }
    }
    fail_msg("the heap has an object at block %zu the model does not know", block);
    return false;
}

static void check_all(test_heap *t)
{
    if (!bh_check(&t->h))
        fail_msg("bh_check failed");
    struct walk_check wc = {t, 0};
    bh_walk(&t->h, check_object, &wc);
    size_t live = 0;
    for (int i = 0; i < MAX_OBJS; i++)
        if (objs[i].live) {
            live++;
            check_contents(&objs[i]);
        }
    if (live != wc.seen)
        fail_msg("model has %zu objects, heap %zu", live, wc.seen);
}

static test_heap *current;

/* The collect callback: roots are the model's root objects; afterwards the model drops what is
 * unreachable (the collector must have done the same: check_all compares). */
static void walk_collect(void *ctx, bh_heap *h)
{
    (void)ctx;
    void *roots[MAX_OBJS];
    size_t n = 0;
    for (int i = 0; i < MAX_OBJS; i++)
        if (objs[i].live && objs[i].root)
            roots[n++] = objs[i].p;
    bh_collect_start(h);
    bh_collect_roots(h, (const void *const *)roots, n);
    bh_collect_end(h);
    /* reachability in the model */
    bool reach[MAX_OBJS] = {false};
    int stack[MAX_OBJS], sp = 0;
    for (int i = 0; i < MAX_OBJS; i++)
        if (objs[i].live && objs[i].root) {
            reach[i] = true;
            stack[sp++] = i;
        }
    while (sp > 0) {
        int i = stack[--sp];
        for (int l = 0; l < LINKS; l++) {
            int j = objs[i].links[l];
            if (j >= 0 && !reach[j]) {
                reach[j] = true;
                stack[sp++] = j;
            }
        }
    }
    for (int i = 0; i < MAX_OBJS; i++)
        if (objs[i].live && !reach[i]) {
            objs[i].live = false; /* links from unreachable objects only: no live holder */
        }
}

static int free_slot(void)
{
    for (int tries = 0; tries < 50; tries++) {
        int i = (int)(next_rand() % MAX_OBJS);
        if (!objs[i].live)
            return i;
    }
    return -1;
}

static int live_slot(void)
{
    for (int tries = 0; tries < 50; tries++) {
        int i = (int)(next_rand() % MAX_OBJS);
        if (objs[i].live)
            return i;
    }
    return -1;
}

static size_t random_size(void)
{
    uint32_t r = next_rand() % 100;
    size_t min = LINKS * sizeof(void *);
    if (r < 60)
        return min + next_rand() % 32;
    if (r < 90)
        return min + next_rand() % 256;
    return min + next_rand() % 2048;
}

static void walk(size_t arena_bytes, size_t block_bytes, size_t ops, uint64_t seed)
{
    memset(objs, 0, sizeof objs);
    rng = seed * 2654435761u + 1;
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = block_bytes;
    c.collect = walk_collect;
    size_t stack[3];
    if (seed & 1) { /* half the walks with a tiny mark stack */
        c.mark_stack = stack;
        c.mark_stack_entries = 3;
    }
    test_heap *t = th_new(arena_bytes, &c);
    current = t;
    uint32_t tag = 1;
    for (size_t op = 0; op < ops; op++) {
        uint32_t r = next_rand() % 100;
        if (r < 45) { /* alloc */
            int i = free_slot();
            if (i < 0)
                continue;
            size_t bytes = random_size();
            /* freshly allocated objects are held by a root until linked (like a C local) */
            uint8_t *p = bh_alloc(&t->h, bytes, next_rand() % 8 == 0 ? BH_FINALISER : 0);
            if (!p)
                continue;
            size_t usable = bh_size(&t->h, p);
            if (!th_all_zero(p, usable))
                fail_msg("new object not zeroed");
            model_obj *o = &objs[i];
            o->p = p;
            o->bytes = bytes;
            o->tag = tag++;
            o->live = true;
            o->root = next_rand() % 3 == 0;
            for (int l = 0; l < LINKS; l++)
                o->links[l] = -1;
            fill(o);
            /* link from a random live object, or make it a root, so it is reachable now */
            int holder = live_slot();
            if (!o->root && holder >= 0 && holder != i)
                set_link(&objs[holder], (int)(next_rand() % LINKS), i);
            else
                o->root = true;
        } else if (r < 60) { /* explicit free */
            int i = live_slot();
            if (i < 0)
                continue;
            bh_free(&t->h, objs[i].p);
            forget(i);
        } else if (r < 75) { /* realloc */
            int i = live_slot();
            if (i < 0)
                continue;
            size_t bytes = random_size();
            bool allow_move = next_rand() % 4 != 0;
            size_t old_usable = bh_size(&t->h, objs[i].p);
            /* the object is held by the caller during the call (a C local in a real host) */
            bool was_root = objs[i].root;
            objs[i].root = true;
            uint8_t *p = bh_realloc(&t->h, objs[i].p, bytes, allow_move);
            objs[i].root = was_root;
            if (!p) {
                check_all(t);
                continue; /* unchanged, the model too */
            }
            size_t usable = bh_size(&t->h, p);
            if (usable > old_usable && !th_all_zero(p + old_usable, usable - old_usable))
                fail_msg("grown part not zeroed");
            size_t kept = bytes < objs[i].bytes ? bytes : objs[i].bytes;
            for (size_t k = payload_start(); k < kept; k++)
                if (p[k] != (uint8_t)(objs[i].tag * 31 + k))
                    fail_msg("realloc lost byte %zu of object %u", k, objs[i].tag);
            objs[i].p = p;
            objs[i].bytes = bytes;
            fill(&objs[i]);
            refresh_links_to(i);
        } else if (r < 90) { /* relink or drop a root */
            int i = live_slot(), j = live_slot();
            if (i < 0)
                continue;
            if (next_rand() % 2)
                objs[i].root = false;
            else
                set_link(&objs[i], (int)(next_rand() % LINKS), j);
        } else { /* collect */
            bh_collect(&t->h);
        }
        check_all(t);
    }
    th_free(t);
}

static size_t env_or(const char *name, size_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? (size_t)strtoull(s, NULL, 10) : dflt;
}

static void test_walk_16(void **state)
{
    (void)state;
    size_t ops = env_or("BH_WALK_OPS", 20000), seed = env_or("BH_WALK_SEED", 1);
    walk(32768, 16, ops, seed);
}

static void test_walk_32_small_stack(void **state)
{
    (void)state;
    size_t ops = env_or("BH_WALK_OPS", 20000), seed = env_or("BH_WALK_SEED", 1);
    walk(65536, 32, ops, seed + 1);
}

static void test_walk_tiny_heap(void **state)
{
    (void)state;
    walk(4096, 16, env_or("BH_WALK_OPS", 20000), env_or("BH_WALK_SEED", 1) + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_16),
        cmocka_unit_test(test_walk_32_small_stack),
        cmocka_unit_test(test_walk_tiny_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
