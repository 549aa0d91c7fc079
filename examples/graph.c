/* blockheap embedded the way firmware would: a static arena, a linked object graph, a collection
 * that finds its roots by scanning the C stack conservatively, and the map MicroPython would print. */
#include <stdio.h>
#include <string.h>

#include "blockheap.h"
#include "blockheap_stack.h"

static unsigned char arena[8192]; /* the whole heap: tables and pool */
static bh_heap heap;
static const void *stack_top;

struct node {            /* one list cell: a tuple-like object of 2 words + payload */
    struct node *next;
    char *label;
};

static void collect_from_stack(void *ctx, bh_heap *h)
{
    (void)ctx;
    bh_collect_start(h);
    bh_collect_stack(h, stack_top);
    bh_collect_end(h);
}

static void print_to_stdout(void *ctx, const char *s, size_t len)
{
    (void)ctx;
    fwrite(s, 1, len, stdout);
}

static char kind_of(void *ctx, const void *obj, size_t blocks)
{
    (void)ctx;
    (void)obj;
    return blocks == 1 ? 'T' : 'S'; /* cells are one block; labels more */
}

/* Builds a list of n cells with a label each, and as much garbage beside it; returns the head.
 * noinline: its frame is gone when the caller collects, so only the head it returns is a root. */
__attribute__((noinline)) static struct node *build_list(int n)
{
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *cell = bh_alloc(&heap, sizeof *cell, 0);
        char *label = bh_alloc(&heap, 40, 0);
        (void)bh_alloc(&heap, 24, 0); /* a temporary nobody keeps */
        if (!cell || !label)
            return head;
        snprintf(label, 40, "cell %d", i);
        cell->label = label;
        cell->next = head;
        head = cell;
    }
    return head;
}

static void print_info(const char *when)
{
    bh_info info;
    bh_info_get(&heap, &info);
    printf("%s: %zu objects, used %zu of %zu bytes, largest allocatable %zu bytes in %zu free runs\n",
           when, info.objects, info.used_bytes, info.total_bytes, info.largest_alloc_bytes, info.free_runs);
}

int main(void)
{
    int top_marker;
    stack_top = &top_marker;
    bh_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.block_bytes = 16;
    cfg.collect = collect_from_stack;
    if (!bh_init(&heap, arena, sizeof arena, &cfg)) {
        fprintf(stderr, "bh_init failed\n");
        return 1;
    }
    printf("arena %zu bytes -> pool of %zu blocks of %zu bytes\n\n", sizeof arena, heap.pool_blocks, heap.block_bytes);

    volatile struct node *list = build_list(40);
    print_info("after building 40 cells (+ garbage)");
    bh_collect(&heap);
    print_info("after a collection (only the list is reachable)");
    int kept = 0;
    for (volatile struct node *c = list; c; c = c->next)
        kept += strncmp(c->label, "cell ", 5) == 0;
    printf("list cells intact: %d\n\n", kept);

    bh_dump_map(&heap, print_to_stdout, NULL, kind_of, NULL);
    printf("\nheap self-check: %s\n", bh_check(&heap) ? "ok" : "FAILED");
    return bh_check(&heap) && kept == 40 ? 0 : 1;
}
