/* model.c - the backbones as lists of layers, with forward and backward
   passes over them (llm.c style: each layer a forward/backward pair;
   backward ACCUMULATES into gradients; parameters, gradients and
   activations each live in one allocation, tensors are offsets into it).

   Convolutions and the FC layer run on hardreid.h (hr_conv2d_*, hr_fc_*);
   the elementwise layers (batch norm, ReLU, residual add, channel shuffle,
   global average pooling) are here. Everything is NHWC: channels innermost.

     res      3x3 stem, then residual stages (16, 32 s2, 64 s2 channels)
     res18    ResNet-18's shape: 3x3 stem, stages 64, 128 s2, 256 s2, 512 s2
              of 2 basic blocks (no max-pool; the stem's stride instead)
     mobile   3x3 stem, then depthwise-separable blocks (dw 3x3 + 1x1)
     shuffle  3x3 stem, then ShuffleNet units (grouped 1x1, channel shuffle,
              depthwise 3x3, grouped 1x1, residual)
   net_arch scales each: width multiplies the channels (rounded to 8),
   depth repeats each stage's stride-1 block, stem_stride halves the input.
   All end in global average pooling and an FC layer to the embedding; the
   classifier W (classes x emb) is the last parameter tensor. The PyTorch
   twin (examples/python/train_ref.py) builds the same layers in the same
   order. */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE ((size_t)-1)
#define CHUNKS 32 /* a reduction's fixed row chunks (any thread count) */
#define BN_TMP(c) ((size_t)(2 * CHUNKS + 3) * (c)) /* BN's scratch: chunk sums, coefficients */
#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f

const char *const NET_NAMES[NET_COUNT] = {"res", "mobile", "shuffle", "res18"};

const char *net_name(net_kind k) { return (unsigned)k < NET_COUNT ? NET_NAMES[k] : "?"; }

/* ---- building the layer list -------------------------------------------- */

static void too_big(const net *m)
{
    fprintf(stderr, "train: network too large (%d layers; at most %d): lower --depth\n", m->nops,
            NET_MAX_OPS);
    exit(2);
}

static int new_tensor(net *m, size_t h, size_t w, size_t c)
{
    tensor *t;
    if (m->nt == NET_MAX_TENSORS) too_big(m);
    t = &m->t[m->nt];
    t->off = m->nacts; t->h = h; t->w = w; t->c = c;
    m->nacts += m->max_batch * h * w * c;
    return m->nt++;
}

/* a parameter tensor of shape d[0] x .. x d[nd-1], named name (printf) */
static size_t new_param(net *m, int decay, size_t nd, const size_t *d, const char *fmt, int i)
{
    ptensor *p;
    size_t k, size = 1;
    if (m->np == NET_MAX_PARAMS) too_big(m);
    p = &m->p[m->np++];
    memset(p, 0, sizeof *p);
    for (k = 0; k < nd; k++) { p->dims[k] = d[k]; size *= d[k]; }
    p->ndim = nd; p->off = m->nparams; p->size = size; p->decay = decay;
    snprintf(p->name, sizeof p->name, fmt, i);
    m->nparams += size;
    return p->off;
}

static op *new_op(net *m, op_kind kind, int in)
{
    op *o;
    if (m->nops == NET_MAX_OPS) too_big(m);
    o = &m->ops[m->nops++];
    memset(o, 0, sizeof *o);
    o->kind = kind; o->in = in; o->in2 = -1; o->b = NONE; o->w = NONE;
    return o;
}

static int conv(net *m, int in, size_t cout, size_t k, size_t stride, size_t groups)
{
    const tensor *x = &m->t[in];
    op *o = new_op(m, OP_CONV, in);
    const size_t d[4] = {cout, k, k, x->c / groups};
    size_t oh, ow;
    o->cd.h = x->h; o->cd.w = x->w; o->cd.n = 1;
    o->cd.c_in = x->c; o->cd.c_out = cout;
    o->cd.kh = o->cd.kw = k;
    o->cd.stride_h = o->cd.stride_w = stride;
    o->cd.pad_h = o->cd.pad_w = k / 2;
    o->cd.groups = groups;
    if (hr_conv2d_out_size(&o->cd, &oh, &ow) != HR_OK) {
        fprintf(stderr, "train: bad conv shape in the network (%zu x %zu input, stride %zu): "
                        "the input is too small for this net\n", x->h, x->w, stride);
        exit(2);
    }
    o->w = new_param(m, 1, 4, d, "conv%d.w", m->nconv++);
    o->out = new_tensor(m, oh, ow, cout);
    return o->out;
}

/* zero_gamma: the last BN of a residual branch starts at 0, so every block
   starts as the identity (the "zero-init residual" trick) */
static int bn_(net *m, int in, int zero_gamma)
{
    const tensor *x = &m->t[in];
    op *o = new_op(m, OP_BN, in);
    const size_t d[1] = {x->c};
    o->w = new_param(m, 0, 1, d, "bn%d.gamma", m->nbn);
    m->p[m->np - 1].zero = zero_gamma;
    o->b = new_param(m, 0, 1, d, "bn%d.beta", m->nbn++);
    o->stat = m->nstate;
    m->nstate += 2 * x->c;
    o->save = m->nbn_save;
    m->nbn_save += 2 * x->c;
    if (x->c > m->bn_c) m->bn_c = x->c;
    o->out = new_tensor(m, x->h, x->w, x->c);
    return o->out;
}
static int bn(net *m, int in) { return bn_(m, in, 0); }

/* A ReLU right after a BN or an add runs inside that op (one pass over the
   tensor instead of two, forward and backward; the same values): the op's
   output becomes the ReLU's, so a builder never uses the tensor it passed
   in here again. Any other ReLU gets its own op. */
static int relu(net *m, int in)
{
    const tensor *x = &m->t[in];
    op *o = m->nops ? &m->ops[m->nops - 1] : NULL;
    if (o && o->out == in && (o->kind == OP_BN || o->kind == OP_ADD) && !o->relu) {
        o->relu = 1;
        return in;
    }
    o = new_op(m, OP_RELU, in);
    o->out = new_tensor(m, x->h, x->w, x->c);
    return o->out;
}

static int add(net *m, int a, int b)
{
    const tensor *x = &m->t[a];
    op *o = new_op(m, OP_ADD, a);
    o->in2 = b;
    o->out = new_tensor(m, x->h, x->w, x->c);
    return o->out;
}

static int shuffle(net *m, int in, size_t groups)
{
    const tensor *x = &m->t[in];
    op *o = new_op(m, OP_SHUFFLE, in);
    o->groups = groups;
    o->out = new_tensor(m, x->h, x->w, x->c);
    return o->out;
}

static int gap(net *m, int in)
{
    op *o = new_op(m, OP_GAP, in);
    o->out = new_tensor(m, 1, 1, m->t[in].c);
    return o->out;
}

static int fc(net *m, int in, size_t out)
{
    const size_t cin = m->t[in].c, dw[2] = {out, cin}, db[1] = {out};
    op *o = new_op(m, OP_FC, in);
    o->w = new_param(m, 1, 2, dw, "fc.w", 0);
    o->b = new_param(m, 0, 1, db, "fc.b", 0);
    o->out = new_tensor(m, 1, 1, out);
    return o->out;
}

static int cbr(net *m, int in, size_t cout, size_t k, size_t stride, size_t groups)
{
    return relu(m, bn(m, conv(m, in, cout, k, stride, groups)));
}

static int res_block(net *m, int in, size_t cout, size_t stride)
{
    int y = cbr(m, in, cout, 3, stride, 1);
    int sc = in;
    y = bn_(m, conv(m, y, cout, 3, 1, 1), 1);
    if (stride != 1 || m->t[in].c != cout) sc = bn(m, conv(m, in, cout, 1, stride, 1));
    return relu(m, add(m, y, sc));
}

static int dws_block(net *m, int in, size_t cout, size_t stride)
{
    int y = cbr(m, in, m->t[in].c, 3, stride, m->t[in].c); /* depthwise */
    return cbr(m, y, cout, 1, 1, 1);                      /* pointwise */
}

#define SHUFFLE_GROUPS 4
static int shuffle_unit(net *m, int in, size_t cout, size_t stride)
{
    const size_t cin = m->t[in].c, mid = cout / 2, g = SHUFFLE_GROUPS;
    int y = cbr(m, in, mid, 1, 1, g);
    int sc = in;
    y = shuffle(m, y, g);
    y = bn(m, conv(m, y, mid, 3, stride, mid));          /* depthwise */
    y = bn_(m, conv(m, y, cout, 1, 1, g), stride == 1 && cin == cout);
    if (stride != 1 || cin != cout) /* ShuffleNet v2's downsampling branch */
        sc = bn(m, conv(m, bn(m, conv(m, in, cin, 3, stride, cin)), cout, 1, 1, 1));
    return relu(m, add(m, y, sc));
}

/* channels of a preset layer at the chosen width: a multiple of 8 (the
   shuffle unit's groups need cout / 2 divisible by 4) */
static size_t ch(const net *m, size_t c)
{
    const double x = floor((double)c * m->arch.width / 8.0 + 0.5) * 8.0;
    return x < 8.0 ? 8 : (size_t)x;
}

typedef int (*block_fn)(net *m, int in, size_t cout, size_t stride);

/* a preset's blocks {channels, stride}: each followed by depth - 1 more
   at stride 1 (res and res18 list one entry per stage) */
static int stages(net *m, int x, block_fn f, const size_t (*b)[2], size_t nb)
{
    size_t i, r;
    for (i = 0; i < nb; i++)
        for (r = 0; r < m->arch.depth; r++) x = f(m, x, ch(m, b[i][0]), r ? 1 : b[i][1]);
    return x;
}

/* The backward visits the ops last to first; the first op to reach a
   tensor's gradient stores it and the later ones add, so the gradient arena
   needs no zeroing each step (a conv's or FC's backward only adds: it
   zeroes its d(in) itself when it is first). A tensor no backward op writes
   but one reads would hold stale values: then the whole arena is zeroed
   each step, as before. */
static void plan_backward(net *m)
{
    unsigned char seen[NET_MAX_TENSORS] = {0};
    int i;
    seen[m->ops[m->nops - 1].out] = 1; /* d(embeddings) is copied in */
    for (i = m->nops - 1; i >= 0; i--) {
        op *o = &m->ops[i];
        if (!seen[o->out]) m->zero_dacts = 1;
        o->first_in = !seen[o->in]; seen[o->in] = 1;
        o->first_in2 = o->kind == OP_ADD && !seen[o->in2];
        if (o->kind == OP_ADD) seen[o->in2] = 1;
    }
}

int net_build(net *m, const net_arch *a, size_t h, size_t w, size_t emb, size_t classes,
              size_t max_batch)
{
    static const size_t RES[][2] = {{16, 1}, {32, 2}, {64, 2}};
    static const size_t RES18[][2] = {{64, 1}, {128, 2}, {256, 2}, {512, 2}};
    static const size_t MOBILE[][2] = {{32, 1}, {64, 2}, {64, 1}, {128, 2}, {128, 1}};
    static const size_t SHUFFLE[][2] = {{24, 1}, {48, 2}, {48, 1}, {96, 2}, {96, 1}};
    const size_t dh[2] = {classes, emb};
    const size_t s = a->stem_stride;
    int x;
    memset(m, 0, sizeof *m);
    m->arch = *a; m->h = h; m->w = w; m->emb = emb; m->classes = classes;
    m->max_batch = max_batch;
    x = new_tensor(m, h, w, 3); /* tensor 0: the input images */
    switch (a->kind) {
    case NET_RES:
        x = stages(m, cbr(m, x, ch(m, 16), 3, s, 1), res_block, RES, 3);
        break;
    case NET_RES18:
        x = stages(m, cbr(m, x, ch(m, 64), 3, s, 1), res_block, RES18, 4);
        break;
    case NET_MOBILE:
        x = stages(m, cbr(m, x, ch(m, 16), 3, s, 1), dws_block, MOBILE, 5);
        break;
    case NET_SHUFFLE: default:
        x = stages(m, cbr(m, x, ch(m, 24), 3, s, 1), shuffle_unit, SHUFFLE, 5);
        break;
    }
    x = gap(m, x);
    fc(m, x, emb);
    m->head_w = new_param(m, 1, 2, dh, "head.w", 0);
    plan_backward(m);
    return 0;
}

/* ---- allocation and initialization ---------------------------------------- */

static float normal(hr_rng *r)
{
    const double u1 = ((double)(hr_rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
    const double u2 = (double)(hr_rng_next(r) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Count, then carve: the net's arrays in one block (base NULL: count
   only), each piece 64-byte aligned (the library's vector rows then never
   straddle a cache line: calloc's 16-byte alignment split every one).
   Returns the bytes. */
static size_t net_layout(net *m, char *base)
{
    size_t off = 0;
#define CARVE(ptr, count) \
    if (base) (ptr) = (float *)(void *)(base + off); \
    off += ((count) * sizeof(float) + 63) / 64 * 64;
    CARVE(m->params, m->nparams)
    CARVE(m->grads, m->nparams)
    CARVE(m->state, m->nstate)
    CARVE(m->acts, m->nacts)
    CARVE(m->dacts, m->nacts)
    CARVE(m->bn_save, m->nbn_save)
    CARVE(m->bn_tmp, BN_TMP(m->bn_c))
#undef CARVE
    return off;
}

int net_alloc(net *m, uint64_t seed)
{
    hr_rng r;
    int i;
    const size_t bytes = net_layout(m, NULL);
    if ((m->mem = calloc(1, bytes + 64)) != NULL) /* zeroed */
        (void)net_layout(m, (char *)m->mem + (64 - (size_t)((uintptr_t)m->mem % 64)) % 64);
    if (!m->mem) {
        fprintf(stderr, "train: out of memory for the network (%zu parameters, %zu activations)\n",
                m->nparams, m->nacts);
        return -1;
    }
    hr_rng_seed(&r, seed ^ 0x1417ull);
    for (i = 0; i < m->nops; i++) { /* He init for conv / FC, BN gamma 1 (or 0) */
        const op *o = &m->ops[i];
        size_t j, fan_in = 0, size = 0;
        if (o->kind == OP_CONV) {
            fan_in = o->cd.kh * o->cd.kw * (o->cd.c_in / (o->cd.groups ? o->cd.groups : 1));
            size = o->cd.c_out * fan_in;
        } else if (o->kind == OP_FC) {
            fan_in = m->t[o->in].c;
            size = m->t[o->out].c * fan_in;
        } else if (o->kind == OP_BN) {
            const size_t c = m->t[o->in].c;
            int zero = 0, k;
            for (k = 0; k < m->np; k++)
                if (m->p[k].off == o->w) zero = m->p[k].zero;
            for (j = 0; j < c; j++) {
                m->params[o->w + j] = zero ? 0.0f : 1.0f;
                m->state[o->stat + c + j] = 1.0f; /* running var */
            }
            continue;
        } else {
            continue;
        }
        for (j = 0; j < size; j++)
            m->params[o->w + j] = normal(&r) * (float)sqrt(2.0 / (double)fan_in);
    }
    for (i = 0; i < (int)(m->classes * m->emb); i++)
        m->params[m->head_w + (size_t)i] = 0.01f * normal(&r);
    return 0;
}

void net_free(net *m)
{
    free(m->mem);
    m->mem = NULL;
    m->params = m->grads = m->state = m->acts = m->dacts = m->bn_save = m->bn_tmp = NULL;
}

/* ---- elementwise layers: forward / backward pairs ------------------------------ */

/* Elementwise loops run on all OpenMP threads; reductions add fixed row
   chunks (partial sums in float), then the chunks in order in double, so
   every result is the same for any thread count. */
#ifdef _OPENMP /* a loop parallel when `par` (in scope) says it is worth a fork */
#define PARALLEL_FOR _Pragma("omp parallel for schedule(static) if(par)")
/* the same for a loop of independent lanes: vectorized even where the
   outlined body has lost restrict */
#define PARALLEL_FOR_SIMD _Pragma("omp parallel for simd schedule(static) if(par)")
#else
#define PARALLEL_FOR
#define PARALLEL_FOR_SIMD
#endif
#ifdef _OPENMP /* an inner loop of independent lanes (the compiler cannot
                  see that partial sums and tensors do not overlap) */
#define SIMD _Pragma("omp simd")
#else
#define SIMD
#endif
#define PAR_MIN 32768 /* floats */

/* Batch norm over rows of c channels (rows = n h w). train: batch
   statistics (mean and 1/std saved for the backward; running averages
   updated), else the running ones. */
static void bn_forward(float *y, int relu, float *save, float *run, const float *x, const float *gamma,
                       const float *beta, size_t rows, size_t c, int train, float *tmp)
{
    float *mean = save, *istd = save + c;
    float *part = tmp, *a = tmp + 2 * CHUNKS * c, *b = a + c;
    const int par = rows * c >= PAR_MIN;
    (void)par;
    long k;
    size_t j;
    if (train) {
        memset(part, 0, CHUNKS * 2 * c * sizeof(float));
        PARALLEL_FOR
        for (k = 0; k < CHUNKS; k++) { /* sum x, sum x^2 per chunk */
            float *s = part + (size_t)k * 2 * c;
            size_t i, jj;
            for (i = rows * (size_t)k / CHUNKS; i < rows * (size_t)(k + 1) / CHUNKS; i++)
                for (jj = 0; jj < c; jj++) { const float v = x[i * c + jj]; s[jj] += v; s[c + jj] += v * v; }
        }
        for (j = 0; j < c; j++) {
            double s1 = 0, s2 = 0, mu, var;
            for (k = 0; k < CHUNKS; k++) { s1 += part[(size_t)k * 2 * c + j]; s2 += part[(size_t)k * 2 * c + c + j]; }
            mu = s1 / (double)rows;
            var = s2 / (double)rows - mu * mu;
            if (var < 0.0) var = 0.0;
            mean[j] = (float)mu;
            istd[j] = (float)(1.0 / sqrt(var + BN_EPS));
            run[j] = (1.0f - BN_MOMENTUM) * run[j] + BN_MOMENTUM * (float)mu;
            run[c + j] = (1.0f - BN_MOMENTUM) * run[c + j] +
                         BN_MOMENTUM * (float)(rows > 1 ? var * (double)rows / (double)(rows - 1) : var);
        }
    } else {
        for (j = 0; j < c; j++) { mean[j] = run[j]; istd[j] = 1.0f / sqrtf(run[c + j] + BN_EPS); }
    }
    for (j = 0; j < c; j++) { a[j] = istd[j] * gamma[j]; b[j] = beta[j] - mean[j] * a[j]; }
    PARALLEL_FOR
    for (k = 0; k < (long)rows; k++) {
        const float *xi = x + (size_t)k * c;
        float *yi = y + (size_t)k * c;
        size_t jj;
        if (relu)
            for (jj = 0; jj < c; jj++) { const float v = xi[jj] * a[jj] + b[jj]; yi[jj] = v > 0.0f ? v : 0.0f; }
        else
            for (jj = 0; jj < c; jj++) yi[jj] = xi[jj] * a[jj] + b[jj];
    }
}

/* dx (+)= gamma istd (g - mean(g) - xhat mean(g xhat)) (acc: add, else
   store); dgamma, dbeta +=; g = dy, or with a fused ReLU (y its output,
   else NULL) dy where y > 0 */
static void bn_backward(float *dx, int acc, float *dgamma, float *dbeta, const float *dy, const float *y,
                        const float *x, const float *save, const float *gamma, size_t rows, size_t c,
                        float *tmp)
{
    const float *mean = save, *istd = save + c;
    float *part = tmp, *a = tmp + 2 * CHUNKS * c, *mdy = a + c, *mdyx = a + 2 * c;
    const int par = rows * c >= PAR_MIN;
    (void)par;
    long k;
    size_t j;
    memset(part, 0, CHUNKS * 2 * c * sizeof(float));
    PARALLEL_FOR
    for (k = 0; k < CHUNKS; k++) { /* sum dy, sum dy xhat per chunk */
        float *s = part + (size_t)k * 2 * c;
        size_t i, jj;
        for (i = rows * (size_t)k / CHUNKS; i < rows * (size_t)(k + 1) / CHUNKS; i++)
            if (y) { /* two loops, dy read unconditionally: a select, no branch */
                SIMD
                for (jj = 0; jj < c; jj++) {
                    const float d = dy[i * c + jj], g = y[i * c + jj] > 0.0f ? d : 0.0f;
                    s[jj] += g;
                    s[c + jj] += g * (x[i * c + jj] - mean[jj]) * istd[jj];
                }
            } else {
                SIMD
                for (jj = 0; jj < c; jj++) {
                    const float g = dy[i * c + jj];
                    s[jj] += g;
                    s[c + jj] += g * (x[i * c + jj] - mean[jj]) * istd[jj];
                }
            }
    }
    for (j = 0; j < c; j++) {
        double s1 = 0, s2 = 0;
        for (k = 0; k < CHUNKS; k++) { s1 += part[(size_t)k * 2 * c + j]; s2 += part[(size_t)k * 2 * c + c + j]; }
        dbeta[j] += (float)s1;
        dgamma[j] += (float)s2;
        mdy[j] = (float)(s1 / (double)rows);
        mdyx[j] = (float)(s2 / (double)rows);
        a[j] = gamma[j] * istd[j];
    }
    PARALLEL_FOR
    for (k = 0; k < (long)rows; k++) {
        const size_t o = (size_t)k * c;
        size_t jj;
#define BN_DX(GY) \
        for (jj = 0; jj < c; jj++) { \
            const float xh = (x[o + jj] - mean[jj]) * istd[jj], d = dy[o + jj]; \
            const float g = a[jj] * ((GY) - mdy[jj] - xh * mdyx[jj]); \
            dx[o + jj] = acc ? dx[o + jj] + g : g; \
        }
        if (y) BN_DX(y[o + jj] > 0.0f ? d : 0.0f)
        else BN_DX(d)
#undef BN_DX
    }
}

/* ReLU; its backward passes dy where the output is positive. restrict and
   no branch: the loops vectorize. */
static void relu_forward(float *restrict y, const float *restrict x, size_t n)
{
    const int par = n >= PAR_MIN;
    long q;
    (void)par;
    PARALLEL_FOR_SIMD
    for (q = 0; q < (long)n; q++) y[q] = x[q] > 0.0f ? x[q] : 0.0f;
}

static void relu_backward(float *restrict dx, int acc, const float *restrict y,
                          const float *restrict dy, size_t n)
{
    const int par = n >= PAR_MIN;
    long q;
    (void)par;
    if (acc) {
        PARALLEL_FOR_SIMD
        for (q = 0; q < (long)n; q++) { /* dy read unconditionally: a select, not a branch */
            const float g = dy[q];
            dx[q] += y[q] > 0.0f ? g : 0.0f;
        }
    } else {
        PARALLEL_FOR_SIMD
        for (q = 0; q < (long)n; q++) {
            const float g = dy[q];
            dx[q] = y[q] > 0.0f ? g : 0.0f;
        }
    }
}

/* residual add */
static void add_forward(float *restrict y, int relu, const float *restrict a, const float *restrict b,
                        size_t n)
{
    const int par = n >= PAR_MIN;
    long q;
    (void)par;
    if (relu) {
        PARALLEL_FOR_SIMD
        for (q = 0; q < (long)n; q++) { const float v = a[q] + b[q]; y[q] = v > 0.0f ? v : 0.0f; }
    } else {
        PARALLEL_FOR_SIMD
        for (q = 0; q < (long)n; q++) y[q] = a[q] + b[q];
    }
}

/* residual add's backward hands g to both inputs, g = dy, or with a fused
   ReLU (y its output, else NULL) dy where y > 0; a first write stores
   (plan_backward), later ones add */
static void add_backward(float *restrict da, int acc_a, float *restrict db, int acc_b,
                         const float *restrict dy, const float *restrict y, size_t n)
{
    const int par = n >= PAR_MIN;
    long q;
    (void)par;
    float *restrict st = acc_a ? db : da, *restrict ad = acc_a ? da : db; /* (one stores) */
    /* one loop per case, so that each vectorizes and a store does not read
       the old value: two loops with `acc ? old + g : g` selects measured 4x
       slower (72 against 17 ms per 1000 images, res18, 1 thread) */
#define ADD_BWD(G, BODY) do { \
        PARALLEL_FOR_SIMD \
        for (q = 0; q < (long)n; q++) { const float d = dy[q], g = (G); BODY; } \
    } while (0)
    if (y && acc_a && acc_b) ADD_BWD(y[q] > 0.0f ? d : 0.0f, da[q] += g; db[q] += g);
    else if (y && (acc_a || acc_b)) ADD_BWD(y[q] > 0.0f ? d : 0.0f, st[q] = g; ad[q] += g);
    else if (y) ADD_BWD(y[q] > 0.0f ? d : 0.0f, da[q] = g; db[q] = g);
    else if (acc_a && acc_b) ADD_BWD(d, da[q] += g; db[q] += g);
    else if (acc_a || acc_b) ADD_BWD(d, st[q] = g; ad[q] += g);
    else ADD_BWD(d, da[q] = g; db[q] = g);
#undef ADD_BWD
}

/* global average pooling: y (n x c) = the mean of each image's hw pixels */
static void gap_forward(float *y, const float *x, size_t n, size_t hw, size_t c)
{
    size_t b, p, j;
    for (b = 0; b < n; b++) {
        for (j = 0; j < c; j++) y[b * c + j] = 0.0f;
        for (p = 0; p < hw; p++)
            for (j = 0; j < c; j++) y[b * c + j] += x[(b * hw + p) * c + j];
        for (j = 0; j < c; j++) y[b * c + j] /= (float)hw;
    }
}

static void gap_backward(float *dx, int acc, const float *dy, size_t n, size_t hw, size_t c)
{
    size_t b, p, j;
    for (b = 0; b < n; b++)
        for (p = 0; p < hw; p++)
            for (j = 0; j < c; j++) {
                const float v = dy[b * c + j] / (float)hw;
                dx[(b * hw + p) * c + j] = acc ? dx[(b * hw + p) * c + j] + v : v;
            }
}

/* channel shuffle: c = g x (c/g) viewed as (c/g) x g; out channel
   j*g + i = in channel i*(c/g) + j */
static void shuffle_forward(float *y, const float *x, size_t rows, size_t c, size_t g)
{
    const size_t cg = c / g;
    size_t r, i, j;
    for (r = 0; r < rows; r++)
        for (i = 0; i < g; i++)
            for (j = 0; j < cg; j++) y[r * c + j * g + i] = x[r * c + i * cg + j];
}

static void shuffle_backward(float *dx, int acc, const float *dy, size_t rows, size_t c, size_t g)
{
    const size_t cg = c / g;
    size_t r, i, j;
    for (r = 0; r < rows; r++)
        for (i = 0; i < g; i++)
            for (j = 0; j < cg; j++) {
                const float v = dy[r * c + j * g + i];
                dx[r * c + i * cg + j] = acc ? dx[r * c + i * cg + j] + v : v;
            }
}

static void check(hr_status s, const char *what)
{
    if (s != HR_OK) die_hr(what, s);
}

/* ---- the passes ------------------------------------------------------------------ */

#define ACT(i) (m->acts + m->t[i].off)
#define DACT(i) (m->dacts + m->t[i].off)
#define ROWS(i) (n * m->t[i].h * m->t[i].w)

const float *net_forward(net *m, const float *x, size_t n, int train)
{
    int i;
    memcpy(ACT(0), x, n * m->h * m->w * 3 * sizeof(float));
    for (i = 0; i < m->nops; i++) {
        op *o = &m->ops[i];
        float *y = ACT(o->out);
        const float *in = ACT(o->in);
        const size_t c = m->t[o->in].c, rows = ROWS(o->in), len = rows * c;
        const int par = len >= PAR_MIN;
        const double t0 = m->profile ? now_s() : 0.0;
        (void)par;
        switch (o->kind) {
        case OP_CONV:
            o->cd.n = n;
            check(hr_conv2d_forward(&o->cd, y, in, m->params + o->w, NULL), "hr_conv2d_forward");
            break;
        case OP_BN:
            bn_forward(y, o->relu, m->bn_save + o->save, m->state + o->stat, in, m->params + o->w,
                       m->params + o->b, rows, c, train, m->bn_tmp);
            break;
        case OP_RELU: relu_forward(y, in, len); break;
        case OP_ADD: add_forward(y, o->relu, in, ACT(o->in2), len); break;
        case OP_SHUFFLE: shuffle_forward(y, in, rows, c, o->groups); break;
        case OP_GAP: gap_forward(y, in, n, m->t[o->in].h * m->t[o->in].w, c); break;
        case OP_FC:
            check(hr_fc_forward(y, in, m->params + o->w, m->params + o->b, n, c, m->t[o->out].c),
                  "hr_fc_forward");
            break;
        default: break;
        }
        if (m->profile) { const double d = now_s() - t0; m->prof[o->kind] += d; m->prof_op[i][0] += d; }
    }
    return ACT(m->ops[m->nops - 1].out);
}

void net_backward(net *m, const float *demb, size_t n)
{
    int i;
    const int last = m->ops[m->nops - 1].out;
    double t0 = m->profile ? now_s() : 0.0;
    if (m->zero_dacts) memset(m->dacts, 0, m->nacts * sizeof(float));
    if (m->profile) m->prof[2 * OP_KINDS + 1] += now_s() - t0;
    memcpy(DACT(last), demb, n * m->emb * sizeof(float));
    for (i = m->nops - 1; i >= 0; i--) {
        const op *o = &m->ops[i];
        const float *dy = DACT(o->out), *y = ACT(o->out), *in = ACT(o->in);
        float *dx = DACT(o->in);
        const size_t c = m->t[o->in].c, rows = ROWS(o->in), len = rows * c;
        const int par = len >= PAR_MIN, acc = o->first_in == 0 || m->zero_dacts;
        (void)par;
        t0 = m->profile ? now_s() : 0.0;
        if (!acc && (o->kind == OP_CONV || o->kind == OP_FC) && o->in != 0) {
            memset(dx, 0, len * sizeof(float)); /* these only add */
            if (m->profile) {
                const double d = now_s() - t0;
                m->prof[2 * OP_KINDS + 1] += d; t0 = now_s();
            }
        }
        switch (o->kind) {
        case OP_CONV:
            check(hr_conv2d_backward_weight(&o->cd, m->grads + o->w, NULL, dy, in),
                  "hr_conv2d_backward_weight");
            if (m->profile) {
                const double d = now_s() - t0;
                m->prof[2 * OP_KINDS] += d; m->prof_op[i][2] += d; t0 = now_s();
            }
            if (o->in != 0) /* no gradient for the images */
                check(hr_conv2d_backward_data(&o->cd, dx, dy, m->params + o->w),
                      "hr_conv2d_backward_data");
            break;
        case OP_BN:
            bn_backward(dx, acc, m->grads + o->w, m->grads + o->b, dy, o->relu ? y : NULL, in,
                        m->bn_save + o->save, m->params + o->w, rows, c, m->bn_tmp);
            break;
        case OP_RELU: relu_backward(dx, acc, y, dy, len); break;
        case OP_ADD:
            add_backward(dx, acc, DACT(o->in2), o->first_in2 == 0 || m->zero_dacts, dy, o->relu ? y : NULL, len);
            break;
        case OP_SHUFFLE: shuffle_backward(dx, acc, dy, rows, c, o->groups); break;
        case OP_GAP: gap_backward(dx, acc, dy, n, m->t[o->in].h * m->t[o->in].w, c); break;
        case OP_FC:
            check(hr_fc_backward(dx, m->grads + o->w, m->grads + o->b, dy, in, m->params + o->w,
                                 n, c, m->t[o->out].c),
                  "hr_fc_backward");
            break;
        default: break;
        }
        if (m->profile) { const double d = now_s() - t0; m->prof[OP_KINDS + o->kind] += d; m->prof_op[i][1] += d; }
    }
}

/* (output position, kernel offset) pairs of one dimension whose input lies
   inside the image: the taps a convolution computes (padding is skipped) */
static size_t taps_inside(size_t out, size_t k, size_t stride, size_t pad, size_t in)
{
    size_t o, t, n = 0;
    if (!k) k = 1;
    if (!stride) stride = 1;
    for (o = 0; o < out; o++)
        for (t = 0; t < k; t++) {
            const size_t i = o * stride + t; /* input position + pad */
            n += i >= pad && i - pad < in;
        }
    return n;
}

/* --profile: where a step's time goes, per layer kind */
void net_profile_print(const net *m, size_t images)
{
    static const char *KIND[OP_KINDS] = {"conv", "bn", "relu", "add", "shuffle", "gap", "fc"};
    double total = 0;
    int k;
    for (k = 0; k < NET_PROF; k++) total += m->prof[k];
    fprintf(stderr, "profile (ms per 1000 images; %% of the network's time):\n");
#define ROW(name, v) fprintf(stderr, "  %-26s %9.1f %5.1f%%\n", name, 1e6 * (v) / (double)images, \
                             100.0 * (v) / (total > 0 ? total : 1))
    for (k = 0; k < OP_KINDS; k++) {
        char b[40];
        if (m->prof[k] == 0 && m->prof[OP_KINDS + k] == 0) continue;
        snprintf(b, sizeof b, "%s forward", KIND[k]); ROW(b, m->prof[k]);
        snprintf(b, sizeof b, "%s backward%s", KIND[k], k == OP_CONV ? " data" : ""); ROW(b, m->prof[OP_KINDS + k]);
        if (k == OP_CONV) ROW("conv backward weight", m->prof[2 * OP_KINDS]);
    }
    ROW("zeroing the gradients", m->prof[2 * OP_KINDS + 1]);
#undef ROW
    fprintf(stderr, "  per convolution: GFLOP/s forward, backward data, backward weight "
                    "(taps inside the image)\n");
    for (k = 0; k < m->nops; k++) {
        const op *o = &m->ops[k];
        const hr_conv2d *c = &o->cd;
        size_t oh, ow;
        double f;
        if (o->kind != OP_CONV || hr_conv2d_out_size(c, &oh, &ow) != HR_OK) continue;
        f = 2.0 * (double)images * (double)(c->c_out * (c->c_in / (c->groups ? c->groups : 1))) *
            (double)taps_inside(oh, c->kh, c->stride_h, c->pad_h, c->h) *
            (double)taps_inside(ow, c->kw, c->stride_w, c->pad_w, c->w);
        fprintf(stderr, "  %2zux%-2zu %4zu->%-4zu /%zu g%-4zu %3zux%-3zu %7.1f %7.1f %7.1f\n", c->kh, c->kw,
                c->c_in, c->c_out, c->stride_h, c->groups, c->h, c->w,
                m->prof_op[k][0] > 0 ? 1e-9 * f / m->prof_op[k][0] : 0.0,
                o->in != 0 && m->prof_op[k][1] > 0 ? 1e-9 * f / m->prof_op[k][1] : 0.0, /* 0: not run */
                m->prof_op[k][2] > 0 ? 1e-9 * f / m->prof_op[k][2] : 0.0);
    }
}
