/* market.c - the Market-1501 directory layout, both ways:
     rd_load_market   bounding_box_train/, query/, bounding_box_test/ of
                      PPPP_cCsS_FFFFFF_NN.jpg (PPPP: person, -1 junk, 0000
                      distractor; C: camera) decoded with stb_image (Debian
                      libstb-dev) and area-resized to the network's input;
     rd_save_market   the embedded data set written in that layout (PNG or
                      JPEG via stb_image_write), so the loader can be tried
                      without downloading anything.
   Protocol: training keeps persons > 0 (junk and distractors are counted
   and left out); queries keep persons > 0; the gallery keeps everything:
   junk (-1) is ignored by the evaluation, distractors (0) are non-matches. */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* stb_image leaves some of its buffers uninitialized and, given a corrupt
   JPEG (a scan whose Huffman table was never defined), decodes from them:
   zeroed allocations make such a file decode the same in every run (the
   data hash that checkpoints check depends on it). calloc, not malloc +
   memset: a large block comes zeroed from the kernel, untouched. (What it
   grows with realloc, zlib output and PNG data, it writes before reading.) */
static void *stbi_zalloc(size_t n) { return calloc(1, n ? n : 1); }
#define STBI_MALLOC(n) stbi_zalloc(n)
#define STBI_FREE(p) free(p)
#define STBI_REALLOC(p, n) realloc(p, n)
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

/* "PPPP_cC..." -> pid, cam; 0 if the name is not of that form */
static int parse_name(const char *name, int32_t *pid, int32_t *cam)
{
    const char *s = name;
    long p, c;
    char *end;
    if (!(*s == '-' || isdigit((unsigned char)*s))) return 0;
    p = strtol(s, &end, 10);
    if (end == s || end[0] != '_' || end[1] != 'c' || !isdigit((unsigned char)end[2])) return 0;
    c = strtol(end + 2, &end, 10);
    if (p < -1 || p > 1000000 || c < 1 || c > 1000) return 0;
    *pid = (int32_t)p;
    *cam = (int32_t)c;
    return 1;
}

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    return !strcmp(dot, ".jpg") || !strcmp(dot, ".jpeg") || !strcmp(dot, ".png") || !strcmp(dot, ".bmp") ||
           !strcmp(dot, ".JPG") || !strcmp(dot, ".PNG");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- decoding: files are read whole, checked, then decoded from memory ----
   Debian 12's stb_image (2.27) trusts three things a hostile file controls:
   a JPEG DHT segment's code counts (more than 256 codes write past the
   Huffman table: heap corruption, fixed upstream in 2.28), a PNG chunk's
   length (it allocates up to 2 GiB for the chunk before reading it) and an
   image's declared size (up to 2^24 per side: a 60-byte file asks for
   gigabytes). All three are checked here first. */
#define MAX_IMAGE_BYTES ((size_t)64 << 20)
#ifndef MAX_IMAGE_PIXELS_LOG2 /* 2^25: 32 Mpx; Market's crops are 64 x 128 */
#define MAX_IMAGE_PIXELS_LOG2 25
#endif
#define MARKET_STR_(x) #x
#define MARKET_STR(x) MARKET_STR_(x)

/* 1 unless a DHT segment stb_image would read defines more than 256 codes.
   Walks the markers as stb_image does (bytes that are not 0xFF skipped,
   0xFF00 stuffing and RSTn inside scans, length-prefixed segments) up to
   EOI; bytes past the end read as 0, as stb_image's reader gives them. */
static int jpeg_tables_ok(const unsigned char *b, size_t n)
{
    size_t i = 2;
#define AT(k) ((k) < n ? (size_t)b[k] : 0u)
    if (n < 2 || b[0] != 0xFF || b[1] != 0xD8) return 1; /* not a JPEG */
    while (i + 1 < n) {
        const size_t m = b[i + 1];
        if (b[i] != 0xFF || m == 0xFF) { i++; continue; }
        if (m == 0xD9) break;                                                     /* EOI */
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { i += 2; continue; } /* no length */
        if (m == 0xC4) {
            size_t j = i + 4, k, codes;
            long left = (long)(AT(i + 2) << 8 | AT(i + 3)) - 2;
            while (left > 0) {
                for (codes = 0, k = 1; k <= 16; k++) codes += AT(j + k);
                if (codes > 256) return 0;
                left -= (long)(17 + codes);
                j += 17 + codes;
            }
        }
        i += 2 + (AT(i + 2) << 8 | AT(i + 3));
    }
#undef AT
    return 1;
}

/* 1 unless a PNG chunk claims more bytes than the file has left. */
static int png_chunks_ok(const unsigned char *b, size_t n)
{
    size_t i = 8;
    if (n < 8 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0) return 1; /* not a PNG */
    while (i + 8 <= n) {
        const size_t len = (size_t)b[i] << 24 | (size_t)b[i + 1] << 16 | (size_t)b[i + 2] << 8 | b[i + 3];
        if (len > n - i - 8) return 0;
        if (!memcmp(b + i + 4, "IEND", 4)) break;
        i += 12 + len; /* length, type, data, CRC */
    }
    return 1;
}

/* RGB pixels (stbi_image_free them) of the image in b[0..n), or NULL and
   *why. */
static unsigned char *decode_mem(const unsigned char *b, size_t n, int *iw, int *ih, const char **why)
{
    int comp;
    unsigned char *px;
    if (n > (size_t)INT32_MAX) { *why = "file too large"; return NULL; }
    /* the tables first: stbi_info reads them too */
    if (!jpeg_tables_ok(b, n)) { *why = "corrupt JPEG: a Huffman table with more than 256 codes"; return NULL; }
    if (!png_chunks_ok(b, n)) { *why = "corrupt PNG: a chunk longer than the file"; return NULL; }
    if (!stbi_info_from_memory(b, (int)n, iw, ih, &comp)) { *why = stbi_failure_reason(); return NULL; }
    if ((size_t)*iw * (size_t)*ih > (size_t)1 << MAX_IMAGE_PIXELS_LOG2) {
        *why = "more than 2^" MARKET_STR(MAX_IMAGE_PIXELS_LOG2) " pixels";
        return NULL;
    }
    px = stbi_load_from_memory(b, (int)n, iw, ih, &comp, 3);
    if (!px) *why = stbi_failure_reason();
    else if (*iw <= 0 || *ih <= 0) { /* a BMP of height 0 "decodes": no pixel to resize from */
        stbi_image_free(px);
        px = NULL;
        *why = "an image of 0 pixels";
    }
    return px;
}

static unsigned char *decode_file(const char *file, int *iw, int *ih, const char **why)
{
    FILE *f = fopen(file, "rb");
    unsigned char *b = NULL, *px = NULL;
    size_t n = 0, cap = 0, got;
    if (!f) { *why = strerror(errno); return NULL; }
    for (;;) {
        if (n == cap) {
            unsigned char *nb;
            if (cap >= MAX_IMAGE_BYTES) {
                if (fgetc(f) == EOF && !ferror(f)) break; /* exactly the cap */
                *why = "file larger than 64 MiB";
                goto done;
            }
            cap = cap ? 2 * cap : 65536;
            if (!(nb = (unsigned char *)realloc(b, cap))) { *why = "out of memory"; goto done; }
            b = nb;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) *why = strerror(errno);
    else px = decode_mem(b, n, iw, ih, why);
done:
    fclose(f);
    free(b);
    return px;
}

/* Area-average resize of an 8-bit RGB image to h x w, normalized as the
   generator's images are. */
static void resize_into(float *dst, size_t h, size_t w, const unsigned char *src, size_t H, size_t W)
{
    size_t y, x, k, yy, xx;
    for (y = 0; y < h; y++) {
        size_t y0 = y * H / h, y1 = (y + 1) * H / h;
        if (y1 <= y0) y1 = y0 + 1;
        for (x = 0; x < w; x++) {
            size_t x0 = x * W / w, x1 = (x + 1) * W / w;
            float s[3] = {0, 0, 0};
            if (x1 <= x0) x1 = x0 + 1;
            for (yy = y0; yy < y1; yy++)
                for (xx = x0; xx < x1; xx++)
                    for (k = 0; k < 3; k++) s[k] += src[(yy * W + xx) * 3 + k];
            for (k = 0; k < 3; k++)
                dst[(y * w + x) * 3 + k] = (s[k] / (float)((y1 - y0) * (x1 - x0)) / 255.0f - 0.45f) / 0.25f;
        }
    }
}

/* which: 0 train, 1 query, 2 gallery. Every way out frees the listing. */
static int load_dir(rd_set *s, const char *root, const char *sub, int which, size_t h, size_t w,
                    int skip_bad, size_t *skipped)
{
    char path[4096];
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i, dropped = 0;
    int rc = -1;
    if (snprintf(path, sizeof path, "%s/%s", root, sub) >= (int)sizeof path) {
        fprintf(stderr, "train: path too long: %s/%s\n", root, sub);
        return -1;
    }
    d = opendir(path);
    if (!d) {
        fprintf(stderr, "train: cannot open directory %s: %s (a Market-1501 directory has "
                        "bounding_box_train/, query/ and bounding_box_test/)\n", path, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue; /* Thumbs.db and the like */
        if (n == cap) {
            char **nn = (char **)realloc(names, (cap = cap ? 2 * cap : 256) * sizeof(char *));
            if (!nn) { fprintf(stderr, "train: out of memory listing %s\n", path); goto done; }
            names = nn;
        }
        if (!(names[n] = (char *)malloc(strlen(e->d_name) + 1))) {
            fprintf(stderr, "train: out of memory listing %s\n", path);
            goto done;
        }
        strcpy(names[n++], e->d_name);
    }
    closedir(d);
    d = NULL;
    if (n) qsort(names, n, sizeof(char *), cmp_str); /* directory order is not reproducible */
    s->n = 0; s->h = h; s->w = w;
    if (!h || !w || n > (size_t)-1 / (h * w * 3 * sizeof(float))) {
        fprintf(stderr, "train: %s: %zu images of %zu x %zu do not fit in memory\n", path, n, h, w);
        goto done;
    }
    s->img = (float *)malloc((n ? n : 1) * h * w * 3 * sizeof(float));
    s->pid = (int32_t *)malloc((n ? n : 1) * sizeof(int32_t));
    s->cam = (int32_t *)malloc((n ? n : 1) * sizeof(int32_t));
    if (!s->img || !s->pid || !s->cam) { fprintf(stderr, "train: out of memory loading %s\n", path); goto done; }
    for (i = 0; i < n; i++) {
        char file[4096 + 260];
        int32_t pid, cam;
        int iw, ih;
        const char *why = "";
        unsigned char *px;
        if (snprintf(file, sizeof file, "%s/%s", path, names[i]) >= (int)sizeof file) continue;
        if (!parse_name(names[i], &pid, &cam)) {
            if (!skip_bad) {
                fprintf(stderr, "train: %s: name is not PPPP_cC..._NN.jpg (person, camera); "
                                "--skip-bad skips such files\n", file);
                goto done;
            }
            ++*skipped;
            continue;
        }
        if ((which == 0 && pid <= 0) || (which == 1 && pid <= 0)) { dropped++; continue; }
        px = decode_file(file, &iw, &ih, &why);
        if (!px) {
            if (!skip_bad) {
                fprintf(stderr, "train: %s: cannot decode image (%s); --skip-bad skips such files\n",
                        file, why);
                goto done;
            }
            ++*skipped;
            continue;
        }
        resize_into(s->img + s->n * h * w * 3, h, w, px, (size_t)ih, (size_t)iw);
        stbi_image_free(px);
        s->pid[s->n] = pid;
        s->cam[s->n] = cam;
        s->n++;
    }
    if (dropped)
        fprintf(stderr, "train: %s: %zu junk/distractor images left out (protocol)\n", path, dropped);
    if (s->n == 0) {
        fprintf(stderr, "train: %s: no usable images\n", path);
        goto done;
    }
    rc = 0;
done:
    if (d) closedir(d);
    for (i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int rd_load_market(rd_data *d, const char *dir, size_t h, size_t w, int skip_bad)
{
    size_t skipped = 0;
    memset(d, 0, sizeof *d);
    if (load_dir(&d->train, dir, "bounding_box_train", 0, h, w, skip_bad, &skipped) ||
        load_dir(&d->query, dir, "query", 1, h, w, skip_bad, &skipped) ||
        load_dir(&d->gallery, dir, "bounding_box_test", 2, h, w, skip_bad, &skipped)) {
        rd_free(d);
        return -1;
    }
    if (skipped) fprintf(stderr, "train: %s: skipped %zu bad files (--skip-bad)\n", dir, skipped);
    fprintf(stderr, "train: %s: %zu train, %zu query, %zu gallery images\n", dir, d->train.n, d->query.n,
            d->gallery.n);
    return 0;
}

static int save_dir(const rd_set *s, const char *root, const char *sub, int jpeg)
{
    char path[4096];
    size_t i, k, np = s->h * s->w * 3;
    unsigned char *px = (unsigned char *)malloc(np);
    if (!px) return -1;
    snprintf(path, sizeof path, "%s/%s", root, sub);
    if (mkdir(path, 0777) && errno != EEXIST) {
        fprintf(stderr, "train: cannot create %s: %s\n", path, strerror(errno));
        free(px);
        return -1;
    }
    for (i = 0; i < s->n; i++) {
        char file[4200];
        int ok;
        for (k = 0; k < np; k++) {
            float v = (s->img[i * np + k] * 0.25f + 0.45f) * 255.0f + 0.5f;
            px[k] = (unsigned char)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
        }
        /* Market's names: PPPP_cCsS_FFFFFF_NN, -1 written as "-1" */
        if (s->pid[i] < 0)
            snprintf(file, sizeof file, "%s/-1_c%ds1_%06zu_00.%s", path, (int)s->cam[i], i, jpeg ? "jpg" : "png");
        else
            snprintf(file, sizeof file, "%s/%04d_c%ds1_%06zu_00.%s", path, (int)s->pid[i], (int)s->cam[i], i,
                     jpeg ? "jpg" : "png");
        ok = jpeg ? stbi_write_jpg(file, (int)s->w, (int)s->h, 3, px, 95)
                  : stbi_write_png(file, (int)s->w, (int)s->h, 3, px, (int)(s->w * 3));
        if (!ok) {
            fprintf(stderr, "train: cannot write %s\n", file);
            free(px);
            return -1;
        }
    }
    free(px);
    return 0;
}

int rd_save_market(const rd_data *d, const char *dir, int jpeg)
{
    if (mkdir(dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "train: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return save_dir(&d->train, dir, "bounding_box_train", jpeg) || save_dir(&d->query, dir, "query", jpeg) ||
                   save_dir(&d->gallery, dir, "bounding_box_test", jpeg)
               ? -1
               : 0;
}
