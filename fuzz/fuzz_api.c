/* libFuzzer target: API operation sequences against the reference model.
 *
 * The input is the walk's stream of choices (tests/lib/heapmodel.h): its first bytes choose the
 * heap (arena size and alignment, block size, policy, threshold, mark stack, finalisers,
 * auto-collect), every later byte chooses an operation or an operand. Every operation is checked
 * against the model as in the seeded walk; a disagreement aborts with the model's message. Built
 * with -DBH_FAIL_INJECTION so that inputs can also make chosen allocations fail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define HM_FAIL(...) (fprintf(stderr, "model: " __VA_ARGS__), fputc('\n', stderr), abort())
#include "heapmodel.h"

enum { MAX_OPS = 1500, MAX_ARENA = 6144 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hm m; /* 40 KB: not on the stack */
    hm_source src = {data, size, 0, 0, false};
    hm_params prm = hm_draw_params(&src, MAX_ARENA);
    if (src.exhausted || !hm_init(&m, &prm, src))
        return 0;
    for (size_t op = 0; op < MAX_OPS && hm_step(&m); op++)
        ;
    hm_finish(&m);
    return 0;
}
