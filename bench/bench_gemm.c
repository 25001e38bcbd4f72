/* bench_gemm.c - hr_gemm against OpenBLAS's cblas_sgemm, in one run.

     bench_gemm [--quick] [--threads 1,2] [--csv FILE]

   Cases (issue 4): square m = n = k in {256, 512, 1024, 2048}, and the
   shapes of an FC layer at batch 64 in PyTorch's layout: forward
   y = x W^T (NT), the input gradient dx = dy W (NN) and the weight gradient
   dW = dy^T x (TN), for a re-ID classifier head (512 -> 4096 identities) and
   a hidden layer (2048 -> 512). Every case runs at 1 thread, then 2.

   Each figure: the median of 7 samples, each sample as many calls as take
   >= 0.1 s (calibrated once per case); methods alternate within a sample
   round so that drift hits both, with a 0.2 s pause before each so that the
   other library's spinning worker threads have gone idle. GFLOP/s = 2 m n k / s. The result of each
   method is checked against the other first (max |diff| / (k * max|C|)).
   Target (issue 4): hr_gemm >= 0.9x OpenBLAS on every case, printed
   MET/MISSED; the exit status is 0 either way (a benchmark, not a test),
   2 on a verification failure. */
#define _POSIX_C_SOURCE 200112L
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"
#include "bench_util.h"
#include "bench_peak.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _OPENMP
static void omp_set_num_threads(int t) { (void)t; }
#endif
void openblas_set_num_threads(int);

#define SAMPLES 7
#define TARGET 0.9

typedef struct {
    const char *name;
    hr_trans ta, tb;
    size_t m, n, k;
} gcase;

static const gcase cases_full[] = {
    {"square 256", HR_NO_TRANS, HR_NO_TRANS, 256, 256, 256},
    {"square 512", HR_NO_TRANS, HR_NO_TRANS, 512, 512, 512},
    {"square 1024", HR_NO_TRANS, HR_NO_TRANS, 1024, 1024, 1024},
    {"square 2048", HR_NO_TRANS, HR_NO_TRANS, 2048, 2048, 2048},
    {"fc 512->4096 fwd (NT)", HR_NO_TRANS, HR_TRANS, 64, 4096, 512},
    {"fc 512->4096 dx (NN)", HR_NO_TRANS, HR_NO_TRANS, 64, 512, 4096},
    {"fc 512->4096 dW (TN)", HR_TRANS, HR_NO_TRANS, 4096, 512, 64},
    {"fc 2048->512 fwd (NT)", HR_NO_TRANS, HR_TRANS, 64, 512, 2048},
    {"fc 2048->512 dx (NN)", HR_NO_TRANS, HR_NO_TRANS, 64, 2048, 512},
    {"fc 2048->512 dW (TN)", HR_TRANS, HR_NO_TRANS, 512, 2048, 64},
};
static const gcase cases_quick[] = {
    {"square 256", HR_NO_TRANS, HR_NO_TRANS, 256, 256, 256},
    {"fc 512->1024 fwd (NT)", HR_NO_TRANS, HR_TRANS, 64, 1024, 512},
};

typedef struct {
    const gcase *c;
    int threads;
    double hr_gf, blas_gf, ratio, err;
} result;

static void set_threads(int t) {
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
}

static void fill(float *p, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(seed >> 40) / 16777216.0 - 0.5);
    }
}

static void run_hr(const gcase *c, const float *a, const float *b, float *out) {
    const size_t lda = c->ta ? c->m : c->k, ldb = c->tb ? c->k : c->n;
    if (hr_gemm(c->ta, c->tb, c->m, c->n, c->k, 1.0f, a, lda, b, ldb, 0.0f, out, c->n) != HR_OK) {
        fprintf(stderr, "bench_gemm: hr_gemm failed\n");
        exit(2);
    }
}

static void run_blas(const gcase *c, const float *a, const float *b, float *out) {
    const size_t lda = c->ta ? c->m : c->k, ldb = c->tb ? c->k : c->n;
    cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans,
                (int)c->m, (int)c->n, (int)c->k, 1.0f, a, (int)lda, b, (int)ldb, 0.0f, out,
                (int)c->n);
}

static result run_case(const gcase *c, int threads) {
    const size_t asz = c->m * c->k, bsz = c->k * c->n, csz = c->m * c->n;
    float *a = (float *)xmalloc(asz * sizeof(float)), *b = (float *)xmalloc(bsz * sizeof(float));
    float *c1 = (float *)xmalloc(csz * sizeof(float)), *c2 = (float *)xmalloc(csz * sizeof(float));
    double t_hr[SAMPLES], t_bl[SAMPLES], big = 0.0, diff = 0.0;
    long reps = 1;
    result r;
    fill(a, asz, 1);
    fill(b, bsz, 2);
    set_threads(threads);
    run_hr(c, a, b, c1); /* verify (and warm both up) */
    run_blas(c, a, b, c2);
    for (size_t i = 0; i < csz; i++) {
        big = fmax(big, fabs((double)c2[i]));
        diff = fmax(diff, fabs((double)c1[i] - (double)c2[i]));
    }
    r.err = diff / (big * (double)c->k + 1e-30);
    if (!(r.err < 1e-6)) {
        fprintf(stderr, "VERIFY FAILED: %s: max |diff| %.3g (max |C| %.3g)\n", c->name, diff, big);
        exit(2);
    }
    for (;;) { /* calibrate: >= 0.1 s per sample */
        double t0 = now_s();
        for (long i = 0; i < reps; i++) run_hr(c, a, b, c1);
        if (now_s() - t0 >= 0.1) break;
        reps *= 2;
    }
    for (int s = 0; s < SAMPLES; s++) { /* idle workers before each method */
        double t0;
        pause_s(0.2);
        t0 = now_s();
        for (long i = 0; i < reps; i++) run_hr(c, a, b, c1);
        t_hr[s] = (now_s() - t0) / (double)reps;
        pause_s(0.2);
        t0 = now_s();
        for (long i = 0; i < reps; i++) run_blas(c, a, b, c2);
        t_bl[s] = (now_s() - t0) / (double)reps;
    }
    {
        const double flops = 2.0 * (double)c->m * (double)c->n * (double)c->k;
        r.c = c;
        r.threads = threads;
        r.hr_gf = flops / median(t_hr, SAMPLES) * 1e-9;
        r.blas_gf = flops / median(t_bl, SAMPLES) * 1e-9;
        r.ratio = r.hr_gf / r.blas_gf;
    }
    free(a);
    free(b);
    free(c1);
    free(c2);
    return r;
}

int main(int argc, char **argv) {
    const gcase *cases = cases_full;
    size_t ncases = sizeof cases_full / sizeof cases_full[0];
    int missed = 0;
    char cpu[256];
    bench_opts o;
    if (bench_parse(&o, argc, argv)) return 2;
    if (o.quick) {
        cases = cases_quick;
        ncases = sizeof cases_quick / sizeof cases_quick[0];
    }
    cpu_model(cpu, sizeof cpu);
    printf("bench_gemm: hardreid %s hr_gemm vs OpenBLAS cblas_sgemm\n", HARDREID_VERSION_STRING);
    printf("cpu: %s | compiler: %s | flags: %s | isa: %s\n", cpu, BENCH_COMPILER, BENCH_FLAGS,
           hr_isa_name(hr_get_isa()));
    char meta[512];
    bench_meta(meta, sizeof meta, hr_isa_name(hr_get_isa()));
    printf("%s\n", meta);
    printf("median of %d samples (>= 0.1 s each); GFLOP/s = 2mnk/s; FMA peak (1 thread): AVX2 %.1f,"
           " AVX-512 %.1f GFLOP/s\n\n", SAMPLES, fma_peak_gflops_isa(0, 1, 0.2),
           fma_peak_gflops_isa(1, 1, 0.2));
    printf("%-24s %5s %5s %5s %3s | %9s %9s %7s\n", "case", "m", "n", "k", "thr", "hardreid",
           "OpenBLAS", "ratio");
    result *res = (result *)xmalloc(ncases * (size_t)o.nth * sizeof(result));
    size_t nres = 0;
    for (int t = 0; t < o.nth; t++)
        for (size_t i = 0; i < ncases; i++) {
            result r = run_case(&cases[i], o.threads[t]);
            res[nres++] = r;
            printf("%-24s %5zu %5zu %5zu %3d | %9.1f %9.1f %6.2fx %s\n", r.c->name, r.c->m, r.c->n,
                   r.c->k, r.threads, r.hr_gf, r.blas_gf, r.ratio,
                   r.ratio >= TARGET ? "" : "(below 0.9x)");
            fflush(stdout);
            missed += r.ratio < TARGET;
        }
    printf("\ntarget hr_gemm >= %.1fx OpenBLAS on every case: %s (%d of %zu below)\n", TARGET,
           missed ? "MISSED" : "MET", missed, nres);
    if (o.csv) {
        FILE *f = fopen(o.csv, "w");
        if (!f) {
            fprintf(stderr, "bench_gemm: cannot write %s\n", o.csv);
            return 2;
        }
        fprintf(f, "# %s\n", meta);
        fprintf(f, "case,m,n,k,threads,hardreid_gflops,openblas_gflops,ratio\n");
        for (size_t i = 0; i < nres; i++)
            fprintf(f, "%s,%zu,%zu,%zu,%d,%.2f,%.2f,%.3f\n", res[i].c->name, res[i].c->m, res[i].c->n,
                    res[i].c->k, res[i].threads, res[i].hr_gf, res[i].blas_gf, res[i].ratio);
        fclose(f);
        printf("csv: %s\n", o.csv);
    }
    free(res);
    return 0;
}
