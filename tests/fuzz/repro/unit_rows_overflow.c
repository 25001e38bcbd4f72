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

   Fixed in ddaee56: HR_UNIT_ROWS is checked, a row neither unit (within
   1e-3 in squared norm) nor zero is HR_EINVAL. Kept as a regression check:
   both calls must now refuse these rows and write nothing.

   Build and run (exit status 0 once fixed):
     cc -std=c99 -I. tests/fuzz/repro/unit_rows_overflow.c -o r -lsleef -lm && ./r */
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include <stdio.h>

int main(void) {
    const float w[2] = {1e20f, -1e20f}; /* finite; w0 . w1 = -1e40 -> -Inf */
    float c[2] = {7, 7}, s[2] = {7, 7};
    int32_t j[2] = {9, 9}, x[2] = {9, 9};
    int q, bad = 0;
    for (q = 0; q < 2; q++) {
        hr_status sd, st;
        if (hr_set_isa(q ? HR_ISA_AUTO : HR_ISA_SCALAR) != HR_OK) continue;
        sd = hr_difficulty(c, j, w, 2, 1, 1, HR_UNIT_ROWS);
        st = hr_neighbors_topk(s, x, 1, w, 2, 1, 1, HR_UNIT_ROWS);
        printf("[%s] difficulty: %s, c = {%g, %g}, nearest = {%d, %d}; "
               "top-1: %s, {%g, %g}, idx = {%d, %d}\n",
               hr_isa_name(hr_get_isa()), hr_status_string(sd), (double)c[0],
               (double)c[1], (int)j[0], (int)j[1], hr_status_string(st),
               (double)s[0], (double)s[1], (int)x[0], (int)x[1]);
        /* before the fix: both HR_OK, nearest {-1, -1} vs idx {1, 0} */
        if (sd != HR_EINVAL || st != HR_EINVAL || c[0] != 7 || j[0] != 9 ||
            s[0] != 7 || x[0] != 9)
            bad = 1;
    }
    return bad;
}
