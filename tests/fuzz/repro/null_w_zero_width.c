/* tests/fuzz/repro/null_w_zero_width.c - found by tests/fuzz/fuzz_neighbors.c
   (input: n = 248, d = 0, w = NULL).

   hr_difficulty / hr_neighbors_topk document HR_EINVAL for "c or w NULL
   with n > 0", but hr__check_matrix only asks for a pointer when d > 0: a
   NULL w with d == 0 passes, and hr__neighbors then computes w + i * ldw
   (and hr__pack offsets jb->w) on the null pointer, which is undefined in
   C (UBSan: "applying zero offset to null pointer", hardreid.h in
   hr__neighbors' finiteness loop), and returns HR_OK with c = 0.
   hr_normalize_rows (documented: NULL rejected only when n*d > 0) does the
   same arithmetic on NULL in and out for d == 0, n > 0.

   Fixed in ddaee56 (NULL w with n > 0 is HR_EINVAL whatever d; no
   offset of a null pointer); kept as a regression check.

   Build and run (exit status 1 while the bug is present; under
   -fsanitize=undefined -fno-sanitize-recover=all it stops at the UB):
     cc -std=c99 -I. -g tests/fuzz/repro/null_w_zero_width.c -o r -lsleef -lm && ./r
     clang -std=c99 -I. -g -fsanitize=undefined -fno-sanitize-recover=all \
       tests/fuzz/repro/null_w_zero_width.c -o r -lsleef -lm && ./r */
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include <stdio.h>

int main(void) {
    float c[3] = {7.0f, 7.0f, 7.0f};
    int32_t nearest[3] = {9, 9, 9};
    hr_status s = hr_difficulty(c, nearest, NULL, 3, 0, 0, 0);
    int bad = 0;
    if (s != HR_EINVAL) {
        printf("hr_difficulty(w = NULL, n = 3, d = 0): %s, documented: %s\n",
               hr_status_string(s), hr_status_string(HR_EINVAL));
        bad = 1;
    }
    s = hr_neighbors_topk(c, nearest, 1, NULL, 3, 0, 0, 0);
    if (s != HR_EINVAL) {
        printf("hr_neighbors_topk(w = NULL, n = 3, d = 0): %s, documented: %s\n",
               hr_status_string(s), hr_status_string(HR_EINVAL));
        bad = 1;
    }
    /* documented as accepted (n*d == 0); only the UB applies here */
    s = hr_normalize_rows(NULL, 1, NULL, 1, 2, 0);
    printf("hr_normalize_rows(NULL, d = 0, n = 2): %s\n", hr_status_string(s));
    return bad;
}
