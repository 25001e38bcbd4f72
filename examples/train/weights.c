/* weights.c - the weights file shared with the PyTorch twin
   (examples/python/hrweights.py reads and writes the same bytes).

   Little-endian: "HRWEIGHT", u32 version (1), u32 count; per tensor a u32
   name length, the name (no NUL), u32 ndim, ndim u64 dims, float32 data;
   then a u64 FNV-1a of every byte before it. A network's file holds its
   parameters in build order (conv{i}.w as OHWI, bn{i}.gamma/.beta, fc.w,
   fc.b, head.w), then every BN's running bn{i}.mean and bn{i}.var.

   --dump-step writes the same container with other names: the batch
   ("input", "labels", "loss"), the parameters and statistics before the
   step ("p:" + name) and the gradients ("g:" + name). */
#include "train.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WT_MAGIC "HRWEIGHT"
#define WT_VERSION 1u

/* ---- the network's tensors as a list ------------------------------------- */

size_t wt_net_count(const net *m) { return (size_t)m->np + 2 * (size_t)m->nbn; }

/* m's tensors into t (wt_net_count entries): names with prefix, data from
   params (parameters) and state (BN statistics); the statistics are left
   out when state is NULL. Returns the count written. */
size_t wt_net_list(wt_tensor *t, const net *m, const char *prefix, const float *params,
                   const float *state)
{
    size_t n = 0;
    int i, b = 0;
    for (i = 0; i < m->np; i++, n++) {
        const ptensor *p = &m->p[i];
        snprintf(t[n].name, sizeof t[n].name, "%s%s", prefix, p->name);
        t[n].ndim = p->ndim;
        memcpy(t[n].dims, p->dims, sizeof p->dims);
        t[n].data = (float *)(params + p->off);
    }
    if (!state) return n;
    for (i = 0; i < m->nops; i++) {
        const op *o = &m->ops[i];
        int k;
        if (o->kind != OP_BN) continue;
        for (k = 0; k < 2; k++, n++) {
            snprintf(t[n].name, sizeof t[n].name, "%sbn%d.%s", prefix, b, k ? "var" : "mean");
            t[n].ndim = 1;
            t[n].dims[0] = m->t[o->in].c;
            t[n].data = (float *)(state + o->stat + (size_t)k * m->t[o->in].c);
        }
        b++;
    }
    return n;
}

static size_t numel(const wt_tensor *t)
{
    size_t k, s = 1;
    for (k = 0; k < t->ndim; k++) s *= t->dims[k];
    return s;
}

/* ---- writing: aside, then renamed into place ------------------------------ */

static int put(FILE *f, const void *p, size_t n, uint64_t *h)
{
    *h = fnv1a(p, n, *h);
    return fwrite(p, 1, n, f) == n;
}

static int put_u32(FILE *f, uint32_t v, uint64_t *h)
{
    unsigned char b[4];
    int k;
    for (k = 0; k < 4; k++) b[k] = (unsigned char)(v >> (8 * k));
    return put(f, b, 4, h);
}

static int put_u64(FILE *f, uint64_t v, uint64_t *h)
{
    unsigned char b[8];
    int k;
    for (k = 0; k < 8; k++) b[k] = (unsigned char)(v >> (8 * k));
    return put(f, b, 8, h);
}

static int little_endian(void)
{
    const uint32_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

int wt_write(const char *path, const wt_tensor *t, size_t n)
{
    char tmp[4096];
    uint64_t h = FNV_SEED;
    size_t i, k;
    int ok = 1;
    FILE *f;
    if (!little_endian()) { fprintf(stderr, "train: %s: weights files are little-endian only\n", path); return -1; }
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "train: path too long: %s\n", path);
        return -1;
    }
    if (!(f = fopen(tmp, "wb"))) { perror(tmp); return -1; }
    errno = 0;
    ok = put(f, WT_MAGIC, 8, &h) && put_u32(f, WT_VERSION, &h) && put_u32(f, (uint32_t)n, &h);
    for (i = 0; ok && i < n; i++) {
        const size_t len = strlen(t[i].name);
        ok = put_u32(f, (uint32_t)len, &h) && put(f, t[i].name, len, &h) && put_u32(f, (uint32_t)t[i].ndim, &h);
        for (k = 0; ok && k < t[i].ndim; k++) ok = put_u64(f, t[i].dims[k], &h);
        ok = ok && put(f, t[i].data, numel(&t[i]) * sizeof(float), &h);
    }
    ok = ok && put_u64(f, h, &h) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f)) ok = 0;
    if (!ok || rename(tmp, path)) {
        fprintf(stderr, "train: cannot write %s: %s\n", path, errno ? strerror(errno) : "I/O error");
        remove(tmp);
        return -1;
    }
    return 0;
}

/* ---- reading into a network: all or nothing -------------------------------- */

static int refuse(const char *path, const char *why)
{
    fprintf(stderr, "train: refusing weights %s: %s\n", path, why);
    return -1;
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    int k;
    for (k = bytes - 1; k >= 0; k--) v = v << 8 | p[k];
    return v;
}

/* The file must hold exactly m's tensors (names, shapes; any order); then
   params and state take its values. On any error nothing is changed. */
int wt_load_net(net *m, const char *path)
{
    const size_t want = wt_net_count(m);
    wt_tensor *t = (wt_tensor *)calloc(want ? want : 1, sizeof *t);
    float **src = (float **)calloc(want ? want : 1, sizeof *src);
    unsigned char *buf = NULL;
    size_t len = 0, pos, i, j, k, count;
    char msg[256];
    int rc = -1;
    FILE *f = fopen(path, "rb");
    if (!t || !src) { fprintf(stderr, "train: out of memory\n"); goto done; }
    wt_net_list(t, m, "", m->params, m->state);
    if (!f) { perror(path); goto done; }
    if (fseek(f, 0, SEEK_END) == 0) {
        const long e = ftell(f);
        if (e > 0) len = (size_t)e;
    }
    rewind(f);
    if (!(buf = (unsigned char *)malloc(len ? len : 1)) || fread(buf, 1, len, f) != len) {
        refuse(path, "cannot read the file");
        goto done;
    }
    if (len < 24 || memcmp(buf, WT_MAGIC, 8)) { refuse(path, "not a weights file (bad magic)"); goto done; }
    if (get_le(buf + 8, 4) != WT_VERSION) {
        snprintf(msg, sizeof msg, "version %u, this trainer reads %u", (unsigned)get_le(buf + 8, 4), WT_VERSION);
        refuse(path, msg);
        goto done;
    }
    if (fnv1a(buf, len - 8, FNV_SEED) != get_le(buf + len - 8, 8)) {
        refuse(path, "checksum mismatch (corrupt or truncated file)");
        goto done;
    }
    count = (size_t)get_le(buf + 12, 4);
    if (count != want) {
        snprintf(msg, sizeof msg, "%zu tensors, this network has %zu (another --net, --width or --depth?)",
                 count, want);
        refuse(path, msg);
        goto done;
    }
    for (pos = 16, i = 0; i < count; i++) {
        size_t nl, nd, dims[8], el = 1;
        char name[64];
        if (pos + 4 > len - 8 || (nl = (size_t)get_le(buf + pos, 4)) >= sizeof name || pos + 8 + nl > len - 8) {
            refuse(path, "truncated tensor header");
            goto done;
        }
        memcpy(name, buf + pos + 4, nl);
        name[nl] = 0;
        pos += 4 + nl;
        nd = (size_t)get_le(buf + pos, 4);
        pos += 4;
        if (nd > 8 || pos + 8 * nd > len - 8) { refuse(path, "truncated tensor header"); goto done; }
        for (k = 0; k < nd; k++) { dims[k] = (size_t)get_le(buf + pos, 8); pos += 8; }
        for (j = 0; j < want && strcmp(t[j].name, name); j++) {}
        if (j == want) {
            snprintf(msg, sizeof msg, "tensor '%s' is not in this network", name);
            refuse(path, msg);
            goto done;
        }
        if (src[j]) { snprintf(msg, sizeof msg, "tensor '%s' twice", name); refuse(path, msg); goto done; }
        if (nd != t[j].ndim || memcmp(dims, t[j].dims, nd * sizeof *dims)) {
            snprintf(msg, sizeof msg, "tensor '%s' has another shape than this network's", name);
            refuse(path, msg);
            goto done;
        }
        el = numel(&t[j]);
        if (pos + 4 * el > len - 8) { refuse(path, "truncated data"); goto done; }
        src[j] = (float *)(void *)(buf + pos); /* copied below with memcpy: alignment free */
        pos += 4 * el;
    }
    if (pos != len - 8) { refuse(path, "trailing bytes before the checksum"); goto done; }
    for (j = 0; j < want; j++) memcpy(t[j].data, src[j], numel(&t[j]) * sizeof(float));
    rc = 0;
done:
    if (f) fclose(f);
    free(buf); free(t); free(src);
    return rc;
}
