/* bench/bench_difficulty.c - hr_difficulty against its peers, same run.

   Methods (every one gets the same raw random W, N x d):
     hardreid  hr_difficulty(c, nearest, W, N, d, d, 0): rows normalized on
               the fly, one triangle of W W^T, fused masked row max.
     blas      OpenBLAS cblas_sgemm in blocks of B rows (C = W_blk W^T,
               B x N) + masked row max with arg-max (AVX2, ties to the
               smaller index). B is tuned per case among 1024/2048/4096.
     faiss     faiss::knn_inner_product, k = 2, self dropped by index.
     syrk      the symmetric peer, the same triangle as hardreid: in blocks
               of SYRK_B rows, cblas_ssyrk on each diagonal block and
               cblas_sgemm on each block below it, each product's maxima
               folded over its rows AND its columns (ties to the smaller
               index), so every pair is computed once.
   The peers get W normalized beforehand (hr_normalize_rows); that time is
   not counted for them. GFLOP/s for every method = N(N-1)d / seconds (one
   triangle: blas and faiss compute both, so the count is the same work
   done; syrk computes the triangle, as hardreid).
   Timing: the repetitions are interleaved (run 1 of every method, then run
   2 of every method, ...), so a slow spell of the machine hits them all;
   min / median / max of each are reported.

   Verification first: each method's first run is checked (hardreid against
   a double-precision reference on sampled rows, the peers against
   hardreid); mismatches fail the run (exit 1). Then the median of R runs.

   Usage: bench_difficulty [--n LIST] [--d LIST] [--threads LIST] [--reps R]
            [--no-blas] [--no-faiss] [--no-syrk] [--quick] [--csv FILE] [--max-seconds S]
            [--max-mem GIB] [--seed S] [--plan]
          bench_difficulty --rss N d threads      (peak-RSS mode)
   LIST is comma-separated, e.g. --n 4096,16384. */
#define _POSIX_C_SOURCE 200809L

#define HARDREID_IMPLEMENTATION
#include "hardreid.h"
#include "peer.h"
#include "bench_util.h"
#include "bench_peak.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#else
static void omp_set_num_threads(int t) { (void)t; }
#endif

void openblas_set_num_threads(int);

#define TOL 2e-5   /* = HR_TOL_ISA: cosine agreement between methods */
#define MAXL 16    /* longest --n/--d/--threads list */
#define BLAS_MAX_BUF (512.0 * 1048576) /* bytes for the peer's B x N block */

/* >>util ---------------------------------------------------------------*/



static void set_threads(int t) {
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
}



static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void) { return splitmix64(&rng_state); }
static double rng_unit(void) { return (double)(rng_next() >> 11) * 0x1p-53; }

/* Raw, unnormalized rows: uniform in [-1, 1) times a row scale in
   [1/4, 4], so the normalization inside hr_difficulty is exercised. */
static void fill_random(float *w, size_t n, size_t d) {
    for (size_t i = 0; i < n; i++) {
        float s = (float)exp2(4.0 * rng_unit() - 2.0);
        for (size_t j = 0; j < d; j++)
            w[i * d + j] = s * (float)(2.0 * rng_unit() - 1.0);
    }
}



/* >>peer-blas ----------------------------------------------------------*/

/* Max of row[0..n) and its smallest arg-max; -INFINITY, -1 if all -inf. */
static void rowmax_scalar(const float *row, size_t n, float *best, int32_t *arg) {
    float b = -INFINITY;
    int32_t a = -1;
    for (size_t j = 0; j < n; j++)
        if (row[j] > b) {
            b = row[j];
            a = (int32_t)j;
        }
    *best = b;
    *arg = a;
}

#ifdef BENCH_X86
/* FAISS's idiom: running max and index vectors, cmp + blend; strict '>'
   keeps each lane's first (smallest) index among equals. */
__attribute__((target("avx2")))
static void rowmax_avx2(const float *row, size_t n, float *best, int32_t *arg) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    __m256i vidx = _mm256_set1_epi32(-1);
    __m256i cur = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_set1_epi32(8);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(row + j);
        __m256 gt = _mm256_cmp_ps(v, vmax, _CMP_GT_OQ);
        vmax = _mm256_blendv_ps(vmax, v, gt);
        vidx = _mm256_blendv_epi8(vidx, cur, _mm256_castps_si256(gt));
        cur = _mm256_add_epi32(cur, step);
    }
    float lv[8];
    int32_t li[8];
    _mm256_storeu_ps(lv, vmax);
    _mm256_storeu_si256((__m256i *)li, vidx);
    float b = -INFINITY;
    int32_t a = -1;
    for (int l = 0; l < 8; l++)
        if (li[l] >= 0 && (lv[l] > b || (lv[l] == b && (a < 0 || li[l] < a)))) {
            b = lv[l];
            a = li[l];
        }
    for (; j < n; j++) /* tail indices exceed all lane indices: '>' is right */
        if (row[j] > b) {
            b = row[j];
            a = (int32_t)j;
        }
    *best = b;
    *arg = a;
}
#endif

static void (*rowmax)(const float *, size_t, float *, int32_t *) = rowmax_scalar;

/* Rows [i0, i0+b): C = W[i0:i0+b] W^T into buf (b x n), then masked max. */
static void blas_block(float *c, int32_t *nearest, const float *wn, size_t n,
                       size_t d, size_t i0, size_t b, float *buf) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)n, (int)d,
                1.0f, wn + i0 * d, (int)d, wn, (int)d, 0.0f, buf, (int)n);
    long bb = (long)b;
#pragma omp parallel for schedule(static)
    for (long r = 0; r < bb; r++) {
        float *row = buf + (size_t)r * n;
        size_t i = i0 + (size_t)r;
        row[i] = -INFINITY; /* self, by index */
        rowmax(row, n, &c[i], &nearest[i]);
    }
}

/* buf: b_max x n floats, allocated once per case outside the timed region
   (hardreid allocates its small workspace inside; this favours the peer). */
static int peer_blas_difficulty(float *c, int32_t *nearest, const float *wn,
                                size_t n, size_t d, size_t B, float *buf) {
    for (size_t i0 = 0; i0 < n; i0 += B)
        blas_block(c, nearest, wn, n, d, i0, n - i0 < B ? n - i0 : B, buf);
    return 0;
}

/* Block sizes tried: 1024, 2048, 4096 rows, clipped to n, while the
   b x n buffer stays within max_buf bytes (the first always). */
static int blas_candidates(size_t n, double max_buf, size_t *out) {
    static const size_t cand[] = {1024, 2048, 4096};
    int k = 0;
    for (int i = 0; i < 3; i++) {
        size_t b = cand[i] < n ? cand[i] : n;
        if (k > 0 && (b == out[k - 1] || (double)b * n * 4 > max_buf)) break;
        out[k++] = b;
    }
    return k;
}

/* Fastest candidate B, timed on one block each (buffer already touched). */
static size_t blas_tune(float *c, int32_t *nearest, const float *wn, size_t n,
                        size_t d, const size_t *cand, int ncand, float *buf) {
    size_t best = cand[0];
    double best_rate = 0;
    if (ncand == 1) return best;
    for (int k = 0; k < ncand; k++) {
        double t0 = now_s();
        blas_block(c, nearest, wn, n, d, 0, cand[k], buf);
        double rate = (double)cand[k] / (now_s() - t0);
        if (rate > best_rate) {
            best_rate = rate;
            best = cand[k];
        }
    }
    return best;
}

/* >>peer-syrk ----------------------------------------------------------*/

#define SYRK_B 2048 /* rows per block: a 16 MiB product, the gemm's sweet spot */

/* (v, j) beats (*b, *a): larger, or equal with the smaller index. */
static inline void fold_best(float v, int32_t j, float *b, int32_t *a) {
    if (v > *b || (v == *b && j < *a)) {
        *b = v;
        *a = j;
    }
}

/* Rows r0.. (h of them) against columns c0.. (w of them) in buf (h x w,
   row stride w): fold row maxima into rows r0+r and, when cols, column
   maxima into rows c0+j. diag: the block with itself, upper triangle only
   (j > r) as ssyrk leaves it. */
static void syrk_fold(float *c, int32_t *nn, const float *buf, size_t r0, size_t h,
                      size_t c0, size_t w, int diag) {
    long hh = (long)h, ww = (long)w;
#pragma omp parallel for schedule(static)
    for (long r = 0; r < hh; r++) { /* each row's maximum over its columns */
        const float *row = buf + (size_t)r * w;
        for (long j = diag ? r + 1 : 0; j < ww; j++)
            fold_best(row[j], (int32_t)(c0 + (size_t)j), &c[r0 + (size_t)r], &nn[r0 + (size_t)r]);
    }
#pragma omp parallel for schedule(static)
    for (long j = 0; j < ww; j++) { /* each column's maximum over its rows */
        for (long r = 0; r < (diag ? j : hh); r++)
            fold_best(buf[(size_t)r * w + (size_t)j], (int32_t)(r0 + (size_t)r),
                      &c[c0 + (size_t)j], &nn[c0 + (size_t)j]);
    }
}

/* buf: SYRK_B^2 floats, allocated outside the timed region. */
static int peer_syrk_difficulty(float *c, int32_t *nearest, const float *wn, size_t n,
                                size_t d, float *buf) {
    for (size_t i = 0; i < n; i++) {
        c[i] = -INFINITY;
        nearest[i] = -1;
    }
    for (size_t i0 = 0; i0 < n; i0 += SYRK_B) {
        const size_t h = n - i0 < SYRK_B ? n - i0 : SYRK_B;
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)h, (int)d, 1.0f, wn + i0 * d,
                    (int)d, 0.0f, buf, (int)h);
        syrk_fold(c, nearest, buf, i0, h, i0, h, 1);
        for (size_t j0 = 0; j0 < i0; j0 += SYRK_B) { /* the blocks left of the diagonal */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)h, SYRK_B, (int)d, 1.0f,
                        wn + i0 * d, (int)d, wn + j0 * d, (int)d, 0.0f, buf, SYRK_B);
            syrk_fold(c, nearest, buf, i0, h, j0, SYRK_B, 0);
        }
    }
    for (size_t i = 0; i < n; i++) /* hardreid's convention: a zero maximum is +0 */
        if (c[i] == 0.0f) c[i] = 0.0f;
    return 0;
}

/* >>reference ----------------------------------------------------------*/

/* Cosine of raw rows i, j in double (inv: 1/||row|| in double, 0 for 0). */
static double cos_d(const float *w, const double *inv, size_t d, size_t i, size_t j) {
    double s = 0;
    for (size_t k = 0; k < d; k++) s += (double)w[i * d + k] * (double)w[j * d + k];
    return s * inv[i] * inv[j];
}

static double *inv_norms(const float *w, size_t n, size_t d) {
    double *inv = (double *)xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t k = 0; k < d; k++) s += (double)w[i * d + k] * (double)w[i * d + k];
        inv[i] = s > 0 ? 1.0 / sqrt(s) : 0.0;
    }
    return inv;
}

/* hardreid against a double reference on up to 16 spread rows. Returns the
   number of bad rows; *maxdiff gets the largest |c - c_ref|. */
static int check_reference(const float *c, const int32_t *nn, const float *w,
                           const double *inv, size_t n, size_t d, double *maxdiff) {
    size_t s = n < 16 ? n : 16;
    int bad = 0;
    *maxdiff = 0;
    for (size_t k = 0; k < s; k++) {
        size_t i = s > 1 ? k * (n - 1) / (s - 1) : 0;
        double best = -INFINITY;
        long arg = -1;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double v = cos_d(w, inv, d, i, j);
            if (v > best) {
                best = v;
                arg = (long)j;
            }
        }
        double diff = fabs((double)c[i] - best);
        if (n == 1) diff = (c[i] == -INFINITY && nn[i] == -1) ? 0 : 1;
        if (diff > *maxdiff) *maxdiff = diff;
        int ok = diff <= TOL;
        if (ok && nn[i] != arg) /* a near-tie is fine; a wrong index is not */
            ok = nn[i] >= 0 && (size_t)nn[i] < n && (size_t)nn[i] != i &&
                 fabs(cos_d(w, inv, d, i, (size_t)nn[i]) - best) <= TOL;
        if (!ok) {
            if (bad < 5)
                fprintf(stderr, "  reference mismatch row %zu: c=%.8f nearest=%d, ref %.8f at %ld\n",
                        i, (double)c[i], (int)nn[i], best, arg);
            bad++;
        }
    }
    return bad;
}

/* Peer against hardreid: c within TOL everywhere; nearest equal, or both
   picks within TOL of each other in the double reference (a near-tie). */
static int check_peer(const char *name, const float *c, const int32_t *nn,
                      const float *cp, const int32_t *np, const float *w,
                      const double *inv, size_t n, size_t d, double *maxdiff,
                      long *nties) {
    int bad = 0;
    *maxdiff = 0;
    *nties = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)c[i] - (double)cp[i]);
        if (c[i] == cp[i]) diff = 0; /* both -inf when n == 1 */
        if (diff > *maxdiff) *maxdiff = diff;
        int ok = diff <= TOL;
        if (ok && nn[i] != np[i]) {
            ok = nn[i] >= 0 && np[i] >= 0 && (size_t)nn[i] < n && (size_t)np[i] < n &&
                 fabs(cos_d(w, inv, d, i, (size_t)nn[i]) - cos_d(w, inv, d, i, (size_t)np[i])) <= TOL;
            if (ok) (*nties)++;
        }
        if (!ok) {
            if (bad < 5)
                fprintf(stderr, "  %s mismatch row %zu: hardreid c=%.8f nearest=%d, %s c=%.8f nearest=%d\n",
                        name, i, (double)c[i], (int)nn[i], name, (double)cp[i], (int)np[i]);
            bad++;
        }
    }
    return bad;
}

/* >>sweep --------------------------------------------------------------*/

enum { M_HR, M_BLAS, M_FAISS, M_SYRK, M_COUNT };
static const char *method_name[M_COUNT] = {"hardreid", "blas", "faiss", "syrk"};

typedef struct {
    size_t n, d;
    int threads, method;
    double seconds, gflops; /* median */
} result;

static result results[4 * MAXL * MAXL * MAXL];
static int nresults;

typedef struct {
    size_t ns[MAXL], ds[MAXL];
    int ts[MAXL];
    int nn, nd, nt, reps, quick, use_blas, use_faiss, use_syrk, plan;
    double max_s, max_mem;
    const char *csv;
} options;

typedef struct {
    FILE *f;
    char date[32], cpu[256], meta[512];
    const char *isa;
} csv_out;

static void csv_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_row(csv_out *o, size_t n, size_t d, int t, const char *method,
                    size_t block, int reps, double med, double mn, double mx, double gf,
                    double peak, double speedup, const char *status, const char *note) {
    if (!o->f) return;
    FILE *f = o->f;
    csv_field(f, o->date);
    fputc(',', f);
    csv_field(f, o->cpu);
    fputc(',', f);
    csv_field(f, BENCH_COMPILER);
    fputc(',', f);
    csv_field(f, BENCH_FLAGS);
    fprintf(f, ",%s,%zu,%zu,%d,%s,%zu,%d,", o->isa, n, d, t, method, block, reps);
    if (med > 0)
        fprintf(f, "%.6g,%.6g,%.6g,%.4g,%.4g,%.2f,", med, mn, mx, gf, peak, 100.0 * gf / peak);
    else
        fprintf(f, ",,,,%.4g,,", peak);
    if (speedup > 0) fprintf(f, "%.4f", speedup);
    fprintf(f, ",%s,", status);
    csv_field(f, note);
    fputc('\n', f);
    fflush(f);
}

static void parse_list_sz(const char *s, size_t *out, int *cnt) {
    *cnt = 0;
    while (*s && *cnt < MAXL) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || v == 0) {
            fprintf(stderr, "bench: bad list '%s'\n", s);
            exit(2);
        }
        out[(*cnt)++] = (size_t)v;
        s = *end == ',' ? end + 1 : end;
    }
}

static void usage(void) {
    puts("usage: bench_difficulty [--n LIST] [--d LIST] [--threads LIST] [--reps R]\n"
         "         [--no-blas] [--no-faiss] [--no-syrk] [--quick] [--csv FILE]\n"
         "         [--max-seconds S]\n"
         "         [--max-mem GIB] [--seed S] [--plan]\n"
         "       bench_difficulty --rss N d threads\n"
         "defaults: --n 1024,4096,16384,65536 --d 64,128,512,2048 --threads 1,2\n"
         "          --csv build/bench_difficulty.csv --max-seconds 120 --max-mem 8\n"
         "--quick: N=1024 d=64, 1 rep, threads 1,2 (smoke test)\n"
         "--plan: measure the FMA peak, print the time estimate, run nothing");
}

/* Run one method once; returns seconds, or -1 on failure. */
static double run_once(int m, float *c, int32_t *nn, const float *w, const float *wn,
                       size_t n, size_t d, size_t block, float *buf) {
    double t0 = now_s();
    int rc;
    if (m == M_HR) {
        hr_status s = hr_difficulty(c, nn, w, n, d, d, 0);
        if (s != HR_OK) fprintf(stderr, "  hr_difficulty: %s\n", hr_status_string(s));
        rc = s == HR_OK ? 0 : -1;
    } else if (m == M_BLAS) {
        rc = peer_blas_difficulty(c, nn, wn, n, d, block, buf);
    } else if (m == M_SYRK) {
        rc = peer_syrk_difficulty(c, nn, wn, n, d, buf);
    } else {
        rc = peer_faiss_difficulty(c, nn, wn, n, d);
    }
    double t = now_s() - t0;
    return rc == 0 ? t : -1;
}

static const result *find_result(size_t n, size_t d, int t, int m) {
    for (int k = 0; k < nresults; k++)
        if (results[k].n == n && results[k].d == d && results[k].threads == t &&
            results[k].method == m)
            return &results[k];
    return NULL;
}

static void target_line(const char *what, double got, double want, const char *unit) {
    if (got <= 0) {
        printf("  [NOT RUN] %s\n", what);
        return;
    }
    printf("  [%s] %s: %.3g%s (target >= %.3g%s, %s by %.1f%%)\n",
           got >= want ? "MET" : "MISSED", what, got, unit, want, unit,
           got >= want ? "over" : "short", fabs(100.0 * (got / want - 1.0)));
}

static void print_targets(const double *peak) {
    const result *h1 = find_result(16384, 512, 1, M_HR);
    const result *b1 = find_result(16384, 512, 1, M_BLAS);
    const result *f1 = find_result(16384, 512, 1, M_FAISS);
    const result *s1 = find_result(16384, 512, 1, M_SYRK);
    const result *h2 = find_result(16384, 512, 2, M_HR);
    const result *h64 = find_result(65536, 64, 1, M_HR);
    const result *f64 = find_result(65536, 64, 1, M_FAISS);
    printf("\nIssue targets (speedup = peer seconds / hardreid seconds):\n");
    target_line("N=16384 d=512 1 thread, speedup vs blas",
                h1 && b1 ? b1->seconds / h1->seconds : 0, 2.0, "x");
    target_line("N=16384 d=512 1 thread, speedup vs faiss",
                h1 && f1 ? f1->seconds / h1->seconds : 0, 2.0, "x");
    target_line("N=16384 d=512 1 thread, speedup vs syrk (same flops)",
                h1 && s1 ? s1->seconds / h1->seconds : 0, 1.2, "x");
    target_line("N=16384 d=512 1 thread, % of FMA peak",
                h1 && peak[1] > 0 ? 100.0 * h1->gflops / peak[1] : 0, 85.0, "%");
    target_line("N=65536 d=64 1 thread, speedup vs faiss",
                h64 && f64 ? f64->seconds / h64->seconds : 0, 2.5, "x");
    target_line("N=16384 d=512, 2 threads vs 1 thread (hardreid)",
                h1 && h2 ? h1->seconds / h2->seconds : 0, 1.85, "x");
    printf("  [see bench-rss] N=200000 d=256 2 threads, peak RSS <= 1.2 x input + 64 MiB"
           " (separate process: bench_difficulty --rss 200000 256 2)\n");
}

static double loadavg1(void) {
    double l = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = 0;
        fclose(f);
    }
    return l;
}

/* Time per run: peers N^2 d / (30 GFLOP/s x threads), hardreid N^2 d at
   60% of the FMA peak; the skip rule uses the same estimates. */
static void estimates(const options *o, const double *peak, size_t n, size_t d, int t,
                      double *est) {
    double work = (double)n * (double)(n - 1) * (double)d;
    double pk = peak[t <= MAXL ? t : 1];
    est[M_HR] = work / ((isnan(pk) ? 10.0 : 0.6 * pk) * 1e9);
    est[M_BLAS] = est[M_FAISS] = work / (30e9 * t);
    est[M_SYRK] = work / (60e9 * t);
    (void)o;
}

/* Rough whole-sweep time: 3 runs per long method (>= 2 s), else ~4 s of
   runs, plus the BLAS block tuning. */
static double estimate_minutes(const options *o, const double *peak) {
    double total = 0;
    for (int in = 0; in < o->nn; in++)
        for (int id = 0; id < o->nd; id++)
            for (int it = 0; it < o->nt; it++) {
                double est[M_COUNT];
                int on[M_COUNT] = {1, o->use_blas, o->use_faiss, o->use_syrk};
                estimates(o, peak, o->ns[in], o->ds[id], o->ts[it], est);
                if (est[M_HR] > o->max_s) continue;
                for (int m = 0; m < M_COUNT; m++) {
                    if (!on[m] || est[m] > o->max_s) continue;
                    double runs = o->reps > 0 ? o->reps + 1 : est[m] >= 2 ? 3 : 4.0 / est[m] + 1;
                    if (o->reps <= 0 && est[m] < 2 && runs > 32) runs = 32;
                    if (m == M_BLAS) { /* tuning: one block per candidate */
                        size_t cand[3];
                        int nc = blas_candidates(o->ns[in], BLAS_MAX_BUF, cand);
                        for (int k = 0; nc > 1 && k < nc; k++)
                            runs += (double)cand[k] / (double)o->ns[in];
                    }
                    total += est[m] * runs + 0.3;
                }
            }
    return total / 60.0;
}

/* The report's head: the CSV opened (2: it cannot be), the run's meta. */
static int sweep_open(const options *o, csv_out *out) {
    memset(out, 0, sizeof *out);
    cpu_model(out->cpu, sizeof out->cpu);
    out->isa = hr_isa_name(hr_get_isa());
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(out->date, sizeof out->date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    if (o->csv && !o->plan) {
        out->f = fopen(o->csv, "w");
        if (!out->f) {
            fprintf(stderr, "bench: cannot write %s\n", o->csv);
            return 2;
        }
    }
    bench_meta(out->meta, sizeof out->meta, out->isa);
    if (out->f) {
        fprintf(out->f, "# %s\n", out->meta);
        fputs("date,cpu,compiler,flags,isa,N,d,threads,method,block,reps,median_s,min_s,max_s,"
              "gflops,peak_gflops,pct_peak,hr_speedup,status,note\n", out->f);
    }

    printf("hardreid %s difficulty benchmark\n", HARDREID_VERSION_STRING);
    printf("%s\n", out->meta);
    printf("cpu: %s | compiler: %s | flags: %s\n", out->cpu, BENCH_COMPILER, BENCH_FLAGS);
    printf("isa: %s | peers: OpenBLAS sgemm blocks%s, FAISS %s knn_inner_product k=2%s,"
           " OpenBLAS ssyrk + sgemm triangle%s\n",
           out->isa, o->use_blas ? "" : " (off)", peer_faiss_version(),
           o->use_faiss ? "" : " (off)", o->use_syrk ? "" : " (off)");
    printf("date: %s | GFLOP/s = N(N-1)d / s for every method (one triangle)\n", out->date);
    printf("hardreid normalizes rows inside the timed call; the peers get W normalized\n"
           "beforehand (hr_normalize_rows), NOT counted in their time.\n");
    return 0;
}

/* The FMA peak per thread count (index = thread count, up to MAXL) of the
   path hardreid runs, both paths' printed; warnings of a busy machine. */
static void sweep_peaks(const options *o, double *peak) {
    for (int t = 0; t < MAXL + 2; t++) peak[t] = NAN;
    double pmin = o->quick ? 0.05 : 0.2;
    /* both peaks, in this run; %peak is against the path's own */
    for (int v = 0; v < 2; v++) {
        double pv[MAXL + 2];
        for (int t = 0; t < MAXL + 2; t++) pv[t] = NAN;
        pv[1] = fma_peak_gflops_isa(v, 1, pmin);
        for (int k = 0; k < o->nt; k++)
            if (o->ts[k] <= MAXL && o->ts[k] != 1) pv[o->ts[k]] = fma_peak_gflops_isa(v, o->ts[k], pmin);
        printf("FMA peak (%s):", v ? "AVX-512, 24 zmm chains" : "AVX2, 12 ymm chains");
        for (int t = 1; t <= MAXL; t++)
            if (!isnan(pv[t])) printf("  %d thread%s %.1f GFLOP/s", t, t > 1 ? "s" : "", pv[t]);
        printf("%s\n", isnan(pv[1]) ? "  not on this CPU" : "");
        if (v == (hr_get_isa() == HR_ISA_AVX512))
            for (int t = 0; t < MAXL + 2; t++) peak[t] = pv[t];
    }
    printf("%%peak below: against the %s peak (the path hardreid runs)\n",
           hr_get_isa() == HR_ISA_AVX512 ? "AVX-512" : "AVX2");
    for (int k = 0; k < o->nt; k++) {
        int t = o->ts[k];
        if (t > 1 && t <= MAXL && peak[t] < 0.75 * t * peak[1])
            printf("warning: the %d-thread FMA peak is only %.2fx the 1-thread one: another"
                   " process is using the cores, or they share FMA units (SMT)\n",
                   t, peak[t] / peak[1]);
    }
    double load = loadavg1();
    if (load > 0.5)
        printf("warning: load average %.2f before the run: other processes will skew the"
               " timings\n", load);
}

/* 1 if the shape (n, d) is skipped at every thread count (W does not fit,
   or hardreid's estimated run is too long at all of them): its rows said. */
static int sweep_skip_shape(const options *o, const double *peak, csv_out *out, size_t n, size_t d) {
    double wbytes = (double)n * d * 4;
    if (2 * wbytes + 16.0 * n > o->max_mem) {
        printf("%7zu %5zu   *  skipped: W and its normalized copy need %.1f GiB > %.1f GiB\n",
               n, d, 2 * wbytes / 1073741824.0, o->max_mem / 1073741824.0);
        for (int k = 0; k < o->nt; k++)
            for (int m = 0; m < M_COUNT; m++)
                csv_row(out, n, d, o->ts[k], method_name[m], 0, 0, 0, 0, 0, 0,
                        peak[o->ts[k] <= MAXL ? o->ts[k] : 1], 0, "skipped", "memory");
        return 1;
    }
    for (int it = 0; it < o->nt; it++) { /* hardreid runs at some thread count? */
        double est[M_COUNT];
        estimates(o, peak, n, d, o->ts[it], est);
        if (est[M_HR] <= o->max_s) return 0;
    }
    for (int it = 0; it < o->nt; it++) {
        int t = o->ts[it];
        double est[M_COUNT];
        char why[96];
        estimates(o, peak, n, d, t, est);
        snprintf(why, sizeof why, "estimated %.0f s per run > %.0f s", est[M_HR], o->max_s);
        printf("%7zu %5zu %3d  %-10s skipped: %s (peers too)\n", n, d, t, "hardreid", why);
        for (int m = 0; m < M_COUNT; m++)
            csv_row(out, n, d, t, method_name[m], 0, 0, 0, 0, 0, 0, peak[t <= MAXL ? t : 1], 0,
                    "skipped", m == M_HR ? why : "hardreid skipped");
    }
    return 1;
}

/* One shape's data: W, its normalized copy, 1/norms for the double
   reference, each method's outputs, and hardreid's c at the first thread
   count (results must not depend on it). */
typedef struct {
    size_t n, d;
    float *w, *wn, *c[M_COUNT], *c1;
    int32_t *nn[M_COUNT];
    double *inv;
    int have_c1;
} shape_data;

/* One thread count's run of the methods on a shape. */
typedef struct {
    int t;
    double pk;                    /* the FMA peak at t threads            */
    int on[M_COUNT];
    const char *skip[M_COUNT];    /* why a method is not run (NULL: runs) */
    char why[M_COUNT][96];
    size_t cand[3], block;        /* the sgemm peer's block sizes, chosen */
    int ncand;
    float *buf, *sbuf;            /* the sgemm and ssyrk peers' buffers   */
    double tv[M_COUNT];           /* the verification run's seconds       */
    double med[M_COUNT], mn[M_COUNT], mx[M_COUNT];
    int reps[M_COUNT];
} thread_run;

/* Which methods run at r->t threads on shape s, and why the others not. */
static void plan_methods(const options *o, const double *peak, const shape_data *s, thread_run *r) {
    double est[M_COUNT], mem[M_COUNT];
    const double wbytes = (double)s->n * s->d * 4;
    estimates(o, peak, s->n, s->d, r->t, est);
    r->ncand = blas_candidates(s->n, BLAS_MAX_BUF, r->cand);
    mem[M_HR] = 0;
    mem[M_BLAS] = (double)r->cand[r->ncand - 1] * s->n * 4;
    mem[M_FAISS] = 4096.0 * 1024 * 4 + 24.0 * s->n;
    mem[M_SYRK] = (double)SYRK_B * SYRK_B * 4;
    r->on[M_HR] = 1;
    r->on[M_BLAS] = o->use_blas;
    r->on[M_FAISS] = o->use_faiss;
    r->on[M_SYRK] = o->use_syrk;
    for (int m = 0; m < M_COUNT; m++) {
        r->skip[m] = NULL;
        if (!r->on[m]) {
            r->skip[m] = "disabled";
            continue;
        }
        if (est[m] > o->max_s) {
            snprintf(r->why[m], sizeof r->why[m], "estimated %.0f s per run > %.0f s", est[m], o->max_s);
            r->skip[m] = r->why[m];
        } else if (2 * wbytes + mem[m] > o->max_mem) {
            snprintf(r->why[m], sizeof r->why[m], "needs %.1f GiB > %.1f GiB",
                     (2 * wbytes + mem[m]) / 1073741824.0, o->max_mem / 1073741824.0);
            r->skip[m] = r->why[m];
        }
    }
    if (r->skip[M_HR])
        for (int m = 1; m < M_COUNT; m++) r->skip[m] = r->skip[m] ? r->skip[m] : "hardreid skipped";
}

/* The verification runs (also the warm-up): hardreid against the double
   reference and against itself at the first thread count, each peer
   against hardreid. 1 if one failed or disagreed; *mismatch set when
   hardreid's c depends on the thread count. */
static int verify_methods(const options *o, shape_data *s, thread_run *r, int *mismatch) {
    const size_t n = s->n, d = s->d;
    for (int m = 0; m < M_COUNT; m++) {
        if (r->skip[m]) continue;
        if (m == M_BLAS) {
            size_t bmax = r->cand[r->ncand - 1];
            r->buf = (float *)xmalloc(bmax * n * sizeof(float));
            memset(r->buf, 0, bmax * n * sizeof(float));
            r->block = blas_tune(s->c[m], s->nn[m], s->wn, n, d, r->cand, r->ncand, r->buf);
            pause_s(0.1);
        }
        if (m == M_SYRK) {
            r->sbuf = (float *)xmalloc((size_t)SYRK_B * SYRK_B * sizeof(float));
            memset(r->sbuf, 0, (size_t)SYRK_B * SYRK_B * sizeof(float));
        }
        r->tv[m] = run_once(m, s->c[m], s->nn[m], s->w, s->wn, n, d, r->block,
                            m == M_SYRK ? r->sbuf : r->buf);
        pause_s(0.1);
        if (r->tv[m] < 0) {
            fprintf(stderr, "  %s failed on N=%zu d=%zu\n", method_name[m], n, d);
            return 1;
        }
        double md;
        long ties;
        int b;
        if (m == M_HR) {
            b = check_reference(s->c[m], s->nn[m], s->w, s->inv, n, d, &md);
            if (b) fprintf(stderr, "  hardreid vs double reference: %d bad rows (max |dc| %.3g)\n", b, md);
            if (s->have_c1 && memcmp(s->c1, s->c[m], n * sizeof(float)) != 0) {
                fprintf(stderr, "  hardreid: c differs between thread counts %d and %d"
                                " (documented bitwise identical)\n", o->ts[0], r->t);
                *mismatch = 1;
            }
            if (!s->have_c1) {
                memcpy(s->c1, s->c[m], n * sizeof(float));
                s->have_c1 = 1;
            }
        } else {
            b = check_peer(method_name[m], s->c[M_HR], s->nn[M_HR], s->c[m], s->nn[m], s->w, s->inv,
                           n, d, &md, &ties);
            if (b) fprintf(stderr, "  hardreid vs %s: %d mismatching rows, max |dc| %.3g\n",
                           method_name[m], b, md);
            else if (ties)
                printf("  note: N=%zu d=%zu %s: %ld near-tie nearest differences"
                       " (max |dc| %.2g)\n", n, d, method_name[m], ties, md);
        }
        if (b) return 1;
    }
    return 0;
}

/* Timing: R runs of every method, interleaved (run k of each method
   before run k+1 of any), so that a slow spell of the machine lands on all
   of them; a verification run of >= 2 s counts as a method's first
   sample. Min, median, max to r. 1 if a run failed. */
static int time_methods(const options *o, const shape_data *s, thread_run *r) {
    int R = 0, have[M_COUNT] = {0, 0, 0, 0};
    double *smp[M_COUNT] = {NULL, NULL, NULL, NULL};
    for (int m = 0; m < M_COUNT; m++) {
        r->med[m] = r->mn[m] = r->mx[m] = 0;
        r->reps[m] = 0;
        if (r->skip[m]) continue;
        int k = o->reps;
        if (k <= 0) {
            k = (int)ceil(3.0 / r->tv[m]);
            k = k < 3 ? 3 : k > 31 ? 31 : k;
        }
        r->reps[m] = k;
        R = k > R ? k : R;
        smp[m] = (double *)xmalloc((size_t)k * sizeof(double));
        if (o->reps <= 0 && r->tv[m] >= 2.0) smp[m][have[m]++] = r->tv[m];
    }
    for (int k = 0; k < R; k++)
        for (int m = 0; m < M_COUNT; m++) {
            if (!smp[m] || have[m] >= r->reps[m]) continue;
            double tk = run_once(m, s->c[m], s->nn[m], s->w, s->wn, s->n, s->d, r->block,
                                 m == M_SYRK ? r->sbuf : r->buf);
            if (tk < 0) {
                fprintf(stderr, "  %s failed while timing\n", method_name[m]);
                return 1;
            }
            smp[m][have[m]++] = tk;
            pause_s(0.05);
        }
    for (int m = 0; m < M_COUNT; m++) {
        if (!smp[m]) continue;
        r->mn[m] = r->mx[m] = smp[m][0];
        for (int k = 1; k < r->reps[m]; k++) {
            r->mn[m] = smp[m][k] < r->mn[m] ? smp[m][k] : r->mn[m];
            r->mx[m] = smp[m][k] > r->mx[m] ? smp[m][k] : r->mx[m];
        }
        r->med[m] = median(smp[m], r->reps[m]);
        free(smp[m]);
    }
    return 0;
}

/* A thread count's rows: the table, the CSV, the results the targets read. */
static void report_methods(const shape_data *s, const thread_run *r, csv_out *out) {
    const double work = (double)s->n * (double)(s->n - 1) * (double)s->d;
    for (int m = 0; m < M_COUNT; m++) {
        const char *name = method_name[m];
        size_t blk = m == M_BLAS ? r->block : 0;
        if (r->skip[m]) {
            if (r->on[m]) printf("%7zu %5zu %3d  %-10s skipped: %s\n", s->n, s->d, r->t, name, r->skip[m]);
            csv_row(out, s->n, s->d, r->t, name, 0, 0, 0, 0, 0, 0, r->pk, 0,
                    r->on[m] ? "skipped" : "off", r->skip[m]);
            continue;
        }
        double gf = work / r->med[m] * 1e-9;
        double sp = m == M_HR ? 0 : r->med[m] / r->med[M_HR];
        char blks[24] = "-", sps[24] = "-";
        if (blk) snprintf(blks, sizeof blks, "%zu", blk);
        if (sp > 0) snprintf(sps, sizeof sps, "%.2fx", sp);
        printf("%7zu %5zu %3d  %-10s %6s %10.4g %10.4g %10.4g %9.1f %6.1f%% %10s\n", s->n, s->d,
               r->t, name, blks, r->mn[m], r->med[m], r->mx[m], gf, 100.0 * gf / r->pk, sps);
        csv_row(out, s->n, s->d, r->t, name, blk, r->reps[m], r->med[m], r->mn[m], r->mx[m], gf, r->pk,
                sp, "ok", m == M_HR ? "rows normalized inside the timed call"
                                    : "W normalized beforehand, not timed");
        if (nresults < (int)(sizeof results / sizeof results[0])) {
            result *res = &results[nresults++];
            res->n = s->n;
            res->d = s->d;
            res->threads = r->t;
            res->method = m;
            res->seconds = r->med[m];
            res->gflops = gf;
        }
    }
    fflush(stdout);
}

/* Every shape x thread count x method: verify, time, report. */
static int sweep(const options *o) {
    csv_out out;
    double peak[MAXL + 2];
    int failed = 0;
    if (sweep_open(o, &out)) return 2;
    sweep_peaks(o, peak);
    if (!o->quick) printf("estimated run time: ~%.2g min\n", estimate_minutes(o, peak));
    if (o->plan) {
        if (out.f) fclose(out.f);
        return 0;
    }
    if (o->csv) printf("csv: %s\n", o->csv);

    printf("\n%7s %5s %3s  %-10s %6s %10s %10s %10s %9s %7s %10s\n", "N", "d", "thr", "method",
           "block", "min s", "median s", "max s", "GFLOP/s", "%peak", "hr speedup");
    printf("(GFLOP/s and %%peak of the median; hr speedup = peer median / hardreid median)\n");

    for (int in = 0; in < o->nn; in++)
        for (int id = 0; id < o->nd; id++) {
            shape_data s;
            memset(&s, 0, sizeof s);
            s.n = o->ns[in];
            s.d = o->ds[id];
            if (sweep_skip_shape(o, peak, &out, s.n, s.d)) continue;
            s.w = (float *)xmalloc(s.n * s.d * sizeof(float));
            s.wn = (float *)xmalloc(s.n * s.d * sizeof(float));
            s.c1 = (float *)xmalloc(s.n * sizeof(float));
            for (int m = 0; m < M_COUNT; m++) {
                s.c[m] = (float *)xmalloc(s.n * sizeof(float));
                s.nn[m] = (int32_t *)xmalloc(s.n * sizeof(int32_t));
            }
            fill_random(s.w, s.n, s.d);
            if (hr_normalize_rows(s.wn, s.d, s.w, s.d, s.n, s.d) != HR_OK) {
                fprintf(stderr, "bench: hr_normalize_rows failed\n");
                return 2;
            }
            s.inv = inv_norms(s.w, s.n, s.d);

            for (int it = 0; it < o->nt; it++) {
                thread_run r;
                memset(&r, 0, sizeof r);
                r.t = o->ts[it];
                r.pk = peak[r.t <= MAXL ? r.t : 1];
                plan_methods(o, peak, &s, &r);
                set_threads(r.t);
                if (verify_methods(o, &s, &r, &failed)) {
                    free(r.buf);
                    free(r.sbuf);
                    printf("%7zu %5zu %3d  VERIFICATION FAILED (see stderr): not timed\n", s.n, s.d, r.t);
                    for (int m = 0; m < M_COUNT; m++)
                        csv_row(&out, s.n, s.d, r.t, method_name[m], r.block, 0, 0, 0, 0, 0, r.pk, 0,
                                "FAIL", "verification failed");
                    failed = 1;
                    continue;
                }
                if (time_methods(o, &s, &r)) return 2;
                free(r.sbuf);
                free(r.buf);
                report_methods(&s, &r, &out);
            }
            free(s.inv);
            for (int m = 0; m < M_COUNT; m++) {
                free(s.c[m]);
                free(s.nn[m]);
            }
            free(s.c1);
            free(s.wn);
            free(s.w);
        }
    if (out.f) fclose(out.f);
    if (!o->quick) print_targets(peak);
    if (failed) printf("\nVERIFICATION FAILED for at least one case (exit 1)\n");
    return failed ? 1 : 0;
}

/* >>rss ----------------------------------------------------------------*/

static double maxrss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

static int rss_mode(size_t n, size_t d, int threads) {
    double base = maxrss_mib();
    float *w = (float *)xmalloc(n * d * sizeof(float));
    float *c = (float *)xmalloc(n * sizeof(float));
    int32_t *nn = (int32_t *)xmalloc(n * sizeof(int32_t));
    fill_random(w, n, d);
    memset(c, 0, n * sizeof(float));
    memset(nn, 0, n * sizeof(int32_t));
    double before = maxrss_mib();
    omp_set_num_threads(threads);
    double t0 = now_s();
    hr_status s = hr_difficulty(c, nn, w, n, d, d, 0);
    double t = now_s() - t0;
    double peak = maxrss_mib();
    if (s != HR_OK) {
        fprintf(stderr, "bench: hr_difficulty: %s\n", hr_status_string(s));
        return 1;
    }
    double input = (double)n * d * 4 / 1048576.0, limit = 1.2 * input + 64.0;
    printf("rss: N=%zu d=%zu threads=%d isa=%s: %.2f s, %.1f GFLOP/s\n", n, d, threads,
           hr_isa_name(hr_get_isa()), t, (double)n * (double)(n - 1) * d / t * 1e-9);
    printf("rss: input %.1f MiB, peak RSS %.1f MiB (process before W %.1f MiB, with W and"
           " outputs %.1f MiB; hr_difficulty added %.1f MiB)\n",
           input, peak, base, before, peak - before);
    printf("  [%s] N=%zu d=%zu %d threads: peak RSS %.1f MiB <= 1.2 x input + 64 MiB ="
           " %.1f MiB (%s by %.1f MiB)\n",
           peak <= limit ? "PASS" : "MISS", n, d, threads, peak, limit,
           peak <= limit ? "under" : "over", fabs(limit - peak));
    double *inv = inv_norms(w, n, d), md;
    int bad = check_reference(c, nn, w, inv, n, d, &md);
    printf("rss: sampled double-reference check: %s (max |dc| %.2g)\n", bad ? "FAILED" : "ok", md);
    free(inv);
    free(w);
    free(c);
    free(nn);
    return bad ? 1 : 0;
}

/* >>main ---------------------------------------------------------------*/

int main(int argc, char **argv) {
    options o;
    memset(&o, 0, sizeof o);
    size_t dn[] = {1024, 4096, 16384, 65536}, dd[] = {64, 128, 512, 2048};
    o.nn = o.nd = 4;
    memcpy(o.ns, dn, sizeof dn);
    memcpy(o.ds, dd, sizeof dd);
    o.nt = 2;
    o.ts[0] = 1;
    o.ts[1] = 2;
    o.use_blas = o.use_faiss = o.use_syrk = 1;
    o.max_s = 120;
    o.max_mem = 8.0 * 1073741824.0;
    o.csv = "build/bench_difficulty.csv";

#ifdef BENCH_X86
    if (__builtin_cpu_supports("avx2")) rowmax = rowmax_avx2;
#endif

    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        int more = a + 1 < argc;
        if (!strcmp(s, "--rss")) {
            if (a + 3 >= argc) {
                usage();
                return 2;
            }
            size_t n = (size_t)strtoull(argv[a + 1], NULL, 10);
            size_t d = (size_t)strtoull(argv[a + 2], NULL, 10);
            int t = atoi(argv[a + 3]);
            if (n == 0 || d == 0 || t <= 0) {
                usage();
                return 2;
            }
            return rss_mode(n, d, t);
        } else if (!strcmp(s, "--n") && more) {
            parse_list_sz(argv[++a], o.ns, &o.nn);
        } else if (!strcmp(s, "--d") && more) {
            parse_list_sz(argv[++a], o.ds, &o.nd);
        } else if (!strcmp(s, "--threads") && more) {
            size_t tmp[MAXL];
            parse_list_sz(argv[++a], tmp, &o.nt);
            for (int k = 0; k < o.nt; k++) {
                if (tmp[k] > MAXL) {
                    fprintf(stderr, "bench: at most %d threads\n", MAXL);
                    return 2;
                }
                o.ts[k] = (int)tmp[k];
            }
        } else if (!strcmp(s, "--reps") && more) {
            o.reps = atoi(argv[++a]);
        } else if (!strcmp(s, "--csv") && more) {
            o.csv = argv[++a];
        } else if (!strcmp(s, "--max-seconds") && more) {
            o.max_s = atof(argv[++a]);
        } else if (!strcmp(s, "--max-mem") && more) {
            o.max_mem = atof(argv[++a]) * 1073741824.0;
        } else if (!strcmp(s, "--seed") && more) {
            rng_state = (uint64_t)strtoull(argv[++a], NULL, 0);
        } else if (!strcmp(s, "--no-blas")) {
            o.use_blas = 0;
        } else if (!strcmp(s, "--no-syrk")) {
            o.use_syrk = 0;
        } else if (!strcmp(s, "--no-faiss")) {
            o.use_faiss = 0;
        } else if (!strcmp(s, "--plan")) {
            o.plan = 1;
        } else if (!strcmp(s, "--quick")) {
            o.quick = 1;
        } else if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "bench: unknown or incomplete option '%s'\n", s);
            usage();
            return 2;
        }
    }
    if (o.quick) {
        o.nn = o.nd = 1;
        o.ns[0] = 1024;
        o.ds[0] = 64;
        o.nt = 2;
        o.ts[0] = 1;
        o.ts[1] = 2;
        o.reps = 1;
    }
    return sweep(&o);
}
