/* tests/test_difficulty.c - hr_difficulty and hr_neighbors_topk against a
   double-precision naive reference, on every ISA path, plus the special
   matrices, errors and thread-count invariance. */
#include "harness.h"
#include "hardreid.h"

#define TOL ((double)HR_TOL_ISA)

/* ------------------------------------------------------------ reference
   Obviously right, in double: normalize every row, the full Gram matrix,
   then per row the max over j != i with ties to the smallest j. */

typedef struct {
    size_t n;
    double *g;    /* n x n cosines (zero rows: 0 with everything) */
    double *best; /* n: max_{j != i} g(i, j); -INFINITY if n == 1  */
    int32_t *arg; /* n: its smallest index; -1 if n == 1            */
} ref_t;

static ref_t ref_build(const float *w, size_t n, size_t d, size_t ldw) {
    ref_t r;
    double *u = (double *)hr_t_alloc((n * d) * sizeof(double));
    size_t i, j, t;
    r.n = n;
    r.g = (double *)hr_t_alloc((n * n) * sizeof(double));
    r.best = (double *)hr_t_alloc(n * sizeof(double));
    r.arg = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
    for (i = 0; i < n; i++) {
        double ss = 0.0, s;
        for (t = 0; t < d; t++) ss += (double)w[i * ldw + t] * w[i * ldw + t];
        s = sqrt(ss);
        for (t = 0; t < d; t++)
            u[i * d + t] = s > 0.0 ? (double)w[i * ldw + t] / s : 0.0;
    }
    for (i = 0; i < n; i++)
        for (j = 0; j <= i; j++) {
            double dot = 0.0;
            for (t = 0; t < d; t++) dot += u[i * d + t] * u[j * d + t];
            r.g[i * n + j] = r.g[j * n + i] = dot;
        }
    for (i = 0; i < n; i++) {
        r.best[i] = -INFINITY;
        r.arg[i] = -1;
        for (j = 0; j < n; j++)
            if (j != i && (r.arg[i] < 0 || r.g[i * n + j] > r.best[i])) {
                r.best[i] = r.g[i * n + j];
                r.arg[i] = (int32_t)j;
            }
    }
    free(u);
    return r;
}

static void ref_free(ref_t *r) {
    free(r->g);
    free(r->best);
    free(r->arg);
}

/* Reference top-k of row i: the k largest g(i, j), j != i, by value
   descending then index ascending, padded with -INFINITY / -1. */
static void ref_topk(const ref_t *r, size_t i, size_t k, double *val,
                     int32_t *idx) {
    size_t j, m = 0, p;
    for (p = 0; p < k; p++) {
        val[p] = -INFINITY;
        idx[p] = -1;
    }
    for (j = 0; j < r->n; j++) {
        double s = r->g[i * r->n + j];
        if (j == i) continue;
        /* j ascending: an equal later value never displaces an earlier */
        for (p = m; p > 0 && s > val[p - 1]; p--)
            if (p < k) {
                val[p] = val[p - 1];
                idx[p] = idx[p - 1];
            }
        if (p < k) {
            val[p] = s;
            idx[p] = (int32_t)j;
            if (m < k) m++;
        }
    }
}

/* ----------------------------------------------------------- test data */

/* Random rows with structure: near-copies of earlier rows (cosines near 1,
   close competitors) and, for n >= 9, a few zero rows. */
static void gen_rows(float *v, size_t n, size_t d, uint64_t seed) {
    size_t i, t;
    for (i = 0; i < n; i++) {
        if (n >= 9 && i % 13 == 6) {
            for (t = 0; t < d; t++) v[i * d + t] = 0.0f;
        } else if (i >= 3 && i % 4 == 3) {
            size_t src = hr_t_below(&seed, i);
            float scale = 0.5f + (float)hr_t_below(&seed, 8);
            for (t = 0; t < d; t++)
                v[i * d + t] = scale * (v[src * d + t] +
                                        0.2f * hr_t_unif(&seed));
        } else {
            for (t = 0; t < d; t++) v[i * d + t] = hr_t_unif(&seed);
        }
    }
}

/* W with stride ldw from packed rows; padding columns are NaN so that any
   read of them shows up as HR_ENONFINITE or a NaN result. */
static float *make_w(const float *v, size_t n, size_t d, size_t ldw) {
    float *w = (float *)hr_t_alloc((n * ldw) * sizeof(float));
    size_t i, t;
    for (i = 0; i < n; i++)
        for (t = 0; t < ldw; t++) w[i * ldw + t] = t < d ? v[i * d + t] : NAN;
    return w;
}

/* ------------------------------------------------------------- checkers */

/* c, nearest (nearest may be NULL) against the reference. */
static void check_diff(const float *c, const int32_t *nearest, const ref_t *r,
                       const char *what, hr_isa isa, size_t d, size_t ldw) {
    size_t i, n = r->n;
    for (i = 0; i < n; i++) {
        if (n == 1) {
            cr_assert(c[0] == -INFINITY, "%s [%s]: n=1 c=%g", what,
                      hr_isa_name(isa), (double)c[0]);
            if (nearest)
                cr_assert_eq(nearest[0], -1, "%s [%s]: n=1 nearest=%d", what,
                             hr_isa_name(isa), (int)nearest[0]);
            continue;
        }
        cr_assert(fabs((double)c[i] - r->best[i]) <= TOL,
                  "%s [%s] n=%zu d=%zu ldw=%zu: c[%zu]=%.9g want %.9g "
                  "(nearest %d)",
                  what, hr_isa_name(isa), n, d, ldw, i, (double)c[i],
                  r->best[i], (int)r->arg[i]);
        if (nearest) {
            int32_t j = nearest[i];
            cr_assert(j >= 0 && (size_t)j < n && (size_t)j != i,
                      "%s [%s] n=%zu d=%zu: nearest[%zu]=%d out of range",
                      what, hr_isa_name(isa), n, d, i, (int)j);
            cr_assert(j == r->arg[i] ||
                          r->g[i * n + (size_t)j] >= r->best[i] - TOL,
                      "%s [%s] n=%zu d=%zu ldw=%zu: nearest[%zu]=%d "
                      "(cos %.9g) want %d (cos %.9g)",
                      what, hr_isa_name(isa), n, d, ldw, i, (int)j,
                      r->g[i * n + (size_t)j], (int)r->arg[i], r->best[i]);
            cr_assert(fabs(r->g[i * n + (size_t)j] - (double)c[i]) <= TOL,
                      "%s [%s] n=%zu d=%zu: c[%zu]=%.9g but cos(%zu,%d)=%.9g",
                      what, hr_isa_name(isa), n, d, i, (double)c[i], i,
                      (int)j, r->g[i * n + (size_t)j]);
        }
    }
}

/* sim, idx (idx may be NULL) of hr_neighbors_topk against the reference */
static void check_topk(const float *sim, const int32_t *idx, size_t k,
                       const ref_t *r, const char *what, hr_isa isa,
                       size_t d) {
    size_t i, p, q, n = r->n;
    double *rv = (double *)hr_t_alloc(k * sizeof(double));
    int32_t *ri = (int32_t *)hr_t_alloc(k * sizeof(int32_t));
    for (i = 0; i < n; i++) {
        const float *s = sim + i * k;
        const int32_t *x = idx ? idx + i * k : NULL;
        ref_topk(r, i, k, rv, ri);
        for (p = 0; p < k; p++) {
            if (p + 1 >= n) { /* fewer than k others: padding */
                cr_assert(s[p] == -INFINITY,
                          "%s [%s] n=%zu k=%zu: sim[%zu][%zu]=%g, want -inf",
                          what, hr_isa_name(isa), n, k, i, p, (double)s[p]);
                if (x)
                    cr_assert_eq(x[p], -1,
                                 "%s [%s] n=%zu k=%zu: idx[%zu][%zu]=%d",
                                 what, hr_isa_name(isa), n, k, i, p,
                                 (int)x[p]);
                continue;
            }
            cr_assert(fabs((double)s[p] - rv[p]) <= TOL,
                      "%s [%s] n=%zu d=%zu k=%zu: sim[%zu][%zu]=%.9g want "
                      "%.9g (idx %d)",
                      what, hr_isa_name(isa), n, d, k, i, p, (double)s[p],
                      rv[p], (int)ri[p]);
            if (p > 0)
                cr_assert(s[p] <= s[p - 1],
                          "%s [%s]: row %zu not sorted at %zu", what,
                          hr_isa_name(isa), i, p);
            if (!x) continue;
            cr_assert(x[p] >= 0 && (size_t)x[p] < n && (size_t)x[p] != i,
                      "%s [%s] n=%zu k=%zu: idx[%zu][%zu]=%d out of range",
                      what, hr_isa_name(isa), n, k, i, p, (int)x[p]);
            for (q = 0; q < p; q++)
                cr_assert(x[q] != x[p], "%s [%s]: row %zu repeats index %d",
                          what, hr_isa_name(isa), i, (int)x[p]);
            if (p > 0 && s[p] == s[p - 1])
                cr_assert(x[p] > x[p - 1],
                          "%s [%s] row %zu: equal sims %.9g at ranks %zu,%zu "
                          "but indices %d, %d (ties go to the smaller)",
                          what, hr_isa_name(isa), i, (double)s[p], p - 1, p,
                          (int)x[p - 1], (int)x[p]);
            cr_assert(x[p] == ri[p] ||
                          fabs(r->g[i * n + (size_t)x[p]] - rv[p]) <= TOL,
                      "%s [%s] n=%zu d=%zu k=%zu: idx[%zu][%zu]=%d (cos "
                      "%.9g) want %d (cos %.9g)",
                      what, hr_isa_name(isa), n, d, k, i, p, (int)x[p],
                      r->g[i * n + (size_t)x[p]], (int)ri[p], rv[p]);
            cr_assert(fabs(r->g[i * n + (size_t)x[p]] - (double)s[p]) <= TOL,
                      "%s [%s]: sim[%zu][%zu]=%.9g but cos(%zu,%d)=%.9g",
                      what, hr_isa_name(isa), i, p, (double)s[p], i,
                      (int)x[p], r->g[i * n + (size_t)x[p]]);
        }
    }
    free(rv);
    free(ri);
}

/* ------------------------------------------------------ worked example */

static void worked_example(hr_isa isa, void *ctx) {
    const float w[6] = {2.0f, 0.0f, 0.0f, 2.0f, 0.4f, 1.96f};
    const double s = sqrt(0.4 * 0.4 + 1.96 * 1.96);
    const double want[3] = {0.4 / s, 1.96 / s, 1.96 / s};
    const int32_t want_j[3] = {2, 2, 1};
    float c[3], sim[6];
    int32_t nearest[3], idx[6];
    int i;
    (void)ctx;
    cr_assert_eq(hr_difficulty(c, nearest, w, 3, 2, 2, 0), HR_OK, "status");
    for (i = 0; i < 3; i++) {
        cr_assert(fabs((double)c[i] - want[i]) <= 1e-6,
                  "[%s] c[%d]=%.9g want %.9g", hr_isa_name(isa), i,
                  (double)c[i], want[i]);
        cr_assert_eq(nearest[i], want_j[i], "[%s] nearest[%d]=%d want %d",
                     hr_isa_name(isa), i, (int)nearest[i], (int)want_j[i]);
    }
    /* rounded as in the source: {0.2, 0.98, 0.98} */
    cr_assert(fabs(c[0] - 0.2) < 5e-3 && fabs(c[1] - 0.98) < 5e-3,
              "rounded values");
    /* top-2: the second neighbour of row 0 is row 1 at cos 0 */
    cr_assert_eq(hr_neighbors_topk(sim, idx, 2, w, 3, 2, 2, 0), HR_OK,
                 "topk status");
    cr_assert(idx[0] == 2 && idx[1] == 1 && fabs(sim[1]) <= 1e-6,
              "[%s] row 0 top-2: (%d %.9g) (%d %.9g)", hr_isa_name(isa),
              (int)idx[0], (double)sim[0], (int)idx[1], (double)sim[1]);
}

Test(difficulty, worked_example) { for_each_isa(worked_example, NULL); }

/* ---------------------------------------------------- random shape sweep */

typedef struct {
    const float *w;
    size_t n, d, ldw;
    const ref_t *ref;
    float *c_scalar;
    int32_t *j_scalar;
    int have_scalar;
} sweep_ctx;

static void sweep_one(hr_isa isa, void *vctx) {
    sweep_ctx *x = (sweep_ctx *)vctx;
    size_t n = x->n, i;
    float *c = (float *)hr_t_alloc((n + 1) * sizeof(float));
    int32_t *j = (int32_t *)hr_t_alloc((n + 1) * sizeof(int32_t));
    hr_status s;
    hr_t_fill_f(c, n + 1, HR_T_SENT_F);
    hr_t_fill_i(j, n + 1, HR_T_SENT_I);
    s = hr_difficulty(c, j, x->w, n, x->d, x->ldw, 0);
    cr_assert_eq(s, HR_OK, "[%s] n=%zu d=%zu ldw=%zu: status %d",
                 hr_isa_name(isa), n, x->d, x->ldw, (int)s);
    cr_assert(c[n] == HR_T_SENT_F && j[n] == HR_T_SENT_I,
              "[%s] n=%zu d=%zu: wrote past the end", hr_isa_name(isa), n,
              x->d);
    check_diff(c, j, x->ref, "sweep", isa, x->d, x->ldw);
    if (isa == HR_ISA_SCALAR) {
        memcpy(x->c_scalar, c, n * sizeof(float));
        memcpy(x->j_scalar, j, n * sizeof(int32_t));
        x->have_scalar = 1;
    } else {
        cr_assert(x->have_scalar, "scalar runs first");
        for (i = 0; i < n; i++) {
            cr_assert(fabs((double)c[i] - x->c_scalar[i]) <= TOL ||
                          (n == 1 && c[i] == x->c_scalar[i]),
                      "[%s] n=%zu d=%zu: c[%zu]=%.9g scalar %.9g",
                      hr_isa_name(isa), n, x->d, i, (double)c[i],
                      (double)x->c_scalar[i]);
            if (n > 1 && j[i] != x->j_scalar[i])
                cr_assert(fabs(x->ref->g[i * n + (size_t)j[i]] -
                               x->ref->g[i * n + (size_t)x->j_scalar[i]]) <=
                              TOL,
                          "[%s] n=%zu d=%zu: nearest[%zu]=%d, scalar %d",
                          hr_isa_name(isa), n, x->d, i, (int)j[i],
                          (int)x->j_scalar[i]);
        }
    }
    free(c);
    free(j);
}

static void sweep(const size_t *ns, size_t nn, const size_t *ds, size_t nd) {
    size_t a, b, e;
    for (a = 0; a < nn; a++)
        for (b = 0; b < nd; b++) {
            size_t n = ns[a], d = ds[b];
            float *v;
            ref_t ref;
            sweep_ctx x;
#ifdef HR_TEST_QUICK /* emulated runs: n = 1000, d = 1000 alone takes ~20 s */
            if (n * n * d > 1000u * 1000u * 300u) continue; /* before allocating */
#endif
            v = (float *)hr_t_alloc((n * d) * sizeof(float));
            gen_rows(v, n, d, 0xD1FF + 1000 * n + d);
            {
                float *w0 = make_w(v, n, d, d);
                ref = ref_build(w0, n, d, d);
                free(w0);
            }
            x.c_scalar = (float *)hr_t_alloc(n * sizeof(float));
            x.j_scalar = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
            for (e = 0; e <= 3; e += 3) {
                float *w = make_w(v, n, d, d + e);
                x.w = w;
                x.n = n;
                x.d = d;
                x.ldw = d + e;
                x.ref = &ref;
                x.have_scalar = 0;
                for_each_isa(sweep_one, &x);
                free(w);
            }
            free(x.c_scalar);
            free(x.j_scalar);
            ref_free(&ref);
            free(v);
        }
}

static const size_t sweep_ds[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 255, 256, 257, 1000};
#define N_SWEEP_DS (sizeof sweep_ds / sizeof sweep_ds[0])

Test(difficulty, sweep_small_n) {
    static const size_t ns[] = {0, 1, 2, 3, 7, 8, 9, 13, 14, 15, 17, 29};
    sweep(ns, sizeof ns / sizeof ns[0], sweep_ds, N_SWEEP_DS);
}

Test(difficulty, sweep_mid_n) {
    static const size_t ns[] = {63, 64, 65};
    sweep(ns, sizeof ns / sizeof ns[0], sweep_ds, N_SWEEP_DS);
}

Test(difficulty, sweep_n1000_small_d) {
    static const size_t ns[] = {1000};
    sweep(ns, 1, sweep_ds, 8); /* d <= 17 */
}

Test(difficulty, sweep_n1000_large_d) {
    static const size_t ns[] = {1000};
    sweep(ns, 1, sweep_ds + 8, N_SWEEP_DS - 8); /* d >= 31 */
}

/* ------------------------------------------------------ special matrices */

/* run difficulty (and top-1, which must match it bitwise) on w */
static void run_diff(float *c, int32_t *j, const float *w, size_t n, size_t d,
                     size_t ldw, hr_isa isa) {
    float *s1 = (float *)hr_t_alloc(n * sizeof(float));
    int32_t *i1 = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
    hr_status s = hr_difficulty(c, j, w, n, d, ldw, 0);
    cr_assert_eq(s, HR_OK, "[%s] n=%zu d=%zu: status %d", hr_isa_name(isa), n,
                 d, (int)s);
    s = hr_neighbors_topk(s1, i1, 1, w, n, d, ldw, 0);
    cr_assert_eq(s, HR_OK, "[%s] top-1 n=%zu d=%zu: status %d",
                 hr_isa_name(isa), n, d, (int)s);
    cr_assert(memcmp(s1, c, n * sizeof(float)) == 0 &&
                  memcmp(i1, j, n * sizeof(int32_t)) == 0,
              "[%s] n=%zu d=%zu: top-1 differs from hr_difficulty",
              hr_isa_name(isa), n, d);
    free(s1);
    free(i1);
}

static void special_duplicates(hr_isa isa, void *ctx) {
    enum { N = 12, D = 37 };
    float w[N * D], c[N];
    int32_t j[N];
    size_t i, t;
    uint64_t seed = 5;
    (void)ctx;
    for (i = 0; i < N * D; i++) w[i] = hr_t_unif(&seed);
    for (t = 0; t < D; t++) {
        /* rows 0 and 2 identical; row 1 close to them (cos ~0.999) but
           at a smaller index than 2 */
        w[2 * D + t] = w[0 * D + t];
        w[1 * D + t] = w[0 * D + t] + 0.02f * hr_t_unif(&seed);
        /* rows 5 and 9 identical, row 7 close; row 11 = 3 * row 5 */
        w[9 * D + t] = w[5 * D + t];
        w[7 * D + t] = w[5 * D + t] + 0.02f * hr_t_unif(&seed);
        w[11 * D + t] = 4.0f * w[5 * D + t];
    }
    run_diff(c, j, w, N, D, D, isa);
    cr_assert(fabs(c[0] - 1.0) <= TOL && fabs(c[2] - 1.0) <= TOL,
              "[%s] duplicates: c = %.9g %.9g", hr_isa_name(isa),
              (double)c[0], (double)c[2]);
    cr_assert(j[0] == 2 && j[2] == 0, "[%s] duplicates 0,2: nearest %d %d",
              hr_isa_name(isa), (int)j[0], (int)j[2]);
    cr_assert(j[1] == 0, "[%s] row 1 -> %d, want 0 (tie 0/2 at cos ~0.999)",
              hr_isa_name(isa), (int)j[1]);
    /* 5, 9, 11 are one direction: each points into the group */
    cr_assert(fabs(c[5] - 1.0) <= TOL && fabs(c[9] - 1.0) <= TOL &&
                  fabs(c[11] - 1.0) <= TOL,
              "[%s] group 5/9/11: c = %.9g %.9g %.9g", hr_isa_name(isa),
              (double)c[5], (double)c[9], (double)c[11]);
    /* 4 * row 5 normalizes to exactly row 5: exact ties, smallest index */
    cr_assert(j[5] == 9 && j[9] == 5 && j[11] == 5,
              "[%s] group 5/9/11: nearest %d %d %d", hr_isa_name(isa),
              (int)j[5], (int)j[9], (int)j[11]);
    {
        ref_t r = ref_build(w, N, D, D);
        check_diff(c, j, &r, "duplicates", isa, D, D);
        ref_free(&r);
    }
}

Test(difficulty, special_duplicates) { for_each_isa(special_duplicates, NULL); }

/* all rows equal: exact ties everywhere, so nearest is the smallest index */
static void special_all_equal(hr_isa isa, void *ctx) {
    static const size_t ns[] = {2, 3, 10, 67, 130};
    static const size_t dsz[] = {1, 8, 19, 64};
    size_t a, b, i, t;
    (void)ctx;
    for (a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (b = 0; b < sizeof dsz / sizeof dsz[0]; b++) {
            size_t n = ns[a], d = dsz[b];
            float *w = (float *)hr_t_alloc(n * d * sizeof(float));
            float *c = (float *)hr_t_alloc(n * sizeof(float));
            int32_t *j = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
            uint64_t seed = 31 + d;
            for (t = 0; t < d; t++) w[t] = hr_t_unif(&seed);
            for (i = 1; i < n; i++) memcpy(w + i * d, w, d * sizeof(float));
            run_diff(c, j, w, n, d, d, isa);
            for (i = 0; i < n; i++) {
                cr_assert(fabs(c[i] - 1.0) <= TOL,
                          "[%s] all equal n=%zu d=%zu: c[%zu]=%.9g",
                          hr_isa_name(isa), n, d, i, (double)c[i]);
                cr_assert_eq(j[i], i == 0 ? 1 : 0,
                             "[%s] all equal n=%zu d=%zu: nearest[%zu]=%d "
                             "(c %.9g; c[0]=%.9g)",
                             hr_isa_name(isa), n, d, i, (int)j[i],
                             (double)c[i], (double)c[0]);
            }
            free(w);
            free(c);
            free(j);
        }
}

Test(difficulty, special_all_equal) { for_each_isa(special_all_equal, NULL); }

static void special_zero_rows(hr_isa isa, void *ctx) {
    static const size_t ns[] = {2, 5, 70};
    size_t a, i;
    (void)ctx;
    for (a = 0; a < 3; a++) {
        size_t n = ns[a], d = 7, ldw = 9;
        float *w = (float *)hr_t_alloc(n * ldw * sizeof(float));
        float c[70];
        int32_t j[70];
        for (i = 0; i < n * ldw; i++) w[i] = i % ldw < d ? 0.0f : NAN;
        run_diff(c, j, w, n, d, ldw, isa);
        for (i = 0; i < n; i++) {
            cr_assert(c[i] == 0.0f, "[%s] all zero n=%zu: c[%zu]=%g",
                      hr_isa_name(isa), n, i, (double)c[i]);
            cr_assert_eq(j[i], i == 0 ? 1 : 0,
                         "[%s] all zero n=%zu: nearest[%zu]=%d",
                         hr_isa_name(isa), n, i, (int)j[i]);
        }
        free(w);
    }
}

Test(difficulty, special_zero_rows) { for_each_isa(special_zero_rows, NULL); }

/* zero rows mixed with others, and a row and its negative */
static void special_mixed(hr_isa isa, void *ctx) {
    enum { N = 5, D = 4 };
    const float w[N * D] = {0, 0,  0,  0,    /* 0: zero                */
                            1, 2,  3,  4,    /* 1: v                   */
                            0, 0,  0,  0,    /* 2: zero                */
                            -1, -2, -3, -4,  /* 3: -v                  */
                            -1, -1, -1, 0.5f}; /* 4: cos(v, .) < 0     */
    const int32_t want[N] = {1, 0, 0, 4, 3};
    float c[N];
    int32_t j[N];
    size_t i;
    ref_t r = ref_build(w, N, D, D);
    (void)ctx;
    run_diff(c, j, w, N, D, D, isa);
    for (i = 0; i < N; i++)
        cr_assert_eq(j[i], want[i], "[%s] mixed: nearest[%zu]=%d want %d",
                     hr_isa_name(isa), i, (int)j[i], (int)want[i]);
    cr_assert(c[0] == 0.0f && c[1] == 0.0f && c[2] == 0.0f,
              "[%s] mixed: zero-row maxima %g %g %g", hr_isa_name(isa),
              (double)c[0], (double)c[1], (double)c[2]);
    check_diff(c, j, &r, "mixed", isa, D, D);
    ref_free(&r);
}

Test(difficulty, special_mixed) { for_each_isa(special_mixed, NULL); }

static void special_negatives(hr_isa isa, void *ctx) {
    enum { D = 33 };
    float w[2 * D], c[2];
    int32_t j[2];
    size_t t;
    uint64_t seed = 8;
    (void)ctx;
    for (t = 0; t < D; t++) {
        w[t] = hr_t_unif(&seed);
        w[D + t] = -w[t];
    }
    run_diff(c, j, w, 2, D, D, isa);
    cr_assert(fabs(c[0] + 1.0) <= TOL && fabs(c[1] + 1.0) <= TOL,
              "[%s] negatives: c = %.9g %.9g", hr_isa_name(isa), (double)c[0],
              (double)c[1]);
    cr_assert(j[0] == 1 && j[1] == 0, "[%s] negatives: nearest %d %d",
              hr_isa_name(isa), (int)j[0], (int)j[1]);
}

Test(difficulty, special_negatives) { for_each_isa(special_negatives, NULL); }

/* d = 1: every cosine is exactly -1, 0 or 1, so ties are exact */
static void special_exact_ties(hr_isa isa, void *ctx) {
    const float w[6] = {2, -1, 3, 0, -5, 1};
    const float want_c[6] = {1, 1, 1, 0, 1, 1};
    const int32_t want_j[6] = {2, 4, 0, 0, 1, 0};
    float c[6];
    int32_t j[6];
    size_t i;
    (void)ctx;
    run_diff(c, j, w, 6, 1, 1, isa);
    for (i = 0; i < 6; i++)
        cr_assert(c[i] == want_c[i] && j[i] == want_j[i],
                  "[%s] d=1 ties: row %zu -> (%.9g, %d) want (%g, %d)",
                  hr_isa_name(isa), i, (double)c[i], (int)j[i],
                  (double)want_c[i], (int)want_j[i]);
}

Test(difficulty, special_exact_ties) { for_each_isa(special_exact_ties, NULL); }

static void special_small_n(hr_isa isa, void *ctx) {
    float w[4] = {0.6f, 0.8f, NAN, NAN}, c[4], sim[8]; /* a unit row: HR_UNIT_ROWS too */
    int32_t j[4], idx[8];
    unsigned fl;
    (void)ctx;
    for (fl = 0; fl <= HR_UNIT_ROWS; fl += HR_UNIT_ROWS) {
        hr_t_fill_f(c, 4, HR_T_SENT_F);
        hr_t_fill_i(j, 4, HR_T_SENT_I);
        cr_assert_eq(hr_difficulty(c, j, w, 1, 2, 2, fl), HR_OK, "n=1");
        cr_assert(c[0] == -INFINITY && j[0] == -1,
                  "[%s] n=1 flags=%u: (%g, %d)", hr_isa_name(isa), fl,
                  (double)c[0], (int)j[0]);
        cr_assert(c[1] == HR_T_SENT_F && j[1] == HR_T_SENT_I,
                  "n=1 wrote past the end");
        /* n = 1 with a zero row */
        {
            const float z[2] = {0, 0};
            cr_assert_eq(hr_difficulty(c, j, z, 1, 2, 2, fl), HR_OK, "n=1");
            cr_assert(c[0] == -INFINITY && j[0] == -1, "n=1 zero row");
        }
        /* n = 1, top-k: all padding */
        hr_t_fill_f(sim, 8, HR_T_SENT_F);
        hr_t_fill_i(idx, 8, HR_T_SENT_I);
        cr_assert_eq(hr_neighbors_topk(sim, idx, 3, w, 1, 2, 2, fl), HR_OK,
                     "topk n=1");
        cr_assert(sim[0] == -INFINITY && sim[1] == -INFINITY &&
                      sim[2] == -INFINITY && idx[0] == -1 && idx[1] == -1 &&
                      idx[2] == -1,
                  "[%s] topk n=1 padding", hr_isa_name(isa));
        cr_assert(sim[3] == HR_T_SENT_F && idx[3] == HR_T_SENT_I,
                  "topk n=1 wrote past the end");
        /* n = 0: HR_OK, nothing written, NULL allowed */
        hr_t_fill_f(c, 4, HR_T_SENT_F);
        hr_t_fill_i(j, 4, HR_T_SENT_I);
        cr_assert_eq(hr_difficulty(c, j, w, 0, 2, 2, fl), HR_OK, "n=0");
        cr_assert(hr_t_count_ne_f(c, 4, HR_T_SENT_F) == 0 &&
                      hr_t_count_ne_i(j, 4, HR_T_SENT_I) == 0,
                  "n=0 wrote");
        cr_assert_eq(hr_difficulty(NULL, NULL, NULL, 0, 2, 2, fl), HR_OK,
                     "n=0 NULL");
        cr_assert_eq(hr_neighbors_topk(NULL, NULL, 3, NULL, 0, 2, 2, fl),
                     HR_OK, "topk n=0 NULL");
    }
}

Test(difficulty, special_small_n) { for_each_isa(special_small_n, NULL); }

/* nearest == NULL: the same values */
static void nearest_null(hr_isa isa, void *ctx) {
    enum { N = 77, D = 29 };
    float *w = (float *)hr_t_alloc(N * D * sizeof(float)), c1[N], c2[N];
    float s1[N * 3], s2[N * 3];
    int32_t j[N], idx[N * 3];
    (void)ctx;
    gen_rows(w, N, D, 12);
    cr_assert_eq(hr_difficulty(c1, j, w, N, D, D, 0), HR_OK, "status");
    cr_assert_eq(hr_difficulty(c2, NULL, w, N, D, D, 0), HR_OK,
                 "status nearest NULL");
    cr_assert(memcmp(c1, c2, sizeof c1) == 0, "[%s] nearest NULL changes c",
              hr_isa_name(isa));
    cr_assert_eq(hr_neighbors_topk(s1, idx, 3, w, N, D, D, 0), HR_OK, "tk");
    cr_assert_eq(hr_neighbors_topk(s2, NULL, 3, w, N, D, D, 0), HR_OK,
                 "tk idx NULL");
    cr_assert(memcmp(s1, s2, sizeof s1) == 0, "[%s] idx NULL changes sim",
              hr_isa_name(isa));
    free(w);
}

Test(difficulty, nearest_null) { for_each_isa(nearest_null, NULL); }

/* ------------------------------------------------- flags, scale, errors */

static void unit_rows_bitwise(hr_isa isa, void *ctx) {
    static const size_t shapes[][3] = {
        {2, 3, 3}, {65, 17, 20}, {130, 64, 64}, {300, 256, 259}, {97, 1000, 1001}};
    size_t a;
    (void)ctx;
    for (a = 0; a < sizeof shapes / sizeof shapes[0]; a++) {
        size_t n = shapes[a][0], d = shapes[a][1], ldw = shapes[a][2];
        float *v = (float *)hr_t_alloc(n * d * sizeof(float));
        float *w, *u, *c1, *c2, *s1, *s2;
        int32_t *j1, *j2, *i1, *i2;
        size_t k = 4;
        gen_rows(v, n, d, 0xAB + n);
        w = make_w(v, n, d, ldw);
        u = make_w(v, n, d, ldw); /* same padding; overwritten by normalize */
        c1 = (float *)hr_t_alloc(n * sizeof(float));
        c2 = (float *)hr_t_alloc(n * sizeof(float));
        j1 = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
        j2 = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
        s1 = (float *)hr_t_alloc(n * k * sizeof(float));
        s2 = (float *)hr_t_alloc(n * k * sizeof(float));
        i1 = (int32_t *)hr_t_alloc(n * k * sizeof(int32_t));
        i2 = (int32_t *)hr_t_alloc(n * k * sizeof(int32_t));
        cr_assert_eq(hr_normalize_rows(u, ldw, w, ldw, n, d), HR_OK, "norm");
        cr_assert_eq(hr_difficulty(c1, j1, w, n, d, ldw, 0), HR_OK, "diff");
        cr_assert_eq(hr_difficulty(c2, j2, u, n, d, ldw, HR_UNIT_ROWS), HR_OK,
                     "diff unit");
        cr_assert(memcmp(c1, c2, n * sizeof(float)) == 0 &&
                      memcmp(j1, j2, n * sizeof(int32_t)) == 0,
                  "[%s] n=%zu d=%zu: difficulty(normalize(W), HR_UNIT_ROWS) "
                  "!= difficulty(W, 0) bitwise",
                  hr_isa_name(isa), n, d);
        cr_assert_eq(hr_neighbors_topk(s1, i1, k, w, n, d, ldw, 0), HR_OK,
                     "topk");
        cr_assert_eq(hr_neighbors_topk(s2, i2, k, u, n, d, ldw, HR_UNIT_ROWS),
                     HR_OK, "topk unit");
        cr_assert(memcmp(s1, s2, n * k * sizeof(float)) == 0 &&
                      memcmp(i1, i2, n * k * sizeof(int32_t)) == 0,
                  "[%s] n=%zu d=%zu: topk(normalize(W), HR_UNIT_ROWS) != "
                  "topk(W, 0) bitwise",
                  hr_isa_name(isa), n, d);
        free(v); free(w); free(u); free(c1); free(c2); free(j1); free(j2);
        free(s1); free(s2); free(i1); free(i2);
    }
}

Test(difficulty, unit_rows_bitwise) { for_each_isa(unit_rows_bitwise, NULL); }

static void scale_invariance(hr_isa isa, void *ctx) {
    enum { N = 150, D = 45 };
    static const float scales[] = {1000.0f, 1e-3f, 1e20f, 1e-20f};
    float *w = (float *)hr_t_alloc(N * D * sizeof(float));
    float *ws = (float *)hr_t_alloc(N * D * sizeof(float));
    float c[N], cs[N];
    int32_t j[N], js[N];
    size_t a, i;
    ref_t r;
    (void)ctx;
    gen_rows(w, N, D, 2024);
    r = ref_build(w, N, D, D);
    cr_assert_eq(hr_difficulty(c, j, w, N, D, D, 0), HR_OK, "status");
    for (a = 0; a < sizeof scales / sizeof scales[0]; a++) {
        for (i = 0; i < N * D; i++) ws[i] = scales[a] * w[i];
        cr_assert_eq(hr_difficulty(cs, js, ws, N, D, D, 0), HR_OK, "status");
        for (i = 0; i < N; i++)
            cr_assert(fabs((double)cs[i] - c[i]) <= TOL,
                      "[%s] scale %g: c[%zu] %.9g vs %.9g", hr_isa_name(isa),
                      (double)scales[a], i, (double)cs[i], (double)c[i]);
        check_diff(cs, js, &r, "scaled", isa, D, D);
    }
    ref_free(&r);
    free(w);
    free(ws);
}

Test(difficulty, scale_invariance) { for_each_isa(scale_invariance, NULL); }

/* Every error: the status, and c / nearest (or sim / idx) untouched. */
typedef enum { K_DIFF, K_TOPK } kern_t;

static hr_status call_kern(kern_t kind, float *c, int32_t *j, const float *w,
                           size_t n, size_t d, size_t ldw, unsigned flags) {
    return kind == K_DIFF ? hr_difficulty(c, j, w, n, d, ldw, flags)
                          : hr_neighbors_topk(c, j, 3, w, n, d, ldw, flags);
}

#define ERR_N 9
#define ERR_D 11
#define ERR_LDW 13
static void errors_one(hr_isa isa, kern_t kind) {
    static float w[ERR_N * ERR_LDW];
    float c[ERR_N * 3];
    int32_t j[ERR_N * 3];
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const size_t pos[4][2] = {
        {0, 0}, {ERR_N - 1, 0}, {ERR_N - 1, ERR_D - 1}, {4, ERR_D - 1}};
    const char *kn = kind == K_DIFF ? "difficulty" : "topk";
    size_t v, p, i;
    unsigned fl;
    uint64_t seed = 404;
    hr_status s;
#define UNTOUCHED(what)                                                      \
    cr_assert(hr_t_count_ne_f(c, ERR_N * 3, HR_T_SENT_F) == 0 &&             \
                  hr_t_count_ne_i(j, ERR_N * 3, HR_T_SENT_I) == 0,           \
              "[%s] %s %s: outputs written on error", hr_isa_name(isa), kn,  \
              what)
#define RESET()                                                              \
    do {                                                                     \
        hr_t_fill_f(c, ERR_N * 3, HR_T_SENT_F);                              \
        hr_t_fill_i(j, ERR_N * 3, HR_T_SENT_I);                              \
    } while (0)
    for (fl = 0; fl <= HR_UNIT_ROWS; fl += HR_UNIT_ROWS)
        for (v = 0; v < 3; v++)
            for (p = 0; p < 4; p++) {
                for (i = 0; i < ERR_N * ERR_LDW; i++)
                    w[i] = i % ERR_LDW < ERR_D ? hr_t_unif(&seed) : 0.0f;
                w[pos[p][0] * ERR_LDW + pos[p][1]] = bad[v];
                RESET();
                s = call_kern(kind, c, j, w, ERR_N, ERR_D, ERR_LDW, fl);
                cr_assert_eq(s, HR_ENONFINITE,
                             "[%s] %s: %g at (%zu,%zu) flags %u: status %d",
                             hr_isa_name(isa), kn, (double)bad[v], pos[p][0],
                             pos[p][1], fl, (int)s);
                UNTOUCHED("non-finite");
                RESET();
                s = call_kern(kind, c, NULL, w, ERR_N, ERR_D, ERR_LDW, fl);
                cr_assert_eq(s, HR_ENONFINITE, "%s: NaN, index NULL: %d", kn,
                             (int)s);
                UNTOUCHED("non-finite, index NULL");
            }
    for (i = 0; i < ERR_N * ERR_LDW; i++) w[i] = hr_t_unif(&seed);
    RESET();
    s = call_kern(kind, NULL, j, w, ERR_N, ERR_D, ERR_LDW, 0);
    cr_assert_eq(s, HR_EINVAL, "%s: c NULL: status %d", kn, (int)s);
    UNTOUCHED("c NULL");
    s = call_kern(kind, c, j, NULL, ERR_N, ERR_D, ERR_LDW, 0);
    cr_assert_eq(s, HR_EINVAL, "%s: w NULL: status %d", kn, (int)s);
    UNTOUCHED("w NULL");
    s = call_kern(kind, c, j, w, ERR_N, ERR_D, ERR_D - 1, 0);
    cr_assert_eq(s, HR_EINVAL, "%s: ldw < d: status %d", kn, (int)s);
    UNTOUCHED("ldw < d");
#if SIZE_MAX > 0x7fffffffu
    /* refused before reading: w is far smaller than that */
    s = call_kern(kind, c, j, w, (size_t)INT32_MAX + 1, 1, 1, 0);
    cr_assert_eq(s, HR_EINVAL, "%s: n > INT32_MAX: status %d", kn, (int)s);
    UNTOUCHED("n > INT32_MAX");
#endif
    s = call_kern(kind, c, j, w, 2, 1, SIZE_MAX / 2 + 1, 0);
    cr_assert(s == HR_EOVERFLOW || s == HR_EINVAL,
              "%s: n*ldw overflows: status %d", kn, (int)s);
    UNTOUCHED("n*ldw overflow");
    s = call_kern(kind, c, j, w, 3, SIZE_MAX / 4, SIZE_MAX / 4, 0);
    cr_assert(s == HR_EOVERFLOW || s == HR_EINVAL,
              "%s: n*ldw*sizeof(float) overflows: status %d", kn, (int)s);
    UNTOUCHED("bytes overflow");
    if (kind == K_TOPK) {
        /* n*k overflows: the output itself cannot exist */
        s = hr_neighbors_topk(c, j, SIZE_MAX / 2 + 1, w, 2, ERR_D, ERR_LDW, 0);
        cr_assert(s == HR_EOVERFLOW || s == HR_EINVAL,
                  "topk: n*k overflows: status %d", (int)s);
        UNTOUCHED("n*k overflow");
        /* k == 0: a no-op, whatever the outputs */
        s = hr_neighbors_topk(c, j, 0, w, ERR_N, ERR_D, ERR_LDW, 0);
        cr_assert_eq(s, HR_OK, "topk k=0: status %d", (int)s);
        UNTOUCHED("k=0");
        s = hr_neighbors_topk(NULL, NULL, 0, w, ERR_N, ERR_D, ERR_LDW, 0);
        cr_assert_eq(s, HR_OK, "topk k=0 NULL outputs: status %d", (int)s);
    }
#undef UNTOUCHED
#undef RESET
}

static void errors_diff(hr_isa isa, void *ctx) {
    (void)ctx;
    errors_one(isa, K_DIFF);
}
static void errors_topk(hr_isa isa, void *ctx) {
    (void)ctx;
    errors_one(isa, K_TOPK);
}

Test(difficulty, errors) { for_each_isa(errors_diff, NULL); }
Test(topk, errors) { for_each_isa(errors_topk, NULL); }

/* ----------------------------------------------------------------- top-k */

typedef struct {
    const float *w;
    size_t n, d, ldw;
    const ref_t *ref;
} topk_ctx;

static void topk_one(hr_isa isa, void *vctx) {
    static const size_t ks[] = {1, 2, 5, 32};
    topk_ctx *x = (topk_ctx *)vctx;
    size_t a, n = x->n;
    float *c = (float *)hr_t_alloc(n * sizeof(float));
    int32_t *j = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
    cr_assert_eq(hr_difficulty(c, j, x->w, n, x->d, x->ldw, 0), HR_OK, "d");
    for (a = 0; a < sizeof ks / sizeof ks[0]; a++) {
        size_t k = ks[a];
        float *sim = (float *)hr_t_alloc((n * k + 1) * sizeof(float));
        int32_t *idx = (int32_t *)hr_t_alloc((n * k + 1) * sizeof(int32_t));
        hr_status s;
        hr_t_fill_f(sim, n * k + 1, HR_T_SENT_F);
        hr_t_fill_i(idx, n * k + 1, HR_T_SENT_I);
        s = hr_neighbors_topk(sim, idx, k, x->w, n, x->d, x->ldw, 0);
        cr_assert_eq(s, HR_OK, "[%s] topk n=%zu d=%zu k=%zu: status %d",
                     hr_isa_name(isa), n, x->d, k, (int)s);
        cr_assert(sim[n * k] == HR_T_SENT_F && idx[n * k] == HR_T_SENT_I,
                  "[%s] topk n=%zu k=%zu wrote past the end",
                  hr_isa_name(isa), n, k);
        check_topk(sim, idx, k, x->ref, "topk", isa, x->d);
        if (k == 1)
            cr_assert(memcmp(sim, c, n * sizeof(float)) == 0 &&
                          memcmp(idx, j, n * sizeof(int32_t)) == 0,
                      "[%s] n=%zu d=%zu: top-1 != hr_difficulty bitwise",
                      hr_isa_name(isa), n, x->d);
        else { /* the first column of any k is the difficulty */
            size_t i;
            for (i = 0; i < n; i++)
                cr_assert(sim[i * k] == c[i] ||
                              fabs((double)sim[i * k] - c[i]) <= TOL,
                          "[%s] n=%zu top-%zu: sim[%zu][0]=%.9g, c=%.9g",
                          hr_isa_name(isa), n, k, i, (double)sim[i * k],
                          (double)c[i]);
        }
        free(sim);
        free(idx);
    }
    free(c);
    free(j);
}

static void topk_sweep(const size_t *ns, size_t nn, const size_t *ds,
                       size_t nd) {
    size_t a, b;
    for (a = 0; a < nn; a++)
        for (b = 0; b < nd; b++) {
            size_t n = ns[a], d = ds[b], ldw = d + 3;
            float *v = (float *)hr_t_alloc((n * d) * sizeof(float));
            float *w;
            ref_t ref;
            topk_ctx x;
            gen_rows(v, n, d, 0x70C + 100 * n + d);
            w = make_w(v, n, d, ldw);
            ref = ref_build(w, n, d, ldw);
            x.w = w;
            x.n = n;
            x.d = d;
            x.ldw = ldw;
            x.ref = &ref;
            for_each_isa(topk_one, &x);
            ref_free(&ref);
            free(w);
            free(v);
        }
}

Test(topk, sweep) {
    static const size_t ns[] = {0, 1, 2, 3, 7, 9, 17, 33, 65, 200};
    static const size_t ds[] = {0, 1, 3, 8, 17, 64, 257};
    topk_sweep(ns, sizeof ns / sizeof ns[0], ds, sizeof ds / sizeof ds[0]);
}

Test(topk, sweep_large) {
    static const size_t ns[] = {1000};
    static const size_t ds[] = {16, 100};
    topk_sweep(ns, 1, ds, sizeof ds / sizeof ds[0]);
}

/* exact ties in top-k: all rows equal / all zero: ranks hold the smallest
   other indices in order; n = 3, k = 5 pads */
static void topk_ties(hr_isa isa, void *ctx) {
    static const size_t ns[] = {3, 10, 70};
    size_t a, z, i, p;
    (void)ctx;
    for (z = 0; z < 2; z++)
        for (a = 0; a < 3; a++) {
            size_t n = ns[a], d = 9, k = 5;
            float *w = (float *)hr_t_alloc(n * d * sizeof(float));
            float *sim = (float *)hr_t_alloc(n * k * sizeof(float));
            int32_t *idx = (int32_t *)hr_t_alloc(n * k * sizeof(int32_t));
            for (i = 0; i < n * d; i++)
                w[i] = z ? 0.0f : (float)(i % d) - 3.5f;
            cr_assert_eq(hr_neighbors_topk(sim, idx, k, w, n, d, d, 0), HR_OK,
                         "status");
            for (i = 0; i < n; i++) {
                int32_t want = 0;
                for (p = 0; p < k; p++) {
                    if (want == (int32_t)i) want++;
                    if (p + 1 >= n) {
                        cr_assert(sim[i * k + p] == -INFINITY &&
                                      idx[i * k + p] == -1,
                                  "[%s] n=%zu row %zu rank %zu: padding "
                                  "(%g, %d)",
                                  hr_isa_name(isa), n, i, p,
                                  (double)sim[i * k + p], (int)idx[i * k + p]);
                        continue;
                    }
                    cr_assert_eq(idx[i * k + p], want,
                                 "[%s] %s n=%zu row %zu rank %zu: idx %d want "
                                 "%d",
                                 hr_isa_name(isa), z ? "zero" : "equal", n, i,
                                 p, (int)idx[i * k + p], (int)want);
                    cr_assert(z ? sim[i * k + p] == 0.0f
                                : fabs(sim[i * k + p] - 1.0) <= TOL,
                              "[%s] n=%zu row %zu rank %zu: sim %.9g",
                              hr_isa_name(isa), n, i, p,
                              (double)sim[i * k + p]);
                    want++;
                }
            }
            free(w);
            free(sim);
            free(idx);
        }
}

Test(topk, ties) { for_each_isa(topk_ties, NULL); }

/* --------------------------------------------- thread-count invariance */

#ifdef _OPENMP
/* n = 2000 matters: a library may keep small problems on one thread */
static void threads_one(hr_isa isa, void *ctx) {
    static const size_t shapes[][2] = {{1000, 257}, {2000, 64}};
    size_t a, t;
    int nt;
    (void)ctx;
    for (a = 0; a < 2; a++) {
        size_t n = shapes[a][0], d = shapes[a][1], k = 5;
        float *w = (float *)hr_t_alloc(n * d * sizeof(float));
        float *c[3], *s[3];
        int32_t *j[3], *x[3];
        gen_rows(w, n, d, 0x7EAD + a);
        for (t = 0; t < 3; t++) {
            c[t] = (float *)hr_t_alloc(n * sizeof(float));
            j[t] = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
            s[t] = (float *)hr_t_alloc(n * k * sizeof(float));
            x[t] = (int32_t *)hr_t_alloc(n * k * sizeof(int32_t));
            nt = (int)t + 1;
            omp_set_num_threads(nt);
            cr_assert_eq(hr_difficulty(c[t], j[t], w, n, d, d, 0), HR_OK,
                         "status");
            cr_assert_eq(hr_neighbors_topk(s[t], x[t], k, w, n, d, d, 0),
                         HR_OK, "status");
            if (t > 0) {
                cr_assert(memcmp(c[t], c[0], n * sizeof(float)) == 0 &&
                              memcmp(j[t], j[0], n * sizeof(int32_t)) == 0,
                          "[%s] n=%zu d=%zu: difficulty with %d threads != 1 "
                          "thread",
                          hr_isa_name(isa), n, d, nt);
                cr_assert(memcmp(s[t], s[0], n * k * sizeof(float)) == 0 &&
                              memcmp(x[t], x[0], n * k * sizeof(int32_t)) == 0,
                          "[%s] n=%zu d=%zu: top-%zu with %d threads != 1 "
                          "thread",
                          hr_isa_name(isa), n, d, k, nt);
            }
        }
        for (t = 0; t < 3; t++) {
            free(c[t]);
            free(j[t]);
            free(s[t]);
            free(x[t]);
        }
        free(w);
    }
}

Test(difficulty, thread_invariance) {
    int keep = omp_get_max_threads();
    hr_t_log("OpenMP: up to %d threads", keep);
    for_each_isa(threads_one, NULL);
    omp_set_num_threads(keep);
}
#endif

/* ------------------------------------- contract edges (fuzzer findings) */

/* HR_UNIT_ROWS is a promise the call checks: a row that is neither unit nor
   zero is HR_EINVAL (it could overflow a product to Inf), NaN still first;
   a NULL w with rows of width 0 is HR_EINVAL, not an offset NULL. */
Test(difficulty, unit_rows_checked) {
    const float big[2] = {1e20f, -1e20f}, unit[4] = {0.6f, 0.8f, 0.0f, 0.0f};
    const float nanrow[4] = {3.0f, 4.0f, NAN, 0.0f};
    float c[2] = {HR_T_SENT_F, HR_T_SENT_F}, s[2] = {HR_T_SENT_F, HR_T_SENT_F};
    int32_t j[2] = {HR_T_SENT_I, HR_T_SENT_I}, x[2] = {HR_T_SENT_I, HR_T_SENT_I};
    cr_assert_eq(hr_difficulty(c, j, big, 2, 1, 1, HR_UNIT_ROWS), HR_EINVAL, "non-unit rows");
    cr_assert_eq(hr_neighbors_topk(s, x, 1, big, 2, 1, 1, HR_UNIT_ROWS), HR_EINVAL, "topk");
    cr_assert(hr_t_count_ne_f(c, 2, HR_T_SENT_F) == 0 && hr_t_count_ne_i(j, 2, HR_T_SENT_I) == 0 &&
                  hr_t_count_ne_f(s, 2, HR_T_SENT_F) == 0 && hr_t_count_ne_i(x, 2, HR_T_SENT_I) == 0,
              "outputs untouched");
    cr_assert_eq(hr_difficulty(c, j, nanrow, 2, 2, 2, HR_UNIT_ROWS), HR_ENONFINITE, "NaN first");
    /* a unit row and a zero row are fine */
    cr_assert_eq(hr_difficulty(c, j, unit, 2, 2, 2, HR_UNIT_ROWS), HR_OK, "unit + zero row");
    cr_assert(c[0] == 0.0f && c[1] == 0.0f && j[0] == 1 && j[1] == 0, "zero row: cos 0");
    cr_assert_eq(hr_difficulty(c, j, NULL, 2, 0, 0, 0), HR_EINVAL, "NULL w, d == 0");
    cr_assert_eq(hr_neighbors_topk(s, x, 1, NULL, 2, 0, 0, 0), HR_EINVAL, "topk NULL w, d == 0");
    cr_assert_eq(hr_normalize_rows(NULL, 0, NULL, 0, 3, 0), HR_OK, "normalize: no elements");
}
