/* difficulty_demo.c - hardreid on embedded data: which identities are hard?
 *
 * Builds a classifier weight matrix W (N identities x d) as a trained re-ID
 * head would roughly look: identities come in "families" (people dressed
 * alike share a direction), and a few near-twin pairs differ only slightly.
 * Then it computes every identity's difficulty c_i = max_{j != i} cos(w_i,
 * w_j) with hr_difficulty, shows the hardest ones and their top-5 neighbours,
 * checks a sample of rows against a double-precision brute force, checks that
 * the planted twins are found, and times the fast path against the scalar
 * reference path.
 *
 *   usage: difficulty_demo [N [d [seed]]]      (default 8000 256 1)
 */
#define _POSIX_C_SOURCE 199309L
#define HARDREID_IMPLEMENTATION
#include "../hardreid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* splitmix64 -> uniform (0,1) -> standard normal (Box-Muller) */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0; }
static float rng_normal(uint64_t *s)
{
    return (float)(sqrt(-2.0 * log(rng_unit(s))) * cos(6.283185307179586 * rng_unit(s)));
}

/* W: family direction + own direction, with twins = copies + small noise.
   Identity i's twin (or -1) goes to twin[i]. */
static void make_weights(float *w, int32_t *twin, size_t n, size_t d, uint64_t seed)
{
    const size_t nfam = n / 40 + 1, ntwin = n / 100;
    float *fam = (float *)malloc(nfam * d * sizeof(float));
    size_t i, j;
    for (i = 0; i < nfam * d; i++) fam[i] = rng_normal(&seed);
    for (i = 0; i < n; i++) {
        const float *f = fam + (rng_next(&seed) % nfam) * d;
        float scale = 0.5f + (float)rng_unit(&seed); /* rows need not be unit */
        for (j = 0; j < d; j++) w[i * d + j] = scale * (0.6f * f[j] + rng_normal(&seed));
        twin[i] = -1;
    }
    for (i = 0; i < ntwin; i++) { /* row b becomes a near copy of row a */
        size_t a = rng_next(&seed) % n, b = rng_next(&seed) % n;
        if (a == b || twin[a] >= 0 || twin[b] >= 0) continue;
        for (j = 0; j < d; j++) w[b * d + j] = w[a * d + j] + 0.05f * rng_normal(&seed);
        twin[a] = (int32_t)b;
        twin[b] = (int32_t)a;
    }
    free(fam);
}

static int check(hr_status s, const char *what)
{
    if (s == HR_OK) return 0;
    fprintf(stderr, "difficulty_demo: %s: %s\n", what, hr_status_string(s));
    return 1;
}

int main(int argc, char **argv)
{
    const size_t n = argc > 1 ? (size_t)atol(argv[1]) : 8000;
    const size_t d = argc > 2 ? (size_t)atol(argv[2]) : 256;
    const uint64_t seed = argc > 3 ? (uint64_t)atoll(argv[3]) : 1;
    const size_t K = 5;
    float *w, *c, *c_ref, *sim;
    int32_t *nearest, *nearest_ref, *twin, *nb;
    size_t i, j, r, order[10], twins = 0, found = 0, bad = 0;
    double t_fast, t_ref, flops;
    hr_isa fast;

    if (n < 2 || d < 1) { fprintf(stderr, "usage: difficulty_demo [N>=2 [d>=1 [seed]]]\n"); return 2; }
    w = (float *)malloc(n * d * sizeof(float));
    c = (float *)malloc(n * sizeof(float));
    c_ref = (float *)malloc(n * sizeof(float));
    sim = (float *)malloc(n * K * sizeof(float));
    nearest = (int32_t *)malloc(n * sizeof(int32_t));
    nearest_ref = (int32_t *)malloc(n * sizeof(int32_t));
    twin = (int32_t *)malloc(n * sizeof(int32_t));
    nb = (int32_t *)malloc(n * K * sizeof(int32_t));
    if (!w || !c || !c_ref || !sim || !nearest || !nearest_ref || !twin || !nb) {
        fprintf(stderr, "difficulty_demo: out of memory for N=%zu d=%zu\n", n, d);
        return 1;
    }
    make_weights(w, twin, n, d, seed);
    flops = (double)n * (double)(n - 1) * (double)d;

    fast = hr_get_isa();
    printf("hardreid %s: N=%zu identities, d=%zu, seed %llu, ISA %s\n",
           HARDREID_VERSION_STRING, n, d, (unsigned long long)seed, hr_isa_name(fast));

    t_fast = now();
    if (check(hr_difficulty(c, nearest, w, n, d, d, 0), "hr_difficulty")) return 1;
    t_fast = now() - t_fast;
    if (check(hr_neighbors_topk(sim, nb, K, w, n, d, d, 0), "hr_neighbors_topk")) return 1;

    hr_set_isa(HR_ISA_SCALAR);
    t_ref = now();
    if (check(hr_difficulty(c_ref, nearest_ref, w, n, d, d, 0), "hr_difficulty (scalar)")) return 1;
    t_ref = now() - t_ref;
    hr_set_isa(HR_ISA_AUTO);

    printf("\n%-8s %10s %14s\n", "path", "seconds", "GFLOP/s");
    printf("%-8s %10.3f %14.1f\n", hr_isa_name(fast), t_fast, flops / t_fast * 1e-9);
    printf("%-8s %10.3f %14.1f   (the reference path; %.1fx slower)\n", "scalar", t_ref,
           flops / t_ref * 1e-9, t_ref / t_fast);

    /* the 10 hardest identities (selection; ties to the smaller index) */
    for (r = 0; r < 10 && r < n; r++) {
        size_t best = (size_t)-1;
        for (i = 0; i < n; i++) {
            int taken = 0;
            for (j = 0; j < r; j++) taken |= order[j] == i;
            if (!taken && (best == (size_t)-1 || c[i] > c[best])) best = i;
        }
        order[r] = best;
    }
    printf("\nhardest identities (c = cosine to the nearest other identity):\n");
    printf("%6s %9s %8s %7s   top-%zu neighbours\n", "id", "c", "nearest", "twin?", K);
    for (r = 0; r < 10 && r < n; r++) {
        i = order[r];
        printf("%6zu %9.5f %8d %7s  ", i, c[i], nearest[i], twin[i] == nearest[i] ? "yes" : "-");
        for (j = 0; j < K; j++) printf(" %d(%.3f)", nb[i * K + j], sim[i * K + j]);
        printf("\n");
    }

    /* checks: fast vs scalar path, a sample vs double-precision brute force,
       top-1 == difficulty, planted twins recovered */
    for (i = 0; i < n; i++) {
        if (fabsf(c[i] - c_ref[i]) > HR_TOL_ISA) bad++;
        if (sim[i * K] != c[i] || nb[i * K] != nearest[i]) bad++;
        if (twin[i] >= 0) { twins++; found += nearest[i] == twin[i]; }
    }
    for (i = 0; i < n; i += n / 50 + 1) {
        double best = -INFINITY, ni = 0, nj, dot;
        for (r = 0; r < d; r++) ni += (double)w[i * d + r] * w[i * d + r];
        for (j = 0; j < n; j++) {
            if (j == i) continue;
            nj = dot = 0;
            for (r = 0; r < d; r++) { nj += (double)w[j * d + r] * w[j * d + r]; dot += (double)w[i * d + r] * w[j * d + r]; }
            dot /= sqrt(ni * nj);
            if (dot > best) best = dot;
        }
        if (fabs(best - c[i]) > HR_TOL_ISA) bad++;
    }
    printf("\nplanted near-twins found as nearest: %zu of %zu\n", found, twins);
    printf("checks (fast vs scalar, sample vs double brute force, top-1 vs difficulty): %s\n",
           bad ? "FAILED" : "ok");
    free(w); free(c); free(c_ref); free(sim); free(nearest); free(nearest_ref); free(twin); free(nb);
    return bad || found != twins;
}
