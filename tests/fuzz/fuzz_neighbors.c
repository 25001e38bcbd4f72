/* tests/fuzz/fuzz_neighbors.c - hr_difficulty, hr_neighbors_topk and
   hr_normalize_rows on arbitrary small matrices, the scalar path against
   the best one.

   Input: n, d, ldw, flags, k, float mode, which pointers are NULL, then W.
   n up to 255, d up to 600 (more than one k block on every path: kc is 256
   scalar, 512 AVX2/NEON), n * d <= 20000; the padding between rows (ldw > d)
   and past the last row's d columns holds NaN / nothing, so a read past d
   shows. What the header guarantees and this checks, with tol =
   max(HR_TOL_ISA, HR_TOL_ISA_WORST(d)) (fuzzed rows may round alike):
   - status: HR_EINVAL (unknown flag, ldw < d, a NULL c / sim or w with
     n > 0), else HR_ENONFINITE (NaN/Inf in W), else, with HR_UNIT_ROWS,
     HR_EINVAL for a row neither zero nor unit within 1e-3 in squared norm,
     else HR_OK; the same on both paths; every output untouched on error;
   - on HR_OK, per path: n == 1 gives -INFINITY / -1; else every value is
     within tol of the double-precision reference (difficulty: the max over
     j != i of cos(w_i, w_j), a zero row counting 0; top-k: the r-th
     largest) and of its own index's reference cosine, the index another
     row; top-k rows sorted (equal values: ascending index), padded with
     -INFINITY / -1 past n - 1; top-k with k = 1 equals hr_difficulty
     bitwise; hr_difficulty on hr_normalize_rows(W) with HR_UNIT_ROWS
     equals hr_difficulty(W, 0) bitwise;
   - across paths: values within tol; indices equal unless both candidates'
     reference cosines are within 3 tol of each other.
   HR_UNIT_ROWS on the raw rows (accepted when they are within 1e-3 of unit
   length): status, index range, top-1 == difficulty and memory safety. */
#define HARDREID_IMPLEMENTATION
#include "fuzz.h"

#define MAXN 255
#define MAXD 600
#define MAXND 20000
/* HR_TOL_ISA holds for rows whose product roundings do not all lean one
   way; fuzzed rows may (constant rows do), so the documented worst case
   HR_TOL_ISA_WORST(d) applies where it is the larger */
#define TOL (tol_of(jb->d))
static double tol_of(size_t d) {
    const double a = HR_TOL_ISA, b = HR_TOL_ISA_WORST(d);
    return a > b ? a : b;
}

typedef struct job {
    size_t n, d, ldw, k;
    int topk;           /* hr_neighbors_topk with k (k may be 0), else
                           hr_difficulty (k == 0) */
    unsigned flags;
    int raw_unit; /* HR_UNIT_ROWS on un-normalized rows */
    const float *w;
    double *cos; /* n x n reference cosines (diagonal unused) */
} job;

/* cos(w_i, w_j) in double from the rows as given; 0 if either is zero */
static void ref_cos(job *jb) {
    const size_t n = jb->n, d = jb->d;
    double *nrm = (double *)malloc((n ? n : 1) * sizeof(double));
    size_t i, j, t;
    for (i = 0; i < n; i++) {
        double s = 0.0;
        for (t = 0; t < d; t++) s += (double)jb->w[i * jb->ldw + t] * jb->w[i * jb->ldw + t];
        nrm[i] = sqrt(s);
    }
    for (i = 0; i < n; i++)
        for (j = i; j < n; j++) {
            double s = 0.0, v;
            for (t = 0; t < d; t++)
                s += (double)jb->w[i * jb->ldw + t] * jb->w[j * jb->ldw + t];
            v = nrm[i] > 0.0 && nrm[j] > 0.0 ? s / nrm[i] / nrm[j] : 0.0;
            jb->cos[i * n + j] = jb->cos[j * n + i] = v;
        }
    free(nrm);
}

/* HR_UNIT_ROWS on rows as given: HR_EINVAL if a row is neither zero nor
   unit within 1e-3 in squared norm. *borderline: some row sits so close to
   1e-3 that the paths' summation orders may decide differently. */
static hr_status unit_rows(const float *w, size_t n, size_t d, size_t ld,
                           int *borderline) {
    hr_status s = HR_OK;
    size_t i, t;
    *borderline = 0;
    for (i = 0; i < n; i++) {
        double ss = 0.0, e;
        for (t = 0; t < d; t++) ss += (double)w[i * ld + t] * w[i * ld + t];
        e = fabs(ss - 1.0);
        if (ss != 0.0 && e > 1e-3) s = HR_EINVAL;
        if (fabs(e - 1e-3) <= 1e-12) *borderline = 1;
    }
    return s;
}

static int hr_t_untouched(const float *v, const int32_t *x, size_t m) {
    size_t i;
    for (i = 0; i < m; i++)
        if (fz_ubits(v[i]) != fz_ubits(12345.5f) || x[i] != 0x5A5A5A5A) return 0;
    return 1;
}

static int cmp_desc(const void *x, const void *y) {
    const double a = *(const double *)x, b = *(const double *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* One path's results: val/idx are n x kk (kk = k, or 1 for difficulty). */
static void check_path(const job *jb, const float *val, const int32_t *idx,
                       const char *isa) {
    const size_t n = jb->n, kk = jb->k ? jb->k : 1;
    double *row = (double *)malloc((n ? n : 1) * sizeof(double));
    size_t i, j, r;
    for (i = 0; i < n; i++) {
        size_t m = 0;
        for (j = 0; j < n; j++)
            if (j != i) row[m++] = jb->cos[i * n + j];
        qsort(row, m, sizeof(double), cmp_desc);
        for (r = 0; r < kk; r++) {
            const float v = val[i * kk + r];
            const int32_t x = idx ? idx[i * kk + r] : 0;
            if (r >= m) {
                FZ_CHECK(v == -INFINITY && (!idx || x == -1),
                         "[%s] n=%zu row %zu slot %zu: padding %g / %d", isa,
                         n, i, r, (double)v, (int)x);
                continue;
            }
            if (jb->raw_unit) {
                FZ_CHECK(!idx || (x >= -1 && x < (int32_t)n && x != (int32_t)i),
                         "[%s] unit-rows garbage: index %d", isa, (int)x);
                continue;
            }
            FZ_CHECK(fabs((double)v - row[r]) <= TOL,
                     "[%s] n=%zu d=%zu k=%zu row %zu slot %zu: %.9g, "
                     "reference %.9g",
                     isa, n, jb->d, jb->k, i, r, (double)v, row[r]);
            if (!idx) continue;
            FZ_CHECK(x >= 0 && (size_t)x < n && (size_t)x != i,
                     "[%s] row %zu slot %zu: index %d", isa, i, r, (int)x);
            FZ_CHECK(fabs((double)v - jb->cos[i * n + (size_t)x]) <= TOL,
                     "[%s] row %zu slot %zu: %.9g for index %d, whose "
                     "reference cosine is %.9g",
                     isa, i, r, (double)v, (int)x, jb->cos[i * n + (size_t)x]);
            if (r > 0) {
                const float pv = val[i * kk + r - 1];
                const int32_t px = idx[i * kk + r - 1];
                FZ_CHECK(pv > v || (pv == v && px < x),
                         "[%s] row %zu: slots %zu, %zu not in order "
                         "(%.9g/%d, %.9g/%d)",
                         isa, i, r - 1, r, (double)pv, (int)px, (double)v,
                         (int)x);
            }
        }
    }
    free(row);
}

static hr_status run(const job *jb, float *val, int32_t *idx, const float *w,
                     unsigned flags) {
    return jb->topk ? hr_neighbors_topk(val, idx, jb->k, w, jb->n, jb->d, jb->ldw, flags)
                 : hr_difficulty(val, idx, w, jb->n, jb->d, jb->ldw, flags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const hr_isa isas[2] = {HR_ISA_SCALAR, HR_ISA_AUTO};
    fz_in in;
    job jb;
    size_t n, d, ldw, st, wlen, kk, nres, i, t, r;
    unsigned op, fl, p, dup, flags;
    int mode, unit, raw_unit, null_w, null_val, null_idx, bad_ldw, badflag;
    int nonfinite = 0, q, borderline = 0;
    hr_status want, got[2];
    float *w, *wn, *val[2], *v1;
    int32_t *idx[2], *i1;
    void *wb, *wnb;

    fz_init(&in, data, size);
    n = fz_u8(&in) % (MAXN + 1);
    d = fz_u16(&in) % (MAXD + 1);
    if (n && n * d > MAXND) d = MAXND / n;
    fl = fz_u8(&in);
    op = fz_u8(&in);
    mode = fz_u8(&in) % FZ_NMODES;
    p = fz_u8(&in);
    dup = fz_u8(&in);

    /* fl: row padding 0..7, or (bit 3) a stride below the width */
    bad_ldw = (fl & 8) && d > 0;
    ldw = bad_ldw ? d - 1 - (fl >> 4) % d : d + (fl & 7);
    st = bad_ldw ? d : ldw; /* the layout actually allocated */
    /* op: bit 0 top-k (k from the next byte, 0 .. n+2) else difficulty;
       bit 1 HR_UNIT_ROWS; bits 2-4 all set: an unknown flag bit too */
    memset(&jb, 0, sizeof jb);
    jb.topk = op & 1;
    jb.k = jb.topk ? fz_u8(&in) % (n + 3) : 0;
    unit = (op & 2) != 0;
    badflag = (op & 0x1C) == 0x1C;
    flags = (unit ? HR_UNIT_ROWS : 0u) | (badflag ? 2u << ((op >> 5) & 7) : 0u);
    /* p: bits 0-2 == 1: w NULL, == 2: c / sim NULL; bit 3 nearest / idx
       NULL; bit 6: HR_UNIT_ROWS on the raw rows (garbage in) */
    null_w = (p & 7) == 1;
    null_val = (p & 7) == 2;
    null_idx = (p & 8) != 0;
    raw_unit = unit && (p & 0x40);
    wlen = n ? (n - 1) * st + d : 0;
    w = (float *)fz_alloc(wlen * sizeof(float), 0, &wb);
    for (i = 0; i < n; i++)
        for (t = 0; t < st && i * st + t < wlen; t++)
            w[i * st + t] = t < d ? fz_float(&in, mode) : NAN;
    /* dup: copy rows onto others, some doubled (exact ties, equal rows) */
    if (n > 1 && (dup & 1))
        for (t = 0; t < (size_t)((dup >> 1) & 7) + 1; t++) {
            const size_t src = fz_u8(&in) % n, dst = fz_u8(&in) % n;
            const float sc = (dup & 0x40) ? 2.0f : 1.0f;
            for (i = 0; i < d; i++) w[dst * st + i] = sc * w[src * st + i];
        }
    for (i = 0; i < n; i++)
        for (t = 0; t < d; t++) nonfinite |= !isfinite(w[i * st + t]);

    jb.n = n;
    jb.d = d;
    jb.ldw = ldw;
    jb.flags = flags;
    jb.raw_unit = raw_unit;
    jb.w = w;
    kk = jb.k ? jb.k : 1;
    nres = n * kk;

    /* the documented status, from the arguments alone */
    if (badflag || bad_ldw) want = HR_EINVAL;
    else if (n > 0 && (null_w || (null_val && (jb.k || !jb.topk)))) want = HR_EINVAL;
    else if (n > 0 && nonfinite) want = HR_ENONFINITE;
    else if (raw_unit && unit_rows(w, n, d, st, &borderline) != HR_OK) want = HR_EINVAL;
    else want = HR_OK;

    /* with HR_UNIT_ROWS the matrix passed is hr_normalize_rows(W) (unless
       raw_unit), normalized on the path under test */
    wn = (float *)fz_alloc(wlen * sizeof(float), 0, &wnb);

    for (q = 0; q < 2; q++) {
        const float *wq = w;
        val[q] = (float *)malloc((nres ? nres : 1) * sizeof(float));
        idx[q] = (int32_t *)malloc((nres ? nres : 1) * sizeof(int32_t));
        for (i = 0; i < nres; i++) {
            val[q][i] = 12345.5f;
            idx[q][i] = 0x5A5A5A5A;
        }
        FZ_CHECK(hr_set_isa(isas[q]) == HR_OK, "hr_set_isa");
        if (unit && !raw_unit && !bad_ldw) {
            hr_status sn;
            memcpy(wn, w, wlen * sizeof(float));
            sn = hr_normalize_rows(wn, ldw, w, ldw, n, d);
            FZ_CHECK(sn == (n && nonfinite ? HR_ENONFINITE : HR_OK),
                     "hr_normalize_rows: status %d", (int)sn);
            if (sn != HR_OK)
                FZ_CHECK(memcmp(wn, w, wlen * sizeof(float)) == 0,
                         "hr_normalize_rows wrote on error");
            else
                for (i = 0; i < n; i++) {
                    double s2 = 0.0;
                    for (t = 0; t < d; t++) s2 += (double)wn[i * ldw + t] * wn[i * ldw + t];
                    FZ_CHECK(s2 == 0.0 || fabs(s2 - 1.0) <= 4e-7 * (double)(d + 1),
                             "[%s] row %zu: squared norm %.9g after normalizing",
                             hr_isa_name(hr_get_isa()), i, s2);
                    for (t = d; t < ldw && i * ldw + t < wlen; t++)
                        FZ_CHECK(isnan(wn[i * ldw + t]), "normalize wrote padding");
                }
            wq = wn;
        }
        got[q] = run(&jb, null_val ? NULL : val[q], null_idx ? NULL : idx[q],
                     null_w ? NULL : wq, flags);
        if (jb.k == 0 && jb.topk) {
            /* top-k with k == 0 validates W's shape and flags and writes
               nothing; it does not scan W for NaN/Inf */
            FZ_CHECK(got[q] == want || (want == HR_ENONFINITE && got[q] == HR_OK) ||
                         (want == HR_EINVAL && !badflag && !bad_ldw && got[q] == HR_OK),
                     "top-k k=0: status %d, want %d", (int)got[q], (int)want);
        } else {
            FZ_CHECK(got[q] == want || (borderline && raw_unit && want != HR_ENONFINITE &&
                                         (got[q] == HR_OK || got[q] == HR_EINVAL)),
                     "[%s] n=%zu d=%zu ldw=%zu k=%zu flags=%u: status %d, want %d",
                     hr_isa_name(hr_get_isa()), n, d, ldw, jb.k, flags, (int)got[q],
                     (int)want);
        }
        if (got[q] != HR_OK || (jb.k == 0 && jb.topk) || n == 0) {
            FZ_CHECK(hr_t_untouched(val[q], idx[q], nres), "output written (status %d)",
                     (int)got[q]);
            continue;
        }
        if (null_idx)
            for (i = 0; i < nres; i++)
                FZ_CHECK(idx[q][i] == 0x5A5A5A5A, "idx written while NULL");
        if (!jb.cos) {
            jb.cos = (double *)malloc(n * n * sizeof(double));
            ref_cos(&jb);
        }
        check_path(&jb, val[q], null_idx ? NULL : idx[q], hr_isa_name(hr_get_isa()));
        /* top-1 == difficulty; unit-rows(normalize(W)) == W, bitwise */
        v1 = (float *)malloc(n * sizeof(float));
        i1 = (int32_t *)malloc(n * sizeof(int32_t));
        if (jb.k == 1 || (!jb.k && wq != w)) {
            hr_status s1 = jb.k == 1 ? hr_difficulty(v1, i1, wq, n, d, ldw, flags)
                                     : hr_difficulty(v1, i1, w, n, d, ldw, 0);
            FZ_CHECK(s1 == HR_OK, "status %d", (int)s1);
            FZ_CHECK(memcmp(v1, val[q], n * sizeof(float)) == 0 &&
                         (null_idx || memcmp(i1, idx[q], n * sizeof(int32_t)) == 0),
                     "[%s] %s differs bitwise", hr_isa_name(hr_get_isa()),
                     jb.k == 1 ? "top-1 vs hr_difficulty"
                               : "unit rows of normalized W vs W");
        }
        free(v1);
        free(i1);
    }
    FZ_CHECK(got[0] == got[1] || borderline, "status: scalar %d, best %d", (int)got[0],
             (int)got[1]);
    if (got[0] == HR_OK && got[1] == HR_OK && jb.cos && !raw_unit)
        for (i = 0; i < n; i++)
            for (r = 0; r < kk; r++) {
                const size_t e = i * kk + r;
                const int32_t a = idx[0][e], b = idx[1][e];
                FZ_CHECK(fabs((double)val[0][e] - (double)val[1][e]) <= tol_of(jb.d) ||
                             (val[0][e] == val[1][e]),
                         "row %zu slot %zu: scalar %.9g, best %.9g", i, r,
                         (double)val[0][e], (double)val[1][e]);
                if (null_idx || a == b) continue;
                FZ_CHECK(a >= 0 && b >= 0 &&
                             fabs(jb.cos[i * n + (size_t)a] - jb.cos[i * n + (size_t)b]) <=
                                 3 * tol_of(jb.d),
                         "row %zu slot %zu: scalar index %d (cos %.9g), best %d "
                         "(cos %.9g): not a tie within tolerance",
                         i, r, (int)a, a >= 0 ? jb.cos[i * n + (size_t)a] : 0.0, (int)b,
                         b >= 0 ? jb.cos[i * n + (size_t)b] : 0.0);
            }
    for (q = 0; q < 2; q++) {
        free(val[q]);
        free(idx[q]);
    }
    free(jb.cos);
    free(wnb);
    free(wb);
    return 0;
}
