/* The free-run tree: the index of free runs that lets the policies lifetime, firstfit_gc and
 * adaptive place an object without scanning the allocation table.
 *
 * Every maximal run of free blocks is one node of an AVL tree ordered by address. The node lives in
 * the run's first block, which is free and so belongs to nobody (an allocation zeroes its blocks):
 *
 *     word 0  left    first block of the left child's run (the runs below), or NIL
 *     word 1  right   first block of the right child's run (the runs above), or NIL
 *     word 2  len     blocks in the run
 *     word 3  aux     bits 0..25: the longest run in the subtree (this one included);
 *                     bits 26..31: the subtree's height (1 for a leaf)
 *
 * A node is named by its first block, which is also its key: nodes cannot be swapped, only
 * relinked, and a run that loses or gains blocks at its low end moves its node to its new first
 * block (its place in the order is unchanged, so the tree stays a search tree). The words are
 * 32-bit whatever the host, so one 16-byte block holds a node: the indexed policies need blocks of
 * at least 16 bytes and fewer than 2^26 blocks (1 GiB of 16-byte blocks): RUN_TREE_MAX_BLOCKS.
 *
 * The subtree maxima make both searches of the segregating policies O(log r): the lowest run that
 * fits (go left while the left subtree has a long enough run), which is exactly first fit, and the
 * highest. Updates walk one root-to-node path, recorded in a fixed array: an AVL tree of at most
 * 2^25 runs is at most 1.44 log2(2^25 + 2) < 37 high (RUN_TREE_MAX_HEIGHT is 40), so nothing here
 * recurses without a bound or allocates.
 *
 *     lowest_fit, highest_fit, largest     O(log r), O(log r), O(1)      (r = free runs <= n / 2)
 *     take, give (a run splits or merges)  O(log r): at most two descents and two path fix-ups
 *                                          (the walk to a run below a block is the walk to it)
 *     rebuild                              O(n / 4 + r): one pass over the ATB bytes, then a
 *                                          perfectly balanced tree from the runs in order
 *     check                                O(n + r)
 *
 * The allocation table stays the single source of truth: check() verifies that the tree's nodes are
 * exactly the table's maximal free runs, in order, with correct lengths, maxima and heights, and
 * balanced. A host that writes into a freed object can corrupt the tree (as with any allocator that
 * keeps its free lists in free memory); check() detects that, no access leaves the pool and no
 * write lands in an object whatever the words say, and the allocation never claims a run the
 * table does not say is free: it rebuilds the tree from the table instead (bh__index_verified). */
#include "heap.h"

enum { F_LEFT = 0, F_RIGHT = 1, F_LEN = 2, F_AUX = 3 };
#define NIL UINT32_MAX
#define HEIGHT_SHIFT 26u
#define MAX_MASK ((UINT32_C(1) << HEIGHT_SHIFT) - 1u)

/* ---- node words */

/* Every access is checked, so that a tree a host corrupted (by writing into a freed object) can
 * misplace but never read outside the pool nor write anywhere but into a free block: a node
 * outside the pool reads as an empty leaf, and a write to a block the table does not say is free
 * is dropped. (A consistent tree only ever writes to free blocks: a run's first block, before it
 * is claimed or after it is freed. The allocation verifies what the tree found.)
 * The updates read a node's four words at once (one check, one 16-byte load) and check a node
 * once for all the words they write to it (writable, then put): the words share a block, so the
 * checks are the same as single-word accesses'. The writes stay single words: a node assembled in
 * memory word by word and copied out in one 16-byte load would stall the store forwarding. */
typedef struct tree_node {
    uint32_t w[4]; /* indexed by F_LEFT, F_RIGHT, F_LEN, F_AUX */
} tree_node;

static tree_node load(const bh_heap *h, uint32_t node)
{
    tree_node n;
    if (node >= h->pool_blocks) {
        n.w[F_LEFT] = n.w[F_RIGHT] = NIL;
        n.w[F_LEN] = n.w[F_AUX] = 0u;
    } else {
        bh__load_store(n.w, h->pool + ((size_t)node << h->block_shift), sizeof n.w);
    }
    return n;
}

/* A node's child on `side`, without indexing by a variable (which would keep the node in memory,
 * not in registers). */
static uint32_t child_of(const tree_node *n, unsigned side)
{
    return side == F_LEFT ? n->w[F_LEFT] : n->w[F_RIGHT];
}

/* The node's block, if the tree may write there (a free block of the pool); else NULL. */
static uint8_t *writable(bh_heap *h, uint32_t node)
{
    if (node < h->pool_blocks && bh__kind(h, node) == BH_AT_FREE)
        return h->pool + ((size_t)node << h->block_shift);
    return NULL;
}

/* Writes a word of the node whose block writable() gave; nothing for NULL. */
static void put(uint8_t *at, unsigned field, uint32_t v)
{
    if (at != NULL)
        bh__load_store(at + 4u * field, &v, sizeof v);
}

static uint32_t word(const bh_heap *h, uint32_t node, unsigned field)
{
    if (node >= h->pool_blocks)
        return field <= F_RIGHT ? NIL : 0u;
    uint32_t v;
    bh__load_store(&v, h->pool + ((size_t)node << h->block_shift) + 4u * field, sizeof v);
    return v;
}

static void set_word(bh_heap *h, uint32_t node, unsigned field, uint32_t v)
{
    put(writable(h, node), field, v);
}

static uint32_t aux_of(const bh_heap *h, uint32_t node)
{
    return word(h, node, F_AUX); /* NIL (outside the pool): height 0, longest run 0 */
}

static uint32_t longest(const bh_heap *h, uint32_t node)
{
    return aux_of(h, node) & MAX_MASK;
}

/* The aux word of a node of len blocks over children whose aux words are al and ar. */
static uint32_t aux_over(uint32_t len, uint32_t al, uint32_t ar)
{
    uint32_t m = len, ml = al & MAX_MASK, mr = ar & MAX_MASK;
    if (ml > m)
        m = ml;
    if (mr > m)
        m = mr;
    uint32_t hl = al >> HEIGHT_SHIFT, hr = ar >> HEIGHT_SHIFT;
    return m | (1u + (hl > hr ? hl : hr)) << HEIGHT_SHIFT;
}

/* The aux word of a node of len blocks over the children left and right, read from them. */
static uint32_t aux_of_children(const bh_heap *h, uint32_t len, uint32_t left, uint32_t right)
{
    return aux_over(len, aux_of(h, left), aux_of(h, right));
}

/* ---- balancing */

/* Restores the AVL balance at node, whose words are n (its new link on the path included, not yet
 * written) and whose child on side `tall` is 2 higher than the other (aux word short_aux); writes
 * what changes and returns the subtree's new root. aux_over is symmetric in the children, so which
 * side each is on does not matter to it. */
static uint32_t rotate(bh_heap *h, uint32_t node, tree_node n, unsigned tall, uint32_t short_aux)
{
    uint32_t child = child_of(&n, tall), shorter = child_of(&n, tall ^ 1u);
    tree_node c = load(h, child);
    uint32_t inner = child_of(&c, tall ^ 1u), outer = child_of(&c, tall);
    uint32_t inner_aux = aux_of(h, inner), outer_aux = aux_of(h, outer);
    uint8_t *at_node = writable(h, node), *at_child = writable(h, child);
    if (inner_aux >> HEIGHT_SHIFT <= outer_aux >> HEIGHT_SHIFT) {
        /* the single rotation: child rises, node takes its inner subtree */
        uint32_t node_aux = aux_over(n.w[F_LEN], short_aux, inner_aux);
        put(at_node, tall, inner);
        put(at_node, tall ^ 1u, shorter);
        put(at_node, F_AUX, node_aux);
        put(at_child, tall ^ 1u, node);
        put(at_child, F_AUX, aux_over(c.w[F_LEN], node_aux, outer_aux));
        return child;
    }
    /* the double rotation (child leans the other way): its inner child rises above both, which
     * share its subtrees */
    tree_node g = load(h, inner);
    uint32_t g_inner = child_of(&g, tall ^ 1u), g_outer = child_of(&g, tall);
    uint32_t node_aux = aux_over(n.w[F_LEN], short_aux, aux_of(h, g_inner));
    uint32_t child_aux = aux_over(c.w[F_LEN], outer_aux, aux_of(h, g_outer));
    put(at_node, tall, g_inner);
    put(at_node, tall ^ 1u, shorter);
    put(at_node, F_AUX, node_aux);
    put(at_child, tall ^ 1u, g_outer);
    put(at_child, F_AUX, child_aux);
    uint8_t *at_inner = writable(h, inner);
    put(at_inner, tall ^ 1u, node);
    put(at_inner, tall, child);
    put(at_inner, F_AUX, aux_over(g.w[F_LEN], node_aux, child_aux));
    return inner;
}

/* A root-to-node path: path.node[i] and the side taken from it to path.node[i + 1]. */
typedef struct tree_path {
    uint32_t node[RUN_TREE_MAX_HEIGHT];
    uint8_t side[RUN_TREE_MAX_HEIGHT];
    unsigned depth;
    unsigned relink_from; /* nodes at this depth and below have a new parent: no early end there */
} tree_path;

static void push(tree_path *p, uint32_t node, unsigned side)
{
    if (p->depth >= RUN_TREE_MAX_HEIGHT)
        return; /* only a corrupted tree is this deep: its updates may go wrong, but stay in bounds */
    p->node[p->depth] = node;
    p->side[p->depth] = (uint8_t)(side & 1u);
    p->depth++;
}

/* Hangs `sub` where the path ends, in place of a subtree whose aux word was old_aux, and rebalances
 * the path's nodes, bottom up: a step reads its node (one 16-byte load), its new child's aux word
 * and its other child's, and writes the node once. The child's aux word is read back, not carried
 * from the step below: in a corrupted tree that write may have been dropped (the block is in use),
 * and what the searches will read is memory. The walk ends at a node whose child link and child's
 * aux word are the same as before (before its other child is read: the node cannot change), or
 * whose link, root and aux word all stay the same: nothing above it can change. */
static void fix_path(bh_heap *h, const tree_path *p, uint32_t sub, uint32_t old_aux)
{
    for (unsigned i = p->depth; i-- > 0;) {
        uint32_t node = p->node[i];
        unsigned side = p->side[i];
        tree_node n = load(h, node);
        uint32_t sub_aux = aux_of(h, sub);
        bool same_link = child_of(&n, side) == sub;
        if (same_link && sub_aux == old_aux && i < p->relink_from)
            return; /* the same child, unchanged: so is this node (its other child is not read) */
        old_aux = n.w[F_AUX];
        if (side == F_LEFT)
            n.w[F_LEFT] = sub;
        else
            n.w[F_RIGHT] = sub;
        uint32_t other = aux_of(h, child_of(&n, side ^ 1u));
        unsigned hs = (unsigned)(sub_aux >> HEIGHT_SHIFT), ho = (unsigned)(other >> HEIGHT_SHIFT);
        if (hs > ho + 1 || ho > hs + 1) {
            sub = hs > ho ? rotate(h, node, n, side, other) : rotate(h, node, n, side ^ 1u, sub_aux);
            continue;
        }
        sub_aux = aux_over(n.w[F_LEN], sub_aux, other);
        if (same_link && sub_aux == old_aux && i < p->relink_from)
            return;
        uint8_t *at = writable(h, node);
        if (!same_link)
            put(at, side, sub);
        put(at, F_AUX, sub_aux);
        sub = node;
    }
    h->pol.seg.index.run_root = sub;
}

/* The path from the root to the node `key` (excluded), or to where key would hang if it is not a
 * node. */
static void path_to(const bh_heap *h, uint32_t key, tree_path *p)
{
    p->depth = 0;
    p->relink_from = RUN_TREE_MAX_HEIGHT;
    for (uint32_t x = h->pol.seg.index.run_root; x != key && x != NIL && p->depth < RUN_TREE_MAX_HEIGHT;) {
        unsigned side = key > x ? F_RIGHT : F_LEFT;
        push(p, x, side);
        x = word(h, x, side);
    }
}

/* The path to key as path_to gives it, cut short at the node with the greatest key below key on it
 * (the last node the walk left to its right): the run below key, returned, and its path. NIL if
 * the walk never turned right. A walk toward a block inside a run, or just above it, passes the
 * run's node (the search order is the address order), so one walk finds a run and its path. */
static uint32_t path_below(const bh_heap *h, uint32_t key, tree_path *p)
{
    path_to(h, key, p);
    for (unsigned i = p->depth; i-- > 0;) {
        if (p->side[i] == F_RIGHT) {
            p->depth = i;
            return p->node[i];
        }
    }
    return NIL;
}

/* ---- the four updates: insert, delete, change a length, move a run's first block. All but insert
 * take the path to the node, which the caller has walked (path_to, path_below). */

static void insert_run(bh_heap *h, uint32_t key, uint32_t len)
{
    tree_path p;
    path_to(h, key, &p);
    uint8_t *at = writable(h, key);
    put(at, F_LEFT, NIL);
    put(at, F_RIGHT, NIL);
    put(at, F_LEN, len);
    put(at, F_AUX, aux_over(len, 0u, 0u));
    fix_path(h, &p, key, 0u);
    h->pol.seg.runs++;
}

static void delete_run(bh_heap *h, tree_path *p, uint32_t key)
{
    tree_node k = load(h, key);
    uint32_t left = k.w[F_LEFT], right = k.w[F_RIGHT];
    h->pol.seg.runs--;
    if (left == NIL || right == NIL) {
        uint32_t child = left == NIL ? right : left;
        fix_path(h, p, child, k.w[F_AUX]);
        return;
    }
    /* Two children: the next run up (the leftmost of the right subtree) leaves its place, to its
     * right child, and takes key's. */
    unsigned at = p->depth;
    if (at >= RUN_TREE_MAX_HEIGHT) { /* key not found within the height bound: a corrupted tree */
        bh__runs_rebuild(h);
        return;
    }
    push(p, key, F_RIGHT);
    uint32_t next = right;
    tree_node nx = load(h, next);
    while (nx.w[F_LEFT] != NIL && p->depth < RUN_TREE_MAX_HEIGHT) {
        push(p, next, F_LEFT);
        next = nx.w[F_LEFT];
        nx = load(h, next);
    }
    uint32_t next_right = nx.w[F_RIGHT];
    uint8_t *at_next = writable(h, next);
    put(at_next, F_LEFT, left);
    put(at_next, F_RIGHT, right); /* when next == right, fix_path's first step corrects this */
    p->node[at] = next;
    p->relink_from = at; /* the walk must reach key's parent, to hang next there */
    fix_path(h, p, next_right, nx.w[F_AUX]);
}

static void set_len(bh_heap *h, const tree_path *p, uint32_t key, uint32_t len)
{
    tree_node n = load(h, key);
    uint8_t *at = writable(h, key);
    put(at, F_LEN, len);
    put(at, F_AUX, aux_of_children(h, len, n.w[F_LEFT], n.w[F_RIGHT]));
    fix_path(h, p, key, n.w[F_AUX]);
}

/* The run at `from` now starts at `to` (no other run lies between them) and has len blocks. */
static void move_run(bh_heap *h, const tree_path *p, uint32_t from, uint32_t to, uint32_t len)
{
    tree_node n = load(h, from);
    uint8_t *at = writable(h, to);
    put(at, F_LEFT, n.w[F_LEFT]);
    put(at, F_RIGHT, n.w[F_RIGHT]);
    put(at, F_LEN, len);
    put(at, F_AUX, aux_of_children(h, len, n.w[F_LEFT], n.w[F_RIGHT]));
    fix_path(h, p, to, n.w[F_AUX]);
}

/* ---- what the policies call */

/* Of the runs of at least nblocks, the one nearest the `end` of the heap: F_LEFT the lowest, F_RIGHT
 * the highest. Descends toward that end while the subtree there has a run long enough. */
static uint32_t nearest_fit(const bh_heap *h, size_t nblocks, unsigned end)
{
    uint32_t x = h->pol.seg.index.run_root;
    if (longest(h, x) < nblocks)
        return NIL;
    for (unsigned steps = 0; steps < RUN_TREE_MAX_HEIGHT; steps++) {
        uint32_t near = word(h, x, end);
        if (longest(h, near) >= nblocks)
            x = near;
        else if (word(h, x, F_LEN) >= nblocks)
            return x;
        else
            x = word(h, x, end ^ 1u); /* the subtree's long enough run is on the other side */
    }
    return NIL; /* only a corrupted tree gets here */
}

size_t bh__runs_lowest_fit(const bh_heap *h, size_t nblocks)
{
    uint32_t run = nearest_fit(h, nblocks, F_LEFT);
    return run == NIL ? BH_NO_BLOCK : run;
}

size_t bh__runs_highest_fit(const bh_heap *h, size_t nblocks)
{
    uint32_t run = nearest_fit(h, nblocks, F_RIGHT);
    return run == NIL ? BH_NO_BLOCK : (size_t)run + word(h, run, F_LEN) - nblocks; /* its top end */
}

size_t bh__runs_largest(const bh_heap *h)
{
    return longest(h, h->pol.seg.index.run_root);
}

void bh__runs_take(bh_heap *h, size_t block, size_t nblocks)
{
    /* the table already says the blocks are used: the block below says whether a run starts here */
    bool run_starts_here = block == 0 || bh__kind(h, block - 1) != BH_AT_FREE;
    tree_path p;
    uint32_t run = (uint32_t)block;
    if (run_starts_here)
        path_to(h, run, &p);
    else
        run = path_below(h, run, &p);
    uint32_t end = run + word(h, run, F_LEN);
    uint32_t b = (uint32_t)block, e = (uint32_t)(block + nblocks);
    if (run == NIL || end < e) { /* not the run the table says: a corrupted tree */
        bh__runs_rebuild(h);
        return;
    }
    if (b == run) {
        if (e == end)
            delete_run(h, &p, run);
        else
            move_run(h, &p, run, e, end - e);
        return;
    }
    set_len(h, &p, run, b - run);
    if (e < end)
        insert_run(h, e, end - e); /* the middle of a run: it splits in two */
}

void bh__runs_give(bh_heap *h, size_t block, size_t nblocks)
{
    uint32_t b = (uint32_t)block, n = (uint32_t)nblocks;
    bool free_below = block > 0 && bh__kind(h, block - 1) == BH_AT_FREE;
    bool free_above = block + nblocks < h->pool_blocks && bh__kind(h, block + nblocks) == BH_AT_FREE;
    if (free_above) {
        uint32_t above = b + n, above_len = word(h, above, F_LEN);
        tree_path p;
        path_to(h, above, &p);
        if (!free_below) {
            move_run(h, &p, above, b, n + above_len);
            return;
        }
        delete_run(h, &p, above);
        n += above_len;
    }
    if (free_below) {
        tree_path p;
        uint32_t below = path_below(h, b, &p);
        uint32_t below_len = word(h, below, F_LEN);
        if (below == NIL || below + below_len != b) { /* a corrupted tree */
            bh__runs_rebuild(h);
            return;
        }
        set_len(h, &p, below, below_len + n);
        return;
    }
    insert_run(h, b, n);
}

/* A perfectly balanced tree of the `count` runs listed from *list (linked by F_RIGHT), in order.
 * Recursion depth log2(count) + 1 <= 26. */
static uint32_t build(bh_heap *h, uint32_t *list, size_t count)
{
    if (count == 0)
        return NIL;
    size_t below = (count - 1) / 2;
    uint32_t left = build(h, list, below);
    uint32_t node = *list;
    *list = word(h, node, F_RIGHT);
    uint32_t right = build(h, list, count - 1 - below);
    uint8_t *at = writable(h, node);
    put(at, F_LEFT, left);
    put(at, F_RIGHT, right);
    put(at, F_AUX, aux_of_children(h, word(h, node, F_LEN), left, right));
    return node;
}

/* The runs found by the pass over the ATB, in address order, each pointing to the next. */
typedef struct run_chain {
    uint32_t first, last;
    size_t runs;
} run_chain;

static void chain_run(bh_heap *h, void *ctx, size_t start, size_t len)
{
    run_chain *c = ctx;
    uint32_t node = (uint32_t)start;
    set_word(h, node, F_LEN, (uint32_t)len);
    set_word(h, node, F_RIGHT, NIL);
    if (c->last == NIL)
        c->first = node;
    else
        set_word(h, c->last, F_RIGHT, node);
    c->last = node;
    c->runs++;
}

void bh__runs_rebuild(bh_heap *h)
{
    run_chain c = {NIL, NIL, 0};
    bh__each_free_run(h, chain_run, &c);
    h->pol.seg.runs = (uint32_t)c.runs;
    h->pol.seg.index.run_root = build(h, &c.first, c.runs);
}

/* ---- the self-check */

typedef struct check_state {
    size_t runs, free_blocks;
} check_state;

/* Verifies the subtree at node, whose keys must lie in [lo, hi); returns its height, or -1.
 * Recursion depth is bounded by RUN_TREE_MAX_HEIGHT. */
static int check_subtree(const bh_heap *h, uint32_t node, size_t lo, size_t hi, unsigned depth,
                         check_state *c)
{
    if (node == NIL)
        return 0;
    if (depth >= RUN_TREE_MAX_HEIGHT || node < lo || node >= hi)
        return -1; /* too deep, or out of order (which also rules out cycles) */
    uint32_t len = word(h, node, F_LEN);
    if (len == 0 || len > hi - node)
        return -1;
    /* a maximal run of free blocks, by the table */
    if (node > 0 && bh__kind(h, node - 1) == BH_AT_FREE)
        return -1;
    if ((size_t)node + len < h->pool_blocks && bh__kind(h, node + len) == BH_AT_FREE)
        return -1;
    for (size_t b = node; b < (size_t)node + len; b++)
        if (bh__kind(h, b) != BH_AT_FREE)
            return -1;
    uint32_t left = word(h, node, F_LEFT), right = word(h, node, F_RIGHT);
    int hl = check_subtree(h, left, lo, node, depth + 1, c);
    int hr = check_subtree(h, right, (size_t)node + len, hi, depth + 1, c);
    if (hl < 0 || hr < 0 || hl > hr + 1 || hr > hl + 1)
        return -1; /* AVL balance */
    int ht = 1 + (hl > hr ? hl : hr);
    if (word(h, node, F_AUX) != aux_over(len, aux_of(h, left), aux_of(h, right)))
        return -1; /* (the children's aux words were verified by the calls above) */
    c->runs++;
    c->free_blocks += len;
    return ht;
}

bool bh__runs_check(const bh_heap *h)
{
    check_state c = {0, 0};
    if (check_subtree(h, h->pol.seg.index.run_root, 0, h->pool_blocks, 0, &c) < 0)
        return false;
    /* every node is a distinct maximal free run; covering every free block, they are all of them */
    return c.runs == h->pol.seg.runs && c.free_blocks == h->pool_blocks - h->used_blocks;
}
