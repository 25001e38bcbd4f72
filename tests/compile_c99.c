/* tests/compile_c99.c - the header as C99 under -Wall -Wextra -pedantic
   -Werror: included once plain, then again with the implementation (the
   stb pattern). Also built with -mavx2 -mfma, -DHR_NO_SIMD and
   -DHR_FORCE_ISA=HR_ISA_SCALAR; each build runs the worked example. */
#include "hardreid.h"
#include "hardreid.h"
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const float w[6] = {2.0f, 0.0f, 0.0f, 2.0f, 0.4f, 1.96f};
    const double s = sqrt(0.4 * 0.4 + 1.96 * 1.96);
    float c[3], u[6];
    int32_t j[3];
    hr_status st;
    int bad = 0;
#ifdef HR_FORCE_ISA
    if (!getenv("HR_ISA") && hr_get_isa() != HR_FORCE_ISA) {
        fprintf(stderr, "HR_FORCE_ISA ignored: %s\n",
                hr_isa_name(hr_get_isa()));
        bad = 1;
    }
#endif
#ifdef HR_NO_SIMD
    if (hr_isa_supported(HR_ISA_AVX2) || hr_isa_supported(HR_ISA_NEON) ||
        hr_set_isa(HR_ISA_AVX2) != HR_EUNSUPPORTED ||
        hr_get_isa() != HR_ISA_SCALAR) {
        fprintf(stderr, "HR_NO_SIMD build still offers a SIMD path\n");
        bad = 1;
    }
#endif
    st = hr_difficulty(c, j, w, 3, 2, 2, 0);
    if (st != HR_OK || fabs(c[0] - 0.4 / s) > 1e-6 ||
        fabs(c[1] - 1.96 / s) > 1e-6 || fabs(c[2] - 1.96 / s) > 1e-6 ||
        j[0] != 2 || j[1] != 2 || j[2] != 1) {
        fprintf(stderr, "difficulty: %s\n", hr_status_string(st));
        bad = 1;
    }
    st = hr_normalize_rows(u, 2, w, 2, 3, 2);
    if (st != HR_OK || fabs(u[5] - 1.96 / s) > 1e-6) bad = 1;
    printf("compile_c99 (%s, %s): %s\n", HARDREID_VERSION_STRING,
           hr_isa_name(hr_get_isa()), bad ? "FAILED" : "ok");
    return bad;
}
