/* bench/bench_sampling.c - the alias sampler against its peers, same run.

   Methods (every one gets the same weights: n uniform random floats in
   (0, 1], fixed seed):
     hardreid  hr_alias_build into reused caller memory (how a refresh loop
               uses it); hr_alias_draw in a loop (scalar); hr_alias_draw_n
               in calls of 64 Ki draws, on every ISA this CPU runs.
     gsl       gsl_ran_discrete_preproc (Walker alias; it allocates its own
               tables, freed after each build) and gsl_ran_discrete with
               gsl_rng_mt19937 (GSL's default generator). The double
               weights it needs are converted before timing.
     cumsum    prefix sums in double, then a draw = binary search of
               u * total (what numpy's choice(p=...) and torch.multinomial
               do); u from 53 bits of xoshiro256**.
   Build: ns per category; draw: ns per draw. Each figure is the median of
   R timed samples, each sample long enough (>= ~20 ms) to swamp the clock.

   Verification first: every sampler's 10^6 draws must fit the weights
   (chi-square over 100 bins of consecutive categories, significance 1e-6),
   and hr_alias_draw_n must give the same output on every ISA. A mismatch
   fails the run (exit 1) before anything is timed.

   Targets (issue 3), printed MET/MISSED: build >= 10x faster than GSL;
   scalar draw >= 10x faster than GSL at n = 10^3, >= 5x at n = 10^6;
   batched draw >= 2x the scalar draw.

   Usage: bench_sampling [--quick] [--n LIST] [--reps R] [--csv FILE]
   LIST is comma-separated, e.g. --n 1000,1000000. */
#define _POSIX_C_SOURCE 200809L

#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_version.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#define MAXN 16
#define CHUNK 65536      /* draws per hr_alias_draw_n call       */
#define VERIFY_DRAWS 1000000
#define NBINS 100

/* >>util ---------------------------------------------------------------*/






static volatile uint64_t sink; /* keeps timed results alive */

/* >>cumsum --------------------------------------------------------------*/

static void cumsum_build(double *cum, const float *w, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += w[i];
        cum[i] = s;
    }
}

/* first i with cum[i] > u * total: category i has mass w_i */
static uint32_t cumsum_draw(const double *cum, size_t n, hr_rng *r) {
    const double u = (double)(hr_rng_next(r) >> 11) * 0x1p-53 * cum[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return (uint32_t)lo;
}

/* >>draw-loops ----------------------------------------------------------*/
/* Each timed draw loop is a function of its own, as in a caller's sampling
   loop: the generator state stays in registers and nothing else in main()
   competes for them. noinline keeps the three loops alike. */

#if defined(__GNUC__)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_NOINLINE
#endif

static BENCH_NOINLINE uint64_t loop_hr(const hr_alias *a, hr_rng *r, long m) {
    uint64_t acc = 0;
    for (long i = 0; i < m; i++) acc += hr_alias_draw(a, r);
    return acc;
}

static BENCH_NOINLINE uint64_t loop_gsl(gsl_rng *g, const gsl_ran_discrete_t *t, long m) {
    uint64_t acc = 0;
    for (long i = 0; i < m; i++) acc += gsl_ran_discrete(g, t);
    return acc;
}

static BENCH_NOINLINE uint64_t loop_cumsum(const double *cum, size_t n, hr_rng *r, long m) {
    uint64_t acc = 0;
    for (long i = 0; i < m; i++) acc += cumsum_draw(cum, n, r);
    return acc;
}

/* >>verify --------------------------------------------------------------*/

/* chi-square critical value at significance 1e-6 (Wilson-Hilferty) */
static double chi2_crit(double df) {
    const double z = 4.753424308822899, h = 2.0 / (9.0 * df);
    return df * pow(1.0 - h + z * sqrt(h), 3.0);
}

/* counts of n categories against weights, binned; 1 if it fits */
static int fits(const size_t *cnt, const float *w, size_t n, const char *what) {
    const size_t nb = n < NBINS ? n : NBINS;
    double sw = 0.0, stat = 0.0;
    size_t N = 0;
    for (size_t i = 0; i < n; i++) {
        sw += w[i];
        N += cnt[i];
    }
    for (size_t b = 0; b < nb; b++) {
        double e = 0.0, c = 0.0;
        for (size_t i = b * n / nb; i < (b + 1) * n / nb; i++) {
            e += w[i];
            c += (double)cnt[i];
        }
        e = e / sw * (double)N;
        stat += (c - e) * (c - e) / e;
    }
    if (stat >= chi2_crit((double)(nb - 1))) {
        fprintf(stderr, "VERIFY FAILED: %s: chi2 %.1f over %zu bins\n", what, stat, nb);
        return 0;
    }
    return 1;
}

/* >>main ----------------------------------------------------------------*/

typedef struct {
    size_t n;
    double hr_build, gsl_build, cum_build;   /* ns per category */
    double hr_draw, gsl_draw, cum_draw;      /* ns per draw     */
    double hr_batch[HR_ISA_COUNT];           /* per hr_isa, 0: not run */
} result_t;

/* Methods timed per case, in this order within every repetition, so that
   load drift on a shared machine hits them alike. */
enum { M_HR_BUILD, M_GSL_BUILD, M_CUM_BUILD, M_HR_DRAW, M_GSL_DRAW, M_CUM_DRAW,
       M_BATCH0, NMETHODS = M_BATCH0 + HR_ISA_COUNT };

static int run_case(size_t n, int reps, long draws, result_t *res) {
    float *w = (float *)xmalloc(n * sizeof(float));
    double *wd = (double *)xmalloc(n * sizeof(double));
    double *cum = (double *)xmalloc(n * sizeof(double));
    void *mem = xmalloc(hr_alias_size(n));
    uint32_t *buf = (uint32_t *)xmalloc(CHUNK * sizeof(uint32_t));
    uint32_t *ref = (uint32_t *)xmalloc(CHUNK * sizeof(uint32_t));
    size_t *cnt = (size_t *)xmalloc(n * sizeof(size_t));
    gsl_rng *grng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_ran_discrete_t *g;
    hr_alias a;
    hr_rng r;
    uint64_t seed = 0x5EED0000u + n;
    int ok = 1;

    memset(res, 0, sizeof *res);
    res->n = n;
    for (size_t i = 0; i < n; i++) { /* uniform in (0, 1] */
        w[i] = (float)((double)((splitmix64(&seed) >> 40) + 1) * 0x1p-24);
        wd[i] = w[i];
    }

    /* ---- verify ---- */
    if (hr_alias_build(&a, mem, w, n) != HR_OK) {
        fprintf(stderr, "VERIFY FAILED: hr_alias_build\n");
        return 0;
    }
    g = gsl_ran_discrete_preproc(n, wd);
    cumsum_build(cum, w, n);
    hr_rng_seed(&r, 1);
    memset(cnt, 0, n * sizeof(size_t));
    for (long i = 0; i < VERIFY_DRAWS; i++) cnt[hr_alias_draw(&a, &r)]++;
    ok &= fits(cnt, w, n, "hr_alias_draw");
    memset(cnt, 0, n * sizeof(size_t));
    for (long i = 0; i < VERIFY_DRAWS; i++) cnt[gsl_ran_discrete(grng, g)]++;
    ok &= fits(cnt, w, n, "gsl_ran_discrete");
    memset(cnt, 0, n * sizeof(size_t));
    for (long i = 0; i < VERIFY_DRAWS; i++) cnt[cumsum_draw(cum, n, &r)]++;
    ok &= fits(cnt, w, n, "cumsum");
    for (int isa = HR_ISA_SCALAR; isa < HR_ISA_COUNT; isa++) {
        hr_rng r2;
        if (!hr_isa_supported((hr_isa)isa)) continue;
        hr_set_isa((hr_isa)isa);
        memset(cnt, 0, n * sizeof(size_t));
        hr_rng_seed(&r, 2);
        for (long done = 0; done < VERIFY_DRAWS; done += CHUNK) {
            hr_alias_draw_n(buf, CHUNK, &a, &r);
            for (size_t i = 0; i < CHUNK; i++) cnt[buf[i]]++;
        }
        ok &= fits(cnt, w, n, "hr_alias_draw_n");
        hr_rng_seed(&r2, 3);
        hr_alias_draw_n(buf, CHUNK, &a, &r2);
        if (isa == HR_ISA_SCALAR) {
            memcpy(ref, buf, CHUNK * sizeof(uint32_t));
        } else if (memcmp(ref, buf, CHUNK * sizeof(uint32_t))) {
            fprintf(stderr, "VERIFY FAILED: hr_alias_draw_n [%s] != [scalar]\n",
                    hr_isa_name((hr_isa)isa));
            ok = 0;
        }
    }
    hr_set_isa(HR_ISA_AUTO);
    gsl_ran_discrete_free(g);
    if (!ok) return 0;

    /* ---- time: builds (k calls per sample, k calibrated to >= 20 ms),
       draws (`draws` per sample), every method once per repetition ---- */
    hr_alias_build(&a, mem, w, n);
    g = gsl_ran_discrete_preproc(n, wd);
    cumsum_build(cum, w, n);
    hr_rng_seed(&r, 4);
    {
        double *t = (double *)xmalloc((size_t)NMETHODS * (size_t)reps * sizeof(double));
        long kb[3] = {1, 1, 1};
        int m, k;
        for (m = 0; m < 3; m++) /* calibrate the build repeat counts */
            for (;;) {
                double t0 = now_s(), dt;
                for (long i = 0; i < kb[m]; i++) {
                    if (m == 0) hr_alias_build(&a, mem, w, n);
                    else if (m == 1) gsl_ran_discrete_free(gsl_ran_discrete_preproc(n, wd));
                    else cumsum_build(cum, w, n);
                }
                dt = now_s() - t0;
                if (dt >= 0.02) break;
                kb[m] *= dt > 0.0025 ? 2 : 8;
            }
        for (k = 0; k < reps; k++) {
            double t0;
            uint64_t acc = 0;
#define SAMPLE(meth, count, body) \
    t0 = now_s(); \
    for (long i = 0; i < (count); i++) { body; } \
    t[(meth) * reps + k] = (now_s() - t0) / (double)(count) * 1e9;
            SAMPLE(M_HR_BUILD, kb[0], hr_alias_build(&a, mem, w, n))
            SAMPLE(M_GSL_BUILD, kb[1], gsl_ran_discrete_free(gsl_ran_discrete_preproc(n, wd)))
            SAMPLE(M_CUM_BUILD, kb[2], cumsum_build(cum, w, n); acc += (uint64_t)cum[n - 1])
            SAMPLE(M_HR_DRAW, 1, acc += loop_hr(&a, &r, draws))
            t[M_HR_DRAW * reps + k] /= (double)draws;
            SAMPLE(M_GSL_DRAW, 1, acc += loop_gsl(grng, g, draws))
            t[M_GSL_DRAW * reps + k] /= (double)draws;
            SAMPLE(M_CUM_DRAW, 1, acc += loop_cumsum(cum, n, &r, draws))
            t[M_CUM_DRAW * reps + k] /= (double)draws;
            for (int isa = HR_ISA_SCALAR; isa < HR_ISA_COUNT; isa++) {
                const long calls = (draws + CHUNK - 1) / CHUNK;
                if (!hr_isa_supported((hr_isa)isa)) continue;
                hr_set_isa((hr_isa)isa);
                SAMPLE(M_BATCH0 + isa, calls, hr_alias_draw_n(buf, CHUNK, &a, &r); acc += buf[i % CHUNK])
                t[(M_BATCH0 + isa) * reps + k] /= CHUNK;
            }
            hr_set_isa(HR_ISA_AUTO);
#undef SAMPLE
            sink += acc;
        }
        res->hr_build = median(t + M_HR_BUILD * reps, reps) / (double)n;
        res->gsl_build = median(t + M_GSL_BUILD * reps, reps) / (double)n;
        res->cum_build = median(t + M_CUM_BUILD * reps, reps) / (double)n;
        res->hr_draw = median(t + M_HR_DRAW * reps, reps);
        res->gsl_draw = median(t + M_GSL_DRAW * reps, reps);
        res->cum_draw = median(t + M_CUM_DRAW * reps, reps);
        for (int isa = HR_ISA_SCALAR; isa < HR_ISA_COUNT; isa++)
            if (hr_isa_supported((hr_isa)isa))
                res->hr_batch[isa] = median(t + (M_BATCH0 + isa) * reps, reps);
        free(t);
    }

    gsl_ran_discrete_free(g);
    gsl_rng_free(grng);
    free(w); free(wd); free(cum); free(mem); free(buf); free(ref); free(cnt);
    return 1;
}

static size_t parse_list(const char *s, size_t *out) {
    size_t k = 0;
    while (*s && k < MAXN) {
        char *end;
        out[k++] = (size_t)strtod(s, &end);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s != ',') break;
    }
    return k;
}

int main(int argc, char **argv) {
    size_t ns[MAXN] = {1000, 100000, 1000000}, nn = 3;
    int reps = 7, quick = 0, fails = 0;
    long draws = 2000000;
    const char *csv = NULL;
    result_t res[MAXN];
    char cpu[256];
    FILE *f = NULL;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) nn = parse_list(argv[++i], ns);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--n LIST] [--reps R] [--csv FILE]\n", argv[0]);
            return 2;
        }
    }
    if (quick) {
        ns[0] = 1000;
        nn = 1;
        reps = 3;
        draws = 500000;
    }
    if (reps < 1) reps = 1;

    cpu_model(cpu, sizeof cpu);
    printf("bench_sampling: hardreid %s alias sampler vs GSL %s and cumsum+bsearch\n",
           HARDREID_VERSION_STRING, GSL_VERSION);
    printf("machine: %s (1 thread; shared machines drift: compare ratios)\n", cpu);
    printf("compiler: %s; flags: %s; dispatch: %s\n", BENCH_COMPILER, BENCH_FLAGS,
           hr_isa_name(hr_get_isa()));
    char meta[512];
    bench_meta(meta, sizeof meta, hr_isa_name(hr_get_isa()));
    printf("%s\n", meta);
    printf("weights: uniform random in (0, 1]; median of %d samples; %ld draws per sample\n\n",
           reps, draws);

    for (size_t c = 0; c < nn; c++) {
        if (!run_case(ns[c], reps, draws, &res[c])) {
            fprintf(stderr, "bench_sampling: verification failed at n = %zu\n", ns[c]);
            return 1;
        }
    }

    printf("%-9s | %-27s | %-40s\n", "", "build ns/category", "draw ns/draw");
    printf("%-9s | %8s %8s %8s | %8s %8s %8s", "n", "hardreid", "gsl", "cumsum",
           "hardreid", "gsl", "cumsum");
    for (int isa = HR_ISA_SCALAR; isa < HR_ISA_COUNT; isa++)
        if (hr_isa_supported((hr_isa)isa)) printf(" %7s_n", hr_isa_name((hr_isa)isa));
    printf("\n");
    for (size_t c = 0; c < nn; c++) {
        const result_t *x = &res[c];
        printf("%-9zu | %8.2f %8.2f %8.2f | %8.2f %8.2f %8.2f", x->n, x->hr_build,
               x->gsl_build, x->cum_build, x->hr_draw, x->gsl_draw, x->cum_draw);
        for (int isa = HR_ISA_SCALAR; isa < HR_ISA_COUNT; isa++)
            if (hr_isa_supported((hr_isa)isa)) printf(" %9.2f", x->hr_batch[isa]);
        printf("\n");
    }

    printf("\nratios (same run; > 1 means hardreid faster):\n");
    for (size_t c = 0; c < nn; c++) {
        const result_t *x = &res[c];
        const hr_isa best = hr_get_isa();
        const double bb = x->hr_batch[best];
        const double rb = x->gsl_build / x->hr_build, rd = x->gsl_draw / x->hr_draw;
        const double rbatch = x->hr_draw / bb;
        printf("n=%-8zu build %.1fx GSL, %.1fx cumsum | draw %.1fx GSL, %.1fx cumsum | "
               "batched [%s] %.2fx scalar draw, %.1fx GSL\n",
               x->n, rb, x->cum_build / x->hr_build, rd, x->cum_draw / x->hr_draw,
               hr_isa_name(best), rbatch, x->gsl_draw / bb);
        printf("  target build >= 10x GSL: %s\n", rb >= 10 ? "MET" : "MISSED");
        if (x->n == 1000 || x->n == 1000000) {
            const double want = x->n == 1000 ? 10.0 : 5.0;
            printf("  target scalar draw >= %.0fx GSL: %s\n", want, rd >= want ? "MET" : "MISSED");
            fails += rd < want;
        }
        printf("  target batched >= 2x scalar draw: %s\n", rbatch >= 2 ? "MET" : "MISSED");
        if (x->n == 1000 && hr_isa_supported(HR_ISA_AVX512) && hr_isa_supported(HR_ISA_AVX2))
            printf("  target batched avx512 >= 1.5x batched avx2: %.2fx, %s\n",
                   x->hr_batch[HR_ISA_AVX2] / x->hr_batch[HR_ISA_AVX512],
                   x->hr_batch[HR_ISA_AVX2] >= 1.5 * x->hr_batch[HR_ISA_AVX512] ? "MET" : "MISSED");
        fails += (rb < 10) + (rbatch < 2);
    }
    printf("\ntargets missed: %d\n", fails);

    if (csv) {
        f = fopen(csv, "w");
        if (!f) {
            fprintf(stderr, "bench_sampling: cannot write %s\n", csv);
            return 1;
        }
        fprintf(f, "# %s\n", meta);
        fprintf(f, "n,method,isa,build_ns_per_category,draw_ns_per_draw\n");
        for (size_t c = 0; c < nn; c++) {
            const result_t *x = &res[c];
            fprintf(f, "%zu,hardreid,scalar,%.4f,%.4f\n", x->n, x->hr_build, x->hr_draw);
            for (int isa = HR_ISA_SCALAR; isa < HR_ISA_COUNT; isa++)
                if (x->hr_batch[isa] > 0)
                    fprintf(f, "%zu,hardreid_batched,%s,,%.4f\n", x->n,
                            hr_isa_name((hr_isa)isa), x->hr_batch[isa]);
            fprintf(f, "%zu,gsl,,%.4f,%.4f\n", x->n, x->gsl_build, x->gsl_draw);
            fprintf(f, "%zu,cumsum,,%.4f,%.4f\n", x->n, x->cum_build, x->cum_draw);
        }
        fclose(f);
        printf("CSV: %s\n", csv);
    }
    return 0;
}
