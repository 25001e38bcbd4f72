/* npy_gen.c - write a weight matrix as .npy for trying hardreid-difficulty,
 * in any layout the reader accepts, and (with the --descr, --shape,
 * --version overrides) in ones it must refuse: the CLI tests and
 * `make bench-cli` use it, so it writes the header itself instead of
 * going through npy.h's writer.
 *
 *   usage: npy_gen [options] N d OUT.npy
 *     --seed S        random seed (default 1)
 *     --twins P       make rows 2p+1 near copies of rows 2p, p < P, so the
 *                     hardest identities are known (0)
 *     --text          read the N*d values (row-major) from stdin instead
 *     --f8            float64 (default float32); values are float32 ones
 *                     widened, so both give the same difficulty bit for bit
 *     --fortran       column-major data, fortran_order True
 *     --big-endian    '>' byte order
 *     --version V     format version 1, 2 or 3 (V >= 4 or 0: written as is)
 *     --nan R C       put a NaN at row R, column C
 *     --descr STR     write STR as the header's descr (data unchanged)
 *     --shape STR     write STR as the header's shape, e.g. "(5,)" (data
 *                     unchanged: for lying headers)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unit(uint64_t *s) { return ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0; }
static float normal(uint64_t *s)
{
    return (float)(sqrt(-2.0 * log(unit(s))) * cos(6.283185307179586 * unit(s)));
}

static void put(FILE *f, const void *v, size_t size, int big)
{
    const unsigned char *b = (const unsigned char *)v;
    const uint16_t one = 1;
    unsigned char host_little;
    size_t k;
    memcpy(&host_little, &one, 1);
    for (k = 0; k < size; k++)
        fputc(b[(big == !host_little) ? k : size - 1 - k], f);
}

static int die(const char *msg)
{
    fprintf(stderr, "npy_gen: %s\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    size_t n, d, i, j, twins = 0, nan_r = (size_t)-1, nan_c = 0, hlen, total, pre;
    int f8 = 0, fortran = 0, big = 0, version = 1, text = 0, a, npos = 0;
    const char *descr = NULL, *shape = NULL, *pos[3] = { 0, 0, 0 };
    char dict[1024], shape_buf[64];
    float *w;
    FILE *f;

    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--seed") && a + 1 < argc) seed = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--twins") && a + 1 < argc) twins = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--text")) text = 1;
        else if (!strcmp(argv[a], "--f8")) f8 = 1;
        else if (!strcmp(argv[a], "--fortran")) fortran = 1;
        else if (!strcmp(argv[a], "--big-endian")) big = 1;
        else if (!strcmp(argv[a], "--version") && a + 1 < argc) version = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--nan") && a + 2 < argc) {
            nan_r = strtoul(argv[++a], NULL, 10);
            nan_c = strtoul(argv[++a], NULL, 10);
        } else if (!strcmp(argv[a], "--descr") && a + 1 < argc) descr = argv[++a];
        else if (!strcmp(argv[a], "--shape") && a + 1 < argc) shape = argv[++a];
        else if (argv[a][0] == '-' && argv[a][1]) return die("unknown option (see the comment at the top of npy_gen.c)");
        else if (npos < 3) pos[npos++] = argv[a];
        else return die("too many arguments");
    }
    if (npos != 3) return die("usage: npy_gen [options] N d OUT.npy");
    n = strtoul(pos[0], NULL, 10);
    d = strtoul(pos[1], NULL, 10);
    if (d && n > (size_t)-1 / sizeof(float) / d) return die("N * d too large");
    if (!(w = (float *)malloc(n * d * sizeof *w + 1))) return die("out of memory");

    if (text) {
        for (i = 0; i < n * d; i++)
            if (scanf("%f", &w[i]) != 1) return die("--text: fewer than N*d numbers on stdin");
    } else {
        for (i = 0; i < n * d; i++) w[i] = normal(&seed);
        for (i = 0; i < twins && 2 * i + 1 < n; i++)
            for (j = 0; j < d; j++) w[(2 * i + 1) * d + j] = w[2 * i * d + j] + 0.01f * normal(&seed);
    }
    if (nan_r < n && nan_c < d) w[nan_r * d + nan_c] = (float)NAN;

    if (!shape) {
        sprintf(shape_buf, "(%lu, %lu)", (unsigned long)n, (unsigned long)d);
        shape = shape_buf;
    }
    if (!descr) descr = big ? (f8 ? ">f8" : ">f4") : (f8 ? "<f8" : "<f4");
    if (strlen(descr) + strlen(shape) > 400) return die("--descr/--shape too long");
    hlen = (size_t)sprintf(dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
                           descr, fortran ? "True" : "False", shape);
    pre = version == 1 ? 10 : 12;
    total = (pre + hlen + 1 + 63) / 64 * 64;

    if (!(f = fopen(pos[2], "wb"))) { perror(pos[2]); return 1; }
    fwrite("\x93NUMPY", 1, 6, f);
    fputc(version, f);
    fputc(0, f);
    for (i = 0; i < pre - 8; i++) fputc((int)(((total - pre) >> (8 * i)) & 0xff), f);
    fwrite(dict, 1, hlen, f);
    for (i = pre + hlen + 1; i < total; i++) fputc(' ', f);
    fputc('\n', f);
    for (i = 0; i < n * d; i++) {
        /* element i of the file's order */
        size_t r = fortran ? i % n : i / d, col = fortran ? i / n : i % d;
        float v = w[r * d + col];
        if (f8) {
            double dv = v;
            put(f, &dv, 8, big);
        } else {
            put(f, &v, 4, big);
        }
    }
    if (fclose(f) != 0) { perror(pos[2]); return 1; }
    free(w);
    return 0;
}
