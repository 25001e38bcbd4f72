/* data.c - the embedded re-ID data set: procedural "people" seen by several
   cameras, generated from a seed; and (rd_load_market, in market.c) the
   Market-1501 directory layout.

   A person is a handful of parameters: skin, hair, a top (plain, striped,
   two-tone or banded; long or short sleeves), trousers or shorts, shoes,
   proportions and one accessory (backpack, shoulder bag, hat). Colours come
   from small palettes, so many people share the coarse look (as in the real
   data: dark trousers, white or blue tops) and differ in details. A share of
   identities gets a near twin: a copy with ONE small detail changed.
   Each camera has its own background, colour cast, blur and noise; each
   image its own pose (shift, scale, lean, stride), view (front or back),
   lighting and maybe an occluder. Rendered at 2x and box-filtered down. */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rd_config rd_default_config(void)
{
    rd_config c;
    memset(&c, 0, sizeof c);
    c.seed = 1;
    c.ids_train = 200;
    c.ids_test = 200;
    c.imgs_per_id = 16;
    c.cams = 4;
    c.distractors = 200;
    c.junk = 20;
    c.twins = 0.3f;
    c.h = 32;
    c.w = 16;
    return c;
}

uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
    return h;
}

uint64_t rd_hash(const rd_set *s, uint64_t h)
{
    h = fnv1a(&s->n, sizeof s->n, h);
    h = fnv1a(s->img, s->n * s->h * s->w * 3 * sizeof(float), h);
    h = fnv1a(s->pid, s->n * sizeof(int32_t), h);
    return fnv1a(s->cam, s->n * sizeof(int32_t), h);
}

/* ---- random numbers: hr_rng, floats from the top 24 bits ----------------- */
static float urand(hr_rng *r) { return (float)(hr_rng_next(r) >> 40) * (1.0f / 16777216.0f); }
static float uniform(hr_rng *r, float a, float b) { return a + (b - a) * urand(r); }
static int below(hr_rng *r, int n) { return (int)hr_rng_below(r, (uint32_t)n); }

/* ---- people ------------------------------------------------------------- */

typedef struct person {
    float skin[3], hair[3], top[3], top2[3], bottom[3], shoes[3], acc[3];
    int pattern;      /* 0 plain, 1 horizontal stripes, 2 two-tone (left/right), 3 chest band */
    int short_sleeves, shorts, long_hair;
    int acc_kind;     /* 0 none, 1 backpack, 2 shoulder bag, 3 hat */
    float height, width, torso, stripe;  /* proportions; stripe period */
} person;

static const float TOPS[][3] = {
    {0.92f, 0.92f, 0.92f}, {0.10f, 0.10f, 0.12f}, {0.15f, 0.25f, 0.60f},
    {0.75f, 0.12f, 0.12f}, {0.20f, 0.55f, 0.25f}, {0.90f, 0.80f, 0.20f},
    {0.55f, 0.55f, 0.58f}, {0.45f, 0.20f, 0.55f}, {0.95f, 0.55f, 0.15f},
    {0.55f, 0.75f, 0.90f}, {0.90f, 0.60f, 0.70f}, {0.40f, 0.28f, 0.18f}};
static const float BOTTOMS[][3] = {
    {0.08f, 0.08f, 0.10f}, {0.15f, 0.20f, 0.40f}, {0.35f, 0.45f, 0.65f},
    {0.50f, 0.48f, 0.45f}, {0.70f, 0.62f, 0.45f}, {0.85f, 0.85f, 0.85f}};
static const float SKINS[][3] = {
    {0.95f, 0.80f, 0.68f}, {0.85f, 0.65f, 0.50f}, {0.62f, 0.45f, 0.32f}, {0.40f, 0.28f, 0.20f}};
static const float HAIRS[][3] = {
    {0.05f, 0.04f, 0.04f}, {0.30f, 0.18f, 0.10f}, {0.75f, 0.60f, 0.30f}, {0.60f, 0.60f, 0.60f}};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void pick(float *dst, const float (*pal)[3], size_t n, hr_rng *r, float jitter)
{
    const float *c = pal[below(r, (int)n)];
    int k;
    for (k = 0; k < 3; k++) {
        float v = c[k] + uniform(r, -jitter, jitter);
        dst[k] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
}

static void random_person(person *p, hr_rng *r)
{
    memset(p, 0, sizeof *p);
    pick(p->skin, SKINS, NELEM(SKINS), r, 0.03f);
    pick(p->hair, HAIRS, NELEM(HAIRS), r, 0.03f);
    pick(p->top, TOPS, NELEM(TOPS), r, 0.05f);
    pick(p->top2, TOPS, NELEM(TOPS), r, 0.05f);
    pick(p->bottom, BOTTOMS, NELEM(BOTTOMS), r, 0.04f);
    pick(p->shoes, BOTTOMS, NELEM(BOTTOMS), r, 0.04f);
    pick(p->acc, TOPS, NELEM(TOPS), r, 0.05f);
    p->pattern = urand(r) < 0.5f ? 0 : 1 + below(r, 3);
    p->short_sleeves = urand(r) < 0.4f;
    p->shorts = urand(r) < 0.25f;
    p->long_hair = urand(r) < 0.35f;
    p->acc_kind = urand(r) < 0.4f ? 0 : 1 + below(r, 3);
    p->height = uniform(r, 0.80f, 0.95f);
    p->width = uniform(r, 0.26f, 0.40f);
    p->torso = uniform(r, 0.30f, 0.38f);
    p->stripe = uniform(r, 0.05f, 0.09f);
}

/* A near twin: the same person with one small detail changed. */
static void make_twin(person *t, const person *p, hr_rng *r)
{
    *t = *p;
    switch (below(r, 5)) {
    case 0: pick(t->shoes, TOPS, NELEM(TOPS), r, 0.05f); break;
    case 1: t->acc_kind = t->acc_kind ? 0 : 1 + below(r, 3); break;
    case 2: t->pattern = t->pattern ? 0 : 1 + below(r, 3); pick(t->top2, TOPS, NELEM(TOPS), r, 0.05f); break;
    case 3: t->short_sleeves = !t->short_sleeves; break;
    default: pick(t->hair, HAIRS, NELEM(HAIRS), r, 0.03f); t->long_hair = !t->long_hair; break;
    }
}

/* ---- cameras and images --------------------------------------------------- */

typedef struct camera {
    float bg[3], bg2[3];   /* background: two colours, a horizontal split   */
    float gain[3];         /* colour cast                                   */
    float bright, noise;   /* brightness, noise amplitude                   */
    int blur;              /* 0 or 1: a 3x3 box blur                        */
    float split;           /* where the floor starts                        */
} camera;

static void random_camera(camera *c, hr_rng *r)
{
    int k;
    for (k = 0; k < 3; k++) {
        c->bg[k] = uniform(r, 0.3f, 0.8f);
        c->bg2[k] = uniform(r, 0.2f, 0.6f);
        c->gain[k] = uniform(r, 0.88f, 1.12f);
    }
    c->bright = uniform(r, 0.75f, 1.15f);
    c->noise = uniform(r, 0.02f, 0.08f);
    c->blur = urand(r) < 0.5f;
    c->split = uniform(r, 0.55f, 0.8f);
}

/* Per-image pose and conditions. */
typedef struct view {
    float dx, dy, scale, lean, stride, light;
    int back, flip;
    int occ; float ox0, ox1, oy0, oy1, occ_col[3];
} view;

static void random_view(view *v, hr_rng *r)
{
    int k;
    v->dx = uniform(r, -0.10f, 0.10f);
    v->dy = uniform(r, -0.04f, 0.04f);
    v->scale = uniform(r, 0.88f, 1.08f);
    v->lean = uniform(r, -0.08f, 0.08f);
    v->stride = uniform(r, 0.0f, 0.10f);
    v->light = uniform(r, 0.8f, 1.2f);
    v->back = urand(r) < 0.5f;
    v->flip = urand(r) < 0.5f;
    v->occ = urand(r) < 0.2f;
    if (v->occ) { /* a block from the bottom or from one side */
        if (urand(r) < 0.5f) {
            v->ox0 = -1.0f; v->ox1 = 2.0f; v->oy0 = uniform(r, 0.6f, 0.85f); v->oy1 = 2.0f;
        } else {
            float wdt = uniform(r, 0.25f, 0.45f);
            int left = urand(r) < 0.5f;
            v->ox0 = left ? -1.0f : 1.0f - wdt; v->ox1 = left ? wdt : 2.0f;
            v->oy0 = uniform(r, 0.0f, 0.4f); v->oy1 = 2.0f;
        }
        for (k = 0; k < 3; k++) v->occ_col[k] = uniform(r, 0.1f, 0.9f);
    }
}

/* Colour of the person at (u, v): u across (0 = centre, image widths),
   v down (0 = top of the head, 1 = the soles). NULL: background. */
static const float *person_at(const person *p, const view *vw, float u, float v, float *tmp)
{
    const float hw = 0.5f * p->width, t0 = 0.17f, t1 = t0 + p->torso;
    float au;
    if (v < 0.0f || v > 1.0f) return NULL;
    u -= vw->lean * (v - 0.5f);
    if (vw->flip) u = -u;
    au = fabsf(u);
    /* head (and a hat on it) */
    if (v < t0) {
        float hu = u / 0.11f, hv = (v - 0.085f) / 0.085f;
        if (p->acc_kind == 3 && v < 0.045f && au < 0.13f) return p->acc;
        if (hu * hu + hv * hv <= 1.0f) {
            if (v < 0.05f || vw->back || (p->long_hair && au > 0.07f)) return p->hair;
            return p->skin;
        }
        if (p->long_hair && v > 0.05f && v < t0 + 0.04f && au < 0.12f) return p->hair;
        return NULL;
    }
    /* shoulder bag at the hip on the wearer's right */
    if (p->acc_kind == 2 && v > t1 - 0.10f && v < t1 + 0.02f && u > hw - 0.02f && u < hw + 0.09f)
        return p->acc;
    if (v < t1) {
        if (au <= hw) {
            if (p->acc_kind == 1) { /* backpack: a block from behind, straps from the front */
                if (vw->back && au < hw - 0.03f && v < t1 - 0.04f) return p->acc;
                if (!vw->back && fabsf(au - 0.5f * hw) < 0.025f) return p->acc;
            }
            switch (p->pattern) {
            case 1: return fmodf(v - t0, 2.0f * p->stripe) < p->stripe ? p->top : p->top2;
            case 2: return u < 0.0f ? p->top : p->top2;
            case 3: return fabsf(v - (t0 + 0.35f * p->torso)) < 0.035f ? p->top2 : p->top;
            default: return p->top;
            }
        }
        if (au <= hw + 0.08f && v < t1 - 0.02f) /* arms */
            return (p->short_sleeves && v > t0 + 0.10f) ? p->skin : p->top;
        return NULL;
    }
    /* legs: two, spread by the stride */
    {
        float spread = 0.03f + vw->stride * (v - t1) / (1.0f - t1);
        float lw = 0.42f * hw;
        if (au >= spread && au <= spread + lw) {
            if (v > 0.955f) return p->shoes;
            if (p->shorts && v > t1 + 0.45f * (1.0f - t1)) return p->skin;
            return p->bottom;
        }
    }
    (void)tmp;
    return NULL;
}

/* Render one image (h x w x 3, normalized) of person p through camera c. */
static void render(float *out, size_t h, size_t w, const person *p, const camera *c,
                   const view *vw, hr_rng *r, float *scratch)
{
    const size_t H = 2 * h, W = 2 * w; /* supersampled */
    const float ph = p->height * vw->scale; /* person height in image heights */
    const float top = 0.5f - 0.5f * ph + vw->dy;
    const float aspect = (float)w / (float)h; /* an image width in heights */
    size_t y, x, k;
    float tmp[3];
    for (y = 0; y < H; y++) {
        const float fy = ((float)y + 0.5f) / (float)H;
        for (x = 0; x < W; x++) {
            const float fx = ((float)x + 0.5f) / (float)W;
            const float v = (fy - top) / ph;
            const float u = (fx - 0.5f - vw->dx) * aspect / ph * 1.25f;
            const float *col = person_at(p, vw, u, v, tmp);
            float *o = scratch + (y * W + x) * 3;
            if (vw->occ && fx >= vw->ox0 && fx < vw->ox1 && fy >= vw->oy0 && fy < vw->oy1)
                col = vw->occ_col;
            if (col) {
                for (k = 0; k < 3; k++) o[k] = col[k];
            } else {
                const float *b = fy < c->split ? c->bg : c->bg2;
                const float g = 0.85f + 0.3f * fx; /* a little gradient */
                for (k = 0; k < 3; k++) o[k] = b[k] * g;
            }
        }
    }
    /* box filter 2x2 down, optional 3x3 blur, light, cast, noise */
    {
        float *small = scratch + H * W * 3;
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++)
                for (k = 0; k < 3; k++) {
                    const float *s0 = scratch + ((2 * y) * W + 2 * x) * 3 + k;
                    small[(y * w + x) * 3 + k] = 0.25f * (s0[0] + s0[3] + s0[W * 3] + s0[W * 3 + 3]);
                }
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++)
                for (k = 0; k < 3; k++) {
                    float s = 0.0f;
                    if (c->blur) {
                        int dy, dx, cnt = 0;
                        for (dy = -1; dy <= 1; dy++)
                            for (dx = -1; dx <= 1; dx++) {
                                long yy = (long)y + dy, xx = (long)x + dx;
                                if (yy < 0 || xx < 0 || yy >= (long)h || xx >= (long)w) continue;
                                s += small[((size_t)yy * w + (size_t)xx) * 3 + k] * (dy == 0 && dx == 0 ? 4.0f : 1.0f);
                                cnt += dy == 0 && dx == 0 ? 4 : 1;
                            }
                        s /= (float)cnt;
                    } else {
                        s = small[(y * w + x) * 3 + k];
                    }
                    s = s * c->gain[k] * c->bright * vw->light;
                    s += c->noise * (urand(r) + urand(r) + urand(r) - 1.5f);
                    s = s < 0.0f ? 0.0f : s > 1.0f ? 1.0f : s;
                    out[(y * w + x) * 3 + k] = (s - 0.45f) / 0.25f;
                }
    }
}

/* ---- the data set ----------------------------------------------------------- */

static int set_alloc(rd_set *s, size_t n, size_t h, size_t w)
{
    s->n = 0; s->h = h; s->w = w;
    s->img = (float *)malloc((n ? n : 1) * h * w * 3 * sizeof(float));
    s->pid = (int32_t *)malloc((n ? n : 1) * sizeof(int32_t));
    s->cam = (int32_t *)malloc((n ? n : 1) * sizeof(int32_t));
    return s->img && s->pid && s->cam ? 0 : -1;
}

void rd_free(rd_data *d)
{
    rd_set *s[3];
    int i;
    s[0] = &d->train; s[1] = &d->query; s[2] = &d->gallery;
    for (i = 0; i < 3; i++) { free(s[i]->img); free(s[i]->pid); free(s[i]->cam); }
    memset(d, 0, sizeof *d);
}

static void add_image(rd_set *s, const person *p, const camera *cams, int cam, int32_t pid,
                      hr_rng *r, float *scratch)
{
    view vw;
    random_view(&vw, r);
    render(s->img + s->n * s->h * s->w * 3, s->h, s->w, p, &cams[cam], &vw, r, scratch);
    s->pid[s->n] = pid;
    s->cam[s->n] = cam + 1;
    s->n++;
}

/* Which camera each of an identity's images comes from: a random subset of
   at least 2 cameras, images spread over it round-robin. */
static void pick_cams(int *camof, size_t nimg, size_t ncam, hr_rng *r)
{
    int use[64], nuse = 0, c;
    size_t i;
    int want = 2 + below(r, (int)ncam - 1);
    for (c = 0; c < (int)ncam; c++) use[c] = c;
    for (c = (int)ncam - 1; c > 0; c--) { int j = below(r, c + 1), t = use[c]; use[c] = use[j]; use[j] = t; }
    nuse = want;
    for (i = 0; i < nimg; i++) camof[i] = use[i % (size_t)nuse];
}

int rd_generate(rd_data *d, const rd_config *cfg)
{
    const size_t nid = cfg->ids_train + cfg->ids_test, k = cfg->imgs_per_id;
    const size_t ncam = cfg->cams < 2 ? 2 : cfg->cams > 64 ? 64 : cfg->cams;
    person *ps = (person *)malloc((nid + 1) * sizeof(person));
    camera cams[64];
    int *camof = (int *)malloc((k + 1) * sizeof(int));
    float *scratch = (float *)malloc(5 * cfg->h * cfg->w * 3 * sizeof(float));
    hr_rng r;
    size_t i, j;
    memset(d, 0, sizeof *d);
    if (!ps || !camof || !scratch || set_alloc(&d->train, cfg->ids_train * k, cfg->h, cfg->w) ||
        set_alloc(&d->query, cfg->ids_test * ncam, cfg->h, cfg->w) ||
        set_alloc(&d->gallery, cfg->ids_test * k + cfg->distractors + cfg->junk, cfg->h, cfg->w)) {
        fprintf(stderr, "train: out of memory generating the data set\n");
        free(ps); free(camof); free(scratch); rd_free(d);
        return -1;
    }
    hr_rng_seed(&r, cfg->seed ^ 0x5eedda7a5e7ull);
    for (i = 0; i < ncam; i++) random_camera(&cams[i], &r);
    /* people; twins are made in pairs among neighbours in the list, so a
       pair can straddle the train/test split only at its boundary (it then
       is a twin pair across sets, which is harmless) */
    for (i = 0; i < nid; i++) {
        if (i > 0 && urand(&r) < 0.5f * cfg->twins && ps[i - 1].height > 0.0f) {
            make_twin(&ps[i], &ps[i - 1], &r);
            ps[i - 1].height = -ps[i - 1].height; /* mark: no twin chains */
        } else {
            random_person(&ps[i], &r);
        }
    }
    for (i = 0; i < nid; i++) ps[i].height = fabsf(ps[i].height);
    /* shuffle the people so twins do not sit next to each other in ids */
    for (i = nid - 1; i > 0; i--) {
        size_t jj = (size_t)below(&r, (int)i + 1);
        person t = ps[i]; ps[i] = ps[jj]; ps[jj] = t;
    }
    /* train: identities 1..ids_train */
    for (i = 0; i < cfg->ids_train; i++) {
        pick_cams(camof, k, ncam, &r);
        for (j = 0; j < k; j++) add_image(&d->train, &ps[i], cams, camof[j], (int32_t)(i + 1), &r, scratch);
    }
    /* test: one query per identity and camera, the rest to the gallery */
    for (i = cfg->ids_train; i < nid; i++) {
        int seen[64] = {0};
        pick_cams(camof, k, ncam, &r);
        for (j = 0; j < k; j++) {
            rd_set *s = seen[camof[j]]++ ? &d->gallery : &d->query;
            add_image(s, &ps[i], cams, camof[j], (int32_t)(i + 1), &r, scratch);
        }
    }
    for (i = 0; i < cfg->distractors; i++) { /* people seen once, pid 0 */
        person p;
        random_person(&p, &r);
        add_image(&d->gallery, &p, cams, below(&r, (int)ncam), 0, &r, scratch);
    }
    for (i = 0; i < cfg->junk; i++) { /* junk: a test person, mostly occluded */
        person p = ps[cfg->ids_train + (size_t)below(&r, (int)cfg->ids_test)];
        p.height *= 0.4f;
        add_image(&d->gallery, &p, cams, below(&r, (int)ncam), -1, &r, scratch);
    }
    free(ps); free(camof); free(scratch);
    return 0;
}
