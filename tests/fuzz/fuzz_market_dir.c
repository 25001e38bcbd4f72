/* tests/fuzz/fuzz_market_dir.c - the trainer's Market-1501 directory loader
   (rd_load_market in examples/train/market.c, included here whole; data.c
   linked beside it for rd_free, see FUZZ_EXTRA_market_dir in
   tests/tests.mk) on directory trees built from the input.

   Each input becomes a small tree in a fresh temp directory ($TMPDIR, else
   /dev/shm, else /tmp): bounding_box_train/, query/ and bounding_box_test/
   (each may be missing, or be a file), holding up to 15 entries named in the
   Market layout (0002_c1s1_000451_03.jpg; -1 junk, 0000 distractors),
   with out-of-range persons or cameras, raw bytes, hidden names or other
   extensions; their contents are real tiny images (PNG, JPEG, BMP; RGB,
   grey, RGBA: made by stb_image_write at start-up), mutated, cut or
   extended, raw bytes, empty files, or directories. The loader runs with or
   without skip_bad at one of a few image sizes; then the tree is removed.

   What market.c promises: 0 and the three sets, or -1 with a message
   ("0 or -1 (printed)"); training and query keep persons > 0, the gallery
   keeps everything; a misnamed or undecodable image fails the load unless
   skip_bad. Checks: no crash, leak or sanitizer report; the verdict is the
   one a model of the tree predicts (names through parse_name, which
   fuzz_market holds to its grammar; contents through market.c's checks and
   stb_image from memory, the loader reading files; a directory never
   decodes); a refusal prints a message, and the last one names the tree;
   an accepted load has exactly the predicted images, in name order, each
   with its person and camera and the area average of its decoded pixels
   (an image stb_image decodes from uninitialized stack, see deterministic
   below, is counted instead). FUZZ_VERBOSE=1 prints the loader's messages;
   FUZZ_KEEP=1 keeps the trees (and names them). Findings:
   tests/fuzz/repro/market_README.txt. */
#define _XOPEN_SOURCE 700
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the loader's messages: counted and kept (the last one), not printed
   (the log would hold one per input); FUZZ_VERBOSE=1 prints them */
static int fz_nmsg, fz_verbose, fz_keep;
static char fz_msg[8192];
static int fz_fprintf(FILE *f, const char *fmt, ...) {
    va_list ap;
    int r;
    va_start(ap, fmt);
    if (f == stderr) {
        fz_nmsg++;
        r = vsnprintf(fz_msg, sizeof fz_msg, fmt, ap);
        if (fz_verbose) fputs(fz_msg, stderr);
    } else {
        r = vfprintf(f, fmt, ap);
    }
    va_end(ap);
    return r;
}

/* market.c sets its own (the headers above are read already) */
#undef _POSIX_C_SOURCE
/* market.c's cap on an image's pixels, lowered from 2^25 so that a 6-byte
   change to a stock image cannot make one run take seconds */
#define MAX_IMAGE_PIXELS_LOG2 16
#define fprintf fz_fprintf
#include "../../examples/train/market.c"
#undef fprintf

#define HARDREID_IMPLEMENTATION /* data.c's hr_rng_below */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- stock images: real files from a real encoder ------------------------ */

#define NSTOCK 9
typedef struct blob { unsigned char *p; size_t n, cap; } blob;
static blob g_stock[NSTOCK];

static void blob_put(void *ctx, void *data, int size) {
    blob *b = (blob *)ctx;
    if (b->n + (size_t)size > b->cap) {
        b->cap = 2 * (b->n + (size_t)size) + 64;
        if (!(b->p = (unsigned char *)realloc(b->p, b->cap))) abort();
    }
    memcpy(b->p + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

/* a w x h image of comp channels with a gradient and some noise */
static unsigned char *pattern(int w, int h, int comp, unsigned seed) {
    unsigned char *px = (unsigned char *)malloc((size_t)(w * h * comp));
    int i;
    if (!px) abort();
    for (i = 0; i < w * h * comp; i++) {
        seed = seed * 1103515245u + 12345u;
        px[i] = (unsigned char)((i * 37 / comp) + (seed >> 27));
    }
    return px;
}

static void make_stock(void) {
    static const struct { char fmt; int w, h, comp; } spec[NSTOCK] = {
        {'p', 6, 5, 3}, {'p', 3, 7, 1}, {'p', 4, 4, 4}, {'p', 1, 1, 3},  {'j', 9, 7, 3},
        {'j', 8, 8, 1}, {'j', 16, 32, 3}, {'b', 5, 3, 3}, {'p', 2, 3, 2},
    };
    int k;
    for (k = 0; k < NSTOCK; k++) {
        unsigned char *px = pattern(spec[k].w, spec[k].h, spec[k].comp, (unsigned)k + 1);
        int ok = spec[k].fmt == 'p'
                     ? stbi_write_png_to_func(blob_put, &g_stock[k], spec[k].w, spec[k].h, spec[k].comp, px,
                                              spec[k].w * spec[k].comp)
                 : spec[k].fmt == 'j'
                     ? stbi_write_jpg_to_func(blob_put, &g_stock[k], spec[k].w, spec[k].h, spec[k].comp, px, 90)
                     : stbi_write_bmp_to_func(blob_put, &g_stock[k], spec[k].w, spec[k].h, spec[k].comp, px);
        if (!ok || !g_stock[k].n) abort();
        free(px);
    }
}

/* ---- the tree and its model ---------------------------------------------- */

static const char *const SUBS[3] = {"bounding_box_train", "query", "bounding_box_test"};
static const char *const EXTS[8] = {".jpg", ".png", ".bmp", ".jpeg", ".JPG", ".PNG", ".gif", ""};

#define MAXE 16
typedef struct entry {
    char name[80];
    int is_dir;
    unsigned char *bytes; /* file contents (owned) */
    size_t n;
} entry;

typedef struct tree {
    char root[64];
    int sub_state[3]; /* 0 directory, 1 missing, 2 a plain file */
    entry e[3][MAXE];
    int ne[3];
} tree;

static char g_base[32];

static void set_entry(tree *t, int s, const char *name, int is_dir, const unsigned char *b, size_t n) {
    entry *e = NULL;
    int i;
    for (i = 0; i < t->ne[s]; i++)
        if (!strcmp(t->e[s][i].name, name)) e = &t->e[s][i];
    if (e && e->is_dir != is_dir) return; /* mkdir over a file / fopen over a dir: failed */
    if (!e) {
        if (t->ne[s] == MAXE) abort();
        e = &t->e[s][t->ne[s]++];
        snprintf(e->name, sizeof e->name, "%s", name);
    }
    free(e->bytes);
    e->bytes = NULL;
    e->is_dir = is_dir;
    e->n = n;
    if (!is_dir) {
        if (!(e->bytes = (unsigned char *)malloc(n ? n : 1))) abort();
        if (n) memcpy(e->bytes, b, n);
    }
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

/* the entry's name (no '/', no NUL, not "." or "..") */
static void make_name(fz_in *in, char *name, size_t cap) {
    const uint8_t kind = fz_u8(in);
    const char *ext = EXTS[kind >> 5];
    int pid, cam = fz_u8(in) % 9, seq = fz_u16(in);
    switch (kind & 7) {
    case 0: /* a Market name */
    case 1:
        pid = fz_u16(in) % 1600;
        snprintf(name, cap, "%04d_c%ds%d_%06d_%02d%s", pid, cam, cam % 6 + 1, seq, fz_u8(in) % 100, ext);
        break;
    case 2: /* junk */
        snprintf(name, cap, "-1_c%ds1_%06d_00%s", cam, seq, ext);
        break;
    case 3: /* distractor */
        snprintf(name, cap, "0000_c%ds1_%06d_00%s", cam, seq, ext);
        break;
    case 4: { /* out of range or near it */
        static const char *const pids[8] = {"1000000", "1000001", "-2", "-0", "99999999999999999999",
                                            "+5", "0002", "-1"};
        static const char *const cams[8] = {"c0", "c1000", "c1001", "c", "C1", "c-1", "c99999999999", "c1"};
        const int pk = fz_u8(in) % 8, ck = fz_u8(in) % 8;
        snprintf(name, cap, "%s_%ss1_%06d_00%s", pids[pk], cams[ck], seq, ext);
        break;
    }
    case 5: /* hidden */
        snprintf(name, cap, ".%04d_c%ds1_%06d_00%s", fz_u16(in) % 1600, cam, seq, ext);
        break;
    default: { /* raw bytes */
        size_t len = fz_u8(in) % 48, i, k = 0;
        for (i = 0; i < len && k + 8 < cap; i++) {
            const uint8_t c = fz_u8(in);
            if (c && c != '/') name[k++] = (char)c;
        }
        name[k] = 0;
        snprintf(name + k, cap - k, "%s", ext);
        if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..")) snprintf(name, cap, "x%s", ext);
    }
    }
}

/* the entry's contents into buf (cap bytes); returns the length, or
   (size_t)-1 for a directory */
static size_t make_content(fz_in *in, unsigned char *buf, size_t cap) {
    const uint8_t kind = fz_u8(in);
    const blob *b = &g_stock[fz_u8(in) % NSTOCK];
    size_t n = b->n, i, m;
    memcpy(buf, b->p, n);
    switch (kind % 8) {
    case 0: case 1: return n; /* the image as it is */
    case 2: /* a few bytes flipped */
        m = 1 + fz_u8(in) % 8;
        for (i = 0; i < m; i++) {
            const size_t at = fz_u16(in) % n;
            buf[at] ^= (uint8_t)(fz_u8(in) | 1);
        }
        return n;
    case 3: return fz_u16(in) % n; /* cut */
    case 4: /* extended */
        m = fz_u8(in);
        for (i = 0; i < m && n < cap; i++) buf[n++] = fz_u8(in);
        return n;
    case 5: /* raw bytes */
        m = fz_u16(in) % 1024;
        for (i = 0; i < m; i++) buf[i] = fz_u8(in);
        return m;
    case 6: return 0; /* empty */
    default: return (size_t)-1; /* a directory of that name */
    }
}

static void build_tree(tree *t, fz_in *in, int flags) {
    static unsigned char buf[8192];
    char path[512];
    int s, k, ne;
    memset(t, 0, sizeof *t);
    snprintf(t->root, sizeof t->root, "%s/mdXXXXXX", g_base);
    if (!mkdtemp(t->root)) { perror(t->root); abort(); }
    for (s = 0; s < 3; s++) {
        t->sub_state[s] = (flags >> s & 1) ? ((flags >> 6) & 1) + 1 : 0;
        snprintf(path, sizeof path, "%s/%s", t->root, SUBS[s]);
        if (t->sub_state[s] == 0 && mkdir(path, 0777)) abort();
        if (t->sub_state[s] == 2) {
            FILE *f = fopen(path, "wb");
            if (!f || fclose(f)) abort();
        }
    }
    ne = fz_u8(in) % MAXE;
    for (k = 0; k < ne; k++) {
        char name[80];
        const uint8_t where = fz_u8(in) % 5; /* 0-2: the sets, 3: the root, 4: train/nested */
        size_t n;
        make_name(in, name, sizeof name);
        n = make_content(in, buf, sizeof buf);
        if (where < 3 && t->sub_state[where] != 0) continue;
        if (where == 4 && t->sub_state[0] != 0) continue;
        if (where == 4) {
            snprintf(path, sizeof path, "%s/%s/nested", t->root, SUBS[0]);
            if (mkdir(path, 0777) && errno != EEXIST) abort();
            snprintf(path, sizeof path, "%s/%s/nested/%s", t->root, SUBS[0], name);
        } else if (where == 3) {
            snprintf(path, sizeof path, "%s/%s", t->root, name);
        } else {
            snprintf(path, sizeof path, "%s/%s/%s", t->root, SUBS[where], name);
        }
        if (n == (size_t)-1) {
            if (mkdir(path, 0777) == 0 && where < 3) set_entry(t, where, name, 1, NULL, 0);
        } else {
            FILE *f = fopen(path, "wb");
            if (!f) continue; /* a directory of that name is there */
            if ((n && fwrite(buf, 1, n, f) != n) || fclose(f)) abort();
            if (where < 3) set_entry(t, where, name, 0, buf, n);
        }
    }
}

static void free_tree(tree *t) {
    int s, i;
    if (fz_keep) fprintf(stderr, "fuzz_market_dir: kept %s\n", t->root);
    else if (nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS)) { perror(t->root); abort(); }
    for (s = 0; s < 3; s++)
        for (i = 0; i < t->ne[s]; i++) free(t->e[s][i].bytes);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* the loader's area average in double (it sums in float: tolerance) */
static void ref_resize(double *dst, size_t h, size_t w, const unsigned char *src, size_t H, size_t W) {
    size_t y, x, k, yy, xx;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++) {
            size_t y0 = y * H / h, y1 = (y + 1) * H / h, x0 = x * W / w, x1 = (x + 1) * W / w;
            double acc[3] = {0, 0, 0};
            if (y1 <= y0) y1 = y0 + 1;
            if (x1 <= x0) x1 = x0 + 1;
            for (yy = y0; yy < y1; yy++)
                for (xx = x0; xx < x1; xx++)
                    for (k = 0; k < 3; k++) acc[k] += src[(yy * W + xx) * 3 + k];
            for (k = 0; k < 3; k++)
                dst[(y * w + x) * 3 + k] = (acc[k] / (double)((y1 - y0) * (x1 - x0)) / 255.0 - 0.45) / 0.25;
        }
}

/* Whether e's bytes decode the same whatever the stack held before:
   stb_image 2.27 reads a PNG palette index past the PLTE entries from
   uninitialized stack, so such an image differs from one call to the next
   (the loader's decode runs deeper in the stack than the model's). (Its
   uninitialized heap reads, a corrupt JPEG's undefined Huffman table,
   market.c makes deterministic with zeroed allocations.) */
static unsigned long g_nondet;
static __attribute__((noinline)) void smash_stack(int v) {
    volatile unsigned char junk[32768];
    size_t i;
    for (i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(v + i * 7);
}
static int deterministic(const entry *e) {
    unsigned char *px[2];
    int w[2], h[2], k, same;
    for (k = 0; k < 2; k++) {
        const char *why;
        smash_stack(k ? 0x5a : 0xa5);
        px[k] = decode_mem(e->bytes, e->n, &w[k], &h[k], &why);
    }
    same = px[0] && px[1] && w[0] == w[1] && h[0] == h[1] &&
           !memcmp(px[0], px[1], (size_t)w[0] * (size_t)h[0] * 3);
    stbi_image_free(px[0]);
    stbi_image_free(px[1]);
    return same;
}

/* Check set s of an accepted load against the model; returns 0 if the
   model says this set fails the load. */
static int model_set(tree *t, int s, const rd_set *got, size_t h, size_t w, int skip_bad, int check) {
    entry *e = t->e[s];
    size_t i, n = 0;
    double *ref = (double *)malloc(h * w * 3 * sizeof(double));
    if (!ref) abort();
    if (t->sub_state[s] != 0) { free(ref); return 0; }
    qsort(e, (size_t)t->ne[s], sizeof *e, cmp_entry);
    for (i = 0; i < (size_t)t->ne[s]; i++) {
        int32_t pid, cam;
        int iw, ih;
        const char *why;
        unsigned char *px;
        if (e[i].name[0] == '.' || !has_image_ext(e[i].name)) continue;
        if (!parse_name(e[i].name, &pid, &cam)) {
            if (!skip_bad) { free(ref); return 0; }
            continue;
        }
        if (s < 2 && pid <= 0) continue;
        px = e[i].is_dir ? NULL : decode_mem(e[i].bytes, e[i].n, &iw, &ih, &why);
        if (!px) {
            if (!skip_bad) { free(ref); return 0; }
            continue;
        }
        if (check) {
            size_t q;
            FZ_CHECK(n < got->n, "%s/%s: %s: image %zu of %zu (%s) missing", t->root, SUBS[s], e[i].name, n,
                     got->n, e[i].name);
            FZ_CHECK(got->pid[n] == pid && got->cam[n] == cam, "%s/%s: %s: pid %d cam %d, want %d %d", t->root,
                     SUBS[s], e[i].name, (int)got->pid[n], (int)got->cam[n], (int)pid, (int)cam);
            ref_resize(ref, h, w, px, (size_t)ih, (size_t)iw);
            for (q = 0; q < h * w * 3; q++)
                if (fabs((double)got->img[n * h * w * 3 + q] - ref[q]) >= 1e-4) break;
            if (q < h * w * 3 && !deterministic(&e[i])) {
                if (!g_nondet++)
                    fprintf(stderr, "fuzz_market_dir: stb_image decodes %s differently from one call to the "
                                    "next (not checked; counted)\n", e[i].name);
            } else {
                FZ_CHECK(q == h * w * 3, "%s/%s: %s: pixel value %zu: %.7g, want %.7g", t->root, SUBS[s],
                         e[i].name, q, (double)got->img[n * h * w * 3 + q], ref[q]);
            }
        }
        stbi_image_free(px);
        n++;
    }
    free(ref);
    if (check) FZ_CHECK(n == got->n, "%s/%s: %zu images, the model says %zu", t->root, SUBS[s], got->n, n);
    return n > 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *tmp = getenv("TMPDIR");
    struct stat st;
    (void)argc; (void)argv;
    if (!tmp || !*tmp) tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    if (snprintf(g_base, sizeof g_base, "%s", tmp) >= (int)sizeof g_base) snprintf(g_base, sizeof g_base, "/tmp");
    fz_verbose = getenv("FUZZ_VERBOSE") && atoi(getenv("FUZZ_VERBOSE"));
    fz_keep = getenv("FUZZ_KEEP") && atoi(getenv("FUZZ_KEEP"));
    make_stock();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const size_t HW[4][2] = {{8, 8}, {16, 8}, {8, 4}, {3, 5}};
    fz_in in;
    tree *t = (tree *)calloc(1, sizeof *t);
    rd_data d;
    int flags, skip_bad, r, s, want = 1;
    size_t h, w;
    if (!t) abort();
    fz_init(&in, data, size);
    /* flags: bits 0-2 a set missing (bit 6: a file there instead), bit 3
       skip_bad, bits 4-5 the size, bit 7 the root itself a file */
    flags = fz_u8(&in);
    skip_bad = flags >> 3 & 1;
    h = HW[flags >> 4 & 3][0];
    w = HW[flags >> 4 & 3][1];
    build_tree(t, &in, flags);
    if (flags & 128) { /* the whole tree replaced by a file */
        char path[128];
        FILE *f;
        snprintf(path, sizeof path, "%s/file", t->root);
        f = fopen(path, "wb");
        if (!f || fclose(f)) abort();
        for (s = 0; s < 3; s++) t->sub_state[s] = 1;
        snprintf(path, sizeof path, "%s", t->root);
        snprintf(t->root, sizeof t->root, "%s/file", path);
    }
    for (s = 0; s < 3 && want; s++) want = model_set(t, s, NULL, h, w, skip_bad, 0);
    fz_nmsg = 0;
    fz_msg[0] = 0;
    memset(&d, 0x5a, sizeof d);
    r = rd_load_market(&d, t->root, h, w, skip_bad);
    FZ_CHECK(r == 0 || r == -1, "rd_load_market returned %d", r);
    if (flags & 128) { /* back to the real root for the checks and removal */
        char *slash = strrchr(t->root, '/');
        *slash = 0;
    }
    if (r == 0) {
        FZ_CHECK(want, "%s: accepted a tree the model refuses", t->root);
        FZ_CHECK(d.train.h == h && d.train.w == w && d.query.h == h && d.gallery.w == w, "sizes");
        for (s = 0; s < 3; s++) {
            const rd_set *got = s == 0 ? &d.train : s == 1 ? &d.query : &d.gallery;
            model_set(t, s, got, h, w, skip_bad, 1);
        }
        rd_free(&d);
    } else {
        FZ_CHECK(!want, "%s: refused a tree the model accepts: %s", t->root, fz_msg);
        FZ_CHECK(fz_nmsg > 0, "%s: refused without a message", t->root);
        FZ_CHECK(strstr(fz_msg, t->root) != NULL, "the last message does not name the tree %s: %s", t->root,
                 fz_msg);
    }
    free_tree(t);
    free(t);
    return 0;
}
