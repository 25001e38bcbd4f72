/* bench/bench_scale.c - how difficulty scales: hr_difficulty's strong scaling
   over OpenMP threads, and the incremental refresh (hr_difficulty_update)
   against a full refresh, as a training loop would use it.

     bench_scale [--n N] [--d D] [--changed K] [--steps S] [--threads T]
                 [--quick] [--csv FILE]

   1. hr_difficulty on one N x d matrix with 1 .. T threads (one timed run
      each after a warm-up at the smallest count: at N = 10^5 a run is tens
      of seconds): seconds, GFLOP/s over N (N - 1) d, speed-up, efficiency.
   2. S training steps: each changes K random distinct rows (an SGD-like
      nudge: w += 0.05 |w|/sqrt(d) noise; a batch's identities) and calls
      hr_difficulty_update; the median, min and max per-step time and the
      rows recomputed per step, against the full refresh of part 1 at the
      same thread count. After the last step the maxima must equal a fresh
      hr_difficulty bit for bit (checked; exit 1 otherwise).
   Defaults: N = 100000, d = 256, K = 64, S = 20, T = all threads.
   --quick: N = 4000, d = 64, K = 16, S = 5 (seconds; CI). */
#define _POSIX_C_SOURCE 200809L
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"
#include "bench_util.h"
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { return splitmix64(&rng_state); }
static float unif(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

static void set_threads(int t) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

static void die_status(const char *what, hr_status s) {
    fprintf(stderr, "bench_scale: %s: %s\n", what, hr_status_string(s));
    exit(1);
}

int main(int argc, char **argv) {
    size_t n = 100000, d = 256, K = 64, steps = 20, i, t;
    int tmax = 1, quick = 0, nt;
    const char *csv = NULL;
    float *w, *c, *cf;
    int32_t *nearest, *nf, *changed;
    double full_s[65] = {0}, flops;
    char cpu[256], meta[512];
    FILE *out = NULL;
#ifdef _OPENMP
    tmax = omp_get_max_threads();
#endif
    for (i = 1; i < (size_t)argc; i++) {
        const char *a = argv[i], *v = i + 1 < (size_t)argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) { quick = 1; continue; }
        if (!v) { fprintf(stderr, "bench_scale: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--n")) n = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--d")) d = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--changed")) K = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--steps")) steps = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--threads")) tmax = atoi(v);
        else if (!strcmp(a, "--csv")) csv = v;
        else { fprintf(stderr, "bench_scale: unknown option %s\n", a); return 2; }
        i++;
    }
    if (quick) { n = 4000; d = 64; K = 16; steps = 5; }
    if (n < 2 || !d || K > n || !steps || tmax < 1 || tmax > 64) {
        fprintf(stderr, "bench_scale: need n >= 2, d >= 1, changed <= n, steps >= 1, 1 <= threads <= 64\n");
        return 2;
    }
    flops = (double)n * (double)(n - 1) * (double)d;
    cpu_model(cpu, sizeof cpu);
    printf("bench_scale: N = %zu, d = %zu, %zu changed rows per step, %zu steps\n", n, d, K, steps);
    printf("  CPU %s; %s; %s; path %s\n", cpu, BENCH_COMPILER, BENCH_FLAGS, hr_isa_name(hr_get_isa()));
    bench_meta(meta, sizeof meta, hr_isa_name(hr_get_isa()));
    printf("  %s\n", meta);
    w = (float *)xmalloc(n * d * sizeof(float));
    c = (float *)xmalloc(n * sizeof(float));
    cf = (float *)xmalloc(n * sizeof(float));
    nearest = (int32_t *)xmalloc(n * sizeof(int32_t));
    nf = (int32_t *)xmalloc(n * sizeof(int32_t));
    changed = (int32_t *)xmalloc(K * sizeof(int32_t) + 1);
    for (i = 0; i < n * d; i++) w[i] = unif();
    if (csv && !(out = fopen(csv, "w"))) { perror(csv); return 1; }
    if (out) fprintf(out, "# %s\npart,threads,n,d,changed,seconds,gflops,recomputed\n", meta);

    /* 1. strong scaling of the full refresh */
    printf("\n  full refresh (hr_difficulty)\n  %7s %10s %9s %8s %10s\n", "threads", "seconds",
           "GFLOP/s", "speedup", "efficiency");
    set_threads(1);
    if (quick) hr_difficulty(c, nearest, w, n, d, d, 0); /* warm-up */
    for (nt = 1; nt <= tmax; nt++) {
        hr_status s;
        double t0;
        set_threads(nt);
        t0 = now_s();
        s = hr_difficulty(cf, nf, w, n, d, d, 0);
        full_s[nt] = now_s() - t0;
        if (s != HR_OK) die_status("hr_difficulty", s);
        printf("  %7d %10.3f %9.1f %8.2f %9.0f%%\n", nt, full_s[nt], flops / full_s[nt] / 1e9,
               full_s[1] / full_s[nt], 100.0 * full_s[1] / full_s[nt] / nt);
        if (out) fprintf(out, "full,%d,%zu,%zu,0,%.6f,%.3f,%zu\n", nt, n, d, full_s[nt],
                         flops / full_s[nt] / 1e9, n);
        pause_s(0.2);
    }

    /* 2. incremental refresh, at 1 thread and at all */
    printf("\n  incremental refresh (hr_difficulty_update), %zu changed rows per step\n", K);
    printf("  %7s %10s %10s %10s %11s %12s\n", "threads", "median ms", "min ms", "max ms",
           "recomputed", "full/step");
    for (nt = 1; nt <= tmax; nt = nt == tmax ? tmax + 1 : tmax) {
        double *ts = (double *)xmalloc(steps * sizeof(double)), rec = 0, med;
        set_threads(nt);
        memcpy(c, cf, n * sizeof(float)); /* the full refresh of this W */
        memcpy(nearest, nf, n * sizeof(int32_t));
        for (t = 0; t < steps; t++) {
            size_t k, j, got = 0;
            hr_status s;
            double t0;
            for (k = 0; k < K; k++) { /* K distinct rows: a batch's identities */
                size_t r;
                do {
                    r = (size_t)(rnd() % n);
                    for (j = 0; j < k && (size_t)changed[j] != r; j++) {}
                } while (j < k);
                changed[k] = (int32_t)r;
                {
                    double ss = 0;
                    for (j = 0; j < d; j++) ss += (double)w[r * d + j] * w[r * d + j];
                    for (j = 0; j < d; j++)
                        w[r * d + j] += (float)(0.05 * sqrt(ss / (double)d)) * unif();
                }
            }
            t0 = now_s();
            s = hr_difficulty_update(c, nearest, w, n, d, d, changed, K, 0, &got);
            ts[t] = now_s() - t0;
            if (s != HR_OK) die_status("hr_difficulty_update", s);
            rec += (double)got;
            if (out) fprintf(out, "step,%d,%zu,%zu,%zu,%.6f,,%zu\n", nt, n, d, K, ts[t], got);
        }
        {
            double lo = ts[0], hi = ts[0];
            for (t = 1; t < steps; t++) { lo = ts[t] < lo ? ts[t] : lo; hi = ts[t] > hi ? ts[t] : hi; }
            med = median(ts, (int)steps);
            printf("  %7d %10.2f %10.2f %10.2f %11.1f %11.0fx\n", nt, med * 1e3, lo * 1e3, hi * 1e3,
                   rec / (double)steps, full_s[nt] / med);
        }
        free(ts);
        /* the maxima after the steps equal a fresh full run, bit for bit */
        {
            hr_status s = hr_difficulty(cf, nf, w, n, d, d, 0);
            if (s != HR_OK) die_status("hr_difficulty", s);
            if (memcmp(cf, c, n * sizeof(float)) || memcmp(nf, nearest, n * sizeof(int32_t))) {
                fprintf(stderr, "bench_scale: after %zu incremental steps the maxima differ from a full refresh\n",
                        steps);
                return 1;
            }
        }
        pause_s(0.2);
    }
    printf("\n  after the steps: incremental maxima == full refresh, bit for bit (checked)\n");
    if (out) fclose(out);
    free(w); free(c); free(cf); free(nearest); free(nf); free(changed);
    return 0;
}
