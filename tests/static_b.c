/* tests/static_b.c - see static_a.c; this one has main. */
#define HARDREID_STATIC
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include <stdio.h>

int static_a_check(void);
static int static_b_check(void);

/* 1 if normalization and the ISA query work in this copy too */
static int static_b_check(void) {
    const float w[2] = {3.0f, 4.0f};
    float u[2];
    return hr_normalize_rows(u, 2, w, 2, 1, 2) == HR_OK && u[0] > 0.5999f &&
           u[0] < 0.6001f && hr_isa_supported(HR_ISA_SCALAR) &&
           hr_status_string(HR_OK) != NULL;
}

int main(void) {
    int a = static_a_check(), b = static_b_check();
    printf("static link: a %s, b %s\n", a ? "ok" : "FAILED",
           b ? "ok" : "FAILED");
    return !(a && b);
}
