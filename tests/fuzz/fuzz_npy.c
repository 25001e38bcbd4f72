/* tests/fuzz/fuzz_npy.c - examples/npy.h's readers on arbitrary bytes (the
   input is a whole .npy file).

   Checks: no crash or sanitizer report; every status is a documented one;
   npy_parse_header on success: version 1-3, data_offset = 10 or 12 plus the
   header length field and within the input, ndim <= NPY_MAX_DIMS, count
   the product of the shape, elsize 4 / 8 exactly for the float descrs
   ('<' '>' '=' '|' + 'f4' / 'f8'), nbytes = count * elsize;
   npy_read_matrix_mem: *out NULL on error; on success a 2-D float dtype,
   the data exactly nbytes long, rows x cols = count, and every element the
   one the header says is there (byte order, float64 rounding, Fortran
   order recomputed here); npy_read_matrix_file on the same bytes in a temp
   file: the same status and the same matrix; npy_read_rows_file on a slice
   picked by the input's last bytes: refused where the whole file is,
   otherwise those rows of the matrix, and a slice past the end refused;
   round trip: a matrix that
   parses, written back with npy_write ('<f4', C order) and read again,
   gives the same rows, cols and bits. */
#define _XOPEN_SOURCE 700
#define NPY_IMPLEMENTATION
#define NPY_STATIC
#include "examples/npy.h"

#include <unistd.h>

#include "fuzz.h" /* FZ_CHECK */

static char g_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rm_tmp(void) { if (g_path[0]) unlink(g_path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    int fd;
    (void)argc; (void)argv;
    strcpy(g_path, "/tmp/fuzz_npy_XXXXXX");
    fd = mkstemp(g_path);
    if (fd < 0) { perror("mkstemp"); abort(); }
    close(fd);
    atexit(rm_tmp);
    return 0;
}

static int known_status(npy_status s) { return s <= NPY_OK && s >= NPY_EINVAL; }

/* element e (in the file's order) of the data, as npy.h documents it */
static uint32_t want_bits(const uint8_t *src, size_t e, const npy_info *in) {
    uint8_t t[8];
    size_t k;
    float v;
    const int big = in->descr[0] == '>'; /* the harness runs little-endian hosts */
    for (k = 0; k < in->elsize; k++)
        t[k] = src[e * in->elsize + (big ? in->elsize - 1 - k : k)];
    if (in->elsize == 4) memcpy(&v, t, 4);
    else { double d; memcpy(&d, t, 8); v = (float)d; }
    memcpy(&t, &v, 4);
    { uint32_t u; memcpy(&u, t, 4); return u; }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    npy_info hi, mi, fi;
    npy_status hs, ms, fs;
    float *m = NULL, *fm = NULL;
    size_t rows = 0, cols = 0, frows = 0, fcols = 0, e;
    FILE *f;

    /* the header alone */
    hs = npy_parse_header(data, size, &hi);
    FZ_CHECK(known_status(hs), "npy_parse_header: status %d", (int)hs);
    if (hs == NPY_OK) {
        size_t count = 1;
        int i, fl;
        const size_t pre = hi.version == 1 ? 10 : 12;
        size_t hlen;
        FZ_CHECK(hi.version >= 1 && hi.version <= 3, "version %d", hi.version);
        hlen = hi.version == 1 ? (size_t)data[8] | (size_t)data[9] << 8
                               : (size_t)data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 |
                                     (size_t)data[11] << 24;
        FZ_CHECK(hi.data_offset == pre + hlen && hi.data_offset <= size,
                 "data_offset %zu, header length %zu, size %zu", hi.data_offset, hlen, size);
        FZ_CHECK(hi.ndim >= 0 && hi.ndim <= NPY_MAX_DIMS, "ndim %d", hi.ndim);
        for (i = 0; i < hi.ndim; i++) count *= (size_t)hi.shape[i]; /* checked: no overflow */
        FZ_CHECK(hi.count == count, "count %zu, product of shape %zu", hi.count, count);
        fl = strlen(hi.descr) == 3 && strchr("<>=|", hi.descr[0]) && hi.descr[0] && hi.descr[1] == 'f' &&
             (hi.descr[2] == '4' || hi.descr[2] == '8');
        FZ_CHECK(hi.elsize == (fl ? (size_t)(hi.descr[2] - '0') : 0), "descr '%s' elsize %zu",
                 hi.descr, hi.elsize);
        FZ_CHECK(hi.nbytes == hi.count * hi.elsize, "nbytes %zu", hi.nbytes);
    }

    /* the whole file from memory */
    ms = npy_read_matrix_mem(data, size, &m, &rows, &cols, &mi);
    FZ_CHECK(known_status(ms), "npy_read_matrix_mem: status %d", (int)ms);
    if (ms != NPY_OK) {
        FZ_CHECK(m == NULL, "*out not NULL on error %d", (int)ms);
    } else {
        FZ_CHECK(hs == NPY_OK, "matrix read, header refused (%d)", (int)hs);
        FZ_CHECK(mi.ndim == 2 && (mi.elsize == 4 || mi.elsize == 8), "ndim %d elsize %zu", mi.ndim,
                 mi.elsize);
        FZ_CHECK(size - mi.data_offset == mi.nbytes, "data %zu bytes, header says %zu",
                 size - mi.data_offset, mi.nbytes);
        FZ_CHECK(rows == mi.shape[0] && cols == mi.shape[1] && rows * cols == mi.count,
                 "rows %zu cols %zu count %zu", rows, cols, mi.count);
        FZ_CHECK(m != NULL, "NULL matrix on success");
        for (e = 0; e < mi.count; e++) {
            const size_t dst = mi.fortran_order ? (e % rows) * cols + e / rows : e;
            uint32_t got;
            memcpy(&got, &m[dst], 4);
            FZ_CHECK(got == want_bits(data + mi.data_offset, e, &mi),
                     "element %zu (-> %zu): %08x, want %08x", e, dst, got,
                     want_bits(data + mi.data_offset, e, &mi));
        }
    }

    /* the same bytes from a file */
    f = fopen(g_path, "wb");
    FZ_CHECK(f != NULL, "cannot open %s", g_path);
    FZ_CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "cannot write %s", g_path);
    fs = npy_read_matrix_file(g_path, &fm, &frows, &fcols, &fi);
    FZ_CHECK(fs == ms, "file reader status %d (%s), memory reader %d (%s)", (int)fs,
             npy_status_string(fs), (int)ms, npy_status_string(ms));
    if (fs != NPY_OK) {
        FZ_CHECK(fm == NULL, "*out not NULL on error %d (file)", (int)fs);
    } else {
        FZ_CHECK(frows == rows && fcols == cols && memcmp(fm, m, rows * cols * sizeof(float)) == 0,
                 "file reader: %zu x %zu, memory reader %zu x %zu, or other values", frows, fcols,
                 rows, cols);
    }
    free(fm);

    /* slices of rows from the file (npy_read_rows_file: the MPI tool's
       reader): the same status as the whole reader for a slice in range,
       and the slice equal to those rows of the whole matrix; the slice is
       picked from the input's last bytes */
    {
        const size_t a = size ? data[size - 1] : 0, b = size > 1 ? data[size - 2] : 0;
        size_t sr = 0, sc = 0, r0, nr;
        float *sm = NULL;
        npy_status ss;
        r0 = ms == NPY_OK ? a % (rows + 1) : a % 3;
        nr = ms == NPY_OK ? b % (rows - r0 + 1) : b % 3;
        ss = npy_read_rows_file(g_path, r0, nr, &sm, &sr, &sc, NULL);
        FZ_CHECK(known_status(ss), "npy_read_rows_file: status %d", (int)ss);
        if (ss != NPY_OK) FZ_CHECK(sm == NULL, "*out not NULL on error %d (rows)", (int)ss);
        if (ms == NPY_OK) {
            FZ_CHECK(ss == NPY_OK, "rows %zu+%zu of a good %zu x %zu file: %d (%s)", r0, nr, rows,
                     cols, (int)ss, npy_status_string(ss));
            FZ_CHECK(sr == rows && sc == cols, "rows reader shape %zu x %zu, want %zu x %zu", sr, sc,
                     rows, cols);
            FZ_CHECK(nr * cols == 0 || memcmp(sm, m + r0 * cols, nr * cols * sizeof(float)) == 0,
                     "rows %zu+%zu differ from the whole matrix's", r0, nr);
            ss = npy_read_rows_file(g_path, rows, 1, &fm, &sr, &sc, NULL);
            FZ_CHECK(ss == NPY_EINVAL && fm == NULL, "a slice past the last row: %d", (int)ss);
        } else {
            /* a file the whole reader refuses is refused for every slice
               (the same header and length checks) */
            FZ_CHECK(ss != NPY_OK, "rows %zu+%zu read from a file refused whole (%d)", r0, nr, (int)ms);
        }
        free(sm);
        fm = NULL;
    }

    /* round trip through the writer */
    if (ms == NPY_OK) {
        char *buf = NULL;
        size_t blen = 0, shape[2], r2 = 0, c2 = 0;
        float *m2 = NULL;
        npy_status ws, rs;
        shape[0] = rows;
        shape[1] = cols;
        f = open_memstream(&buf, &blen);
        FZ_CHECK(f != NULL, "open_memstream");
        ws = npy_write(f, "<f4", 2, shape, m);
        FZ_CHECK(fclose(f) == 0, "fclose");
        FZ_CHECK(ws == NPY_OK, "npy_write %zu x %zu: %d", rows, cols, (int)ws);
        rs = npy_read_matrix_mem(buf, blen, &m2, &r2, &c2, NULL);
        FZ_CHECK(rs == NPY_OK, "re-reading the written file: %d (%s)", (int)rs, npy_status_string(rs));
        FZ_CHECK(r2 == rows && c2 == cols, "round trip %zu x %zu -> %zu x %zu", rows, cols, r2, c2);
        FZ_CHECK(memcmp(m2, m, rows * cols * sizeof(float)) == 0, "round trip changed the values");
        free(m2);
        free(buf);
    }
    free(m);
    return 0;
}
