/* tests/harness.h - the test framework and the helpers every test file shares.

   Include this FIRST in a test file (it sets feature macros before any system
   header), then "hardreid.h".

   Default: Criterion. With -DHR_TEST_MINI: a minimal drop-in with the same
   spelling, for runs where Criterion cannot work (its worker spawn/IPC never
   completes under qemu-aarch64). The mini runner
   runs every test in this one process: a failed assertion or a crash signal
   ends that test only (the library's ISA choice carries over, so every test
   sets the ISA it relies on). It prints "N passed, M failed" last and exits
   non-zero on any failure; an argument runs one suite or one suite::name.
   Tests use only this subset of Criterion, with a format string always given:
     Test(suite, name) / Test(suite, name, .timeout = s)
     cr_assert(cond, fmt, ...)      cr_assert_eq(a, b, fmt, ...)
     cr_expect(cond, fmt, ...)      cr_log_info(fmt, ...)
   and hr_t_log(fmt, ...) below for lines that show in every run.
   HR_TEST_QUICK (set for the qemu run) shrinks the largest shapes. */
#ifndef HR_TEST_HARNESS_H
#define HR_TEST_HARNESS_H

#ifdef HR_TEST_MINI
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct hr_mini_test {
    const char *suite, *name;
    void (*fn)(void);
    struct hr_mini_test *next;
} hr_mini_test;

/* runner state, defined in tests/impl.c (HR_TEST_MINI_MAIN) */
extern hr_mini_test *hr_mini_tests; /* registration list              */
extern int hr_mini_failures;        /* failed checks of the running test */
extern sigjmp_buf hr_mini_jmp;      /* back to the runner              */

static inline void hr_mini_register(hr_mini_test *t) {
    t->next = hr_mini_tests;
    hr_mini_tests = t;
}

__attribute__((format(printf, 4, 5))) static inline void
hr_mini_report(const char *file, int line, const char *cond, const char *fmt,
               ...) {
    va_list ap;
    fprintf(stderr, "%s:%d: failed: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

#define Test(...) HR_MINI_TEST_(__VA_ARGS__, 0)
#define HR_MINI_TEST_(suite, name, ...)                                      \
    static void suite##_##name##_impl(void);                                 \
    static hr_mini_test suite##_##name##_reg = {#suite, #name,               \
                                                suite##_##name##_impl, 0};   \
    __attribute__((constructor)) static void suite##_##name##_ctor(void) {   \
        hr_mini_register(&suite##_##name##_reg);                             \
    }                                                                        \
    static void suite##_##name##_impl(void)

#define cr_assert(cond, ...)                                                 \
    do {                                                                     \
        if (!(cond)) {                                                       \
            hr_mini_report(__FILE__, __LINE__, #cond, __VA_ARGS__);          \
            siglongjmp(hr_mini_jmp, 1);                                      \
        }                                                                    \
    } while (0)
#define cr_expect(cond, ...)                                                 \
    do {                                                                     \
        if (!(cond)) {                                                       \
            hr_mini_report(__FILE__, __LINE__, #cond, __VA_ARGS__);          \
            hr_mini_failures++;                                              \
        }                                                                    \
    } while (0)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_log_info(...)                                                     \
    do {                                                                     \
        fprintf(stderr, "[info] " __VA_ARGS__);                              \
        fputc('\n', stderr);                                                 \
    } while (0)

/* The runner; expanded once, in tests/impl.c (HR_TEST_MINI_MAIN). Tests run
   in this process: a failed assertion siglongjmps back here, and a crash
   signal is caught and counted, so the run goes on. */
#ifdef HR_TEST_MINI_MAIN
hr_mini_test *hr_mini_tests;
int hr_mini_failures;
sigjmp_buf hr_mini_jmp;

static void hr_mini_on_signal(int sig) { siglongjmp(hr_mini_jmp, 100 + sig); }

int main(int argc, char **argv) {
    /* constructors prepend: reverse once to run in registration order */
    /* volatile: live across sigsetjmp */
    hr_mini_test *volatile t;
    hr_mini_test *rev = NULL, *nx;
    volatile int passed = 0, failed = 0;
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    /* optional argument: run only that suite, or one test as suite::name */
    const char *filter = argc > 1 ? argv[1] : NULL;
    char full[256];
    size_t q;
    for (t = hr_mini_tests; t; t = nx) {
        nx = t->next;
        t->next = rev;
        rev = t;
    }
    for (q = 0; q < sizeof sigs / sizeof sigs[0]; q++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = hr_mini_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[q], &sa, NULL);
    }
    for (t = rev; t; t = t->next) {
        struct timespec t0, t1;
        volatile int jumped;
        double secs;
        snprintf(full, sizeof full, "%s::%s", t->suite, t->name);
        if (filter && strcmp(filter, t->suite) != 0 &&
            strcmp(filter, full) != 0)
            continue;
        hr_mini_failures = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        jumped = sigsetjmp(hr_mini_jmp, 1);
        if (!jumped) t->fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        secs = (double)(t1.tv_sec - t0.tv_sec) +
               1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (!jumped && !hr_mini_failures) {
            passed++;
            fprintf(stderr, "[PASS] %s (%.2fs)\n", full, secs);
        } else {
            failed++;
            if (jumped > 100)
                fprintf(stderr, "[FAIL] %s: crashed (signal %d)\n", full,
                        jumped - 100);
            else
                fprintf(stderr, "[FAIL] %s (%.2fs)\n", full, secs);
        }
        fflush(stderr);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
#endif /* HR_TEST_MINI_MAIN */

#else /* Criterion */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#endif

/* A line on stderr that shows in every run (Criterion prints cr_log_info
   only with --verbose). */
#define hr_t_log(...)                                                        \
    do {                                                                     \
        fprintf(stderr, "[info] " __VA_ARGS__);                              \
        fputc('\n', stderr);                                                 \
    } while (0)

/* ------------------------------------------------------------------------
   Shared helpers (static inline: unused ones cost nothing, warn nothing). */
#include <float.h>
#include <math.h>
#include "hardreid.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* splitmix64: the fixed-seed PRNG of every test */
static inline uint64_t hr_t_rng(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* uniform in [-1, 1) */
static inline float hr_t_unif(uint64_t *s) {
    return (float)((double)(hr_t_rng(s) >> 11) * (2.0 / 9007199254740992.0) -
                   1.0);
}
static inline size_t hr_t_below(uint64_t *s, size_t n) {
    return (size_t)(hr_t_rng(s) % (uint64_t)n);
}

static inline void *hr_t_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "test: out of memory (%zu bytes)\n", bytes);
        abort();
    }
    return p;
}

/* An alias table in memory of its own (test_sampling.c, test_sampler_exact.c);
   the build must succeed. */
typedef struct {
    hr_alias a;
    void *mem;
} hr_t_table;
static inline hr_t_table hr_t_table_new(const float *w, size_t n) {
    hr_t_table t;
    hr_status s;
    t.mem = hr_t_alloc(hr_alias_size(n));
    s = hr_alias_build(&t.a, t.mem, w, n);
    cr_assert_eq(s, HR_OK, "hr_alias_build(n=%zu): %s", n, hr_status_string(s));
    return t;
}
/* The integer masses a table implies (they sum to n 2^32): column c gives
   its threshold to c and 2^32 - threshold to its alias; a full column
   (alias == c) all 2^32. */
static inline void hr_t_table_masses(const hr_alias *a, uint64_t *mass) {
    uint32_t c;
    memset(mass, 0, a->n * sizeof(uint64_t));
    for (c = 0; c < a->n; c++) {
        const uint64_t e = a->tab[c];
        const uint32_t al = (uint32_t)(e >> 32);
        cr_assert(al < a->n, "column %u: alias %u out of range", c, al);
        if (al == c) {
            mass[c] += (uint64_t)1 << 32;
        } else {
            mass[c] += (uint32_t)e;
            mass[al] += ((uint64_t)1 << 32) - (uint32_t)e;
        }
    }
}

/* hr_alias_draw_n's documented definition, with public calls only */
static inline void hr_t_spec_draw_n(uint32_t *out, size_t m, const hr_alias *a, hr_rng *r) {
    hr_rng lane[8];
    uint64_t x;
    size_t i;
    int k;
    if (!m) return;
    x = hr_rng_next(r);
    for (k = 0; k < 8; k++)
        hr_rng_seed(&lane[k], x + 4u * (uint64_t)k * 0x9E3779B97F4A7C15ull);
    for (i = 0; i < m; i++) out[i] = hr_alias_draw(a, &lane[i % 8]);
}

/* sentinel fills: outputs that must stay untouched are filled with these */
#define HR_T_SENT_F 12345.5f
#define HR_T_SENT_I ((int32_t)0x5A5A5A5A)
static inline void hr_t_fill_f(float *p, size_t n, float v) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = v;
}
static inline void hr_t_fill_i(int32_t *p, size_t n, int32_t v) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = v;
}
static inline size_t hr_t_count_ne_f(const float *p, size_t n, float v) {
    size_t i, bad = 0;
    for (i = 0; i < n; i++) bad += memcmp(&p[i], &v, sizeof v) != 0;
    return bad;
}
static inline size_t hr_t_count_ne_i(const int32_t *p, size_t n, int32_t v) {
    size_t i, bad = 0;
    for (i = 0; i < n; i++) bad += p[i] != v;
    return bad;
}

/* ISA iteration: every ISA of the library's registry (HR_ISA_SCALAR ..
   HR_ISA_COUNT - 1) that this build and CPU run, then back to AUTO. */
static inline int hr_t_cpu_has_avx2(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* AVX-512F with the OS saving ZMM state, asked of the CPU directly (cpuid
   leaf 7, XGETBV), not of the library, whose answer is what is tested. */
static inline int hr_t_cpu_has_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned a, b, c, d, lo, hi;
    if (!hr_t_cpu_has_avx2()) return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 27))) return 0; /* OSXSAVE */
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    if (!(b & (1u << 16))) return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 0xE6u) == 0xE6u;
#else
    return 0;
#endif
}

/* The ISAs that must run here (the library cannot quietly drop a path):
   a CPU that has AVX2 or AVX-512 and a run where that path did not run
   fails the test, it does not skip. */
static inline unsigned hr_t_required_isas(void) {
    unsigned m = 1u << HR_ISA_SCALAR;
#if !defined(HR_NO_SIMD)
#if defined(__x86_64__)
    if (hr_t_cpu_has_avx2()) m |= 1u << HR_ISA_AVX2;
    if (hr_t_cpu_has_avx512()) m |= 1u << HR_ISA_AVX512;
#elif defined(__aarch64__)
    m |= 1u << HR_ISA_NEON;
#endif
#endif
    return m;
}

/* for_each_isa: run fn(isa, ctx) on every supported ISA, forced with
   hr_set_isa; assert the required ones all ran; restore HR_ISA_AUTO. */
#define for_each_isa(fn, ctx)                                                \
    do {                                                                     \
        unsigned ran_ = 0, req_ = hr_t_required_isas();                      \
        int k_;                                                              \
        for (k_ = HR_ISA_SCALAR; k_ < HR_ISA_COUNT; k_++) {                  \
            hr_isa isa_ = (hr_isa)k_;                                        \
            if (!hr_isa_supported(isa_)) continue;                           \
            cr_assert_eq(hr_set_isa(isa_), HR_OK, "hr_set_isa(%s)",          \
                         hr_isa_name(isa_));                                 \
            cr_assert_eq(hr_get_isa(), isa_, "hr_get_isa after set %s",      \
                         hr_isa_name(isa_));                                 \
            fn(isa_, ctx);                                                   \
            ran_ |= 1u << isa_;                                              \
        }                                                                    \
        cr_assert_eq(hr_set_isa(HR_ISA_AUTO), HR_OK, "restore AUTO");        \
        cr_assert((ran_ & req_) == req_,                                     \
                  "ISAs ran 0x%x, required 0x%x", ran_, req_);               \
    } while (0)

#endif /* HR_TEST_HARNESS_H */
