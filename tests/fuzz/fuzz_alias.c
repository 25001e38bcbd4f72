/* tests/fuzz/fuzz_alias.c - hr_alias_build on arbitrary float bit patterns.

   Input: n (2 bytes; up to 4096, or 2^15 more with mode bit 4), mode,
   misalignment of mem, seed byte, m, then the weights. Checks, against the header's contract:
   - status: HR_ENONFINITE if any weight is NaN/Inf (reported first), else
     HR_EINVAL for n == 0, a negative weight or an all-zero vector, else
     HR_OK; on error neither *a nor mem is written;
   - on HR_OK the table itself: every alias < n, the masses read off it
     (column j gives its threshold to j, the rest to its alias; a full
     column alias == j gives all to j) sum to exactly n 2^32, a zero weight
     has mass 0, and every mass / (n 2^32) is within 2^-32 of w_i / sum w;
     n, reject = 2^32 mod n and npos (categories of nonzero mass) as
     documented;
   - draws: hr_alias_draw and hr_alias_draw_n never return a category out
     of range or of zero weight, and hr_alias_draw_n gives the same output
     and generator state on the scalar path and on the best one. */
#define HARDREID_IMPLEMENTATION
#include "fuzz.h"

#define MAXN 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in;
    size_t n, i, mis, m, bytes;
    int mode, has_nonfinite = 0, has_neg = 0, has_pos = 0;
    hr_status want, got;
    float *w;
    void *wbase, *mbase;
    unsigned char *mem, *copy;
    hr_alias a, a0;
    uint8_t seed;

    fz_init(&in, data, size);
    n = fz_u16(&in) % (MAXN + 1);
    mode = fz_u8(&in);
    /* mode bit 4: past 2^15 categories, where the AVX2 batched draw runs
       its generator ahead with prefetches (a table past L2) */
    if (mode & 16) n += (size_t)1 << 15;
    mis = fz_u8(&in) % 64;
    seed = fz_u8(&in);
    m = fz_u8(&in);
    w = (float *)fz_alloc(n * sizeof(float), 0, &wbase);
    for (i = 0; i < n; i++) {
        /* mode's low bits pick the generator; bit 2: mostly zeros */
        float v = fz_float(&in, mode % FZ_NMODES);
        if ((mode & 4) && (fz_u8(&in) & 3)) v = 0.0f;
        if ((mode & 8) && v < 0) v = -v;
        w[i] = v;
        if (!isfinite(v)) has_nonfinite = 1;
        else if (v < 0) has_neg = 1;
        else if (v > 0) has_pos = 1;
    }
    want = has_nonfinite ? HR_ENONFINITE
         : (n == 0 || has_neg || !has_pos) ? HR_EINVAL : HR_OK;

    bytes = hr_alias_size(n);
    FZ_CHECK(bytes >= n * 8, "hr_alias_size(%zu) = %zu", n, bytes);
    mem = (unsigned char *)fz_alloc(bytes, mis, &mbase);
    copy = (unsigned char *)malloc(bytes ? bytes : 1);
    for (i = 0; i < bytes; i++) mem[i] = (unsigned char)(0xA5 ^ i);
    memcpy(copy, mem, bytes);
    memset(&a, 0x5A, sizeof a);
    a0 = a;

    got = hr_alias_build(&a, mem, w, n);
    FZ_CHECK(got == want, "n=%zu status %d, want %d", n, (int)got, (int)want);
    if (got != HR_OK) {
        FZ_CHECK(memcmp(&a, &a0, sizeof a) == 0, "*a written on error");
        FZ_CHECK(memcmp(mem, copy, bytes) == 0, "mem written on error");
    } else {
        const uint64_t T = (uint64_t)1 << 32;
        uint64_t *mass = (uint64_t *)calloc(n, sizeof(uint64_t)), total = 0;
        long double sum = 0.0L;
        uint32_t npos = 0;
        uint32_t *o1, *o2;
        hr_rng r, r1, r2;
        FZ_CHECK(a.n == n, "a.n = %u", a.n);
        FZ_CHECK(a.reject == (uint32_t)(T % n), "a.reject = %u", a.reject);
        FZ_CHECK((const unsigned char *)a.tab >= mem &&
                     (const unsigned char *)(a.tab + n) <= mem + bytes,
                 "table outside mem");
        for (i = 0; i < n; i++) {
            const uint64_t e = a.tab[i];
            const uint32_t thr = (uint32_t)e, al = (uint32_t)(e >> 32);
            FZ_CHECK(al < n, "entry %zu: alias %u >= n %zu", i, al, n);
            if (al == i) {
                mass[i] += T;
            } else {
                mass[i] += thr;
                mass[al] += T - thr;
            }
            sum += (long double)w[i];
        }
        for (i = 0; i < n; i++) {
            const long double p = (long double)mass[i] / ((long double)n * T);
            const long double q = (long double)w[i] / sum;
            total += mass[i];
            npos += mass[i] != 0;
            if (w[i] == 0.0f)
                FZ_CHECK(mass[i] == 0, "zero weight %zu has mass %llu", i,
                         (unsigned long long)mass[i]);
            FZ_CHECK(fabsl(p - q) <= 0x1p-32L * (1.0L + 0x1p-20L),
                     "n=%zu category %zu: probability %.20Lg, weight share "
                     "%.20Lg (off by %Lg, allowed 2^-32)",
                     n, i, p, q, fabsl(p - q));
        }
        FZ_CHECK(total == (uint64_t)n * T, "masses sum to %llu, not n 2^32",
                 (unsigned long long)total);
        FZ_CHECK(npos == a.npos, "npos %u, counted %u", a.npos, npos);

        hr_rng_seed(&r, seed);
        for (i = 0; i < 64; i++) {
            const uint32_t v = hr_alias_draw(&a, &r);
            FZ_CHECK(v < n && w[v] > 0.0f && mass[v] > 0,
                     "hr_alias_draw gave %u (n %zu)", v, n);
        }
        o1 = (uint32_t *)malloc((m ? m : 1) * sizeof(uint32_t));
        o2 = (uint32_t *)malloc((m ? m : 1) * sizeof(uint32_t));
        r1 = r2 = r;
        FZ_CHECK(hr_set_isa(HR_ISA_SCALAR) == HR_OK, "scalar");
        hr_alias_draw_n(o1, m, &a, &r1);
        FZ_CHECK(hr_set_isa(HR_ISA_AUTO) == HR_OK, "auto");
        hr_alias_draw_n(o2, m, &a, &r2);
        FZ_CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "draw_n: rng state differs");
        for (i = 0; i < m; i++) {
            FZ_CHECK(o1[i] == o2[i], "draw_n[%zu]: scalar %u, %s %u", i, o1[i],
                     hr_isa_name(hr_get_isa()), o2[i]);
            FZ_CHECK(o1[i] < n && w[o1[i]] > 0.0f,
                     "draw_n gave %u (n %zu)", o1[i], n);
        }
        free(o1);
        free(o2);
        free(mass);
    }
    free(copy);
    free(mbase);
    free(wbase);
    return 0;
}
