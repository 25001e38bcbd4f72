/* tests/test_isa_race.c - hr_set_isa() from another thread while calls run.

   Every public call reads the ISA's kernel table once and uses it for the
   whole call (its plan, its buffers, its kernels). Before that rule, conv
   and the heads read it several times per call: a toggle in between
   planned one ISA's tiles and ran another's kernels into them (an ASan
   heap-use-after-free write in hr_conv2d_forward). Here one thread toggles
   the ISA over every supported path as fast as it can while the other runs
   GEMM, FC, im2col and depthwise convolution (all three passes), the heads
   and the difficulty. Each path is deterministic, so every result must be
   bitwise the result of ONE path, computed beforehand with that path
   forced: a call that mixed two paths matches none (or writes out of
   bounds, which ASan reports under make test-asan; the choice itself is an
   atomic, which TSan checks under make test-tsan). */
#include "harness.h"
#include "hardreid.h"

enum { RACE_OUTS = 9 };

typedef struct race_case {
    /* inputs */
    float *x, *w, *dy, *xd, *wd, *dyd, *hx, *hw, *a, *b, *wdiff;
    int32_t *labels;
    hr_conv2d cv, dw;
    size_t ysz, xsz, wsz, yd, xdsz, wdsz, hb, hd, hc, m, n, k, nd, dd;
    /* outputs, one set per call of run_all */
    float *out[RACE_OUTS];
    size_t len[RACE_OUTS];
} race_case;

static float *race_fill(size_t n, uint64_t *s) {
    float *p = (float *)hr_t_alloc(n * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = hr_t_unif(s);
    return p;
}

static void race_setup(race_case *rc) {
    uint64_t s = 77;
    size_t oh, ow, i;
    memset(rc, 0, sizeof *rc);
    /* 3x3 pad 1 stride 2 on 2 x 13 x 11 x 12 -> 10 channels, 2 groups: im2col
       in several chunks, the strided backward data (no flipped kernel) */
    rc->cv.n = 2; rc->cv.h = 13; rc->cv.w = 11; rc->cv.c_in = 12; rc->cv.c_out = 10;
    rc->cv.kh = 3; rc->cv.kw = 3; rc->cv.pad_h = 1; rc->cv.pad_w = 1;
    rc->cv.stride_h = 2; rc->cv.stride_w = 2; rc->cv.groups = 2;
    cr_assert_eq(hr_conv2d_out_size(&rc->cv, &oh, &ow), HR_OK, "conv shape");
    rc->xsz = 2 * 13 * 11 * 12;
    rc->ysz = 2 * oh * ow * 10;
    rc->wsz = 10 * 3 * 3 * 6;
    /* depthwise 3x3 stride 1 pad 1, 37 channels: vector body and tail */
    rc->dw.n = 2; rc->dw.h = 9; rc->dw.w = 7; rc->dw.c_in = 37; rc->dw.c_out = 37;
    rc->dw.kh = 3; rc->dw.kw = 3; rc->dw.pad_h = 1; rc->dw.pad_w = 1; rc->dw.groups = 37;
    rc->xdsz = rc->yd = 2 * 9 * 7 * 37;
    rc->wdsz = 37 * 9;
    rc->hb = 19; rc->hd = 45; rc->hc = 83;
    rc->m = 71; rc->n = 53; rc->k = 97;
    rc->nd = 301; rc->dd = 35;
    rc->x = race_fill(rc->xsz, &s);
    rc->w = race_fill(rc->wsz, &s);
    rc->dy = race_fill(rc->ysz, &s);
    rc->xd = race_fill(rc->xdsz, &s);
    rc->wd = race_fill(rc->wdsz, &s);
    rc->dyd = race_fill(rc->yd, &s);
    rc->hx = race_fill(rc->hb * rc->hd, &s);
    rc->hw = race_fill(rc->hc * rc->hd, &s);
    rc->a = race_fill(rc->m * rc->k, &s);
    rc->b = race_fill(rc->k * rc->n, &s);
    rc->wdiff = race_fill(rc->nd * rc->dd, &s);
    rc->labels = (int32_t *)hr_t_alloc(rc->hb * sizeof(int32_t));
    for (i = 0; i < rc->hb; i++) rc->labels[i] = (int32_t)hr_t_below(&s, rc->hc);
    rc->len[0] = rc->ysz;           /* conv forward          */
    rc->len[1] = rc->xsz;           /* conv backward data    */
    rc->len[2] = rc->wsz;           /* conv backward weight  */
    rc->len[3] = rc->yd;            /* depthwise forward     */
    rc->len[4] = rc->wdsz;          /* depthwise weight      */
    rc->len[5] = rc->hb * rc->hd;   /* head dx               */
    rc->len[6] = rc->hc * rc->hd;   /* head dw               */
    rc->len[7] = rc->m * rc->n;     /* gemm                  */
    rc->len[8] = rc->nd;            /* difficulty            */
}

/* One run of every call into outs (len[i] floats each). */
static hr_status race_run_all(const race_case *rc, float **outs) {
    hr_head h = hr_head_default(HR_HEAD_COSFACE);
    float loss;
    int32_t *nearest = (int32_t *)hr_t_alloc(rc->nd * sizeof(int32_t));
    hr_status s;
    int i;
    for (i = 0; i < RACE_OUTS; i++) memset(outs[i], 0, rc->len[i] * sizeof(float));
    h.s = 16.0f;
    if ((s = hr_conv2d_forward(&rc->cv, outs[0], rc->x, rc->w, NULL)) != HR_OK) goto out;
    if ((s = hr_conv2d_backward_data(&rc->cv, outs[1], rc->dy, rc->w)) != HR_OK) goto out;
    if ((s = hr_conv2d_backward_weight(&rc->cv, outs[2], NULL, rc->dy, rc->x)) != HR_OK) goto out;
    if ((s = hr_conv2d_forward(&rc->dw, outs[3], rc->xd, rc->wd, NULL)) != HR_OK) goto out;
    if ((s = hr_conv2d_backward_weight(&rc->dw, outs[4], NULL, rc->dyd, rc->xd)) != HR_OK)
        goto out;
    if ((s = hr_head_loss(&h, &loss, NULL, outs[5], outs[6], rc->hx, rc->hw, rc->labels,
                          rc->hb, rc->hd, rc->hc)) != HR_OK)
        goto out;
    if ((s = hr_gemm(HR_NO_TRANS, HR_NO_TRANS, rc->m, rc->n, rc->k, 1.0f, rc->a, rc->k, rc->b,
                     rc->n, 0.0f, outs[7], rc->n)) != HR_OK)
        goto out;
    s = hr_difficulty(outs[8], nearest, rc->wdiff, rc->nd, rc->dd, rc->dd, 0);
out:
    free(nearest);
    return s;
}

static int race_same(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

Test(isa_race, set_isa_during_calls, .timeout = 120) {
    race_case rc;
    float *ref[HR_ISA_COUNT][RACE_OUTS];
    hr_isa paths[HR_ISA_COUNT];
    int npaths = 0, k, i;
    int done = 0, bad = 0, failed = 0, toggles = 0;
    (void)done; /* the toggler's stop flag: unused without OpenMP */
#ifdef HR_TEST_QUICK
    const int rounds = 20; /* qemu */
#else
    const int rounds = 200;
#endif
    race_setup(&rc);
    memset(ref, 0, sizeof ref);
    for (k = HR_ISA_SCALAR; k < HR_ISA_COUNT; k++) {
        if (!hr_isa_supported((hr_isa)k)) continue;
        cr_assert_eq(hr_set_isa((hr_isa)k), HR_OK, "set %s", hr_isa_name((hr_isa)k));
        for (i = 0; i < RACE_OUTS; i++) ref[npaths][i] = (float *)hr_t_alloc(rc.len[i] * sizeof(float));
        cr_assert_eq(race_run_all(&rc, ref[npaths]), HR_OK, "reference run on %s",
                     hr_isa_name((hr_isa)k));
        paths[npaths++] = (hr_isa)k;
    }
    for (i = 0; i < RACE_OUTS; i++) rc.out[i] = (float *)hr_t_alloc(rc.len[i] * sizeof(float));
    hr_t_log("isa_race: %d paths, %d rounds of 9 calls against a toggling thread", npaths,
             rounds);
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
    {
        if (omp_get_thread_num() == 1 || omp_get_num_threads() == 1) {
            /* the caller (alone, if no second thread was granted) */
            int r, j, q;
            for (r = 0; r < rounds; r++) {
                if (race_run_all(&rc, rc.out) != HR_OK) {
                    __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
                    break;
                }
                for (j = 0; j < RACE_OUTS; j++) {
                    int hit = 0;
                    for (q = 0; q < npaths; q++) hit |= race_same(rc.out[j], ref[q][j], rc.len[j]);
                    if (!hit) __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
                }
            }
            __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
        } else { /* the toggler */
            int q = 0;
            while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
                (void)hr_set_isa(paths[q]);
                q = (q + 1) % npaths;
                toggles++;
            }
        }
    }
#else
    {
        int r, j, q;
        for (r = 0; r < rounds; r++) {
            (void)hr_set_isa(paths[r % npaths]);
            cr_assert_eq(race_run_all(&rc, rc.out), HR_OK, "round %d", r);
            for (j = 0; j < RACE_OUTS; j++) {
                int hit = 0;
                for (q = 0; q < npaths; q++) hit |= race_same(rc.out[j], ref[q][j], rc.len[j]);
                bad += !hit;
            }
        }
    }
#endif
    hr_t_log("isa_race: %d toggles during the calls", toggles);
    cr_assert_eq(failed, 0, "a call failed while the ISA was toggled");
    cr_assert_eq(bad, 0, "%d results matched no single path's result", bad);
    cr_assert_eq(hr_set_isa(HR_ISA_AUTO), HR_OK, "restore AUTO");
    for (k = 0; k < npaths; k++)
        for (i = 0; i < RACE_OUTS; i++) free(ref[k][i]);
    for (i = 0; i < RACE_OUTS; i++) free(rc.out[i]);
    free(rc.x); free(rc.w); free(rc.dy); free(rc.xd); free(rc.wd); free(rc.dyd);
    free(rc.hx); free(rc.hw); free(rc.a); free(rc.b); free(rc.wdiff); free(rc.labels);
}
