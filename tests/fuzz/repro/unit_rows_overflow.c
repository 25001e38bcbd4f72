/* tests/fuzz/repro/unit_rows_overflow.c - found by tests/fuzz/fuzz_neighbors.c
   (n = 2, d = 543, HR_UNIT_ROWS on rows that are not unit length).

   Outside the documented contract (HR_UNIT_ROWS promises unit rows), but
   nothing checks it: finite rows whose dot products overflow float reach the
   kernels as -Inf/+Inf/NaN, although the README says "inputs are finite by
   contract (checked), so max never sees NaN". A cosine of -Inf then splits
   the two calls that the header says agree exactly ("k == 1 equals
   hr_difficulty exactly"): hr_difficulty keeps nearest = -1 (strict >
   never takes -Inf), hr_neighbors_topk(k = 1) takes the other row (its
   tie rule prefers any index to -1), and hr_difficulty returns nearest = -1
   for n = 2, which the header reserves for n == 1. A NaN product (Inf -
   Inf) is dropped by both. Either rejecting non-finite products or saying
   "results unspecified unless rows are unit length" would settle it.

   Build and run (exit status 1 while the calls disagree):
     cc -std=c99 -I. tests/fuzz/repro/unit_rows_overflow.c -o r -lm && ./r */
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include <stdio.h>

int main(void) {
    const float w[2] = {1e20f, -1e20f}; /* finite; w0 . w1 = -1e40 -> -Inf */
    float c[2], s[2];
    int32_t j[2], x[2];
    int q, bad = 0;
    for (q = 0; q < 2; q++) {
        if (hr_set_isa(q ? HR_ISA_AUTO : HR_ISA_SCALAR) != HR_OK) continue;
        if (hr_difficulty(c, j, w, 2, 1, 1, HR_UNIT_ROWS) != HR_OK ||
            hr_neighbors_topk(s, x, 1, w, 2, 1, 1, HR_UNIT_ROWS) != HR_OK)
            return 2;
        printf("[%s] difficulty: c = {%g, %g}, nearest = {%d, %d}; "
               "top-1: {%g, %g}, idx = {%d, %d}\n",
               hr_isa_name(hr_get_isa()), (double)c[0], (double)c[1], (int)j[0],
               (int)j[1], (double)s[0], (double)s[1], (int)x[0], (int)x[1]);
        if (j[0] != x[0] || j[1] != x[1] || j[0] < 0 || j[1] < 0) bad = 1;
    }
    return bad;
}
