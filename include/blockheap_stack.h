/* Optional helper (src/stackscan.c, library blockheap_stackscan): conservative scanning of the
 * calling thread's registers and C stack, for hosts whose roots live there. Platform-specific:
 * needs setjmp and assumes the usual ABIs (GCC/Clang; stacks growing down or up both work). */
#ifndef BLOCKHEAP_STACK_H
#define BLOCKHEAP_STACK_H

#include "blockheap.h"

/* During a collection (between bh_collect_start and bh_collect_end): passes every word of the
 * callee-saved registers and of the stack from the current frame up to stack_top (an address in
 * the outermost frame the host cares about, e.g. of a local in main) to bh_collect_roots. */
void bh_collect_stack(bh_heap *h, const void *stack_top);

#endif
