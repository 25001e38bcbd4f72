/* tests/test_repro.c - reproducibility guarantees not covered elsewhere.

   test_difficulty.c's thread_invariance covers one column block and (on
   AVX2/NEON) one k block; test_sampling.c covers same-seed batches on one
   path and mode B across paths. Added here:
   - thread-count invariance where the threaded driver does the most: two
     column blocks (a B panel per thread) and two k blocks (partial tiles
     kept between blocks), with 1..4 threads, on the best path (the driver
     and merge are ISA-free; the scalar path at this size costs seconds);
   - results bitwise independent of W's alignment and row stride, and of
     calls on another path in between (no hidden state);
   - the alias table and modes A and P x K the same on every path;
   - the whole step, W -> difficulty -> weights -> alias -> batches, the same
     batches for any thread count. */
#include "harness.h"
#include "hardreid.h"

static void gen(float *w, size_t n, size_t d, size_t ldw, uint64_t seed) {
    size_t i, t;
    for (i = 0; i < n; i++)
        for (t = 0; t < ldw; t++) {
            /* every 5th row a noisy copy of an earlier one: close competitors */
            float v = hr_t_unif(&seed);
            if (i >= 5 && i % 5 == 0 && t < d) v = w[(i / 2) * ldw + t] + 0.01f * v;
            w[i * ldw + t] = t < d ? v : NAN;
        }
}

/* Emulated runs (HR_TEST_QUICK) skip it: a call at this size takes seconds
   under qemu, and no smaller n reaches a team (1e6 pairs) with two column
   blocks. */
#if defined(_OPENMP) && !defined(HR_TEST_QUICK)
/* ------------------------------------------ threads: column and k blocks */

Test(repro, thread_invariance_blocks) {
    /* AVX2/NEON: nc = 1008 columns per block (2 blocks), kc = 512 (2 k
       blocks); n(n-1)/2 >= 1e6 pairs, so the call uses a team */
    const size_t n = 1500, d = 520, k = 3;
    static const int nts[] = {1, 2, 3, 4};
    const int keep = omp_get_max_threads();
    float *w = (float *)hr_t_alloc(n * d * sizeof(float));
    float *c0 = (float *)hr_t_alloc(n * sizeof(float));
    float *c1 = (float *)hr_t_alloc(n * sizeof(float));
    float *s0 = (float *)hr_t_alloc(n * k * sizeof(float));
    float *s1 = (float *)hr_t_alloc(n * k * sizeof(float));
    int32_t *j0 = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
    int32_t *j1 = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
    int32_t *x0 = (int32_t *)hr_t_alloc(n * k * sizeof(int32_t));
    int32_t *x1 = (int32_t *)hr_t_alloc(n * k * sizeof(int32_t));
    size_t q;
    gen(w, n, d, d, 0xB10C);
    cr_assert_eq(hr_set_isa(HR_ISA_AUTO), HR_OK, "auto");
    for (q = 0; q < sizeof nts / sizeof nts[0]; q++) {
        omp_set_num_threads(nts[q]);
        cr_assert_eq(hr_difficulty(q ? c1 : c0, q ? j1 : j0, w, n, d, d, 0), HR_OK,
                     "difficulty");
        cr_assert_eq(hr_neighbors_topk(q ? s1 : s0, q ? x1 : x0, k, w, n, d, d, 0),
                     HR_OK, "topk");
        if (!q) continue;
        cr_assert(!memcmp(c0, c1, n * sizeof(float)) && !memcmp(j0, j1, n * sizeof(int32_t)),
                  "[%s] n=%zu d=%zu: difficulty with %d threads != 1 thread",
                  hr_isa_name(hr_get_isa()), n, d, nts[q]);
        cr_assert(!memcmp(s0, s1, n * k * sizeof(float)) &&
                      !memcmp(x0, x1, n * k * sizeof(int32_t)),
                  "[%s] n=%zu d=%zu: top-%zu with %d threads != 1 thread",
                  hr_isa_name(hr_get_isa()), n, d, k, nts[q]);
    }
    hr_t_log("thread invariance over 2 column and 2 k blocks: %s, up to %d threads",
             hr_isa_name(hr_get_isa()), nts[sizeof nts / sizeof nts[0] - 1]);
    omp_set_num_threads(keep);
    free(w);
    free(c0);
    free(c1);
    free(s0);
    free(s1);
    free(j0);
    free(j1);
    free(x0);
    free(x1);
}
#endif

/* --------------------------------------------- alignment, stride, state */

typedef struct {
    size_t n, d, k;
    const float *v; /* n x d, packed */
} layout_ctx;

static void layout_one(hr_isa isa, void *vctx) {
    const layout_ctx *x = (const layout_ctx *)vctx;
    const size_t n = x->n, d = x->d, k = x->k;
    static const size_t offs[] = {0, 1, 3, 7}, pads[] = {0, 1, 5};
    float *c0 = (float *)hr_t_alloc(n * sizeof(float));
    float *c1 = (float *)hr_t_alloc(n * sizeof(float));
    float *s0 = (float *)hr_t_alloc(n * k * sizeof(float));
    float *s1 = (float *)hr_t_alloc(n * k * sizeof(float));
    int32_t *j0 = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
    int32_t *j1 = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
    int32_t *x0 = (int32_t *)hr_t_alloc(n * k * sizeof(int32_t));
    int32_t *x1 = (int32_t *)hr_t_alloc(n * k * sizeof(int32_t));
    size_t a, b, i, t;
    cr_assert_eq(hr_difficulty(c0, j0, x->v, n, d, d, 0), HR_OK, "difficulty");
    cr_assert_eq(hr_neighbors_topk(s0, x0, k, x->v, n, d, d, 0), HR_OK, "topk");
    for (a = 0; a < 4; a++)
        for (b = 0; b < 3; b++) {
            const size_t ldw = d + pads[b];
            float *buf = (float *)hr_t_alloc((n * ldw + offs[a]) * sizeof(float));
            float *w = buf + offs[a]; /* 4-byte aligned only */
            for (i = 0; i < n; i++)
                for (t = 0; t < ldw; t++) w[i * ldw + t] = t < d ? x->v[i * d + t] : NAN;
            /* another path in between: no state may carry over */
            if (hr_isa_supported(HR_ISA_SCALAR) && isa != HR_ISA_SCALAR) {
                cr_assert_eq(hr_set_isa(HR_ISA_SCALAR), HR_OK, "scalar");
                cr_assert_eq(hr_difficulty(c1, j1, w, n, d, ldw, 0), HR_OK, "difficulty");
                cr_assert_eq(hr_set_isa(isa), HR_OK, "back");
            }
            cr_assert_eq(hr_difficulty(c1, j1, w, n, d, ldw, 0), HR_OK, "difficulty");
            cr_assert_eq(hr_neighbors_topk(s1, x1, k, w, n, d, ldw, 0), HR_OK, "topk");
            cr_assert(!memcmp(c0, c1, n * sizeof(float)) && !memcmp(j0, j1, n * sizeof(int32_t)),
                      "[%s] n=%zu d=%zu: difficulty at offset %zu floats, ldw %zu differs "
                      "from packed and aligned", hr_isa_name(isa), n, d, offs[a], ldw);
            cr_assert(!memcmp(s0, s1, n * k * sizeof(float)) &&
                          !memcmp(x0, x1, n * k * sizeof(int32_t)),
                      "[%s] n=%zu d=%zu: top-%zu at offset %zu floats, ldw %zu differs",
                      hr_isa_name(isa), n, d, k, offs[a], ldw);
            free(buf);
        }
    free(c0);
    free(c1);
    free(s0);
    free(s1);
    free(j0);
    free(j1);
    free(x0);
    free(x1);
}

Test(repro, alignment_and_stride) {
    /* d: below a vector, odd, past one scalar k block (256) */
    static const size_t shapes[][2] = {{50, 5}, {97, 37}, {40, 300}};
    size_t s;
    for (s = 0; s < 3; s++) {
        layout_ctx x;
        float *v = (float *)hr_t_alloc(shapes[s][0] * shapes[s][1] * sizeof(float));
        gen(v, shapes[s][0], shapes[s][1], shapes[s][1], 0xA11 + s);
        x.n = shapes[s][0];
        x.d = shapes[s][1];
        x.k = 4;
        x.v = v;
        for_each_isa(layout_one, &x);
        free(v);
    }
}

/* ------------------------------------------- sampling: same on every path */

typedef struct {
    const hr_ids *ix;
    const float *c, *p;
    const int32_t *nearest;
    uint64_t tab[64];     /* the scalar path's table (first 64 entries) */
    uint32_t a_out[64], pk_out[2][96];
    int have;
} samp_ctx;

static void samp_one(hr_isa isa, void *vctx) {
    samp_ctx *x = (samp_ctx *)vctx;
    const size_t nids = x->ix->nids;
    void *mem = hr_t_alloc(hr_alias_size(nids));
    uint32_t a_out[64], pk_out[2][96];
    hr_alias a;
    hr_rng r;
    cr_assert_eq(hr_alias_build(&a, mem, x->p, nids), HR_OK, "alias");
    hr_rng_seed(&r, 2024);
    cr_assert_eq(hr_batch_hardest(a_out, x->ix, x->c, 16, 40, x->nearest, 8, &r), HR_OK, "A");
    cr_assert_eq(hr_batch_pk(pk_out[0], 24, 4, x->ix, NULL, &r), HR_OK, "PK uniform");
    cr_assert_eq(hr_batch_pk(pk_out[1], 24, 4, x->ix, &a, &r), HR_OK, "PK weighted");
    if (!x->have) {
        memcpy(x->tab, a.tab, sizeof x->tab);
        memcpy(x->a_out, a_out, sizeof a_out);
        memcpy(x->pk_out, pk_out, sizeof pk_out);
        x->have = 1;
    } else {
        cr_assert(!memcmp(x->tab, a.tab, sizeof x->tab), "[%s] alias table differs",
                  hr_isa_name(isa));
        cr_assert(!memcmp(x->a_out, a_out, sizeof a_out), "[%s] mode A differs",
                  hr_isa_name(isa));
        cr_assert(!memcmp(x->pk_out, pk_out, sizeof pk_out), "[%s] P x K differs",
                  hr_isa_name(isa));
    }
    free(mem);
}

static hr_ids make_ids(size_t nids, int32_t **lab_out, void **mem_out) {
    const size_t n = nids * 6;
    int32_t *lab = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
    void *mem = hr_t_alloc(hr_ids_size(n));
    uint64_t seed = 77;
    hr_ids ix;
    size_t i;
    for (i = 0; i < n; i++) /* identity i % nids, some images junk */
        lab[i] = hr_t_below(&seed, 9) == 0 ? -1 : (int32_t)(1000 + 7 * (i % nids));
    cr_assert_eq(hr_ids_build(&ix, mem, lab, n), HR_OK, "ids");
    *lab_out = lab;
    *mem_out = mem;
    return ix;
}

Test(repro, sampling_every_isa) {
    enum { NIDS = 64 };
    float c[NIDS], p[NIDS];
    int32_t nearest[NIDS], *lab;
    void *mem;
    hr_ids ix = make_ids(NIDS, &lab, &mem);
    samp_ctx x;
    uint64_t seed = 5;
    size_t i;
    cr_assert_eq((size_t)ix.nids, (size_t)NIDS, "nids");
    for (i = 0; i < NIDS; i++) {
        c[i] = hr_t_unif(&seed);
        nearest[i] = (int32_t)((i * 7 + 3) % NIDS);
    }
    cr_assert_eq(hr_weights(p, c, NIDS, HR_WEIGHT_SOFTMAX, 0.2f, 0.01f), HR_OK, "p");
    memset(&x, 0, sizeof x);
    x.ix = &ix;
    x.c = c;
    x.p = p;
    x.nearest = nearest;
    for_each_isa(samp_one, &x);
    free(lab);
    free(mem);
}

#ifdef _OPENMP
/* ------------------------------------- the whole step, any thread count */

Test(repro, pipeline_thread_invariance) {
    /* nids >= 1415: over 1e6 pairs, so the difficulty call uses a team */
    enum { NIDS = 1500, D = 24, B = 64 };
    const int keep = omp_get_max_threads();
    float *w = (float *)hr_t_alloc(NIDS * D * sizeof(float));
    float *c = (float *)hr_t_alloc(NIDS * sizeof(float));
    float *p = (float *)hr_t_alloc(NIDS * sizeof(float));
    int32_t *nearest = (int32_t *)hr_t_alloc(NIDS * sizeof(int32_t)), *lab;
    void *amem = hr_t_alloc(hr_alias_size(NIDS)), *imem;
    uint32_t out[3][3 * B], first[3][3 * B];
    hr_ids ix = make_ids(NIDS, &lab, &imem);
    int nt;
    cr_assert_eq((size_t)ix.nids, (size_t)NIDS, "nids");
    gen(w, NIDS, D, D, 0x5EED);
    cr_assert_eq(hr_set_isa(HR_ISA_AUTO), HR_OK, "auto");
    for (nt = 1; nt <= 3; nt++) {
        hr_alias a;
        hr_rng r;
        omp_set_num_threads(nt);
        hr_rng_seed(&r, 99);
        cr_assert_eq(hr_difficulty(c, nearest, w, NIDS, D, D, 0), HR_OK, "difficulty");
        cr_assert_eq(hr_weights(p, c, NIDS, HR_WEIGHT_LINEAR, 0.0f, 0.05f), HR_OK, "weights");
        cr_assert_eq(hr_alias_build(&a, amem, p, NIDS), HR_OK, "alias");
        cr_assert_eq(hr_batch_hardest(out[0], &ix, c, 8, B - 16, nearest, 8, &r), HR_OK, "A");
        cr_assert_eq(hr_batch_proportional(out[1], B, &ix, &a, &r), HR_OK, "B");
        cr_assert_eq(hr_batch_pk(out[2], 16, 4, &ix, &a, &r), HR_OK, "PK");
        if (nt == 1) memcpy(first, out, sizeof out);
        else
            cr_assert(!memcmp(first, out, sizeof out),
                      "[%s] batches with %d threads differ from 1 thread",
                      hr_isa_name(hr_get_isa()), nt);
    }
    omp_set_num_threads(keep);
    free(w);
    free(c);
    free(p);
    free(nearest);
    free(amem);
    free(lab);
    free(imem);
}
#endif
