/* tests/static_a.c - with static_b.c: two translation units that each hold
   a private (HARDREID_STATIC) copy of the implementation must link. */
#define HARDREID_STATIC
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

int static_a_check(void);

/* 1 if the worked example gives nearest = {2, 2, 1} */
int static_a_check(void) {
    const float w[6] = {2.0f, 0.0f, 0.0f, 2.0f, 0.4f, 1.96f};
    float c[3];
    int32_t j[3];
    return hr_difficulty(c, j, w, 3, 2, 2, 0) == HR_OK && j[0] == 2 &&
           j[1] == 2 && j[2] == 1 && c[1] > 0.979f && c[1] < 0.981f;
}
