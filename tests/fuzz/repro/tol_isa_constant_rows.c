/* tests/fuzz/repro/tol_isa_constant_rows.c - found while sizing the
   tolerance check of tests/fuzz/fuzz_neighbors.c (which stops at d = 600).

   hardreid.h documents HR_TOL_ISA = 2e-5 as the "largest difference between
   ISA paths (and against a double-precision reference) in any cosine the
   kernels return, for d up to 4096". Two equal rows of all ones break it
   from d = 1346 on: their cosine is exactly 1, but d equal float products
   summed in one chain drift systematically (every partial sum rounds the
   same way), up to 6.0e-5 off at d = 4051 on both paths, and the scalar
   and AVX2 paths disagree by 9.2e-5 at d = 3094 (their products round
   differently: the scalar path rounds each product, FMA does not). Random
   rows (the suite's) stay far inside 2e-5; the bound is a typical error,
   not a worst case (that is about d * 2^-24 = 2.4e-4 at d = 4096).

   Resolved in ddaee56 by the documentation: HR_TOL_ISA is the typical
   bound (products whose rounding errors do not all lean one way), and
   HR_TOL_ISA_WORST(d) = d 2^-24 the worst case. Kept as a regression check
   of the worst case: every error and path difference here must stay within
   HR_TOL_ISA_WORST(d); the lines still flag where HR_TOL_ISA is exceeded.

   Build and run (exit status 0 while within HR_TOL_ISA_WORST(d)):
     cc -std=c99 -O2 -I. tests/fuzz/repro/tol_isa_constant_rows.c -o r -lsleef -lm && ./r */
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include <math.h>
#include <stdio.h>

int main(void) {
    static const size_t ds[] = {1346, 3094, 4051};
    static float w[2 * 4096];
    float c[2][2];
    int32_t nearest[2];
    size_t q, k;
    int p, bad = 0;
    for (q = 0; q < sizeof ds / sizeof ds[0]; q++) {
        const size_t d = ds[q];
        for (k = 0; k < 2 * d; k++) w[k] = 1.0f; /* cos(w0, w1) = 1 exactly */
        for (p = 0; p < 2; p++) {
            c[p][0] = 1.0f;
            if (hr_set_isa(p ? HR_ISA_AUTO : HR_ISA_SCALAR) != HR_OK) continue;
            if (hr_difficulty(c[p], nearest, w, 2, d, d, 0) != HR_OK) return 2;
            printf("d = %4zu  %-6s c = %.9g  |c - 1| = %.5g%s\n", d,
                   hr_isa_name(hr_get_isa()), (double)c[p][0],
                   fabs((double)c[p][0] - 1.0),
                   fabs((double)c[p][0] - 1.0) > HR_TOL_ISA ? "  > HR_TOL_ISA" : "");
            bad |= fabs((double)c[p][0] - 1.0) > HR_TOL_ISA_WORST(d);
        }
        printf("d = %4zu  scalar - best = %.5g%s\n", d,
               fabs((double)c[0][0] - (double)c[1][0]),
               fabs((double)c[0][0] - (double)c[1][0]) > HR_TOL_ISA ? "  > HR_TOL_ISA" : "");
        bad |= fabs((double)c[0][0] - (double)c[1][0]) > HR_TOL_ISA_WORST(d);
    }
    return bad;
}
