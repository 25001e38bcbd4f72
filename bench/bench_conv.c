/* bench_conv.c - hr_conv2d against oneDNN's convolution (C API), in one run.

     bench_conv [--quick] [--threads 1,2] [--csv FILE]

   Layers (issue 4), batch 32, pad 1 for 3x3:
     3x3 32->32 on 64x32; 3x3 64->64 on 32x16; depthwise 3x3 64 on 32x16;
     1x1 64->128 on 32x16.
   Each: forward alone, then forward + backward data + backward weights
   (bias included in both libraries), at 1 thread, then 2.

   oneDNN gets its best case: format_tag_any for every tensor, so it picks
   its blocked layouts (nChw8c, ...), and only the primitives are timed (the
   reorders to and from plain layouts happen once, outside). hardreid runs
   on its NHWC / OHWI tensors as they are.

   Before timing, every output is checked against oneDNN's (reordered to
   NHWC / OHWI): the forward y, and from zeroed gradients dx, dw and db.
   Each figure: the median of 7 samples of as many calls as take >= 0.1 s.
   GFLOP/s counts the multiply-adds of the taps inside the image only,
   2 C_out (C_in / groups) x (taps inside, summed over output pixels), per
   pass (padding credited to neither library); forward + backward counts 3
   passes. hardreid's share of the FMA peak of its path (the ISA it ran, x
   threads) is printed beside it, and each pass alone (forward, backward
   data, backward weights) for both libraries.
   Targets (issue 14): hardreid >= 1.0x oneDNN on the 3x3 and 1x1 layers,
   >= 0.8x on depthwise, forward and forward + backward: printed MET /
   MISSED; exit 0 either way, 2 on a verification or oneDNN failure. */
#define _POSIX_C_SOURCE 200112L
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"
#include "bench_util.h"
#include "bench_peak.h"

#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _OPENMP
static void omp_set_num_threads(int t) { (void)t; }
#endif

#define SAMPLES 7

typedef struct {
    const char *name;
    size_t n, h, w, ci, co, k, stride, pad, groups;
} layer;

/* Taps inside the image, summed over the output pixels of one image. */
static double inside_taps(const layer *L, size_t oh, size_t ow) {
    double t = 0;
    for (size_t oy = 0; oy < oh; oy++)
        for (size_t ox = 0; ox < ow; ox++)
            for (size_t ky = 0; ky < L->k; ky++)
                for (size_t kx = 0; kx < L->k; kx++) {
                    const long iy = (long)(oy * L->stride + ky) - (long)L->pad;
                    const long ix = (long)(ox * L->stride + kx) - (long)L->pad;
                    t += iy >= 0 && iy < (long)L->h && ix >= 0 && ix < (long)L->w;
                }
    return t;
}

static const layer layers_full[] = {
    {"3x3 32->32 on 64x32", 32, 64, 32, 32, 32, 3, 1, 1, 1},
    {"3x3 64->64 on 32x16", 32, 32, 16, 64, 64, 3, 1, 1, 1},
    {"dw 3x3 64 on 32x16", 32, 32, 16, 64, 64, 3, 1, 1, 64},
    {"1x1 64->128 on 32x16", 32, 32, 16, 64, 128, 1, 1, 0, 1},
};
static const layer layers_quick[] = {
    {"3x3 16->16 on 16x8 (smoke)", 4, 16, 8, 16, 16, 3, 1, 1, 1},
    {"dw 3x3 16 on 16x8 (smoke)", 4, 16, 8, 16, 16, 3, 1, 1, 16},
};

#define DNNL_OK(call) do { \
    dnnl_status_t st_ = (call); \
    if (st_ != dnnl_success) { \
        fprintf(stderr, "bench_conv: oneDNN: %s failed (%d)\n", #call, (int)st_); \
        exit(2); \
    } \
} while (0)

/* ---- oneDNN side: three primitives in their preferred layouts ---------*/

typedef struct {
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_primitive_t fwd, bwd_d, bwd_w;
    dnnl_memory_t src, wei, bias, dst, dsrc, dwei, dbias, ddst;
    /* each primitive's own layouts of its inputs where it picked others
       than the forward's / backward data's (else the same memory) */
    dnnl_memory_t wei_bd, src_bw, ddst_bw;
} onednn;

static dnnl_memory_t make_mem(const dnnl_memory_desc_t *md, dnnl_engine_t eng) {
    dnnl_memory_t m;
    DNNL_OK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    return m;
}

/* Copy between a plain user buffer (tag) and a primitive's memory. */
static void reorder(onednn *o, dnnl_memory_t from, dnnl_memory_t to) {
    const dnnl_memory_desc_t *fmd, *tmd;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t r;
    dnnl_exec_arg_t args[2];
    DNNL_OK(dnnl_memory_get_memory_desc(from, &fmd));
    DNNL_OK(dnnl_memory_get_memory_desc(to, &tmd));
    DNNL_OK(dnnl_reorder_primitive_desc_create(&pd, fmd, o->eng, tmd, o->eng, NULL));
    DNNL_OK(dnnl_primitive_create(&r, pd));
    args[0].arg = DNNL_ARG_FROM;
    args[0].memory = from;
    args[1].arg = DNNL_ARG_TO;
    args[1].memory = to;
    DNNL_OK(dnnl_primitive_execute(r, o->strm, 2, args));
    DNNL_OK(dnnl_stream_wait(o->strm));
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(pd);
}

/* oneDNN's logical dims of a layer: src, dst, weights (plain and grouped),
   bias */
typedef struct {
    dnnl_dims_t sd, dd, wd, gwd, bd;
} layer_dims;

static void dims_init(layer_dims *D, const layer *L, size_t oh, size_t ow) {
    const dnnl_dim_t s[4] = {(dnnl_dim_t)L->n, (dnnl_dim_t)L->ci, (dnnl_dim_t)L->h, (dnnl_dim_t)L->w};
    const dnnl_dim_t d[4] = {(dnnl_dim_t)L->n, (dnnl_dim_t)L->co, (dnnl_dim_t)oh, (dnnl_dim_t)ow};
    const dnnl_dim_t w[4] = {(dnnl_dim_t)L->co, (dnnl_dim_t)L->ci, (dnnl_dim_t)L->k, (dnnl_dim_t)L->k};
    const dnnl_dim_t g[5] = {(dnnl_dim_t)L->groups, (dnnl_dim_t)(L->co / L->groups),
                             (dnnl_dim_t)(L->ci / L->groups), (dnnl_dim_t)L->k, (dnnl_dim_t)L->k};
    memset(D, 0, sizeof *D);
    memcpy(D->sd, s, sizeof s);
    memcpy(D->dd, d, sizeof d);
    memcpy(D->wd, w, sizeof w);
    memcpy(D->gwd, g, sizeof g);
    D->bd[0] = (dnnl_dim_t)L->co;
}

static void onednn_setup(onednn *o, const layer *L, size_t oh, size_t ow) {
    const int grouped = L->groups > 1;
    layer_dims D;
    dnnl_dims_t strides = {(dnnl_dim_t)L->stride, (dnnl_dim_t)L->stride};
    dnnl_dims_t pad = {(dnnl_dim_t)L->pad, (dnnl_dim_t)L->pad};
    dnnl_memory_desc_t src_md, wei_md, bias_md, dst_md;
    dnnl_convolution_desc_t fd, bdd, bwd;
    dnnl_primitive_desc_t fpd, bdpd, bwpd;
    dims_init(&D, L, oh, ow);
    DNNL_OK(dnnl_engine_create(&o->eng, dnnl_cpu, 0));
    DNNL_OK(dnnl_stream_create(&o->strm, o->eng, dnnl_stream_default_flags));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&src_md, 4, D.sd, dnnl_f32, dnnl_format_tag_any));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&dst_md, 4, D.dd, dnnl_f32, dnnl_format_tag_any));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&wei_md, grouped ? 5 : 4, grouped ? D.gwd : D.wd, dnnl_f32,
                                         dnnl_format_tag_any));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&bias_md, 1, D.bd, dnnl_f32, dnnl_x));
    DNNL_OK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                               &src_md, &wei_md, &bias_md, &dst_md, strides, pad,
                                               pad));
    DNNL_OK(dnnl_primitive_desc_create(&fpd, &fd, NULL, o->eng, NULL));
    DNNL_OK(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &src_md, &wei_md,
                                                     &dst_md, strides, pad, pad));
    DNNL_OK(dnnl_primitive_desc_create(&bdpd, &bdd, NULL, o->eng, fpd));
    DNNL_OK(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &src_md,
                                                        &wei_md, &bias_md, &dst_md, strides, pad,
                                                        pad));
    DNNL_OK(dnnl_primitive_desc_create(&bwpd, &bwd, NULL, o->eng, fpd));
    DNNL_OK(dnnl_primitive_create(&o->fwd, fpd));
    DNNL_OK(dnnl_primitive_create(&o->bwd_d, bdpd));
    DNNL_OK(dnnl_primitive_create(&o->bwd_w, bwpd));
    o->src = make_mem(dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0), o->eng);
    o->wei = make_mem(dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0), o->eng);
    o->bias = make_mem(dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 1), o->eng);
    o->dst = make_mem(dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0), o->eng);
    o->dsrc = make_mem(dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_src_md, 0), o->eng);
    o->ddst = make_mem(dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_dst_md, 0), o->eng);
    o->dwei = make_mem(dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_weights_md, 0), o->eng);
    o->dbias = make_mem(dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_weights_md, 1), o->eng);
#define OWN(field, pd, q, same) do { \
        const dnnl_memory_desc_t *md_ = dnnl_primitive_desc_query_md((pd), (q), 0), *sm_; \
        DNNL_OK(dnnl_memory_get_memory_desc((same), &sm_)); \
        o->field = dnnl_memory_desc_equal(md_, sm_) ? NULL : make_mem(md_, o->eng); \
    } while (0)
    OWN(wei_bd, bdpd, dnnl_query_weights_md, o->wei);
    OWN(src_bw, bwpd, dnnl_query_src_md, o->src);
    OWN(ddst_bw, bwpd, dnnl_query_diff_dst_md, o->ddst);
#undef OWN
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(bdpd);
    dnnl_primitive_desc_destroy(bwpd);
}

/* A plain-layout memory over a user buffer: NHWC activations, OHWI (or
   grouped GOHWI) weights, as hardreid stores them. */
static dnnl_memory_t user_mem(onednn *o, int ndims, const dnnl_dim_t *dims, dnnl_format_tag_t tag,
                              float *buf) {
    dnnl_memory_desc_t md;
    dnnl_memory_t m;
    DNNL_OK(dnnl_memory_desc_init_by_tag(&md, ndims, dims, dnnl_f32, tag));
    DNNL_OK(dnnl_memory_create(&m, &md, o->eng, buf));
    return m;
}

static void onednn_run(onednn *o, dnnl_primitive_t p, int which) {
    dnnl_exec_arg_t a[4];
    int n = 0;
#define ARG(k, m) a[n].arg = (k); a[n].memory = (m); n++;
    if (which == 0) {
        ARG(DNNL_ARG_SRC, o->src) ARG(DNNL_ARG_WEIGHTS, o->wei) ARG(DNNL_ARG_BIAS, o->bias)
        ARG(DNNL_ARG_DST, o->dst)
    } else if (which == 1) {
        ARG(DNNL_ARG_DIFF_DST, o->ddst) ARG(DNNL_ARG_WEIGHTS, o->wei_bd ? o->wei_bd : o->wei)
        ARG(DNNL_ARG_DIFF_SRC, o->dsrc)
    } else {
        ARG(DNNL_ARG_SRC, o->src_bw ? o->src_bw : o->src)
        ARG(DNNL_ARG_DIFF_DST, o->ddst_bw ? o->ddst_bw : o->ddst)
        ARG(DNNL_ARG_DIFF_WEIGHTS, o->dwei) ARG(DNNL_ARG_DIFF_BIAS, o->dbias)
    }
#undef ARG
    DNNL_OK(dnnl_primitive_execute(p, o->strm, n, a));
    DNNL_OK(dnnl_stream_wait(o->strm));
}

static void onednn_destroy(onednn *o) {
    dnnl_memory_t ms[11] = {o->src, o->wei, o->bias, o->dst, o->dsrc, o->dwei, o->dbias, o->ddst,
                            o->wei_bd, o->src_bw, o->ddst_bw};
    for (int i = 0; i < 11; i++)
        if (ms[i]) dnnl_memory_destroy(ms[i]);
    dnnl_primitive_destroy(o->fwd);
    dnnl_primitive_destroy(o->bwd_d);
    dnnl_primitive_destroy(o->bwd_w);
    dnnl_stream_destroy(o->strm);
    dnnl_engine_destroy(o->eng);
}

/* ---- the run ----------------------------------------------------------*/

typedef struct {
    const layer *L;
    int threads;
    double hr_f, dn_f, hr_fb, dn_fb; /* GFLOP/s */
    double hr_bd, dn_bd, hr_bw, dn_bw; /* each backward pass alone */
    double peak;                     /* FMA peak of hardreid's path x threads */
} result;

/* max |a - b| over n against the largest |b|: 0 when they agree */
static double rel_diff(const float *a, const float *b, size_t n) {
    double big = 0, diff = 0;
    for (size_t i = 0; i < n; i++) {
        big = fmax(big, fabs(b[i]));
        diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
    }
    return diff / (big + 1e-30);
}

static void fill(float *p, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(seed >> 40) / 16777216.0 - 0.5);
    }
}

/* median seconds per call of body, calibrated to >= 0.1 s per sample */
#define TIME(out, body) do { \
    long reps_ = 1; double ts_[SAMPLES]; \
    pause_s(0.2); /* the other library's spinning workers go idle */ \
    for (;;) { double t0_ = now_s(); for (long i_ = 0; i_ < reps_; i_++) { body; } \
               if (now_s() - t0_ >= 0.1) { break; } reps_ *= 2; } \
    for (int s_ = 0; s_ < SAMPLES; s_++) { double t0_ = now_s(); \
        for (long i_ = 0; i_ < reps_; i_++) { body; } ts_[s_] = (now_s() - t0_) / (double)reps_; } \
    (out) = median(ts_, SAMPLES); \
} while (0)

static void check(hr_status s, const char *what) {
    if (s != HR_OK) {
        fprintf(stderr, "bench_conv: %s: %s\n", what, hr_status_string(s));
        exit(2);
    }
}

static result run_layer(const layer *L, int threads) {
    hr_conv2d cd;
    size_t oh, ow;
    memset(&cd, 0, sizeof cd);
    cd.n = L->n; cd.h = L->h; cd.w = L->w; cd.c_in = L->ci; cd.c_out = L->co;
    cd.kh = cd.kw = L->k; cd.stride_h = cd.stride_w = L->stride; cd.pad_h = cd.pad_w = L->pad;
    cd.groups = L->groups;
    check(hr_conv2d_out_size(&cd, &oh, &ow), "hr_conv2d_out_size");
    const size_t xs = L->n * L->h * L->w * L->ci, ys = L->n * oh * ow * L->co;
    const size_t ws = L->co * L->k * L->k * (L->ci / L->groups);
    float *x = xmalloc(xs * 4), *w = xmalloc(ws * 4), *b = xmalloc(L->co * 4), *y = xmalloc(ys * 4);
    float *dy = xmalloc(ys * 4), *dx = xmalloc(xs * 4), *dw = xmalloc(ws * 4), *db = xmalloc(L->co * 4);
    float *y2 = xmalloc(ys * 4);
    fill(x, xs, 1);
    fill(w, ws, 2);
    fill(b, L->co, 3);
    fill(dy, ys, 4);
    omp_set_num_threads(threads);

    onednn o;
    onednn_setup(&o, L, oh, ow);
    {   /* inputs into oneDNN's layouts, once; verify the forwards agree */
        const int grouped = L->groups > 1;
        layer_dims D;
        dims_init(&D, L, oh, ow);
        dnnl_memory_t us = user_mem(&o, 4, D.sd, dnnl_nhwc, x);
        dnnl_memory_t uw = user_mem(&o, grouped ? 5 : 4, grouped ? D.gwd : D.wd,
                                    grouped ? dnnl_gohwi : dnnl_ohwi, w);
        dnnl_memory_t ub = user_mem(&o, 1, D.bd, dnnl_x, b);
        dnnl_memory_t ud = user_mem(&o, 4, D.dd, dnnl_nhwc, dy);
        dnnl_memory_t uy = user_mem(&o, 4, D.dd, dnnl_nhwc, y2);
        float *dx2 = xmalloc(xs * 4), *dw2 = xmalloc(ws * 4), *db2 = xmalloc(L->co * 4);
        dnnl_memory_t udx = user_mem(&o, 4, D.sd, dnnl_nhwc, dx2);
        dnnl_memory_t udw = user_mem(&o, grouped ? 5 : 4, grouped ? D.gwd : D.wd,
                                     grouped ? dnnl_gohwi : dnnl_ohwi, dw2);
        dnnl_memory_t udb = user_mem(&o, 1, D.bd, dnnl_x, db2);
        reorder(&o, us, o.src);
        reorder(&o, uw, o.wei);
        reorder(&o, ub, o.bias);
        reorder(&o, ud, o.ddst);
        if (o.wei_bd) reorder(&o, uw, o.wei_bd);
        if (o.src_bw) reorder(&o, us, o.src_bw);
        if (o.ddst_bw) reorder(&o, ud, o.ddst_bw);
        onednn_run(&o, o.fwd, 0);
        onednn_run(&o, o.bwd_d, 1);
        onednn_run(&o, o.bwd_w, 2);
        reorder(&o, o.dst, uy);
        reorder(&o, o.dsrc, udx);
        reorder(&o, o.dwei, udw);
        reorder(&o, o.dbias, udb);
        memset(dx, 0, xs * 4);
        memset(dw, 0, ws * 4);
        memset(db, 0, L->co * 4);
        check(hr_conv2d_forward(&cd, y, x, w, b), "hr_conv2d_forward");
        check(hr_conv2d_backward_data(&cd, dx, dy, w), "hr_conv2d_backward_data");
        check(hr_conv2d_backward_weight(&cd, dw, db, dy, x), "hr_conv2d_backward_weight");
        const double ey = rel_diff(y, y2, ys), edx = rel_diff(dx, dx2, xs);
        const double edw = rel_diff(dw, dw2, ws), edb = rel_diff(db, db2, L->co);
        /* fp32 sums of up to ~10^4 terms in different orders */
        if (!(ey <= 1e-4 && edx <= 1e-4 && edw <= 1e-4 && edb <= 1e-4)) {
            fprintf(stderr, "VERIFY FAILED: %s: hardreid vs oneDNN, max |diff| / max |value|: "
                            "y %.3g dx %.3g dw %.3g db %.3g\n", L->name, ey, edx, edw, edb);
            exit(2);
        }
        dnnl_memory_t ms[8] = {us, uw, ub, ud, uy, udx, udw, udb};
        for (int i = 0; i < 8; i++) dnnl_memory_destroy(ms[i]);
        free(dx2); free(dw2); free(db2);
    }
    memset(dx, 0, xs * 4);
    memset(dw, 0, ws * 4);
    memset(db, 0, L->co * 4);

    result r;
    double t_hf, t_df, t_hb, t_db, t_hbd, t_dbd, t_hbw, t_dbw;
    const double pass = 2.0 * (double)L->n * inside_taps(L, oh, ow) * (double)L->co *
                        (double)(L->ci / L->groups) * 1e-9;
    TIME(t_hf, check(hr_conv2d_forward(&cd, y, x, w, b), "forward"));
    TIME(t_df, onednn_run(&o, o.fwd, 0));
    TIME(t_hb, check(hr_conv2d_forward(&cd, y, x, w, b), "forward");
               check(hr_conv2d_backward_data(&cd, dx, dy, w), "backward_data");
               check(hr_conv2d_backward_weight(&cd, dw, db, dy, x), "backward_weight"));
    TIME(t_db, onednn_run(&o, o.fwd, 0); onednn_run(&o, o.bwd_d, 1); onednn_run(&o, o.bwd_w, 2));
    TIME(t_hbd, check(hr_conv2d_backward_data(&cd, dx, dy, w), "backward_data"));
    TIME(t_dbd, onednn_run(&o, o.bwd_d, 1));
    TIME(t_hbw, check(hr_conv2d_backward_weight(&cd, dw, db, dy, x), "backward_weight"));
    TIME(t_dbw, onednn_run(&o, o.bwd_w, 2));
    r.L = L;
    r.threads = threads;
    r.hr_f = pass / t_hf;
    r.dn_f = pass / t_df;
    r.hr_fb = 3 * pass / t_hb;
    r.dn_fb = 3 * pass / t_db;
    r.hr_bd = pass / t_hbd;
    r.dn_bd = pass / t_dbd;
    r.hr_bw = pass / t_hbw;
    r.dn_bw = pass / t_dbw;
    r.peak = 0;
    onednn_destroy(&o);
    free(x); free(w); free(b); free(y); free(dy); free(dx); free(dw); free(db); free(y2);
    return r;
}

int main(int argc, char **argv) {
    const layer *layers = layers_full;
    size_t nl = sizeof layers_full / sizeof layers_full[0];
    int missed = 0;
    char cpu[256];
    bench_opts o;
    if (bench_parse(&o, argc, argv)) return 2;
    if (o.quick) {
        layers = layers_quick;
        nl = sizeof layers_quick / sizeof layers_quick[0];
    }
    const dnnl_version_t *v = dnnl_version();
    cpu_model(cpu, sizeof cpu);
    printf("bench_conv: hardreid %s hr_conv2d vs oneDNN %d.%d.%d (%s)\n", HARDREID_VERSION_STRING,
           v->major, v->minor, v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other runtime");
    printf("cpu: %s | compiler: %s | flags: %s | isa: %s\n", cpu, BENCH_COMPILER, BENCH_FLAGS,
           hr_isa_name(hr_get_isa()));
    char meta[512];
    bench_meta(meta, sizeof meta, hr_isa_name(hr_get_isa()));
    printf("%s\n", meta);
    const double pk2 = fma_peak_gflops_isa(0, 1, 0.2), pk5 = fma_peak_gflops_isa(1, 1, 0.2);
    const double peak1 = hr_get_isa() == HR_ISA_AVX512 ? pk5 : pk2;
    printf("median of %d samples (>= 0.1 s each); FMA peak (1 thread): AVX2 %.1f, AVX-512 %.1f"
           " GFLOP/s\n", SAMPLES, pk2, pk5);
    printf("oneDNN: format_tag_any (its blocked layouts), primitives only; hardreid: NHWC / OHWI\n");
    printf("GFLOP/s: taps inside the image only; %%pk: hardreid's share of its path's FMA peak"
           " x threads\n\n");
    printf("%-26s %3s | %-33s | %-33s\n", "", "", "forward GFLOP/s", "fwd + bwd data + bwd weights");
    printf("%-26s %3s | %8s %5s %8s %8s | %8s %5s %8s %8s\n", "layer (batch 32)", "thr", "hardreid",
           "%pk", "oneDNN", "ratio", "hardreid", "%pk", "oneDNN", "ratio");
    result *res = xmalloc(nl * (size_t)o.nth * sizeof(result));
    size_t nres = 0;
    for (int t = 0; t < o.nth; t++)
        for (size_t i = 0; i < nl; i++) {
            result r = run_layer(&layers[i], o.threads[t]);
            const double want = layers[i].groups > 1 ? 0.8 : 1.0; /* depthwise: 0.8x */
            r.peak = peak1 * r.threads;
            res[nres++] = r;
            printf("%-26s %3d | %8.1f %4.0f%% %8.1f %7.2fx | %8.1f %4.0f%% %8.1f %7.2fx\n", r.L->name,
                   r.threads, r.hr_f, 100 * r.hr_f / r.peak, r.dn_f, r.hr_f / r.dn_f, r.hr_fb,
                   100 * r.hr_fb / r.peak, r.dn_fb, r.hr_fb / r.dn_fb);
            fflush(stdout);
            missed += (r.hr_f < want * r.dn_f) + (r.hr_fb < want * r.dn_fb);
        }
    printf("\neach backward pass alone, GFLOP/s (hardreid / oneDNN = ratio):\n");
    for (size_t i = 0; i < nres; i++)
        printf("%-26s %3d | bwd data %7.1f / %7.1f = %5.2fx | bwd weights %7.1f / %7.1f = %5.2fx\n",
               res[i].L->name, res[i].threads, res[i].hr_bd, res[i].dn_bd, res[i].hr_bd / res[i].dn_bd,
               res[i].hr_bw, res[i].dn_bw, res[i].hr_bw / res[i].dn_bw);
    printf("\ntarget hardreid >= 1.0x oneDNN (3x3, 1x1) and >= 0.8x (depthwise), forward and "
           "forward + backward: %s (%d of %zu below)\n", missed ? "MISSED" : "MET", missed, 2 * nres);
    if (o.csv) {
        FILE *f = fopen(o.csv, "w");
        if (!f) {
            fprintf(stderr, "bench_conv: cannot write %s\n", o.csv);
            return 2;
        }
        fprintf(f, "# %s\n", meta);
        fprintf(f, "layer,threads,hardreid_fwd_gflops,onednn_fwd_gflops,fwd_ratio,"
                   "hardreid_fwdbwd_gflops,onednn_fwdbwd_gflops,fwdbwd_ratio,"
                   "hardreid_bwd_data_gflops,onednn_bwd_data_gflops,hardreid_bwd_weights_gflops,"
                   "onednn_bwd_weights_gflops,hardreid_peak_gflops\n");
        for (size_t i = 0; i < nres; i++)
            fprintf(f, "%s,%d,%.2f,%.2f,%.3f,%.2f,%.2f,%.3f,%.2f,%.2f,%.2f,%.2f,%.1f\n", res[i].L->name,
                    res[i].threads, res[i].hr_f, res[i].dn_f, res[i].hr_f / res[i].dn_f, res[i].hr_fb,
                    res[i].dn_fb, res[i].hr_fb / res[i].dn_fb, res[i].hr_bd, res[i].dn_bd, res[i].hr_bw,
                    res[i].dn_bw, res[i].peak);
        fclose(f);
        printf("csv: %s\n", o.csv);
    }
    free(res);
    return 0;
}
