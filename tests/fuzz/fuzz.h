/* tests/fuzz/fuzz.h - what the libFuzzer harnesses in tests/fuzz/ share.

   Each harness is one translation unit: it defines HARDREID_IMPLEMENTATION,
   includes this file, and defines LLVMFuzzerTestOneInput. Inputs are read
   front to back through fz_in; once the input runs out, the rest comes from
   a splitmix64 stream seeded by the input, so short inputs still give full
   matrices and the fuzzer steers the leading bytes (shape, mode, flags).

   A failed check prints what failed and calls abort(), which libFuzzer
   reports as a crash and saves as an artifact. */
#ifndef HR_FUZZ_H
#define HR_FUZZ_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardreid.h"

#define FZ_CHECK(cond, ...)                                                  \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            abort();                                                         \
        }                                                                    \
    } while (0)

typedef struct fz_in {
    const uint8_t *p;
    size_t n, off;
    uint64_t s; /* splitmix64 state for bytes past the end */
} fz_in;

static inline void fz_init(fz_in *in, const uint8_t *p, size_t n) {
    size_t i;
    in->p = p;
    in->n = n;
    in->off = 0;
    in->s = 0x9E3779B97F4A7C15ull ^ n; /* FNV-1a of the input */
    for (i = 0; i < n; i++) in->s = (in->s ^ p[i]) * 0x100000001B3ull;
}

static inline uint64_t fz_mix(fz_in *in) {
    uint64_t z = (in->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint8_t fz_u8(fz_in *in) {
    return in->off < in->n ? in->p[in->off++] : (uint8_t)fz_mix(in);
}
static inline uint16_t fz_u16(fz_in *in) {
    uint16_t v = fz_u8(in);
    return (uint16_t)(v | (uint16_t)fz_u8(in) << 8);
}
static inline uint32_t fz_u32(fz_in *in) {
    uint32_t v = fz_u16(in);
    return v | (uint32_t)fz_u16(in) << 16;
}

static inline float fz_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline uint32_t fz_ubits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Float generators. FZ_RAW: any bit pattern (NaN, Inf, -0, denormals);
   FZ_FINITE: any finite bit pattern (exponent folded off 255), so every
   magnitude from denormal to FLT_MAX; FZ_SMALL: small integers, many
   zeros and exact ties; FZ_UNIT: multiples of 1/128 in [-1, 1]. */
enum { FZ_RAW, FZ_FINITE, FZ_SMALL, FZ_UNIT, FZ_NMODES };

static inline float fz_float(fz_in *in, int mode) {
    switch (mode) {
    case FZ_RAW: return fz_bits(fz_u32(in));
    case FZ_FINITE: {
        uint32_t u = fz_u32(in);
        if (((u >> 23) & 255) == 255) u &= ~((uint32_t)1 << 30);
        return fz_bits(u);
    }
    case FZ_SMALL: return (float)((int)(fz_u8(in) % 7) - 3);
    default: return (float)((int)(fz_u8(in) % 255) - 127) / 128.0f;
    }
}

/* `bytes` of heap that end exactly at the end of the allocation (so ASan
   flags any access past it), starting `mis` bytes past malloc's alignment.
   Free *base. */
static inline void *fz_alloc(size_t bytes, size_t mis, void **base) {
    char *p = (char *)malloc(bytes + mis ? bytes + mis : 1);
    if (!p) abort();
    *base = p;
    return p + mis;
}

#endif /* HR_FUZZ_H */
