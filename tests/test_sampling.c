/* tests/test_sampling.c - the sampling half: RNG, alias sampler (exactness,
   chi-square goodness of fit on every ISA, batched draws identical across
   ISAs), identity index, weighting policies and the batch builders.

   Chi-square: every fit test uses a fixed seed and rejects at significance
   1e-6 (a correct sampler fails one of the ~40 fits here with probability
   ~4e-5 for a given seed; the seeds are fixed, so a pass is reproducible).
   Degrees of freedom = number of categories (or bins) of nonzero
   probability - 1. Critical values: Wilson-Hilferty's cube-root normal
   approximation, chi2_crit(df) = df (1 - 2/(9 df) + z sqrt(2/(9 df)))^3
   with z = 4.753424 (the upper 1e-6 normal quantile); for df = 1, where it
   is poor, the exact z_{5e-7}^2 = 4.891638^2. Zero-probability categories
   are checked separately: drawn exactly 0 times. */
#include "harness.h"
#include "hardreid.h"

#ifdef HR_TEST_QUICK
#define NDRAWS 4000000 /* qemu: 10-30x slower */
#else
#define NDRAWS 10000000
#endif

#define Z_1E6 4.753424308822899       /* upper 1e-6 quantile of N(0,1)   */
#define Z_HALF_1E6 4.891638475698990  /* upper 5e-7 quantile             */

static double chi2_crit(size_t df) {
    double k = (double)df, h;
    if (df == 1) return Z_HALF_1E6 * Z_HALF_1E6;
    h = 2.0 / (9.0 * k);
    return k * pow(1.0 - h + Z_1E6 * sqrt(h), 3.0);
}

/* Goodness of fit of counts[0..n) (total N) to probabilities
   proportional to w[0..n), in nb bins of consecutive categories (nb == n:
   no binning). Zero-weight categories must have count 0. */
static void check_fit(const size_t *counts, const double *w, size_t n,
                      size_t nb, const char *what) {
    double sw = 0.0, stat = 0.0, crit;
    size_t i, b, N = 0, df = 0;
    for (i = 0; i < n; i++) {
        sw += w[i];
        N += counts[i];
        if (w[i] == 0.0)
            cr_assert_eq(counts[i], (size_t)0,
                         "%s: zero-weight category %zu drawn %zu times", what,
                         i, counts[i]);
    }
    for (b = 0; b < nb; b++) {
        const size_t lo = b * n / nb, hi = (b + 1) * n / nb;
        double e = 0.0, c = 0.0;
        for (i = lo; i < hi; i++) {
            e += w[i];
            c += (double)counts[i];
        }
        if (e == 0.0) continue;
        e = e / sw * (double)N;
        stat += (c - e) * (c - e) / e;
        df++;
    }
    if (df <= 1) return; /* one category: nothing to fit (checked by caller) */
    df--;
    crit = chi2_crit(df);
    cr_log_info("%s: chi2 = %.2f, df = %zu, critical(1e-6) = %.1f", what, stat,
                df, crit);
    cr_assert(stat < crit, "%s: chi2 = %.1f >= %.1f (df %zu, N %zu)", what,
              stat, crit, df, N);
}

/* ------------------------------------------------------------------ RNG */

static uint64_t ref_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* Blackman & Vigna's xoshiro256** next(), verbatim in structure */
static uint64_t ref_next(uint64_t *s) {
    const uint64_t result = ref_rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ref_rotl(s[3], 45);
    return result;
}

Test(rng, reference_values) {
    uint64_t ref[4] = {1, 2, 3, 4};
    hr_rng r;
    int i;
    r.s[0] = 1; r.s[1] = 2; r.s[2] = 3; r.s[3] = 4;
    /* by hand: rotl(2*5, 7)*9 = 1280*9; then s1 becomes 2^2^... = 0 */
    cr_assert_eq(hr_rng_next(&r), (uint64_t)11520, "first output");
    cr_assert_eq(hr_rng_next(&r), (uint64_t)0, "second output");
    cr_assert_eq(ref_next(ref), (uint64_t)11520, "reference first");
    ref_next(ref);
    for (i = 0; i < 1000; i++) {
        uint64_t a = hr_rng_next(&r), b = ref_next(ref);
        cr_assert_eq(a, b, "output %d: %llu vs reference %llu", i + 2,
                     (unsigned long long)a, (unsigned long long)b);
    }
}

Test(rng, seed_is_splitmix) {
    hr_rng r;
    uint64_t sm = 12345, st[4];
    int k, i;
    hr_rng_seed(&r, 12345);
    for (k = 0; k < 4; k++) {
        st[k] = hr_t_rng(&sm); /* the harness's splitmix64 */
        cr_assert_eq(r.s[k], st[k], "seed word %d", k);
    }
    for (i = 0; i < 100; i++)
        cr_assert_eq(hr_rng_next(&r), ref_next(st), "seeded output %d", i);
    hr_rng_seed(&r, 0);
    cr_assert(r.s[0] | r.s[1] | r.s[2] | r.s[3], "seed 0: nonzero state");
}

Test(rng, jump) {
    hr_rng a, b, c, d;
    uint64_t first[1000];
    int i, j;
    hr_rng_seed(&a, 7);
    b = a;
    hr_rng_jump(&b);
    c = a;
    for (i = 0; i < 1000; i++) first[i] = hr_rng_next(&c);
    cr_assert(memcmp(&a, &b, sizeof a) != 0, "jump changes the state");
    for (i = 0; i < 1000; i++) { /* no overlap with the unjumped start */
        uint64_t x = hr_rng_next(&b);
        for (j = 0; j < 1000; j++)
            cr_assert(x != first[j], "jumped output %d equals output %d", i, j);
    }
    /* a jump is a polynomial in the transition: it commutes with next() */
    c = a;
    hr_rng_next(&c);
    hr_rng_jump(&c);
    d = a;
    hr_rng_jump(&d);
    hr_rng_next(&d);
    cr_assert(memcmp(&c, &d, sizeof c) == 0, "jump(next(r)) == next(jump(r))");
    /* deterministic */
    c = a;
    d = a;
    hr_rng_jump(&c);
    hr_rng_jump(&d);
    cr_assert(memcmp(&c, &d, sizeof c) == 0, "jump deterministic");
}

/* hr_rng_below(n) for small n: every value, uniform */
static void below_fit(uint32_t n, size_t draws, uint64_t seed) {
    size_t *cnt = (size_t *)hr_t_alloc(n * sizeof(size_t));
    double *w = (double *)hr_t_alloc(n * sizeof(double));
    hr_rng r;
    size_t i;
    char what[64];
    hr_rng_seed(&r, seed);
    memset(cnt, 0, n * sizeof(size_t));
    for (i = 0; i < n; i++) w[i] = 1.0;
    for (i = 0; i < draws; i++) {
        uint32_t v = hr_rng_below(&r, n);
        cr_assert(v < n, "hr_rng_below(%u) = %u", n, v);
        cnt[v]++;
    }
    snprintf(what, sizeof what, "hr_rng_below(%u)", n);
    check_fit(cnt, w, n, n, what);
    free(cnt);
    free(w);
}

Test(rng, below) {
    hr_rng r, s;
    int i;
    hr_rng_seed(&r, 3);
    s = r;
    cr_assert_eq(hr_rng_below(&r, 0), 0u, "n == 0 gives 0");
    cr_assert(memcmp(&r, &s, sizeof r) == 0, "n == 0 leaves r alone");
    for (i = 0; i < 1000; i++) cr_assert_eq(hr_rng_below(&r, 1), 0u, "n == 1");
    below_fit(7, NDRAWS / 10, 11);
    below_fit(1000, NDRAWS / 2, 12);
}

/* bins for huge n: count by exact bin index floor(v * nb / n) */
Test(rng, below_large_n) {
    const uint32_t n = 3000000000u; /* rejects ~30% of tries */
    const size_t nb = 64;
    size_t cnt[64], i;
    double w[64];
    hr_rng r;
    hr_rng_seed(&r, 99);
    memset(cnt, 0, sizeof cnt);
    for (i = 0; i < nb; i++) { /* bin i holds the v with floor(v nb / n) = i */
        uint64_t lo = ((uint64_t)i * n + nb - 1) / nb;
        uint64_t hi = ((uint64_t)(i + 1) * n + nb - 1) / nb;
        w[i] = (double)(hi - lo);
    }
    for (i = 0; i < (size_t)NDRAWS / 4; i++) {
        uint32_t v = hr_rng_below(&r, n);
        cr_assert(v < n, "below(3e9) = %u", v);
        cnt[(size_t)((uint64_t)v * nb / n)]++;
    }
    check_fit(cnt, w, nb, nb, "hr_rng_below(3e9), 64 bins");
}

/* --------------------------------------------------------- alias: build */

/* |P(i) - w_i / sum| <= 2^-32 for every i, zero weights get mass 0 */
static void check_exact(const float *w, size_t n, const char *what) {
    hr_t_table t = hr_t_table_new(w, n);
    uint64_t *mass = (uint64_t *)hr_t_alloc(n * sizeof(uint64_t));
    long double sw = 0.0L, tot = 0.0L;
    size_t i, npos = 0;
    for (i = 0; i < n; i++) sw += w[i];
    hr_t_table_masses(&t.a, mass);
    for (i = 0; i < n; i++) {
        const long double p = (long double)mass[i] / ((long double)n * 4294967296.0L);
        const long double want = (long double)w[i] / sw;
        tot += (long double)mass[i];
        npos += mass[i] != 0;
        if (w[i] == 0.0f)
            cr_assert_eq(mass[i], (uint64_t)0, "%s: zero weight %zu has mass %llu",
                         what, i, (unsigned long long)mass[i]);
        cr_assert(fabsl(p - want) <= 0x1p-32L,
                  "%s: category %zu: P = %.17Lg, w/sum = %.17Lg (diff %Lg)",
                  what, i, p, want, p - want);
    }
    cr_assert(tot == (long double)n * 4294967296.0L, "%s: masses sum", what);
    cr_assert_eq((size_t)t.a.npos, npos, "%s: npos %u vs %zu", what, t.a.npos, npos);
    cr_assert_eq(t.a.n, (uint32_t)n, "%s: n", what);
    cr_assert_eq(t.a.reject, (uint32_t)(((uint64_t)1 << 32) % n), "%s: reject", what);
    free(mass);
    free(t.mem);
}

Test(alias, exact_masses) {
    const size_t n = 100000;
    float *w = (float *)hr_t_alloc(n * sizeof(float));
    uint64_t seed = 5;
    size_t i;
    float one = 1.0f, two[2] = {1.0f, 3.0f};
    check_exact(&one, 1, "n=1");
    check_exact(two, 2, "n=2");
    for (i = 0; i < n; i++) w[i] = (float)(hr_t_rng(&seed) >> 40);
    check_exact(w, n, "random");
    for (i = 0; i < n; i++) w[i] = (float)(1.0 / (double)(i + 1));
    check_exact(w, n, "zipf");
    for (i = 0; i < n; i++) w[i] = i % 3 ? 1.0f + (float)(i % 7) : 0.0f;
    check_exact(w, n, "zeros");
    for (i = 0; i < n; i++) w[i] = 1e-30f;
    w[17] = 3e38f;
    check_exact(w, n, "dominant 3e38 vs 1e-30");
    for (i = 0; i < n; i++) w[i] = i == 4 ? 1.0f : 0.0f;
    check_exact(w, n, "one nonzero");
    for (i = 0; i < n; i++) w[i] = (float)ldexp(1.0, (int)(i % 200) - 100);
    check_exact(w, n, "2^-100 .. 2^99");
    for (i = 0; i < n; i++) w[i] = 1e-45f; /* subnormal */
    check_exact(w, n, "all subnormal");
    for (i = 0; i < 1000; i++) w[i] = 1.0f;
    check_exact(w, 1000, "uniform 1000");
    check_exact(w, 1024, "uniform 1024 (reject 0)");
    free(w);
}

Test(alias, errors) {
    float w[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    char mem[512];
    hr_alias a, good, keep;
    hr_rng r;
    size_t i;
    cr_assert(hr_alias_size(4) <= sizeof mem, "size");
    cr_assert_eq(hr_alias_size((size_t)-1 / 4), (size_t)0, "size overflow -> 0");
    cr_assert_eq(hr_alias_build(&good, mem, w, 4), HR_OK, "build");
    keep = good;
    memset(&a, 0x5A, sizeof a);
    cr_assert_eq(hr_alias_build(NULL, mem, w, 4), HR_EINVAL, "a NULL");
    cr_assert_eq(hr_alias_build(&a, NULL, w, 4), HR_EINVAL, "mem NULL");
    cr_assert_eq(hr_alias_build(&a, mem, NULL, 4), HR_EINVAL, "w NULL");
    cr_assert_eq(hr_alias_build(&a, mem, w, 0), HR_EINVAL, "n 0");
    cr_assert_eq(hr_alias_build(&a, mem, w, (size_t)INT32_MAX + 1), HR_EINVAL,
                 "n > INT32_MAX");
    w[2] = -1.0f;
    cr_assert_eq(hr_alias_build(&a, mem, w, 4), HR_EINVAL, "negative");
    w[1] = NAN;
    cr_assert_eq(hr_alias_build(&a, mem, w, 4), HR_ENONFINITE,
                 "NaN reported before the negative");
    w[1] = 2.0f;
    w[2] = INFINITY;
    cr_assert_eq(hr_alias_build(&a, mem, w, 4), HR_ENONFINITE, "inf");
    w[2] = -INFINITY;
    cr_assert_eq(hr_alias_build(&a, mem, w, 4), HR_ENONFINITE, "-inf");
    for (i = 0; i < 4; i++) w[i] = 0.0f;
    cr_assert_eq(hr_alias_build(&a, mem, w, 4), HR_EINVAL, "all zero");
    w[3] = -0.0f;
    cr_assert_eq(hr_alias_build(&a, mem, w, 4), HR_EINVAL, "zeros and -0");
    /* nothing written: a untouched, the earlier table still valid */
    for (i = 0; i < sizeof a; i++)
        cr_assert_eq(((unsigned char *)&a)[i], 0x5A, "a written on error");
    cr_assert(memcmp(&keep, &good, sizeof good) == 0, "good struct");
    hr_rng_seed(&r, 1);
    for (i = 0; i < 1000; i++) cr_assert(hr_alias_draw(&good, &r) < 4, "draw");
    /* -0.0 is a zero weight, fine next to a positive one */
    w[0] = 1.0f;
    cr_assert_eq(hr_alias_build(&a, mem, w, 4), HR_OK, "-0.0 accepted");
    for (i = 0; i < 1000; i++) cr_assert_eq(hr_alias_draw(&a, &r), 0u, "only 0");
    /* unaligned memory */
    w[1] = 2.0f; w[2] = 3.0f; w[3] = 4.0f;
    cr_assert_eq(hr_alias_build(&a, mem + 3, w, 4), HR_OK, "unaligned mem");
    for (i = 0; i < 1000; i++) cr_assert(hr_alias_draw(&a, &r) < 4, "draw");
}

/* --------------------------------------------- alias: goodness of fit */

#define CHUNK 65536

typedef struct {
    const char *name;
    const float *w;
    size_t n, nb;
} fit_ctx;

static void fit_counts(size_t *cnt, const fit_ctx *x, hr_isa isa, int batched,
                       uint64_t seed) {
    hr_t_table t = hr_t_table_new(x->w, x->n);
    uint32_t *buf = (uint32_t *)hr_t_alloc(CHUNK * sizeof(uint32_t));
    hr_rng r;
    size_t i, done;
    (void)isa;
    hr_rng_seed(&r, seed);
    memset(cnt, 0, x->n * sizeof(size_t));
    for (done = 0; done < (size_t)NDRAWS; done += CHUNK) {
        const size_t m = NDRAWS - done < CHUNK ? NDRAWS - done : CHUNK;
        if (batched) {
            hr_alias_draw_n(buf, m, &t.a, &r);
        } else {
            for (i = 0; i < m; i++) buf[i] = hr_alias_draw(&t.a, &r);
        }
        for (i = 0; i < m; i++) {
            cr_assert(buf[i] < x->n, "%s: draw %u out of range", x->name, buf[i]);
            cnt[buf[i]]++;
        }
    }
    free(buf);
    free(t.mem);
}

static void fit_one(hr_isa isa, void *vctx) {
    const fit_ctx *x = (const fit_ctx *)vctx;
    size_t *cnt = (size_t *)hr_t_alloc(x->n * sizeof(size_t));
    double *w = (double *)hr_t_alloc(x->n * sizeof(double));
    char what[128];
    size_t i;
    int batched;
    for (i = 0; i < x->n; i++) w[i] = x->w[i];
    for (batched = 0; batched < 2; batched++) {
        /* hr_alias_draw does not depend on the ISA: once is enough */
        if (!batched && isa != HR_ISA_SCALAR) continue;
        fit_counts(cnt, x, isa, batched, 1000 + (uint64_t)batched);
        snprintf(what, sizeof what, "%s n=%zu %s [%s]", x->name, x->n,
                 batched ? "hr_alias_draw_n" : "hr_alias_draw", hr_isa_name(isa));
        if (x->n == 1) cr_assert_eq(cnt[0], (size_t)NDRAWS, "%s: n=1 always 0", what);
        check_fit(cnt, w, x->n, x->nb, what);
    }
    free(cnt);
    free(w);
}

static void fit(const char *name, const float *w, size_t n, size_t nb) {
    fit_ctx x;
    x.name = name;
    x.w = w;
    x.n = n;
    x.nb = nb;
    for_each_isa(fit_one, &x);
}

Test(alias, fit_uniform) {
    float w[1000];
    size_t i;
    for (i = 0; i < 1000; i++) w[i] = 1.0f;
    fit("uniform", w, 1000, 1000);
}

Test(alias, fit_zipf) {
    float w[1000];
    size_t i;
    for (i = 0; i < 1000; i++) w[i] = (float)(1.0 / (double)(i + 1));
    fit("zipf", w, 1000, 1000);
}

Test(alias, fit_dominant) {
    float w[10];
    size_t i;
    for (i = 0; i < 10; i++) w[i] = 1.0f;
    w[3] = 1e4f;
    fit("one dominant", w, 10, 10);
}

Test(alias, fit_zeros) {
    float w[100];
    size_t i;
    for (i = 0; i < 100; i++) w[i] = i % 3 == 0 ? 0.0f : (float)(1 + i % 7);
    w[99] = 0.0f; /* a zero at the very end too */
    fit("with zeros", w, 100, 100);
}

Test(alias, fit_small_n) {
    float one = 0.25f, two[2] = {1.0f, 3.0f};
    fit("one", &one, 1, 1);
    fit("two", two, 2, 2);
}

Test(alias, fit_worked_example) {
    /* docs/DESIGN.md: c = {0.98, 0.96, 0.9, 0.5, 0.46} -> p = c / 3.8 */
    const float c[5] = {0.98f, 0.96f, 0.9f, 0.5f, 0.46f};
    const double want[5] = {0.258, 0.253, 0.237, 0.132, 0.121};
    float p[5];
    size_t i;
    cr_assert_eq(hr_weights(p, c, 5, HR_WEIGHT_LINEAR, 0.0f, 0.0f), HR_OK, "weights");
    for (i = 0; i < 5; i++)
        cr_assert(fabs((double)p[i] - want[i]) < 5e-4, "p[%zu] = %.4f want %.3f", i,
                  (double)p[i], want[i]);
    fit("worked example", p, 5, 5);
}

Test(alias, fit_1e6_binned, .timeout = 120) {
    const size_t n = 1000000;
    float *w = (float *)hr_t_alloc(n * sizeof(float));
    uint64_t seed = 77;
    size_t i;
    for (i = 0; i < n; i++) /* random, with every 10th zero */
        w[i] = i % 10 == 3 ? 0.0f : (float)(1 + (hr_t_rng(&seed) >> 60));
    fit("random 1e6 (1000 bins)", w, n, 1000);
    free(w);
}

/* ------------------------------------ alias: batched, same on every ISA */


typedef struct {
    const hr_alias *a;
    const char *name;
} same_ctx;

static void same_one(hr_isa isa, void *vctx) {
    static const size_t ms[] = {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 511,
                                512, 513, 1000, 4099, 100003};
    const same_ctx *x = (const same_ctx *)vctx;
    uint32_t *got = (uint32_t *)hr_t_alloc((100003 + 1) * sizeof(uint32_t));
    uint32_t *want = (uint32_t *)hr_t_alloc(100003 * sizeof(uint32_t));
    size_t k, i;
    for (k = 0; k < sizeof ms / sizeof ms[0]; k++) {
        const size_t m = ms[k];
        hr_rng r, s;
        hr_rng_seed(&r, 4242 + k);
        s = r;
        got[m] = 0xDEADBEEFu;
        hr_alias_draw_n(got, m, x->a, &r);
        hr_t_spec_draw_n(want, m, x->a, &s);
        cr_assert_eq(got[m], 0xDEADBEEFu, "%s [%s] m=%zu: wrote past m", x->name,
                     hr_isa_name(isa), m);
        cr_assert(memcmp(&r, &s, sizeof r) == 0, "%s [%s] m=%zu: r advanced wrongly",
                  x->name, hr_isa_name(isa), m);
        for (i = 0; i < m; i++)
            cr_assert_eq(got[i], want[i], "%s [%s] m=%zu: out[%zu] = %u, spec %u",
                         x->name, hr_isa_name(isa), m, i, got[i], want[i]);
    }
    free(got);
    free(want);
}

static void same_all(const hr_alias *a, const char *name) {
    same_ctx x;
    x.a = a;
    x.name = name;
    for_each_isa(same_one, &x);
}

Test(alias, draw_n_same_on_every_isa) {
    static const size_t ns[] = {1, 2, 3, 1000, 1024, 40000, 300007};
    size_t k, i;
    for (k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        const size_t n = ns[k];
        float *w = (float *)hr_t_alloc(n * sizeof(float));
        uint64_t seed = n;
        hr_t_table t;
        hr_alias forced;
        char name[64];
        for (i = 0; i < n; i++) w[i] = (float)(hr_t_rng(&seed) >> 50) * (i % 5 != 0);
        w[0] = 1.0f;
        t = hr_t_table_new(w, n);
        snprintf(name, sizeof name, "n=%zu", n);
        same_all(&t.a, name);
        /* Force frequent rejections (a lane rejects with probability 1/2,
           most groups fall back): still the documented output. Not a valid
           Lemire bound, but the definition holds for any value. */
        forced = t.a;
        forced.reject = 0x80000000u;
        snprintf(name, sizeof name, "n=%zu, reject 2^31", n);
        same_all(&forced, name);
        forced.reject = 1;
        snprintf(name, sizeof name, "n=%zu, reject 1", n);
        same_all(&forced, name);
        free(t.mem);
        free(w);
    }
}

/* -------------------------------------------------------- identity index */

static void check_index(const int32_t *lab, size_t n, const char *what) {
    void *mem = hr_t_alloc(hr_ids_size(n));
    hr_ids ix;
    size_t i, k, junk = 0, seen = 0;
    unsigned char *hit = (unsigned char *)hr_t_alloc(n + 1);
    hr_status s = hr_ids_build(&ix, mem, lab, n);
    cr_assert_eq(s, HR_OK, "%s: %s", what, hr_status_string(s));
    memset(hit, 0, n + 1);
    for (i = 0; i < n; i++) junk += lab[i] < 0;
    cr_assert_eq((size_t)ix.njunk, junk, "%s: njunk", what);
    cr_assert_eq((size_t)ix.nsamples, n - junk, "%s: nsamples", what);
    cr_assert_eq(ix.start[0], 0u, "%s: start[0]", what);
    cr_assert_eq(ix.start[ix.nids], ix.nsamples, "%s: start[nids]", what);
    for (k = 0; k < ix.nids; k++) {
        cr_assert(ix.start[k + 1] > ix.start[k], "%s: identity %zu empty", what, k);
        if (k) cr_assert(ix.label[k] > ix.label[k - 1], "%s: labels ascending", what);
        cr_assert(ix.label[k] >= 0, "%s: junk label indexed", what);
        cr_assert_eq(hr_ids_find(&ix, ix.label[k]), (int32_t)k, "%s: find", what);
        for (i = ix.start[k]; i < ix.start[k + 1]; i++) {
            const uint32_t smp = ix.sample[i];
            cr_assert(smp < n && lab[smp] == ix.label[k],
                      "%s: sample %u in identity %zu (label %d)", what, smp, k,
                      (int)ix.label[k]);
            if (i > ix.start[k]) cr_assert(smp > ix.sample[i - 1], "%s: ascending", what);
            cr_assert(!hit[smp], "%s: sample %u twice", what, smp);
            hit[smp] = 1;
            seen++;
        }
    }
    cr_assert_eq(seen, n - junk, "%s: every sample indexed", what);
    /* distinct count by brute force on small inputs */
    if (n <= 5000) {
        size_t d = 0, j;
        for (i = 0; i < n; i++) {
            if (lab[i] < 0) continue;
            for (j = 0; j < i && lab[j] != lab[i]; j++) {}
            d += j == i;
        }
        cr_assert_eq((size_t)ix.nids, d, "%s: nids %u want %zu", what, ix.nids, d);
    }
    cr_assert_eq(hr_ids_find(&ix, -1), -1, "%s: find(-1)", what);
    free(hit);
    free(mem);
}

Test(ids, build) {
    const size_t n = 100000;
    int32_t *lab = (int32_t *)hr_t_alloc(n * sizeof(int32_t));
    const int32_t market[12] = {2, -1, 0, 2, 1501, 7, -1, 0, 7, 7, 1501, 2};
    uint64_t seed = 1;
    size_t i;
    check_index(market, 12, "market-like");
    check_index(market, 0, "n=0");
    check_index(market, 1, "n=1");
    check_index(market + 1, 1, "n=1 junk");
    for (i = 0; i < n; i++) lab[i] = (int32_t)hr_t_below(&seed, 751) - 1;
    check_index(lab, n, "random 0..749 with junk");
    for (i = 0; i < n; i++) lab[i] = (int32_t)(hr_t_rng(&seed) >> 33); /* 31 bits */
    check_index(lab, n, "random 31-bit (4 passes)");
    for (i = 0; i < n; i++) /* bytes 0 and 2 shared: passes skipped */
        lab[i] = (int32_t)(0x01000011u | ((uint32_t)hr_t_below(&seed, 40) << 8) |
                           ((uint32_t)hr_t_below(&seed, 3) << 24));
    check_index(lab, n, "sparse bytes");
    for (i = 0; i < n; i++) lab[i] = INT32_MAX - (int32_t)(i % 3);
    check_index(lab, n, "near INT32_MAX");
    for (i = 0; i < n; i++) lab[i] = -1 - (int32_t)(i % 5);
    check_index(lab, n, "all junk");
    for (i = 0; i < n; i++) lab[i] = 42;
    check_index(lab, n, "one identity");
    for (i = 0; i < n; i++) lab[i] = (int32_t)(n - i);
    check_index(lab, n, "descending distinct");
    free(lab);
}

Test(ids, values_and_errors) {
    const int32_t lab[8] = {30, -1, 10, 30, 20, -5, 10, 10};
    char mem[1024];
    hr_ids ix, keep;
    cr_assert(hr_ids_size(8) <= sizeof mem, "size");
    cr_assert_eq(hr_ids_size((size_t)-1 / 2), (size_t)0, "size overflow -> 0");
    cr_assert_eq(hr_ids_build(&ix, mem + 1, lab, 8), HR_OK, "build (unaligned)");
    cr_assert_eq(ix.nids, 3u, "nids");
    cr_assert_eq(ix.njunk, 2u, "njunk");
    cr_assert(ix.label[0] == 10 && ix.label[1] == 20 && ix.label[2] == 30, "labels");
    cr_assert(ix.start[1] == 3 && ix.start[2] == 4 && ix.start[3] == 6, "start");
    cr_assert(ix.sample[0] == 2 && ix.sample[1] == 6 && ix.sample[2] == 7 &&
                  ix.sample[3] == 4 && ix.sample[4] == 0 && ix.sample[5] == 3,
              "samples");
    cr_assert(hr_ids_find(&ix, 20) == 1 && hr_ids_find(&ix, 25) == -1 &&
                  hr_ids_find(&ix, 31) == -1 && hr_ids_find(&ix, 0) == -1,
              "find");
    keep = ix;
    cr_assert_eq(hr_ids_build(NULL, mem, lab, 8), HR_EINVAL, "ix NULL");
    cr_assert_eq(hr_ids_build(&ix, NULL, lab, 8), HR_EINVAL, "mem NULL");
    cr_assert_eq(hr_ids_build(&ix, mem, NULL, 8), HR_EINVAL, "labels NULL");
    cr_assert_eq(hr_ids_build(&ix, mem, lab, (size_t)INT32_MAX + 1), HR_EINVAL,
                 "n > INT32_MAX");
    cr_assert(memcmp(&ix, &keep, sizeof ix) == 0, "ix untouched on error");
    cr_assert_eq(hr_ids_build(&ix, mem, NULL, 0), HR_OK, "n = 0, labels NULL");
    cr_assert_eq(ix.nids, 0u, "empty");
}

/* ---------------------------------------------------------------- weights */

Test(weights, policies) {
    const float c[4] = {0.5f, -0.2f, 0.9f, 0.0f};
    float p[4];
    double s;
    size_t i;
    cr_assert_eq(hr_weights(p, c, 4, HR_WEIGHT_LINEAR, 0.0f, 0.0f), HR_OK, "linear");
    cr_assert(fabs(p[0] - 0.5 / 1.4) < 1e-6 && p[1] == 0.0f &&
                  fabs(p[2] - 0.9 / 1.4) < 1e-6 && p[3] == 0.0f,
              "linear: negatives clamped");
    cr_assert_eq(hr_weights(p, c, 4, HR_WEIGHT_SHIFTED, 0.0f, 0.0f), HR_OK, "shifted");
    s = 0.75 + 0.4 + 0.95 + 0.5;
    cr_assert(fabs(p[0] - 0.75 / s) < 1e-6 && fabs(p[1] - 0.4 / s) < 1e-6 &&
                  fabs(p[3] - 0.5 / s) < 1e-6,
              "shifted");
    cr_assert_eq(hr_weights(p, c, 4, HR_WEIGHT_SOFTMAX, 0.5f, 0.0f), HR_OK, "softmax");
    s = exp(1.0) + exp(-0.4) + exp(1.8) + 1.0;
    cr_assert(fabs(p[2] - exp(1.8) / s) < 1e-6 && fabs(p[3] - 1.0 / s) < 1e-6,
              "softmax T=0.5: %g", (double)p[2]);
    /* tiny temperature: all mass on the max, no overflow */
    cr_assert_eq(hr_weights(p, c, 4, HR_WEIGHT_SOFTMAX, 1e-30f, 0.0f), HR_OK, "T tiny");
    cr_assert(p[2] == 1.0f && p[0] == 0.0f, "T tiny: arg max");
    /* eps mix */
    cr_assert_eq(hr_weights(p, c, 4, HR_WEIGHT_LINEAR, 0.0f, 0.2f), HR_OK, "eps");
    cr_assert(fabs(p[1] - 0.05) < 1e-7 && fabs(p[0] - (0.8 * 0.5 / 1.4 + 0.05)) < 1e-6,
              "eps: floor eps/n");
    for (s = 0.0, i = 0; i < 4; i++) s += p[i];
    cr_assert(fabs(s - 1.0) < 1e-6, "sums to 1");
    cr_assert_eq(hr_weights(p, c, 4, HR_WEIGHT_SHIFTED, 0.0f, 1.0f), HR_OK, "eps 1");
    for (i = 0; i < 4; i++) cr_assert(p[i] == 0.25f, "eps 1: uniform");
}

Test(weights, all_negative_each_policy) {
    const float c[5] = {-0.1f, -0.5f, -0.9f, -1.0f, -0.3f};
    const float cm[3] = {-1.0f, -2.0f, -1.5f}; /* shifted: all clamp to 0 */
    float p[5];
    size_t i;
    int pol;
    for (pol = 0; pol < 3; pol++) {
        double s = 0.0;
        cr_assert_eq(hr_weights(p, c, 5, (hr_weighting)pol, 1.0f, 0.0f), HR_OK,
                     "policy %d", pol);
        for (i = 0; i < 5; i++) {
            cr_assert(isfinite(p[i]) && p[i] >= 0.0f, "policy %d: p[%zu] = %g", pol,
                      i, (double)p[i]);
            s += p[i];
        }
        cr_assert(fabs(s - 1.0) < 1e-6, "policy %d: sum %g", pol, s);
    }
    cr_assert_eq(hr_weights(p, c, 5, HR_WEIGHT_LINEAR, 0.0f, 0.0f), HR_OK, "linear");
    for (i = 0; i < 5; i++) cr_assert(p[i] == 0.2f, "linear, all <= 0: uniform");
    cr_assert_eq(hr_weights(p, cm, 3, HR_WEIGHT_SHIFTED, 0.0f, 0.0f), HR_OK, "shifted");
    for (i = 0; i < 3; i++) cr_assert(fabs(p[i] - 1.0 / 3) < 1e-7, "shifted, all <= -1");
    cr_assert_eq(hr_weights(p, c, 5, HR_WEIGHT_SHIFTED, 0.0f, 0.0f), HR_OK, "shifted");
    cr_assert(p[3] == 0.0f && p[0] > p[1], "shifted: c = -1 gets 0, order kept");
}

Test(weights, errors) {
    const float c[3] = {0.1f, 0.2f, 0.3f};
    float bad[3] = {0.1f, NAN, 0.3f}, p[3], one;
    const float ninf = -INFINITY;
    size_t i;
    hr_t_fill_f(p, 3, HR_T_SENT_F);
    cr_assert_eq(hr_weights(p, bad, 3, HR_WEIGHT_LINEAR, 0.0f, 0.0f), HR_ENONFINITE, "NaN");
    bad[1] = INFINITY;
    cr_assert_eq(hr_weights(p, bad, 3, HR_WEIGHT_SOFTMAX, 1.0f, 0.0f), HR_ENONFINITE, "inf");
    bad[1] = -INFINITY;
    cr_assert_eq(hr_weights(p, bad, 3, HR_WEIGHT_SHIFTED, 0.0f, 0.0f), HR_ENONFINITE,
                 "-inf with n > 1");
    cr_assert_eq(hr_weights(NULL, c, 3, HR_WEIGHT_LINEAR, 0.0f, 0.0f), HR_EINVAL, "p NULL");
    cr_assert_eq(hr_weights(p, NULL, 3, HR_WEIGHT_LINEAR, 0.0f, 0.0f), HR_EINVAL, "c NULL");
    cr_assert_eq(hr_weights(p, c, 3, (hr_weighting)7, 0.0f, 0.0f), HR_EINVAL, "policy");
    cr_assert_eq(hr_weights(p, c, 3, HR_WEIGHT_LINEAR, 0.0f, -0.1f), HR_EINVAL, "eps < 0");
    cr_assert_eq(hr_weights(p, c, 3, HR_WEIGHT_LINEAR, 0.0f, 1.5f), HR_EINVAL, "eps > 1");
    cr_assert_eq(hr_weights(p, c, 3, HR_WEIGHT_LINEAR, 0.0f, NAN), HR_EINVAL, "eps NaN");
    cr_assert_eq(hr_weights(p, c, 3, HR_WEIGHT_SOFTMAX, 0.0f, 0.0f), HR_EINVAL, "T 0");
    cr_assert_eq(hr_weights(p, c, 3, HR_WEIGHT_SOFTMAX, -1.0f, 0.0f), HR_EINVAL, "T < 0");
    cr_assert_eq(hr_weights(p, c, 3, HR_WEIGHT_SOFTMAX, INFINITY, 0.0f), HR_EINVAL, "T inf");
    cr_assert_eq(hr_t_count_ne_f(p, 3, HR_T_SENT_F), (size_t)0, "p untouched on error");
    cr_assert_eq(hr_weights(NULL, NULL, 0, HR_WEIGHT_LINEAR, 0.0f, 0.0f), HR_OK, "n 0");
    cr_assert_eq(hr_weights(&one, &ninf, 1, HR_WEIGHT_SOFTMAX, 1.0f, 0.0f), HR_OK,
                 "n = 1 with hr_difficulty's -inf");
    cr_assert(one == 1.0f, "n = 1: p = 1");
    for (i = 0; i < 3; i++) (void)i;
}

/* ---------------------------------------------------------------- batches */

/* A dataset: 40 identities with labels 100 + 3k; identity k has
   sizes[k] images (1 for k % 7 == 0, else 2 .. 12), shuffled, plus junk. */
typedef struct {
    int32_t *lab;
    size_t n;
    hr_ids ix;
    void *mem;
    int32_t *id_of; /* per sample: identity index or -1 */
} data_t;

static data_t data_new(size_t nids, uint64_t seed) {
    data_t d;
    size_t k, i, j, cnt = 0;
    d.lab = (int32_t *)hr_t_alloc(nids * 13 * sizeof(int32_t) + 64);
    for (k = 0; k < nids; k++) {
        const size_t sz = k % 7 == 0 ? 1 : 2 + hr_t_below(&seed, 11);
        for (j = 0; j < sz; j++) d.lab[cnt++] = 100 + 3 * (int32_t)k;
        if (k % 5 == 0) d.lab[cnt++] = -1;
    }
    d.n = cnt;
    for (i = cnt; i > 1; i--) { /* shuffle */
        const size_t u = hr_t_below(&seed, i);
        const int32_t t = d.lab[i - 1];
        d.lab[i - 1] = d.lab[u];
        d.lab[u] = t;
    }
    d.mem = hr_t_alloc(hr_ids_size(d.n));
    cr_assert_eq(hr_ids_build(&d.ix, d.mem, d.lab, d.n), HR_OK, "ids");
    cr_assert_eq((size_t)d.ix.nids, nids, "nids");
    d.id_of = (int32_t *)hr_t_alloc(d.n * sizeof(int32_t));
    for (i = 0; i < d.n; i++) d.id_of[i] = hr_ids_find(&d.ix, d.lab[i]);
    return d;
}

static void data_free(data_t *d) {
    free(d->lab);
    free(d->mem);
    free(d->id_of);
}

static uint32_t isize(const hr_ids *ix, size_t k) { return ix->start[k + 1] - ix->start[k]; }

/* a group of k images of identity id: all its; distinct when it has >= k */
static void check_group(const data_t *d, const uint32_t *g, size_t k, size_t id,
                        const char *what) {
    size_t i, j;
    for (i = 0; i < k; i++) {
        cr_assert(g[i] < d->n && d->id_of[g[i]] == (int32_t)id,
                  "%s: image %zu (sample %u) not of identity %zu", what, i, g[i], id);
        if (isize(&d->ix, id) >= k)
            for (j = 0; j < i; j++)
                cr_assert(g[j] != g[i], "%s: sample %u twice in a group of %zu from %u",
                          what, g[i], k, isize(&d->ix, id));
    }
}

Test(batch, hardest) {
    data_t d = data_new(40, 3);
    float *c = (float *)hr_t_alloc(40 * sizeof(float));
    int32_t *near = (int32_t *)hr_t_alloc(40 * sizeof(int32_t));
    uint32_t out[64], out2[64];
    hr_rng r, r2;
    size_t i, t, rep;
    uint64_t seed = 9;
    for (i = 0; i < 40; i++) {
        c[i] = hr_t_unif(&seed);
        near[i] = (int32_t)((i + 1) % 40);
    }
    c[12] = 0.99f; /* identity 12: 2..12 images; also a tie at 30 */
    c[30] = 0.99f;
    t = 12;
    hr_rng_seed(&r, 1);
    for (rep = 0; rep < 200; rep++) {
        const size_t fc = 1 + rep % 8, nc = rep % 3, sc = rep % 17;
        r2 = r;
        cr_assert_eq(hr_batch_hardest(out, &d.ix, c, fc, sc, near, nc, &r), HR_OK, "A");
        check_group(&d, out, fc, t, "A target");
        check_group(&d, out + fc, nc, (size_t)near[t], "A nearest");
        for (i = fc + nc; i < fc + nc + sc; i++)
            cr_assert(d.id_of[out[i]] >= 0 && d.id_of[out[i]] != (int32_t)t,
                      "A: random image %u is of the target or junk", out[i]);
        /* determinism */
        cr_assert_eq(hr_batch_hardest(out2, &d.ix, c, fc, sc, near, nc, &r2), HR_OK, "A");
        cr_assert(memcmp(out, out2, (fc + nc + sc) * sizeof(uint32_t)) == 0, "A: same seed");
        cr_assert(memcmp(&r, &r2, sizeof r) == 0, "A: same rng state");
    }
    /* target with a single image: with replacement */
    c[14] = 2.0f; /* 14 % 7 == 0: one image */
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 5, 3, NULL, 0, &r), HR_OK, "A single");
    check_group(&d, out, 5, 14, "A single");
    for (i = 1; i < 5; i++) cr_assert_eq(out[i], out[0], "single image repeated");
    /* every image of the others reachable; none of the target */
    {
        unsigned char *hit = (unsigned char *)hr_t_alloc(d.n);
        size_t need = 0, got = 0;
        memset(hit, 0, d.n);
        for (rep = 0; rep < 2000; rep++) {
            cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 1, 32, NULL, 0, &r), HR_OK, "A");
            for (i = 1; i < 33; i++) hit[out[i]] = 1;
        }
        for (i = 0; i < d.n; i++) {
            if (d.id_of[i] < 0 || d.id_of[i] == 14) {
                cr_assert(!hit[i], "junk or target sample %zu drawn", i);
                continue;
            }
            need++;
            got += hit[i];
        }
        cr_assert_eq(got, need, "random part reaches every other image");
        free(hit);
    }
    /* all-negative difficulties: still a target (the largest) */
    for (i = 0; i < 40; i++) c[i] = -0.5f - 0.01f * (float)i;
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 4, 4, near, 2, &r), HR_OK, "A negative");
    check_group(&d, out, 4, 0, "A negative: target 0");
    free(c);
    free(near);
    data_free(&d);
}

Test(batch, hardest_errors) {
    data_t d = data_new(10, 4);
    float c[10];
    int32_t near[10];
    uint32_t out[32];
    hr_rng r, keep;
    hr_ids one;
    char mem[256];
    const int32_t lab1[3] = {5, 5, -1};
    size_t i;
    for (i = 0; i < 10; i++) {
        c[i] = (float)i * 0.1f;
        near[i] = (int32_t)((i + 1) % 10);
    }
    hr_rng_seed(&r, 5);
    keep = r;
    hr_t_fill_i((int32_t *)out, 32, HR_T_SENT_I);
    cr_assert_eq(hr_batch_hardest(NULL, &d.ix, c, 2, 2, NULL, 0, &r), HR_EINVAL, "out");
    cr_assert_eq(hr_batch_hardest(out, NULL, c, 2, 2, NULL, 0, &r), HR_EINVAL, "ix");
    cr_assert_eq(hr_batch_hardest(out, &d.ix, NULL, 2, 2, NULL, 0, &r), HR_EINVAL, "c");
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 2, 2, NULL, 0, NULL), HR_EINVAL, "r");
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 0, 2, NULL, 0, &r), HR_EINVAL, "count 0");
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 2, 2, NULL, 1, &r), HR_EINVAL,
                 "nearest NULL");
    near[9] = 9;
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 2, 2, near, 1, &r), HR_EINVAL,
                 "nearest = self");
    near[9] = 10;
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 2, 2, near, 1, &r), HR_EINVAL,
                 "nearest out of range");
    near[9] = -1;
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 2, 2, near, 1, &r), HR_EINVAL,
                 "nearest -1");
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, (size_t)-1, 2, NULL, 0, &r),
                 HR_EOVERFLOW, "overflow");
    c[3] = NAN;
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 2, 2, NULL, 0, &r), HR_ENONFINITE, "NaN c");
    c[3] = -INFINITY;
    cr_assert_eq(hr_batch_hardest(out, &d.ix, c, 2, 2, NULL, 0, &r), HR_ENONFINITE, "-inf c");
    cr_assert_eq(hr_t_count_ne_i((int32_t *)out, 32, HR_T_SENT_I), (size_t)0,
                 "out untouched on error");
    cr_assert(memcmp(&r, &keep, sizeof r) == 0, "r untouched on error");
    /* one identity: no other images for the random part */
    cr_assert_eq(hr_ids_build(&one, mem, lab1, 3), HR_OK, "ids");
    c[0] = -INFINITY; /* hr_difficulty's n = 1 value: accepted */
    cr_assert_eq(hr_batch_hardest(out, &one, c, 3, 1, NULL, 0, &r), HR_EINVAL,
                 "no other identity");
    cr_assert_eq(hr_batch_hardest(out, &one, c, 3, 0, NULL, 0, &r), HR_OK, "target only");
    cr_assert(out[0] < 2 && out[1] < 2 && out[2] < 2, "one identity's images");
    cr_assert_eq(hr_ids_build(&one, mem, lab1 + 2, 1), HR_OK, "all junk");
    cr_assert_eq(hr_batch_hardest(out, &one, c, 1, 0, NULL, 0, &r), HR_EINVAL, "no ids");
    data_free(&d);
}

typedef struct {
    const data_t *d;
    const hr_alias *a;
    uint32_t *first;
} prop_ctx;

static void prop_one(hr_isa isa, void *vctx) {
    prop_ctx *x = (prop_ctx *)vctx;
    uint32_t out[300];
    hr_rng r;
    size_t i;
    hr_rng_seed(&r, 77);
    cr_assert_eq(hr_batch_proportional(out, 300, &x->d->ix, x->a, &r), HR_OK, "B");
    for (i = 0; i < 300; i++)
        cr_assert(out[i] < x->d->n && x->d->id_of[out[i]] >= 0, "B: sample %u", out[i]);
    if (isa == HR_ISA_SCALAR) memcpy(x->first, out, sizeof out);
    else cr_assert(memcmp(out, x->first, sizeof out) == 0, "B [%s] differs from scalar",
                   hr_isa_name(isa));
}

Test(batch, proportional) {
    data_t d = data_new(40, 5);
    float c[40], p[40];
    hr_t_table t;
    uint32_t first[300], *big;
    size_t *cnt, i, k;
    double w[40];
    prop_ctx x;
    hr_rng r;
    uint64_t seed = 3;
    for (i = 0; i < 40; i++) c[i] = hr_t_unif(&seed);
    cr_assert_eq(hr_weights(p, c, 40, HR_WEIGHT_LINEAR, 0.0f, 0.0f), HR_OK, "p");
    t = hr_t_table_new(p, 40);
    x.d = &d;
    x.a = &t.a;
    x.first = first;
    for_each_isa(prop_one, &x);
    /* identities drawn in proportion to p (chi-square over many images),
       images uniform within an identity; c < 0 identities never */
    big = (uint32_t *)hr_t_alloc((size_t)NDRAWS / 10 * sizeof(uint32_t));
    cnt = (size_t *)hr_t_alloc(d.n * sizeof(size_t));
    memset(cnt, 0, d.n * sizeof(size_t));
    hr_rng_seed(&r, 8);
    cr_assert_eq(hr_batch_proportional(big, NDRAWS / 10, &d.ix, &t.a, &r), HR_OK, "B big");
    for (i = 0; i < (size_t)NDRAWS / 10; i++) cnt[big[i]]++;
    {
        /* per sample: expected p(identity) / size(identity) */
        double *ws = (double *)hr_t_alloc(d.n * sizeof(double));
        size_t *cs = (size_t *)hr_t_alloc(d.n * sizeof(size_t));
        size_t m = 0;
        for (k = 0; k < 40; k++) {
            w[k] = p[k];
            for (i = d.ix.start[k]; i < d.ix.start[k + 1]; i++, m++) {
                ws[m] = (double)p[k] / isize(&d.ix, k);
                cs[m] = cnt[d.ix.sample[i]];
            }
        }
        check_fit(cs, ws, m, m, "Mode B, per image");
        free(ws);
        free(cs);
    }
    (void)w;
    /* all-negative c under each policy: a usable table, a batch */
    for (i = 0; i < 40; i++) c[i] = -0.1f - 0.02f * (float)i;
    for (k = 0; k < 3; k++) {
        hr_t_table t2;
        cr_assert_eq(hr_weights(p, c, 40, (hr_weighting)k, 0.5f, 0.0f), HR_OK, "p");
        t2 = hr_t_table_new(p, 40);
        cr_assert_eq(hr_batch_proportional(first, 64, &d.ix, &t2.a, &r), HR_OK,
                     "B, all negative, policy %zu", k);
        free(t2.mem);
    }
    /* errors */
    hr_t_fill_i((int32_t *)first, 300, HR_T_SENT_I);
    cr_assert_eq(hr_batch_proportional(first, 0, &d.ix, &t.a, &r), HR_EINVAL, "count 0");
    cr_assert_eq(hr_batch_proportional(first, 5, &d.ix, NULL, &r), HR_EINVAL, "a NULL");
    cr_assert_eq(hr_batch_proportional(NULL, 5, &d.ix, &t.a, &r), HR_EINVAL, "out NULL");
    cr_assert_eq(hr_batch_proportional(first, 5, NULL, &t.a, &r), HR_EINVAL, "ix NULL");
    cr_assert_eq(hr_batch_proportional(first, 5, &d.ix, &t.a, NULL), HR_EINVAL, "r NULL");
    {
        hr_t_table t3 = hr_t_table_new(p, 39);
        cr_assert_eq(hr_batch_proportional(first, 5, &d.ix, &t3.a, &r), HR_EINVAL,
                     "table size != nids");
        free(t3.mem);
    }
    cr_assert_eq(hr_t_count_ne_i((int32_t *)first, 300, HR_T_SENT_I), (size_t)0,
                 "out untouched on error");
    free(big);
    free(cnt);
    free(t.mem);
    data_free(&d);
}

static void check_pk(const data_t *d, const uint32_t *out, size_t P, size_t K,
                     const char *what) {
    size_t p, q;
    for (p = 0; p < P; p++) {
        const int32_t id = d->id_of[out[p * K]];
        cr_assert(id >= 0, "%s: junk", what);
        check_group(d, out + p * K, K, (size_t)id, what);
        for (q = 0; q < p; q++)
            cr_assert(d->id_of[out[q * K]] != id, "%s: identity %d twice", what, (int)id);
    }
}

Test(batch, pk) {
    data_t d = data_new(40, 6);
    uint32_t out[40 * 8], out2[40 * 8];
    size_t *cnt = (size_t *)hr_t_alloc(40 * sizeof(size_t));
    double w[40];
    float p[40];
    hr_t_table t;
    hr_rng r, r2;
    size_t i, rep;
    hr_rng_seed(&r, 10);
    for (rep = 0; rep < 300; rep++) {
        const size_t P = 1 + rep % 16, K = 1 + rep % 8;
        r2 = r;
        cr_assert_eq(hr_batch_pk(out, P, K, &d.ix, NULL, &r), HR_OK, "PK");
        check_pk(&d, out, P, K, "PK uniform");
        cr_assert_eq(hr_batch_pk(out2, P, K, &d.ix, NULL, &r2), HR_OK, "PK");
        cr_assert(memcmp(out, out2, P * K * sizeof(uint32_t)) == 0, "PK deterministic");
    }
    cr_assert_eq(hr_batch_pk(out, 40, 8, &d.ix, NULL, &r), HR_OK, "P = nids");
    check_pk(&d, out, 40, 8, "PK all identities");
    /* uniform over identities: P = 4 of 40, counts of appearances */
    memset(cnt, 0, 40 * sizeof(size_t));
    for (rep = 0; rep < (size_t)NDRAWS / 200; rep++) {
        cr_assert_eq(hr_batch_pk(out, 4, 1, &d.ix, NULL, &r), HR_OK, "PK");
        for (i = 0; i < 4; i++) cnt[d.id_of[out[i]]]++;
    }
    for (i = 0; i < 40; i++) w[i] = 1.0;
    check_fit(cnt, w, 40, 40, "PK uniform identities");
    /* identity order is uniform too: position 0 alone */
    memset(cnt, 0, 40 * sizeof(size_t));
    for (rep = 0; rep < (size_t)NDRAWS / 200; rep++) {
        cr_assert_eq(hr_batch_pk(out, 4, 1, &d.ix, NULL, &r), HR_OK, "PK");
        cnt[d.id_of[out[3]]]++;
    }
    check_fit(cnt, w, 40, 40, "PK uniform, last position");
    /* weighted, with zero-weight identities never chosen */
    for (i = 0; i < 40; i++) p[i] = i % 4 == 1 ? 0.0f : (float)(1 + i % 5);
    t = hr_t_table_new(p, 40);
    cr_assert_eq(t.a.npos, 30u, "npos");
    for (rep = 0; rep < 300; rep++) {
        const size_t P = 1 + rep % 30, K = 1 + rep % 5;
        cr_assert_eq(hr_batch_pk(out, P, K, &d.ix, &t.a, &r), HR_OK, "PK weighted");
        check_pk(&d, out, P, K, "PK weighted");
        for (i = 0; i < P; i++)
            cr_assert(d.id_of[out[i * K]] % 4 != 1, "zero-weight identity chosen");
    }
    /* P = 1: exactly proportional to the weights */
    memset(cnt, 0, 40 * sizeof(size_t));
    for (rep = 0; rep < (size_t)NDRAWS / 100; rep++) {
        cr_assert_eq(hr_batch_pk(out, 1, 1, &d.ix, &t.a, &r), HR_OK, "PK");
        cnt[d.id_of[out[0]]]++;
    }
    for (i = 0; i < 40; i++) w[i] = p[i];
    check_fit(cnt, w, 40, 40, "PK weighted, P = 1");
    cr_assert_eq(hr_batch_pk(out, 31, 2, &d.ix, &t.a, &r), HR_EINVAL, "P > npos");
    free(t.mem);
    /* all-negative difficulties under each policy: weights, table, batch */
    for (rep = 0; rep < 3; rep++) {
        float c[40];
        for (i = 0; i < 40; i++) c[i] = -0.05f - 0.02f * (float)i;
        cr_assert_eq(hr_weights(p, c, 40, (hr_weighting)rep, 0.25f, 0.0f), HR_OK, "p");
        t = hr_t_table_new(p, 40);
        cr_assert_eq(hr_batch_pk(out, 16, 4, &d.ix, &t.a, &r), HR_OK,
                     "PK, all negative, policy %zu", rep);
        check_pk(&d, out, 16, 4, "PK all negative");
        free(t.mem);
    }
    /* extreme weights: the redraw cap and the exact fallback */
    for (i = 0; i < 40; i++) p[i] = 1e-7f; /* mass > 0, but ~2e-6 in all */
    p[7] = 1.0f;
    p[8] = 1.0f;
    t = hr_t_table_new(p, 40);
    for (rep = 0; rep < 20; rep++) {
        cr_assert_eq(hr_batch_pk(out, 40, 2, &d.ix, &t.a, &r), HR_OK, "PK extreme");
        check_pk(&d, out, 40, 2, "PK extreme");
        cr_assert(d.id_of[out[0]] == 7 || d.id_of[out[0]] == 8, "heavy first");
    }
    free(t.mem);
    /* errors */
    hr_t_fill_i((int32_t *)out, 40 * 8, HR_T_SENT_I);
    r2 = r;
    cr_assert_eq(hr_batch_pk(out, 41, 1, &d.ix, NULL, &r), HR_EINVAL, "P > nids");
    cr_assert_eq(hr_batch_pk(out, 0, 1, &d.ix, NULL, &r), HR_EINVAL, "P 0");
    cr_assert_eq(hr_batch_pk(out, 1, 0, &d.ix, NULL, &r), HR_EINVAL, "K 0");
    cr_assert_eq(hr_batch_pk(NULL, 1, 1, &d.ix, NULL, &r), HR_EINVAL, "out NULL");
    cr_assert_eq(hr_batch_pk(out, 1, 1, NULL, NULL, &r), HR_EINVAL, "ix NULL");
    cr_assert_eq(hr_batch_pk(out, 1, 1, &d.ix, NULL, NULL), HR_EINVAL, "r NULL");
    cr_assert_eq(hr_batch_pk(out, 2, (size_t)-1, &d.ix, NULL, &r), HR_EOVERFLOW, "P K");
    t = hr_t_table_new(p, 39);
    cr_assert_eq(hr_batch_pk(out, 2, 2, &d.ix, &t.a, &r), HR_EINVAL, "table != nids");
    free(t.mem);
    cr_assert_eq(hr_t_count_ne_i((int32_t *)out, 40 * 8, HR_T_SENT_I), (size_t)0,
                 "out untouched on error");
    cr_assert(memcmp(&r, &r2, sizeof r) == 0, "r untouched on error");
    free(cnt);
    data_free(&d);
}

Test(batch, single_image_identities) {
    const int32_t lab[6] = {4, 9, 9, 1, -1, 4};
    char mem[512];
    hr_ids ix;
    uint32_t out[12];
    hr_rng r;
    size_t p, k;
    hr_rng_seed(&r, 2);
    cr_assert_eq(hr_ids_build(&ix, mem, lab, 6), HR_OK, "ids");
    cr_assert_eq(ix.nids, 3u, "nids"); /* 1: one image; 4, 9: two */
    cr_assert_eq(hr_batch_pk(out, 3, 4, &ix, NULL, &r), HR_OK, "PK");
    for (p = 0; p < 3; p++) {
        const int32_t l = lab[out[p * 4]];
        for (k = 0; k < 4; k++)
            cr_assert_eq(lab[out[p * 4 + k]], l, "group %zu mixes identities", p);
        if (l == 1)
            for (k = 0; k < 4; k++) cr_assert_eq(out[p * 4 + k], 3u, "single image");
    }
    cr_assert_eq(hr_batch_pk(out, 3, 2, &ix, NULL, &r), HR_OK, "PK K=2");
    for (p = 0; p < 3; p++)
        if (lab[out[p * 2]] != 1)
            cr_assert(out[p * 2] != out[p * 2 + 1], "two images, K = 2: distinct");
}
