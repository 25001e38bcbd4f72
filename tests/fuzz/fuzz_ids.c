/* tests/fuzz/fuzz_ids.c - hr_ids_build on arbitrary labels, then the batch
   builders (hr_batch_hardest, hr_batch_proportional, hr_batch_pk) on the
   index with arbitrary counts, difficulties and nearest identities.

   Index checks: nids = the distinct labels >= 0, njunk = the negative ones;
   label[] strictly ascending; start[0] = 0, start[nids] = nsamples, every
   identity non-empty; each identity's samples ascending, all carrying its
   label, every non-junk sample exactly once; hr_ids_find inverts label[]
   and gives -1 for junk and absent labels; mem (hr_ids_size(n) bytes, any
   alignment) is all it touches.
   Batch checks: the documented status (arguments first, then NaN/Inf in c,
   then what depends on the hardest identity); on error out and the
   generator untouched; on HR_OK every index a non-junk sample of the right
   identity, groups of distinct images when the identity has enough, P x K
   identities distinct, weighted draws only from identities of nonzero mass,
   and mode B the same on the scalar path and the best one. */
#define HARDREID_IMPLEMENTATION
#include "fuzz.h"

#define MAXN 2048
#define SENT 0xA5A5A5A5u

static int32_t gen_label(fz_in *in, int mode) {
    const uint8_t b = fz_u8(in);
    switch (mode) {
    case 0: return (int32_t)fz_u32(in) ^ (int32_t)b;
    case 1: return (int32_t)(b % 9) - 2;
    case 2: /* a few bits in each byte: the radix passes share bytes */
        return (int32_t)(((uint32_t)(b & 3) << (8 * ((b >> 2) & 3))) |
                         ((uint32_t)((b >> 4) & 3) << (8 * ((b >> 6) & 3))));
    default:
        return (b & 1) ? INT32_MAX - (int32_t)(b % 5) : INT32_MIN + (int32_t)(b % 3);
    }
}

static int untouched(const uint32_t *out, size_t m) {
    size_t i;
    for (i = 0; i < m; i++)
        if (out[i] != SENT) return 0;
    return 1;
}

/* out[0..k) is a group of identity id: its images, distinct if it has k */
static void check_group(const uint32_t *out, size_t k, const hr_ids *ix,
                        const int32_t *labels, size_t n, uint32_t id,
                        const char *what) {
    const uint32_t s = ix->start[id + 1] - ix->start[id];
    size_t a, b;
    for (a = 0; a < k; a++) {
        FZ_CHECK(out[a] < n && labels[out[a]] == ix->label[id],
                 "%s: image %zu = %u is not of identity %u", what, a, out[a], id);
        if (s >= k)
            for (b = 0; b < a; b++)
                FZ_CHECK(out[a] != out[b], "%s: image %u twice in a group of %zu "
                         "(identity has %u)", what, out[a], k, s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in;
    size_t n, i, k, mis, bytes, njunk = 0, nids = 0;
    int mode;
    int32_t *labels, *sorted;
    void *lb, *mb;
    unsigned char *mem;
    hr_ids ix;
    hr_status s;

    fz_init(&in, data, size);
    n = fz_u16(&in) % (MAXN + 1);
    mode = fz_u8(&in) % 4;
    mis = fz_u8(&in) % 64;
    labels = (int32_t *)fz_alloc(n * sizeof(int32_t), 0, &lb);
    for (i = 0; i < n; i++) labels[i] = gen_label(&in, mode);

    /* reference: the distinct labels >= 0, ascending */
    sorted = (int32_t *)malloc((n ? n : 1) * sizeof(int32_t));
    for (i = 0; i < n; i++) {
        if (labels[i] < 0) { njunk++; continue; }
        sorted[nids++] = labels[i];
    }
    for (i = 1; i < nids; i++) { /* insertion sort is fine at this size */
        int32_t v = sorted[i];
        size_t j = i;
        while (j > 0 && sorted[j - 1] > v) { sorted[j] = sorted[j - 1]; j--; }
        sorted[j] = v;
    }
    for (i = 0, k = 0; i < nids; i++)
        if (i == 0 || sorted[i] != sorted[k - 1]) sorted[k++] = sorted[i];
    nids = nids ? k : 0;

    bytes = hr_ids_size(n);
    FZ_CHECK(bytes >= 12 * n, "hr_ids_size(%zu) = %zu", n, bytes);
    mem = (unsigned char *)fz_alloc(bytes, mis, &mb);
    s = hr_ids_build(&ix, mem, labels, n);
    FZ_CHECK(s == HR_OK, "hr_ids_build: %d", (int)s);
    FZ_CHECK(ix.nids == nids && ix.njunk == njunk && ix.nsamples == n - njunk,
             "nids %u (want %zu), njunk %u (want %zu), nsamples %u", ix.nids,
             nids, ix.njunk, njunk, ix.nsamples);
    FZ_CHECK(ix.start[0] == 0 && ix.start[nids] == ix.nsamples, "start ends");
    {
        unsigned char *seen = (unsigned char *)calloc(n ? n : 1, 1);
        for (k = 0; k < nids; k++) {
            FZ_CHECK(ix.label[k] == sorted[k], "label[%zu] = %d, want %d", k,
                     (int)ix.label[k], (int)sorted[k]);
            FZ_CHECK(ix.start[k + 1] > ix.start[k], "identity %zu empty", k);
            FZ_CHECK(hr_ids_find(&ix, sorted[k]) == (int32_t)k, "find(%d)",
                     (int)sorted[k]);
            for (i = ix.start[k]; i < ix.start[k + 1]; i++) {
                const uint32_t v = ix.sample[i];
                FZ_CHECK(v < n && labels[v] == sorted[k] && !seen[v],
                         "identity %zu: sample %u", k, v);
                FZ_CHECK(i == ix.start[k] || ix.sample[i - 1] < v,
                         "identity %zu: samples not ascending", k);
                seen[v] = 1;
            }
        }
        for (i = 0; i < n; i++) {
            FZ_CHECK(seen[i] == (labels[i] >= 0), "sample %zu (label %d) %s", i,
                     (int)labels[i], seen[i] ? "indexed" : "missing");
            if (labels[i] < 0)
                FZ_CHECK(hr_ids_find(&ix, labels[i]) == -1, "find(junk)");
        }
        free(seen);
        {
            const int32_t probe = (int32_t)fz_u32(&in);
            const int32_t f = hr_ids_find(&ix, probe);
            int present = 0;
            for (k = 0; k < nids; k++) present |= sorted[k] == probe;
            FZ_CHECK(present ? f >= 0 && ix.label[f] == probe : f == -1,
                     "find(%d) = %d", (int)probe, (int)f);
        }
    }

    /* ---- batch builders on this index ---- */
    {
        const size_t fc = fz_u8(&in) % 24, sc = fz_u8(&in) % 24, nc = fz_u8(&in) % 8;
        const size_t count = fz_u8(&in) % 100;
        const size_t P = fz_u8(&in) % (nids + 2), K = fz_u8(&in) % 9;
        const uint8_t opt = fz_u8(&in);
        const int cmode = opt & 3, nmode = (opt >> 2) & 3, wa = (opt >> 4) & 1;
        const size_t na = nids + ((opt >> 5) & 1); /* a table of the wrong size */
        const size_t m = fc + sc + nc > count ? fc + sc + nc : count;
        const size_t mpk = P * K > m ? P * K : m;
        float *c = (float *)malloc((nids ? nids : 1) * sizeof(float));
        float *w = (float *)malloc((na ? na : 1) * sizeof(float));
        int32_t *nearest = (int32_t *)malloc((nids ? nids : 1) * sizeof(int32_t));
        uint32_t *out = (uint32_t *)malloc((mpk ? mpk : 1) * sizeof(uint32_t));
        uint32_t *out2 = (uint32_t *)malloc((mpk ? mpk : 1) * sizeof(uint32_t));
        void *amem = malloc(hr_alias_size(na ? na : 1));
        hr_alias a;
        int have_a = 0, nonfinite = 0;
        uint32_t *mass = (uint32_t *)calloc(na ? na : 1, sizeof(uint32_t));
        hr_rng r, r0, r2;
        hr_status want;
        size_t t = 0, q;

        for (k = 0; k < nids; k++) {
            c[k] = cmode == 0 ? fz_float(&in, FZ_RAW)
                 : cmode == 1 ? fz_float(&in, FZ_SMALL) : fz_float(&in, FZ_UNIT);
            if (nids == 1 && cmode == 3) c[k] = -INFINITY;
            if (!isfinite(c[k]) && !(nids == 1 && c[k] == -INFINITY)) nonfinite = 1;
            nearest[k] = nmode == 0 ? (int32_t)fz_u32(&in)
                       : nmode == 1 ? (int32_t)(fz_u8(&in) % (nids + 1)) - 1
                       : (int32_t)((k + 1 + fz_u8(&in) % (nids > 1 ? nids - 1 : 1)) % nids);
        }
        for (k = 0; k < na; k++) {
            w[k] = fz_float(&in, FZ_SMALL);
            w[k] = w[k] < 0 ? 0.0f : w[k];
        }
        if (na && hr_alias_build(&a, amem, w, na) == HR_OK) {
            have_a = 1;
            for (k = 0; k < na; k++) { /* which identities can be drawn */
                const uint64_t e = a.tab[k];
                if ((uint32_t)(e >> 32) == k || (uint32_t)e) mass[k] = 1;
                if ((uint32_t)(e >> 32) != k) mass[(uint32_t)(e >> 32)] = 1;
            }
        }
        hr_rng_seed(&r, fz_u8(&in));

        /* Mode A */
        for (k = 1; k < nids; k++)
            if (c[k] > c[t]) t = k;
        if (fc == 0 || nids == 0) want = HR_EINVAL;
        else if (nonfinite) want = HR_ENONFINITE;
        else if (sc && ix.nsamples == ix.start[t + 1] - ix.start[t]) want = HR_EINVAL;
        else if (nc && (nmode == 3 || nearest[t] < 0 || (size_t)nearest[t] >= nids ||
                        (size_t)nearest[t] == t)) want = HR_EINVAL;
        else want = HR_OK;
        for (i = 0; i < mpk; i++) out[i] = SENT;
        r0 = r;
        s = hr_batch_hardest(out, &ix, c, fc, sc, nmode == 3 ? NULL : nearest, nc, &r);
        FZ_CHECK(s == want || (want == HR_ENONFINITE && s == HR_EINVAL && nc && nmode == 3),
                 "hardest: status %d, want %d (nids %zu, fc %zu sc %zu nc %zu)",
                 (int)s, (int)want, nids, fc, sc, nc);
        if (s != HR_OK) {
            FZ_CHECK(untouched(out, mpk) && !memcmp(&r, &r0, sizeof r),
                     "hardest: written on error");
        } else {
            check_group(out, fc, &ix, labels, n, (uint32_t)t, "hardest: first");
            if (nc)
                check_group(out + fc, nc, &ix, labels, n, (uint32_t)nearest[t],
                            "hardest: nearest");
            for (i = fc + nc; i < fc + nc + sc; i++)
                FZ_CHECK(out[i] < n && labels[out[i]] >= 0 &&
                             labels[out[i]] != ix.label[t],
                         "hardest: second image %u", out[i]);
            FZ_CHECK(untouched(out + fc + nc + sc, mpk - (fc + nc + sc)),
                     "hardest: wrote past its count");
        }

        /* Mode B, scalar path and best path */
        want = (count == 0 || nids == 0 || !have_a || na != nids) ? HR_EINVAL : HR_OK;
        for (q = 0; q < 2; q++) {
            uint32_t *o = q ? out2 : out;
            hr_rng *rq = q ? &r2 : &r;
            FZ_CHECK(hr_set_isa(q ? HR_ISA_AUTO : HR_ISA_SCALAR) == HR_OK, "isa");
            for (i = 0; i < mpk; i++) o[i] = SENT;
            if (q) *rq = r0;
            else r0 = r;
            s = hr_batch_proportional(o, count, &ix, have_a ? &a : NULL, rq);
            FZ_CHECK(s == want, "proportional: status %d, want %d", (int)s, (int)want);
            if (s != HR_OK) {
                FZ_CHECK(untouched(o, mpk) && !memcmp(rq, &r0, sizeof r0),
                         "proportional: written on error");
                continue;
            }
            for (i = 0; i < count; i++) {
                int32_t id;
                FZ_CHECK(o[i] < n && labels[o[i]] >= 0, "proportional: %u", o[i]);
                id = hr_ids_find(&ix, labels[o[i]]);
                FZ_CHECK(id >= 0 && mass[id] && w[id] > 0.0f,
                         "proportional: identity %d has weight 0", (int)id);
            }
            FZ_CHECK(untouched(o + count, mpk - count), "proportional: past count");
        }
        if (want == HR_OK)
            FZ_CHECK(!memcmp(out, out2, count * sizeof(uint32_t)) && !memcmp(&r, &r2, sizeof r),
                     "proportional: scalar and %s differ", hr_isa_name(hr_get_isa()));

        /* P x K, uniform or weighted */
        if (P == 0 || K == 0 || P > nids) want = HR_EINVAL;
        else if (wa && have_a && (na != nids || P > a.npos)) want = HR_EINVAL;
        else want = HR_OK;
        for (i = 0; i < mpk; i++) out[i] = SENT;
        r0 = r;
        s = hr_batch_pk(out, P, K, &ix, wa && have_a ? &a : NULL, &r);
        FZ_CHECK(s == want, "pk: status %d, want %d (P %zu K %zu nids %zu)", (int)s,
                 (int)want, P, K, nids);
        if (s != HR_OK) {
            FZ_CHECK(untouched(out, mpk) && !memcmp(&r, &r0, sizeof r), "pk: written on error");
        } else {
            int32_t *ids = (int32_t *)malloc(P * sizeof(int32_t));
            size_t p2;
            for (q = 0; q < P; q++) {
                ids[q] = out[q * K] < n ? hr_ids_find(&ix, labels[out[q * K]]) : -1;
                FZ_CHECK(ids[q] >= 0, "pk: group %zu: image %u", q, out[q * K]);
                check_group(out + q * K, K, &ix, labels, n, (uint32_t)ids[q], "pk");
                if (wa && have_a) FZ_CHECK(mass[ids[q]], "pk: identity %d has weight 0", (int)ids[q]);
                for (p2 = 0; p2 < q; p2++)
                    FZ_CHECK(ids[p2] != ids[q], "pk: identity %d twice", (int)ids[q]);
            }
            FZ_CHECK(untouched(out + P * K, mpk - P * K), "pk: wrote past P K");
            free(ids);
        }
        free(c);
        free(w);
        free(nearest);
        free(out);
        free(out2);
        free(amem);
        free(mass);
    }
    free(sorted);
    free(mb);
    free(lb);
    return 0;
}
