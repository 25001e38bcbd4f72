/* tests/test_gemm.c - hr_gemm, hr_fc_forward and hr_fc_backward against
   obviously-right double-precision references (and, for the backward pass,
   central differences of a scalar loss), on every ISA path: awkward shapes,
   the four transpose cases, padded strides, alpha/beta, the special cases,
   errors (outputs untouched), ISA agreement and thread-count invariance. */
#include "harness.h"
#include "hardreid.h"

#include <stdint.h>

/* ------------------------------------------------------------ tolerance

   Every input is a float, so each product a_ip b_pj is exact in double and
   the reference (double sums of at most a few hundred terms of size <= 1)
   is exact to ~1e-13 relative: the error is the float kernel's alone.
   One element of C is computed in float as
     t = sum_p a_ip b_pj    (k products and k - 1 additions in some order,
                             split into k blocks that each round once more),
     C = alpha t + beta c   (one multiply each, one add; beta == 0: no c).
   Each term passes through at most k (the sum) + nb - 1 (the block
   accumulations, nb <= k blocks) + 1 (alpha) + 2 (beta c, the add)
   roundings of u = FLT_EPSILON / 2, so by the standard bound (Higham 3.5)
     |C - ref| <= gamma_{k+nb+2} (|alpha| sum_p |a_ip b_pj| + |beta c|)
               <= (k + nb + 2) u (1 + O(ku)) (...) <= 4 k FLT_EPSILON (...)
   for every k >= 1 (k + nb + 2 <= 3k + 1 <= 8k). FMA only removes
   roundings. The same bound holds for the difference of two paths: each
   is within (k + nb + 2) u of the reference, so they differ by at most
   (k + nb + 2) FLT_EPSILON (...) <= 4 k FLT_EPSILON (...) since nb + 2 <=
   3k. The tiny absolute term covers sums that are exactly 0. NaN fails
   every comparison, so a read of a NaN padding or of a NaN-filled C with
   beta == 0 shows up here too. */
#define TINY 1e-30

static double tol_of(size_t k, double alpha, double sabs, double beta,
                     double c0) {
    return 4.0 * (double)(k ? k : 1) * FLT_EPSILON *
               (fabs(alpha) * sabs + fabs(beta * c0)) +
           TINY;
}

/* ----------------------------------------------------------- test data */

static void fill_rand(float *v, size_t n, uint64_t seed) {
    size_t i;
    for (i = 0; i < n; i++) v[i] = hr_t_unif(&seed);
}

/* The logical rows x cols matrix v (packed row-major) stored as a row-major
   buffer with row stride ld: as is (rows x ld) or transposed (cols x ld,
   element (i, p) at buf[p*ld + i]). Everything else, padding and one
   trailing row included, is NaN: any read of it poisons the result. */
static float *store_mat(const float *v, size_t rows, size_t cols, size_t ld,
                        int trans) {
    size_t srows = trans ? cols : rows, i, p;
    size_t total = (srows + 1) * ld + 1;
    float *buf = (float *)hr_t_alloc(total * sizeof(float));
    hr_t_fill_f(buf, total, NAN);
    for (i = 0; i < rows; i++)
        for (p = 0; p < cols; p++) {
            if (trans)
                buf[p * ld + i] = v[i * cols + p];
            else
                buf[i * ld + p] = v[i * cols + p];
        }
    return buf;
}

/* double reference: s = op(A) op(B) (m x n), sabs = |op(A)| |op(B)| */
static void ref_gemm(double *s, double *sabs, const float *a, const float *b,
                     size_t m, size_t n, size_t k) {
    size_t i, j, p;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            double t = 0.0, ta = 0.0;
            for (p = 0; p < k; p++) {
                double x = (double)a[i * k + p] * (double)b[p * n + j];
                t += x;
                ta += fabs(x);
            }
            s[i * n + j] = t;
            sabs[i * n + j] = ta;
        }
}

static const char *trans_name(hr_trans t) { return t == HR_TRANS ? "T" : "N"; }

/* ------------------------------------------------------- gemm checker */

typedef struct {
    size_t m, n, k;
    hr_trans ta, tb;
    float alpha, beta;
    const float *a, *b;
    size_t lda, ldb, ldc;
    const float *c0;             /* m x n initial C (packed)              */
    const double *s, *sabs;      /* reference, m x n                      */
    float *cs;                   /* m x n: the scalar path's result       */
    int have_scalar;
} gemm_ctx;

/* Run one hr_gemm on the current ISA into a fresh C (padding and a
   trailing row of sentinels; NaN in the matrix when beta == 0), check
   status, sentinels, the reference and (non-scalar) the scalar result. */
static void gemm_one(hr_isa isa, void *vctx) {
    gemm_ctx *x = (gemm_ctx *)vctx;
    const size_t m = x->m, n = x->n, ldc = x->ldc;
    const size_t total = (m + 1) * ldc + 1;
    float *c = (float *)hr_t_alloc(total * sizeof(float));
    size_t i, j;
    hr_status st;
    hr_t_fill_f(c, total, HR_T_SENT_F);
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++)
            c[i * ldc + j] = x->beta == 0.0f ? NAN : x->c0[i * n + j];
    st = hr_gemm(x->ta, x->tb, m, n, x->k, x->alpha, x->a, x->lda, x->b,
                 x->ldb, x->beta, c, ldc);
    cr_assert_eq(st, HR_OK,
                 "[%s] gemm %s%s m=%zu n=%zu k=%zu lda=%zu ldb=%zu ldc=%zu: "
                 "status %d",
                 hr_isa_name(isa), trans_name(x->ta), trans_name(x->tb), m, n,
                 x->k, x->lda, x->ldb, ldc, (int)st);
    for (i = 0; i < m; i++) {
        cr_assert(hr_t_count_ne_f(c + i * ldc + n, ldc - n, HR_T_SENT_F) == 0,
                  "[%s] gemm %s%s m=%zu n=%zu k=%zu ldc=%zu: row %zu padding "
                  "written",
                  hr_isa_name(isa), trans_name(x->ta), trans_name(x->tb), m, n,
                  x->k, ldc, i);
        for (j = 0; j < n; j++) {
            const double c0 = x->beta == 0.0f ? 0.0 : (double)x->c0[i * n + j];
            const double want = (double)x->alpha * x->s[i * n + j] +
                                (double)x->beta * c0;
            const double tol = tol_of(x->k, x->alpha, x->sabs[i * n + j],
                                      x->beta, c0);
            const float got = c[i * ldc + j];
            cr_assert(isfinite(got) && fabs((double)got - want) <= tol,
                      "[%s] gemm %s%s m=%zu n=%zu k=%zu lda=%zu ldb=%zu "
                      "ldc=%zu alpha=%g beta=%g: C[%zu][%zu]=%.9g want %.9g "
                      "(tol %.3g)",
                      hr_isa_name(isa), trans_name(x->ta), trans_name(x->tb),
                      m, n, x->k, x->lda, x->ldb, ldc, (double)x->alpha,
                      (double)x->beta, i, j, (double)got, want, tol);
            if (isa == HR_ISA_SCALAR) {
                x->cs[i * n + j] = got;
            } else {
                const double d = fabs((double)got - (double)x->cs[i * n + j]);
                cr_assert(x->have_scalar, "scalar runs first");
                cr_assert(d <= tol,
                          "[%s] gemm %s%s m=%zu n=%zu k=%zu: C[%zu][%zu]=%.9g "
                          "scalar %.9g (diff %.3g, tol %.3g)",
                          hr_isa_name(isa), trans_name(x->ta),
                          trans_name(x->tb), m, n, x->k, i, j, (double)got,
                          (double)x->cs[i * n + j], d, tol);
            }
        }
    }
    cr_assert(hr_t_count_ne_f(c + m * ldc, ldc + 1, HR_T_SENT_F) == 0,
              "[%s] gemm m=%zu n=%zu k=%zu: wrote past the last row",
              hr_isa_name(isa), m, n, x->k);
    if (isa == HR_ISA_SCALAR) x->have_scalar = 1;
    free(c);
}

static const float alphas[3] = {1.0f, 0.5f, -2.0f};
static const float betas[3] = {0.0f, 1.0f, 0.75f};
static const size_t pads[4] = {0, 1, 3, 16};

/* One shape, all four transpose cases on every ISA. alpha/beta and the
   stride padding rotate with *counter (9 alpha/beta pairs, 4 pads: over a
   sweep every combination meets every transpose case). */
static void gemm_shape(size_t m, size_t n, size_t k, unsigned *counter) {
    float *av = (float *)hr_t_alloc(m * k * sizeof(float));
    float *bv = (float *)hr_t_alloc(k * n * sizeof(float));
    float *c0 = (float *)hr_t_alloc(m * n * sizeof(float));
    double *s = (double *)hr_t_alloc(m * n * sizeof(double));
    double *sabs = (double *)hr_t_alloc(m * n * sizeof(double));
    gemm_ctx x;
    int t;
    fill_rand(av, m * k, 0xA000 + 7919 * m + 31 * k);
    fill_rand(bv, k * n, 0xB000 + 7919 * n + 17 * k);
    fill_rand(c0, m * n, 0xC000 + m + 1000 * n);
    ref_gemm(s, sabs, av, bv, m, n, k);
    x.cs = (float *)hr_t_alloc(m * n * sizeof(float));
    for (t = 0; t < 4; t++) {
        const unsigned q = (*counter)++;
        const size_t pa = pads[q % 4], pb = pads[(q / 4) % 4],
                     pc = pads[(q + 1) % 4];
        float *a, *b;
        x.m = m;
        x.n = n;
        x.k = k;
        x.ta = (t & 1) ? HR_TRANS : HR_NO_TRANS;
        x.tb = (t & 2) ? HR_TRANS : HR_NO_TRANS;
        x.alpha = alphas[q % 9 / 3];
        x.beta = betas[q % 3];
        x.lda = (x.ta ? m : k) + pa;
        x.ldb = (x.tb ? k : n) + pb;
        x.ldc = n + pc;
        a = store_mat(av, m, k, x.lda, x.ta == HR_TRANS);
        b = store_mat(bv, k, n, x.ldb, x.tb == HR_TRANS);
        x.a = a;
        x.b = b;
        x.c0 = c0;
        x.s = s;
        x.sabs = sabs;
        x.have_scalar = 0;
        for_each_isa(gemm_one, &x);
        free(a);
        free(b);
    }
    free(x.cs);
    free(av);
    free(bv);
    free(c0);
    free(s);
    free(sabs);
}

static const size_t awk[12] = {1, 2, 3, 5, 7, 13, 17, 31, 33, 65, 130, 197};

/* every (m, n) of the awkward set, each with two k of the set */
Test(gemm, awkward_shapes) {
    unsigned counter = 0;
    size_t i, j;
    for (i = 0; i < 12; i++)
        for (j = 0; j < 12; j++) {
            const size_t k1 = awk[(i + j) % 12], k2 = awk[(5 * i + 7 * j + 3) % 12];
            gemm_shape(awk[i], awk[j], k1, &counter);
            if (k2 != k1) gemm_shape(awk[i], awk[j], k2, &counter);
        }
}

/* several k blocks (k > 512: 2 on AVX2/NEON, 3 on scalar), several row
   blocks (m > 192), several column blocks (n beyond the packed B block:
   4096 columns at kc = 256) */
Test(gemm, large_shapes) {
    static const size_t shapes[][3] = {
        {5, 4200, 300}, {197, 1030, 33}, {1, 1500, 700}, {13, 2100, 600},
        {300, 257, 520}, {70, 1100, 600}};
    unsigned counter = 3;
    size_t a;
    for (a = 0; a < sizeof shapes / sizeof shapes[0]; a++) {
#ifdef HR_TEST_QUICK /* emulated runs: the two largest add ~20 s */
        if (shapes[a][0] * shapes[a][1] * shapes[a][2] > 40000000u) continue;
#endif
        gemm_shape(shapes[a][0], shapes[a][1], shapes[a][2], &counter);
    }
}

/* -------------------------------------------------------- special cases */

/* 1x1x1 with exactly representable values: the result is exact */
static void gemm_1x1x1(hr_isa isa, void *ctx) {
    int t, ab;
    (void)ctx;
    for (t = 0; t < 4; t++)
        for (ab = 0; ab < 9; ab++) {
            const hr_trans ta = (t & 1) ? HR_TRANS : HR_NO_TRANS;
            const hr_trans tb = (t & 2) ? HR_TRANS : HR_NO_TRANS;
            const float alpha = alphas[ab / 3], beta = betas[ab % 3];
            const float a[2] = {1.5f, NAN}, b[3] = {-2.25f, NAN, NAN};
            float c[4] = {3.0f, HR_T_SENT_F, HR_T_SENT_F, HR_T_SENT_F};
            const float want = alpha * (1.5f * -2.25f) + beta * 3.0f;
            hr_status st;
            if (beta == 0.0f) c[0] = NAN;
            st = hr_gemm(ta, tb, 1, 1, 1, alpha, a, 1 + (size_t)t, b,
                         1 + (size_t)ab % 3, beta, c, 1 + (size_t)ab / 3);
            cr_assert_eq(st, HR_OK, "[%s] 1x1x1: status %d", hr_isa_name(isa),
                         (int)st);
            cr_assert(c[0] == want,
                      "[%s] 1x1x1 %s%s alpha=%g beta=%g: %.9g want %.9g",
                      hr_isa_name(isa), trans_name(ta), trans_name(tb),
                      (double)alpha, (double)beta, (double)c[0],
                      (double)want);
            cr_assert(hr_t_count_ne_f(c + 1, 3, HR_T_SENT_F) == 0,
                      "[%s] 1x1x1: wrote past C", hr_isa_name(isa));
        }
}

Test(gemm, shape_1x1x1) { for_each_isa(gemm_1x1x1, NULL); }

/* C = beta C exactly (one float multiply; beta == 0: zeros, C not read) */
static void check_beta_c(const float *c, const float *c0, size_t m, size_t n,
                         size_t ldc, float beta, const char *what,
                         hr_isa isa) {
    size_t i, j;
    for (i = 0; i < m; i++) {
        for (j = 0; j < n; j++) {
            const float want = beta == 0.0f ? 0.0f : beta * c0[i * n + j];
            cr_assert(c[i * ldc + j] == want,
                      "[%s] %s m=%zu n=%zu beta=%g: C[%zu][%zu]=%.9g want "
                      "%.9g",
                      hr_isa_name(isa), what, m, n, (double)beta, i, j,
                      (double)c[i * ldc + j], (double)want);
        }
        cr_assert(hr_t_count_ne_f(c + i * ldc + n, ldc - n, HR_T_SENT_F) == 0,
                  "[%s] %s: padding of row %zu written", hr_isa_name(isa),
                  what, i);
    }
    cr_assert(hr_t_count_ne_f(c + m * ldc, ldc, HR_T_SENT_F) == 0,
              "[%s] %s: wrote past C", hr_isa_name(isa), what);
}

static void gemm_special(hr_isa isa, void *ctx) {
    /* shapes that would use the blocked path (and a team) if k > 0 */
    static const size_t shapes[][2] = {{1, 1}, {3, 5}, {17, 33}, {200, 130}};
    size_t sh, i;
    int t, bi;
    (void)ctx;
    for (sh = 0; sh < 4; sh++)
        for (t = 0; t < 4; t++)
            for (bi = 0; bi < 3; bi++) {
                const size_t m = shapes[sh][0], n = shapes[sh][1], ldc = n + 2;
                const size_t k = 7 + sh;
                const hr_trans ta = (t & 1) ? HR_TRANS : HR_NO_TRANS;
                const hr_trans tb = (t & 2) ? HR_TRANS : HR_NO_TRANS;
                const float beta = betas[bi];
                const size_t lda = ta ? m : k, ldb = tb ? k : n;
                float *c0 = (float *)hr_t_alloc(m * n * sizeof(float));
                float *c = (float *)hr_t_alloc((m + 1) * ldc * sizeof(float));
                float *a = (float *)hr_t_alloc((m + 1) * (k + 1) * sizeof(float));
                float *b = (float *)hr_t_alloc((n + 1) * (k + 1) * sizeof(float));
                hr_status st;
                fill_rand(c0, m * n, 77 + sh);
                hr_t_fill_f(a, (m + 1) * (k + 1), NAN);
                hr_t_fill_f(b, (n + 1) * (k + 1), NAN);

#define FILL_C()                                                             \
    do {                                                                     \
        hr_t_fill_f(c, (m + 1) * ldc, HR_T_SENT_F);                          \
        for (i = 0; i < m * n; i++)                                          \
            c[i / n * ldc + i % n] = beta == 0.0f ? NAN : c0[i];             \
    } while (0)

                /* k == 0: C = beta C; A and B NULL (no elements) */
                FILL_C();
                st = hr_gemm(ta, tb, m, n, 0, 1.0f, NULL, ta ? m : 0, NULL,
                             tb ? 0 : n, beta, c, ldc);
                cr_assert_eq(st, HR_OK, "[%s] k=0: status %d",
                             hr_isa_name(isa), (int)st);
                check_beta_c(c, c0, m, n, ldc, beta, "k=0", isa);
                /* k == 0 with (NaN-filled) buffers and alpha = -2 */
                FILL_C();
                st = hr_gemm(ta, tb, m, n, 0, -2.0f, a, lda, b, ldb, beta, c,
                             ldc);
                cr_assert_eq(st, HR_OK, "[%s] k=0 buffers: status %d",
                             hr_isa_name(isa), (int)st);
                check_beta_c(c, c0, m, n, ldc, beta, "k=0 buffers", isa);
                /* alpha == 0: A and B (all NaN) not read */
                FILL_C();
                st = hr_gemm(ta, tb, m, n, k, 0.0f, a, lda, b, ldb, beta, c,
                             ldc);
                cr_assert_eq(st, HR_OK, "[%s] alpha=0: status %d",
                             hr_isa_name(isa), (int)st);
                check_beta_c(c, c0, m, n, ldc, beta, "alpha=0", isa);
                /* m == 0 / n == 0: nothing written (A or B have elements) */
                hr_t_fill_f(c, (m + 1) * ldc, HR_T_SENT_F);
                st = hr_gemm(ta, tb, 0, n, k, 1.0f, a, ta ? 0 : k, b, ldb,
                             beta, c, ldc);
                cr_assert_eq(st, HR_OK, "[%s] m=0: status %d",
                             hr_isa_name(isa), (int)st);
                st = hr_gemm(ta, tb, m, 0, k, 1.0f, a, lda, b, tb ? k : 0,
                             beta, c, ldc);
                cr_assert_eq(st, HR_OK, "[%s] n=0: status %d",
                             hr_isa_name(isa), (int)st);
                st = hr_gemm(ta, tb, 0, 0, k, 1.0f, NULL, ta ? 0 : k, NULL,
                             tb ? k : 0, beta, NULL, 0);
                cr_assert_eq(st, HR_OK, "[%s] m=n=0 NULL: status %d",
                             hr_isa_name(isa), (int)st);
                st = hr_gemm(ta, tb, 0, n, k, 1.0f, NULL, ta ? 0 : k, b, ldb,
                             beta, NULL, ldc);
                cr_assert_eq(st, HR_OK, "[%s] m=0 NULL A, C: status %d",
                             hr_isa_name(isa), (int)st);
                cr_assert(hr_t_count_ne_f(c, (m + 1) * ldc, HR_T_SENT_F) == 0,
                          "[%s] m=0 / n=0 wrote to C", hr_isa_name(isa));
#undef FILL_C
                free(c0);
                free(c);
                free(a);
                free(b);
            }
}

Test(gemm, special_cases) { for_each_isa(gemm_special, NULL); }

/* --------------------------------------------------------------- errors */

#define EC_N 64 /* the C buffer of every error call: all sentinels after */

#define GEMM_ERR(call, want, what)                                           \
    do {                                                                     \
        hr_status st_;                                                       \
        hr_t_fill_f(c, EC_N, HR_T_SENT_F);                                   \
        st_ = (call);                                                        \
        cr_assert_eq(st_, (want), "[%s] %s: status %d, want %d",             \
                     hr_isa_name(isa), (what), (int)st_, (int)(want));       \
        cr_assert(hr_t_count_ne_f(c, EC_N, HR_T_SENT_F) == 0,                \
                  "[%s] %s: C written on error", hr_isa_name(isa), (what));  \
    } while (0)

static void gemm_errors(hr_isa isa, void *ctx) {
    /* m = 5, n = 4, k = 3: every width differs, so the checks must use
       the right one for each transpose case */
    enum { M = 5, N = 4, K = 3 };
    float a[64], b[64], c[EC_N];
    const size_t big = SIZE_MAX / 2;
    int t;
    (void)ctx;
    fill_rand(a, 64, 1);
    fill_rand(b, 64, 2);
    /* bad trans values */
    GEMM_ERR(hr_gemm((hr_trans)7, HR_NO_TRANS, M, N, K, 1, a, K, b, N, 0, c, N),
             HR_EINVAL, "ta = 7");
    GEMM_ERR(hr_gemm(HR_NO_TRANS, (hr_trans)2, M, N, K, 1, a, K, b, N, 0, c, N),
             HR_EINVAL, "tb = 2");
    GEMM_ERR(hr_gemm((hr_trans)-1, (hr_trans)-1, M, N, K, 1, a, M, b, K, 1, c,
                     N),
             HR_EINVAL, "ta = tb = -1");
    /* bad trans even with nothing to do */
    GEMM_ERR(hr_gemm((hr_trans)3, HR_NO_TRANS, 0, 0, 0, 1, NULL, 0, NULL, 0, 0,
                     NULL, 0),
             HR_EINVAL, "ta = 3, empty");
    for (t = 0; t < 4; t++) {
        const hr_trans ta = (t & 1) ? HR_TRANS : HR_NO_TRANS;
        const hr_trans tb = (t & 2) ? HR_TRANS : HR_NO_TRANS;
        const size_t lda = ta ? M : K, ldb = tb ? K : N;
        char what[96];
        /* the valid call works (and the buffers are large enough) */
        hr_t_fill_f(c, EC_N, 0.0f);
        cr_assert_eq(hr_gemm(ta, tb, M, N, K, 1, a, lda, b, ldb, 0, c, N),
                     HR_OK, "[%s] %s%s valid call", hr_isa_name(isa),
                     trans_name(ta), trans_name(tb));
#define WHAT(s) (snprintf(what, sizeof what, "%s%s %s", trans_name(ta),    \
                          trans_name(tb), s), what)
        GEMM_ERR(hr_gemm(ta, tb, M, N, K, 1, NULL, lda, b, ldb, 0, c, N),
                 HR_EINVAL, WHAT("A NULL"));
        GEMM_ERR(hr_gemm(ta, tb, M, N, K, 1, a, lda, NULL, ldb, 0, c, N),
                 HR_EINVAL, WHAT("B NULL"));
        GEMM_ERR(hr_gemm(ta, tb, M, N, K, 1, a, lda, b, ldb, 0, NULL, N),
                 HR_EINVAL, WHAT("C NULL"));
        GEMM_ERR(hr_gemm(ta, tb, M, N, K, 1, a, lda - 1, b, ldb, 0, c, N),
                 HR_EINVAL, WHAT("lda = width - 1"));
        GEMM_ERR(hr_gemm(ta, tb, M, N, K, 1, a, 0, b, ldb, 1, c, N), HR_EINVAL,
                 WHAT("lda = 0"));
        GEMM_ERR(hr_gemm(ta, tb, M, N, K, 1, a, lda, b, ldb - 1, 0, c, N),
                 HR_EINVAL, WHAT("ldb = width - 1"));
        GEMM_ERR(hr_gemm(ta, tb, M, N, K, 1, a, lda, b, ldb, 0, c, N - 1),
                 HR_EINVAL, WHAT("ldc = n - 1"));
        /* the other operand's width is not enough: lda must be the width of
           op(A)'s storage (k, or m when transposed) */
        if (ta == HR_TRANS) /* K < lda = M - 1 */
            GEMM_ERR(hr_gemm(ta, tb, M, N, K, 1, a, M - 1, b, ldb, 0, c, N),
                     HR_EINVAL, WHAT("lda = m - 1 (>= k)"));
        if (tb == HR_NO_TRANS) /* K = ldb < N */
            GEMM_ERR(hr_gemm(ta, tb, M, N, K, 1, a, lda, b, K, 0, c, N),
                     HR_EINVAL, WHAT("ldb = k (< n)"));
        /* alpha == 0 and k == 0 still validate */
        GEMM_ERR(hr_gemm(ta, tb, M, N, K, 0, a, lda, b, ldb, 0, c, N - 1),
                 HR_EINVAL, WHAT("alpha = 0, ldc = n - 1"));
        GEMM_ERR(hr_gemm(ta, tb, M, N, 0, 1, NULL, ta ? M : 0, NULL,
                         tb ? 0 : N, 0.5f, c, N - 1),
                 HR_EINVAL, WHAT("k = 0, ldc = n - 1"));
        /* size_t overflow of an extent, with strides that are all wide
           enough: rejected before any memory is touched (the buffers
           here are tiny) */
        GEMM_ERR(hr_gemm(ta, tb, big, 1, 1, 1, a, ta ? big : 1, b, 1, 0, c,
                         SIZE_MAX / 4),
                 HR_EOVERFLOW, WHAT("m = SIZE_MAX/2, ldc = SIZE_MAX/4"));
        GEMM_ERR(hr_gemm(ta, tb, 2, 1, 1, 1, a, ta ? 2 : 1, b, 1, 0, c, big),
                 HR_EOVERFLOW, WHAT("m = 2, ldc = SIZE_MAX/2"));
        GEMM_ERR(hr_gemm(ta, tb, 1, 1, big, 1, a, ta ? 1 : big, b,
                         tb ? big : 1, 0, c, 1),
                 HR_EOVERFLOW, WHAT("k = SIZE_MAX/2"));
        GEMM_ERR(hr_gemm(ta, tb, 1, big, 1, 1, a, 1, b, tb ? 1 : big, 0, c,
                         big),
                 HR_EOVERFLOW, WHAT("n = SIZE_MAX/2"));
        GEMM_ERR(hr_gemm(ta, tb, 3, 2, 2, 1, a, big, b, 2, 0, c, 2),
                 HR_EOVERFLOW, WHAT("lda = SIZE_MAX/2"));
        GEMM_ERR(hr_gemm(ta, tb, 3, 2, 2, 1, a, ta ? 3 : 2, b, big, 0, c, 2),
                 HR_EOVERFLOW, WHAT("ldb = SIZE_MAX/2"));
#undef WHAT
    }
}

Test(gemm, errors) { for_each_isa(gemm_errors, NULL); }

/* ----------------------------------------------------------- fc_forward */

static void fc_forward_one(hr_isa isa, void *ctx) {
    static const size_t batches[] = {1, 3, 17, 64};
    static const size_t ins[] = {0, 1, 3, 17, 64, 130};
    static const size_t outs[] = {1, 3, 17, 64, 197};
    size_t ib, ii, io, b, o, i;
    int wb;
    (void)ctx;
    for (ib = 0; ib < 4; ib++)
        for (ii = 0; ii < 6; ii++)
            for (io = 0; io < 5; io++)
                for (wb = 0; wb < 2; wb++) {
                    const size_t batch = batches[ib], in = ins[ii],
                                 out = outs[io];
                    float *x = (float *)hr_t_alloc(batch * in * sizeof(float));
                    float *w = (float *)hr_t_alloc(out * in * sizeof(float));
                    float *bias = (float *)hr_t_alloc(out * sizeof(float));
                    float *y = (float *)hr_t_alloc((batch * out + 1) *
                                                   sizeof(float));
                    hr_status st;
                    fill_rand(x, batch * in, 11 + batch + 100 * in);
                    fill_rand(w, out * in, 13 + out + 100 * in);
                    fill_rand(bias, out, 17 + out);
                    /* garbage, NaN included: y is overwritten */
                    for (i = 0; i < batch * out; i++)
                        y[i] = i % 3 == 0 ? NAN : 1e30f;
                    y[batch * out] = HR_T_SENT_F;
                    st = hr_fc_forward(y, x, w, wb ? bias : NULL, batch, in,
                                       out);
                    cr_assert_eq(st, HR_OK, "[%s] fc_forward b=%zu in=%zu "
                                            "out=%zu: status %d",
                                 hr_isa_name(isa), batch, in, out, (int)st);
                    cr_assert(y[batch * out] == HR_T_SENT_F,
                              "[%s] fc_forward: wrote past y",
                              hr_isa_name(isa));
                    for (b = 0; b < batch; b++)
                        for (o = 0; o < out; o++) {
                            double s = wb ? (double)bias[o] : 0.0;
                            double sabs = 0.0, tol;
                            for (i = 0; i < in; i++) {
                                double t = (double)x[b * in + i] *
                                           (double)w[o * in + i];
                                s += t;
                                sabs += fabs(t);
                            }
                            tol = tol_of(in, 1.0, sabs, 1.0,
                                         wb ? (double)bias[o] : 0.0);
                            cr_assert(isfinite(y[b * out + o]) &&
                                          fabs((double)y[b * out + o] - s) <=
                                              tol,
                                      "[%s] fc_forward b=%zu in=%zu out=%zu "
                                      "bias=%d: y[%zu][%zu]=%.9g want %.9g",
                                      hr_isa_name(isa), batch, in, out, wb, b,
                                      o, (double)y[b * out + o], s);
                        }
                    free(x);
                    free(w);
                    free(bias);
                    free(y);
                }
}

Test(gemm, fc_forward) { for_each_isa(fc_forward_one, NULL); }

static void fc_forward_errors(hr_isa isa, void *ctx) {
    float x[16], w[16], bias[4], y[EC_N];
    const size_t big = SIZE_MAX / 2;
    hr_status st;
    (void)ctx;
    fill_rand(x, 16, 3);
    fill_rand(w, 16, 4);
    fill_rand(bias, 4, 5);
#define FWD_ERR(call, want, what)                                            \
    do {                                                                     \
        hr_t_fill_f(y, EC_N, HR_T_SENT_F);                                   \
        st = (call);                                                         \
        cr_assert_eq(st, (want), "[%s] fc_forward %s: status %d",            \
                     hr_isa_name(isa), (what), (int)st);                     \
        cr_assert(hr_t_count_ne_f(y, EC_N, HR_T_SENT_F) == 0,                \
                  "[%s] fc_forward %s: y written on error",                  \
                  hr_isa_name(isa), (what));                                 \
    } while (0)
    FWD_ERR(hr_fc_forward(y, NULL, w, bias, 2, 3, 4), HR_EINVAL, "x NULL");
    FWD_ERR(hr_fc_forward(y, x, NULL, bias, 2, 3, 4), HR_EINVAL, "w NULL");
    FWD_ERR(hr_fc_forward(y, x, NULL, NULL, 2, 3, 4), HR_EINVAL,
            "w NULL, no bias");
    FWD_ERR(hr_fc_forward(NULL, x, w, bias, 2, 3, 4), HR_EINVAL, "y NULL");
    FWD_ERR(hr_fc_forward(y, x, w, bias, big, 3, 4), HR_EOVERFLOW,
            "batch = SIZE_MAX/2");
    FWD_ERR(hr_fc_forward(y, x, w, bias, 2, big, 4), HR_EOVERFLOW,
            "in = SIZE_MAX/2");
    FWD_ERR(hr_fc_forward(y, x, w, bias, 2, 3, big), HR_EOVERFLOW,
            "out = SIZE_MAX/2");
    /* nothing to do: HR_OK, nothing written, NULL allowed */
    FWD_ERR(hr_fc_forward(y, x, w, bias, 0, 3, 4), HR_OK, "batch = 0");
    FWD_ERR(hr_fc_forward(NULL, NULL, w, NULL, 0, 3, 4), HR_OK,
            "batch = 0, NULL");
    FWD_ERR(hr_fc_forward(y, x, w, bias, 2, 3, 0), HR_OK, "out = 0");
#undef FWD_ERR
}

Test(gemm, fc_forward_errors) { for_each_isa(fc_forward_errors, NULL); }

/* ---------------------------------------------------------- fc_backward */

/* L = sum_{b,o} g[b,o] y[b,o], y = x w^T + bias, all in double; *labs:
   the sum of |every term|, for the rounding bound of the differences */
static double fc_loss(const double *x, const double *w, const double *bias,
                      const double *g, size_t batch, size_t in, size_t out,
                      double *labs) {
    double l = 0.0, la = 0.0;
    size_t b, o, i;
    for (b = 0; b < batch; b++)
        for (o = 0; o < out; o++) {
            double y = bias[o], ya = fabs(bias[o]);
            for (i = 0; i < in; i++) {
                y += x[b * in + i] * w[o * in + i];
                ya += fabs(x[b * in + i] * w[o * in + i]);
            }
            l += g[b * out + o] * y;
            la += fabs(g[b * out + o]) * ya;
        }
    if (labs) *labs = la;
    return l;
}

typedef struct {
    size_t batch, in, out;
    float *x, *w, *g;       /* inputs (g is dy)                           */
    double *fdx, *fdw, *fdb; /* central differences of L                 */
    double *sx, *sw, *sb;   /* sums of |terms| of each gradient          */
    double fd_err;          /* rounding bound of the differences         */
} fd_t;

static const double FD_H = 1e-3;

static void fd_build(fd_t *f, size_t batch, size_t in, size_t out,
                     uint64_t seed) {
    const size_t nx = batch * in, nw = out * in, ny = batch * out;
    double *xd = (double *)hr_t_alloc(nx * sizeof(double));
    double *wd = (double *)hr_t_alloc(nw * sizeof(double));
    double *bd = (double *)hr_t_alloc(out * sizeof(double));
    double *gd = (double *)hr_t_alloc(ny * sizeof(double));
    float *bias = (float *)hr_t_alloc(out * sizeof(float));
    double labs, *p;
    size_t q, b, o, i;
    f->batch = batch;
    f->in = in;
    f->out = out;
    f->x = (float *)hr_t_alloc(nx * sizeof(float));
    f->w = (float *)hr_t_alloc(nw * sizeof(float));
    f->g = (float *)hr_t_alloc(ny * sizeof(float));
    fill_rand(f->x, nx, seed);
    fill_rand(f->w, nw, seed + 1);
    fill_rand(f->g, ny, seed + 2);
    fill_rand(bias, out, seed + 3);
    for (q = 0; q < nx; q++) xd[q] = f->x[q];
    for (q = 0; q < nw; q++) wd[q] = f->w[q];
    for (q = 0; q < out; q++) bd[q] = bias[q];
    for (q = 0; q < ny; q++) gd[q] = f->g[q];
    f->fdx = (double *)hr_t_alloc(nx * sizeof(double));
    f->fdw = (double *)hr_t_alloc(nw * sizeof(double));
    f->fdb = (double *)hr_t_alloc(out * sizeof(double));
    f->sx = (double *)hr_t_alloc(nx * sizeof(double));
    f->sw = (double *)hr_t_alloc(nw * sizeof(double));
    f->sb = (double *)hr_t_alloc(out * sizeof(double));
    fc_loss(xd, wd, bd, gd, batch, in, out, &labs);
    /* Central differences: L is linear in each single parameter, so they
       are exact but for rounding: each L is within ~(in + 2) batch out
       DBL_EPSILON labs (+ the perturbation's share) of the truth, divided
       by 2h; and (p + h) - (p - h) differs from 2h by ~|p| DBL_EPSILON. */
    f->fd_err = 4.0 * (double)(batch * out * (in + 2) + 2) * DBL_EPSILON *
                    (labs + 1.0) / (2.0 * FD_H) +
                1e-12;
#define FD_ALL(arr, n, dst)                                                  \
    for (q = 0; q < (n); q++) {                                              \
        const double keep = (arr)[q];                                        \
        double lp, lm;                                                       \
        p = &(arr)[q];                                                       \
        *p = keep + FD_H;                                                    \
        lp = fc_loss(xd, wd, bd, gd, batch, in, out, NULL);                  \
        *p = keep - FD_H;                                                    \
        lm = fc_loss(xd, wd, bd, gd, batch, in, out, NULL);                  \
        *p = keep;                                                           \
        (dst)[q] = (lp - lm) / (2.0 * FD_H);                                 \
    }
    FD_ALL(xd, nx, f->fdx)
    FD_ALL(wd, nw, f->fdw)
    FD_ALL(bd, out, f->fdb)
#undef FD_ALL
    /* the float kernels' magnitudes: dx[b,i] = sum_o g w, dw[o,i] =
       sum_b g x, dbias[o] = sum_b g */
    for (b = 0; b < batch; b++)
        for (i = 0; i < in; i++) {
            double s = 0.0;
            for (o = 0; o < out; o++) s += fabs(gd[b * out + o] * wd[o * in + i]);
            f->sx[b * in + i] = s;
        }
    for (o = 0; o < out; o++) {
        double sb = 0.0;
        for (i = 0; i < in; i++) {
            double s = 0.0;
            for (b = 0; b < batch; b++) s += fabs(gd[b * out + o] * xd[b * in + i]);
            f->sw[o * in + i] = s;
        }
        for (b = 0; b < batch; b++) sb += fabs(gd[b * out + o]);
        f->sb[o] = sb;
    }
    free(xd);
    free(wd);
    free(bd);
    free(gd);
    free(bias);
}

static void fd_free(fd_t *f) {
    free(f->x);
    free(f->w);
    free(f->g);
    free(f->fdx);
    free(f->fdw);
    free(f->fdb);
    free(f->sx);
    free(f->sw);
    free(f->sb);
}

/* got[q] against base[q] + times * fd[q] (base NULL: 0). Tolerance: the
   float sum of K terms (the gemm bound of the header comment, times the
   number of accumulated calls) plus the rounding of the differences. */
static void check_grad(const float *got, const float *base, const double *fd,
                       const double *sabs, size_t n, size_t kterms,
                       double times, double fd_err, const char *what,
                       const fd_t *f, hr_isa isa) {
    size_t q;
    for (q = 0; q < n; q++) {
        const double b0 = base ? (double)base[q] : 0.0;
        const double want = b0 + times * fd[q];
        const double tol = times * tol_of(kterms, 1.0, sabs[q], 1.0, b0) +
                           times * fd_err;
        cr_assert(isfinite(got[q]) && fabs((double)got[q] - want) <= tol,
                  "[%s] fc_backward b=%zu in=%zu out=%zu: %s[%zu]=%.9g want "
                  "%.9g (diff %.3g, tol %.3g)",
                  hr_isa_name(isa), f->batch, f->in, f->out, what, q,
                  (double)got[q], want, fabs((double)got[q] - want), tol);
    }
}

#define NSENT 1 /* each gradient buffer has one trailing sentinel */

static void fc_backward_one(hr_isa isa, void *ctx) {
    static const size_t shapes[][3] = {{1, 1, 1}, {1, 3, 2}, {3, 7, 5},
                                       {5, 13, 9}, {2, 17, 3}, {4, 1, 6},
                                       {7, 5, 1}, {9, 33, 13}};
    size_t sh, q;
    int mode;
    (void)ctx;
    for (sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        const size_t batch = shapes[sh][0], in = shapes[sh][1],
                     out = shapes[sh][2];
        const size_t nx = batch * in, nw = out * in;
        fd_t f;
        float *dx = (float *)hr_t_alloc((nx + NSENT) * sizeof(float));
        float *dw = (float *)hr_t_alloc((nw + NSENT) * sizeof(float));
        float *db = (float *)hr_t_alloc((out + NSENT) * sizeof(float));
        float *dx0 = (float *)hr_t_alloc(nx * sizeof(float));
        float *dw0 = (float *)hr_t_alloc(nw * sizeof(float));
        float *db0 = (float *)hr_t_alloc(out * sizeof(float));
        hr_status st;
        fd_build(&f, batch, in, out, 0xF00D + 101 * sh);
        fill_rand(dx0, nx, 41 + sh);
        fill_rand(dw0, nw, 43 + sh);
        fill_rand(db0, out, 47 + sh);
        /* mode bit 0..2: dx, dw, dbias requested; 7 = all. x is passed
           NULL when dw is not requested, w NULL when dx is not. */
        for (mode = 0; mode < 8; mode++) {
            const int wx = mode & 1, ww = mode & 2, wbias = mode & 4;
            int rep;
            hr_t_fill_f(dx, nx + NSENT, HR_T_SENT_F);
            hr_t_fill_f(dw, nw + NSENT, HR_T_SENT_F);
            hr_t_fill_f(db, out + NSENT, HR_T_SENT_F);
            if (wx) hr_t_fill_f(dx, nx, 0.0f);
            if (ww) hr_t_fill_f(dw, nw, 0.0f);
            if (wbias) hr_t_fill_f(db, out, 0.0f);
            /* from zero, then once more: the gradients double */
            for (rep = 1; rep <= 2; rep++) {
                st = hr_fc_backward(wx ? dx : NULL, ww ? dw : NULL,
                                    wbias ? db : NULL, f.g, ww ? f.x : NULL,
                                    wx ? f.w : NULL, batch, in, out);
                cr_assert_eq(st, HR_OK,
                             "[%s] fc_backward b=%zu in=%zu out=%zu mode=%d: "
                             "status %d",
                             hr_isa_name(isa), batch, in, out, mode, (int)st);
                if (wx)
                    check_grad(dx, NULL, f.fdx, f.sx, nx, out, rep, f.fd_err,
                               "dx", &f, isa);
                else
                    cr_assert(hr_t_count_ne_f(dx, nx, HR_T_SENT_F) == 0,
                              "[%s] dx NULL but written", hr_isa_name(isa));
                if (ww)
                    check_grad(dw, NULL, f.fdw, f.sw, nw, batch, rep,
                               f.fd_err, "dw", &f, isa);
                else
                    cr_assert(hr_t_count_ne_f(dw, nw, HR_T_SENT_F) == 0,
                              "[%s] dw NULL but written", hr_isa_name(isa));
                if (wbias)
                    check_grad(db, NULL, f.fdb, f.sb, out, batch, rep,
                               f.fd_err, "dbias", &f, isa);
                else
                    cr_assert(hr_t_count_ne_f(db, out, HR_T_SENT_F) == 0,
                              "[%s] dbias NULL but written", hr_isa_name(isa));
                cr_assert(dx[nx] == HR_T_SENT_F && dw[nw] == HR_T_SENT_F &&
                              db[out] == HR_T_SENT_F,
                          "[%s] fc_backward b=%zu in=%zu out=%zu: wrote past "
                          "a gradient",
                          hr_isa_name(isa), batch, in, out);
            }
        }
        /* pre-existing values are added to */
        memcpy(dx, dx0, nx * sizeof(float));
        memcpy(dw, dw0, nw * sizeof(float));
        memcpy(db, db0, out * sizeof(float));
        st = hr_fc_backward(dx, dw, db, f.g, f.x, f.w, batch, in, out);
        cr_assert_eq(st, HR_OK, "[%s] accumulate: status %d", hr_isa_name(isa),
                     (int)st);
        check_grad(dx, dx0, f.fdx, f.sx, nx, out, 1.0, f.fd_err, "dx (+dx0)",
                   &f, isa);
        check_grad(dw, dw0, f.fdw, f.sw, nw, batch, 1.0, f.fd_err,
                   "dw (+dw0)", &f, isa);
        check_grad(db, db0, f.fdb, f.sb, out, batch, 1.0, f.fd_err,
                   "dbias (+db0)", &f, isa);
        /* batch == 0: every gradient stays exactly as it was */
        memcpy(dx, dx0, nx * sizeof(float));
        memcpy(dw, dw0, nw * sizeof(float));
        memcpy(db, db0, out * sizeof(float));
        st = hr_fc_backward(dx, dw, db, f.g, f.x, f.w, 0, in, out);
        cr_assert_eq(st, HR_OK, "[%s] batch=0: status %d", hr_isa_name(isa),
                     (int)st);
        for (q = 0; q < nw; q++)
            cr_assert(dw[q] == dw0[q], "[%s] batch=0: dw[%zu] %.9g was %.9g",
                      hr_isa_name(isa), q, (double)dw[q], (double)dw0[q]);
        for (q = 0; q < out; q++)
            cr_assert(db[q] == db0[q], "[%s] batch=0: dbias[%zu] changed",
                      hr_isa_name(isa), q);
        cr_assert(memcmp(dx, dx0, nx * sizeof(float)) == 0,
                  "[%s] batch=0: dx changed", hr_isa_name(isa));
        fd_free(&f);
        free(dx);
        free(dw);
        free(db);
        free(dx0);
        free(dw0);
        free(db0);
    }
}

Test(gemm, fc_backward_fd) { for_each_isa(fc_backward_one, NULL); }

/* Larger shapes (several tiles, k blocks and, for dw, a team) against the
   analytic gradients in double: dx = g w, dw = g^T x, dbias = colsum g. */
static void fc_backward_large(hr_isa isa, void *ctx) {
    static const size_t shapes[][3] = {{33, 130, 65}, {64, 256, 751},
                                       {3, 600, 1030}};
    size_t sh, b, o, i;
    (void)ctx;
    for (sh = 0; sh < 3; sh++) {
        const size_t batch = shapes[sh][0], in = shapes[sh][1],
                     out = shapes[sh][2];
        float *x = (float *)hr_t_alloc(batch * in * sizeof(float));
        float *w = (float *)hr_t_alloc(out * in * sizeof(float));
        float *g = (float *)hr_t_alloc(batch * out * sizeof(float));
        float *dx = (float *)hr_t_alloc(batch * in * sizeof(float));
        float *dw = (float *)hr_t_alloc(out * in * sizeof(float));
        float *db = (float *)hr_t_alloc(out * sizeof(float));
        hr_status st;
        fill_rand(x, batch * in, 91 + sh);
        fill_rand(w, out * in, 93 + sh);
        fill_rand(g, batch * out, 95 + sh);
        hr_t_fill_f(dx, batch * in, 0.0f);
        hr_t_fill_f(dw, out * in, 0.0f);
        hr_t_fill_f(db, out, 0.0f);
        st = hr_fc_backward(dx, dw, db, g, x, w, batch, in, out);
        cr_assert_eq(st, HR_OK, "[%s] status %d", hr_isa_name(isa), (int)st);
        for (b = 0; b < batch; b++)
            for (i = 0; i < in; i++) {
                double s = 0.0, sa = 0.0, tol;
                for (o = 0; o < out; o++) {
                    double t = (double)g[b * out + o] * w[o * in + i];
                    s += t;
                    sa += fabs(t);
                }
                tol = tol_of(out, 1.0, sa, 0.0, 0.0);
                cr_assert(fabs((double)dx[b * in + i] - s) <= tol,
                          "[%s] b=%zu in=%zu out=%zu: dx[%zu][%zu]=%.9g want "
                          "%.9g",
                          hr_isa_name(isa), batch, in, out, b, i,
                          (double)dx[b * in + i], s);
            }
        for (o = 0; o < out; o++) {
            double sb = 0.0, sba = 0.0;
            for (i = 0; i < in; i++) {
                double s = 0.0, sa = 0.0, tol;
                for (b = 0; b < batch; b++) {
                    double t = (double)g[b * out + o] * x[b * in + i];
                    s += t;
                    sa += fabs(t);
                }
                tol = tol_of(batch, 1.0, sa, 0.0, 0.0);
                cr_assert(fabs((double)dw[o * in + i] - s) <= tol,
                          "[%s] b=%zu in=%zu out=%zu: dw[%zu][%zu]=%.9g want "
                          "%.9g",
                          hr_isa_name(isa), batch, in, out, o, i,
                          (double)dw[o * in + i], s);
            }
            for (b = 0; b < batch; b++) {
                sb += g[b * out + o];
                sba += fabs(g[b * out + o]);
            }
            cr_assert(fabs((double)db[o] - sb) <= tol_of(batch, 1.0, sba, 0, 0),
                      "[%s] dbias[%zu]=%.9g want %.9g", hr_isa_name(isa), o,
                      (double)db[o], sb);
        }
        free(x);
        free(w);
        free(g);
        free(dx);
        free(dw);
        free(db);
    }
}

Test(gemm, fc_backward_large) { for_each_isa(fc_backward_large, NULL); }

static void fc_backward_errors(hr_isa isa, void *ctx) {
    enum { B = 3, I = 4, O = 5 };
    float x[B * I], w[O * I], g[B * O];
    float dx[B * I + 1], dw[O * I + 1], db[O + 1];
    const size_t big = SIZE_MAX / 2;
    hr_status st;
    (void)ctx;
    fill_rand(x, B * I, 21);
    fill_rand(w, O * I, 22);
    fill_rand(g, B * O, 23);
#define BWD_ERR(call, want, what)                                            \
    do {                                                                     \
        hr_t_fill_f(dx, B * I + 1, HR_T_SENT_F);                             \
        hr_t_fill_f(dw, O * I + 1, HR_T_SENT_F);                             \
        hr_t_fill_f(db, O + 1, HR_T_SENT_F);                                 \
        st = (call);                                                         \
        cr_assert_eq(st, (want), "[%s] fc_backward %s: status %d, want %d",  \
                     hr_isa_name(isa), (what), (int)st, (int)(want));        \
        cr_assert(hr_t_count_ne_f(dx, B * I + 1, HR_T_SENT_F) == 0 &&        \
                      hr_t_count_ne_f(dw, O * I + 1, HR_T_SENT_F) == 0 &&    \
                      hr_t_count_ne_f(db, O + 1, HR_T_SENT_F) == 0,          \
                  "[%s] fc_backward %s: an output written on error",         \
                  hr_isa_name(isa), (what));                                 \
    } while (0)
    BWD_ERR(hr_fc_backward(dx, dw, db, NULL, x, w, B, I, O), HR_EINVAL,
            "dy NULL, all gradients");
    BWD_ERR(hr_fc_backward(dx, NULL, NULL, NULL, x, w, B, I, O), HR_EINVAL,
            "dy NULL, dx only");
    BWD_ERR(hr_fc_backward(NULL, dw, NULL, NULL, x, w, B, I, O), HR_EINVAL,
            "dy NULL, dw only");
    BWD_ERR(hr_fc_backward(NULL, NULL, db, NULL, x, w, B, I, O), HR_EINVAL,
            "dy NULL, dbias only");
    BWD_ERR(hr_fc_backward(dx, dw, db, g, NULL, w, B, I, O), HR_EINVAL,
            "x NULL with dw");
    BWD_ERR(hr_fc_backward(dx, dw, db, g, x, NULL, B, I, O), HR_EINVAL,
            "w NULL with dx");
    BWD_ERR(hr_fc_backward(dx, dw, db, g, x, w, big, I, O), HR_EOVERFLOW,
            "batch = SIZE_MAX/2");
    BWD_ERR(hr_fc_backward(dx, dw, db, g, x, w, B, big, O), HR_EOVERFLOW,
            "in = SIZE_MAX/2");
    BWD_ERR(hr_fc_backward(dx, dw, db, g, x, w, B, I, big), HR_EOVERFLOW,
            "out = SIZE_MAX/2");
    BWD_ERR(hr_fc_backward(NULL, NULL, db, g, x, w, big, I, O), HR_EOVERFLOW,
            "batch = SIZE_MAX/2, dbias only");
    /* nothing requested: nothing needed, nothing written */
    BWD_ERR(hr_fc_backward(NULL, NULL, NULL, NULL, NULL, NULL, B, I, O), HR_OK,
            "no gradient requested");
    BWD_ERR(hr_fc_backward(NULL, NULL, NULL, g, x, w, B, I, O), HR_OK,
            "no gradient requested, inputs given");
#undef BWD_ERR
}

Test(gemm, fc_backward_errors) { for_each_isa(fc_backward_errors, NULL); }

/* --------------------------------------------- thread-count invariance */

#ifdef _OPENMP
/* m n k >= 1e6: large enough for a team. 8 x 3000 x 200 is an FC layer's
   small batch (a single row block: the split is over column panels). */
static void threads_gemm(hr_isa isa, void *ctx) {
    static const size_t shapes[][3] = {{8, 3000, 200}, {200, 210, 190},
                                       {130, 700, 520}};
    size_t sh;
    int t, nt;
    (void)ctx;
    for (sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (t = 0; t < 4; t++) {
            const size_t m = shapes[sh][0], n = shapes[sh][1],
                         k = shapes[sh][2];
            const hr_trans ta = (t & 1) ? HR_TRANS : HR_NO_TRANS;
            const hr_trans tb = (t & 2) ? HR_TRANS : HR_NO_TRANS;
            const size_t lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 3,
                         ldc = n + 2;
            const float beta = t == 1 ? 0.0f : 0.75f;
            float *av = (float *)hr_t_alloc(m * k * sizeof(float));
            float *bv = (float *)hr_t_alloc(k * n * sizeof(float));
            float *a, *b, *c[3];
            uint64_t seed = 0x7EAD + sh;
#ifdef HR_TEST_QUICK
            if (t == 1 || t == 2 || sh == 2) {
                free(av);
                free(bv);
                continue;
            }
#endif
            fill_rand(av, m * k, seed);
            fill_rand(bv, k * n, seed + 1);
            a = store_mat(av, m, k, lda, ta == HR_TRANS);
            b = store_mat(bv, k, n, ldb, tb == HR_TRANS);
            for (nt = 1; nt <= 3; nt++) {
                float *ci = c[nt - 1] =
                    (float *)hr_t_alloc(m * ldc * sizeof(float));
                hr_status st;
                fill_rand(ci, m * ldc, seed + 2); /* same C0 every time */
                omp_set_num_threads(nt);
                st = hr_gemm(ta, tb, m, n, k, -0.5f, a, lda, b, ldb, beta, ci,
                             ldc);
                cr_assert_eq(st, HR_OK, "[%s] status %d", hr_isa_name(isa),
                             (int)st);
                if (nt > 1)
                    cr_assert(memcmp(ci, c[0], m * ldc * sizeof(float)) == 0,
                              "[%s] gemm %s%s m=%zu n=%zu k=%zu: %d threads "
                              "!= 1 thread",
                              hr_isa_name(isa), trans_name(ta), trans_name(tb),
                              m, n, k, nt);
            }
            for (nt = 0; nt < 3; nt++) free(c[nt]);
            free(a);
            free(b);
            free(av);
            free(bv);
        }
}

/* FC layer: forward, and backward (dx: 16 x 256 x 751, dw: 751 x 256 x 16) */
static void threads_fc(hr_isa isa, void *ctx) {
    enum { B = 16, I = 256, O = 751 };
    float *x = (float *)hr_t_alloc(B * I * sizeof(float));
    float *w = (float *)hr_t_alloc(O * I * sizeof(float));
    float *bias = (float *)hr_t_alloc(O * sizeof(float));
    float *g = (float *)hr_t_alloc(B * O * sizeof(float));
    float *y[3], *dx[3], *dw[3], *db[3];
    int nt;
    (void)ctx;
    fill_rand(x, B * I, 61);
    fill_rand(w, O * I, 62);
    fill_rand(bias, O, 63);
    fill_rand(g, B * O, 64);
    for (nt = 1; nt <= 3; nt++) {
        const int q = nt - 1;
        y[q] = (float *)hr_t_alloc(B * O * sizeof(float));
        dx[q] = (float *)hr_t_alloc(B * I * sizeof(float));
        dw[q] = (float *)hr_t_alloc(O * I * sizeof(float));
        db[q] = (float *)hr_t_alloc(O * sizeof(float));
        fill_rand(dx[q], B * I, 65); /* accumulate onto the same values */
        fill_rand(dw[q], O * I, 66);
        fill_rand(db[q], O, 67);
        omp_set_num_threads(nt);
        cr_assert_eq(hr_fc_forward(y[q], x, w, bias, B, I, O), HR_OK,
                     "forward");
        cr_assert_eq(hr_fc_backward(dx[q], dw[q], db[q], g, x, w, B, I, O),
                     HR_OK, "backward");
        if (q > 0) {
            cr_assert(memcmp(y[q], y[0], B * O * sizeof(float)) == 0,
                      "[%s] fc_forward: %d threads != 1", hr_isa_name(isa),
                      nt);
            cr_assert(memcmp(dx[q], dx[0], B * I * sizeof(float)) == 0 &&
                          memcmp(dw[q], dw[0], O * I * sizeof(float)) == 0 &&
                          memcmp(db[q], db[0], O * sizeof(float)) == 0,
                      "[%s] fc_backward: %d threads != 1", hr_isa_name(isa),
                      nt);
        }
    }
    for (nt = 0; nt < 3; nt++) {
        free(y[nt]);
        free(dx[nt]);
        free(dw[nt]);
        free(db[nt]);
    }
    free(x);
    free(w);
    free(bias);
    free(g);
}

Test(gemm, thread_invariance) {
    int keep = omp_get_max_threads();
    hr_t_log("OpenMP: up to %d threads", keep);
    for_each_isa(threads_gemm, NULL);
    for_each_isa(threads_fc, NULL);
    omp_set_num_threads(keep);
}
#endif
