/* npy.h - read and write NumPy .npy matrices in C99. Public domain or MIT,
   like hardreid.h. No warranty.

   USAGE
     In exactly ONE C file:
         #define NPY_IMPLEMENTATION
         #include "npy.h"
     Elsewhere include it without the define (NPY_STATIC makes every
     function static).

   WHAT IT READS
     .npy format versions 1.0, 2.0 and 3.0 (NEP 1: magic "\x93NUMPY", a
     2-byte (v1) or 4-byte (v2, v3) little-endian header length, a Python
     dict literal with exactly the keys 'descr', 'fortran_order', 'shape').
     npy_read_matrix_* accept a 2-D array of float32 or float64 ('<f4',
     '<f8', '>f4', '>f8'; '=' and '|' are read as little-endian), in C or
     Fortran order, and return it as a freshly allocated row-major float32
     matrix. Big-endian files are byte-swapped (a swap per element is cheap
     next to reading the file, and refusing a valid file helps nobody).
     float64 values are rounded to float32; one beyond float32's range
     becomes +-Inf, which the caller's finiteness check then reports.
     npy_read_rows_file reads one slice of rows, seeking past the rest (one
     slice per MPI rank: examples/mpi/), after npy_read_header_file's checks.

   WHAT IT NEVER TRUSTS
     Every length in the file is checked against the bytes actually there:
     the header must fit, be a well-formed dict, and end in '\n'; the shape's
     product and byte size are computed with overflow checks; the data must
     be exactly as long as the shape says (short: NPY_ETRUNCATED; longer:
     NPY_ETRAILING). The header is capped at NPY_MAX_HEADER bytes. Nothing is
     allocated before the header has been validated, and then only what the
     shape needs (so a lying shape on a short file costs a read, not an
     allocation of the lie, when reading from memory; from a FILE the size is
     compared with the file's length first where the stream can seek).

   WHAT IT WRITES
     npy_write: version 1.0 (2.0 if the header needs it), little-endian, C
     order, header padded to a multiple of 64 bytes as numpy does, for the
     dtypes '<f4', '<f8', '<i4', '<i8', '<u4' and 1-D or 2-D shapes.

   ERRORS
     Every call returns npy_status (NPY_OK = 0, errors negative);
     npy_status_string() gives a sentence. Readers fill npy_info (what the
     header said, as far as it was parsed) even on error, so a message can
     name the dtype or shape that was refused. No call aborts or prints.
*/
#ifndef NPY_H
#define NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef NPYDEF
#ifdef NPY_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define NPYDEF static __attribute__((unused))
#else
#define NPYDEF static
#endif
#else
#define NPYDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define NPY_MAX_DIMS 32            /* numpy's own limit (NPY_MAXDIMS)       */
#define NPY_MAX_HEADER 65536u      /* numpy reads at most 10000 by default  */

typedef enum npy_status {
    NPY_OK = 0,
    NPY_EIO = -1,          /* open/read/write failed: see errno             */
    NPY_ENOTNPY = -2,      /* no "\x93NUMPY" magic                          */
    NPY_EVERSION = -3,     /* format version other than 1.0, 2.0, 3.0       */
    NPY_EHEADER = -4,      /* header dict malformed or keys wrong           */
    NPY_ETRUNCATED = -5,   /* file ends before the header or the data does  */
    NPY_ETRAILING = -6,    /* bytes after the data: shape disagrees w/ size */
    NPY_EDTYPE = -7,       /* dtype not float32/float64                     */
    NPY_ENDIM = -8,        /* not a 2-D array                               */
    NPY_EOVERFLOW = -9,    /* shape's element or byte count overflows       */
    NPY_ENOMEM = -10,      /* allocation failed                             */
    NPY_EINVAL = -11       /* bad argument (NULL, unsupported write dtype)  */
} npy_status;

NPYDEF const char *npy_status_string(npy_status s);

/* What a header says. descr is the dtype string as written (truncated to
   15 characters); elsize 0 when the dtype is not one npy.h converts. */
typedef struct npy_info {
    int version;               /* 1, 2 or 3                                 */
    size_t data_offset;        /* bytes before the data                     */
    char descr[16];            /* e.g. "<f4"                                */
    int fortran_order;         /* 1: column-major                           */
    int ndim;
    uint64_t shape[NPY_MAX_DIMS];
    size_t count;              /* product of shape (valid if no overflow)   */
    size_t elsize;             /* 4 or 8 for float dtypes, else 0           */
    size_t nbytes;             /* count * elsize                            */
} npy_info;

/* Parse and validate the header at buf[0..len) (only the header need be
   there). Fills *info. Errors: NPY_ENOTNPY, NPY_EVERSION, NPY_ETRUNCATED,
   NPY_EHEADER, NPY_EOVERFLOW. Does not judge dtype or ndim. */
NPYDEF npy_status npy_parse_header(const void *buf, size_t len, npy_info *info);

/* A 2-D float32/float64 array in buf[0..len) (a whole .npy file) ->
   *out = malloc'd rows x cols float32, row-major; *rows = shape[0],
   *cols = shape[1]. On error *out is NULL. info may be NULL. */
NPYDEF npy_status npy_read_matrix_mem(const void *buf, size_t len, float **out,
                                      size_t *rows, size_t *cols, npy_info *info);
/* The same from a file path. NPY_EIO leaves errno set. */
NPYDEF npy_status npy_read_matrix_file(const char *path, float **out,
                                       size_t *rows, size_t *cols, npy_info *info);

/* Only the header of a file: npy_parse_header, then the checks
   npy_read_matrix_file makes before it reads any data (2-D, float32 or
   float64, the file exactly as long as the header says). The same errors
   as npy_read_matrix_file for the same file, except those only the data
   could cause; reads the header bytes only. */
NPYDEF npy_status npy_read_header_file(const char *path, npy_info *info);
/* Rows row0 .. row0 + nrows - 1 of a 2-D float32/float64 array in a .npy
   file (either byte order, C or Fortran order) -> *out = malloc'd
   nrows x cols float32, row-major, converted as npy_read_matrix_file does;
   *rows = shape[0] (all the rows), *cols = shape[1]. Seeks to the rows and
   reads nothing else (C order: one run; Fortran order: one run per column),
   so P processes can each read their own slice of one file. The header is
   checked as npy_read_header_file does: a file that one slice finds
   truncated is truncated for every slice. NPY_EINVAL if row0 + nrows >
   shape[0] (info is then filled: call it with nrows = 0 to learn the
   shape). On error *out is NULL. info may be NULL. */
NPYDEF npy_status npy_read_rows_file(const char *path, size_t row0, size_t nrows,
                                     float **out, size_t *rows, size_t *cols,
                                     npy_info *info);

/* Write an array of ndim (1 or 2) dimensions shape[] with dtype descr (one
   of "<f4" "<f8" "<i4" "<i8" "<u4"; data in host byte order, C order) to
   an open stream. Errors: NPY_EINVAL, NPY_EOVERFLOW, NPY_EIO. */
NPYDEF npy_status npy_write(FILE *f, const char *descr, int ndim,
                            const size_t *shape, const void *data);

#ifdef __cplusplus
}
#endif
#endif /* NPY_H */

/* ======================================================================== */
#ifdef NPY_IMPLEMENTATION
#ifndef NPY_IMPLEMENTATION_DONE
#define NPY_IMPLEMENTATION_DONE

#include <limits.h>
#include <stdlib.h>
#include <string.h>

NPYDEF const char *npy_status_string(npy_status s)
{
    switch (s) {
    case NPY_OK: return "ok";
    case NPY_EIO: return "I/O error";
    case NPY_ENOTNPY: return "not a .npy file (no \\x93NUMPY magic at the start)";
    case NPY_EVERSION: return "unsupported .npy format version (need 1.0, 2.0 or 3.0)";
    case NPY_EHEADER: return "malformed .npy header (need a dict with exactly 'descr', 'fortran_order', 'shape')";
    case NPY_ETRUNCATED: return "file is truncated: it ends before the header or the data the header announces";
    case NPY_ETRAILING: return "file is longer than its header says: the shape does not match the data size";
    case NPY_EDTYPE: return "unsupported dtype (need float32 or float64)";
    case NPY_ENDIM: return "not a 2-D array (need rows = identities x columns = features)";
    case NPY_EOVERFLOW: return "shape too large: element or byte count overflows";
    case NPY_ENOMEM: return "out of memory";
    case NPY_EINVAL: return "invalid argument";
    default: return "unknown npy status";
    }
}

/* a * b in size_t; *ok = 0 on overflow. */
static size_t npy__mul(size_t a, size_t b, int *ok)
{
    if (b && a > (size_t)-1 / b) { *ok = 0; return 0; }
    return a * b;
}

static int npy__host_big_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* ---- header parser: a tiny subset of Python literal syntax ------------- */

typedef struct npy__cursor { const char *p, *end; } npy__cursor;

static void npy__ws(npy__cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}
static int npy__eat(npy__cursor *c, char ch)
{
    npy__ws(c);
    if (c->p < c->end && *c->p == ch) { c->p++; return 1; }
    return 0;
}
/* 'text' or "text" (no escapes: numpy's keys and dtypes never need them) */
static int npy__string(npy__cursor *c, char *out, size_t cap)
{
    char q;
    size_t n = 0;
    npy__ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    q = *c->p++;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || *c->p == '\n') return 0;
        if (n + 1 < cap) out[n++] = *c->p;
        c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = 0;
    return 1;
}
static int npy__word(npy__cursor *c, const char *w)
{
    size_t n = strlen(w);
    npy__ws(c);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}
/* non-negative integer (Python may add an 'L' suffix in old files) */
static int npy__uint(npy__cursor *c, uint64_t *v)
{
    uint64_t x = 0;
    int digits = 0;
    npy__ws(c);
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned dg = (unsigned)(*c->p - '0');
        if (x > (UINT64_MAX - dg) / 10) return -1; /* overflow */
        x = x * 10 + dg;
        c->p++;
        digits++;
    }
    if (!digits) return 0;
    if (c->p < c->end && *c->p == 'L') c->p++;
    *v = x;
    return 1;
}
/* (a, b, ...) with an optional trailing comma; () is 0-D */
static npy_status npy__shape(npy__cursor *c, npy_info *info)
{
    if (!npy__eat(c, '(')) return NPY_EHEADER;
    info->ndim = 0;
    for (;;) {
        uint64_t v;
        int r;
        if (npy__eat(c, ')')) return NPY_OK;
        if (info->ndim >= NPY_MAX_DIMS) return NPY_EHEADER;
        r = npy__uint(c, &v);
        if (r < 0) return NPY_EOVERFLOW;
        if (r == 0) return NPY_EHEADER;
        info->shape[info->ndim++] = v;
        if (npy__eat(c, ',')) continue;
        if (npy__eat(c, ')')) return NPY_OK;
        return NPY_EHEADER;
    }
}

static void npy__dtype(npy_info *info)
{
    const char *s = info->descr;
    info->elsize = 0;
    if (strlen(s) != 3 || s[1] != 'f') return;
    if (s[0] != '<' && s[0] != '>' && s[0] != '=' && s[0] != '|') return;
    if (s[2] == '4') info->elsize = 4;
    else if (s[2] == '8') info->elsize = 8;
}

NPYDEF npy_status npy_parse_header(const void *buf, size_t len, npy_info *info)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t hlen, pre;
    npy__cursor c;
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0, ok = 1, i;
    npy_status s;

    if (!info || (!buf && len)) return NPY_EINVAL;
    memset(info, 0, sizeof *info);
    if (len < 6) return len == 0 || memcmp(b, "\x93NUMPY", len) != 0 ? NPY_ENOTNPY : NPY_ETRUNCATED;
    if (memcmp(b, "\x93NUMPY", 6) != 0) return NPY_ENOTNPY;
    if (len < 8) return NPY_ETRUNCATED;
    if ((b[6] != 1 && b[6] != 2 && b[6] != 3) || b[7] != 0) return NPY_EVERSION;
    info->version = b[6];
    pre = info->version == 1 ? 10 : 12;
    if (len < pre) return NPY_ETRUNCATED;
    if (info->version == 1)
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
    else
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    if (hlen > NPY_MAX_HEADER) return NPY_EHEADER;
    info->data_offset = pre + hlen;
    if (len < info->data_offset) return NPY_ETRUNCATED;
    if (hlen == 0 || b[pre + hlen - 1] != '\n') return NPY_EHEADER;

    c.p = (const char *)b + pre;
    c.end = c.p + hlen;
    if (!npy__eat(&c, '{')) return NPY_EHEADER;
    while (!npy__eat(&c, '}')) {
        char key[32];
        if (!npy__string(&c, key, sizeof key) || !npy__eat(&c, ':')) return NPY_EHEADER;
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            /* a list here is a structured dtype: refused as a dtype, not
               as a malformed header, so the message says what it is */
            npy__ws(&c);
            if (c.p < c.end && *c.p == '[') {
                strcpy(info->descr, "[structured]");
                return NPY_EDTYPE;
            }
            if (!npy__string(&c, info->descr, sizeof info->descr)) return NPY_EHEADER;
            seen_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_fortran) {
            if (npy__word(&c, "True")) info->fortran_order = 1;
            else if (npy__word(&c, "False")) info->fortran_order = 0;
            else return NPY_EHEADER;
            seen_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            if ((s = npy__shape(&c, info)) != NPY_OK) return s;
            seen_shape = 1;
        } else {
            return NPY_EHEADER; /* unknown or repeated key, as numpy */
        }
        if (!npy__eat(&c, ',')) {
            if (!npy__eat(&c, '}')) return NPY_EHEADER;
            break;
        }
    }
    npy__ws(&c);
    if (c.p != c.end) return NPY_EHEADER; /* only padding may follow */
    if (!seen_descr || !seen_fortran || !seen_shape) return NPY_EHEADER;

    npy__dtype(info);
    info->count = 1;
    for (i = 0; i < info->ndim; i++) {
        if (info->shape[i] > (uint64_t)(size_t)-1) { ok = 0; break; }
        info->count = npy__mul(info->count, (size_t)info->shape[i], &ok);
    }
    if (ok) info->nbytes = npy__mul(info->count, info->elsize, &ok);
    if (!ok) { info->count = info->nbytes = 0; return NPY_EOVERFLOW; }
    return NPY_OK;
}

/* The header describes something npy_read_matrix_* converts? */
static npy_status npy__check_matrix(const npy_info *info)
{
    if (info->elsize == 0) return NPY_EDTYPE;
    if (info->ndim != 2) return NPY_ENDIM;
    return NPY_OK;
}

/* Convert elements [first, first + n) of the file's data order (src holds
   exactly those) into the row-major float32 matrix out. */
static void npy__convert(float *out, const unsigned char *src, size_t first, size_t n,
                         const npy_info *info)
{
    const size_t rows = (size_t)info->shape[0], cols = (size_t)info->shape[1];
    const int swap = (info->descr[0] == '>') != npy__host_big_endian();
    size_t e;
    for (e = 0; e < n; e++) {
        unsigned char t[8];
        size_t k, p = first + e, dst;
        float v;
        for (k = 0; k < info->elsize; k++)
            t[k] = src[e * info->elsize + (swap ? info->elsize - 1 - k : k)];
        if (info->elsize == 4) {
            memcpy(&v, t, 4);
        } else {
            double dv;
            memcpy(&dv, t, 8);
            v = (float)dv; /* beyond FLT_MAX: the conversion gives +-Inf */
        }
        /* Fortran order: element p is (p % rows, p / rows) */
        dst = info->fortran_order ? (p % rows) * cols + p / rows : p;
        out[dst] = v;
    }
}

static npy_status npy__alloc_matrix(const npy_info *info, float **out)
{
    int ok = 1;
    size_t bytes = npy__mul(info->count, sizeof(float), &ok);
    if (!ok) return NPY_EOVERFLOW;
    *out = (float *)malloc(bytes ? bytes : 1);
    return *out ? NPY_OK : NPY_ENOMEM;
}

NPYDEF npy_status npy_read_matrix_mem(const void *buf, size_t len, float **out,
                                      size_t *rows, size_t *cols, npy_info *info)
{
    npy_info local;
    npy_status s;
    if (!info) info = &local;
    if (!out || !rows || !cols) return NPY_EINVAL;
    *out = NULL;
    if ((s = npy_parse_header(buf, len, info)) != NPY_OK) return s;
    if ((s = npy__check_matrix(info)) != NPY_OK) return s;
    if (len - info->data_offset < info->nbytes) return NPY_ETRUNCATED;
    if (len - info->data_offset > info->nbytes) return NPY_ETRAILING;
    if ((s = npy__alloc_matrix(info, out)) != NPY_OK) return s;
    npy__convert(*out, (const unsigned char *)buf + info->data_offset, 0, info->count, info);
    *rows = (size_t)info->shape[0];
    *cols = (size_t)info->shape[1];
    return NPY_OK;
}

/* Open path and check its header: well formed, a 2-D float matrix, and,
   where the stream can tell its length, exactly nbytes of data after it
   (so a shape that promises more data than there is fails before any
   allocation). need_length: a stream whose length is unknown is NPY_EIO
   (the slice reader seeks: the length is what makes every slice agree on a
   truncated or overlong file). On NPY_OK *fp is the open stream, positioned
   at the data. */
static npy_status npy__open_checked(const char *path, npy_info *info, FILE **fp,
                                    int need_length)
{
    unsigned char pre[12], *hdr = NULL;
    npy_status s;
    size_t got, hlen;
    long fsize = -1;
    FILE *f;

    *fp = NULL;
    memset(info, 0, sizeof *info);
    if (!(f = fopen(path, "rb"))) return NPY_EIO;
    if (fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    if (fseek(f, 0, SEEK_SET) != 0) fsize = -1;
    got = fread(pre, 1, sizeof pre, f);
    if (ferror(f)) { s = NPY_EIO; goto done; }
    /* parse a prefix first: it says how long the header is; data_offset is
       set once the length field has been read; a truncation before that,
       or any other error, is final */
    s = npy_parse_header(pre, got, info);
    if (s != NPY_OK && !(s == NPY_ETRUNCATED && info->data_offset > got)) goto done;
    hlen = info->data_offset > got ? info->data_offset : got;
    if (!(hdr = (unsigned char *)malloc(hlen))) { s = NPY_ENOMEM; goto done; }
    memcpy(hdr, pre, got);
    if (hlen > got) {
        got += fread(hdr + got, 1, hlen - got, f);
        if (ferror(f)) { s = NPY_EIO; goto done; }
    }
    if ((s = npy_parse_header(hdr, got, info)) != NPY_OK) goto done;
    if ((s = npy__check_matrix(info)) != NPY_OK) goto done;
    if (fsize < 0 && need_length) { s = NPY_EIO; goto done; }
    if (fsize >= 0) {
        size_t avail = (size_t)fsize >= info->data_offset ? (size_t)fsize - info->data_offset : 0;
        if (avail < info->nbytes) { s = NPY_ETRUNCATED; goto done; }
        if (avail > info->nbytes) { s = NPY_ETRAILING; goto done; }
    }
    s = NPY_OK;
done:
    free(hdr);
    if (s == NPY_OK) *fp = f;
    else fclose(f);
    return s;
}

NPYDEF npy_status npy_read_matrix_file(const char *path, float **out,
                                       size_t *rows, size_t *cols, npy_info *info)
{
    unsigned char chunk[65536];
    npy_info local;
    npy_status s;
    size_t done = 0;
    FILE *f;

    if (!info) info = &local;
    if (!path || !out || !rows || !cols) return NPY_EINVAL;
    *out = NULL;
    if ((s = npy__open_checked(path, info, &f, 0)) != NPY_OK) return s;
    if ((s = npy__alloc_matrix(info, out)) != NPY_OK) goto done;
    while (done < info->count) {
        size_t want = sizeof chunk / info->elsize, n;
        if (want > info->count - done) want = info->count - done;
        n = fread(chunk, info->elsize, want, f);
        if (ferror(f)) { s = NPY_EIO; goto done; }
        if (n < want) { s = NPY_ETRUNCATED; goto done; }
        npy__convert(*out, chunk, done, n, info);
        done += n;
    }
    if (fgetc(f) != EOF) { s = NPY_ETRAILING; goto done; }
    *rows = (size_t)info->shape[0];
    *cols = (size_t)info->shape[1];
    s = NPY_OK;
done:
    fclose(f);
    if (s != NPY_OK) { free(*out); *out = NULL; }
    return s;
}

/* ---- header and row ranges from a file (a slice per process) ---------- */

NPYDEF npy_status npy_read_header_file(const char *path, npy_info *info)
{
    FILE *f;
    npy_status s;
    if (!path || !info) return NPY_EINVAL;
    if ((s = npy__open_checked(path, info, &f, 1)) == NPY_OK) fclose(f);
    return s;
}

/* Read n elements at byte offset off of f and convert them, as elements
   first .. first + n - 1 of the nrows x cols slice described by sub, into
   out. */
static npy_status npy__read_run(FILE *f, size_t off, float *out, size_t first, size_t n,
                                const npy_info *sub)
{
    unsigned char chunk[65536];
    size_t done = 0;
    if (off > (size_t)LONG_MAX) return NPY_EOVERFLOW;
    if (fseek(f, (long)off, SEEK_SET) != 0) return NPY_EIO;
    while (done < n) {
        size_t want = sizeof chunk / sub->elsize, got;
        if (want > n - done) want = n - done;
        got = fread(chunk, sub->elsize, want, f);
        if (ferror(f)) return NPY_EIO;
        if (got < want) return NPY_ETRUNCATED; /* shrank since the check */
        npy__convert(out, chunk, first + done, got, sub);
        done += got;
    }
    return NPY_OK;
}

NPYDEF npy_status npy_read_rows_file(const char *path, size_t row0, size_t nrows,
                                     float **out, size_t *rows, size_t *cols,
                                     npy_info *info)
{
    npy_info local, sub;
    npy_status s;
    size_t n, c, j, bytes;
    int ok = 1;
    FILE *f;

    if (!info) info = &local;
    if (!path || !out || !rows || !cols) return NPY_EINVAL;
    *out = NULL;
    if ((s = npy__open_checked(path, info, &f, 1)) != NPY_OK) return s;
    n = (size_t)info->shape[0];
    c = (size_t)info->shape[1];
    if (row0 > n || nrows > n - row0) { fclose(f); return NPY_EINVAL; }
    /* the slice as a matrix of its own: npy__convert then places element
       p of a run (C: row-major within the slice; Fortran: column-major)
       where it belongs in out */
    sub = *info;
    sub.shape[0] = nrows;
    sub.count = npy__mul(nrows, c, &ok);
    bytes = npy__mul(sub.count, sizeof(float), &ok);
    if (!ok) { fclose(f); return NPY_EOVERFLOW; }
    if (!(*out = (float *)malloc(bytes ? bytes : 1))) { fclose(f); return NPY_ENOMEM; }
    if (!info->fortran_order) {
        /* offsets cannot overflow: they lie inside a file whose length,
           data_offset + nbytes, was representable */
        s = npy__read_run(f, info->data_offset + row0 * c * info->elsize, *out, 0, sub.count, &sub);
    } else {
        for (j = 0; j < c && s == NPY_OK && nrows; j++)
            s = npy__read_run(f, info->data_offset + (j * n + row0) * info->elsize,
                              *out, j * nrows, nrows, &sub);
    }
    fclose(f);
    if (s != NPY_OK) { free(*out); *out = NULL; return s; }
    *rows = n;
    *cols = c;
    return NPY_OK;
}

/* ---- writer ------------------------------------------------------------- */

NPYDEF npy_status npy_write(FILE *f, const char *descr, int ndim,
                            const size_t *shape, const void *data)
{
    char dict[256], hdr[16];
    size_t elsize, count = 1, len, total, pre, pad, e;
    int i, ok = 1, v2;
    const unsigned char *src = (const unsigned char *)data;
    const int swap = npy__host_big_endian();

    if (!f || !descr || !shape || ndim < 1 || ndim > 2) return NPY_EINVAL;
    if (strcmp(descr, "<f4") == 0 || strcmp(descr, "<i4") == 0 || strcmp(descr, "<u4") == 0) elsize = 4;
    else if (strcmp(descr, "<f8") == 0 || strcmp(descr, "<i8") == 0) elsize = 8;
    else return NPY_EINVAL;
    for (i = 0; i < ndim; i++) count = npy__mul(count, shape[i], &ok);
    npy__mul(count, elsize, &ok);
    if (!ok) return NPY_EOVERFLOW;
    if (count && !data) return NPY_EINVAL;

    if (ndim == 1)
        len = (size_t)sprintf(dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%lu,), }",
                              descr, (unsigned long)shape[0]);
    else
        len = (size_t)sprintf(dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%lu, %lu), }",
                              descr, (unsigned long)shape[0], (unsigned long)shape[1]);
    /* numpy pads with spaces and a final '\n' to a multiple of 64 bytes */
    v2 = len + 1 + 10 > 65535;
    pre = v2 ? 12 : 10;
    total = (pre + len + 1 + 63) / 64 * 64;
    pad = total - pre - len - 1;
    memcpy(hdr, "\x93NUMPY", 6);
    hdr[6] = (char)(v2 ? 2 : 1);
    hdr[7] = 0;
    for (i = 0; i < (v2 ? 4 : 2); i++) hdr[8 + i] = (char)(((total - pre) >> (8 * i)) & 0xff);
    if (fwrite(hdr, 1, pre, f) != pre || fwrite(dict, 1, len, f) != len) return NPY_EIO;
    for (e = 0; e < pad; e++)
        if (fputc(' ', f) == EOF) return NPY_EIO;
    if (fputc('\n', f) == EOF) return NPY_EIO;
    if (!swap) {
        if (count && fwrite(src, elsize, count, f) != count) return NPY_EIO;
    } else {
        for (e = 0; e < count; e++) {
            unsigned char t[8];
            size_t k;
            for (k = 0; k < elsize; k++) t[k] = src[e * elsize + elsize - 1 - k];
            if (fwrite(t, 1, elsize, f) != elsize) return NPY_EIO;
        }
    }
    return ferror(f) ? NPY_EIO : NPY_OK;
}

#endif /* NPY_IMPLEMENTATION_DONE */
#endif /* NPY_IMPLEMENTATION */
