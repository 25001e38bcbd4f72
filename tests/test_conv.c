/* tests/test_conv.c - hr_conv2d_forward, hr_conv2d_backward_data and
   hr_conv2d_backward_weight against a plain double-precision reference
   written from the definition (and, for the backward calls, central
   differences of a scalar loss), on every ISA path: a table of small awkward
   shapes that reaches all three algorithms (depthwise direct, 1x1 GEMM on x,
   chunked im2col + GEMM, grouped or not) plus shapes spanning several im2col
   chunks; accumulation, defaults, hr_conv2d_out_size, errors (outputs
   untouched), n == 0 and thread-count invariance. */
#include "harness.h"
#include "hardreid.h"

#include <stdint.h>

/* ------------------------------------------------------------ tolerance

   Every input is a float, so each product (x w, dy w, dy x) is exact in
   double, and the reference sums at most ~10^4 such terms in double: it is
   exact to ~1e-12 relative, and the error measured is the library's alone.
   One output element is a sum of at most K terms (K = the number of terms
   that reach it: kh kw c_in/groups (+1 for the bias) for y, c_out/groups
   kh kw for dx, n oh ow for dw and dbias), computed in float in some order
   and blocking: im2col and col2im only copy or add, a GEMM sums its k terms
   in blocks, the row blocks of dw and the taps of col2im add partial sums. Each
   term then passes through at most ~2K roundings of u = FLT_EPSILON / 2,
   so by the standard bound (Higham 3.5)
     |got - ref| <= gamma_{2K} sum |terms| <= 2K u (1 + O(Ku)) sum |terms|
                 <= 8 K FLT_EPSILON sum |terms|
   with room to spare (FMA only removes roundings). TINY covers elements
   whose terms are all 0 (then both are exactly 0).

   That bound is loose for the deep sums (dw over a batch), so every shape
   also runs on small-integer data (values in -2..2): every product and
   partial sum is then an integer far below 2^24, exact in float in any
   order, and the library must match the reference exactly. A dropped,
   doubled or misplaced term shows there whatever the tolerance. */
#define TINY 1e-30
#define GUARD 16 /* sentinel floats after every output: overruns show */

static double tol_of(size_t k, double sabs) {
    return 8.0 * (double)(k ? k : 1) * FLT_EPSILON * sabs + TINY;
}

/* ---------------------------------------------------------------- shapes */

typedef struct {
    const char *name;
    size_t n, h, w, ci, co, kh, kw, sh, sw, ph, pw, g;
    int bias;
} shape_t;

static hr_conv2d desc_of(const shape_t *s) {
    hr_conv2d cd;
    memset(&cd, 0, sizeof cd);
    cd.n = s->n;
    cd.h = s->h;
    cd.w = s->w;
    cd.c_in = s->ci;
    cd.c_out = s->co;
    cd.kh = s->kh;
    cd.kw = s->kw;
    cd.stride_h = s->sh;
    cd.stride_w = s->sw;
    cd.pad_h = s->ph;
    cd.pad_w = s->pw;
    cd.groups = s->g;
    return cd;
}

/* sizes from the definition (the shape's fields are all explicit, >= 1) */
static size_t s_oh(const shape_t *s) {
    return (s->h + 2 * s->ph - s->kh) / s->sh + 1;
}
static size_t s_ow(const shape_t *s) {
    return (s->w + 2 * s->pw - s->kw) / s->sw + 1;
}
static size_t s_xsz(const shape_t *s) { return s->n * s->h * s->w * s->ci; }
static size_t s_ysz(const shape_t *s) {
    return s->n * s_oh(s) * s_ow(s) * s->co;
}
static size_t s_wsz(const shape_t *s) {
    return s->co * s->kh * s->kw * (s->ci / s->g);
}
static size_t s_rows(const shape_t *s) { return s->n * s_oh(s) * s_ow(s); }
static int s_direct(const shape_t *s) {
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && !s->ph &&
           !s->pw;
}
/* im2col rows (output pixels of the batch) per block, as hr__conv_resolve
   computes it today: 2^17 floats (512 KiB) of rows of K = kh kw c_in/groups,
   at least 64, at most all; the direct 1x1 path takes all rows at once.
   Only used to make sure the table spans several blocks (if the library
   changes its blocking, the shapes below still test it, perhaps less). */
static size_t s_chunk(const shape_t *s) {
    size_t c = ((size_t)1 << 17) / (s->kh * s->kw * (s->ci / s->g));
    if (s_direct(s)) c = s_rows(s);
    if (c < 64) c = 64;
    if (c > s_rows(s)) c = s_rows(s);
    return c;
}

/* ------------------------------------------------------------ reference

   From the definition: for every output element (img, oy, ox, o) of group
   gi = o / cog, every tap (ky, kx) inside the input, every channel ch of
   the group:
     y[img,oy,ox,o]          += x[img, oy sh + ky - ph, ox sw + kx - pw,
                                  gi cig + ch] w[o, ky, kx, ch]
   and the adjoints of exactly that sum:
     dx[img,iy,ix,gi cig+ch] += dy[img,oy,ox,o] w[o,ky,kx,ch]
     dw[o,ky,kx,ch]          += dy[img,oy,ox,o] x[img,iy,ix,gi cig+ch]
     dbias[o]                += dy[img,oy,ox,o]
   The *abs arrays get the same sums of |term| (for the tolerance). Any of
   the outputs may be NULL (skipped); dx, dw, db and their abs arrays are
   accumulated into (zero them first). */
static void ref_conv(const shape_t *s, const double *x, const double *w,
                     const double *b, const double *dy, double *y,
                     double *yabs, double *dx, double *dxabs, double *dw,
                     double *dwabs, double *db, double *dbabs) {
    const size_t oh = s_oh(s), ow = s_ow(s), cig = s->ci / s->g,
                 cog = s->co / s->g;
    size_t img, oy, ox, o, ky, kx, ch;
    for (img = 0; img < s->n; img++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++)
                for (o = 0; o < s->co; o++) {
                    const size_t yi = ((img * oh + oy) * ow + ox) * s->co + o;
                    const size_t gi = o / cog;
                    double acc = 0.0, aabs = 0.0;
                    for (ky = 0; ky < s->kh; ky++)
                        for (kx = 0; kx < s->kw; kx++) {
                            /* signed: the padding is outside */
                            const long iy = (long)(oy * s->sh + ky) -
                                            (long)s->ph;
                            const long ix = (long)(ox * s->sw + kx) -
                                            (long)s->pw;
                            if (iy < 0 || iy >= (long)s->h || ix < 0 ||
                                ix >= (long)s->w)
                                continue;
                            for (ch = 0; ch < cig; ch++) {
                                const size_t xi =
                                    ((img * s->h + (size_t)iy) * s->w +
                                     (size_t)ix) * s->ci +
                                    gi * cig + ch;
                                const size_t wi =
                                    ((o * s->kh + ky) * s->kw + kx) * cig + ch;
                                if (y) {
                                    acc += x[xi] * w[wi];
                                    aabs += fabs(x[xi] * w[wi]);
                                }
                                if (dx) {
                                    dx[xi] += dy[yi] * w[wi];
                                    dxabs[xi] += fabs(dy[yi] * w[wi]);
                                }
                                if (dw) {
                                    dw[wi] += dy[yi] * x[xi];
                                    dwabs[wi] += fabs(dy[yi] * x[xi]);
                                }
                            }
                        }
                    if (y) {
                        y[yi] = acc + (b ? b[o] : 0.0);
                        yabs[yi] = aabs + (b ? fabs(b[o]) : 0.0);
                    }
                    if (db) {
                        db[o] += dy[yi];
                        dbabs[o] += fabs(dy[yi]);
                    }
                }
}

/* ----------------------------------------------------------- test data */

static void fill_rand(float *v, size_t n, uint64_t seed) {
    size_t i;
    for (i = 0; i < n; i++) v[i] = hr_t_unif(&seed);
}
/* integers in -2..2: exact sums in float (see the tolerance note) */
static void fill_int(float *v, size_t n, uint64_t seed) {
    size_t i;
    for (i = 0; i < n; i++) v[i] = (float)((int)hr_t_below(&seed, 5) - 2);
}
static void fill_data(float *v, size_t n, uint64_t seed, int exact) {
    if (exact) fill_int(v, n, seed);
    else fill_rand(v, n, seed);
}
static double *to_double(const float *v, size_t n) {
    double *d = (double *)hr_t_alloc(n * sizeof(double));
    size_t i;
    for (i = 0; i < n; i++) d[i] = (double)v[i];
    return d;
}
static double *dzeros(size_t n) {
    double *d = (double *)hr_t_alloc(n * sizeof(double));
    size_t i;
    for (i = 0; i < n; i++) d[i] = 0.0;
    return d;
}
/* an output buffer of n floats filled with v, plus GUARD sentinels */
static float *out_buf(size_t n, float v) {
    float *p = (float *)hr_t_alloc((n + GUARD) * sizeof(float));
    hr_t_fill_f(p, n, v);
    hr_t_fill_f(p + n, GUARD, HR_T_SENT_F);
    return p;
}

/* got (n floats, then GUARD sentinels) against ref; K: terms per element */
static void check_out(const float *got, const double *ref, const double *rabs,
                      size_t n, size_t k, int exact, const char *what,
                      const shape_t *s, hr_isa isa) {
    size_t i;
    cr_assert(hr_t_count_ne_f(got + n, GUARD, HR_T_SENT_F) == 0,
              "%s [%s] %s: wrote past the end of the output", what,
              hr_isa_name(isa), s->name);
    for (i = 0; i < n; i++) {
        const double e = fabs((double)got[i] - ref[i]);
        if (exact)
            cr_assert((double)got[i] == ref[i],
                      "%s [%s] %s (integer data): [%zu] = %.9g want %.9g",
                      what, hr_isa_name(isa), s->name, i, (double)got[i],
                      ref[i]);
        else
            cr_assert(e <= tol_of(k, rabs[i]),
                      "%s [%s] %s: [%zu] = %.9g want %.9g (err %.3g > tol "
                      "%.3g, K=%zu)",
                      what, hr_isa_name(isa), s->name, i, (double)got[i],
                      ref[i], e, tol_of(k, rabs[i]), k);
    }
}

/* ---------------------------------------------- the shape table, checks */

static const shape_t shapes[] = {
    /* name                n  h  w ci co kh kw sh sw ph pw  g bias */
    {"3x3 p1 s1",          2, 6, 6, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1},
    {"3x3 p1 s2 odd",      2, 7, 5, 3, 5, 3, 3, 2, 2, 1, 1, 1, 1},
    {"3x3 p0 odd",         1, 7, 5, 2, 3, 3, 3, 1, 1, 0, 0, 1, 0},
    {"3x3 s(2,1) p(0,1)",  1, 8, 5, 3, 2, 3, 3, 2, 1, 0, 1, 1, 1},
    {"3x1 p(1,0)",         2, 7, 5, 4, 3, 3, 1, 1, 1, 1, 0, 1, 1},
    {"1x5 s(1,2) p(0,2)",  1, 6, 9, 3, 2, 1, 5, 1, 2, 0, 2, 1, 0},
    {"2x3 s(2,1) p(0,1)",  2, 5, 7, 3, 4, 2, 3, 2, 1, 0, 1, 1, 1},
    {"2x3 s3 p1",          1, 9, 8, 2, 3, 2, 3, 3, 3, 1, 1, 1, 0},
    {"k = padded input",   2, 4, 5, 3, 2, 6, 7, 1, 1, 1, 1, 1, 1},
    {"k = input, p0",      1, 3, 3, 2, 3, 3, 3, 1, 1, 0, 0, 1, 0},
    {"1x1 direct",         3, 5, 7, 8, 6, 1, 1, 1, 1, 0, 0, 1, 1},
    {"1x1 direct nobias",  1, 3, 3, 5, 7, 1, 1, 1, 1, 0, 0, 1, 0},
    {"1x1 s2 (im2col)",    2, 7, 5, 8, 6, 1, 1, 2, 2, 0, 0, 1, 0},
    {"1x1 p1 (im2col)",    2, 3, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},
    {"1x1 g2",             2, 5, 6, 8, 6, 1, 1, 1, 1, 0, 0, 2, 1},
    {"1x1 g4",             1, 4, 5, 8, 12, 1, 1, 1, 1, 0, 0, 4, 0},
    {"1x1 s2 g2",          2, 5, 6, 4, 6, 1, 1, 2, 2, 0, 0, 2, 1},
    {"3x3 g2",             2, 6, 5, 6, 4, 3, 3, 1, 1, 1, 1, 2, 1},
    {"3x3 g3 s2",          1, 7, 6, 9, 6, 3, 3, 2, 2, 1, 1, 3, 0},
    {"dw 3x3 C1",          2, 5, 5, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1},
    {"dw 3x3 C3",          2, 6, 7, 3, 3, 3, 3, 1, 1, 1, 1, 3, 1},
    {"dw 3x3 C8",          1, 6, 7, 8, 8, 3, 3, 1, 1, 1, 1, 8, 0},
    {"dw 3x3 C17",         2, 6, 7, 17, 17, 3, 3, 1, 1, 1, 1, 17, 1},
    {"dw 3x3 C33",         2, 5, 6, 33, 33, 3, 3, 1, 1, 1, 1, 33, 0},
    {"dw 3x3 s2 C8",       2, 7, 6, 8, 8, 3, 3, 2, 2, 1, 1, 8, 1},
    {"dw 3x3 s2 C17",      1, 7, 7, 17, 17, 3, 3, 2, 2, 1, 1, 17, 0},
    {"dw 3x3 s2 p0 C3",    2, 8, 7, 3, 3, 3, 3, 2, 2, 0, 0, 3, 1},
    {"dw 5x5 p2 C3",       1, 7, 5, 3, 3, 5, 5, 1, 1, 2, 2, 3, 1},
    {"dw 5x5 p2 C33",      2, 6, 7, 33, 33, 5, 5, 1, 1, 2, 2, 33, 0},
    {"dw 3x1 s(2,1) C17",  2, 7, 5, 17, 17, 3, 1, 2, 1, 0, 1, 17, 1},
    {"dw x2 3x3 C4",       2, 6, 5, 4, 8, 3, 3, 1, 1, 1, 1, 4, 1},
    {"dw x2 3x3 s2 C3",    1, 7, 7, 3, 6, 3, 3, 2, 2, 1, 1, 3, 0},
    {"batch 5",            5, 4, 4, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1},
    {"batch 5 dw",         5, 4, 5, 9, 9, 3, 3, 1, 1, 1, 1, 9, 0},
    {"batch 5 1x1",        5, 3, 4, 6, 5, 1, 1, 1, 1, 0, 0, 1, 1},
    /* several im2col blocks of rows (s_chunk < s_rows), with block edges
       inside images and a partial last block */
    {"chunks 3x3 g2",      3, 20, 20, 64, 4, 3, 3, 1, 1, 1, 1, 2, 0},
    {"chunks 3x3 s2",      3, 30, 30, 64, 3, 3, 3, 2, 2, 1, 1, 1, 1},
    {"chunks K>2048 (64)", 2, 7, 7, 256, 3, 3, 3, 1, 1, 1, 1, 1, 1},
    {"chunks 1x1 s2",      2, 24, 23, 512, 4, 1, 1, 2, 2, 0, 0, 1, 0},
    {"chunks dw x2",       2, 40, 40, 16, 32, 3, 3, 1, 1, 1, 1, 16, 1},
    {"1x1 direct large",   3, 24, 24, 64, 8, 1, 1, 1, 1, 0, 0, 1, 1},
    /* the direct kernels' edges (issue 14): channel counts off every
       vector width and register tile (4, 6/8/14 rows, 12/16/32 columns),
       images narrower than a tile (tiles span rows and images), stride 2
       on odd sizes, 5x5 and 7x7, padding >= the kernel (output pixels with
       no tap inside), groups with cog off the tile, depthwise channels
       past 64 and rows shorter than a pixel block */
    {"3x3 ci17 co33",      2, 6, 7, 17, 33, 3, 3, 1, 1, 1, 1, 1, 1},
    {"3x3 w2 (< tile)",    3, 3, 2, 5, 7, 3, 3, 1, 1, 1, 1, 1, 0},
    {"3x3 s2 9x7 co40",    2, 9, 7, 6, 40, 3, 3, 2, 2, 1, 1, 1, 1},
    {"5x5 p2 ci20 co20",   1, 9, 11, 20, 20, 5, 5, 1, 1, 2, 2, 1, 1},
    {"7x7 s2 p3 stem",     2, 15, 13, 3, 16, 7, 7, 2, 2, 3, 3, 1, 1},
    {"3x3 p2",             1, 5, 5, 4, 6, 3, 3, 1, 1, 2, 2, 1, 1},
    {"3x3 p3 (>= k)",      1, 4, 4, 3, 5, 3, 3, 1, 1, 3, 3, 1, 1},
    {"3x3 g4 cog20",       1, 6, 5, 16, 80, 3, 3, 1, 1, 1, 1, 4, 0},
    {"1x1 ci100 co50",     2, 5, 6, 100, 50, 1, 1, 1, 1, 0, 0, 1, 1},
    {"dw 3x3 C70",         2, 6, 9, 70, 70, 3, 3, 1, 1, 1, 1, 70, 1},
    {"dw 3x3 C40 w3",      2, 5, 3, 40, 40, 3, 3, 1, 1, 1, 1, 40, 0},
    {"dw 3x3 C24 w13",     1, 4, 13, 24, 24, 3, 3, 1, 1, 1, 1, 24, 1},
    {"dw 5x5 s2 C24",      1, 9, 8, 24, 24, 5, 5, 2, 2, 2, 2, 24, 1},
    {"dw 3x3 p2 C19",      1, 5, 6, 19, 19, 3, 3, 1, 1, 2, 2, 19, 0},
    /* padding classes (which taps are inside): many tiles of each class
       of small images, classes with no tap at all, grouped classes */
    {"3x3 4x2 n9 ci20",    9, 4, 2, 20, 36, 3, 3, 1, 1, 1, 1, 1, 1},
    {"3x3 p3 on 1x2",      2, 1, 2, 3, 5, 3, 3, 1, 1, 3, 3, 1, 1},
    /* 16 channels: AVX-512's narrow 12 x 16 tiles, full and strided */
    {"3x3 16->16 narrow",  2, 9, 10, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1},
    {"3x3 s2 16->16",      2, 9, 9, 16, 16, 3, 3, 2, 2, 1, 1, 1, 0},
    {"3x3 p2 g2 4x3",      2, 4, 3, 4, 6, 3, 3, 1, 1, 2, 2, 2, 0},
    /* channels a multiple of 64: AVX-512's wide 6 x 64 tiles (forward,
       backward weight; backward data's columns are the input channels),
       pixel counts off 6, stride 2 by phases, groups of 64 */
    {"3x3 64->128 wide",   2, 5, 7, 64, 128, 3, 3, 1, 1, 1, 1, 1, 1},
    {"1x1 64->64 wide",    3, 5, 5, 64, 64, 1, 1, 1, 1, 0, 0, 1, 0},
    {"3x3 s2 g2 cog64",    1, 7, 9, 128, 128, 3, 3, 2, 2, 1, 1, 2, 1},
#ifndef HR_TEST_QUICK /* emulated runs: ~16M multiply-adds a pass */
    {"chunks 3x3 32->32",  3, 24, 24, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1},
    {"chunks 3x3 s2 g4",   2, 37, 29, 64, 32, 3, 3, 2, 2, 1, 1, 4, 1},
#endif
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

typedef struct {
    const shape_t *s;
    int exact;
    float *x, *w, *b, *dy;                   /* inputs (b NULL: no bias) */
    double *y, *ya, *dx, *dxa, *dw, *dwa, *db, *dba; /* reference, |terms| */
} case_t;

static void case_make(case_t *c, const shape_t *s, int exact, uint64_t seed) {
    const size_t xs = s_xsz(s), ys = s_ysz(s), ws = s_wsz(s);
    double *xd, *wd, *bd, *dyd;
    memset(c, 0, sizeof *c);
    c->s = s;
    c->exact = exact;
    c->x = (float *)hr_t_alloc(xs * sizeof(float));
    c->w = (float *)hr_t_alloc(ws * sizeof(float));
    c->dy = (float *)hr_t_alloc(ys * sizeof(float));
    fill_data(c->x, xs, seed + 1, exact);
    fill_data(c->w, ws, seed + 2, exact);
    fill_data(c->dy, ys, seed + 3, exact);
    if (s->bias) {
        c->b = (float *)hr_t_alloc(s->co * sizeof(float));
        fill_data(c->b, s->co, seed + 4, exact);
    }
    xd = to_double(c->x, xs);
    wd = to_double(c->w, ws);
    dyd = to_double(c->dy, ys);
    bd = c->b ? to_double(c->b, s->co) : NULL;
    c->y = dzeros(ys);
    c->ya = dzeros(ys);
    c->dx = dzeros(xs);
    c->dxa = dzeros(xs);
    c->dw = dzeros(ws);
    c->dwa = dzeros(ws);
    c->db = dzeros(s->co);
    c->dba = dzeros(s->co);
    ref_conv(s, xd, wd, bd, dyd, c->y, c->ya, c->dx, c->dxa, c->dw, c->dwa,
             c->db, c->dba);
    free(xd);
    free(wd);
    free(dyd);
    free(bd);
}

static void case_free(case_t *c) {
    free(c->x);
    free(c->w);
    free(c->b);
    free(c->dy);
    free(c->y);
    free(c->ya);
    free(c->dx);
    free(c->dxa);
    free(c->dw);
    free(c->dwa);
    free(c->db);
    free(c->dba);
}

/* terms per element: y, dx, dw/dbias */
static size_t k_y(const shape_t *s) {
    return s->kh * s->kw * (s->ci / s->g) + 1;
}
static size_t k_dx(const shape_t *s) {
    return (s->co / s->g) * s->kh * s->kw;
}
static size_t k_dw(const shape_t *s) { return s->n * s_oh(s) * s_ow(s); }

static void run_case(hr_isa isa, void *ctx) {
    const case_t *c = (const case_t *)ctx;
    const shape_t *s = c->s;
    const hr_conv2d cd = desc_of(s);
    const size_t xs = s_xsz(s), ys = s_ysz(s), ws = s_wsz(s);
    float *y = out_buf(ys, NAN); /* overwritten: NaN must not survive */
    float *dx = out_buf(xs, 0.0f), *dw = out_buf(ws, 0.0f);
    float *db = out_buf(s->co, 0.0f);
    hr_status st;
    st = hr_conv2d_forward(&cd, y, c->x, c->w, c->b);
    cr_assert_eq(st, HR_OK, "forward [%s] %s: status %d", hr_isa_name(isa),
                 s->name, (int)st);
    check_out(y, c->y, c->ya, ys, k_y(s), c->exact, "forward", s, isa);
    st = hr_conv2d_backward_data(&cd, dx, c->dy, c->w);
    cr_assert_eq(st, HR_OK, "backward_data [%s] %s: status %d",
                 hr_isa_name(isa), s->name, (int)st);
    check_out(dx, c->dx, c->dxa, xs, k_dx(s), c->exact, "backward_data", s,
              isa);
    st = hr_conv2d_backward_weight(&cd, dw, db, c->dy, c->x);
    cr_assert_eq(st, HR_OK, "backward_weight [%s] %s: status %d",
                 hr_isa_name(isa), s->name, (int)st);
    check_out(dw, c->dw, c->dwa, ws, k_dw(s), c->exact, "backward_weight dw",
              s, isa);
    check_out(db, c->db, c->dba, s->co, k_dw(s), c->exact,
              "backward_weight dbias", s, isa);
    free(y);
    free(dx);
    free(dw);
    free(db);
}

Test(conv, vs_reference, .timeout = 120) {
    size_t q, multi = 0;
    int exact;
    for (q = 0; q < NSHAPES; q++) {
        const shape_t *s = &shapes[q];
        size_t oh, ow;
        hr_conv2d cd = desc_of(s);
        cr_assert_eq(hr_conv2d_out_size(&cd, &oh, &ow), HR_OK, "%s: out_size",
                     s->name);
        cr_assert(oh == s_oh(s) && ow == s_ow(s),
                  "%s: out_size %zu x %zu want %zu x %zu", s->name, oh, ow,
                  s_oh(s), s_ow(s));
        /* several blocks, one ending inside an image, a partial last */
        if (s_chunk(s) < s_rows(s) && s_chunk(s) % (s_oh(s) * s_ow(s)) &&
            s_rows(s) % s_chunk(s)) {
            multi++;
            cr_log_info("%s: %zu im2col rows per block of %zu", s->name,
                        s_chunk(s), s_rows(s));
        }
        for (exact = 0; exact <= 1; exact++) {
            case_t c;
            case_make(&c, s, exact, 0xC0417ull + 100 * q);
            for_each_isa(run_case, &c);
            case_free(&c);
        }
    }
    cr_assert(multi >= 3, "only %zu shapes span several im2col blocks", multi);
}

/* ------------------------------------------------ central differences

   L(x, w, b) = sum g y(x, w, b), y from the double reference forward. L is
   linear in each argument, so a central difference is exact but for
   rounding (|L| ~ 10, h = 1e-3: ~1e-12), and dL/dx = the adjoint applied
   to g: what hr_conv2d_backward_data must add to a zero dx with dy = g;
   likewise dw and dbias. The library's float error is bounded as above
   with every |term| <= 1: 8 K FLT_EPSILON K. */

static double loss(const shape_t *s, const double *x, const double *w,
                   const double *b, const double *g, double *ybuf,
                   double *yabs) {
    size_t i, ys = s_ysz(s);
    double l = 0.0;
    ref_conv(s, x, w, b, NULL, ybuf, yabs, NULL, NULL, NULL, NULL, NULL, NULL);
    for (i = 0; i < ys; i++) l += g[i] * ybuf[i];
    return l;
}

/* central difference of L in v[i] (v one of x, w, b) */
static double fd_at(const shape_t *s, double *x, double *w, double *b,
                    const double *g, double *v, size_t i, double *yb,
                    double *ya) {
    const double h = 1e-3, v0 = v[i];
    double lp, lm, hp, hm;
    v[i] = v0 + h;
    hp = v[i];
    lp = loss(s, x, w, b, g, yb, ya);
    v[i] = v0 - h;
    hm = v[i];
    lm = loss(s, x, w, b, g, yb, ya);
    v[i] = v0;
    return (lp - lm) / (hp - hm);
}

static const shape_t fd_shapes[] = {
    /* name                 n  h  w ci co kh kw sh sw ph pw  g bias */
    {"fd 3x3 p1 s2 odd",    2, 7, 5, 3, 4, 3, 3, 2, 2, 1, 1, 1, 1},
    {"fd 2x3 s(1,2) p(1,0)", 1, 5, 7, 2, 3, 2, 3, 1, 2, 1, 0, 1, 1},
    {"fd 3x3 g2 p1",        2, 5, 4, 4, 6, 3, 3, 1, 1, 1, 1, 2, 1},
    {"fd dw 3x3 s2 C5",     2, 7, 6, 5, 5, 3, 3, 2, 2, 1, 1, 5, 1},
    {"fd dw 5x5 p2 C3",     1, 5, 7, 3, 3, 5, 5, 1, 1, 2, 2, 3, 0},
    {"fd dw x2 C3",         1, 5, 5, 3, 6, 3, 3, 1, 1, 1, 1, 3, 1},
    {"fd 1x1 direct g2",    2, 3, 5, 4, 6, 1, 1, 1, 1, 0, 0, 2, 1},
    {"fd 1x1 s2",           1, 5, 5, 3, 2, 1, 1, 2, 2, 0, 0, 1, 0},
};

typedef struct {
    const shape_t *s;
    float *x, *w, *b, *g;
    double *fdx, *fdw, *fdb;
} fd_t;

static void fd_check(const float *got, const double *fd, size_t n, size_t k,
                     const char *what, const shape_t *s, hr_isa isa) {
    size_t i;
    const double tol = 8.0 * (double)k * FLT_EPSILON * (double)k + 1e-9;
    cr_assert(hr_t_count_ne_f(got + n, GUARD, HR_T_SENT_F) == 0,
              "%s [%s] %s: wrote past the end", what, hr_isa_name(isa),
              s->name);
    for (i = 0; i < n; i++)
        cr_assert(fabs((double)got[i] - fd[i]) <= tol,
                  "%s [%s] %s: [%zu] = %.9g, central difference %.9g (tol "
                  "%.3g)",
                  what, hr_isa_name(isa), s->name, i, (double)got[i], fd[i],
                  tol);
}

static void fd_run(hr_isa isa, void *ctx) {
    const fd_t *f = (const fd_t *)ctx;
    const shape_t *s = f->s;
    const hr_conv2d cd = desc_of(s);
    const size_t xs = s_xsz(s), ws = s_wsz(s);
    float *dx = out_buf(xs, 0.0f), *dw = out_buf(ws, 0.0f);
    float *db = out_buf(s->co, 0.0f);
    cr_assert_eq(hr_conv2d_backward_data(&cd, dx, f->g, f->w), HR_OK,
                 "[%s] %s: backward_data", hr_isa_name(isa), s->name);
    cr_assert_eq(hr_conv2d_backward_weight(&cd, dw, s->bias ? db : NULL, f->g,
                                           f->x),
                 HR_OK, "[%s] %s: backward_weight", hr_isa_name(isa), s->name);
    fd_check(dx, f->fdx, xs, k_dx(s), "dx vs FD", s, isa);
    fd_check(dw, f->fdw, ws, k_dw(s), "dw vs FD", s, isa);
    if (s->bias) fd_check(db, f->fdb, s->co, k_dw(s), "dbias vs FD", s, isa);
    free(dx);
    free(dw);
    free(db);
}

Test(conv, backward_vs_central_differences) {
    size_t q, i;
    for (q = 0; q < sizeof fd_shapes / sizeof fd_shapes[0]; q++) {
        const shape_t *s = &fd_shapes[q];
        const size_t xs = s_xsz(s), ys = s_ysz(s), ws = s_wsz(s);
        fd_t f;
        double *xd, *wd, *bd, *gd, *yb = dzeros(ys), *ya = dzeros(ys);
        memset(&f, 0, sizeof f);
        f.s = s;
        f.x = (float *)hr_t_alloc(xs * sizeof(float));
        f.w = (float *)hr_t_alloc(ws * sizeof(float));
        f.b = (float *)hr_t_alloc(s->co * sizeof(float));
        f.g = (float *)hr_t_alloc(ys * sizeof(float));
        fill_rand(f.x, xs, 0xFD00 + 10 * q);
        fill_rand(f.w, ws, 0xFD01 + 10 * q);
        fill_rand(f.b, s->co, 0xFD02 + 10 * q);
        fill_rand(f.g, ys, 0xFD03 + 10 * q);
        xd = to_double(f.x, xs);
        wd = to_double(f.w, ws);
        bd = to_double(f.b, s->co);
        gd = to_double(f.g, ys);
        f.fdx = dzeros(xs);
        f.fdw = dzeros(ws);
        f.fdb = dzeros(s->co);
        for (i = 0; i < xs; i++)
            f.fdx[i] = fd_at(s, xd, wd, s->bias ? bd : NULL, gd, xd, i, yb, ya);
        for (i = 0; i < ws; i++)
            f.fdw[i] = fd_at(s, xd, wd, s->bias ? bd : NULL, gd, wd, i, yb, ya);
        if (s->bias)
            for (i = 0; i < s->co; i++)
                f.fdb[i] = fd_at(s, xd, wd, bd, gd, bd, i, yb, ya);
        for_each_isa(fd_run, &f);
        free(f.x);
        free(f.w);
        free(f.b);
        free(f.g);
        free(f.fdx);
        free(f.fdw);
        free(f.fdb);
        free(xd);
        free(wd);
        free(bd);
        free(gd);
        free(yb);
        free(ya);
    }
}

/* ---------------------------------------------------------- accumulation

   Integer data: every result is exact, so "twice doubles" and "added to
   what was there" are equalities. */

static const shape_t acc_shapes[] = {
    /* name             n  h  w ci co kh kw sh sw ph pw  g bias */
    {"acc 3x3 s2 g2",   2, 7, 5, 4, 6, 3, 3, 2, 2, 1, 1, 2, 1},
    {"acc 1x1 direct",  2, 4, 5, 6, 5, 1, 1, 1, 1, 0, 0, 1, 1},
    {"acc dw 3x3 C19",  2, 6, 5, 19, 19, 3, 3, 1, 1, 1, 1, 19, 1},
};

static void acc_run(hr_isa isa, void *ctx) {
    const case_t *c = (const case_t *)ctx;
    const shape_t *s = c->s;
    const hr_conv2d cd = desc_of(s);
    const size_t xs = s_xsz(s), ws = s_wsz(s), co = s->co;
    float *dx = out_buf(xs, 0.0f), *dw = out_buf(ws, 0.0f);
    float *db = out_buf(co, 0.0f);
    float *px = (float *)hr_t_alloc(xs * sizeof(float));
    float *pw = (float *)hr_t_alloc(ws * sizeof(float));
    float *pb = (float *)hr_t_alloc(co * sizeof(float));
    size_t i;
    const char *in = hr_isa_name(isa);

    /* twice from zero: exactly 2 ref */
    for (i = 0; i < 2; i++) {
        cr_assert_eq(hr_conv2d_backward_data(&cd, dx, c->dy, c->w), HR_OK,
                     "[%s] %s: backward_data", in, s->name);
        cr_assert_eq(hr_conv2d_backward_weight(&cd, dw, db, c->dy, c->x),
                     HR_OK, "[%s] %s: backward_weight", in, s->name);
    }
    for (i = 0; i < xs; i++)
        cr_assert((double)dx[i] == 2.0 * c->dx[i],
                  "[%s] %s: dx[%zu] after two calls %g, want 2 x %g", in,
                  s->name, i, (double)dx[i], c->dx[i]);
    for (i = 0; i < ws; i++)
        cr_assert((double)dw[i] == 2.0 * c->dw[i],
                  "[%s] %s: dw[%zu] after two calls %g, want 2 x %g", in,
                  s->name, i, (double)dw[i], c->dw[i]);
    for (i = 0; i < co; i++)
        cr_assert((double)db[i] == 2.0 * c->db[i],
                  "[%s] %s: dbias[%zu] after two calls %g, want 2 x %g", in,
                  s->name, i, (double)db[i], c->db[i]);

    /* onto pre-existing values: p + ref */
    fill_int(px, xs, 71);
    fill_int(pw, ws, 72);
    fill_int(pb, co, 73);
    memcpy(dx, px, xs * sizeof(float));
    memcpy(dw, pw, ws * sizeof(float));
    memcpy(db, pb, co * sizeof(float));
    cr_assert_eq(hr_conv2d_backward_data(&cd, dx, c->dy, c->w), HR_OK,
                 "[%s] %s: backward_data", in, s->name);
    cr_assert_eq(hr_conv2d_backward_weight(&cd, dw, db, c->dy, c->x), HR_OK,
                 "[%s] %s: backward_weight", in, s->name);
    for (i = 0; i < xs; i++)
        cr_assert((double)dx[i] == (double)px[i] + c->dx[i],
                  "[%s] %s: dx[%zu] = %g, want %g + %g", in, s->name, i,
                  (double)dx[i], (double)px[i], c->dx[i]);
    for (i = 0; i < ws; i++)
        cr_assert((double)dw[i] == (double)pw[i] + c->dw[i],
                  "[%s] %s: dw[%zu] = %g, want %g + %g", in, s->name, i,
                  (double)dw[i], (double)pw[i], c->dw[i]);
    for (i = 0; i < co; i++)
        cr_assert((double)db[i] == (double)pb[i] + c->db[i],
                  "[%s] %s: dbias[%zu] = %g, want %g + %g", in, s->name, i,
                  (double)db[i], (double)pb[i], c->db[i]);

    /* dbias NULL: dw only */
    memcpy(dw, pw, ws * sizeof(float));
    cr_assert_eq(hr_conv2d_backward_weight(&cd, dw, NULL, c->dy, c->x), HR_OK,
                 "[%s] %s: backward_weight, dbias NULL", in, s->name);
    for (i = 0; i < ws; i++)
        cr_assert((double)dw[i] == (double)pw[i] + c->dw[i],
                  "[%s] %s (dbias NULL): dw[%zu] = %g, want %g", in, s->name,
                  i, (double)dw[i], (double)pw[i] + c->dw[i]);

    /* dw NULL: dbias only, and x is not needed */
    memcpy(db, pb, co * sizeof(float));
    hr_t_fill_f(dw, ws, HR_T_SENT_F);
    cr_assert_eq(hr_conv2d_backward_weight(&cd, NULL, db, c->dy, NULL), HR_OK,
                 "[%s] %s: backward_weight, dw and x NULL", in, s->name);
    for (i = 0; i < co; i++)
        cr_assert((double)db[i] == (double)pb[i] + c->db[i],
                  "[%s] %s (dw NULL): dbias[%zu] = %g, want %g", in, s->name,
                  i, (double)db[i], (double)pb[i] + c->db[i]);
    /* and x given but dw NULL: still dbias only */
    memcpy(db, pb, co * sizeof(float));
    cr_assert_eq(hr_conv2d_backward_weight(&cd, NULL, db, c->dy, c->x), HR_OK,
                 "[%s] %s: backward_weight, dw NULL", in, s->name);
    for (i = 0; i < co; i++)
        cr_assert((double)db[i] == (double)pb[i] + c->db[i],
                  "[%s] %s (dw NULL, x given): dbias[%zu] = %g", in, s->name,
                  i, (double)db[i]);
    /* both NULL: nothing to do */
    cr_assert_eq(hr_conv2d_backward_weight(&cd, NULL, NULL, c->dy, NULL),
                 HR_OK, "[%s] %s: backward_weight, dw and dbias NULL", in,
                 s->name);
    cr_assert(hr_t_count_ne_f(dw, ws + GUARD, HR_T_SENT_F) == 0 &&
                  hr_t_count_ne_f(dx + xs, GUARD, HR_T_SENT_F) == 0 &&
                  hr_t_count_ne_f(db + co, GUARD, HR_T_SENT_F) == 0,
              "[%s] %s: guards", in, s->name);
    free(dx);
    free(dw);
    free(db);
    free(px);
    free(pw);
    free(pb);
}

Test(conv, backward_accumulates) {
    size_t q;
    for (q = 0; q < sizeof acc_shapes / sizeof acc_shapes[0]; q++) {
        case_t c;
        case_make(&c, &acc_shapes[q], 1, 0xACC0 + 10 * q);
        for_each_isa(acc_run, &c);
        case_free(&c);
    }
}

/* -------------------------------------------------------------- defaults */

static void defaults_run(hr_isa isa, void *ctx) {
    /* kh = kw = stride = groups = 0 is 1x1, stride 1, groups 1 */
    const shape_t s = {"defaults 1x1", 2, 5, 3, 6, 4, 1, 1, 1, 1, 0, 0, 1, 1};
    const shape_t sp = {"defaults 1x1 p(1,2)", 1, 3, 4, 3, 5, 1, 1, 1, 1,
                        1, 2, 1, 0};
    const shape_t *ss[2];
    int q;
    (void)ctx;
    ss[0] = &s;
    ss[1] = &sp;
    for (q = 0; q < 2; q++) {
        const shape_t *p = ss[q];
        hr_conv2d z, e = desc_of(p);
        case_t c;
        const size_t xs = s_xsz(p), ys = s_ysz(p), ws = s_wsz(p);
        float *y0 = out_buf(ys, NAN), *y1 = out_buf(ys, NAN);
        float *dx0 = out_buf(xs, 0.0f), *dx1 = out_buf(xs, 0.0f);
        float *dw0 = out_buf(ws, 0.0f), *dw1 = out_buf(ws, 0.0f);
        float *db0 = out_buf(p->co, 0.0f), *db1 = out_buf(p->co, 0.0f);
        size_t oh = 0, ow = 0;
        memset(&z, 0, sizeof z);
        z.n = p->n;
        z.h = p->h;
        z.w = p->w;
        z.c_in = p->ci;
        z.c_out = p->co;
        z.pad_h = p->ph;
        z.pad_w = p->pw;
        cr_assert_eq(hr_conv2d_out_size(&z, &oh, &ow), HR_OK, "out_size");
        cr_assert(oh == s_oh(p) && ow == s_ow(p),
                  "%s: out_size %zu x %zu want %zu x %zu", p->name, oh, ow,
                  s_oh(p), s_ow(p));
        case_make(&c, p, 0, 0xDEF0 + (uint64_t)q);
        cr_assert_eq(hr_conv2d_forward(&z, y0, c.x, c.w, c.b), HR_OK, "fwd");
        cr_assert_eq(hr_conv2d_forward(&e, y1, c.x, c.w, c.b), HR_OK, "fwd");
        cr_assert_eq(hr_conv2d_backward_data(&z, dx0, c.dy, c.w), HR_OK, "bd");
        cr_assert_eq(hr_conv2d_backward_data(&e, dx1, c.dy, c.w), HR_OK, "bd");
        cr_assert_eq(hr_conv2d_backward_weight(&z, dw0, db0, c.dy, c.x), HR_OK,
                     "bw");
        cr_assert_eq(hr_conv2d_backward_weight(&e, dw1, db1, c.dy, c.x), HR_OK,
                     "bw");
        cr_assert(memcmp(y0, y1, (ys + GUARD) * sizeof(float)) == 0 &&
                      memcmp(dx0, dx1, (xs + GUARD) * sizeof(float)) == 0 &&
                      memcmp(dw0, dw1, (ws + GUARD) * sizeof(float)) == 0 &&
                      memcmp(db0, db1, (p->co + GUARD) * sizeof(float)) == 0,
                  "[%s] %s: zero descriptor fields != explicit 1s",
                  hr_isa_name(isa), p->name);
        check_out(y0, c.y, c.ya, ys, k_y(p), 0, "defaults forward", p, isa);
        check_out(dx0, c.dx, c.dxa, xs, k_dx(p), 0, "defaults dx", p, isa);
        check_out(dw0, c.dw, c.dwa, ws, k_dw(p), 0, "defaults dw", p, isa);
        check_out(db0, c.db, c.dba, p->co, k_dw(p), 0, "defaults db", p, isa);
        case_free(&c);
        free(y0);
        free(y1);
        free(dx0);
        free(dx1);
        free(dw0);
        free(dw1);
        free(db0);
        free(db1);
    }
}

Test(conv, defaults) { for_each_isa(defaults_run, NULL); }

/* dbias is summed over the same chunks of pixels whether dw is asked for
   (the weight pass sums it while dy is in cache) or not: bitwise equal. */
/* dbias alone and beside dw: the same bits; and, being column sums of adds
   only (colsum's four fixed chains), the same bits on every ISA as on the
   scalar path, which runs first (ctx: one saved dbias per shape). */
static void dbias_run(hr_isa isa, void *ctx) {
    static const shape_t sh[] = {
        /* name            n  h  w ci co kh kw sh sw ph pw  g bias */
        {"dbias 3x3",      3, 20, 13, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1},
        {"dbias 1x1 s2",   2, 9, 8, 16, 33, 1, 1, 2, 2, 0, 0, 1, 1},
        {"dbias dw",       5, 7, 9, 40, 40, 3, 3, 1, 1, 1, 1, 40, 1},
        {"dbias g2 5x5",   2, 8, 7, 8, 12, 5, 5, 1, 1, 2, 2, 2, 1},
    };
    float **ref = (float **)ctx;
    size_t q;
    for (q = 0; q < sizeof sh / sizeof sh[0]; q++) {
        const shape_t *s = &sh[q];
        const hr_conv2d cd = desc_of(s);
        const size_t xs = s_xsz(s), ys = s_ysz(s), ws = s_wsz(s);
        float *x = (float *)hr_t_alloc(xs * sizeof(float));
        float *dy = (float *)hr_t_alloc(ys * sizeof(float));
        float *dw = out_buf(ws, 0.0f), *db1 = out_buf(s->co, 0.0f), *db2 = out_buf(s->co, 0.0f);
        fill_rand(x, xs, 0x7501);
        fill_rand(dy, ys, 0x7502);
        fill_rand(db1, s->co, 0x7503); /* accumulate onto the same values */
        fill_rand(db2, s->co, 0x7503);
        cr_assert_eq(hr_conv2d_backward_weight(&cd, dw, db1, dy, x), HR_OK, "[%s] %s: dw, dbias",
                     hr_isa_name(isa), s->name);
        cr_assert_eq(hr_conv2d_backward_weight(&cd, NULL, db2, dy, x), HR_OK, "[%s] %s: dbias",
                     hr_isa_name(isa), s->name);
        cr_assert(memcmp(db1, db2, (s->co + GUARD) * sizeof(float)) == 0,
                  "[%s] %s: dbias with dw != dbias alone", hr_isa_name(isa), s->name);
        if (isa == HR_ISA_SCALAR) {
            ref[q] = (float *)hr_t_alloc(s->co * sizeof(float));
            memcpy(ref[q], db2, s->co * sizeof(float));
        } else {
            cr_assert(ref[q] && memcmp(ref[q], db2, s->co * sizeof(float)) == 0,
                      "[%s] %s: dbias differs from the scalar path's bits", hr_isa_name(isa), s->name);
        }
        free(x);
        free(dy);
        free(dw);
        free(db1);
        free(db2);
    }
}

Test(conv, dbias_with_or_without_dw) {
    float *ref[4] = {NULL, NULL, NULL, NULL};
    size_t q;
    for_each_isa(dbias_run, ref);
    for (q = 0; q < 4; q++) free(ref[q]);
}

Test(conv, out_size) {
    static const struct {
        size_t h, w, kh, kw, sh, sw, ph, pw, oh, ow;
    } t[] = {
        /* h  w kh kw sh sw ph pw  oh ow */
        {7, 5, 3, 3, 1, 1, 1, 1, 7, 5},   /* "same" */
        {7, 5, 3, 3, 2, 2, 1, 1, 4, 3},   /* (7+2-3)/2+1, (5+2-3)/2+1 */
        {8, 8, 3, 3, 2, 2, 0, 0, 3, 3},   /* floor(5/2)+1 */
        {8, 9, 2, 2, 2, 2, 0, 0, 4, 4},   /* 6/2+1, floor(7/2)+1 */
        {10, 11, 1, 1, 3, 3, 0, 0, 4, 4}, /* 9/3+1, floor(10/3)+1 */
        {5, 5, 5, 5, 1, 1, 0, 0, 1, 1},   /* kernel = input */
        {1, 1, 3, 3, 1, 1, 1, 1, 1, 1},   /* kernel = padded input */
        {1, 1, 3, 3, 7, 7, 1, 1, 1, 1},   /* stride past everything */
        {4, 6, 1, 5, 1, 2, 0, 2, 4, 3},   /* 1x5: (6+4-5)/2+1 */
        {3, 3, 1, 1, 1, 1, 2, 1, 7, 5},   /* 1x1 with padding grows */
        {6, 7, 0, 0, 0, 0, 0, 0, 6, 7},   /* all defaults */
        {9, 9, 0, 3, 4, 0, 0, 1, 3, 9},   /* kh 1 s 4: 8/4+1; kw 3 p1 s1 */
    };
    size_t q;
    for (q = 0; q < sizeof t / sizeof t[0]; q++) {
        hr_conv2d cd;
        size_t oh = 999, ow = 999;
        memset(&cd, 0, sizeof cd);
        cd.n = 3;
        cd.h = t[q].h;
        cd.w = t[q].w;
        cd.c_in = 4;
        cd.c_out = 6;
        cd.kh = t[q].kh;
        cd.kw = t[q].kw;
        cd.stride_h = t[q].sh;
        cd.stride_w = t[q].sw;
        cd.pad_h = t[q].ph;
        cd.pad_w = t[q].pw;
        cd.groups = 2;
        cr_assert_eq(hr_conv2d_out_size(&cd, &oh, &ow), HR_OK, "case %zu", q);
        cr_assert(oh == t[q].oh && ow == t[q].ow,
                  "case %zu: out_size %zu x %zu, want %zu x %zu", q, oh, ow,
                  t[q].oh, t[q].ow);
        oh = 999;
        cr_assert_eq(hr_conv2d_out_size(&cd, &oh, NULL), HR_OK, "ow NULL");
        cr_assert_eq(oh, t[q].oh, "case %zu: oh alone %zu", q, oh);
        ow = 999;
        cr_assert_eq(hr_conv2d_out_size(&cd, NULL, &ow), HR_OK, "oh NULL");
        cr_assert_eq(ow, t[q].ow, "case %zu: ow alone %zu", q, ow);
        cr_assert_eq(hr_conv2d_out_size(&cd, NULL, NULL), HR_OK, "both NULL");
        cd.n = 0; /* the batch does not enter */
        oh = ow = 999;
        cr_assert_eq(hr_conv2d_out_size(&cd, &oh, &ow), HR_OK, "n = 0");
        cr_assert(oh == t[q].oh && ow == t[q].ow, "case %zu n = 0", q);
    }
}

/* ---------------------------------------------------------------- errors

   Each bad call: the expected status, and every output (sentinel-filled,
   large enough for the valid base shape) untouched. */

#define EB 4096 /* floats in every dummy buffer */

typedef struct {
    float *y, *dx, *dw, *db, *x, *w, *b, *dy;
} ebufs_t;

static void ebufs_fill(ebufs_t *e) {
    hr_t_fill_f(e->y, EB, HR_T_SENT_F);
    hr_t_fill_f(e->dx, EB, HR_T_SENT_F);
    hr_t_fill_f(e->dw, EB, HR_T_SENT_F);
    hr_t_fill_f(e->db, EB, HR_T_SENT_F);
}
static int ebufs_untouched(const ebufs_t *e) {
    return hr_t_count_ne_f(e->y, EB, HR_T_SENT_F) == 0 &&
           hr_t_count_ne_f(e->dx, EB, HR_T_SENT_F) == 0 &&
           hr_t_count_ne_f(e->dw, EB, HR_T_SENT_F) == 0 &&
           hr_t_count_ne_f(e->db, EB, HR_T_SENT_F) == 0;
}

/* all four calls on cd must give want and leave everything untouched */
static void expect_all_fail(const hr_conv2d *cd, ebufs_t *e,
                            hr_status want, const char *what, hr_isa isa) {
    size_t oh = 777, ow = 777;
    hr_status st;
    ebufs_fill(e);
    st = hr_conv2d_out_size(cd, &oh, &ow);
    cr_assert(st == want && oh == 777 && ow == 777,
              "[%s] %s: out_size status %d (want %d), oh %zu ow %zu",
              hr_isa_name(isa), what, (int)st, (int)want, oh, ow);
    st = hr_conv2d_forward(cd, e->y, e->x, e->w, e->b);
    cr_assert_eq(st, want, "[%s] %s: forward status %d want %d",
                 hr_isa_name(isa), what, (int)st, (int)want);
    st = hr_conv2d_backward_data(cd, e->dx, e->dy, e->w);
    cr_assert_eq(st, want, "[%s] %s: backward_data status %d want %d",
                 hr_isa_name(isa), what, (int)st, (int)want);
    st = hr_conv2d_backward_weight(cd, e->dw, e->db, e->dy, e->x);
    cr_assert_eq(st, want, "[%s] %s: backward_weight status %d want %d",
                 hr_isa_name(isa), what, (int)st, (int)want);
    st = hr_conv2d_backward_weight(cd, NULL, e->db, e->dy, e->x);
    cr_assert_eq(st, want, "[%s] %s: backward_weight (dbias only) status %d",
                 hr_isa_name(isa), what, (int)st);
    cr_assert(ebufs_untouched(e), "[%s] %s: an output was written",
              hr_isa_name(isa), what);
}

static void ebufs_alloc(ebufs_t *e) {
    e->y = (float *)hr_t_alloc(EB * sizeof(float));
    e->dx = (float *)hr_t_alloc(EB * sizeof(float));
    e->dw = (float *)hr_t_alloc(EB * sizeof(float));
    e->db = (float *)hr_t_alloc(EB * sizeof(float));
    e->x = (float *)hr_t_alloc(EB * sizeof(float));
    e->w = (float *)hr_t_alloc(EB * sizeof(float));
    e->b = (float *)hr_t_alloc(EB * sizeof(float));
    e->dy = (float *)hr_t_alloc(EB * sizeof(float));
    fill_rand(e->x, EB, 1);
    fill_rand(e->w, EB, 2);
    fill_rand(e->b, EB, 3);
    fill_rand(e->dy, EB, 4);
}
static void ebufs_free(ebufs_t *e) {
    free(e->y);
    free(e->dx);
    free(e->dw);
    free(e->db);
    free(e->x);
    free(e->w);
    free(e->b);
    free(e->dy);
}

/* valid: 2 x 5 x 6 x 4 -> 6 channels, 3x3 pad 1, groups 2 (all < EB) */
static hr_conv2d ebase(void) {
    hr_conv2d cd;
    memset(&cd, 0, sizeof cd);
    cd.n = 2;
    cd.h = 5;
    cd.w = 6;
    cd.c_in = 4;
    cd.c_out = 6;
    cd.kh = 3;
    cd.kw = 3;
    cd.pad_h = 1;
    cd.pad_w = 1;
    cd.groups = 2;
    return cd;
}

static void errors_run(hr_isa isa, void *ctx) {
    ebufs_t e;
    hr_conv2d cd;
    hr_status st;
    (void)ctx;
    ebufs_alloc(&e);

    /* the base is valid (sanity for everything below) */
    cd = ebase();
    cr_assert_eq(hr_conv2d_out_size(&cd, NULL, NULL), HR_OK, "base valid");

    expect_all_fail(NULL, &e, HR_EINVAL, "NULL descriptor", isa);
    cd = ebase(); cd.h = 0;
    expect_all_fail(&cd, &e, HR_EINVAL, "h = 0", isa);
    cd = ebase(); cd.w = 0;
    expect_all_fail(&cd, &e, HR_EINVAL, "w = 0", isa);
    cd = ebase(); cd.c_in = 0;
    expect_all_fail(&cd, &e, HR_EINVAL, "c_in = 0", isa);
    cd = ebase(); cd.c_out = 0;
    expect_all_fail(&cd, &e, HR_EINVAL, "c_out = 0", isa);
    cd = ebase(); cd.c_in = 5;
    expect_all_fail(&cd, &e, HR_EINVAL, "c_in % groups", isa);
    cd = ebase(); cd.c_out = 7;
    expect_all_fail(&cd, &e, HR_EINVAL, "c_out % groups", isa);
    cd = ebase(); cd.groups = 3;
    expect_all_fail(&cd, &e, HR_EINVAL, "groups 3 with 4 -> 6", isa);
    cd = ebase(); cd.kh = 8; /* padded height 7 */
    expect_all_fail(&cd, &e, HR_EINVAL, "kh > h + 2 pad_h", isa);
    cd = ebase(); cd.kw = 9; /* padded width 8 */
    expect_all_fail(&cd, &e, HR_EINVAL, "kw > w + 2 pad_w", isa);
    cd = ebase(); cd.pad_h = 0; cd.pad_w = 0; cd.kh = 6;
    expect_all_fail(&cd, &e, HR_EINVAL, "kh > h, no padding", isa);
    cd = ebase(); cd.kh = 0; cd.kw = 0; cd.pad_h = 0; cd.pad_w = 0;
    cd.h = 0; /* 0 sizes fail with defaults too */
    expect_all_fail(&cd, &e, HR_EINVAL, "h = 0, default kernel", isa);
    /* the same with n = 0: the shape is still checked */
    cd = ebase(); cd.n = 0; cd.c_out = 7;
    expect_all_fail(&cd, &e, HR_EINVAL, "c_out % groups, n = 0", isa);
    cd = ebase(); cd.n = 0; cd.kh = 8;
    expect_all_fail(&cd, &e, HR_EINVAL, "kernel too large, n = 0", isa);

    /* NULL pointers with n > 0 */
    cd = ebase();
    ebufs_fill(&e);
    st = hr_conv2d_forward(&cd, NULL, e.x, e.w, e.b);
    cr_assert_eq(st, HR_EINVAL, "[%s] forward y NULL: %d", hr_isa_name(isa),
                 (int)st);
    st = hr_conv2d_forward(&cd, e.y, NULL, e.w, e.b);
    cr_assert_eq(st, HR_EINVAL, "[%s] forward x NULL: %d", hr_isa_name(isa),
                 (int)st);
    st = hr_conv2d_forward(&cd, e.y, e.x, NULL, e.b);
    cr_assert_eq(st, HR_EINVAL, "[%s] forward w NULL: %d", hr_isa_name(isa),
                 (int)st);
    st = hr_conv2d_backward_data(&cd, NULL, e.dy, e.w);
    cr_assert_eq(st, HR_EINVAL, "[%s] backward_data dx NULL: %d",
                 hr_isa_name(isa), (int)st);
    st = hr_conv2d_backward_data(&cd, e.dx, NULL, e.w);
    cr_assert_eq(st, HR_EINVAL, "[%s] backward_data dy NULL: %d",
                 hr_isa_name(isa), (int)st);
    st = hr_conv2d_backward_data(&cd, e.dx, e.dy, NULL);
    cr_assert_eq(st, HR_EINVAL, "[%s] backward_data w NULL: %d",
                 hr_isa_name(isa), (int)st);
    st = hr_conv2d_backward_weight(&cd, e.dw, e.db, NULL, e.x);
    cr_assert_eq(st, HR_EINVAL, "[%s] backward_weight dy NULL: %d",
                 hr_isa_name(isa), (int)st);
    st = hr_conv2d_backward_weight(&cd, NULL, e.db, NULL, e.x);
    cr_assert_eq(st, HR_EINVAL, "[%s] backward_weight dbias only, dy NULL: %d",
                 hr_isa_name(isa), (int)st);
    st = hr_conv2d_backward_weight(&cd, e.dw, e.db, e.dy, NULL);
    cr_assert_eq(st, HR_EINVAL, "[%s] backward_weight dw with x NULL: %d",
                 hr_isa_name(isa), (int)st);
    st = hr_conv2d_backward_weight(&cd, e.dw, NULL, e.dy, NULL);
    cr_assert_eq(st, HR_EINVAL, "[%s] backward_weight dw (no dbias), x NULL: "
                 "%d", hr_isa_name(isa), (int)st);
    cr_assert(ebufs_untouched(&e), "[%s] NULL pointers: an output was written",
              hr_isa_name(isa));
    /* the same on the depthwise and direct 1x1 paths */
    cd = ebase(); cd.c_out = 4; cd.groups = 4; /* depthwise */
    st = hr_conv2d_forward(&cd, e.y, NULL, e.w, e.b);
    cr_assert_eq(st, HR_EINVAL, "[%s] dw forward x NULL", hr_isa_name(isa));
    st = hr_conv2d_backward_data(&cd, e.dx, e.dy, NULL);
    cr_assert_eq(st, HR_EINVAL, "[%s] dw backward_data w NULL",
                 hr_isa_name(isa));
    st = hr_conv2d_backward_weight(&cd, e.dw, e.db, e.dy, NULL);
    cr_assert_eq(st, HR_EINVAL, "[%s] dw backward_weight x NULL",
                 hr_isa_name(isa));
    cd = ebase(); cd.kh = cd.kw = 1; cd.pad_h = cd.pad_w = 0; /* direct */
    st = hr_conv2d_forward(&cd, NULL, e.x, e.w, NULL);
    cr_assert_eq(st, HR_EINVAL, "[%s] 1x1 forward y NULL", hr_isa_name(isa));
    st = hr_conv2d_backward_data(&cd, NULL, e.dy, e.w);
    cr_assert_eq(st, HR_EINVAL, "[%s] 1x1 backward_data dx NULL",
                 hr_isa_name(isa));
    st = hr_conv2d_backward_weight(&cd, e.dw, NULL, NULL, e.x);
    cr_assert_eq(st, HR_EINVAL, "[%s] 1x1 backward_weight dy NULL",
                 hr_isa_name(isa));
    cr_assert(ebufs_untouched(&e), "[%s] NULL pointers: an output was written",
              hr_isa_name(isa));
    ebufs_free(&e);
}

Test(conv, errors) { for_each_isa(errors_run, NULL); }

/* Sizes overflowing size_t: rejected before anything is allocated or read
   (the dummy buffers are tiny). */
static void overflow_run(hr_isa isa, void *ctx) {
    const size_t TOP = ((size_t)-1 >> 1) + 1; /* 2^(bits-1) */
    ebufs_t e;
    hr_conv2d cd;
    (void)ctx;
    ebufs_alloc(&e);
    /* x: n h w c_in = 2 * 2^(bits-1) */
    memset(&cd, 0, sizeof cd);
    cd.n = 2; cd.h = 1; cd.w = 1; cd.c_in = TOP; cd.c_out = 1;
    expect_all_fail(&cd, &e, HR_EOVERFLOW, "n c_in overflows", isa);
    /* x fits in floats, not in bytes: 2^(bits-2) floats */
    cd.n = 1; cd.c_in = TOP >> 1;
    expect_all_fail(&cd, &e, HR_EOVERFLOW, "x bytes overflow", isa);
    /* w: c_out kh kw c_in/groups, the kernel fitting a huge padding */
    memset(&cd, 0, sizeof cd);
    cd.n = 1; cd.h = 1; cd.w = 1; cd.c_in = 4; cd.c_out = TOP >> 1;
    expect_all_fail(&cd, &e, HR_EOVERFLOW, "c_out huge (y, w)", isa);
    /* 2 pad overflows */
    memset(&cd, 0, sizeof cd);
    cd.n = 1; cd.h = 3; cd.w = 3; cd.c_in = 1; cd.c_out = 1;
    cd.kh = 3; cd.kw = 3; cd.pad_h = TOP;
    expect_all_fail(&cd, &e, HR_EOVERFLOW, "2 pad_h overflows", isa);
    cd.pad_h = 0; cd.pad_w = TOP + 1;
    expect_all_fail(&cd, &e, HR_EOVERFLOW, "2 pad_w overflows", isa);
    /* h + 2 pad overflows */
    cd.pad_w = 0; cd.pad_h = TOP - 1;
    expect_all_fail(&cd, &e, HR_EOVERFLOW, "h + 2 pad_h overflows", isa);
    ebufs_free(&e);
}

Test(conv, errors_overflow) { for_each_isa(overflow_run, NULL); }

/* Spatial sizes whose products overflow. HALF = 2^(bits/2): HALF^2
   overflows. */
static void overflow_spatial_run(hr_isa isa, void *ctx) {
    const size_t HALF = (size_t)1 << (sizeof(size_t) * 4);
    ebufs_t e;
    hr_conv2d cd;
    (void)ctx;
    ebufs_alloc(&e);
    memset(&cd, 0, sizeof cd);
    cd.n = 1; cd.h = 2 * HALF; cd.w = 2 * HALF; cd.c_in = 1; cd.c_out = 1;
    expect_all_fail(&cd, &e, HR_EOVERFLOW, "h w overflows (1x1)", isa);
    {
        /* n = 0: no tensor has an element, so HR_OK with the true output
           size is right; HR_EOVERFLOW (an output plane's size overflows)
           is defensible. Either way all calls agree and write nothing. */
        size_t oh = 777, ow = 777;
        hr_status st;
        cd.n = 0;
        st = hr_conv2d_out_size(&cd, &oh, &ow);
        if (st == HR_OK) {
            cr_assert(oh == 2 * HALF && ow == 2 * HALF,
                      "[%s] n = 0, h = w = 2 HALF: out_size %zu x %zu",
                      hr_isa_name(isa), oh, ow);
            ebufs_fill(&e);
            cr_assert(hr_conv2d_forward(&cd, e.y, e.x, e.w, e.b) == HR_OK &&
                          hr_conv2d_backward_data(&cd, e.dx, e.dy, e.w) ==
                              HR_OK &&
                          hr_conv2d_backward_weight(&cd, e.dw, e.db, e.dy,
                                                    e.x) == HR_OK,
                      "[%s] n = 0, huge h w: calls disagree with out_size",
                      hr_isa_name(isa));
            cr_assert(ebufs_untouched(&e), "[%s] n = 0, huge h w: written",
                      hr_isa_name(isa));
        } else {
            expect_all_fail(&cd, &e, HR_EOVERFLOW, "h w overflows, n = 0",
                            isa);
        }
    }
    memset(&cd, 0, sizeof cd);
    cd.n = 1; cd.h = HALF; cd.w = HALF; cd.c_in = 1; cd.c_out = 1;
    cd.kh = HALF; cd.kw = HALF; /* oh = ow = 1, kh kw overflows */
    expect_all_fail(&cd, &e, HR_EOVERFLOW, "kh kw overflows", isa);
    /* y: a huge padding makes oh ow overflow */
    memset(&cd, 0, sizeof cd);
    cd.n = 1; cd.h = 1; cd.w = 1; cd.c_in = 1; cd.c_out = 1;
    cd.pad_h = HALF; cd.pad_w = HALF;
    expect_all_fail(&cd, &e, HR_EOVERFLOW, "oh ow overflow (padding)", isa);
    ebufs_free(&e);
}

Test(conv, errors_overflow_spatial) {
    for_each_isa(overflow_spatial_run, NULL);
}

/* n == 0: HR_OK, nothing written, no data pointer needed */
static void empty_run(hr_isa isa, void *ctx) {
    ebufs_t e;
    hr_conv2d cd = ebase();
    const char *in = hr_isa_name(isa);
    int q;
    (void)ctx;
    ebufs_alloc(&e);
    for (q = 0; q < 3; q++) {
        cd = ebase();
        cd.n = 0;
        if (q == 1) { cd.c_out = 4; cd.groups = 4; }              /* dw */
        if (q == 2) { cd.kh = cd.kw = 1; cd.pad_h = cd.pad_w = 0; } /* 1x1 */
        ebufs_fill(&e);
        cr_assert_eq(hr_conv2d_forward(&cd, e.y, e.x, e.w, e.b), HR_OK,
                     "[%s] n=0 forward", in);
        cr_assert_eq(hr_conv2d_backward_data(&cd, e.dx, e.dy, e.w), HR_OK,
                     "[%s] n=0 backward_data", in);
        cr_assert_eq(hr_conv2d_backward_weight(&cd, e.dw, e.db, e.dy, e.x),
                     HR_OK, "[%s] n=0 backward_weight", in);
        cr_assert_eq(hr_conv2d_forward(&cd, NULL, NULL, e.w, NULL), HR_OK,
                     "[%s] n=0 forward, y x NULL", in);
        cr_assert_eq(hr_conv2d_backward_data(&cd, NULL, NULL, e.w), HR_OK,
                     "[%s] n=0 backward_data, dx dy NULL", in);
        cr_assert_eq(hr_conv2d_backward_weight(&cd, e.dw, e.db, NULL, NULL),
                     HR_OK, "[%s] n=0 backward_weight, dy x NULL", in);
        cr_assert(ebufs_untouched(&e), "[%s] n=0 (case %d): an output was "
                  "written", in, q);
    }
    ebufs_free(&e);
}

Test(conv, empty_batch) { for_each_isa(empty_run, NULL); }

/* ------------------------------------------------ thread-count invariance

   Shapes above the library's thresholds (a GEMM team when m n k >= 1e6
   for each GEMM call, on one block of im2col rows,
   depthwise loops when ysz taps > 65536 with n > 1 and, for dw, more than
   one 16-channel block): the outputs with 1, 2 and 3 threads must be
   bitwise the same. */
#ifdef _OPENMP
static const shape_t thr_shapes[] = {
    /* name              n  h  w ci co kh kw sh sw ph pw  g bias */
#ifndef HR_TEST_QUICK
    {"thr 3x3",          3, 24, 24, 16, 24, 3, 3, 1, 1, 1, 1, 1, 1},
    {"thr dw 3x3 C35",   3, 32, 32, 35, 35, 3, 3, 1, 1, 1, 1, 35, 1},
    {"thr 1x1",          3, 32, 32, 64, 48, 1, 1, 1, 1, 0, 0, 1, 1},
    {"thr 3x3 s2 g2",    3, 33, 31, 32, 32, 3, 3, 2, 2, 1, 1, 2, 0},
    {"thr 3x3 ci17 co33", 3, 28, 20, 17, 33, 3, 3, 1, 1, 1, 1, 1, 1},
    {"thr dw 3x3 C70",   3, 24, 16, 70, 70, 3, 3, 1, 1, 1, 1, 70, 0},
#else
    {"thr 3x3",          2, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1},
    {"thr dw 3x3 C35",   2, 20, 20, 35, 35, 3, 3, 1, 1, 1, 1, 35, 1},
    {"thr 1x1",          2, 24, 24, 48, 48, 1, 1, 1, 1, 0, 0, 1, 1},
#endif
};

static void threads_run(hr_isa isa, void *ctx) {
    const shape_t *s = (const shape_t *)ctx;
    const hr_conv2d cd = desc_of(s);
    const size_t xs = s_xsz(s), ys = s_ysz(s), ws = s_wsz(s);
    float *x = (float *)hr_t_alloc(xs * sizeof(float));
    float *w = (float *)hr_t_alloc(ws * sizeof(float));
    float *b = (float *)hr_t_alloc(s->co * sizeof(float));
    float *dy = (float *)hr_t_alloc(ys * sizeof(float));
    float *y[3], *dx[3], *dw[3], *db[3];
    int q;
    fill_rand(x, xs, 0x7401);
    fill_rand(w, ws, 0x7402);
    fill_rand(b, s->co, 0x7403);
    fill_rand(dy, ys, 0x7404);
    for (q = 0; q < 3; q++) {
        y[q] = out_buf(ys, NAN);
        dx[q] = out_buf(xs, 0.0f);
        dw[q] = out_buf(ws, 0.0f);
        db[q] = out_buf(s->co, 0.0f);
        fill_rand(dx[q], xs, 0x7405); /* accumulate onto the same values */
        fill_rand(dw[q], ws, 0x7406);
        fill_rand(db[q], s->co, 0x7407);
        omp_set_num_threads(q + 1);
        cr_assert_eq(hr_conv2d_forward(&cd, y[q], x, w, s->bias ? b : NULL),
                     HR_OK, "[%s] %s forward", hr_isa_name(isa), s->name);
        cr_assert_eq(hr_conv2d_backward_data(&cd, dx[q], dy, w), HR_OK,
                     "[%s] %s backward_data", hr_isa_name(isa), s->name);
        cr_assert_eq(hr_conv2d_backward_weight(&cd, dw[q], db[q], dy, x),
                     HR_OK, "[%s] %s backward_weight", hr_isa_name(isa),
                     s->name);
        if (q == 0) continue;
        cr_assert(memcmp(y[q], y[0], (ys + GUARD) * sizeof(float)) == 0,
                  "[%s] %s forward: %d threads != 1", hr_isa_name(isa),
                  s->name, q + 1);
        cr_assert(memcmp(dx[q], dx[0], (xs + GUARD) * sizeof(float)) == 0,
                  "[%s] %s backward_data: %d threads != 1", hr_isa_name(isa),
                  s->name, q + 1);
        cr_assert(memcmp(dw[q], dw[0], (ws + GUARD) * sizeof(float)) == 0,
                  "[%s] %s backward_weight dw: %d threads != 1",
                  hr_isa_name(isa), s->name, q + 1);
        cr_assert(memcmp(db[q], db[0], (s->co + GUARD) * sizeof(float)) == 0,
                  "[%s] %s backward_weight dbias: %d threads != 1",
                  hr_isa_name(isa), s->name, q + 1);
    }
    for (q = 0; q < 3; q++) {
        free(y[q]);
        free(dx[q]);
        free(dw[q]);
        free(db[q]);
    }
    free(x);
    free(w);
    free(b);
    free(dy);
}

Test(conv, thread_invariance) {
    int keep = omp_get_max_threads();
    size_t q;
    for (q = 0; q < sizeof thr_shapes / sizeof thr_shapes[0]; q++) {
        const shape_t *s = &thr_shapes[q];
        /* the shapes are meant to cross the library's thresholds */
        if (s->g == s->ci && s->co == s->ci)
            cr_assert(s->n > 1 && s_ysz(s) * s->kh * s->kw > 65536 &&
                          s->ci > 16,
                      "%s: below the depthwise threshold", s->name);
        else /* each GEMM call: one block of rows (s_chunk) */
            cr_assert(s_chunk(s) * (s->co / s->g) * s->kh * s->kw *
                              (s->ci / s->g) >= 1000000,
                      "%s: below the GEMM threshold", s->name);
        for_each_isa(threads_run, (void *)s);
    }
    omp_set_num_threads(keep);
}
#endif
