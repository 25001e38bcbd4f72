/* bench_versions.c - the same public calls timed on whichever hardreid.h
   the include path finds. bench/versions.sh builds it twice, against the
   working tree's header and against an older revision's, and runs the two
   binaries alternately on one ISA path (HR_ISA) and one thread, so "this
   path is no slower than it was" is a measurement, not a belief.

   Only calls whose signature has not changed since 0.3.0 are used. Each
   case prints one line: "case seconds" (the minimum of its repetitions;
   a minimum is what a version can do, the median of the rounds in
   versions.sh absorbs the machine's drift). */
#define _POSIX_C_SOURCE 200112L
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include "bench_util.h"

#include <math.h>

static float *rand_floats(size_t n, uint64_t seed) {
    float *p = (float *)xmalloc(n * sizeof *p);
    size_t i;
    for (i = 0; i < n; i++) p[i] = (float)((splitmix64(&seed) >> 40) * 0x1p-24) - 0.5f;
    return p;
}

/* The minimum over reps of one call's time; the call's status must be 0. */
#define TIME_MIN(label, reps, call)                                            \
    do {                                                                       \
        double best_ = INFINITY;                                               \
        int r_;                                                                \
        for (r_ = 0; r_ < (reps); r_++) {                                      \
            double t0_ = now_s();                                              \
            if ((call) != 0) {                                                 \
                fprintf(stderr, "bench_versions: %s failed\n", label);         \
                exit(1);                                                       \
            }                                                                  \
            t0_ = now_s() - t0_;                                               \
            if (t0_ < best_) best_ = t0_;                                      \
        }                                                                      \
        printf("%s %.6g\n", label, best_);                                     \
    } while (0)

static int draw(uint32_t *out, size_t m, const hr_alias *a, hr_rng *r) {
    hr_alias_draw_n(out, m, a, r);
    return 0;
}

int main(int argc, char **argv) {
    /* scale: 1 (default) or smaller for the scalar path, which is ~10x slower */
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    size_t n = quick ? 1024 : 2048, d = 256;
    float *w = rand_floats(n * d, 1), *c = (float *)xmalloc(n * sizeof *c);
    int32_t *nearest = (int32_t *)xmalloc(n * sizeof *nearest);
    float *a = rand_floats(4096 * 512, 2), *b = rand_floats(4096 * 512, 3);
    float *cc = (float *)xmalloc((size_t)4096 * 4096 * sizeof *cc);
    size_t sq = quick ? 256 : 512, na = 1000, m = 2000000;
    float *aw = rand_floats(na, 4);
    void *amem;
    hr_alias al;
    hr_rng rng;
    uint32_t *out = (uint32_t *)xmalloc(m * sizeof *out);
    hr_conv2d cd;
    float *x, *y, *k;
    size_t i;

    printf("# hardreid %s isa %s\n", HARDREID_VERSION_STRING, hr_isa_name(hr_get_isa()));
    TIME_MIN("difficulty_n2048_d256", 5, hr_difficulty(c, nearest, w, n, d, d, 0));
    TIME_MIN("normalize_n2048_d256", 9, hr_normalize_rows(w, d, w, d, n, d));
    TIME_MIN("gemm_nn_square", 5,
             hr_gemm(HR_NO_TRANS, HR_NO_TRANS, sq, sq, sq, 1.0f, a, sq, b, sq, 0.0f, cc, sq));
    TIME_MIN("gemm_nt_64x4096x512", 5,
             hr_gemm(HR_NO_TRANS, HR_TRANS, 64, 4096, 512, 1.0f, a, 512, b, 512, 0.0f, cc, 4096));
    TIME_MIN("gemm_nn_64x512x4096", 5,
             hr_gemm(HR_NO_TRANS, HR_NO_TRANS, 64, 512, 4096, 1.0f, a, 4096, b, 512, 0.0f, cc, 512));
    TIME_MIN("gemm_tn_4096x512x64", 5,
             hr_gemm(HR_TRANS, HR_NO_TRANS, 4096, 512, 64, 1.0f, a, 4096, b, 512, 0.0f, cc, 512));

    for (i = 0; i < na; i++) aw[i] += 0.5f;
    amem = xmalloc(hr_alias_size(na));
    TIME_MIN("alias_build_1e3", 31, hr_alias_build(&al, amem, aw, na));
    hr_rng_seed(&rng, 7);
    TIME_MIN("alias_draw_n_1e3_2e6", 7, draw(out, m, &al, &rng));

    memset(&cd, 0, sizeof cd);
    cd.n = quick ? 4 : 16, cd.h = 32, cd.w = 16, cd.c_in = cd.c_out = 64;
    cd.kh = cd.kw = 3, cd.pad_h = cd.pad_w = 1;
    x = rand_floats(cd.n * 32 * 16 * 64, 5), y = (float *)xmalloc(cd.n * 32 * 16 * 64 * sizeof *y);
    k = rand_floats(64 * 9 * 64, 6);
    TIME_MIN("conv3x3_64_32x16", 5, hr_conv2d_forward(&cd, y, x, k, NULL));
    cd.groups = 64;
    TIME_MIN("depthwise3x3_64_32x16", 5, hr_conv2d_forward(&cd, y, x, k, NULL));

    free(w), free(c), free(nearest), free(a), free(b), free(cc), free(aw), free(amem);
    free(out), free(x), free(y), free(k);
    return 0;
}
