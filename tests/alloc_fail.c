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

   The same for the training calls (hr_gemm, hr_fc_forward / _backward,
   hr_conv2d_forward / _backward_data / _backward_weight on every path,
   hr_head_loss; section "the training calls" below), on 1 and 2 threads:
   every output sentinel-filled and bitwise untouched after each failure,
   nothing leaked, the clean run checked against a naive double reference
   and the run after the failures equal to it bitwise; the shapes that
   need no workspace (hr_gemm with k == 0 or alpha == 0, a dbias alone)
   must not allocate.

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

/* The scale calls (hr_difficulty_pairs on a block with itself and on two
   blocks, hr_difficulty_update): every allocation failed in turn leaves the
   running maxima untouched and nothing leaked; afterwards the call gives
   the clean run's result. kind 0: pairs(a, NULL); 1: pairs(a, b); 2: update. */
static hr_status scale_call(int kind, float *c, int32_t *x, const float *w, size_t n,
                            size_t d, const int32_t *ch, size_t nch) {
    hr_block a, b;
    a.w = w; a.n = n / 3; a.ld = d; a.first = 0; a.c = c; a.nearest = x;
    b.w = w + a.n * d; b.n = n - a.n; b.ld = d; b.first = a.n; b.c = c + a.n; b.nearest = x + a.n;
    if (kind == 2) return hr_difficulty_update(c, x, w, n, d, d, ch, nch, 0, NULL);
    return hr_difficulty_pairs(&b, kind ? &a : NULL, d, 0);
}

static void alloc_fail_scale(int kind, size_t n, size_t d, int threads) {
    static const char *names[3] = {"pairs(a, NULL)", "pairs(a, b)", "update"};
    float *w = (float *)malloc(n * d * sizeof(float)), *c = (float *)malloc(n * sizeof(float));
    float *c0 = (float *)malloc(n * sizeof(float)), *cs = (float *)malloc(n * sizeof(float));
    int32_t *x = (int32_t *)malloc(n * sizeof(int32_t)), *x0 = (int32_t *)malloc(n * sizeof(int32_t));
    int32_t *xs = (int32_t *)malloc(n * sizeof(int32_t)), ch[3];
    size_t i, A, f;
    hr_status s;
    for (i = 0; i < n * d; i++) w[i] = unif();
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    /* the starting maxima: a real earlier result for update, reset ones
       for pairs */
    if (kind == 2) hr_difficulty(cs, xs, w, n, d, d, 0);
    else hr_maxima_reset(cs, xs, n);
    ch[0] = 1; ch[1] = (int32_t)(n / 2); ch[2] = (int32_t)(n - 1);
    for (i = 0; i < d; i++) w[(n / 2) * d + i] = -w[(n / 2) * d + i];
    memcpy(c0, cs, n * sizeof(float));
    memcpy(x0, xs, n * sizeof(int32_t));
    fa_reset(0);
    s = scale_call(kind, c0, x0, w, n, d, ch, 3);
    A = fa_calls;
    CHECK(s == HR_OK && fa_live == 0 && A >= 1, "%s n=%zu: clean run: status %d, %ld leaked, "
          "%zu allocations", names[kind], n, (int)s, fa_live, A);
    for (f = 1; f <= A; f++) {
        memcpy(c, cs, n * sizeof(float));
        memcpy(x, xs, n * sizeof(int32_t));
        fa_reset(f);
        s = scale_call(kind, c, x, w, n, d, ch, 3);
        CHECK(s == HR_ENOMEM, "%s n=%zu threads=%d: allocation %zu of %zu fails: status %d",
              names[kind], n, threads, f, A, (int)s);
        CHECK(!memcmp(c, cs, n * sizeof(float)) && !memcmp(x, xs, n * sizeof(int32_t)),
              "%s n=%zu: allocation %zu of %zu fails: maxima written", names[kind], n, f, A);
        CHECK(fa_live == 0, "%s n=%zu: allocation %zu of %zu fails: %ld leaked",
              names[kind], n, f, A, fa_live);
    }
    memcpy(c, cs, n * sizeof(float));
    memcpy(x, xs, n * sizeof(int32_t));
    fa_reset(0);
    s = scale_call(kind, c, x, w, n, d, ch, 3);
    CHECK(s == HR_OK && !memcmp(c, c0, n * sizeof(float)) && !memcmp(x, x0, n * sizeof(int32_t)),
          "%s n=%zu: run after the failures differs", names[kind], n);
    printf("  %-17s n=%-5zu d=%-4zu threads=%d: %zu allocations, each failed in turn\n",
           names[kind], n, d, threads, A);
    free(w); free(c); free(c0); free(cs); free(x); free(x0); free(xs);
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
    /* the scale calls */
    {
        hr_block a, b;
        int32_t ch = 0;
        a.w = w; a.n = 2; a.ld = 1; a.first = 0; a.c = c; a.nearest = x;
        b = a;
        b.ld = big;
        LIMIT(hr_difficulty_pairs(&b, NULL, 1, 0), HR_EOVERFLOW, "pairs: n*ld");
        b.ld = 1;
        b.first = 2;
        b.n = (size_t)INT32_MAX; /* first + n past INT32_MAX + 1 */
        LIMIT(hr_difficulty_pairs(&a, &b, 1, 0), HR_EINVAL, "pairs: global index > INT32_MAX");
        LIMIT(hr_difficulty_update(c, x, w, 2, 1, big, &ch, 1, 0, NULL), HR_EOVERFLOW,
              "update: n*ldw");
        LIMIT(hr_difficulty_update(c, x, w, (size_t)INT32_MAX + 1, 1, 1, &ch, 1, 0, NULL),
              HR_EINVAL, "update: n > INT32_MAX");
    }
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

/* ---- the training calls ---------------------------------------------------
   hr_gemm, hr_fc_forward / _backward, hr_conv2d_forward / _backward_data /
   _backward_weight and hr_head_loss each plan (every check) and allocate
   before the first write, so each must pass the same test as
   hr_difficulty. Their HR_MALLOC calls all happen outside parallel
   regions: one workspace per call (the GEMM packing memory, sized for the
   team, is part of it), the depthwise paths' transposed kernel, and for
   the flipped backward data (3x3 and the like, stride 1) the flipped
   kernel and then the forward's workspace; so the count (printed per team
   size) does not depend on the team, and fa_calls needs no atomics.

   One case: a call, its inputs, and up to 4 outputs (NULL when on[i] is
   0), each with initial contents init[i] (the backward calls accumulate).
   The clean run, from init, is checked against a naive double reference
   (hr_head_loss: against itself only); failed runs start from sentinels
   and must leave them; the run after the failures, from init again, must
   equal the clean run bitwise, and so must a team of 2's. */
enum tc_kind { TC_GEMM, TC_FC_FWD, TC_FC_BWD, TC_CONV_FWD, TC_CONV_BWD_DATA,
               TC_CONV_BWD_WEIGHT, TC_HEAD };

typedef struct tc {
    enum tc_kind kind;
    char name[96];
    size_t alloc_min;       /* 0: must not allocate; else at least this many */
    /* hr_gemm */
    hr_trans ta, tb;
    size_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    /* hr_fc_*: batch, in, out (also the head's batch) */
    size_t batch, in, out;
    /* hr_conv2d_* */
    hr_conv2d cd;
    size_t oh, ow;
    /* hr_head_loss */
    hr_head h;
    size_t d, classes;
    int32_t *labels;
    /* inputs (meaning by kind, see tc_call) and outputs */
    float *a[3];
    float *o[4], *init[4], *res[4], *res1[4];
    size_t on[4];
} tc;

static float *tc_rand(size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = unif();
    return p;
}

/* output i: n floats, random initial contents */
static void tc_out(tc *t, int i, size_t n) {
    t->on[i] = n;
    t->init[i] = tc_rand(n);
    t->o[i] = (float *)malloc((n ? n : 1) * sizeof(float));
    t->res[i] = (float *)malloc((n ? n : 1) * sizeof(float));
    t->res1[i] = (float *)malloc((n ? n : 1) * sizeof(float));
}

static void tc_free(tc *t) {
    int i;
    for (i = 0; i < 3; i++) free(t->a[i]);
    for (i = 0; i < 4; i++) {
        free(t->o[i]);
        free(t->init[i]);
        free(t->res[i]);
        free(t->res1[i]);
    }
    free(t->labels);
}

#define TC_O(t, i) ((t)->on[i] ? (t)->o[i] : NULL)

static hr_status tc_call(const tc *t) {
    switch (t->kind) {
    case TC_GEMM: /* a[0] A, a[1] B; o[0] C */
        return hr_gemm(t->ta, t->tb, t->m, t->n, t->k, t->alpha, t->a[0], t->lda, t->a[1],
                       t->ldb, t->beta, t->o[0], t->ldc);
    case TC_FC_FWD: /* a[0] x, a[1] w, a[2] bias or NULL; o[0] y */
        return hr_fc_forward(t->o[0], t->a[0], t->a[1], t->a[2], t->batch, t->in, t->out);
    case TC_FC_BWD: /* a[0] dy, a[1] x, a[2] w; o[0] dx, o[1] dw, o[2] dbias */
        return hr_fc_backward(TC_O(t, 0), TC_O(t, 1), TC_O(t, 2), t->a[0], t->a[1], t->a[2],
                              t->batch, t->in, t->out);
    case TC_CONV_FWD: /* a[0] x, a[1] w, a[2] bias or NULL; o[0] y */
        return hr_conv2d_forward(&t->cd, t->o[0], t->a[0], t->a[1], t->a[2]);
    case TC_CONV_BWD_DATA: /* a[0] dy, a[1] w; o[0] dx */
        return hr_conv2d_backward_data(&t->cd, t->o[0], t->a[0], t->a[1]);
    case TC_CONV_BWD_WEIGHT: /* a[0] dy, a[1] x; o[0] dw, o[1] dbias */
        return hr_conv2d_backward_weight(&t->cd, TC_O(t, 0), TC_O(t, 1), t->a[0], t->a[1]);
    case TC_HEAD: /* a[0] x, a[1] w; o[0] loss, o[1] logits, o[2] dx, o[3] dw */
        return hr_head_loss(&t->h, t->o[0], TC_O(t, 1), TC_O(t, 2), TC_O(t, 3), t->a[0],
                            t->a[1], t->labels, t->batch, t->d, t->classes);
    }
    return HR_EINVAL;
}

/* ---- naive double references: e[i] expected, g[i] the sum of |terms| ---- */
static void ref_conv(const tc *t, double **e, double **g) {
    const hr_conv2d *cd = &t->cd;
    const size_t kh = cd->kh ? cd->kh : 1, kw = cd->kw ? cd->kw : 1;
    const size_t sh = cd->stride_h ? cd->stride_h : 1, sw = cd->stride_w ? cd->stride_w : 1;
    const size_t G = cd->groups ? cd->groups : 1, cig = cd->c_in / G, cog = cd->c_out / G;
    size_t img, oy, ox, co, ky, kx, ci;
    for (img = 0; img < cd->n; img++)
        for (oy = 0; oy < t->oh; oy++)
            for (ox = 0; ox < t->ow; ox++)
                for (co = 0; co < cd->c_out; co++) {
                    const size_t yi = ((img * t->oh + oy) * t->ow + ox) * cd->c_out + co;
                    const size_t gi = co / cog;
                    if (t->kind == TC_CONV_FWD && t->a[2]) {
                        e[0][yi] += t->a[2][co];
                        g[0][yi] += fabs(t->a[2][co]);
                    }
                    if (t->kind == TC_CONV_BWD_WEIGHT && t->on[1]) {
                        e[1][co] += t->a[0][yi];
                        g[1][co] += fabs(t->a[0][yi]);
                    }
                    for (ky = 0; ky < kh; ky++)
                        for (kx = 0; kx < kw; kx++) {
                            const size_t iy = oy * sh + ky, ix = ox * sw + kx;
                            if (iy < cd->pad_h || iy - cd->pad_h >= cd->h || ix < cd->pad_w ||
                                ix - cd->pad_w >= cd->w)
                                continue;
                            for (ci = 0; ci < cig; ci++) {
                                const size_t xi = ((img * cd->h + iy - cd->pad_h) * cd->w + ix -
                                                   cd->pad_w) * cd->c_in + gi * cig + ci;
                                const size_t wi = ((co * kh + ky) * kw + kx) * cig + ci;
                                double p;
                                switch (t->kind) {
                                case TC_CONV_FWD:
                                    p = (double)t->a[0][xi] * t->a[1][wi];
                                    e[0][yi] += p, g[0][yi] += fabs(p);
                                    break;
                                case TC_CONV_BWD_DATA:
                                    p = (double)t->a[0][yi] * t->a[1][wi];
                                    e[0][xi] += p, g[0][xi] += fabs(p);
                                    break;
                                default:
                                    if (!t->on[0]) break;
                                    p = (double)t->a[0][yi] * t->a[1][xi];
                                    e[0][wi] += p, g[0][wi] += fabs(p);
                                    break;
                                }
                            }
                        }
                }
}

static void ref_compute(const tc *t, double **e, double **g) {
    size_t i, j, p;
    switch (t->kind) {
    case TC_GEMM:
        for (i = 0; i < t->m; i++)
            for (j = 0; j < t->n; j++) {
                double s = 0.0, sa = 0.0, c0 = t->init[0][i * t->ldc + j];
                for (p = 0; p < t->k; p++) {
                    const double x = t->ta ? t->a[0][p * t->lda + i] : t->a[0][i * t->lda + p];
                    const double y = t->tb ? t->a[1][j * t->ldb + p] : t->a[1][p * t->ldb + j];
                    s += x * y;
                    sa += fabs(x * y);
                }
                if (t->k == 0 || t->alpha == 0.0f) s = sa = 0.0;
                e[0][i * t->ldc + j] = t->alpha * s + (t->beta == 0.0f ? 0.0 : t->beta * c0);
                g[0][i * t->ldc + j] = fabs(t->alpha) * sa + fabs(t->beta * c0);
            }
        break;
    case TC_FC_FWD:
        for (i = 0; i < t->batch; i++)
            for (j = 0; j < t->out; j++) {
                double s = t->a[2] ? t->a[2][j] : 0.0, sa = fabs(s);
                for (p = 0; p < t->in; p++) {
                    const double q = (double)t->a[0][i * t->in + p] * t->a[1][j * t->in + p];
                    s += q;
                    sa += fabs(q);
                }
                e[0][i * t->out + j] = s;
                g[0][i * t->out + j] = sa;
            }
        break;
    case TC_FC_BWD: /* dx += dy w, dw += dy^T x, dbias += colsum dy */
        for (i = 0; i < t->batch; i++)
            for (j = 0; j < t->out; j++) {
                const double dy = t->a[0][i * t->out + j];
                if (t->on[2]) e[2][j] += dy, g[2][j] += fabs(dy);
                for (p = 0; p < t->in; p++) {
                    double q;
                    if (t->on[0]) {
                        q = dy * t->a[2][j * t->in + p];
                        e[0][i * t->in + p] += q, g[0][i * t->in + p] += fabs(q);
                    }
                    if (t->on[1]) {
                        q = dy * t->a[1][i * t->in + p];
                        e[1][j * t->in + p] += q, g[1][j * t->in + p] += fabs(q);
                    }
                }
            }
        break;
    case TC_CONV_FWD:
    case TC_CONV_BWD_DATA:
    case TC_CONV_BWD_WEIGHT:
        ref_conv(t, e, g);
        break;
    case TC_HEAD:
        break;
    }
}

/* the clean run's outputs against the naive reference (not the head) */
static void ref_check(const tc *t) {
    double *e[4] = {NULL, NULL, NULL, NULL}, *g[4] = {NULL, NULL, NULL, NULL};
    size_t i, bad = 0, first = 0;
    int o, badout = -1;
    if (t->kind == TC_HEAD) return;
    for (o = 0; o < 4; o++) {
        if (!t->on[o]) continue;
        e[o] = (double *)malloc(t->on[o] * sizeof(double));
        g[o] = (double *)malloc(t->on[o] * sizeof(double));
        for (i = 0; i < t->on[o]; i++) { /* accumulating calls start from init */
            const int acc = t->kind == TC_FC_BWD || t->kind == TC_CONV_BWD_DATA ||
                            t->kind == TC_CONV_BWD_WEIGHT || t->kind == TC_GEMM;
            e[o][i] = acc ? t->init[o][i] : 0.0;
            g[o][i] = acc ? fabs(t->init[o][i]) : 0.0;
        }
    }
    ref_compute(t, e, g);
    for (o = 0; o < 4; o++) {
        if (!t->on[o]) continue;
        for (i = 0; i < t->on[o]; i++)
            if (!(fabs((double)t->res[o][i] - e[o][i]) <= 1e-5 * g[o][i] + 1e-30)) {
                if (!bad++) first = i, badout = o;
            }
        free(e[o]);
        free(g[o]);
    }
    CHECK(bad == 0, "%s: %zu elements off the naive reference (first: output %d, [%zu])",
          t->name, bad, badout, first);
}

static void tc_fill(const tc *t, int from_init) {
    int o;
    size_t i;
    for (o = 0; o < 4; o++) {
        if (from_init) {
            if (t->on[o]) memcpy(t->o[o], t->init[o], t->on[o] * sizeof(float));
        } else {
            for (i = 0; i < t->on[o]; i++) t->o[o][i] = SENT_F;
        }
    }
}
static int tc_untouched(const tc *t) {
    int o;
    size_t i;
    for (o = 0; o < 4; o++)
        for (i = 0; i < t->on[o]; i++)
            if (memcmp(&t->o[o][i], &(float){SENT_F}, sizeof(float))) return 0;
    return 1;
}
/* outputs (o) against res (which 0) or res1 (which 1), bitwise */
static int tc_same(const tc *t, int which) {
    int o;
    for (o = 0; o < 4; o++)
        if (t->on[o] &&
            memcmp(which ? t->res1[o] : t->o[o], t->res[o], t->on[o] * sizeof(float)))
            return 0;
    return 1;
}

static void train_fail_one(tc *t, int threads) {
    size_t A, f;
    int o;
    hr_status s;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    /* clean run, normal allocation */
    tc_fill(t, 1);
    fa_reset(0);
    s = tc_call(t);
    A = fa_calls;
    CHECK(s == HR_OK, "%s threads=%d: clean run: status %d", t->name, threads, (int)s);
    CHECK(fa_live == 0, "%s: clean run leaks %ld allocations", t->name, fa_live);
    for (o = 0; o < 4; o++)
        if (t->on[o]) memcpy(t->res[o], t->o[o], t->on[o] * sizeof(float));
    if (threads == 1) {
        ref_check(t);
        for (o = 0; o < 4; o++)
            if (t->on[o]) memcpy(t->res1[o], t->res[o], t->on[o] * sizeof(float));
    } else {
        CHECK(tc_same(t, 1), "%s: a team of %d differs from one thread", t->name, threads);
    }
    if (!t->alloc_min) {
        CHECK(A == 0, "%s: %zu allocations, documented/planned to need none", t->name, A);
        tc_fill(t, 1);
        fa_reset(1); /* the first allocation, if any, fails */
        s = tc_call(t);
        CHECK(s == HR_OK && fa_calls == 0 && fa_live == 0 && tc_same(t, 0),
              "%s: with every allocation failing: status %d, %zu allocation attempts",
              t->name, (int)s, fa_calls);
    } else {
        CHECK(A >= t->alloc_min, "%s: %zu allocations counted, want >= %zu (the path?)",
              t->name, A, t->alloc_min);
    }
    for (f = 1; f <= A; f++) {
        tc_fill(t, 0);
        fa_reset(f);
        s = tc_call(t);
        CHECK(s == HR_ENOMEM, "%s threads=%d: allocation %zu of %zu fails: status %d, "
              "want HR_ENOMEM", t->name, threads, f, A, (int)s);
        CHECK(tc_untouched(t), "%s threads=%d: allocation %zu of %zu fails: outputs written",
              t->name, threads, f, A);
        CHECK(fa_live == 0, "%s threads=%d: allocation %zu of %zu fails: %ld allocations "
              "leaked", t->name, threads, f, A, fa_live);
        CHECK(fa_calls <= A, "%s: %zu allocation attempts after a failure (clean: %zu)",
              t->name, fa_calls, A);
        fa_live = 0; /* report a leak once, not again in every later check */
    }
    /* and afterwards the call works again, with the same result */
    tc_fill(t, 1);
    fa_reset(0);
    s = tc_call(t);
    CHECK(s == HR_OK && fa_live == 0 && tc_same(t, 0),
          "%s threads=%d: run after the failures: status %d, or differs", t->name, threads,
          (int)s);
    printf("  %-50s threads=%d: %zu allocation%s%s\n", t->name, threads, A,
           A == 1 ? "" : "s", A ? ", each failed in turn" : "");
}

/* ---- the cases ------------------------------------------------------------ */
static void tc_gemm(tc *t, hr_trans ta, hr_trans tb, size_t m, size_t n, size_t k,
                    float alpha, float beta) {
    memset(t, 0, sizeof *t);
    t->kind = TC_GEMM;
    t->ta = ta, t->tb = tb, t->m = m, t->n = n, t->k = k, t->alpha = alpha, t->beta = beta;
    /* strides past the minimum: columns n..ldc-1 of C must stay as they were */
    t->lda = (ta ? m : k) + 3;
    t->ldb = (tb ? k : n) + 1;
    t->ldc = n + 2;
    t->a[0] = tc_rand((ta ? k : m) * t->lda);
    t->a[1] = tc_rand((tb ? n : k) * t->ldb);
    tc_out(t, 0, m * t->ldc);
    t->alloc_min = m && n && k && alpha != 0.0f;
    snprintf(t->name, sizeof t->name, "hr_gemm %c%c m=%zu n=%zu k=%zu a=%g b=%g",
             ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, beta);
}

static void tc_fc(tc *t, int fwd, size_t batch, size_t in, size_t out, int bias, int dx,
                  int dw, int db) {
    memset(t, 0, sizeof *t);
    t->batch = batch, t->in = in, t->out = out;
    if (fwd) {
        t->kind = TC_FC_FWD;
        t->a[0] = tc_rand(batch * in);
        t->a[1] = tc_rand(out * in);
        t->a[2] = bias ? tc_rand(out) : NULL;
        tc_out(t, 0, batch * out);
        t->alloc_min = 1;
        snprintf(t->name, sizeof t->name, "hr_fc_forward %zux%zu->%zu%s", batch, in, out,
                 bias ? " bias" : "");
    } else {
        t->kind = TC_FC_BWD;
        t->a[0] = tc_rand(batch * out);
        t->a[1] = tc_rand(batch * in);
        t->a[2] = tc_rand(out * in);
        if (dx) tc_out(t, 0, batch * in);
        if (dw) tc_out(t, 1, out * in);
        if (db) tc_out(t, 2, out);
        t->alloc_min = dx || dw;
        snprintf(t->name, sizeof t->name, "hr_fc_backward %zux%zu->%zu%s%s%s", batch, in,
                 out, dx ? " dx" : "", dw ? " dw" : "", db ? " dbias" : "");
    }
}

/* kind: TC_CONV_*; bias (forward) / dw, db (backward weight) */
static void tc_conv(tc *t, enum tc_kind kind, const hr_conv2d *cd, const char *what,
                    int bias, int dw, int db) {
    size_t xs, ys, ws, G, kh, kw;
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->cd = *cd;
    G = cd->groups ? cd->groups : 1;
    kh = cd->kh ? cd->kh : 1;
    kw = cd->kw ? cd->kw : 1;
    CHECK(hr_conv2d_out_size(cd, &t->oh, &t->ow) == HR_OK, "%s: hr_conv2d_out_size", what);
    xs = cd->n * cd->h * cd->w * cd->c_in;
    ys = cd->n * t->oh * t->ow * cd->c_out;
    ws = cd->c_out * kh * kw * (cd->c_in / G);
    switch (kind) {
    case TC_CONV_FWD:
        t->a[0] = tc_rand(xs), t->a[1] = tc_rand(ws), t->a[2] = bias ? tc_rand(cd->c_out) : NULL;
        tc_out(t, 0, ys);
        t->alloc_min = 1;
        snprintf(t->name, sizeof t->name, "hr_conv2d_forward %s%s", what, bias ? " bias" : "");
        break;
    case TC_CONV_BWD_DATA: {
        /* stride 1, not 1x1 unpadded, not depthwise: flipped kernel + forward */
        const int depthwise = G > 1 && cd->c_in == G && cd->c_out == G;
        const int direct = kh == 1 && kw == 1 && cd->stride_h <= 1 && cd->stride_w <= 1 &&
                           !cd->pad_h && !cd->pad_w;
        const int flipped = !depthwise && !direct && cd->stride_h <= 1 && cd->stride_w <= 1;
        t->a[0] = tc_rand(ys), t->a[1] = tc_rand(ws);
        tc_out(t, 0, xs);
        t->alloc_min = flipped ? 2 : 1;
        snprintf(t->name, sizeof t->name, "hr_conv2d_backward_data %s (%s)", what,
                 depthwise ? "depthwise" : direct ? "direct" : flipped ? "flipped" : "col2im");
        break;
    }
    default:
        t->a[0] = tc_rand(ys), t->a[1] = tc_rand(xs);
        if (dw) tc_out(t, 0, ws);
        if (db) tc_out(t, 1, cd->c_out);
        t->alloc_min = dw != 0;
        snprintf(t->name, sizeof t->name, "hr_conv2d_backward_weight %s%s%s", what,
                 dw ? " dw" : "", db ? " dbias" : "");
        break;
    }
}

static void tc_head(tc *t, hr_head_kind kind, size_t batch, size_t d, size_t classes,
                    int logits, int dx, int dw) {
    size_t i;
    memset(t, 0, sizeof *t);
    t->kind = TC_HEAD;
    t->h = hr_head_default(kind);
    t->h.label_smoothing = 0.1f;
    t->batch = batch, t->d = d, t->classes = classes;
    t->a[0] = tc_rand(batch * d);
    t->a[1] = tc_rand(classes * d);
    t->labels = (int32_t *)malloc(batch * sizeof(int32_t));
    for (i = 0; i < batch; i++) t->labels[i] = (int32_t)((i * 7 + 3) % classes);
    tc_out(t, 0, 1);
    if (logits) tc_out(t, 1, batch * classes);
    if (dx) tc_out(t, 2, batch * d);
    if (dw) tc_out(t, 3, classes * d);
    t->alloc_min = 1;
    snprintf(t->name, sizeof t->name, "hr_head_loss %s %zux%zu c=%zu%s%s%s",
             kind == HR_HEAD_ARCFACE ? "arcface" : "softmax", batch, d, classes,
             logits ? " logits" : "", dx ? " dx" : "", dw ? " dw" : "");
}

static void train_fail(void) {
    enum { NT = 64 };
    static tc cases[NT];
    static const struct {
        const char *what;
        hr_conv2d cd;
    } convs[] = {
        /* n h w c_in c_out kh kw sh sw ph pw groups */
        {"3x3 p1 s1", {2, 10, 9, 16, 24, 3, 3, 1, 1, 1, 1, 1}},
        {"3x3 p1 s2", {2, 11, 10, 8, 12, 3, 3, 2, 2, 1, 1, 1}},
        {"3x3 p0 s1 (big)", {2, 14, 14, 32, 48, 3, 3, 1, 1, 0, 0, 1}},
        {"1x1", {2, 9, 8, 24, 40, 1, 1, 1, 1, 0, 0, 1}},
        {"1x1 s2", {2, 9, 8, 24, 40, 1, 1, 2, 2, 0, 0, 1}},
        {"dw 3x3 p1 s1", {2, 16, 16, 32, 32, 3, 3, 1, 1, 1, 1, 32}},
        {"dw 3x3 p1 s2", {2, 15, 13, 20, 20, 3, 3, 2, 2, 1, 1, 20}},
        {"g3 3x3 p1 s1", {2, 8, 8, 12, 18, 3, 3, 1, 1, 1, 1, 3}},
        {"g2 3x3 p1 s2", {2, 9, 9, 8, 12, 3, 3, 2, 2, 1, 1, 2}},
        {"g4 1x1", {2, 6, 7, 16, 8, 1, 1, 1, 1, 0, 0, 4}},
    };
    size_t nc = 0, i;
    int isa, threads;
    /* hr_gemm: packing shapes (m, n, k >= 64; the last two >= 1e6 flops: a
       team), and k == 0 / alpha == 0, which must not allocate */
    tc_gemm(&cases[nc++], HR_NO_TRANS, HR_NO_TRANS, 64, 64, 64, 1.5f, 0.5f);
    tc_gemm(&cases[nc++], HR_TRANS, HR_NO_TRANS, 65, 70, 67, 1.0f, 0.0f);
    tc_gemm(&cases[nc++], HR_NO_TRANS, HR_TRANS, 130, 140, 70, -0.75f, 1.0f);
    tc_gemm(&cases[nc++], HR_TRANS, HR_TRANS, 100, 96, 300, 1.0f, 0.0f);
    tc_gemm(&cases[nc++], HR_NO_TRANS, HR_NO_TRANS, 64, 64, 0, 1.0f, 0.5f);
    tc_gemm(&cases[nc++], HR_NO_TRANS, HR_TRANS, 64, 64, 64, 0.0f, 2.0f);
    tc_gemm(&cases[nc++], HR_NO_TRANS, HR_NO_TRANS, 64, 64, 64, 0.0f, 0.0f);
    /* hr_fc_*: with and without bias; each gradient alone, then all */
    tc_fc(&cases[nc++], 1, 32, 96, 80, 0, 0, 0, 0);
    tc_fc(&cases[nc++], 1, 32, 96, 80, 1, 0, 0, 0);
    tc_fc(&cases[nc++], 1, 64, 128, 160, 1, 0, 0, 0);
    tc_fc(&cases[nc++], 0, 32, 96, 80, 0, 1, 0, 0);
    tc_fc(&cases[nc++], 0, 32, 96, 80, 0, 0, 1, 0);
    tc_fc(&cases[nc++], 0, 32, 96, 80, 0, 0, 0, 1); /* dbias alone: no allocation */
    tc_fc(&cases[nc++], 0, 32, 96, 80, 0, 1, 1, 1);
    tc_fc(&cases[nc++], 0, 64, 128, 160, 0, 1, 1, 1);
    /* hr_conv2d_*: general (backward data flipped), stride 2 (col2im), 1x1
       (direct; strided: im2col), depthwise, grouped */
    for (i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        tc_conv(&cases[nc++], TC_CONV_FWD, &convs[i].cd, convs[i].what, 1, 0, 0);
        if (i == 0 || i == 3) tc_conv(&cases[nc++], TC_CONV_FWD, &convs[i].cd, convs[i].what, 0, 0, 0);
        tc_conv(&cases[nc++], TC_CONV_BWD_DATA, &convs[i].cd, convs[i].what, 0, 0, 0);
        tc_conv(&cases[nc++], TC_CONV_BWD_WEIGHT, &convs[i].cd, convs[i].what, 0, 1, 1);
        if (i == 0 || i == 5) /* dw alone; dbias alone (no allocation) */
            tc_conv(&cases[nc++], TC_CONV_BWD_WEIGHT, &convs[i].cd, convs[i].what, 0, 1, 0),
            tc_conv(&cases[nc++], TC_CONV_BWD_WEIGHT, &convs[i].cd, convs[i].what, 0, 0, 1);
    }
    /* hr_head_loss: softmax and arcface, dx and dw (and logits); loss only */
    tc_head(&cases[nc++], HR_HEAD_SOFTMAX, 16, 64, 40, 1, 1, 1);
    tc_head(&cases[nc++], HR_HEAD_ARCFACE, 16, 64, 40, 1, 1, 1);
    tc_head(&cases[nc++], HR_HEAD_ARCFACE, 16, 64, 40, 0, 1, 0);
    tc_head(&cases[nc++], HR_HEAD_SOFTMAX, 16, 64, 40, 0, 0, 1);
    tc_head(&cases[nc++], HR_HEAD_ARCFACE, 16, 64, 40, 0, 0, 0);
    tc_head(&cases[nc++], HR_HEAD_ARCFACE, 96, 128, 300, 1, 1, 1); /* a team */
    CHECK(nc <= NT, "too many cases");
    for (isa = 0; isa < 2; isa++) {
        if (hr_set_isa(isa ? HR_ISA_AUTO : HR_ISA_SCALAR) != HR_OK) continue;
        printf(" training calls, path %s\n", hr_isa_name(hr_get_isa()));
        for (i = 0; i < nc; i++)
            for (threads = 1; threads <= 2; threads++) {
#ifndef _OPENMP
                if (threads > 1) break;
#endif
                train_fail_one(&cases[i], threads);
            }
    }
    hr_set_isa(HR_ISA_AUTO);
    for (i = 0; i < nc; i++) tc_free(&cases[i]);
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
            for (i = 0; i < 3; i++) {
                alloc_fail_scale((int)i, 40, 7, threads);
                alloc_fail_scale((int)i, 3000, 9, threads); /* a team */
            }
        }
    }
    hr_set_isa(HR_ISA_AUTO);
    train_fail();
    no_alloc();
    limits();
    printf("alloc_fail: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
