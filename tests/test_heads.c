/* tests/test_heads.c - hr_head_loss (softmax, SphereFace, CosFace, ArcFace,
   label smoothing), hr_head_default and hr_sphereface_lambda against a
   plain double-precision reference written from the doc comment in
   hardreid.h (and, for the gradients, central differences of that
   reference), on every ISA path: a sweep of shapes and scales, both ArcFace
   branches, every piece of SphereFace's psi, zero rows, huge and tiny rows,
   large logits, accumulation, NULL gradients, errors (outputs untouched)
   and thread-count invariance. */
#include "harness.h"
#include "hardreid.h"

#include <stdint.h>

#define PI 3.14159265358979323846
#define NHEADS 4
static const hr_head_kind kinds[NHEADS] = {HR_HEAD_SOFTMAX, HR_HEAD_SPHEREFACE,
                                           HR_HEAD_COSFACE, HR_HEAD_ARCFACE};
static const char *kind_name(hr_head_kind k) {
    switch (k) {
    case HR_HEAD_SOFTMAX: return "softmax";
    case HR_HEAD_SPHEREFACE: return "sphereface";
    case HR_HEAD_COSFACE: return "cosface";
    case HR_HEAD_ARCFACE: return "arcface";
    }
    return "?";
}

static hr_head mk_head(hr_head_kind k, float s, float m, float lambda,
                       float eps) {
    hr_head h;
    memset(&h, 0, sizeof h);
    h.kind = k;
    h.s = s;
    h.m = m;
    h.lambda = lambda;
    h.label_smoothing = eps;
    return h;
}

/* ------------------------------------------------------------ reference

   Written from the doc comment of hr_head_loss, in double, on double
   inputs (so central differences can perturb them):
     normalized heads: xn = x / |x|, wn = w / |w| (a zero row stays zero,
       so its cosines are 0), cos_bj = <xn_b, wn_j>;
       target logit s f(cos), others s cos, with
         SphereFace f = (lambda cos + psi(theta)) / (1 + lambda),
           psi = (-1)^k cos(m theta) - 2k, k = floor(m theta / pi) <= m - 1
         CosFace    f = cos - m
         ArcFace    f = cos(theta + m) if theta + m <= pi,
                        else cos - m sin m
     softmax: logits x w^T;
     loss = mean_b [ lse(z_b) - (1 - eps) z_by - eps / C sum_j z_bj ]. */

static int ref_sphere_k(int m, double c) {
    int k = (int)floor((double)m * acos(c) / PI);
    return k > m - 1 ? m - 1 : k;
}

/* the target logit before the scale, cos clamped to [-1, 1] */
static double ref_margin(const hr_head *h, double c) {
    double th;
    c = c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c;
    th = acos(c);
    switch (h->kind) {
    case HR_HEAD_SPHEREFACE: {
        const int m = (int)h->m, k = ref_sphere_k(m, c);
        const double psi = (k % 2 ? -1.0 : 1.0) * cos(m * th) - 2.0 * k;
        return ((double)h->lambda * c + psi) / (1.0 + (double)h->lambda);
    }
    case HR_HEAD_COSFACE: return c - (double)h->m;
    case HR_HEAD_ARCFACE:
        return th + (double)h->m <= PI ? cos(th + (double)h->m)
                                       : c - (double)h->m * sin((double)h->m);
    default: return c;
    }
}

/* cos (or x w^T for softmax) of every pair into cs (B x C); sabs, if not
   NULL, gets sum_i |x_bi w_ji| (the softmax logits' error scale) */
static void ref_cos(double *cs, double *sabs, int norm, const double *x,
                    const double *w, size_t B, size_t d, size_t C) {
    double *wi = (double *)hr_t_alloc(C * sizeof(double));
    size_t b, j, i;
    for (j = 0; j < C; j++) {
        double ss = 0.0;
        for (i = 0; i < d; i++) ss += w[j * d + i] * w[j * d + i];
        wi[j] = norm ? (ss > 0.0 ? 1.0 / sqrt(ss) : 0.0) : 1.0;
    }
    for (b = 0; b < B; b++) {
        const double *xb = x + b * d;
        double ss = 0.0, xi;
        for (i = 0; i < d; i++) ss += xb[i] * xb[i];
        xi = norm ? (ss > 0.0 ? 1.0 / sqrt(ss) : 0.0) : 1.0;
        for (j = 0; j < C; j++) {
            const double *wj = w + j * d;
            double t = 0.0, ta = 0.0;
            for (i = 0; i < d; i++) {
                t += xb[i] * wj[i];
                ta += fabs(xb[i] * wj[i]);
            }
            cs[b * C + j] = t * xi * wi[j];
            if (sabs) sabs[b * C + j] = ta;
        }
    }
    free(wi);
}

/* loss from the cosines; z (B x C, may be NULL) gets the logits */
static double ref_loss_cos(const hr_head *h, const double *cs,
                           const int32_t *lab, size_t B, size_t C,
                           double *z) {
    const int norm = h->kind != HR_HEAD_SOFTMAX;
    const double s = norm ? (double)h->s : 1.0;
    const double eps = (double)h->label_smoothing;
    double *zz = (double *)hr_t_alloc(C * sizeof(double)), total = 0.0;
    size_t b, j;
    for (b = 0; b < B; b++) {
        const size_t y = (size_t)lab[b];
        double mx = -INFINITY, se = 0.0, sz = 0.0;
        for (j = 0; j < C; j++) zz[j] = s * cs[b * C + j];
        if (norm) zz[y] = s * ref_margin(h, cs[b * C + y]);
        for (j = 0; j < C; j++) {
            mx = zz[j] > mx ? zz[j] : mx;
            sz += zz[j];
        }
        for (j = 0; j < C; j++) se += exp(zz[j] - mx);
        total += mx + log(se) - (1.0 - eps) * zz[y] - eps / (double)C * sz;
        if (z) memcpy(z + b * C, zz, C * sizeof(double));
    }
    free(zz);
    return total / (double)B;
}

static double ref_loss(const hr_head *h, const double *x, const double *w,
                       const int32_t *lab, size_t B, size_t d, size_t C) {
    double *cs = (double *)hr_t_alloc(B * C * sizeof(double)), l;
    ref_cos(cs, NULL, h->kind != HR_HEAD_SOFTMAX, x, w, B, d, C);
    l = ref_loss_cos(h, cs, lab, B, C, NULL);
    free(cs);
    return l;
}

/* ------------------------------------------------------------ tolerance

   Value checks (loss, logits). Every input is a float, so the reference
   is exact to ~1e-13 relative; the error is the library's alone.
   - cos: xn = x * (1/|x|) with a double norm rounds once per element
     (relative u = FLT_EPSILON / 2); the float GEMM of two unit rows then
     errs by at most 4 d FLT_EPSILON sum_i |xn_i wn_i| <= 4 d FLT_EPSILON
     (the bound of tests/test_gemm.c; the sum is <= 1 by Cauchy-Schwarz),
     so |cos - ref| <= e_c = (4 d + 2) FLT_EPSILON.
   - a non-target logit s cos errs by s e_c + one rounding (u s |cos|);
     the target s f(cos) by s |f(c + e) - f(c)| over |e| <= e_c plus one
     rounding: f is monotone in cos for every head (psi decreases in theta,
     the ArcFace fallback keeps it increasing), so the two ends of
     [c - e_c, c + e_c] bound it, branch switches and jumps included. The
     softmax logits x w^T err by 4 d FLT_EPSILON sum_i |x_i w_i|.
   - loss_b = lse - (1 - eps) z_y - eps/C sum z_j moves by at most
     2 max_j |dz_j| (the weights p - q sum to <= 2 in absolute value); the
     exponentials (SLEEF expf, <= 1 ulp, or libm) add FLT_EPSILON to lse,
     the float z_j - zmax adds u |z_j - zmax| <= FLT_EPSILON max |z|, the
     double sums and log are exact to ~1e-15, the final float one u |loss|.
   The bound is taken with a factor 2 of room. */
static double ec_of(size_t d) { return (4.0 * (double)d + 2.0) * FLT_EPSILON; }

static double df_bound(const hr_head *h, double c, double ec) {
    const double f = ref_margin(h, c);
    const double a = fabs(ref_margin(h, c + ec) - f);
    const double b = fabs(ref_margin(h, c - ec) - f);
    return a > b ? a : b;
}

/* per-logit bound (the element of z at (b, j)) */
static double logit_tol(const hr_head *h, double c, double sabs, size_t d,
                        int target) {
    const double s = (double)h->s;
    if (h->kind == HR_HEAD_SOFTMAX)
        return 2.0 * 4.0 * (double)d * FLT_EPSILON * sabs + 1e-30;
    if (target)
        return 2.0 * (s * df_bound(h, c, ec_of(d)) +
                      FLT_EPSILON * s * fabs(ref_margin(h, c))) +
               1e-30;
    return 2.0 * (s * ec_of(d) + FLT_EPSILON * s * fabs(c)) + 1e-30;
}

static double loss_tol(const hr_head *h, const double *cs, const double *sabs,
                       const double *z, const int32_t *lab, size_t B,
                       size_t d, size_t C, double loss) {
    double worst = 0.0;
    size_t b, j;
    for (b = 0; b < B; b++) {
        double dz = 0.0, za = 0.0, t;
        for (j = 0; j < C; j++) {
            const double e =
                logit_tol(h, cs[b * C + j], sabs ? sabs[b * C + j] : 0.0, d,
                          j == (size_t)lab[b]) / 2.0;
            dz = e > dz ? e : dz;
            za = fabs(z[b * C + j]) > za ? fabs(z[b * C + j]) : za;
        }
        t = 2.0 * dz + FLT_EPSILON * (2.0 + 2.0 * za);
        worst = t > worst ? t : worst;
    }
    return 2.0 * (worst + FLT_EPSILON * fabs(loss)) + 1e-30;
}

/* ----------------------------------------------------------- test data */

static void fill_rand(float *v, size_t n, uint64_t seed) {
    size_t i;
    for (i = 0; i < n; i++) v[i] = hr_t_unif(&seed);
}
static void fill_labels(int32_t *l, size_t n, size_t C, uint64_t seed) {
    size_t i;
    for (i = 0; i < n; i++) l[i] = (int32_t)hr_t_below(&seed, C);
}
static double *to_double(const float *v, size_t n) {
    double *o = (double *)hr_t_alloc(n * sizeof(double));
    size_t i;
    for (i = 0; i < n; i++) o[i] = (double)v[i];
    return o;
}

/* ------------------------------------------------- loss and logits sweep */

typedef struct {
    hr_head h;
    size_t B, d, C;
    const float *x, *w;
    const int32_t *lab;
    const double *cs, *sabs, *z; /* reference cos (x w^T), error scale, logits */
    double loss;
} val_ctx;

static void val_one(hr_isa isa, void *vctx) {
    const val_ctx *v = (const val_ctx *)vctx;
    const size_t B = v->B, d = v->d, C = v->C;
    float *lg = (float *)hr_t_alloc((B * C + 1) * sizeof(float));
    float *dx = (float *)hr_t_alloc(B * d * sizeof(float));
    float *dw = (float *)hr_t_alloc(C * d * sizeof(float));
    float loss = HR_T_SENT_F, loss2 = HR_T_SENT_F;
    const double tl = loss_tol(&v->h, v->cs, v->sabs, v->z, v->lab, B, d, C,
                               v->loss);
    hr_status st;
    size_t b, j;
    hr_t_fill_f(lg, B * C + 1, HR_T_SENT_F);
    memset(dx, 0, B * d * sizeof(float));
    memset(dw, 0, C * d * sizeof(float));
    st = hr_head_loss(&v->h, &loss, lg, dx, dw, v->x, v->w, v->lab, B, d, C);
    cr_assert_eq(st, HR_OK, "[%s] %s B=%zu d=%zu C=%zu: status %d",
                 hr_isa_name(isa), kind_name(v->h.kind), B, d, C, (int)st);
    cr_assert(isfinite(loss) && fabs((double)loss - v->loss) <= tl,
              "[%s] %s s=%g m=%g lambda=%g eps=%g B=%zu d=%zu C=%zu: loss "
              "%.9g want %.9g (diff %.3g, tol %.3g)",
              hr_isa_name(isa), kind_name(v->h.kind), (double)v->h.s,
              (double)v->h.m, (double)v->h.lambda,
              (double)v->h.label_smoothing, B, d, C, (double)loss, v->loss,
              fabs((double)loss - v->loss), tl);
    cr_assert(hr_t_count_ne_f(lg + B * C, 1, HR_T_SENT_F) == 0,
              "[%s] %s: wrote past the logits", hr_isa_name(isa),
              kind_name(v->h.kind));
    for (b = 0; b < B; b++)
        for (j = 0; j < C; j++) {
            const int tg = j == (size_t)v->lab[b];
            const double want = v->z[b * C + j];
            const double t =
                logit_tol(&v->h, v->cs[b * C + j], v->sabs[b * C + j], d, tg);
            const float got = lg[b * C + j];
            cr_assert(isfinite(got) && fabs((double)got - want) <= t,
                      "[%s] %s s=%g m=%g lambda=%g B=%zu d=%zu C=%zu: "
                      "logit[%zu][%zu]%s=%.9g want %.9g (cos %.9g, tol %.3g)",
                      hr_isa_name(isa), kind_name(v->h.kind), (double)v->h.s,
                      (double)v->h.m, (double)v->h.lambda, B, d, C, b, j,
                      tg ? " (target)" : "", (double)got, want,
                      v->cs[b * C + j], t);
        }
    /* the loss does not depend on which outputs are asked for */
    st = hr_head_loss(&v->h, &loss2, NULL, NULL, NULL, v->x, v->w, v->lab, B,
                      d, C);
    cr_assert(st == HR_OK && memcmp(&loss, &loss2, sizeof loss) == 0,
              "[%s] %s B=%zu d=%zu C=%zu: loss without outputs %.9g != %.9g",
              hr_isa_name(isa), kind_name(v->h.kind), B, d, C, (double)loss2,
              (double)loss);
    free(lg);
    free(dx);
    free(dw);
}

/* one shape: every head, s, eps; the heads' m and lambda rotate with *q */
static void val_shape(size_t B, size_t d, size_t C, unsigned *q) {
    static const float ss[3] = {1.0f, 8.0f, 64.0f};
    static const float eps[2] = {0.0f, 0.1f};
    static const float sph_m[4] = {4.0f, 1.0f, 2.0f, 3.0f};
    static const float sph_l[2] = {0.0f, 5.0f};
    static const float cos_m[3] = {0.35f, -0.1f, 0.6f};
    static const float arc_m[3] = {0.5f, 0.0f, 1.2f};
    float *x = (float *)hr_t_alloc(B * d * sizeof(float));
    float *w = (float *)hr_t_alloc(C * d * sizeof(float));
    int32_t *lab = (int32_t *)hr_t_alloc(B * sizeof(int32_t));
    double *xd, *wd;
    double *cs[2], *sabs = (double *)hr_t_alloc(B * C * sizeof(double));
    double *z = (double *)hr_t_alloc(B * C * sizeof(double));
    int k, si, ei;
    fill_rand(x, B * d, 0x1000 + 131 * B + 7 * d + C);
    fill_rand(w, C * d, 0x2000 + 17 * C + 3 * d);
    fill_labels(lab, B, C, 0x3000 + B + C);
    xd = to_double(x, B * d);
    wd = to_double(w, C * d);
    cs[0] = (double *)hr_t_alloc(B * C * sizeof(double));
    cs[1] = (double *)hr_t_alloc(B * C * sizeof(double));
    ref_cos(cs[0], sabs, 0, xd, wd, B, d, C);
    ref_cos(cs[1], NULL, 1, xd, wd, B, d, C);
    for (k = 0; k < NHEADS; k++)
        for (si = 0; si < 3; si++)
            for (ei = 0; ei < 2; ei++) {
                val_ctx v;
                const unsigned r = (*q)++;
                float m = 0.0f, lam = 0.0f;
                if (kinds[k] == HR_HEAD_SOFTMAX && si > 0) continue;
                if (kinds[k] == HR_HEAD_SPHEREFACE) {
                    m = sph_m[r % 4];
                    lam = sph_l[(r / 4) % 2];
                } else if (kinds[k] == HR_HEAD_COSFACE) {
                    m = cos_m[r % 3];
                } else if (kinds[k] == HR_HEAD_ARCFACE) {
                    m = arc_m[r % 3];
                }
                v.h = mk_head(kinds[k], ss[si], m, lam, eps[ei]);
                v.B = B;
                v.d = d;
                v.C = C;
                v.x = x;
                v.w = w;
                v.lab = lab;
                v.cs = cs[kinds[k] != HR_HEAD_SOFTMAX];
                v.sabs = sabs;
                v.loss = ref_loss_cos(&v.h, v.cs, lab, B, C, z);
                v.z = z;
                for_each_isa(val_one, &v);
            }
    free(x);
    free(w);
    free(lab);
    free(xd);
    free(wd);
    free(cs[0]);
    free(cs[1]);
    free(sabs);
    free(z);
}

Test(heads, loss_logits_sweep) {
    static const size_t Bs[3] = {1, 3, 17}, ds[4] = {1, 5, 64, 130},
                        Cs[4] = {2, 7, 33, 751};
    unsigned q = 0;
    int a, b, c;
    for (a = 0; a < 3; a++)
        for (b = 0; b < 4; b++)
            for (c = 0; c < 4; c++) {
#ifdef HR_TEST_QUICK /* emulated runs: the largest products only once */
                if (Cs[c] == 751 && (Bs[a] != 3 || ds[b] == 130)) continue;
#endif
                val_shape(Bs[a], ds[b], Cs[c], &q);
            }
}

/* ---------------------------------------- gradients: central differences

   dx and dw against central differences of the double reference, step
   h = 1e-5 on rows of norm ~1 (the double rounding, 1e-16 |L| / h, is
   ~1e-11), Richardson-extrapolated with the step 2h: (4 D_h - D_2h) / 3;
   |D_h - D_2h| (~3 times D_h's truncation error h^2 |L'''| / 6, far above
   the extrapolated one's) is added to each entry's tolerance, so large s
   and steep margins cannot make the differences themselves the problem.
   The library's gradient carries the float error of the cosines (within
   e_c, above) through the softmax (each p_j moves by p_j 2 max |dz|,
   dz <= s (1 + |f'|) e_c), through f'(cos) (moves by |f''| e_c) and two
   float GEMMs and the normalization's backward (~(4 K + 8) FLT_EPSILON
   relative, K = max(B, C, d)): relative to the tensor's largest entry G
   (the terms of an entry are of G's size: |p - q| sums to <= 2) that is
     rel = s F e_c + (4 K + 8) FLT_EPSILON,  F = 1 + max(|f'|, |f''|)
   at the targets (softmax: s F e_c -> 2 * 4 d FLT_EPSILON, the logits'
   relative GEMM error for entries in [-1, 1]), and the check is
     |g - fd| <= 8 rel G + |D_h - D_2h| + 1e-9.
   Over every case in this file the measured error stays below ~2% of it
   on x86 (s = 1000 with near-parallel rows being the worst); a wrong
   factor, sign, branch or term misses it by orders of magnitude. */
#define FD_H 1e-5

typedef struct {
    hr_head h;
    size_t B, d, C;
    const float *x, *w;
    const int32_t *lab;
    const double *gx, *gw;   /* central differences (extrapolated)       */
    const double *ex, *ew;   /* their error estimates |D_h - D_2h|       */
    double rel;              /* the float error relative to the largest  */
    const int *skip_x, *skip_w; /* rows whose gradient must stay untouched */
    const char *what;
} grad_ctx;

static double fd_one(const hr_head *h, double *v, size_t i, double step,
                     const double *xd, const double *wd, const int32_t *lab,
                     size_t B, size_t d, size_t C) {
    const double keep = v[i];
    double lp, lm;
    v[i] = keep + step;
    lp = ref_loss(h, xd, wd, lab, B, d, C);
    v[i] = keep - step;
    lm = ref_loss(h, xd, wd, lab, B, d, C);
    v[i] = keep;
    return (lp - lm) / (2.0 * step);
}

static void fd_grads(double *gx, double *ex, double *gw, double *ew,
                     const hr_head *h, const float *x, const float *w,
                     const int32_t *lab, size_t B, size_t d, size_t C) {
    double *xd = to_double(x, B * d), *wd = to_double(w, C * d);
    size_t i;
    for (i = 0; i < B * d; i++) {
        const double d1 = fd_one(h, xd, i, FD_H, xd, wd, lab, B, d, C);
        const double d2 = fd_one(h, xd, i, 2 * FD_H, xd, wd, lab, B, d, C);
        gx[i] = (4.0 * d1 - d2) / 3.0;
        ex[i] = fabs(d1 - d2);
    }
    for (i = 0; i < C * d; i++) {
        const double d1 = fd_one(h, wd, i, FD_H, xd, wd, lab, B, d, C);
        const double d2 = fd_one(h, wd, i, 2 * FD_H, xd, wd, lab, B, d, C);
        gw[i] = (4.0 * d1 - d2) / 3.0;
        ew[i] = fabs(d1 - d2);
    }
    free(xd);
    free(wd);
}

/* 1 + max(|f'|, |f''|) at c (differences of the reference, step 1e-4) */
static double fprime_bound(const hr_head *h, double c) {
    const double e = 1e-4;
    double lo = c - e < -1.0 ? -1.0 : c - e, hi = c + e > 1.0 ? 1.0 : c + e;
    double mid = (lo + hi) / 2.0, f1, f2;
    f1 = (ref_margin(h, hi) - ref_margin(h, lo)) / (hi - lo);
    f2 = (ref_margin(h, hi) - 2.0 * ref_margin(h, mid) + ref_margin(h, lo)) /
         ((hi - mid) * (hi - mid));
    f1 = fabs(f1);
    f2 = fabs(f2);
    return 1.0 + (f1 > f2 ? f1 : f2);
}

static double grad_rel(const hr_head *h, const float *x, const float *w,
                       const int32_t *lab, size_t B, size_t d, size_t C) {
    double fp = 1.0;
    size_t K = B > C ? B : C, b;
    K = K > d ? K : d;
    if (h->kind != HR_HEAD_SOFTMAX) {
        double *xd = to_double(x, B * d), *wd = to_double(w, C * d);
        double *cs = (double *)hr_t_alloc(B * C * sizeof(double));
        ref_cos(cs, NULL, 1, xd, wd, B, d, C);
        for (b = 0; b < B; b++) {
            const double f = fprime_bound(h, cs[b * C + (size_t)lab[b]]);
            fp = f > fp ? f : fp;
        }
        free(xd);
        free(wd);
        free(cs);
        return (double)h->s * fp * ec_of(d) +
               (4.0 * (double)K + 8.0) * FLT_EPSILON;
    }
    return 2.0 * 4.0 * (double)d * FLT_EPSILON +
           (4.0 * (double)K + 8.0) * FLT_EPSILON;
}

static void grad_cmp(hr_isa isa, const grad_ctx *g, const float *got,
                     const double *fd, const double *fe, const float *pre,
                     size_t rows, const int *skip, const char *name) {
    const size_t d = g->d;
    double gmax = 0.0;
    size_t r, i;
    for (r = 0; r < rows; r++)
        for (i = 0; i < d; i++)
            if (!(skip && skip[r]) && fabs(fd[r * d + i]) > gmax)
                gmax = fabs(fd[r * d + i]);
    for (r = 0; r < rows; r++)
        for (i = 0; i < d; i++) {
            const float v = got[r * d + i];
            const double diff = (double)v - (double)pre[r * d + i];
            const double tol = 8.0 * g->rel * gmax + fe[r * d + i] + 1e-9;
            if (skip && skip[r]) {
                cr_assert(memcmp(&v, &pre[r * d + i], sizeof v) == 0,
                          "[%s] %s %s: %s[%zu][%zu] = %.9g, a zero row must "
                          "get no gradient (was %.9g)",
                          hr_isa_name(isa), kind_name(g->h.kind), g->what,
                          name, r, i, (double)v, (double)pre[r * d + i]);
                continue;
            }
            cr_assert(isfinite(v) && fabs(diff - fd[r * d + i]) <= tol,
                      "[%s] %s %s s=%g m=%g lambda=%g eps=%g B=%zu d=%zu "
                      "C=%zu: %s[%zu][%zu] = %.9g, central difference %.9g "
                      "(diff %.3g, tol %.3g)",
                      hr_isa_name(isa), kind_name(g->h.kind), g->what,
                      (double)g->h.s, (double)g->h.m, (double)g->h.lambda,
                      (double)g->h.label_smoothing, g->B, d, g->C, name, r, i,
                      diff, fd[r * d + i], fabs(diff - fd[r * d + i]), tol);
        }
}

/* gradients vs central differences, added onto random values */
static void grad_one(hr_isa isa, void *vctx) {
    const grad_ctx *g = (const grad_ctx *)vctx;
    const size_t B = g->B, d = g->d, C = g->C;
    float *dx = (float *)hr_t_alloc((B * d + 1) * sizeof(float));
    float *dw = (float *)hr_t_alloc((C * d + 1) * sizeof(float));
    float *px = (float *)hr_t_alloc(B * d * sizeof(float));
    float *pw = (float *)hr_t_alloc(C * d * sizeof(float));
    float loss;
    hr_status st;
    fill_rand(px, B * d, 0x5150 + B);
    fill_rand(pw, C * d, 0x5151 + C);
    memcpy(dx, px, B * d * sizeof(float));
    memcpy(dw, pw, C * d * sizeof(float));
    dx[B * d] = dw[C * d] = HR_T_SENT_F;
    st = hr_head_loss(&g->h, &loss, NULL, dx, dw, g->x, g->w, g->lab, B, d, C);
    cr_assert_eq(st, HR_OK, "[%s] %s %s: status %d", hr_isa_name(isa),
                 kind_name(g->h.kind), g->what, (int)st);
    cr_assert(isfinite(loss), "[%s] %s %s: loss %g", hr_isa_name(isa),
              kind_name(g->h.kind), g->what, (double)loss);
    cr_assert(dx[B * d] == HR_T_SENT_F && dw[C * d] == HR_T_SENT_F,
              "[%s] %s %s: wrote past dx or dw", hr_isa_name(isa),
              kind_name(g->h.kind), g->what);
    grad_cmp(isa, g, dx, g->gx, g->ex, px, B, g->skip_x, "dx");
    grad_cmp(isa, g, dw, g->gw, g->ew, pw, C, g->skip_w, "dw");
    free(dx);
    free(dw);
    free(px);
    free(pw);
}

/* FD check of one head on given data (skip rows: zero rows) */
static void grad_check(const hr_head *h, const float *x, const float *w,
                       const int32_t *lab, size_t B, size_t d, size_t C,
                       const int *skip_x, const int *skip_w,
                       const char *what) {
    grad_ctx g;
    double *gx = (double *)hr_t_alloc(B * d * sizeof(double));
    double *gw = (double *)hr_t_alloc(C * d * sizeof(double));
    double *ex = (double *)hr_t_alloc(B * d * sizeof(double));
    double *ew = (double *)hr_t_alloc(C * d * sizeof(double));
    fd_grads(gx, ex, gw, ew, h, x, w, lab, B, d, C);
    g.h = *h;
    g.B = B;
    g.d = d;
    g.C = C;
    g.x = x;
    g.w = w;
    g.lab = lab;
    g.gx = gx;
    g.gw = gw;
    g.ex = ex;
    g.ew = ew;
    g.rel = grad_rel(h, x, w, lab, B, d, C);
    g.skip_x = skip_x;
    g.skip_w = skip_w;
    g.what = what;
    for_each_isa(grad_one, &g);
    free(gx);
    free(gw);
    free(ex);
    free(ew);
}

Test(heads, gradients_fd) {
    static const size_t shapes[][3] = {{3, 5, 7}, {1, 3, 2}, {5, 7, 3},
                                       {2, 9, 5}};
    static const float ss[2] = {4.0f, 16.0f};
    static const float eps[2] = {0.0f, 0.1f};
    size_t sh;
    int k, si, ei;
    for (sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        const size_t B = shapes[sh][0], d = shapes[sh][1], C = shapes[sh][2];
        float *x = (float *)hr_t_alloc(B * d * sizeof(float));
        float *w = (float *)hr_t_alloc(C * d * sizeof(float));
        int32_t *lab = (int32_t *)hr_t_alloc(B * sizeof(int32_t));
        fill_rand(x, B * d, 0x6000 + sh);
        fill_rand(w, C * d, 0x6100 + sh);
        fill_labels(lab, B, C, 0x6200 + sh);
        for (k = 0; k < NHEADS; k++)
            for (si = 0; si < 2; si++)
                for (ei = 0; ei < 2; ei++) {
                    hr_head h = hr_head_default(kinds[k]);
                    if (kinds[k] == HR_HEAD_SOFTMAX && si > 0) continue;
                    h.s = ss[si];
                    h.label_smoothing = eps[ei];
                    if (kinds[k] == HR_HEAD_SPHEREFACE)
                        h.lambda = si ? 0.0f : 5.0f;
                    grad_check(&h, x, w, lab, B, d, C, NULL, NULL, "random");
                }
        free(x);
        free(w);
        free(lab);
    }
}

/* ------------------------------------------ accumulation and NULL grads */

typedef struct {
    hr_head h;
    size_t B, d, C;
    const float *x, *w;
    const int32_t *lab;
} acc_ctx;

static int same_f(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void acc_one(hr_isa isa, void *vctx) {
    const acc_ctx *a = (const acc_ctx *)vctx;
    const size_t B = a->B, d = a->d, C = a->C;
    const int norm = a->h.kind != HR_HEAD_SOFTMAX;
    float *dx1 = (float *)hr_t_alloc(B * d * sizeof(float));
    float *dw1 = (float *)hr_t_alloc(C * d * sizeof(float));
    float *dx2 = (float *)hr_t_alloc(B * d * sizeof(float));
    float *dw2 = (float *)hr_t_alloc(C * d * sizeof(float));
    float *dx3 = (float *)hr_t_alloc(B * d * sizeof(float));
    float *dw3 = (float *)hr_t_alloc(C * d * sizeof(float));
    float *px = (float *)hr_t_alloc(B * d * sizeof(float));
    float *pw = (float *)hr_t_alloc(C * d * sizeof(float));
    float *lg1 = (float *)hr_t_alloc(B * C * sizeof(float));
    float *lg2 = (float *)hr_t_alloc(B * C * sizeof(float));
    float l1, l2, l3;
    double gxmax = 0.0, gwmax = 0.0, xmax = 0.0, wmax = 0.0, tx, tw;
    size_t i;
    const char *kn = kind_name(a->h.kind);
    memset(dx1, 0, B * d * sizeof(float));
    memset(dw1, 0, C * d * sizeof(float));
    cr_assert_eq(hr_head_loss(&a->h, &l1, lg1, dx1, dw1, a->x, a->w, a->lab,
                              B, d, C),
                 HR_OK, "[%s] %s", hr_isa_name(isa), kn);
    /* twice onto zeros: doubled */
    memset(dx2, 0, B * d * sizeof(float));
    memset(dw2, 0, C * d * sizeof(float));
    for (i = 0; i < 2; i++)
        cr_assert_eq(hr_head_loss(&a->h, &l2, lg2, dx2, dw2, a->x, a->w,
                                  a->lab, B, d, C),
                     HR_OK, "[%s] %s", hr_isa_name(isa), kn);
    cr_assert(memcmp(&l1, &l2, sizeof l1) == 0 && same_f(lg1, lg2, B * C),
              "[%s] %s: loss/logits differ between calls", hr_isa_name(isa),
              kn);
    for (i = 0; i < B * d; i++) {
        gxmax = fabs(dx1[i]) > gxmax ? fabs(dx1[i]) : gxmax;
        xmax = fabs(a->x[i]) > xmax ? fabs(a->x[i]) : xmax;
    }
    for (i = 0; i < C * d; i++) {
        gwmax = fabs(dw1[i]) > gwmax ? fabs(dw1[i]) : gwmax;
        wmax = fabs(a->w[i]) > wmax ? fabs(a->w[i]) : wmax;
    }
    /* The normalized heads add each entry once (exact doubling, exactly
       fl(pre + g)); softmax accumulates inside the GEMM (beta = 1), whose
       result is within 4 K FLT_EPSILON (sum |terms| + |pre|) of the exact
       one, sum |terms| <= 2 wmax / B for dx, <= xmax for dw (|p - q|
       sums to <= 2 over classes, each is <= 1). */
    tx = norm ? 0.0
              : 2.0 * 4.0 * (double)(C + 1) * FLT_EPSILON *
                    (4.0 * wmax / (double)B + 2.0 * gxmax + 1.0);
    tw = norm ? 0.0
              : 2.0 * 4.0 * (double)(B + 1) * FLT_EPSILON *
                    (2.0 * xmax + 2.0 * gwmax + 1.0);
    for (i = 0; i < B * d; i++)
        cr_assert(fabs((double)dx2[i] - 2.0 * (double)dx1[i]) <= tx,
                  "[%s] %s: two calls dx[%zu] = %.9g, one call %.9g",
                  hr_isa_name(isa), kn, i, (double)dx2[i], (double)dx1[i]);
    for (i = 0; i < C * d; i++)
        cr_assert(fabs((double)dw2[i] - 2.0 * (double)dw1[i]) <= tw,
                  "[%s] %s: two calls dw[%zu] = %.9g, one call %.9g",
                  hr_isa_name(isa), kn, i, (double)dw2[i], (double)dw1[i]);
    /* onto pre-existing values (softmax: + 1 in the bounds' |pre|) */
    fill_rand(px, B * d, 0xACC1);
    fill_rand(pw, C * d, 0xACC2);
    memcpy(dx3, px, B * d * sizeof(float));
    memcpy(dw3, pw, C * d * sizeof(float));
    cr_assert_eq(hr_head_loss(&a->h, &l3, NULL, dx3, dw3, a->x, a->w, a->lab,
                              B, d, C),
                 HR_OK, "[%s] %s", hr_isa_name(isa), kn);
    for (i = 0; i < B * d; i++) {
        const float want = px[i] + dx1[i];
        cr_assert(norm ? memcmp(&want, &dx3[i], sizeof want) == 0
                       : fabs((double)dx3[i] - (double)want) <= tx,
                  "[%s] %s: dx[%zu] onto %.9g = %.9g, want %.9g",
                  hr_isa_name(isa), kn, i, (double)px[i], (double)dx3[i],
                  (double)want);
    }
    for (i = 0; i < C * d; i++) {
        const float want = pw[i] + dw1[i];
        cr_assert(norm ? memcmp(&want, &dw3[i], sizeof want) == 0
                       : fabs((double)dw3[i] - (double)want) <= tw,
                  "[%s] %s: dw[%zu] onto %.9g = %.9g, want %.9g",
                  hr_isa_name(isa), kn, i, (double)pw[i], (double)dw3[i],
                  (double)want);
    }
    /* dx NULL: dw as with both; dw NULL: dx as with both (bitwise: the
       same GEMMs on the same data) */
    memset(dw2, 0, C * d * sizeof(float));
    cr_assert_eq(hr_head_loss(&a->h, &l2, NULL, NULL, dw2, a->x, a->w, a->lab,
                              B, d, C),
                 HR_OK, "[%s] %s dx NULL", hr_isa_name(isa), kn);
    cr_assert(same_f(dw2, dw1, C * d) && memcmp(&l1, &l2, sizeof l1) == 0,
              "[%s] %s: dx NULL changes dw or the loss", hr_isa_name(isa), kn);
    memset(dx2, 0, B * d * sizeof(float));
    cr_assert_eq(hr_head_loss(&a->h, &l2, NULL, dx2, NULL, a->x, a->w, a->lab,
                              B, d, C),
                 HR_OK, "[%s] %s dw NULL", hr_isa_name(isa), kn);
    cr_assert(same_f(dx2, dx1, B * d) && memcmp(&l1, &l2, sizeof l1) == 0,
              "[%s] %s: dw NULL changes dx or the loss", hr_isa_name(isa), kn);
    free(dx1);
    free(dw1);
    free(dx2);
    free(dw2);
    free(dx3);
    free(dw3);
    free(px);
    free(pw);
    free(lg1);
    free(lg2);
}

Test(heads, accumulate_and_null_grads) {
    enum { B = 5, D = 11, C = 9 };
    float x[B * D], w[C * D];
    int32_t lab[B];
    int k;
    fill_rand(x, B * D, 0xA1);
    fill_rand(w, C * D, 0xA2);
    fill_labels(lab, B, C, 0xA3);
    for (k = 0; k < NHEADS; k++) {
        acc_ctx a;
        a.h = hr_head_default(kinds[k]);
        a.h.s = 8.0f;
        a.h.label_smoothing = 0.05f;
        a.B = B;
        a.d = D;
        a.C = C;
        a.x = x;
        a.w = w;
        a.lab = lab;
        for_each_isa(acc_one, &a);
    }
}

/* ------------------------------------------------------ branch coverage */

/* x_b = r (cos th_b wn_y + sin th_b u_b), u_b a unit vector orthogonal to
   wn_y (Gram-Schmidt of a random one): the angle to w_y is th_b. */
static void at_angles(float *x, const float *w, const int32_t *lab,
                      const double *th, size_t B, size_t d, uint64_t seed) {
    double *u = (double *)hr_t_alloc(d * sizeof(double));
    double *wn = (double *)hr_t_alloc(d * sizeof(double));
    size_t b, i;
    for (b = 0; b < B; b++) {
        const float *wy = w + (size_t)lab[b] * d;
        double ss = 0.0, dot = 0.0, us = 0.0;
        const double r = 0.5 + 0.5 * fabs((double)hr_t_unif(&seed));
        for (i = 0; i < d; i++) ss += (double)wy[i] * wy[i];
        for (i = 0; i < d; i++) wn[i] = wy[i] / sqrt(ss);
        for (i = 0; i < d; i++) u[i] = hr_t_unif(&seed);
        for (i = 0; i < d; i++) dot += u[i] * wn[i];
        for (i = 0; i < d; i++) u[i] -= dot * wn[i];
        for (i = 0; i < d; i++) us += u[i] * u[i];
        for (i = 0; i < d; i++)
            x[b * d + i] = (float)(r * (cos(th[b]) * wn[i] +
                                        sin(th[b]) * u[i] / sqrt(us)));
    }
    free(u);
    free(wn);
}

static void ref_target_cos(double *c, const float *x, const float *w,
                           const int32_t *lab, size_t B, size_t d, size_t C) {
    double *xd = to_double(x, B * d), *wd = to_double(w, C * d);
    double *cs = (double *)hr_t_alloc(B * C * sizeof(double));
    size_t b;
    ref_cos(cs, NULL, 1, xd, wd, B, d, C);
    for (b = 0; b < B; b++) c[b] = cs[b * C + (size_t)lab[b]];
    free(xd);
    free(wd);
    free(cs);
}

/* loss and logits (val_one) plus the FD gradient on constructed data */
static void check_data(const hr_head *h, const float *x, const float *w,
                       const int32_t *lab, size_t B, size_t d, size_t C,
                       const char *what) {
    val_ctx v;
    double *xd = to_double(x, B * d), *wd = to_double(w, C * d);
    double *cs = (double *)hr_t_alloc(B * C * sizeof(double));
    double *sabs = (double *)hr_t_alloc(B * C * sizeof(double));
    double *z = (double *)hr_t_alloc(B * C * sizeof(double));
    ref_cos(cs, sabs, h->kind != HR_HEAD_SOFTMAX, xd, wd, B, d, C);
    v.h = *h;
    v.B = B;
    v.d = d;
    v.C = C;
    v.x = x;
    v.w = w;
    v.lab = lab;
    v.cs = cs;
    v.sabs = sabs;
    v.loss = ref_loss_cos(h, cs, lab, B, C, z);
    v.z = z;
    for_each_isa(val_one, &v);
    grad_check(h, x, w, lab, B, d, C, NULL, NULL, what);
    free(xd);
    free(wd);
    free(cs);
    free(sabs);
    free(z);
}

Test(heads, arcface_branches) {
    enum { B = 6, D = 7, C = 5 };
    /* theta + m (m = 0.5): 0.7, 2.0, pi - 0.3 (main); pi + 0.2, pi + 0.4
       (fallback); the last is x = -w_y + noise (theta near pi) */
    static const double th[B] = {0.2, 1.5, PI - 0.8, PI - 0.3, PI - 0.1, 0};
    float x[B * D], w[C * D];
    int32_t lab[B];
    double c[B];
    size_t b, i;
    int si, ei;
    uint64_t seed = 0xA7C;
    fill_rand(w, C * D, 0xA7A);
    fill_labels(lab, B, C, 0xA7B);
    at_angles(x, w, lab, th, B, D, 0xA7D);
    for (i = 0; i < D; i++) /* -w_y + small noise */
        x[(B - 1) * D + i] =
            -w[(size_t)lab[B - 1] * D + i] + 0.03f * hr_t_unif(&seed);
    ref_target_cos(c, x, w, lab, B, D, C);
    for (b = 0; b < B; b++) {
        const double t = acos(c[b]);
        cr_assert((b < 3) == (t + 0.5 <= PI) && fabs(t + 0.5 - PI) > 0.05,
                  "sample %zu: theta %.6f + m not on the intended side of "
                  "pi",
                  b, t);
    }
    for (si = 0; si < 2; si++)
        for (ei = 0; ei < 2; ei++) {
            hr_head h = hr_head_default(HR_HEAD_ARCFACE);
            h.s = si ? 16.0f : 4.0f;
            h.label_smoothing = ei ? 0.1f : 0.0f;
            check_data(&h, x, w, lab, B, D, C, "branches");
        }
    /* each branch alone (a batch of one): the gradient of the fallback
       goes through df = 1, the main one through cos m + sin m cot theta */
    for (b = 0; b < B; b++) {
        hr_head h = hr_head_default(HR_HEAD_ARCFACE);
        h.s = 8.0f;
        check_data(&h, x + b * D, w, lab + b, 1, D, C,
                   b < 3 ? "main branch" : "fallback branch");
    }
}

Test(heads, sphereface_pieces) {
    enum { B = 8, D = 5, C = 4 };
    /* m = 4: pieces [k pi/4, (k+1) pi/4]; two samples inside each */
    static const double th[B] = {0.3,       0.6,       PI / 4 + 0.2,
                                 PI / 2 - 0.15, PI / 2 + 0.3, 3 * PI / 4 - 0.2,
                                 3 * PI / 4 + 0.25, PI - 0.2};
    static const int want_k[B] = {0, 0, 1, 1, 2, 2, 3, 3};
    static const float lams[3] = {0.0f, 5.0f, 1000.0f};
    float x[B * D], w[C * D];
    int32_t lab[B];
    double c[B];
    size_t b;
    int li, si;
    fill_rand(w, C * D, 0x5F1);
    fill_labels(lab, B, C, 0x5F2);
    at_angles(x, w, lab, th, B, D, 0x5F3);
    ref_target_cos(c, x, w, lab, B, D, C);
    for (b = 0; b < B; b++)
        cr_assert(ref_sphere_k(4, c[b]) == want_k[b],
                  "sample %zu: theta %.6f in piece %d, want %d", b,
                  acos(c[b]), ref_sphere_k(4, c[b]), want_k[b]);
    for (li = 0; li < 3; li++)
        for (si = 0; si < 2; si++) {
            hr_head h = hr_head_default(HR_HEAD_SPHEREFACE);
            h.lambda = lams[li];
            h.s = si ? 16.0f : 4.0f;
            h.label_smoothing = si ? 0.1f : 0.0f;
            check_data(&h, x, w, lab, B, D, C, "pieces");
        }
    /* each piece alone, lambda 0 (the target logit is s psi) */
    for (b = 0; b < B; b++) {
        hr_head h = hr_head_default(HR_HEAD_SPHEREFACE);
        h.lambda = 0.0f;
        h.s = 8.0f;
        check_data(&h, x + b * D, w, lab + b, 1, D, C, "one piece");
    }
    /* every integer m, pieces by construction: th = (k + 0.5) pi / m */
    {
        int m;
        for (m = 1; m <= 16; m += (m < 4 ? 1 : 6)) {
            double tm[B];
            for (b = 0; b < B; b++)
                tm[b] = ((double)(b % (size_t)m) + 0.5) * PI / m;
            at_angles(x, w, lab, tm, B, D, 0x5F4 + (uint64_t)m);
            {
                hr_head h = hr_head_default(HR_HEAD_SPHEREFACE);
                h.m = (float)m;
                h.lambda = 1.0f;
                h.s = 4.0f;
                check_data(&h, x, w, lab, B, D, C, "m sweep");
            }
        }
    }
}

Test(heads, sphereface_lambda_schedule) {
    size_t it;
    float prev = INFINITY;
    cr_assert_eq(hr_sphereface_lambda(0), 1000.0f, "iter 0: %g",
                 (double)hr_sphereface_lambda(0));
    for (it = 0; it < 5000; it++) {
        const float l = hr_sphereface_lambda(it);
        const double want = 1000.0 / (1.0 + 0.12 * (double)it);
        const double wm = want > 5.0 ? want : 5.0;
        cr_assert(l <= prev, "not monotone at iter %zu: %g after %g", it,
                  (double)l, (double)prev);
        cr_assert(fabs((double)l - wm) <= FLT_EPSILON * wm,
                  "iter %zu: %.9g want %.9g", it, (double)l, wm);
        prev = l;
    }
    cr_assert_eq(hr_sphereface_lambda(1659), 5.0f, "iter 1659: %g",
                 (double)hr_sphereface_lambda(1659));
    cr_assert(hr_sphereface_lambda(1658) > 5.0f, "iter 1658: %g",
              (double)hr_sphereface_lambda(1658));
    cr_assert_eq(hr_sphereface_lambda(1000000), 5.0f, "iter 1e6");
    cr_assert_eq(hr_sphereface_lambda((size_t)-1), 5.0f, "iter SIZE_MAX");
}

/* ------------------------------------------------------------- defaults */

Test(heads, defaults) {
    hr_head h;
    int k;
    h = hr_head_default(HR_HEAD_SPHEREFACE);
    cr_assert(h.kind == HR_HEAD_SPHEREFACE && h.s == 64.0f && h.m == 4.0f &&
                  h.lambda == 5.0f && h.label_smoothing == 0.0f,
              "sphereface default: s %g m %g lambda %g eps %g", (double)h.s,
              (double)h.m, (double)h.lambda, (double)h.label_smoothing);
    h = hr_head_default(HR_HEAD_COSFACE);
    cr_assert(h.kind == HR_HEAD_COSFACE && h.s == 64.0f && h.m == 0.35f &&
                  h.label_smoothing == 0.0f,
              "cosface default: s %g m %g eps %g", (double)h.s, (double)h.m,
              (double)h.label_smoothing);
    h = hr_head_default(HR_HEAD_ARCFACE);
    cr_assert(h.kind == HR_HEAD_ARCFACE && h.s == 64.0f && h.m == 0.5f &&
                  h.label_smoothing == 0.0f,
              "arcface default: s %g m %g eps %g", (double)h.s, (double)h.m,
              (double)h.label_smoothing);
    h = hr_head_default(HR_HEAD_SOFTMAX);
    cr_assert(h.kind == HR_HEAD_SOFTMAX && h.label_smoothing == 0.0f,
              "softmax default: kind %d eps %g", (int)h.kind,
              (double)h.label_smoothing);
    /* every default is a valid head */
    for (k = 0; k < NHEADS; k++) {
        float x[6] = {1, 2, 3, -1, 0.5f, 2}, w[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        int32_t lab[2] = {0, 2};
        float loss = HR_T_SENT_F;
        h = hr_head_default(kinds[k]);
        cr_assert_eq(hr_head_loss(&h, &loss, NULL, NULL, NULL, x, w, lab, 2, 3,
                                  3),
                     HR_OK, "%s default rejected", kind_name(kinds[k]));
        cr_assert(isfinite(loss), "%s default: loss %g", kind_name(kinds[k]),
                  (double)loss);
    }
}

/* softmax: s, m and lambda are unused (any value, logits x w^T) */
Test(heads, softmax_ignores_margin_params) {
    enum { B = 3, D = 4, C = 5 };
    float x[B * D], w[C * D], l0[B * C], l1[B * C], loss0, loss1;
    int32_t lab[B] = {0, 4, 2};
    hr_head h0 = hr_head_default(HR_HEAD_SOFTMAX), h1 = h0;
    fill_rand(x, B * D, 0x50F);
    fill_rand(w, C * D, 0x510);
    h1.s = 0.0f;
    h1.m = NAN;
    h1.lambda = -3.0f;
    cr_assert_eq(hr_head_loss(&h0, &loss0, l0, NULL, NULL, x, w, lab, B, D, C),
                 HR_OK, "default");
    cr_assert_eq(hr_head_loss(&h1, &loss1, l1, NULL, NULL, x, w, lab, B, D, C),
                 HR_OK, "softmax with s 0, m NaN, lambda -3 rejected");
    cr_assert(memcmp(&loss0, &loss1, sizeof loss0) == 0 &&
                  same_f(l0, l1, B * C),
              "softmax: s/m/lambda change the result");
}

/* ------------------------------------------------------------ zero rows */

Test(heads, zero_rows) {
    enum { B = 4, D = 6, C = 5 };
    float x[B * D], w[C * D];
    int32_t lab[B] = {1, 3, 2, 0};
    int skip_x[B] = {0, 1, 0, 0}, skip_w[C] = {0, 0, 1, 0, 0};
    size_t i;
    int k, ei;
    fill_rand(x, B * D, 0x2E0);
    fill_rand(w, C * D, 0x2E1);
    for (i = 0; i < D; i++) x[1 * D + i] = w[2 * D + i] = 0.0f;
    /* sample 2's target is the zero class */
    for (k = 1; k < NHEADS; k++)
        for (ei = 0; ei < 2; ei++) {
            hr_head h = hr_head_default(kinds[k]);
            double *xd = to_double(x, B * D), *wd = to_double(w, C * D);
            double *cs = (double *)hr_t_alloc(B * C * sizeof(double));
            double *sabs = (double *)hr_t_alloc(B * C * sizeof(double));
            double *z = (double *)hr_t_alloc(B * C * sizeof(double));
            val_ctx v;
            h.s = 8.0f;
            h.label_smoothing = ei ? 0.1f : 0.0f;
            ref_cos(cs, sabs, 1, xd, wd, B, D, C);
            for (i = 0; i < C; i++)
                cr_assert(cs[1 * C + i] == 0.0, "reference: zero x row");
            for (i = 0; i < B; i++)
                cr_assert(cs[i * C + 2] == 0.0, "reference: zero w row");
            v.h = h;
            v.B = B;
            v.d = D;
            v.C = C;
            v.x = x;
            v.w = w;
            v.lab = lab;
            v.cs = cs;
            v.sabs = sabs;
            v.loss = ref_loss_cos(&h, cs, lab, B, C, z);
            v.z = z;
            /* logits: s cos = 0 off target, s f(0) at the targets */
            for_each_isa(val_one, &v);
            /* the zero rows' gradients stay what they were; the rest
               against central differences (the zero rows' own entries
               are not differenced: the loss has no derivative there) */
            grad_check(&h, x, w, lab, B, D, C, skip_x, skip_w, "zero rows");
            free(xd);
            free(wd);
            free(cs);
            free(sabs);
            free(z);
        }
}

/* normalized heads are invariant to each row's scale: huge and tiny rows
   (squares far outside float's range) give the loss of unit-scale ones */
static void scale_one(hr_isa isa, void *ctx) {
    enum { B = 3, D = 8, C = 4 };
    float x[B * D], w[C * D], xs[B * D], ws[C * D];
    int32_t lab[B] = {3, 0, 1};
    size_t i;
    int k;
    (void)ctx;
    fill_rand(x, B * D, 0x5CA);
    fill_rand(w, C * D, 0x5CB);
    for (i = 0; i < B * D; i++) xs[i] = x[i] * (i < D ? 1e30f : 1e-30f);
    for (i = 0; i < C * D; i++) ws[i] = w[i] * (i < 2 * D ? 1e-35f : 1e33f);
    for (k = 1; k < NHEADS; k++) {
        hr_head h = hr_head_default(kinds[k]);
        float l0, l1, g0[B * D], g1[B * D];
        double *xd = to_double(x, B * D), *wd = to_double(w, C * D);
        double want;
        h.s = 16.0f;
        want = ref_loss(&h, xd, wd, lab, B, D, C);
        memset(g0, 0, sizeof g0);
        memset(g1, 0, sizeof g1);
        cr_assert_eq(hr_head_loss(&h, &l0, NULL, g0, NULL, x, w, lab, B, D, C),
                     HR_OK, "[%s] %s", hr_isa_name(isa), kind_name(h.kind));
        cr_assert_eq(hr_head_loss(&h, &l1, NULL, g1, NULL, xs, ws, lab, B, D,
                                  C),
                     HR_OK, "[%s] %s scaled rows", hr_isa_name(isa),
                     kind_name(h.kind));
        cr_assert(isfinite(l1) &&
                      fabs((double)l1 - (double)l0) <=
                          1e-5 * (1.0 + fabs((double)l0)),
                  "[%s] %s: loss with scaled rows %.9g, unit scale %.9g "
                  "(ref %.9g)",
                  hr_isa_name(isa), kind_name(h.kind), (double)l1,
                  (double)l0, want);
        {
            double gm = 0.0;
            for (i = 0; i < B * D; i++)
                gm = fabs(g0[i]) > gm ? fabs(g0[i]) : gm;
            for (i = 0; i < B * D; i++) { /* dx scales as 1 / |x_b| */
                const double back =
                    (double)g1[i] * (i < D ? 1e30 : 1e-30);
                cr_assert(isfinite(g1[i]) &&
                              fabs(back - (double)g0[i]) <= 1e-4 * gm,
                          "[%s] %s: scaled rows dx[%zu] = %g (x scale "
                          "undone %.9g), unit scale %.9g",
                          hr_isa_name(isa), kind_name(h.kind), i,
                          (double)g1[i], back, (double)g0[i]);
            }
        }
        free(xd);
        free(wd);
    }
}

Test(heads, row_scale_invariance) { for_each_isa(scale_one, NULL); }

/* ------------------------------------------------------- large logits */

Test(heads, large_logits) {
    enum { B = 5, D = 16, C = 9 };
    float x[B * D], w[C * D], e[D];
    int32_t lab[B];
    size_t b, j, i;
    int k;
    uint64_t seed = 0x1A2;
    fill_rand(e, D, 0x1A1);
    fill_labels(lab, B, C, 0x1A3);
    /* every row near one direction: every cosine ~0.999 */
    for (j = 0; j < C; j++)
        for (i = 0; i < D; i++) w[j * D + i] = e[i] + 0.02f * hr_t_unif(&seed);
    for (b = 0; b < B; b++)
        for (i = 0; i < D; i++) x[b * D + i] = e[i] + 0.02f * hr_t_unif(&seed);
    for (k = 0; k < NHEADS; k++) {
        hr_head h = hr_head_default(kinds[k]); /* s = 64 */
        float xs[B * D], ws[C * D];
        if (kinds[k] == HR_HEAD_SOFTMAX) {
            /* |x| |w| ~ 40^2 D / 3: logits ~ 8000, exp overflows without
               the max subtracted */
            for (i = 0; i < B * D; i++) xs[i] = 40.0f * x[i];
            for (i = 0; i < C * D; i++) ws[i] = 40.0f * w[i];
        } else {
            memcpy(xs, x, sizeof xs);
            memcpy(ws, w, sizeof ws);
        }
        check_data(&h, xs, ws, lab, B, D, C, "large logits");
        if (kinds[k] != HR_HEAD_SOFTMAX) { /* and s = 1000 */
            h.s = 1000.0f;
            h.label_smoothing = 0.1f;
            check_data(&h, xs, ws, lab, B, D, C, "s = 1000");
        }
    }
}

/* --------------------------------------------------------------- errors */

typedef struct {
    size_t B, d, C;
    float *x, *w;
    int32_t *lab;
} err_ctx;

static void expect_err(hr_isa isa, const err_ctx *e, const hr_head *h,
                       int null_loss, const float *x, const float *w,
                       const int32_t *lab, size_t B, size_t d, size_t C,
                       hr_status want, const char *what) {
    enum { N = 64 * 64 };
    static float loss[2], lg[N], dx[N], dw[N];
    hr_status st;
    (void)e;
    hr_t_fill_f(loss, 2, HR_T_SENT_F);
    hr_t_fill_f(lg, N, HR_T_SENT_F);
    hr_t_fill_f(dx, N, HR_T_SENT_F);
    hr_t_fill_f(dw, N, HR_T_SENT_F);
    st = hr_head_loss(h, null_loss ? NULL : loss, lg, dx, dw, x, w, lab, B, d,
                      C);
    cr_assert_eq(st, want, "[%s] %s %s: status %d, want %d", hr_isa_name(isa),
                 h ? kind_name(h->kind) : "(NULL head)", what, (int)st,
                 (int)want);
    if (want == HR_OK) return;
    cr_assert(hr_t_count_ne_f(loss, 2, HR_T_SENT_F) == 0 &&
                  hr_t_count_ne_f(lg, N, HR_T_SENT_F) == 0 &&
                  hr_t_count_ne_f(dx, N, HR_T_SENT_F) == 0 &&
                  hr_t_count_ne_f(dw, N, HR_T_SENT_F) == 0,
              "[%s] %s %s: an output was written on error", hr_isa_name(isa),
              h ? kind_name(h->kind) : "(NULL head)", what);
}

static void errors_one(hr_isa isa, void *vctx) {
    const err_ctx *e = (const err_ctx *)vctx;
    const size_t B = e->B, d = e->d, C = e->C;
    int k;
    expect_err(isa, e, NULL, 0, e->x, e->w, e->lab, B, d, C, HR_EINVAL,
               "NULL head");
    for (k = 0; k < NHEADS; k++) {
        const hr_head h = hr_head_default(kinds[k]);
        hr_head b;
        int32_t lab2[3];
        size_t i;
        expect_err(isa, e, &h, 0, e->x, e->w, e->lab, B, d, C, HR_OK,
                   "valid call (control)");
        expect_err(isa, e, &h, 1, e->x, e->w, e->lab, B, d, C, HR_EINVAL,
                   "NULL loss");
        expect_err(isa, e, &h, 0, NULL, e->w, e->lab, B, d, C, HR_EINVAL,
                   "NULL x");
        expect_err(isa, e, &h, 0, e->x, NULL, e->lab, B, d, C, HR_EINVAL,
                   "NULL w");
        expect_err(isa, e, &h, 0, e->x, e->w, NULL, B, d, C, HR_EINVAL,
                   "NULL labels");
        expect_err(isa, e, &h, 0, e->x, e->w, e->lab, 0, d, C, HR_EINVAL,
                   "batch 0");
        expect_err(isa, e, &h, 0, e->x, e->w, e->lab, B, 0, C, HR_EINVAL,
                   "d 0");
        expect_err(isa, e, &h, 0, e->x, e->w, e->lab, B, d, 0, HR_EINVAL,
                   "classes 0");
        memcpy(lab2, e->lab, sizeof lab2);
        lab2[2] = -1;
        expect_err(isa, e, &h, 0, e->x, e->w, lab2, B, d, C, HR_EINVAL,
                   "label -1");
        lab2[2] = (int32_t)C;
        expect_err(isa, e, &h, 0, e->x, e->w, lab2, B, d, C, HR_EINVAL,
                   "label == classes");
        lab2[2] = INT32_MIN;
        expect_err(isa, e, &h, 0, e->x, e->w, lab2, B, d, C, HR_EINVAL,
                   "label INT32_MIN");
        /* label smoothing: every head */
        b = h;
        b.label_smoothing = -0.01f;
        expect_err(isa, e, &b, 0, e->x, e->w, e->lab, B, d, C, HR_EINVAL,
                   "label_smoothing -0.01");
        b.label_smoothing = 1.0f;
        expect_err(isa, e, &b, 0, e->x, e->w, e->lab, B, d, C, HR_EINVAL,
                   "label_smoothing 1");
        b.label_smoothing = NAN;
        expect_err(isa, e, &b, 0, e->x, e->w, e->lab, B, d, C, HR_EINVAL,
                   "label_smoothing NaN");
        b.label_smoothing = 0.999f;
        expect_err(isa, e, &b, 0, e->x, e->w, e->lab, B, d, C, HR_OK,
                   "label_smoothing 0.999");
        /* s: the normalized heads */
        if (kinds[k] != HR_HEAD_SOFTMAX) {
            static const float bad_s[4] = {0.0f, -1.0f, NAN, INFINITY};
            for (i = 0; i < 4; i++) {
                char what[64];
                b = h;
                b.s = bad_s[i];
                snprintf(what, sizeof what, "s = %g", (double)bad_s[i]);
                expect_err(isa, e, &b, 0, e->x, e->w, e->lab, B, d, C,
                           HR_EINVAL, what);
            }
        }
        /* NaN / Inf in x or w: every head */
        for (i = 0; i < 4; i++) {
            static const float bad[2] = {NAN, INFINITY};
            const float v = i & 1 ? -bad[i / 2] : bad[i / 2];
            const size_t px = (i * 5) % (B * d), pw = (i * 7 + 3) % (C * d);
            float keep = e->x[px];
            e->x[px] = v;
            expect_err(isa, e, &h, 0, e->x, e->w, e->lab, B, d, C,
                       HR_ENONFINITE, i < 2 ? "NaN in x" : "Inf in x");
            e->x[px] = keep;
            keep = e->w[pw];
            e->w[pw] = v;
            expect_err(isa, e, &h, 0, e->x, e->w, e->lab, B, d, C,
                       HR_ENONFINITE, i < 2 ? "NaN in w" : "Inf in w");
            e->w[pw] = keep;
        }
    }
    {
        static const struct {
            hr_head_kind k;
            float m, lambda;
            hr_status want;
            const char *what;
        } cases[] = {
            {HR_HEAD_SPHEREFACE, 0.0f, 5.0f, HR_EINVAL, "sphereface m 0"},
            {HR_HEAD_SPHEREFACE, 2.5f, 5.0f, HR_EINVAL, "sphereface m 2.5"},
            {HR_HEAD_SPHEREFACE, 17.0f, 5.0f, HR_EINVAL, "sphereface m 17"},
            {HR_HEAD_SPHEREFACE, -4.0f, 5.0f, HR_EINVAL, "sphereface m -4"},
            {HR_HEAD_SPHEREFACE, NAN, 5.0f, HR_EINVAL, "sphereface m NaN"},
            {HR_HEAD_SPHEREFACE, 4.0f, -1.0f, HR_EINVAL,
             "sphereface lambda -1"},
            {HR_HEAD_SPHEREFACE, 4.0f, NAN, HR_EINVAL,
             "sphereface lambda NaN"},
            {HR_HEAD_SPHEREFACE, 1.0f, 0.0f, HR_OK, "sphereface m 1"},
            {HR_HEAD_SPHEREFACE, 16.0f, 0.0f, HR_OK, "sphereface m 16"},
            {HR_HEAD_ARCFACE, -0.01f, 0.0f, HR_EINVAL, "arcface m -0.01"},
            {HR_HEAD_ARCFACE, (float)PI, 0.0f, HR_EINVAL, "arcface m pi"},
            {HR_HEAD_ARCFACE, 4.0f, 0.0f, HR_EINVAL, "arcface m 4"},
            {HR_HEAD_ARCFACE, NAN, 0.0f, HR_EINVAL, "arcface m NaN"},
            {HR_HEAD_ARCFACE, 0.0f, 0.0f, HR_OK, "arcface m 0"},
            {HR_HEAD_ARCFACE, 3.14159f, 0.0f, HR_OK, "arcface m 3.14159"},
            {HR_HEAD_COSFACE, NAN, 0.0f, HR_EINVAL, "cosface m NaN"},
            {HR_HEAD_COSFACE, -0.2f, 0.0f, HR_OK, "cosface m -0.2"},
            {(hr_head_kind)4, 0.5f, 0.0f, HR_EINVAL, "kind 4"},
            {(hr_head_kind)-1, 0.5f, 0.0f, HR_EINVAL, "kind -1"},
        };
        size_t i;
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            hr_head h = mk_head(cases[i].k, 16.0f, cases[i].m,
                                cases[i].lambda, 0.0f);
            expect_err(isa, e, &h, 0, e->x, e->w, e->lab, B, d, C,
                       cases[i].want, cases[i].what);
        }
    }
}

Test(heads, errors) {
    enum { B = 3, D = 5, C = 4 };
    float x[B * D], w[C * D];
    int32_t lab[B] = {0, 3, 1};
    err_ctx e;
    fill_rand(x, B * D, 0xE1);
    fill_rand(w, C * D, 0xE2);
    e.B = B;
    e.d = D;
    e.C = C;
    e.x = x;
    e.w = w;
    e.lab = lab;
    for_each_isa(errors_one, &e);
}

/* --------------------------------------------- thread-count invariance */

#ifdef _OPENMP
/* batch classes d >= 1e6: the GEMMs run on a team (the rest is serial) */
static void threads_one(hr_isa isa, void *ctx) {
    enum { B = 32, D = 128, C = 751 };
    float *x = (float *)hr_t_alloc(B * D * sizeof(float));
    float *w = (float *)hr_t_alloc(C * D * sizeof(float));
    int32_t lab[B];
    float *lg[3], *dx[3], *dw[3], loss[3];
    int k, nt;
    (void)ctx;
    fill_rand(x, B * D, 0x7A1);
    fill_rand(w, C * D, 0x7A2);
    fill_labels(lab, B, C, 0x7A3);
    for (k = 0; k < NHEADS; k++) {
        hr_head h = hr_head_default(kinds[k]);
#ifdef HR_TEST_QUICK
        if (kinds[k] == HR_HEAD_SPHEREFACE || kinds[k] == HR_HEAD_COSFACE)
            continue;
#endif
        h.label_smoothing = 0.1f;
        for (nt = 1; nt <= 3; nt++) {
            const int q = nt - 1;
            hr_status st;
            lg[q] = (float *)hr_t_alloc(B * C * sizeof(float));
            dx[q] = (float *)hr_t_alloc(B * D * sizeof(float));
            dw[q] = (float *)hr_t_alloc(C * D * sizeof(float));
            fill_rand(dx[q], B * D, 0x7A4); /* accumulate onto the same */
            fill_rand(dw[q], C * D, 0x7A5);
            omp_set_num_threads(nt);
            st = hr_head_loss(&h, &loss[q], lg[q], dx[q], dw[q], x, w, lab, B,
                              D, C);
            cr_assert_eq(st, HR_OK, "[%s] %s: status %d", hr_isa_name(isa),
                         kind_name(h.kind), (int)st);
            if (q > 0)
                cr_assert(memcmp(&loss[q], &loss[0], sizeof(float)) == 0 &&
                              same_f(lg[q], lg[0], B * C) &&
                              same_f(dx[q], dx[0], B * D) &&
                              same_f(dw[q], dw[0], C * D),
                          "[%s] %s: %d threads != 1 thread (loss %.9g vs "
                          "%.9g)",
                          hr_isa_name(isa), kind_name(h.kind), nt,
                          (double)loss[q], (double)loss[0]);
        }
        for (nt = 0; nt < 3; nt++) {
            free(lg[nt]);
            free(dx[nt]);
            free(dw[nt]);
        }
    }
    free(x);
    free(w);
}

Test(heads, thread_invariance) {
    int keep = omp_get_max_threads();
    for_each_isa(threads_one, NULL);
    omp_set_num_threads(keep);
}
#endif
