/* tests/alloc_fail.c - allocation failure and size limits (make test-alloc).

   A program of its own, not a tests/test_*.c suite: it defines HR_MALLOC /
   HR_FREE (CONFIG MACROS in hardreid.h) as a counting allocator, which the
   suite's translation unit must not see.

   Allocation failure: for each allocating call (hr_difficulty and
   hr_neighbors_topk; on one thread and, with OpenMP, on a team of 2, which
   allocates one workspace per thread) and several shapes, a clean run
   counts the call's allocations A; then for every k = 1..A the k-th
   allocation fails: the call must return HR_ENOMEM, leave every output
   untouched and free everything it allocated. The calls documented as not
   allocating (hr_normalize_rows and the whole sampling half) must make no
   allocation at all.

   Size limits: the status each call documents for sizes no buffer can have
   (HR_EOVERFLOW for a size computation that overflows size_t, HR_EINVAL for
   n > INT32_MAX), returned before any element is read: the buffers passed
   are a few floats, so a call that read them would fault (or trip ASan). A
   size that fits size_t but no memory (a huge top-k) is HR_ENOMEM, with
   nothing leaked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t fa_calls;   /* HR_MALLOC calls since fa_reset */
static size_t fa_fail_at; /* this call (1-based) returns NULL; 0: none */
static long fa_live;      /* allocations not yet freed */

static void *fa_malloc(size_t sz) {
    void *p;
    if (++fa_calls == fa_fail_at) return NULL;
    p = malloc(sz);
    if (p) fa_live++;
    return p;
}
static void fa_free(void *p) {
    if (!p) return;
    fa_live--;
    free(p);
}
static void fa_reset(size_t fail_at) {
    fa_calls = 0;
    fa_fail_at = fail_at;
}

#define HR_MALLOC(sz) fa_malloc(sz)
#define HR_FREE(p) fa_free(p)
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int failures, checks;
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        checks++;                                                            \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

#define SENT_F 12345.5f
#define SENT_I ((int32_t)0x5A5A5A5A)

static uint64_t rng_state = 1;
static float unif(void) { /* splitmix64 -> [-1, 1) */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static void fill(float *v, int32_t *x, size_t m) {
    size_t i;
    for (i = 0; i < m; i++) {
        v[i] = SENT_F;
        x[i] = SENT_I;
    }
}
static int untouched(const float *v, const int32_t *x, size_t m) {
    size_t i;
    for (i = 0; i < m; i++)
        if (memcmp(&v[i], &(float){SENT_F}, sizeof(float)) || x[i] != SENT_I) return 0;
    return 1;
}

/* k == 0: hr_difficulty; else hr_neighbors_topk with that k */
static hr_status call(size_t k, float *v, int32_t *x, const float *w, size_t n,
                      size_t d, size_t ldw, unsigned flags) {
    return k ? hr_neighbors_topk(v, x, k, w, n, d, ldw, flags)
             : hr_difficulty(v, x, w, n, d, ldw, flags);
}

static void alloc_fail_one(size_t n, size_t d, size_t k, unsigned flags, int threads) {
    const size_t ldw = d + 1, m = n * (k ? k : 1);
    float *w = (float *)malloc((n ? n * ldw : 1) * sizeof(float));
    float *v = (float *)malloc((m ? m : 1) * sizeof(float));
    float *v0 = (float *)malloc((m ? m : 1) * sizeof(float));
    int32_t *x = (int32_t *)malloc((m ? m : 1) * sizeof(int32_t));
    int32_t *x0 = (int32_t *)malloc((m ? m : 1) * sizeof(int32_t));
    size_t i, A, f;
    hr_status s;
    const char *what = k ? "hr_neighbors_topk" : "hr_difficulty";
    for (i = 0; i < n * ldw; i++) w[i] = unif();
    if (flags & HR_UNIT_ROWS) hr_normalize_rows(w, ldw, w, ldw, n, d);
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    fa_reset(0);
    s = call(k, v0, x0, w, n, d, ldw, flags);
    A = fa_calls;
    CHECK(s == HR_OK, "%s n=%zu d=%zu k=%zu: clean run: status %d", what, n, d, k, (int)s);
    CHECK(fa_live == 0, "%s n=%zu: clean run leaks %ld allocations", what, n, fa_live);
    CHECK(A >= 1 || n == 0, "%s n=%zu: no allocation counted", what, n);
    for (f = 1; f <= A; f++) {
        fill(v, x, m);
        fa_reset(f);
        s = call(k, v, x, w, n, d, ldw, flags);
        CHECK(s == HR_ENOMEM, "%s n=%zu d=%zu k=%zu threads=%d: allocation %zu of %zu "
              "fails: status %d, want HR_ENOMEM", what, n, d, k, threads, f, A, (int)s);
        CHECK(untouched(v, x, m), "%s n=%zu: allocation %zu of %zu fails: outputs written",
              what, n, f, A);
        CHECK(fa_live == 0, "%s n=%zu d=%zu k=%zu threads=%d: allocation %zu of %zu "
              "fails: %ld allocations leaked", what, n, d, k, threads, f, A, fa_live);
        CHECK(fa_calls <= A, "%s: %zu allocation attempts after a failure (clean: %zu)",
              what, fa_calls, A);
    }
    /* and afterwards the call works again, with the same result */
    fa_reset(0);
    s = call(k, v, x, w, n, d, ldw, flags);
    CHECK(s == HR_OK && memcmp(v, v0, m * sizeof(float)) == 0 &&
              memcmp(x, x0, m * sizeof(int32_t)) == 0,
          "%s n=%zu: run after the failures differs", what, n);
    printf("  %-17s n=%-5zu d=%-4zu k=%zu flags=%u threads=%d: %zu allocations, "
           "each failed in turn\n", what, n, d, k, flags, threads, A);
    free(w);
    free(v);
    free(v0);
    free(x);
    free(x0);
}

/* The calls documented as not allocating make no HR_MALLOC call, even with
   every allocation set to fail. */
static void no_alloc(void) {
    enum { N = 300, D = 20, NL = 500 };
    static float w[N * D], p[N], c[N];
    static int32_t labels[NL], nearest[N];
    static uint32_t out[4096], draws[1000];
    static unsigned char amem[N * 8 + 4096], imem[NL * 12 + 4096];
    hr_alias a;
    hr_ids ix;
    hr_rng r;
    size_t i;
    for (i = 0; i < N * D; i++) w[i] = unif();
    for (i = 0; i < NL; i++) labels[i] = (int32_t)(i % 41) - 1;
    fa_reset(1); /* the first allocation, if any, fails */
    CHECK(hr_normalize_rows(w, D, w, D, N, D) == HR_OK, "hr_normalize_rows");
    CHECK(hr_ids_build(&ix, imem, labels, NL) == HR_OK && ix.nids == 40, "hr_ids_build");
    for (i = 0; i < ix.nids; i++) {
        c[i] = unif();
        nearest[i] = (int32_t)((i + 1) % ix.nids);
    }
    CHECK(hr_weights(p, c, ix.nids, HR_WEIGHT_SOFTMAX, 0.1f, 0.05f) == HR_OK, "hr_weights");
    CHECK(hr_alias_size(ix.nids) <= sizeof amem, "alias size");
    CHECK(hr_alias_build(&a, amem, p, ix.nids) == HR_OK, "hr_alias_build");
    hr_rng_seed(&r, 7);
    hr_rng_jump(&r);
    (void)hr_rng_below(&r, 1000);
    (void)hr_alias_draw(&a, &r);
    hr_alias_draw_n(draws, 1000, &a, &r);
    CHECK(hr_batch_hardest(out, &ix, c, 4, 20, nearest, 4, &r) == HR_OK, "hardest");
    CHECK(hr_batch_proportional(out, 64, &ix, &a, &r) == HR_OK, "proportional");
    CHECK(hr_batch_pk(out, 16, 4, &ix, NULL, &r) == HR_OK, "pk uniform");
    CHECK(hr_batch_pk(out, 39, 4, &ix, &a, &r) == HR_OK, "pk weighted");
    CHECK(fa_calls == 0 && fa_live == 0, "%zu allocations by calls documented not to allocate",
          fa_calls);
    printf("  normalize, rng, alias, ids, weights, batch builders: no allocation\n");
}

/* Sizes no buffer can have, refused before any access (w, c, x are tiny). */
static void limits(void) {
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8}, c[8], out[8];
    int32_t x[8];
    const size_t big = SIZE_MAX / 2 + 1;
    hr_status s;
#define LIMIT(expr, want, what)                                              \
    do {                                                                     \
        fill(c, x, 8);                                                       \
        fill(out, x, 8);                                                     \
        fa_reset(0);                                                         \
        s = (expr);                                                          \
        CHECK(s == (want), "%s: status %d (%s), want %d", what, (int)s,      \
              hr_status_string(s), (int)(want));                             \
        CHECK(untouched(c, x, 8) && untouched(out, x, 8),                    \
              "%s: outputs written", what);                                  \
        CHECK(fa_live == 0, "%s: leaked", what);                             \
    } while (0)
    /* hr_normalize_rows: (n-1)*ld + d floats must be addressable */
    LIMIT(hr_normalize_rows(out, 1, w, big, 4, 1), HR_EOVERFLOW, "normalize: n*ldi");
    LIMIT(hr_normalize_rows(out, big, w, 1, 4, 1), HR_EOVERFLOW, "normalize: n*ldo");
    LIMIT(hr_normalize_rows(out, SIZE_MAX / 2, w, SIZE_MAX / 2, 1, SIZE_MAX / 2),
          HR_EOVERFLOW, "normalize: d*sizeof(float)");
    LIMIT(hr_normalize_rows(out, 2, w, 1, 4, 2), HR_EINVAL, "normalize: ldi < d");
    /* hr_difficulty / hr_neighbors_topk */
    LIMIT(hr_difficulty(c, x, w, 2, 1, big, 0), HR_EOVERFLOW, "difficulty: n*ldw");
    LIMIT(hr_difficulty(c, x, w, 3, SIZE_MAX / 4, SIZE_MAX / 4, 0), HR_EOVERFLOW,
          "difficulty: n*ldw*sizeof(float)");
    LIMIT(hr_neighbors_topk(c, x, 3, w, 2, 1, big, 0), HR_EOVERFLOW, "topk: n*ldw");
#if SIZE_MAX > 0xFFFFFFFFu
    LIMIT(hr_difficulty(c, x, w, (size_t)INT32_MAX + 1, 1, 1, 0), HR_EINVAL,
          "difficulty: n > INT32_MAX");
    LIMIT(hr_neighbors_topk(c, x, 1, w, (size_t)INT32_MAX + 1, 1, 1, 0), HR_EINVAL,
          "topk: n > INT32_MAX");
    /* n = INT32_MAX passes the range check but (n-1)*ldw*4 overflows */
    LIMIT(hr_difficulty(c, x, w, (size_t)INT32_MAX, 1, SIZE_MAX / 8, 0), HR_EOVERFLOW,
          "difficulty: n = INT32_MAX, huge stride");
    /* the outputs themselves cannot exist: n*k*8 bytes overflow */
    LIMIT(hr_neighbors_topk(c, x, (size_t)1 << 62, w, 2, 1, 1, 0), HR_EOVERFLOW,
          "topk: n*k*(4+4) bytes");
    LIMIT(hr_neighbors_topk(c, x, SIZE_MAX, w, 2, 1, 1, 0), HR_EOVERFLOW, "topk: n*k");
    /* n*k*8 fits size_t, the per-thread workspace does not fit memory */
    LIMIT(hr_neighbors_topk(c, x, (size_t)1 << 59, w, 2, 4, 4, 0), HR_ENOMEM,
          "topk: k = 2^59 (workspace of 2^63 bytes)");
    LIMIT(hr_neighbors_topk(c, x, (size_t)1 << 58, w, 2, 4, 4, 0), HR_ENOMEM,
          "topk: k = 2^58");
#endif
    /* sizes of the caller-memory calls: 0 on overflow, monotone below */
    CHECK(hr_alias_size(SIZE_MAX / 8) == 0, "hr_alias_size(SIZE_MAX / 8)");
    CHECK(hr_alias_size(SIZE_MAX) == 0, "hr_alias_size(SIZE_MAX)");
    CHECK(hr_alias_size((size_t)INT32_MAX) >= (size_t)INT32_MAX * 8,
          "hr_alias_size(INT32_MAX) = %zu", hr_alias_size((size_t)INT32_MAX));
    CHECK(hr_ids_size(SIZE_MAX / 4) == 0, "hr_ids_size(SIZE_MAX / 4)");
    CHECK(hr_ids_size(SIZE_MAX) == 0, "hr_ids_size(SIZE_MAX)");
    CHECK(hr_ids_size((size_t)INT32_MAX) >= (size_t)INT32_MAX * 12,
          "hr_ids_size(INT32_MAX) = %zu", hr_ids_size((size_t)INT32_MAX));
    {
        hr_alias a;
        hr_ids ix;
        unsigned char mem[64];
        int32_t lab[2] = {0, 1};
        memset(&a, 0x5A, sizeof a);
        CHECK(hr_alias_build(&a, mem, w, (size_t)INT32_MAX + 1) == HR_EINVAL,
              "alias: n > INT32_MAX");
        CHECK(hr_ids_build(&ix, mem, lab, (size_t)INT32_MAX + 1) == HR_EINVAL,
              "ids: n > INT32_MAX");
    }
#undef LIMIT
    printf("  size limits: HR_EOVERFLOW / HR_EINVAL before any access, HR_ENOMEM "
           "for a workspace past memory\n");
}

int main(void) {
    static const size_t shapes[][3] = {
        /* n, d, k */
        {1, 4, 0}, {2, 3, 0}, {37, 19, 0}, {37, 19, 1}, {37, 19, 5},
        {300, 600, 0}, {300, 600, 4}, /* several k blocks (partial tiles) */
        {1500, 8, 0}, {1500, 8, 3},  /* >= 1e6 pairs: a thread team */
    };
    size_t i;
    int isa, threads;
    printf("alloc_fail: allocation failure and size limits\n");
    for (isa = 0; isa < 2; isa++) {
        if (hr_set_isa(isa ? HR_ISA_AUTO : HR_ISA_SCALAR) != HR_OK) continue;
        printf(" path %s\n", hr_isa_name(hr_get_isa()));
        for (threads = 1; threads <= 2; threads++) {
#ifndef _OPENMP
            if (threads > 1) break;
#endif
            for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
                if (threads > 1 && shapes[i][0] < 1500) continue;
                alloc_fail_one(shapes[i][0], shapes[i][1], shapes[i][2], 0, threads);
            }
            if (threads == 1) alloc_fail_one(37, 19, 0, HR_UNIT_ROWS, 1);
        }
    }
    hr_set_isa(HR_ISA_AUTO);
    no_alloc();
    limits();
    printf("alloc_fail: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
