/* tests/test_scale.c - difficulty in pieces (>>scale-api): hr_difficulty_pairs
   over any split of W into row blocks, hr_maxima_merge and
   hr_difficulty_update must give hr_difficulty's output bit for bit, on
   every ISA path and thread count; errors leave every output untouched. */
#include "harness.h"
#include "hardreid.h"

static float *rand_w(size_t n, size_t ld, uint64_t seed) {
    float *w = (float *)hr_t_alloc((n ? n : 1) * ld * sizeof(float));
    size_t i;
    for (i = 0; i < n * ld; i++) w[i] = hr_t_unif(&seed);
    return w;
}

/* Planted structure: duplicate rows (ties across blocks), a zero row, a
   negated row, so every tie and sign rule is exercised. */
static void plant(float *w, size_t n, size_t d, size_t ld) {
    size_t t;
    if (n < 8) return;
    for (t = 0; t < d; t++) {
        w[(n - 1) * ld + t] = w[1 * ld + t];  /* twin of row 1, far away */
        w[(n / 2) * ld + t] = w[1 * ld + t];  /* and a third copy        */
        w[3 * ld + t] = 0.0f;                 /* zero row                */
        w[5 * ld + t] = -w[4 * ld + t];       /* antipode                */
    }
}

static int same_f(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}
static int same_i(const int32_t *a, const int32_t *b, size_t n) {
    return memcmp(a, b, n * sizeof(int32_t)) == 0;
}

static hr_block blk(const float *w, size_t first, size_t n, size_t ld, float *c,
                    int32_t *nearest) {
    hr_block b;
    b.w = w + first * ld;
    b.n = n;
    b.ld = ld;
    b.first = first;
    b.c = c + first;
    b.nearest = nearest + first;
    return b;
}

/* W cut at bounds[0] = 0 < ... <= bounds[nb] = n (empty blocks allowed):
   the diagonal blocks, then every pair of blocks in a scrambled order and
   with both roles, into one set of running maxima. */
static void pieces(float *c, int32_t *nearest, const float *w, size_t n, size_t d,
                   size_t ld, const size_t *bounds, size_t nb, unsigned flags) {
    size_t p, q, t;
    hr_maxima_reset(c, nearest, n);
    for (p = 0; p < nb; p++) {
        hr_block a = blk(w, bounds[p], bounds[p + 1] - bounds[p], ld, c, nearest);
        cr_assert_eq(hr_difficulty_pairs(&a, p % 2 ? &a : NULL, d, flags), HR_OK, "hr_difficulty_pairs(&a, p %% 2 ? &a : NULL, d, flags)");
    }
    {   /* every pair of blocks once, in a shuffled order, roles alternating */
        size_t pq[64][2], m = 0;
        uint64_t rs = n + nb;
        for (p = 0; p < nb; p++)
            for (q = p + 1; q < nb; q++) { pq[m][0] = p; pq[m][1] = q; m++; }
        for (t = m; t > 1; t--) {
            size_t u = hr_t_below(&rs, t), x0 = pq[t - 1][0], x1 = pq[t - 1][1];
            pq[t - 1][0] = pq[u][0]; pq[t - 1][1] = pq[u][1];
            pq[u][0] = x0; pq[u][1] = x1;
        }
        for (t = 0; t < m; t++) {
            hr_block a = blk(w, bounds[pq[t][0]], bounds[pq[t][0] + 1] - bounds[pq[t][0]], ld, c, nearest);
            hr_block b = blk(w, bounds[pq[t][1]], bounds[pq[t][1] + 1] - bounds[pq[t][1]], ld, c, nearest);
            cr_assert_eq(t % 2 ? hr_difficulty_pairs(&a, &b, d, flags)
                               : hr_difficulty_pairs(&b, &a, d, flags), HR_OK, "t %% 2 ? hr_difficulty_pairs(&a, &b, d, flags) : hr_difficulty_pairs(&");
        }
    }
}

static void split_one(hr_isa isa, void *ctx) {
#ifdef HR_TEST_QUICK /* qemu: the awkward shapes, not the big ones */
    static const size_t ns[] = {1, 2, 9, 97, 257};
    static const size_t ds[] = {1, 7, 129};
#else
    static const size_t ns[] = {1, 2, 9, 97, 257, 700};
    static const size_t ds[] = {1, 7, 129, 300};
#endif
    size_t a, b, nbk;
    (void)ctx;
    for (a = 0; a < sizeof ns / sizeof *ns; a++)
        for (b = 0; b < sizeof ds / sizeof *ds; b++)
            for (nbk = 1; nbk <= 5; nbk++) {
                const size_t n = ns[a], d = ds[b], ld = d + 3;
                float *w = rand_w(n, ld, 11 + n * 31 + d);
                float *c0 = (float *)hr_t_alloc(n * sizeof(float));
                float *c1 = (float *)hr_t_alloc(n * sizeof(float));
                int32_t *i0 = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
                int32_t *i1 = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
                size_t bounds[8], p;
                uint64_t s = n * 7 + nbk;
                plant(w, n, d, ld);
                cr_assert_eq(hr_difficulty(c0, i0, w, n, d, ld, 0), HR_OK, "hr_difficulty(c0, i0, w, n, d, ld, 0)");
                /* uneven cuts, some blocks empty */
                bounds[0] = 0;
                for (p = 1; p < nbk; p++) bounds[p] = hr_t_below(&s, n + 1);
                bounds[nbk] = n;
                for (p = 1; p < nbk; p++) { /* sort the cuts */
                    size_t q = p;
                    while (q > 1 && bounds[q - 1] > bounds[q]) {
                        size_t t = bounds[q]; bounds[q] = bounds[q - 1]; bounds[q - 1] = t; q--;
                    }
                }
                pieces(c1, i1, w, n, d, ld, bounds, nbk, 0);
                cr_assert(same_f(c0, c1, n) && same_i(i0, i1, n),
                          "[%s] n=%zu d=%zu %zu blocks: pieces != hr_difficulty",
                          hr_isa_name(isa), n, d, nbk);
                free(w); free(c0); free(c1); free(i0); free(i1);
            }
}

Test(scale, pairs_split_equals_whole) { for_each_isa(split_one, NULL); }

/* Unit rows (HR_UNIT_ROWS) and a block whose first row is not 0, alone: its
   nearest indices are global. */
static void unit_one(hr_isa isa, void *ctx) {
    const size_t n = 300, d = 40, ld = 40;
    float *w = rand_w(n, ld, 5), *c0 = (float *)hr_t_alloc(n * 4), *c1 = (float *)hr_t_alloc(n * 4);
    int32_t *i0 = (int32_t *)hr_t_alloc(n * 4), *i1 = (int32_t *)hr_t_alloc(n * 4);
    const size_t bounds[4] = {0, 100, 101, 300};
    size_t i;
    (void)ctx;
    cr_assert_eq(hr_normalize_rows(w, ld, w, ld, n, d), HR_OK, "hr_normalize_rows(w, ld, w, ld, n, d)");
    cr_assert_eq(hr_difficulty(c0, i0, w, n, d, ld, HR_UNIT_ROWS), HR_OK, "hr_difficulty(c0, i0, w, n, d, ld, HR_UNIT_ROWS)");
    pieces(c1, i1, w, n, d, ld, bounds, 3, HR_UNIT_ROWS);
    cr_assert(same_f(c0, c1, n) && same_i(i0, i1, n), "[%s] unit rows", hr_isa_name(isa));
    {   /* rows 100..299 alone: indices in 100..299 */
        hr_block a = blk(w, 100, 200, ld, c1, i1);
        hr_maxima_reset(c1, i1, n);
        cr_assert_eq(hr_difficulty_pairs(&a, NULL, d, 0), HR_OK, "hr_difficulty_pairs(&a, NULL, d, 0)");
        for (i = 100; i < n; i++)
            cr_assert(i1[i] >= 100 && i1[i] < 300 && (size_t)i1[i] != i, "global index");
        cr_assert_eq(hr_t_count_ne_i(i1, 100, -1), 0, "rows outside the block untouched");
    }
    free(w); free(c0); free(c1); free(i0); free(i1);
}

Test(scale, pairs_unit_rows_and_offsets) { for_each_isa(unit_one, NULL); }

#ifdef _OPENMP
Test(scale, pairs_thread_invariant) {
    const size_t n = 1500, d = 96;
    float *w = rand_w(n, d, 3), *c1 = (float *)hr_t_alloc(n * 4), *c2 = (float *)hr_t_alloc(n * 4);
    int32_t *i1 = (int32_t *)hr_t_alloc(n * 4), *i2 = (int32_t *)hr_t_alloc(n * 4);
    const size_t bounds[3] = {0, 600, 1500};
    int keep = omp_get_max_threads(), nt;
    for (nt = 1; nt <= 3; nt++) {
        omp_set_num_threads(nt);
        pieces(nt == 1 ? c1 : c2, nt == 1 ? i1 : i2, w, n, d, d, bounds, 2, 0);
        if (nt > 1)
            cr_assert(same_f(c1, c2, n) && same_i(i1, i2, n), "%d threads != 1", nt);
    }
    omp_set_num_threads(keep);
    free(w); free(c1); free(c2); free(i1); free(i2);
}
#endif

Test(scale, pairs_errors_leave_outputs) {
    const size_t n = 20, d = 5;
    float *w = rand_w(n, d, 9), c[20];
    int32_t nb[20];
    hr_block a, b;
    hr_t_fill_f(c, n, HR_T_SENT_F);
    hr_t_fill_i(nb, n, HR_T_SENT_I);
    a = blk(w, 0, 10, d, c, nb);
    b = blk(w, 10, 10, d, c, nb);
    cr_assert_eq(hr_difficulty_pairs(NULL, &b, d, 0), HR_EINVAL, "hr_difficulty_pairs(NULL, &b, d, 0)");
    b.first = 5; /* overlaps a */
    cr_assert_eq(hr_difficulty_pairs(&a, &b, d, 0), HR_EINVAL, "hr_difficulty_pairs(&a, &b, d, 0)");
    b.first = 10;
    b.ld = 4; /* < d */
    cr_assert_eq(hr_difficulty_pairs(&a, &b, d, 0), HR_EINVAL, "hr_difficulty_pairs(&a, &b, d, 0)");
    b.ld = d;
    b.c = NULL;
    cr_assert_eq(hr_difficulty_pairs(&a, &b, d, 0), HR_EINVAL, "hr_difficulty_pairs(&a, &b, d, 0)");
    b.c = c + 10;
    b.first = (size_t)INT32_MAX - 5; /* rows past INT32_MAX */
    cr_assert_eq(hr_difficulty_pairs(&a, &b, d, 0), HR_EINVAL, "hr_difficulty_pairs(&a, &b, d, 0)");
    b.first = 10;
    cr_assert_eq(hr_difficulty_pairs(&a, &b, d, 4u), HR_EINVAL, "hr_difficulty_pairs(&a, &b, d, 4u)"); /* unknown flag */
    cr_assert_eq(hr_difficulty_pairs(&a, &b, d, HR_UNIT_ROWS), HR_EINVAL, "hr_difficulty_pairs(&a, &b, d, HR_UNIT_ROWS)"); /* not unit */
    w[17 * d + 2] = NAN; /* in b: reported even though a is fine */
    cr_assert_eq(hr_difficulty_pairs(&a, &b, d, 0), HR_ENONFINITE, "hr_difficulty_pairs(&a, &b, d, 0)");
    {   /* a one-row block has no pair, but its NaN is still reported */
        hr_block one = blk(w, 17, 1, d, c, nb);
        cr_assert_eq(hr_difficulty_pairs(&one, NULL, d, 0), HR_ENONFINITE, "hr_difficulty_pairs(&one, NULL, d, 0)");
    }
    w[17 * d + 2] = INFINITY;
    cr_assert_eq(hr_difficulty_pairs(&b, NULL, d, 0), HR_ENONFINITE, "hr_difficulty_pairs(&b, NULL, d, 0)");
    cr_assert_eq(hr_t_count_ne_f(c, n, HR_T_SENT_F), 0, "c untouched");
    cr_assert_eq(hr_t_count_ne_i(nb, n, HR_T_SENT_I), 0, "nearest untouched");
    /* empty blocks: nothing to do, nothing written */
    a.n = 0; b.n = 0;
    cr_assert_eq(hr_difficulty_pairs(&a, &b, d, 0), HR_OK, "hr_difficulty_pairs(&a, &b, d, 0)");
    cr_assert_eq(hr_t_count_ne_f(c, n, HR_T_SENT_F), 0, "c untouched");
    free(w);
}

Test(scale, merge_rule) {
    float c[6] = {0.5f, 0.5f, 0.5f, -INFINITY, 0.25f, -0.0f};
    int32_t i[6] = {7, 7, 7, -1, 2, 9};
    const float c2[6] = {0.5f, 0.5f, 0.75f, 0.125f, -INFINITY, 0.0f};
    const int32_t i2[6] = {3, 9, 8, 4, -1, 10};
    cr_assert_eq(hr_maxima_merge(c, i, c2, i2, 6), HR_OK, "hr_maxima_merge(c, i, c2, i2, 6)");
    cr_assert(c[0] == 0.5f && i[0] == 3, "tie: smaller index");
    cr_assert(c[1] == 0.5f && i[1] == 7, "tie: larger index loses");
    cr_assert(c[2] == 0.75f && i[2] == 8, "larger value");
    cr_assert(c[3] == 0.125f && i[3] == 4, "anything beats empty");
    cr_assert(c[4] == 0.25f && i[4] == 2, "empty never wins");
    cr_assert(c[5] == 0.0f && i[5] == 9, "zeros tie: smaller index");
    cr_assert_eq(hr_maxima_merge(NULL, i, c2, i2, 6), HR_EINVAL, "hr_maxima_merge(NULL, i, c2, i2, 6)");
    cr_assert_eq(hr_maxima_merge(c, i, c2, NULL, 6), HR_EINVAL, "hr_maxima_merge(c, i, c2, NULL, 6)");
    cr_assert_eq(hr_maxima_merge(NULL, NULL, NULL, NULL, 0), HR_OK, "hr_maxima_merge(NULL, NULL, NULL, NULL, 0)");
    {   /* a zero maximum is stored as +0 */
        float z = -INFINITY;
        int32_t zi = -1;
        const float m0 = -0.0f;
        const int32_t one = 1;
        cr_assert_eq(hr_maxima_merge(&z, &zi, &m0, &one, 1), HR_OK, "hr_maxima_merge(&z, &zi, &m0, &one, 1)");
        cr_assert(z == 0.0f && !signbit(z) && zi == 1, "-0 stored as +0");
    }
}

/* The rows hr_difficulty_update must recompute, counted independently. */
static size_t expect_recomputed(const int32_t *nearest, size_t n, const int32_t *ch, size_t nch) {
    size_t i, j, r = 0;
    for (i = 0; i < n; i++) {
        int hit = 0;
        for (j = 0; j < nch; j++) hit |= (size_t)ch[j] == i || ch[j] == nearest[i];
        r += hit;
    }
    return 2 * r > n ? n : r;
}

static void update_one(hr_isa isa, void *ctx) {
#ifdef HR_TEST_QUICK
    static const size_t ns[] = {2, 3, 50, 333};
#else
    static const size_t ns[] = {2, 3, 50, 333, 1200};
#endif
    static const size_t ds[] = {1, 16, 129};
    static const size_t nchs[] = {0, 1, 2, 7, 40};
    size_t a, b, e, round;
    (void)ctx;
    for (a = 0; a < sizeof ns / sizeof *ns; a++)
        for (b = 0; b < sizeof ds / sizeof *ds; b++)
            for (e = 0; e < sizeof nchs / sizeof *nchs; e++) {
                const size_t n = ns[a], d = ds[b], ld = d + 1, nch = nchs[e];
                uint64_t s = 1 + n + d * 3 + nch * 17;
                float *w = rand_w(n, ld, s), *c = (float *)hr_t_alloc(n * 4), *c0 = (float *)hr_t_alloc(n * 4);
                int32_t *ix = (int32_t *)hr_t_alloc(n * 4), *i0 = (int32_t *)hr_t_alloc(n * 4);
                int32_t ch[40];
                plant(w, n, d, ld);
                cr_assert_eq(hr_difficulty(c, ix, w, n, d, ld, 0), HR_OK, "hr_difficulty(c, ix, w, n, d, ld, 0)");
                for (round = 0; round < 3; round++) { /* successive updates */
                    size_t k, t, got = 12345, want;
                    for (k = 0; k < nch; k++) {
                        const size_t r = hr_t_below(&s, n);
                        ch[k] = (int32_t)r;
                        for (t = 0; t < d; t++) /* moves of every size; some
                                                   rows become twins, zero */
                            w[r * ld + t] = k % 5 == 1 ? w[((r + 1) % n) * ld + t]
                                          : k % 5 == 3 ? 0.0f
                                          : w[r * ld + t] + (float)(k % 3) * hr_t_unif(&s);
                    }
                    want = expect_recomputed(ix, n, ch, nch);
                    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, ld, ch, nch, 0, &got), HR_OK, "hr_difficulty_update(c, ix, w, n, d, ld, ch, nch, 0, &got)");
                    cr_assert_eq(hr_difficulty(c0, i0, w, n, d, ld, 0), HR_OK, "hr_difficulty(c0, i0, w, n, d, ld, 0)");
                    cr_assert(same_f(c, c0, n) && same_i(ix, i0, n),
                              "[%s] n=%zu d=%zu changed=%zu round %zu: update != hr_difficulty",
                              hr_isa_name(isa), n, d, nch, round);
                    cr_assert_eq(got, want, "[%s] n=%zu changed=%zu: recomputed %zu, want %zu",
                                 hr_isa_name(isa), n, nch, got, want);
                }
                free(w); free(c); free(c0); free(ix); free(i0);
            }
}

Test(scale, update_equals_full) { for_each_isa(update_one, NULL); }

/* A nearest of -1 with other rows present marks a row to recompute. */
Test(scale, update_unknown_rows) {
    const size_t n = 200, d = 8;
    float *w = rand_w(n, d, 77), c[200], c0[200];
    int32_t ix[200], i0[200];
    size_t got = 0;
    cr_assert_eq(hr_difficulty(c0, i0, w, n, d, d, 0), HR_OK, "hr_difficulty(c0, i0, w, n, d, d, 0)");
    memcpy(c, c0, sizeof c);
    memcpy(ix, i0, sizeof ix);
    c[10] = -INFINITY; ix[10] = -1;
    c[11] = 0.0f; ix[11] = -1;
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d, NULL, 0, 0, &got), HR_OK, "hr_difficulty_update(c, ix, w, n, d, d, NULL, 0, 0, &got)");
    cr_assert_eq(got, 2, "got");
    cr_assert(same_f(c, c0, n) && same_i(ix, i0, n), "unknown rows recomputed");
    free(w);
}

#ifdef _OPENMP
Test(scale, update_thread_invariant) {
    const size_t n = 3000, d = 64;
    float *w = rand_w(n, d, 21), *c[3], *cw = (float *)hr_t_alloc(n * 4);
    int32_t *ix[3], *iw = (int32_t *)hr_t_alloc(n * 4), ch[5] = {0, 999, 1000, 2999, 1500};
    int keep = omp_get_max_threads(), nt;
    size_t t;
    cr_assert_eq(hr_difficulty(cw, iw, w, n, d, d, 0), HR_OK, "hr_difficulty(cw, iw, w, n, d, d, 0)");
    for (t = 0; t < 5 * d; t++) w[(size_t)ch[t / d] * d + t % d] *= -0.5f;
    for (nt = 1; nt <= 3; nt++) {
        c[nt - 1] = (float *)hr_t_alloc(n * 4);
        ix[nt - 1] = (int32_t *)hr_t_alloc(n * 4);
        memcpy(c[nt - 1], cw, n * 4);
        memcpy(ix[nt - 1], iw, n * 4);
        omp_set_num_threads(nt);
        cr_assert_eq(hr_difficulty_update(c[nt - 1], ix[nt - 1], w, n, d, d, ch, 5, 0, NULL), HR_OK, "hr_difficulty_update(c[nt - 1], ix[nt - 1], w, n, d, d, ch, 5, 0, NULL");
        if (nt > 1)
            cr_assert(same_f(c[0], c[nt - 1], n) && same_i(ix[0], ix[nt - 1], n), "%d threads", nt);
    }
    omp_set_num_threads(keep);
    for (nt = 0; nt < 3; nt++) { free(c[nt]); free(ix[nt]); }
    free(w); free(cw); free(iw);
}
#endif

Test(scale, update_errors_leave_outputs) {
    const size_t n = 30, d = 4;
    float *w = rand_w(n, d, 4), c[30], c0[30];
    int32_t ix[30], i0[30], ch[2] = {3, 30};
    size_t got = 77;
    cr_assert_eq(hr_difficulty(c0, i0, w, n, d, d, 0), HR_OK, "hr_difficulty(c0, i0, w, n, d, d, 0)");
    memcpy(c, c0, sizeof c);
    memcpy(ix, i0, sizeof ix);
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d, ch, 2, 0, &got), HR_EINVAL, "hr_difficulty_update(c, ix, w, n, d, d, ch, 2, 0, &got)"); /* 30 >= n */
    ch[1] = -1;
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d, ch, 2, 0, &got), HR_EINVAL, "hr_difficulty_update(c, ix, w, n, d, d, ch, 2, 0, &got)");
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d, NULL, 2, 0, &got), HR_EINVAL, "hr_difficulty_update(c, ix, w, n, d, d, NULL, 2, 0, &got)");
    cr_assert_eq(hr_difficulty_update(NULL, ix, w, n, d, d, ch, 1, 0, &got), HR_EINVAL, "hr_difficulty_update(NULL, ix, w, n, d, d, ch, 1, 0, &got)");
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d - 1, ch, 1, 0, &got), HR_EINVAL, "hr_difficulty_update(c, ix, w, n, d, d - 1, ch, 1, 0, &got)");
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 8u, &got), HR_EINVAL, "hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 8u, &got)");
    ix[4] = 4; /* a row cannot be its own nearest */
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 0, &got), HR_EINVAL, "hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 0, &got)");
    ix[4] = 30;
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 0, &got), HR_EINVAL, "hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 0, &got)");
    ix[4] = -2;
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 0, &got), HR_EINVAL, "hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 0, &got)");
    ix[4] = i0[4];
    w[8 * d + 1] = NAN; /* in a row that is not even recomputed */
    cr_assert_eq(hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 0, &got), HR_ENONFINITE, "hr_difficulty_update(c, ix, w, n, d, d, ch, 1, 0, &got)");
    cr_assert(same_f(c, c0, n) && same_i(ix, i0, n), "outputs untouched");
    cr_assert_eq(got, 77, "recomputed untouched");
    cr_assert_eq(hr_difficulty_update(NULL, NULL, NULL, 0, d, d, NULL, 0, 0, &got), HR_OK, "hr_difficulty_update(NULL, NULL, NULL, 0, d, d, NULL, 0, 0, &got)");
    cr_assert_eq(got, 0, "got");
    free(w);
}
