/* tests/fuzz/fuzz_conv.c - hr_conv2d_forward / _backward_data /
   _backward_weight on arbitrary small shapes, on the best path, against a
   double-precision reference.

   Input: n, h, w, c_in, c_out (as multiples of groups), kh, kw, strides,
   pads, groups (or depthwise), bias or not, float mode, misalignment, then
   the tensors. Sizes: n <= 3, h, w <= 12, channels <= 40, kernel <= 6,
   stride <= 3, pad <= 4, groups <= 4 (depthwise: up to 40 channels); every
   tensor ends exactly at the end of its allocation and starts up to 60
   bytes past malloc's alignment, so a read past x, dy or w (the direct
   kernels read a tile's rows, and the backward weight a run, past their
   last element) shows under ASan. What the header guarantees and this
   checks:
   - status: HR_EINVAL for a kernel larger than the padded input, else
     HR_OK; outputs untouched on error;
   - y, dx (accumulated onto a start value) and dw, db (likewise) within
     4 K u sum |terms| + 2^-60 of the reference per element, K the terms
     of its sum, u = 2^-24 (fp32 chains of K products, any order);
   - the same results with 1 and 2 OpenMP threads, bitwise. */
#define HARDREID_IMPLEMENTATION
#include "fuzz.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    size_t n, h, w, ci, co, kh, kw, sh, sw, ph, pw, g, oh, ow;
} shp;

static void check_close(const char *what, const float *got, const double *ref, const double *mag,
                        const double *cnt, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        const double tol = 4.0 * (cnt[i] + 2.0) * 0x1p-24 * mag[i] + 0x1p-60;
        FZ_CHECK(fabs((double)got[i] - ref[i]) <= tol, "%s[%zu] = %.9g, reference %.9g (tol %.3g)", what,
                 i, (double)got[i], ref[i], tol);
    }
}

/* the reference of all three, accumulated onto start values in ref / mag */
static void reference(const shp *s, const float *x, const float *w, const float *b,
                      const float *dy, double *y, double *ym, double *yc, double *dx, double *dxm,
                      double *dxc, double *dw, double *dwm, double *dwc, double *db, double *dbm,
                      double *dbc) {
    const size_t cig = s->ci / s->g, cog = s->co / s->g;
    size_t img, oy, ox, o, ky, kx, i;
    for (img = 0; img < s->n; img++)
        for (oy = 0; oy < s->oh; oy++)
            for (ox = 0; ox < s->ow; ox++)
                for (o = 0; o < s->co; o++) {
                    const size_t yi = ((img * s->oh + oy) * s->ow + ox) * s->co + o, gi = o / cog;
                    double acc = b ? b[o] : 0.0, m = b ? fabs(b[o]) : 0.0;
                    if (b) yc[yi] += 1;
                    db[o] += dy[yi];
                    dbm[o] += fabs(dy[yi]);
                    dbc[o] += 1;
                    for (ky = 0; ky < s->kh; ky++)
                        for (kx = 0; kx < s->kw; kx++) {
                            const long iy = (long)(oy * s->sh + ky) - (long)s->ph;
                            const long ix = (long)(ox * s->sw + kx) - (long)s->pw;
                            if (iy < 0 || iy >= (long)s->h || ix < 0 || ix >= (long)s->w) continue;
                            for (i = 0; i < cig; i++) {
                                const size_t xi = ((img * s->h + (size_t)iy) * s->w + (size_t)ix) * s->ci +
                                                  gi * cig + i;
                                const size_t wi = ((o * s->kh + ky) * s->kw + kx) * cig + i;
                                acc += (double)x[xi] * w[wi];
                                m += fabs((double)x[xi] * w[wi]);
                                yc[yi] += 1;
                                dx[xi] += (double)dy[yi] * w[wi];
                                dxm[xi] += fabs((double)dy[yi] * w[wi]);
                                dxc[xi] += 1;
                                dw[wi] += (double)dy[yi] * x[xi];
                                dwm[wi] += fabs((double)dy[yi] * x[xi]);
                                dwc[wi] += 1;
                            }
                        }
                    y[yi] = acc;
                    ym[yi] = m;
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in;
    shp s;
    hr_conv2d cd;
    int mode, bias, dwise, t;
    size_t xs, ys, ws, i, mis;
    void *bx, *bw, *bb, *bdy, *by[2], *bdx[2], *bdw[2], *bdb[2];
    float *x, *w, *b, *dy, *y[2], *dx[2], *dwg[2], *db[2];
    double *r, *ry, *rym, *ryc, *rdx, *rdxm, *rdxc, *rdw, *rdwm, *rdwc, *rdb, *rdbm, *rdbc;
    hr_status st;
    fz_init(&in, data, size);
    memset(&s, 0, sizeof s);
    s.n = 1 + fz_u8(&in) % 3;
    s.h = 1 + fz_u8(&in) % 12;
    s.w = 1 + fz_u8(&in) % 12;
    dwise = fz_u8(&in) % 4 == 0;
    s.g = dwise ? 1 : 1 + fz_u8(&in) % 4;
    s.ci = s.g * (1 + fz_u8(&in) % (40 / s.g));
    s.co = s.g * (1 + fz_u8(&in) % (40 / s.g));
    if (dwise) { s.co = s.ci; s.g = s.ci; }
    s.kh = 1 + fz_u8(&in) % 6;
    s.kw = 1 + fz_u8(&in) % 6;
    s.sh = 1 + fz_u8(&in) % 3;
    s.sw = 1 + fz_u8(&in) % 3;
    s.ph = fz_u8(&in) % 5;
    s.pw = fz_u8(&in) % 5;
    bias = fz_u8(&in) & 1;
    mode = fz_u8(&in) % 2 ? FZ_UNIT : FZ_SMALL; /* finite: the reference is exact enough */
    mis = (fz_u8(&in) % 16) * 4;
    memset(&cd, 0, sizeof cd);
    cd.n = s.n; cd.h = s.h; cd.w = s.w; cd.c_in = s.ci; cd.c_out = s.co;
    cd.kh = s.kh; cd.kw = s.kw; cd.stride_h = s.sh; cd.stride_w = s.sw;
    cd.pad_h = s.ph; cd.pad_w = s.pw; cd.groups = s.g;
    st = hr_conv2d_out_size(&cd, &s.oh, &s.ow);
    if (s.h + 2 * s.ph < s.kh || s.w + 2 * s.pw < s.kw) {
        float one = 1.0f;
        FZ_CHECK(st == HR_EINVAL, "kernel larger than the padded input: status %d", (int)st);
        FZ_CHECK(hr_conv2d_forward(&cd, &one, &one, &one, NULL) == HR_EINVAL && one == 1.0f,
                 "forward on a bad shape");
        return 0;
    }
    FZ_CHECK(st == HR_OK, "out_size status %d", (int)st);
    xs = s.n * s.h * s.w * s.ci;
    ys = s.n * s.oh * s.ow * s.co;
    ws = s.co * s.kh * s.kw * (s.ci / s.g);
    x = (float *)fz_alloc(xs * 4, mis, &bx);
    w = (float *)fz_alloc(ws * 4, mis, &bw);
    b = (float *)fz_alloc(s.co * 4, mis, &bb);
    dy = (float *)fz_alloc(ys * 4, mis, &bdy);
    for (i = 0; i < xs; i++) x[i] = fz_float(&in, mode);
    for (i = 0; i < ws; i++) w[i] = fz_float(&in, mode);
    for (i = 0; i < s.co; i++) b[i] = fz_float(&in, mode);
    for (i = 0; i < ys; i++) dy[i] = fz_float(&in, mode);
    r = (double *)calloc(3 * (ys + xs + ws + s.co) + 1, sizeof(double));
    if (!r) abort();
    ry = r; rym = ry + ys; ryc = rym + ys;
    rdx = ryc + ys; rdxm = rdx + xs; rdxc = rdxm + xs;
    rdw = rdxc + xs; rdwm = rdw + ws; rdwc = rdwm + ws;
    rdb = rdwc + ws; rdbm = rdb + s.co; rdbc = rdbm + s.co;
    for (i = 0; i < xs; i++) { rdx[i] = 0.5; rdxm[i] = 0.5; } /* the start values below */
    for (i = 0; i < ws; i++) { rdw[i] = -0.25; rdwm[i] = 0.25; }
    for (i = 0; i < s.co; i++) { rdb[i] = 0.125; rdbm[i] = 0.125; }
    reference(&s, x, w, bias ? b : NULL, dy, ry, rym, ryc, rdx, rdxm, rdxc, rdw, rdwm, rdwc, rdb, rdbm,
              rdbc);
    for (t = 0; t < 2; t++) {
#ifdef _OPENMP
        omp_set_num_threads(t + 1);
#endif
        y[t] = (float *)fz_alloc(ys * 4, mis, &by[t]);
        dx[t] = (float *)fz_alloc(xs * 4, mis, &bdx[t]);
        dwg[t] = (float *)fz_alloc(ws * 4, mis, &bdw[t]);
        db[t] = (float *)fz_alloc(s.co * 4, mis, &bdb[t]);
        for (i = 0; i < ys; i++) y[t][i] = NAN; /* overwritten */
        for (i = 0; i < xs; i++) dx[t][i] = 0.5f;
        for (i = 0; i < ws; i++) dwg[t][i] = -0.25f;
        for (i = 0; i < s.co; i++) db[t][i] = 0.125f;
        FZ_CHECK(hr_conv2d_forward(&cd, y[t], x, w, bias ? b : NULL) == HR_OK, "forward");
        FZ_CHECK(hr_conv2d_backward_data(&cd, dx[t], dy, w) == HR_OK, "backward data");
        FZ_CHECK(hr_conv2d_backward_weight(&cd, dwg[t], db[t], dy, x) == HR_OK, "backward weight");
    }
    check_close("y", y[0], ry, rym, ryc, ys);
    check_close("dx", dx[0], rdx, rdxm, rdxc, xs);
    check_close("dw", dwg[0], rdw, rdwm, rdwc, ws);
    check_close("db", db[0], rdb, rdbm, rdbc, s.co);
    FZ_CHECK(!memcmp(y[0], y[1], ys * 4) && !memcmp(dx[0], dx[1], xs * 4) &&
                 !memcmp(dwg[0], dwg[1], ws * 4) && !memcmp(db[0], db[1], s.co * 4),
             "1 and 2 threads differ (%zux%zux%zux%zu -> %zu, k %zux%zu s %zu,%zu p %zu,%zu g %zu)",
             s.n, s.h, s.w, s.ci, s.co, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.g);
    for (t = 0; t < 2; t++) { free(by[t]); free(bdx[t]); free(bdw[t]); free(bdb[t]); }
    free(bx); free(bw); free(bb); free(bdy); free(r);
    return 0;
}
