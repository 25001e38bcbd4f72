/* bench_peak.h - the measured single-precision FMA peaks (GFLOP/s) that
   every benchmark reports its figures against: 12 independent ymm FMA
   chains per thread (AVX2) and 24 zmm chains (AVX-512), measured in the
   same run; figures are given against the peak of the path used. The including file includes bench_util.h (now_s)
   first. */
#ifndef HR_BENCH_PEAK_H
#define HR_BENCH_PEAK_H

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#ifndef BENCH_X86
#define BENCH_X86 1
#endif
#endif

/* >>fmapeak ------------------------------------------------------------
   12 independent ymm FMA chains: enough to cover 2 pipes x 4-5 cycles of
   latency on Zen 4 / Skylake-class cores. a <- a*m + b converges to
   b/(1-m) = 1, so nothing overflows or goes subnormal. */

#ifdef BENCH_X86
#define FMA_FLOPS_PER_ITER (12.0 * 8.0 * 2.0)

__attribute__((target("avx2,fma"), noinline))
static float fma_chains(long iters, float seed) {
    __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed + 0.01f);
    __m256 a2 = _mm256_set1_ps(seed + 0.02f), a3 = _mm256_set1_ps(seed + 0.03f);
    __m256 a4 = _mm256_set1_ps(seed + 0.04f), a5 = _mm256_set1_ps(seed + 0.05f);
    __m256 a6 = _mm256_set1_ps(seed + 0.06f), a7 = _mm256_set1_ps(seed + 0.07f);
    __m256 a8 = _mm256_set1_ps(seed + 0.08f), a9 = _mm256_set1_ps(seed + 0.09f);
    __m256 a10 = _mm256_set1_ps(seed + 0.10f), a11 = _mm256_set1_ps(seed + 0.11f);
    const __m256 m = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
    for (long it = 0; it < iters; it++) {
        a0 = _mm256_fmadd_ps(a0, m, b);
        a1 = _mm256_fmadd_ps(a1, m, b);
        a2 = _mm256_fmadd_ps(a2, m, b);
        a3 = _mm256_fmadd_ps(a3, m, b);
        a4 = _mm256_fmadd_ps(a4, m, b);
        a5 = _mm256_fmadd_ps(a5, m, b);
        a6 = _mm256_fmadd_ps(a6, m, b);
        a7 = _mm256_fmadd_ps(a7, m, b);
        a8 = _mm256_fmadd_ps(a8, m, b);
        a9 = _mm256_fmadd_ps(a9, m, b);
        a10 = _mm256_fmadd_ps(a10, m, b);
        a11 = _mm256_fmadd_ps(a11, m, b);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}

/* 24 independent zmm FMA chains: Zen 5's two 512-bit pipes x 4 cycles
   need 8, double-pumped Zen 4 and Intel's two ports more; 24 covers all. */
#define FMA512_FLOPS_PER_ITER (24.0 * 16.0 * 2.0)

__attribute__((target("avx512f"), noinline))
static float fma_chains512(long iters, float seed) {
    __m512 a[24];
    const __m512 m = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps(seed + 0.01f * (float)i);
    for (long it = 0; it < iters; it++) {
#define FMA512_4(i) a[i] = _mm512_fmadd_ps(a[i], m, b); a[i + 1] = _mm512_fmadd_ps(a[i + 1], m, b); \
                    a[i + 2] = _mm512_fmadd_ps(a[i + 2], m, b); a[i + 3] = _mm512_fmadd_ps(a[i + 3], m, b);
        FMA512_4(0) FMA512_4(4) FMA512_4(8) FMA512_4(12) FMA512_4(16) FMA512_4(20)
#undef FMA512_4
    }
    __m512 s = a[0];
    for (int i = 1; i < 24; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

static volatile float fma_sink;

/* Best of 3 runs of ~min_s seconds each, every thread its own chains:
   zmm chains when avx512 (NAN without AVX-512F), else ymm. */
static double fma_peak_gflops_isa(int avx512, int threads, double min_s) {
    float (*chains)(long, float) = avx512 ? fma_chains512 : fma_chains;
    const double per_iter = avx512 ? FMA512_FLOPS_PER_ITER : FMA_FLOPS_PER_ITER;
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return NAN;
    if (avx512 && !__builtin_cpu_supports("avx512f")) return NAN;
    long iters = 1 << 16;
    for (;;) { /* calibrate on one thread */
        double t0 = now_s();
        fma_sink = chains(iters, 0.5f);
        double t = now_s() - t0;
        if (t >= min_s / 4) {
            iters = (long)((double)iters * min_s / t) + 1;
            break;
        }
        iters *= 4;
    }
    double best = 0;
    for (int rep = 0; rep < 4; rep++) { /* rep 0 wakes the team: not kept */
        double t0 = now_s(), t;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
        {
            float r = chains(iters, 0.5f + 0.001f * (float)omp_get_thread_num());
            if (r == 12345.0f) fma_sink = r;
        }
#else
        fma_sink = chains(iters, 0.5f);
#endif
        t = now_s() - t0;
        double g = per_iter * (double)iters * threads / t * 1e-9;
        if (rep > 0 && g > best) best = g;
    }
    return best;
}

/* The AVX2 peak (ymm chains). */
static inline double fma_peak_gflops(int threads, double min_s) {
    return fma_peak_gflops_isa(0, threads, min_s);
}
#else
static double fma_peak_gflops_isa(int avx512, int threads, double min_s) {
    (void)avx512;
    (void)threads;
    (void)min_s;
    return NAN;
}
static inline double fma_peak_gflops(int threads, double min_s) {
    return fma_peak_gflops_isa(0, threads, min_s);
}
#endif

/* The peak of the path hardreid runs now (hardreid.h included first):
   AVX-512's zmm chains on the avx512 path, AVX2's ymm chains otherwise. */
#define fma_peak_path(threads, min_s) \
    fma_peak_gflops_isa(hr_get_isa() == HR_ISA_AVX512, (threads), (min_s))

#endif
