/* bench_util.h - the small helpers every benchmark in bench/ shares:
   the compiler and flags for the report, a monotonic clock, a seeded
   generator, a median, a 64-byte aligned allocation that exits on failure, and
   the CPU model for the report. The including file defines
   _POSIX_C_SOURCE >= 200112L (clock_gettime, posix_memalign) before
   its first include. */
#ifndef HR_BENCH_UTIL_H
#define HR_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* for the report: flags come from the Makefile (-DBENCH_FLAGS=...) */
#ifndef BENCH_FLAGS
#define BENCH_FLAGS "unknown"
#endif
#ifdef __clang__
#define BENCH_COMPILER "clang " __VERSION__
#else
#define BENCH_COMPILER "gcc " __VERSION__
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sleep s seconds: lets another library's spinning worker threads (OpenBLAS,
   OpenMP teams) go idle before the next method is timed. */
static inline void pause_s(double s) {
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* splitmix64: the benches' seeded generator of test data */
static inline uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* 64-byte aligned, as PyTorch's and oneDNN's allocators give theirs: with
   malloc's 16 a tensor's rows start anywhere in a cache line, every vector
   load of an NHWC row splits in two, and a figure depends on where the
   allocator happened to put the buffer. */
static void *xmalloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 1)) p = NULL;
    if (!p) {
        fprintf(stderr, "bench: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

/* "AMD EPYC (family 25, model 17)": /proc/cpuinfo's model name with its
   family and model numbers, which tell apart CPUs sold under one name
   (Zen 4 and Zen 5 EPYCs both read "AMD EPYC" in a VM). */
static void cpu_model(char *out, size_t cap) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], name[256] = "unknown", fam[32] = "?", mod[32] = "?";
    if (!f) {
        snprintf(out, cap, "unknown");
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char *p = strchr(line, ':');
        if (!p) continue;
        p++;
        while (*p == ' ' || *p == '\t') p++;
        p[strcspn(p, "\n")] = 0;
        if (strncmp(line, "model name", 10) == 0) snprintf(name, sizeof name, "%s", p);
        else if (strncmp(line, "cpu family", 10) == 0) snprintf(fam, sizeof fam, "%s", p);
        else if (strncmp(line, "model\t", 6) == 0) snprintf(mod, sizeof mod, "%s", p);
        if (strncmp(line, "flags", 5) == 0) break; /* the first CPU's block is enough */
    }
    fclose(f);
    snprintf(out, cap, "%s (family %s, model %s)", name, fam, mod);
}

/* Which code a figure belongs to: -DBENCH_GIT from the Makefile (the short
   hash, "-dirty" when the tree had changes). */
#ifndef BENCH_GIT
#define BENCH_GIT "unknown"
#endif

/* OpenBLAS's own word on the kernels it runs (weak: a bench that does not
   link OpenBLAS says "not linked"). */
char *openblas_get_corename(void) __attribute__((weak));
char *openblas_get_config(void) __attribute__((weak));
int openblas_get_parallel(void) __attribute__((weak)); /* 0 serial, 1 pthreads, 2 OpenMP */

/* One line for the report and the CSV's first line: library version and
   git hash, the ISA path, OpenBLAS's core and build. */
static void bench_meta(char *out, size_t cap, const char *isa) {
    static const char *const par[] = {"serial", "pthreads", "OpenMP"};
    int p = openblas_get_parallel ? openblas_get_parallel() : -1;
    snprintf(out, cap, "hardreid %s git %s | isa %s | openblas %s, %s threads (%s)",
             HARDREID_VERSION_STRING, BENCH_GIT, isa,
             openblas_get_corename ? openblas_get_corename() : "not linked",
             p >= 0 && p <= 2 ? par[p] : "-", openblas_get_config ? openblas_get_config() : "-");
}

/* The options bench_gemm and bench_conv share:
     [--quick] [--threads 1,2] [--csv FILE]
   Returns 0, or prints the usage and returns 2. */
typedef struct {
    int quick;
    int threads[4], nth;
    const char *csv;
} bench_opts;

static inline int bench_parse(bench_opts *o, int argc, char **argv) {
    o->quick = 0;
    o->threads[0] = 1;
    o->threads[1] = 2;
    o->nth = 2;
    o->csv = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            o->quick = 1;
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            o->csv = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            o->nth = sscanf(argv[++i], "%d,%d,%d,%d", &o->threads[0], &o->threads[1],
                            &o->threads[2], &o->threads[3]);
            if (o->nth < 1) o->nth = 1;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--threads 1,2] [--csv FILE]\n", argv[0]);
            return 2;
        }
    }
    return 0;
}

#endif
