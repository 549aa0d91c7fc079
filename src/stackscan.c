/* Optional, platform-specific: scan the calling thread's registers and stack as collection roots.
 * Not part of the core library because it needs setjmp and knowledge of how the stack grows.
 * Works with GCC and Clang on any target whose stack grows down and where setjmp saves the
 * callee-saved registers into the jmp_buf (all common ABIs). */
#include "blockheap_stack.h"

#include <setjmp.h>

/* Reading the whole stack, including other frames' dead slots, is the point: tell the sanitizers. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, no_sanitize_address))
#endif
static void scan_range(bh_heap *h, const void *lo, const void *hi)
{
    uintptr_t a = ((uintptr_t)lo + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    uintptr_t b = (uintptr_t)hi & ~(uintptr_t)(sizeof(void *) - 1);
    for (; a < b; a += sizeof(void *)) {
        const void *word = *(const void *const *)a;
        bh_collect_roots(h, &word, 1);
    }
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
void bh_collect_stack(bh_heap *h, const void *stack_top)
{
    jmp_buf regs; /* setjmp spills the callee-saved registers here, on our stack */
    if (setjmp(regs) != 0)
        return;
    const void *sp = (const void *)&regs;
    if ((uintptr_t)sp < (uintptr_t)stack_top)
        scan_range(h, sp, stack_top);
    else
        scan_range(h, stack_top, (const uint8_t *)sp + sizeof regs);
}
