/* blas_probe.c - which OpenBLAS kernel set this process got, and how fast
   it is: prints "<core name> <GFLOP/s>" for a 1-thread sgemm at 768^3 (best
   of 9). bench/peer_env.sh runs it once per candidate OPENBLAS_CORETYPE to
   give the peers their best kernels (OpenBLAS 0.3.21 falls back to its
   SSE3 "Prescott" kernels on CPUs newer than it, e.g. Intel family 6 model
   207, at a tenth of the speed of its AVX-512 ones). */
#define _POSIX_C_SOURCE 200112L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

char *openblas_get_corename(void);
void openblas_set_num_threads(int);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void) {
    const int n = 768;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    double best = 1e30;
    int i, r;
    if (!a || !b || !c) return 1;
    for (i = 0; i < n * n; i++) a[i] = (float)(i % 7) - 3.0f, b[i] = (float)(i % 5) - 2.0f;
    openblas_set_num_threads(1);
    for (r = 0; r < 9; r++) {
        double t = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                    0.0f, c, n);
        t = now_s() - t;
        if (t < best) best = t;
    }
    printf("%s %.1f\n", openblas_get_corename(), 2.0 * n * n * n / best * 1e-9);
    free(a), free(b), free(c);
    return 0;
}
