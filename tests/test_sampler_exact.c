/* tests/test_sampler_exact.c - the alias sampler and weighted P x K tested
   exactly where test_sampling.c tests them statistically (issue 17).

   test_sampling.c's fits (10^7 draws, chi-square at 1e-6) cannot see an
   event of probability 2^-32 per draw, so "a zero weight is never drawn"
   and "P(i) within 2^-32" were only plausible there. Here:
   - masses: every integer mass read back from the table equals
     round(w_i n 2^32 / sum) exactly (the residual holder: the rest of
     n 2^32), on weights whose exact quotient is known in 64-bit integers;
   - draws: generator states are solved for (xoshiro256**'s output depends
     on s[1] alone and is invertible; hr_alias_draw_n's lanes come from
     splitmix64, whose mixer is invertible too), so a draw sees a chosen
     column and a chosen coin: 0, threshold - 1, threshold, threshold + 1,
     2^32 - 1 on light, heavy, zero-weight and full columns; the scalar
     hr_alias_draw and, on every ISA path, each lane of hr_alias_draw_n
     (vector path: no lane of the group rejects, asserted) must return
     exactly "coin < threshold ? column : alias";
   - weighted P x K for P = 2, 3: ordered outcomes against the exact
     successive-sampling probabilities of the table's masses (chi-square)
     and inclusion counts per identity (standardized deviation), on tables
     where the redraws succeed, where they mostly hit the 64-redraw cap
     (the exact fallback, hr__alias_draw_excluding, then decides: asserted
     by counting generator outputs), and a mix of both.
   Every fit also bounds each category's standardized deviation: a
   chi-square over 1000 categories at 1e-6 misses one category 10% off
   (checker_power shows it), a 6.1-sigma bound per category does not.
   scripts/mutants.sh (make test-mutants) checks that these tests kill
   three sampler mutants that the rest of the suite lets live. */
#include "harness.h"
#include "hardreid.h"

#ifdef HR_TEST_QUICK
#define PK_N 30000 /* qemu: 10-30x slower */
#else
#define PK_N 120000
#endif

#define T32 ((uint64_t)1 << 32) /* one column's mass */

/* ---------------------------------------------------------- statistics */

#define Z_1E6 4.753424308822899      /* upper 1e-6 quantile of N(0,1) */
#define Z_HALF_1E6 4.891638475698990 /* upper 5e-7 quantile           */
/* Per-category bound: two-sided 1e-6 / 1000 (Bonferroni over up to 1000
   categories), the upper 5e-10 quantile of N(0,1). Applied where the
   binomial variance N p (1 - p) is >= 25, so that the normal tail is a fair
   stand-in at 6 sigma; smaller cells are left to the chi-square. */
#define Z_CAT 6.109410204869
#define Z_MIN_VAR 25.0

/* as in test_sampling.c: Wilson-Hilferty, exact for df = 1 */
static double chi2_crit(size_t df) {
    double k = (double)df, h;
    if (df == 1) return Z_HALF_1E6 * Z_HALF_1E6;
    h = 2.0 / (9.0 * k);
    return k * pow(1.0 - h + Z_1E6 * sqrt(h), 3.0);
}

typedef struct {
    double stat, crit; /* chi-square and its 1e-6 critical value       */
    size_t df;
    double zmax;       /* largest |standardized deviation| of one cell */
    size_t worst;      /* its cell                                     */
    size_t zero_hits;  /* draws of zero-probability cells              */
} fit_t;

/* cnt[0..n) (N in all) against probabilities p[0..n) (sum 1). Cells
   expecting fewer than 5 are pooled into one (kept in the statistic
   whatever its expectation: the seeds are fixed, so this only ever
   tightens the test). */
static fit_t fit_stats(const double *cnt, const double *p, size_t n, double N) {
    fit_t f;
    double pe = 0.0, pc = 0.0;
    size_t i, cells = 0;
    memset(&f, 0, sizeof f);
    for (i = 0; i < n; i++) {
        const double e = N * p[i], v = e * (1.0 - p[i]);
        if (p[i] == 0.0) {
            f.zero_hits += cnt[i] != 0.0;
            continue;
        }
        if (v >= Z_MIN_VAR) {
            const double z = fabs(cnt[i] - e) / sqrt(v);
            if (z > f.zmax) {
                f.zmax = z;
                f.worst = i;
            }
        }
        if (e < 5.0) {
            pe += e;
            pc += cnt[i];
            continue;
        }
        f.stat += (cnt[i] - e) * (cnt[i] - e) / e;
        cells++;
    }
    if (pe > 0.0) {
        f.stat += (pc - pe) * (pc - pe) / pe;
        cells++;
    }
    f.df = cells > 1 ? cells - 1 : 0;
    f.crit = f.df ? chi2_crit(f.df) : INFINITY;
    return f;
}

static void check_fit(const double *cnt, const double *p, size_t n, double N,
                      const char *what) {
    const fit_t f = fit_stats(cnt, p, n, N);
    cr_log_info("%s: chi2 = %.1f (df %zu, crit %.1f), max |z| = %.2f at %zu",
                what, f.stat, f.df, f.crit, f.zmax, f.worst);
    cr_assert_eq(f.zero_hits, (size_t)0, "%s: %zu zero-probability cells drawn",
                 what, f.zero_hits);
    cr_assert(f.stat < f.crit, "%s: chi2 = %.1f >= %.1f (df %zu, N %.0f)", what,
              f.stat, f.crit, f.df, N);
    cr_assert(f.zmax < Z_CAT, "%s: cell %zu: |z| = %.2f >= %.2f (count %.0f, "
              "expected %.1f)", what, f.worst, f.zmax, Z_CAT, cnt[f.worst],
              N * p[f.worst]);
}

/* Why the per-category bound: noise-free counts of 1000 equal categories,
   10^7 in all, one of them 10% high. The chi-square at 1e-6 (critical
   value ~1226 for df 999) sees ~100 and passes; the bound sees z = 10. */
Test(sampler_exact, checker_power) {
    enum { NC = 1000 };
    double cnt[NC], p[NC];
    fit_t f;
    size_t i;
    for (i = 0; i < NC; i++) {
        p[i] = 1.0 / NC;
        cnt[i] = 10000.0 - (i != 17); /* 999 cells give 1 each ... */
    }
    cnt[17] = 11000.0 - 1.0;          /* ... to cell 17: N = 10^7 */
    f = fit_stats(cnt, p, NC, 1e7);
    cr_assert(f.stat < f.crit, "chi2 %.1f vs %.1f: the chi-square alone accepts",
              f.stat, f.crit);
    cr_assert(f.zmax >= Z_CAT && f.worst == 17, "the bound rejects cell 17 "
              "(max |z| %.2f at %zu)", f.zmax, f.worst);
    for (i = 0; i < NC; i++) cnt[i] = 10000.0; /* fair counts pass both */
    f = fit_stats(cnt, p, NC, 1e7);
    cr_assert(f.stat < f.crit && f.zmax < Z_CAT, "fair counts: chi2 %.1f, |z| %.2f",
              f.stat, f.zmax);
}

/* ------------------------------------------------- masses, exactly */

/* Weights that are integers 0 .. 2^16 (n <= 4096) make the exact mass
   w_i n 2^32 / S a quotient of 64-bit integers (w_i n 2^32 <= 2^60), so
   round-to-nearest is decided exactly: W_i = q + (2r > S). The library
   computes in double (relative error ~2^-52 on values < 2^44: < 2^-8
   absolute), so a quotient within S/1024 of a half is not judged (counted,
   and required rare). The residual holder (the first largest weight, as
   the header documents) gets n 2^32 minus the others, within n/2 + 1 of
   its own quotient. */
static void check_rounding(const float *w, size_t n, const char *what) {
    hr_t_table t = hr_t_table_new(w, n);
    uint64_t *mass = (uint64_t *)hr_t_alloc(n * sizeof(uint64_t));
    uint64_t S = 0, total = 0, others = 0;
    size_t i, big = 0, npos = 0, judged = 0, ties = 0;
    cr_assert(n <= 4096, "%s: n %zu too large for 64-bit exact quotients", what, n);
    for (i = 0; i < n; i++) {
        cr_assert(w[i] >= 0.0f && w[i] <= 65536.0f && w[i] == floorf(w[i]),
                  "%s: w[%zu] = %g is not an integer in 0 .. 2^16", what, i,
                  (double)w[i]);
        S += (uint64_t)w[i];
        if (w[i] > w[big]) big = i;
    }
    hr_t_table_masses(&t.a, mass);
    for (i = 0; i < n; i++) {
        const uint64_t num = (uint64_t)w[i] * (uint64_t)n * T32;
        const uint64_t q = num / S, r = num % S;
        total += mass[i];
        npos += mass[i] != 0;
        if (w[i] == 0.0f) {
            size_t c;
            cr_assert_eq(mass[i], (uint64_t)0, "%s: zero weight %zu has mass %llu",
                         what, i, (unsigned long long)mass[i]);
            cr_assert_eq((uint32_t)t.a.tab[i], 0u, "%s: zero weight %zu: threshold %u",
                         what, i, (uint32_t)t.a.tab[i]);
            for (c = 0; c < n; c++) /* itself included: that is a full column */
                cr_assert((uint32_t)(t.a.tab[c] >> 32) != (uint32_t)i,
                          "%s: zero weight %zu is the alias of column %zu", what,
                          i, c);
        }
        if (i == big) {
            const uint64_t d = mass[i] > q ? mass[i] - q : q - mass[i];
            cr_assert(d <= n / 2 + 1, "%s: residual holder %zu: mass %llu, quotient "
                      "%llu", what, i, (unsigned long long)mass[i],
                      (unsigned long long)q);
            continue;
        }
        others += mass[i];
        if ((2 * r > S ? 2 * r - S : S - 2 * r) < S / 1024 + 1) {
            ties++;
            continue;
        }
        judged++;
        cr_assert_eq(mass[i], q + (2 * r > S),
                     "%s: category %zu (w %g): mass %llu, round(%llu + %llu/%llu) "
                     "= %llu", what, i, (double)w[i], (unsigned long long)mass[i],
                     (unsigned long long)q, (unsigned long long)r,
                     (unsigned long long)S, (unsigned long long)(q + (2 * r > S)));
    }
    cr_assert_eq(total, (uint64_t)n * T32, "%s: masses sum to n 2^32", what);
    cr_assert_eq(mass[big], (uint64_t)n * T32 - others,
                 "%s: the holder has the rest", what);
    cr_assert_eq((size_t)t.a.npos, npos, "%s: npos %u vs %zu", what, t.a.npos, npos);
    cr_assert(ties <= n / 64 + 1 && (judged > 0 || n == 1),
              "%s: %zu near-ties, %zu judged: weights do not test rounding", what,
              ties, judged);
    cr_log_info("%s: %zu masses judged exactly, %zu near-ties skipped", what,
                judged, ties);
    free(mass);
    free(t.mem);
}

/* Scaling every weight by a power of two changes no mass: the sum, the
   scale and each product are scaled exactly. */
static void check_scaled_same(const float *w, size_t n, int e, const char *what) {
    float *ws = (float *)hr_t_alloc(n * sizeof(float));
    hr_t_table a, b;
    size_t i;
    for (i = 0; i < n; i++) ws[i] = ldexpf(w[i], e);
    a = hr_t_table_new(w, n);
    b = hr_t_table_new(ws, n);
    cr_assert(memcmp(a.a.tab, b.a.tab, n * sizeof(uint64_t)) == 0,
              "%s: weights * 2^%d give another table", what, e);
    free(ws);
    free(a.mem);
    free(b.mem);
}

Test(sampler_exact, masses_rounded) {
    static const float pi[7] = {3, 1, 4, 1, 5, 9, 2};
    float *w = (float *)hr_t_alloc(4096 * sizeof(float));
    uint64_t seed = 17;
    size_t i;
    check_rounding(pi, 7, "3 1 4 1 5 9 2");
    check_scaled_same(pi, 7, -60, "3 1 4 1 5 9 2");
    check_scaled_same(pi, 7, 40, "3 1 4 1 5 9 2");
    for (i = 0; i < 1000; i++) /* every 7th zero; some near the top */
        w[i] = i % 7 == 3 ? 0.0f : (float)(1 + hr_t_below(&seed, 65535));
    check_rounding(w, 1000, "random 1000, zeros");
    check_scaled_same(w, 1000, -33, "random 1000");
    for (i = 0; i < 4096; i++) w[i] = (float)(1 + hr_t_below(&seed, 300));
    w[4000] = 65536.0f; /* the holder late in the array */
    check_rounding(w, 4096, "random 4096 (reject 0), one large");
    for (i = 0; i < 61; i++) w[i] = 1.0f;
    w[5] = 65536.0f; /* one dominant: tiny masses, ~2^22 each */
    check_rounding(w, 61, "one dominant of 61");
    for (i = 0; i < 3; i++) w[i] = 1.0f;
    check_rounding(w, 3, "uniform 3 (exact quotients)");
    free(w);
}

/* ------------------------------------------- crafted generator states */

static uint64_t inv_odd(uint64_t a) { /* a^-1 mod 2^64, a odd: Newton */
    uint64_t x = a; /* right to 3 bits; each step doubles them */
    int i;
    for (i = 0; i < 5; i++) x *= 2 - a * x;
    return x;
}
static uint64_t rotr64(uint64_t x, int k) { return (x >> k) | (x << (64 - k)); }
/* x with x ^ (x >> s) == y: fix s more top bits per round */
static uint64_t unxorshr(uint64_t y, int s) {
    uint64_t x = y;
    int i;
    for (i = 0; i * s < 64; i++) x = y ^ (x >> s);
    return x;
}
/* xoshiro256**'s output is rotl(s[1] * 5, 7) * 9: the s[1] giving y */
static uint64_t s1_for_output(uint64_t y) {
    return rotr64(y * inv_odd(9), 7) * inv_odd(5);
}
/* splitmix64's mixer (the test harness's hr_t_rng after the add) inverted */
static uint64_t unmix(uint64_t z) {
    z = unxorshr(z, 31) * inv_odd(0x94D049BB133111EBull);
    z = unxorshr(z, 27) * inv_odd(0xBF58476D1CE4E5B9ull);
    return unxorshr(z, 30);
}
#define GOLDEN 0x9E3779B97F4A7C15ull

/* a generator whose next output is y (the other words: any, nonzero) */
static hr_rng rng_with_output(uint64_t y) {
    hr_rng r;
    r.s[0] = 0x0123456789ABCDEFull;
    r.s[1] = s1_for_output(y);
    r.s[2] = 0xFEDCBA9876543210ull;
    r.s[3] = 0x0F1E2D3C4B5A6978ull;
    return r;
}

/* A generator r such that hr_alias_draw_n(.., r) gives lane k the first
   output y. By the documented definition lane k is hr_rng_seed(x + 4k G)
   with x = hr_rng_next(r), so its s[1] is splitmix64 output 4k + 1 from x:
   mix(x + (4k + 2) G). Solve for x, then for r. Checked with the public
   hr_rng_seed, so a wrong inversion fails here, not as a sampler bug. */
static hr_rng rng_for_lane(int k, uint64_t y, uint64_t *xout) {
    const uint64_t s1 = s1_for_output(y);
    const uint64_t x = unmix(s1) - (uint64_t)(4 * k + 2) * GOLDEN;
    hr_rng r = rng_with_output(x), chk = r, lane;
    cr_assert_eq(hr_rng_next(&chk), x, "crafted r: first output");
    hr_rng_seed(&lane, x + 4u * (uint64_t)k * GOLDEN);
    cr_assert_eq(lane.s[1], s1, "lane %d: s[1] from splitmix", k);
    cr_assert_eq(hr_rng_next(&lane), y, "lane %d: first output", k);
    *xout = x;
    return r;
}

/* Low 32 bits that Lemire's multiply maps to column c, not rejected:
   the smallest L with L n >= c 2^32 has remainder < n; the next ones step
   by n, past the bound 2^32 mod n < n, within c's range (n <= 2^31). */
static uint32_t low_for_column(const hr_alias *a, uint32_t c) {
    uint64_t L = ((uint64_t)c * T32 + a->n - 1) / a->n;
    for (;; L++) {
        const uint64_t m = L * a->n;
        cr_assert(L < T32 && (uint32_t)(m >> 32) == c, "no low word for column %u", c);
        if ((uint32_t)m >= a->reject) return (uint32_t)L;
    }
}

/* the documented rule of one accepted try */
static uint32_t rule(const hr_alias *a, uint32_t col, uint32_t coin) {
    const uint64_t e = a->tab[col];
    return coin < (uint32_t)e ? col : (uint32_t)(e >> 32);
}

/* ------------------------------------- tables with every kind of column */

enum { NTAB = 3, MAXCOL = 8, MAXCOIN = 5 };

typedef struct {
    const char *name;
    float *w;
    size_t n;
    hr_t_table t;
    uint32_t col[MAXCOL];
    const char *kind[MAXCOL];
    size_t ncol;
} dtab_t;

/* Column kinds: zero (w = 0: threshold 0, alias elsewhere), full (alias ==
   self), light (0 < mass < 2^32), heavy (mass >= 2^32, not full: it gave
   part of its own column away). Each table must have all four; the first
   and last columns join them (Lemire's ends). */
static void dtab_pick(dtab_t *d) {
    uint64_t *mass = (uint64_t *)hr_t_alloc(d->n * sizeof(uint64_t));
    static const char *kinds[4] = {"zero", "full", "light", "heavy"};
    size_t c, k;
    hr_t_table_masses(&d->t.a, mass);
    d->ncol = 0;
    for (k = 0; k < 4; k++) {
        for (c = 0; c < d->n; c++) {
            const uint32_t al = (uint32_t)(d->t.a.tab[c] >> 32);
            const int is = k == 0   ? d->w[c] == 0.0f
                           : k == 1 ? al == c
                           : k == 2 ? al != c && d->w[c] > 0.0f && mass[c] < T32
                                    : al != c && mass[c] >= T32;
            if (is) break;
        }
        cr_assert(c < d->n, "%s: no %s column", d->name, kinds[k]);
        d->col[d->ncol] = (uint32_t)c;
        d->kind[d->ncol++] = kinds[k];
    }
    d->col[d->ncol] = 0;
    d->kind[d->ncol++] = "first";
    d->col[d->ncol] = (uint32_t)(d->n - 1);
    d->kind[d->ncol++] = "last";
    free(mass);
}

/* 10 (reject 6), 1000 (reject 296) and 40000 categories (reject 7296; past
   2^15 the AVX2 / AVX-512 kernels take their run-ahead, prefetching path) */
static void dtabs_new(dtab_t *d) {
    static const float w10[10] = {0, 3, 1, 7, 0.5f, 0, 2, 9, 1, 0.25f};
    static const size_t ns[NTAB] = {10, 1000, 40000};
    static const char *names[NTAB] = {"n=10", "n=1000", "n=40000"};
    uint64_t seed = 23;
    size_t k, i;
    for (k = 0; k < NTAB; k++) {
        d[k].name = names[k];
        d[k].n = ns[k];
        d[k].w = (float *)hr_t_alloc(ns[k] * sizeof(float));
        for (i = 0; i < ns[k]; i++)
            d[k].w[i] = k == 0 ? w10[i]
                               : (i % 9 == 4 ? 0.0f : (float)(hr_t_rng(&seed) >> 44));
        d[k].t = hr_t_table_new(d[k].w, d[k].n);
        dtab_pick(&d[k]);
    }
}

static void dtabs_free(dtab_t *d) {
    size_t k;
    for (k = 0; k < NTAB; k++) {
        free(d[k].w);
        free(d[k].t.mem);
    }
}

/* the coins at a threshold's edges, and the extremes */
static size_t coins_for(uint32_t thr, uint32_t *coin) {
    const int64_t cand[MAXCOIN] = {0, (int64_t)thr - 1, (int64_t)thr,
                                   (int64_t)thr + 1, (int64_t)0xFFFFFFFFu};
    size_t i, j, m = 0;
    for (i = 0; i < MAXCOIN; i++) {
        if (cand[i] < 0 || cand[i] > (int64_t)0xFFFFFFFFu) continue;
        for (j = 0; j < m && coin[j] != (uint32_t)cand[i]; j++) {}
        if (j == m) coin[m++] = (uint32_t)cand[i];
    }
    return m;
}

/* --------------------------------------------- hr_alias_draw, crafted */

Test(sampler_exact, draw_crafted_coins) {
    dtab_t d[NTAB];
    size_t k, i, j, cases = 0;
    dtabs_new(d);
    for (k = 0; k < NTAB; k++) {
        const hr_alias *a = &d[k].t.a;
        for (i = 0; i < d[k].ncol; i++) {
            const uint32_t c = d[k].col[i], thr = (uint32_t)a->tab[c];
            uint32_t coin[MAXCOIN];
            const size_t nc = coins_for(thr, coin);
            for (j = 0; j < nc; j++) {
                const uint64_t y = (uint64_t)coin[j] << 32 | low_for_column(a, c);
                hr_rng r = rng_with_output(y), s = r;
                const uint32_t want = rule(a, c, coin[j]);
                uint32_t got;
                cr_assert_eq(hr_rng_next(&s), y, "crafted output");
                got = hr_alias_draw(a, &r);
                cr_assert_eq(got, want, "%s: %s column %u (threshold %u, alias %u), "
                             "coin %u: drew %u, want %u", d[k].name, d[k].kind[i], c,
                             thr, (uint32_t)(a->tab[c] >> 32), coin[j], got, want);
                cr_assert(memcmp(&r, &s, sizeof r) == 0,
                          "%s: an accepted try takes one output", d[k].name);
                if (!strcmp(d[k].kind[i], "zero"))
                    cr_assert(got != c, "%s: zero-weight %u drawn (coin %u)",
                              d[k].name, c, coin[j]);
                cases++;
            }
        }
        /* a rejected column word (low 32 bits 0: remainder 0 < 2^32 mod n)
           costs one output, then the draw is the next output's */
        if (a->reject) {
            hr_rng r = rng_with_output(0x8000000000000000ull), s = r, u;
            uint32_t got, want;
            hr_rng_next(&s);
            u = s;
            want = hr_alias_draw(a, &u);
            got = hr_alias_draw(a, &r);
            cr_assert(got == want && memcmp(&r, &u, sizeof r) == 0,
                      "%s: a rejected try is redrawn from the next output", d[k].name);
        }
    }
    cr_log_info("hr_alias_draw: %zu crafted (column, coin) cases", cases);
    dtabs_free(d);
}

/* ------------------------------ hr_alias_draw_n, crafted, every ISA path */

/* 1 if some lane's first column word is rejected: the SIMD kernels then
   hand the whole group to the reference */
static int group_rejects(const hr_alias *a, uint64_t x) {
    int k;
    for (k = 0; k < 8; k++) {
        hr_rng lane;
        hr_rng_seed(&lane, x + 4u * (uint64_t)k * GOLDEN);
        if ((uint32_t)((hr_rng_next(&lane) & 0xFFFFFFFFu) * a->n) < a->reject) return 1;
    }
    return 0;
}

static void draw_n_one(hr_isa isa, void *vctx) {
    dtab_t *d = (dtab_t *)vctx;
    static const size_t ms[2] = {8, 24}; /* one group; three (run-ahead) */
    uint32_t got[25], want[24];
    size_t k, i, j, q, cases = 0;
    int lane;
    for (k = 0; k < NTAB; k++) {
        const hr_alias *a = &d[k].t.a;
        for (i = 0; i < d[k].ncol; i++) {
            const uint32_t c = d[k].col[i], thr = (uint32_t)a->tab[c];
            uint32_t coin[MAXCOIN];
            const size_t nc = coins_for(thr, coin);
            for (j = 0; j < nc; j++)
                for (lane = 0; lane < 8; lane++)
                    for (q = 0; q < 2; q++) {
                        const uint64_t y = (uint64_t)coin[j] << 32 | low_for_column(a, c);
                        const uint32_t rv = rule(a, c, coin[j]);
                        uint64_t x;
                        hr_rng r = rng_for_lane(lane, y, &x), s = r;
                        /* so the vector compare, not the reference, decides */
                        cr_assert(!group_rejects(a, x), "%s: crafted group rejects: "
                                  "pick other states", d[k].name);
                        got[ms[q]] = 0xDEADBEEFu;
                        hr_alias_draw_n(got, ms[q], a, &r);
                        hr_t_spec_draw_n(want, ms[q], a, &s);
                        cr_assert_eq(got[lane], rv, "%s [%s] lane %d, m %zu: %s column "
                                     "%u (threshold %u, alias %u), coin %u: drew %u, "
                                     "want %u", d[k].name, hr_isa_name(isa), lane, ms[q],
                                     d[k].kind[i], c, thr, (uint32_t)(a->tab[c] >> 32),
                                     coin[j], got[lane], rv);
                        cr_assert(memcmp(got, want, ms[q] * sizeof(uint32_t)) == 0,
                                  "%s [%s] lane %d, m %zu: differs from the definition",
                                  d[k].name, hr_isa_name(isa), lane, ms[q]);
                        cr_assert(got[ms[q]] == 0xDEADBEEFu && !memcmp(&r, &s, sizeof r),
                                  "%s [%s]: wrote past m or moved r wrongly",
                                  d[k].name, hr_isa_name(isa));
                        cases++;
                    }
        }
        /* a rejecting lane: the group goes to the reference, same output */
        if (a->reject)
            for (lane = 0; lane < 8; lane++) {
                uint64_t x;
                hr_rng r = rng_for_lane(lane, 0x8000000000000000ull, &x), s = r;
                cr_assert(group_rejects(a, x), "crafted rejection");
                hr_alias_draw_n(got, 16, a, &r);
                hr_t_spec_draw_n(want, 16, a, &s);
                cr_assert(memcmp(got, want, 16 * sizeof(uint32_t)) == 0,
                          "%s [%s] lane %d rejects: differs from the definition",
                          d[k].name, hr_isa_name(isa), lane);
            }
    }
    cr_log_info("hr_alias_draw_n [%s]: %zu crafted cases", hr_isa_name(isa), cases);
}

Test(sampler_exact, draw_n_crafted_coins) {
    dtab_t d[NTAB];
    dtabs_new(d);
    for_each_isa(draw_n_one, d);
    dtabs_free(d);
}

/* ---------------------------------- weighted P x K against exact laws */

/* Identities 0 .. n-1 with one image each (label k, sample k): with K = 1
   out[p] is the p-th identity itself. */
typedef struct {
    hr_ids ix;
    void *mem;
} ids_t;

static ids_t ids_new(size_t n) {
    int32_t lab[16];
    ids_t d;
    size_t i;
    for (i = 0; i < n; i++) lab[i] = (int32_t)i;
    d.mem = hr_t_alloc(hr_ids_size(n));
    cr_assert_eq(hr_ids_build(&d.ix, d.mem, lab, n), HR_OK, "ids");
    cr_assert_eq((size_t)d.ix.nids, n, "nids");
    return d;
}

/* outputs r took to become r_after (at most lim; lim + 1 if more) */
static size_t outputs_between(const hr_rng *r, const hr_rng *r_after, size_t lim) {
    hr_rng s = *r;
    size_t k;
    for (k = 0; k <= lim; k++) {
        if (!memcmp(&s, r_after, sizeof s)) return k;
        hr_rng_next(&s);
    }
    return lim + 1;
}

/* N batches of P of the n identities (n <= 8, P <= 3), weights w: ordered
   outcomes against successive sampling from the table's masses M (the
   probability of (a1, .., aP) is prod_t M_at / (sum M - M_a1 - .. -
   M_a(t-1))), chi-square + per-cell bound; inclusion counts of each
   identity (binomial each) against their exact probabilities, per-identity
   bound. [fb_lo, fb_hi]: the range the fraction of batches, among the
   first 2000, in which every draw after the first went through the exact
   fallback must fall in (seen
   by the outputs taken: the first draw, per later pick one draw, 64
   redraws and at least one for the fallback, one per image (K = 1):
   1 + 66 (P - 1) + P or more; without every fallback, at most one less). */
static void pk_fit(const float *w, size_t n, size_t P, size_t N, uint64_t seed,
                   double fb_lo, double fb_hi, const char *name) {
    enum { MAXC = 512 };
    hr_t_table t = hr_t_table_new(w, n);
    ids_t d = ids_new(n);
    uint64_t mass[8];
    double M = 0.0, p[MAXC], cnt[MAXC], pin[8], cin[8];
    uint32_t out[3];
    size_t cells = 1, cell, i, b, fb = 0, fbn = 0;
    char what[160];
    hr_rng r;
    cr_assert(n <= 8 && P >= 1 && P <= 3, "shape");
    for (i = 0; i < P; i++) cells *= n;
    hr_t_table_masses(&t.a, mass);
    for (i = 0; i < n; i++) M += (double)mass[i];
    memset(pin, 0, sizeof pin);
    memset(cin, 0, sizeof cin);
    for (cell = 0; cell < cells; cell++) { /* cell = a1 n^(P-1) + .. + aP */
        size_t a[3], c = cell, u, v;
        double pr = 1.0, left = M;
        for (u = P; u-- > 0;) {
            a[u] = c % n;
            c /= n;
        }
        for (u = 0; u < P; u++) {
            for (v = 0; v < u; v++)
                if (a[v] == a[u]) pr = 0.0;
            if (pr == 0.0 || left <= 0.0) {
                pr = 0.0;
                break;
            }
            pr *= (double)mass[a[u]] / left;
            left -= (double)mass[a[u]];
        }
        p[cell] = pr;
        cnt[cell] = 0.0;
        for (u = 0; u < P; u++) pin[a[u]] += pr;
    }
    hr_rng_seed(&r, seed);
    for (b = 0; b < N; b++) {
        const hr_rng before = r;
        cr_assert_eq(hr_batch_pk(out, P, 1, &d.ix, &t.a, &r), HR_OK, "%s: PK", name);
        for (cell = 0, i = 0; i < P; i++) {
            cr_assert(out[i] < n, "%s: identity %u", name, out[i]);
            cell = cell * n + out[i];
            cin[out[i]] += 1.0;
        }
        cnt[cell] += 1.0;
        if (b < 2000 && P > 1) {
            const size_t lim = 1 + 66 * (P - 1) + P;
            fb += outputs_between(&before, &r, lim) >= lim;
            fbn++;
        }
    }
    if (fbn) {
        cr_log_info("%s, P = %zu: the fallback decided %zu of %zu batches", name, P,
                    fb, fbn);
        cr_assert((double)fb >= fb_lo * (double)fbn && (double)fb <= fb_hi * (double)fbn,
                  "%s, P = %zu: fallback in %zu of %zu batches, want %.0f%% .. %.0f%%",
                  name, P, fb, fbn, 100.0 * fb_lo, 100.0 * fb_hi);
    }
    snprintf(what, sizeof what, "%s, P = %zu, ordered outcomes", name, P);
    check_fit(cnt, p, cells, (double)N, what);
    /* inclusion: identity i in a batch, probability pin[i] */
    for (i = 0; i < n; i++) {
        const double e = (double)N * pin[i], v = e * (1.0 - pin[i]);
        if (pin[i] == 0.0) {
            cr_assert(cin[i] == 0.0, "%s, P = %zu: zero-weight identity %zu chosen "
                      "%.0f times", name, P, i, cin[i]);
            continue;
        }
        if (v < Z_MIN_VAR) continue;
        cr_assert(fabs(cin[i] - e) / sqrt(v) < Z_CAT,
                  "%s, P = %zu: identity %zu in %.0f batches, expected %.1f (z %.2f)",
                  name, P, i, cin[i], e, (cin[i] - e) / sqrt(v));
    }
    free(t.mem);
    free(d.mem);
}

/* redraws succeed: the fallback (nearly) never runs */
Test(sampler_exact, pk_redraws) {
    static const float w[6] = {1, 2, 3, 4, 5, 6};
    pk_fit(w, 6, 2, PK_N, 31, 0.0, 0.0, "1..6");
    pk_fit(w, 6, 3, PK_N, 32, 0.0, 0.0, "1..6");
}

/* One identity has 2^20 of ~2^20 + 15: after it, 64 redraws all hit it
   with probability ~0.999, so the exact fallback draws every later
   identity (among 5 positives of unequal weight, and one zero weight that
   it must skip). A fallback that is not proportional to the masses fails
   the ordered fit by hundreds of sigmas. */
Test(sampler_exact, pk_exact_fallback) {
    static const float w[7] = {5, 1, 1048576.0f, 2, 0, 4, 3};
    pk_fit(w, 7, 2, PK_N, 41, 0.99, 1.0, "fallback (one of 2^20)");
    pk_fit(w, 7, 3, PK_N / 2, 42, 0.99, 1.0, "fallback (one of 2^20)");
}

/* Redraws and the fallback mixed: with 300 of 310, the second pick hits
   the 64-redraw cap in ~11% of the batches (300/310 first, then 65 more
   draws of it: (300/310)^66 = 0.115); with 200 and 100 of 310, the third
   pick in ~12% (not counted: the second pick's redraws blur it). */
Test(sampler_exact, pk_mixed) {
    static const float w2[5] = {1, 300, 2, 3, 4}, w3[6] = {200, 100, 1, 2, 3, 4};
    pk_fit(w2, 5, 2, PK_N, 51, 0.06, 0.18, "1 300 2 3 4");
    pk_fit(w3, 6, 3, PK_N, 52, 0.0, 1.0, "200 100 1 2 3 4");
}

/* P = npos: every identity of nonzero weight exactly once, through the
   fallback, whatever the order; the zero-weight one never. */
Test(sampler_exact, pk_all_positive) {
    static const float w[7] = {5, 1, 1048576.0f, 2, 0, 4, 3};
    hr_t_table t = hr_t_table_new(w, 7);
    ids_t d = ids_new(7);
    uint32_t out[7];
    hr_rng r;
    size_t b, i;
    hr_rng_seed(&r, 61);
    cr_assert_eq(t.a.npos, 6u, "npos");
    for (b = 0; b < 200; b++) {
        unsigned seen = 0;
        cr_assert_eq(hr_batch_pk(out, 6, 1, &d.ix, &t.a, &r), HR_OK, "PK P = npos");
        for (i = 0; i < 6; i++) {
            cr_assert(out[i] < 7 && out[i] != 4, "identity %u", out[i]);
            cr_assert(!(seen >> out[i] & 1u), "identity %u twice", out[i]);
            seen |= 1u << out[i];
        }
    }
    cr_assert_eq(hr_batch_pk(out, 7, 1, &d.ix, &t.a, &r), HR_EINVAL, "P > npos");
    free(t.mem);
    free(d.mem);
}
