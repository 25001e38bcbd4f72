/* train.c - a minimal re-ID trainer that shows hardness-aware sampling at
   work, built on hardreid.h.

   One step: a sampler picks the batch's images (conventionally, P x K, or by
   the identities' difficulties c_i = max_{j != i} cos(w_i, w_j) computed
   from the classifier W with hr_difficulty every R steps), the backbone
   (model.c) maps them to embeddings, a margin head (hr_head_loss) gives the
   loss and the gradients to the embeddings and to W, the backbone's
   backward accumulates the rest, SGD or Adam updates everything.
   Evaluation follows Market-1501: rank-1/5/10 and mAP over queries, gallery
   images of the query's identity seen by the query's camera left out; and
   the same on the hardest tenth of the test identities.

     build/train                         train on the embedded data set
     build/train --compare pk,hardpk     the same run with each sampler, a table
     build/train --help                  every flag
*/
#define _POSIX_C_SOURCE 200112L
#define HARDREID_IMPLEMENTATION
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void die_hr(const char *what, hr_status s)
{
    fprintf(stderr, "train: %s failed: %s\n", what, hr_status_string(s));
    exit(1);
}

/* ---- options ------------------------------------------------------------ */

typedef enum { S_SHUFFLE, S_PK, S_HARD, S_PROP, S_HARDPK, S_UPROP, S_HARDEPOCH, S_COUNT } sampler_kind;
static const char *head_name(hr_head_kind k)
{
    return k == HR_HEAD_SOFTMAX ? "softmax" : k == HR_HEAD_SPHEREFACE ? "sphere" : k == HR_HEAD_COSFACE ? "cos" : "arc";
}

static const char *SAMPLERS[S_COUNT] = {"shuffle", "pk", "hard", "prop", "hardpk", "uniform-prop",
                                        "hardepoch"};
enum { SCHED_COS, SCHED_CONST, SCHED_COUNT };
static const char *SCHEDS[SCHED_COUNT] = {"cos", "const"};

typedef struct opts {
    net_arch arch;
    sampler_kind sampler;
    hr_head head;
    int head_set_s, head_set_m;
    int adam;
    float lr, wd, momentum, warmup;
    int sched; /* SCHED_* */
    size_t steps, stop_at, P, K, emb, refresh, eval_every, hard_nearest, bench;
    hr_weighting weighting;
    float temp, eps;
    uint64_t seed;
    int threads, skip_bad, quiet, profile;
    const char *csv, *save, *resume, *data_dir, *compare, *export_dir;
    const char *init, *save_weights, *dump_step;   /* weights files (weights.c) */
    int export_jpeg;
    rd_config data;
} opts;

static void usage(FILE *f)
{
    fprintf(f,
"usage: train [options]\n"
"  --net res|res18|mobile|shuffle  backbone (res; res18 with --data)\n"
"  --width F  --depth D  --stem-stride S  channels x F (rounded to 8), blocks\n"
"                                per stage, stem stride (1 1 1; res18: 0.25 2 2)\n"
"  --sampler S                   shuffle | pk | hard | prop | hardpk | uniform-prop |\n"
"                                hardepoch (pk)\n"
"      shuffle       conventional loader: shuffled images, B in order\n"
"      pk            P identities uniformly x K images (hr_batch_pk, no table)\n"
"      hard          mode A: K images of the hardest identity (+ K of its nearest\n"
"                    with --nearest 1) + random images (hr_batch_hardest)\n"
"      prop          mode B: identities drawn by difficulty (hr_batch_proportional)\n"
"      hardpk        P x K, identities weighted by difficulty (hr_batch_pk + table)\n"
"      uniform-prop  mode B with equal difficulties: the identity-balanced control\n"
"      hardepoch     every image once per epoch, hard identities' images first:\n"
"                    a weighted permutation (Efraimidis-Spirakis keys); control: shuffle\n"
"  --compare S1,S2,...           run each sampler from the same seed; print a table\n"
"  --refresh R                   recompute difficulties every R steps (1)\n"
"  --weighting linear|shifted|softmax  difficulty -> probability (linear)\n"
"  --temp T  --eps E             softmax temperature (0.1); uniform share (0)\n"
"  --nearest 0|1                 mode A adds the nearest identity's images (1)\n"
"  --head softmax|sphere|cos|arc --s S --m M --ls EPS  margin head (cos, s 16, m 0.2)\n"
"  --opt sgd|adam  --lr LR  --wd WD  --momentum MU  --warmup FRAC\n"
"                                (sgd, lr 0.1 (adam 2e-3), wd 5e-4, 0.9, 0.1;\n"
"                                with --data: adam, lr 4e-3)\n"
"  --sched cos|const             after the linear warmup: cosine decay to 0 or\n"
"                                constant (cos; const with --data)\n"
"  --steps N  --P P  --K K       steps (600, 1000 with --data; 0 with --init:\n"
"                                evaluate only),\n"
"                                identities x images per batch (16 x 4)\n"
"  --stop-at N                   stop after step N (the schedule still spans --steps):\n"
"                                with --save, then --resume, the same run in two parts\n"
"  --emb D                       embedding size (64; 128 with --data)\n"
"  --seed S                      training seed (1): init, sampling, augmentation\n"
"  --threads T                   OpenMP threads (default: as many as the load\n"
"                                leaves idle; results do not depend on it)\n"
"  --eval-every N                evaluate every N steps too (0: at the end)\n"
"  --csv FILE                    per-step log: step,loss,acc,lr,c_mean,c_max,img_s\n"
"  --save FILE  --resume FILE    checkpoint at the end / continue from one\n"
"  --init FILE  --save-weights FILE  weights from / to a weights file (the\n"
"                                PyTorch twin's too: examples/python/hrweights.py)\n"
"  --dump-step FILE              write the first step's batch, loss, weights and\n"
"                                gradients (examples/python/check_step.py reads it)\n"
"  --quiet                       only the final results\n"
"  --profile                     time per layer kind (forward, backward) at the end\n"
"  --bench N                     3 warm-up steps, then N timed: print 'train img/s',\n"
"                                no evaluation (bench/train_torch.sh)\n"
"data (embedded, generated from a seed):\n"
"  --data-seed S (1)  --ids-train N (200)  --ids-test N (200)  --imgs N (16)\n"
"  --cams N (4)  --distractors N (200)  --twins F (0.3)  --size HxW (32x16;\n"
"                                64x32 with --data)\n"
"data (Market-1501 layout instead):\n"
"  --data DIR                    bounding_box_train/, query/, bounding_box_test/\n"
"  --skip-bad                    skip (and count) unreadable or misnamed images\n"
"  --export DIR | --export-jpg DIR  write the embedded data set in that layout\n"
"                                (PNG or JPEG) and exit\n");
}

static int find_name(const char *s, const char *const *names, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static void bad_arg(const char *flag, const char *val)
{
    fprintf(stderr, "train: bad value '%s' for %s (see --help)\n", val ? val : "(missing)", flag);
    exit(2);
}

static double num(const char *flag, const char *v, double lo, double hi)
{
    char *end;
    double x;
    if (!v) bad_arg(flag, v);
    x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi)) bad_arg(flag, v);
    return x;
}

static void parse(opts *o, int argc, char **argv)
{
    static const char *HEADS[] = {"softmax", "sphere", "cos", "arc"};
    static const char *WEIGHTS[] = {"linear", "shifted", "softmax"};
    int i, lr_set = 0, net_set = 0, size_set = 0, opt_set = 0, emb_set = 0, steps_set = 0, sched_set = 0;
    size_t depth = 0, stem = 0;
    memset(o, 0, sizeof *o);
    o->arch.kind = NET_RES;
    o->arch.width = 0.0f; /* 0: the preset's */
    o->sampler = S_PK;
    o->head = hr_head_default(HR_HEAD_COSFACE);
    o->adam = 0;
    o->wd = 5e-4f; o->momentum = 0.9f; o->warmup = 0.1f;
    o->steps = 600; o->P = 16; o->K = 4; o->emb = 64; o->refresh = 1;
    o->hard_nearest = 1;
    o->weighting = HR_WEIGHT_LINEAR; o->temp = 0.1f; o->eps = 0.0f;
    o->seed = 1;
    o->data = rd_default_config();
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k;
#define FLAG(name) (strcmp(a, name) == 0 && (i++, 1))
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); exit(0); }
        else if (strcmp(a, "--skip-bad") == 0) o->skip_bad = 1;
        else if (strcmp(a, "--quiet") == 0) o->quiet = 1;
        else if (strcmp(a, "--profile") == 0) o->profile = 1;
        else if (FLAG("--net")) {
            if ((k = find_name(v ? v : "", NET_NAMES, NET_COUNT)) < 0) bad_arg(a, v);
            o->arch.kind = (net_kind)k; net_set = 1;
        }
        else if (FLAG("--width")) o->arch.width = (float)num(a, v, 1.0 / 64, 64.0);
        else if (FLAG("--depth")) depth = (size_t)num(a, v, 1, 64);
        else if (FLAG("--stem-stride")) stem = (size_t)num(a, v, 1, 4);
        else if (FLAG("--init")) { if (!v) bad_arg(a, v); o->init = v; }
        else if (FLAG("--save-weights")) { if (!v) bad_arg(a, v); o->save_weights = v; }
        else if (FLAG("--dump-step")) { if (!v) bad_arg(a, v); o->dump_step = v; }
        else if (FLAG("--sampler")) { if ((k = find_name(v ? v : "", SAMPLERS, S_COUNT)) < 0) bad_arg(a, v); o->sampler = (sampler_kind)k; }
        else if (FLAG("--compare")) { if (!v) bad_arg(a, v); o->compare = v; }
        else if (FLAG("--head")) {
            static const hr_head_kind K4[] = {HR_HEAD_SOFTMAX, HR_HEAD_SPHEREFACE, HR_HEAD_COSFACE, HR_HEAD_ARCFACE};
            if ((k = find_name(v ? v : "", HEADS, 4)) < 0) bad_arg(a, v);
            o->head = hr_head_default(K4[k]);
        }
        else if (FLAG("--s")) { o->head_set_s = 1; o->head.s = (float)num(a, v, 1e-3, 1e4); }
        else if (FLAG("--m")) { o->head_set_m = 1; o->head.m = (float)num(a, v, -1.0, 16.0); }
        else if (FLAG("--ls")) o->head.label_smoothing = (float)num(a, v, 0.0, 0.99);
        else if (FLAG("--opt")) { if (!v || (strcmp(v, "sgd") && strcmp(v, "adam"))) bad_arg(a, v); o->adam = strcmp(v, "adam") == 0; opt_set = 1; }
        else if (FLAG("--lr")) { o->lr = (float)num(a, v, 0.0, 10.0); lr_set = 1; }
        else if (FLAG("--wd")) o->wd = (float)num(a, v, 0.0, 1.0);
        else if (FLAG("--momentum")) o->momentum = (float)num(a, v, 0.0, 0.9999);
        else if (FLAG("--warmup")) o->warmup = (float)num(a, v, 0.0, 1.0);
        else if (FLAG("--sched")) {
            if ((k = find_name(v ? v : "", SCHEDS, SCHED_COUNT)) < 0) bad_arg(a, v);
            o->sched = k; sched_set = 1;
        }
        else if (FLAG("--steps")) { o->steps = (size_t)num(a, v, 0, 1e9); steps_set = 1; } /* 0: --init only */
        else if (FLAG("--stop-at")) o->stop_at = (size_t)num(a, v, 1, 1e9);
        else if (FLAG("--bench")) o->bench = (size_t)num(a, v, 1, 1e9);
        else if (FLAG("--P")) o->P = (size_t)num(a, v, 1, 4096);
        else if (FLAG("--K")) o->K = (size_t)num(a, v, 1, 4096);
        else if (FLAG("--emb")) { o->emb = (size_t)num(a, v, 2, 4096); emb_set = 1; }
        else if (FLAG("--refresh")) o->refresh = (size_t)num(a, v, 1, 1e9);
        else if (FLAG("--weighting")) { if ((k = find_name(v ? v : "", WEIGHTS, 3)) < 0) bad_arg(a, v); o->weighting = (hr_weighting)k; }
        else if (FLAG("--temp")) o->temp = (float)num(a, v, 1e-6, 1e6);
        else if (FLAG("--eps")) o->eps = (float)num(a, v, 0.0, 1.0);
        else if (FLAG("--nearest")) o->hard_nearest = (size_t)num(a, v, 0, 1);
        else if (FLAG("--seed")) o->seed = (uint64_t)num(a, v, 0, 9007199254740992.0);
        else if (FLAG("--threads")) o->threads = (int)num(a, v, 1, 1024);
        else if (FLAG("--eval-every")) o->eval_every = (size_t)num(a, v, 0, 1e9);
        else if (FLAG("--csv")) { if (!v) bad_arg(a, v); o->csv = v; }
        else if (FLAG("--save")) { if (!v) bad_arg(a, v); o->save = v; }
        else if (FLAG("--resume")) { if (!v) bad_arg(a, v); o->resume = v; }
        else if (FLAG("--data")) { if (!v) bad_arg(a, v); o->data_dir = v; }
        else if (FLAG("--export")) { if (!v) bad_arg(a, v); o->export_dir = v; }
        else if (FLAG("--export-jpg")) { if (!v) bad_arg(a, v); o->export_dir = v; o->export_jpeg = 1; }
        else if (FLAG("--data-seed")) o->data.seed = (uint64_t)num(a, v, 0, 9007199254740992.0);
        else if (FLAG("--ids-train")) o->data.ids_train = (size_t)num(a, v, 2, 1e6);
        else if (FLAG("--ids-test")) o->data.ids_test = (size_t)num(a, v, 2, 1e6);
        else if (FLAG("--imgs")) o->data.imgs_per_id = (size_t)num(a, v, 2, 1e4);
        else if (FLAG("--cams")) o->data.cams = (size_t)num(a, v, 2, 64);
        else if (FLAG("--distractors")) o->data.distractors = (size_t)num(a, v, 0, 1e7);
        else if (FLAG("--twins")) o->data.twins = (float)num(a, v, 0.0, 1.0);
        else if (FLAG("--size")) {
            unsigned hh = 0, ww = 0;
            char extra;
            if (!v || sscanf(v, "%ux%u%c", &hh, &ww, &extra) != 2 || hh < 8 || ww < 8 || hh > 512 || ww > 512)
                bad_arg(a, v);
            o->data.h = hh; o->data.w = ww; size_set = 1;
        }
        else { fprintf(stderr, "train: unknown option '%s' (see --help)\n", a); exit(2); }
#undef FLAG
    }
    /* a Market-layout directory: real images need the larger net and input,
       Adam and more steps (examples/train/README.md: the embedded set's
       defaults stay at chance on the glyph set) */
    if (o->data_dir) {
        if (!net_set) o->arch.kind = NET_RES18;
        if (!size_set) { o->data.h = 64; o->data.w = 32; }
        if (!opt_set) o->adam = 1;
        if (!lr_set && o->adam) { o->lr = 4e-3f; lr_set = 1; }
        if (!emb_set) o->emb = 128;
        if (!steps_set) o->steps = 1000;
        if (!sched_set) o->sched = SCHED_CONST;
    }
    if (!lr_set) o->lr = o->adam ? 2e-3f : 0.1f;
    if (o->bench) o->steps = o->bench + 3;
    if (o->steps == 0 && !o->init) bad_arg("--steps", "0"); /* 0 evaluates an --init file */
    if (o->arch.width == 0.0f) o->arch.width = o->arch.kind == NET_RES18 ? 0.25f : 1.0f;
    o->arch.depth = depth ? depth : o->arch.kind == NET_RES18 ? 2 : 1;
    o->arch.stem_stride = stem ? stem : o->arch.kind == NET_RES18 ? 2 : 1;
    if (o->P < 2 && (o->sampler == S_HARD || (o->compare && strstr(o->compare, "hard")))) {
        fprintf(stderr, "train: mode A (--sampler hard) needs --P >= 2 (K images of the target, the rest random)\n");
        exit(2);
    }
    if (o->head.kind == HR_HEAD_COSFACE || o->head.kind == HR_HEAD_ARCFACE) {
        if (!o->head_set_s) o->head.s = 16.0f; /* the demo net's defaults (see README) */
        if (!o->head_set_m) o->head.m = o->head.kind == HR_HEAD_COSFACE ? 0.2f : 0.3f;
    } else if (o->head.kind == HR_HEAD_SPHEREFACE) {
        if (!o->head_set_s) o->head.s = 16.0f;
        if (!o->head_set_m) o->head.m = 2.0f;
    }
}

/* ---- the training state: what a checkpoint holds ----------------------------- */

typedef struct trainer {
    opts o;
    rd_data data;
    net m;
    hr_ids ix;  void *ix_mem;
    int32_t *cls;            /* train sample -> class (row of W), -1 junk  */
    float *c;  int32_t *nearest;  float *p;  /* difficulties, weights      */
    hr_alias alias;  void *alias_mem;  int alias_ok;
    float *opt_m, *opt_v;    /* optimizer state: one allocation, 2 nparams */
    uint32_t *perm;  size_t cursor;  /* the shuffle and hardepoch loaders  */
    float *logu;             /* hardepoch: log u per training image, this epoch */
    struct ep_key *keys;     /* hardepoch: scratch for the ordering          */
    uint32_t *batch;  float *bx, *demb;  int32_t *by;  float *logits;
    hr_rng r_sample, r_aug;
    size_t step, step0;      /* step0: where this run started (a resume)   */
    uint64_t data_hash;
    double train_s;
} trainer;

static void *xmalloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p) { fprintf(stderr, "train: out of memory (%zu bytes)\n", n); exit(1); }
    return p;
}

static void shuffle_perm(trainer *t)
{
    size_t i, n = t->ix.nsamples;
    for (i = n - 1; i > 0; i--) {
        const size_t j = hr_rng_below(&t->r_sample, (uint32_t)(i + 1));
        const uint32_t x = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = x;
    }
    t->cursor = 0;
}

/* hardepoch: each image of the epoch has a key log(u) / w, u uniform, w
   its identity's weight; the batch is the B unused images of largest key
   (Efraimidis-Spirakis: drawing without replacement by w). u is fixed for
   the epoch and w follows the difficulties as they are refreshed, so each
   image is seen once per epoch and hard identities' images come early. */
typedef struct ep_key { float key; uint32_t sample; } ep_key;

static int by_key(const void *a, const void *b)
{
    const ep_key *x = (const ep_key *)a, *y = (const ep_key *)b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1; /* larger first */
    return x->sample < y->sample ? -1 : x->sample > y->sample;
}

/* Reorders a[0..n) so that a[0..b) are its b first elements in by_key's
   order (in some order): quickselect, O(n) expected, where sorting the
   remaining epoch every step would be O(n log n). by_key is a total order
   (samples are distinct), so the batch does not depend on how the rest of
   the epoch happens to be ordered. */
static void select_first(ep_key *a, size_t n, size_t b)
{
    size_t lo = 0, hi = n; /* the boundary b lies in [lo, hi) */
    while (b > lo && b < hi && hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        ep_key pivot = a[mid], x;
        size_t i = lo, j;
        a[mid] = a[hi - 1]; a[hi - 1] = pivot; /* Lomuto partition about the middle element */
        for (j = lo; j + 1 < hi; j++)
            if (by_key(&a[j], &pivot) < 0) { x = a[i]; a[i] = a[j]; a[j] = x; i++; }
        a[hi - 1] = a[i]; a[i] = pivot;
        if (i == b) return;
        if (i < b) lo = i + 1; else hi = i;
    }
}

static void new_epoch(trainer *t)
{
    size_t k;
    if (t->o.sampler != S_HARDEPOCH) { shuffle_perm(t); return; }
    for (k = 0; k < t->ix.nsamples; k++) { /* u in (0, 1): log u < 0, finite */
        const double u = ((double)(hr_rng_next(&t->r_sample) >> 40) + 0.5) / 16777216.0;
        t->logu[t->perm[k]] = (float)log(u);
    }
    t->cursor = 0;
}

static void epoch_batch(trainer *t, size_t B)
{
    const size_t n = t->ix.nsamples;
    size_t k;
    if (t->cursor + B > n) new_epoch(t);
    for (k = t->cursor; k < n; k++) {
        const uint32_t j = t->perm[k];
        const float w = t->p[t->cls[j]];
        t->keys[k].key = w > 0.0f ? t->logu[j] / w : -INFINITY;
        t->keys[k].sample = j;
    }
    select_first(t->keys + t->cursor, n - t->cursor, B);
    qsort(t->keys + t->cursor, B, sizeof *t->keys, by_key);
    for (k = t->cursor; k < n; k++) t->perm[k] = t->keys[k].sample;
    memcpy(t->batch, t->perm + t->cursor, B * sizeof(uint32_t));
    t->cursor += B;
}

static void trainer_init(trainer *t, const opts *o)
{
    const size_t B = o->P * o->K;
    size_t i, k;
    hr_status s;
    memset(t, 0, sizeof *t);
    t->o = *o;
    if (o->data_dir) {
        if (rd_load_market(&t->data, o->data_dir, o->data.h, o->data.w, o->skip_bad)) exit(1);
    } else if (rd_generate(&t->data, &o->data)) {
        exit(1);
    }
    t->data_hash = rd_hash(&t->data.train, FNV_SEED);
    t->ix_mem = xmalloc(hr_ids_size(t->data.train.n));
    if ((s = hr_ids_build(&t->ix, t->ix_mem, t->data.train.pid, t->data.train.n)) != HR_OK)
        die_hr("hr_ids_build", s);
    if (t->ix.nids < 2 || t->ix.nids < o->P) {
        fprintf(stderr, "train: %u training identities, need at least max(2, P = %zu)\n", t->ix.nids, o->P);
        exit(1);
    }
    if ((o->sampler == S_SHUFFLE || o->sampler == S_HARDEPOCH) && B > t->ix.nsamples) {
        fprintf(stderr, "train: batch of %zu images, the training set has %u\n", B, t->ix.nsamples);
        exit(1);
    }
    t->cls = (int32_t *)xmalloc(t->data.train.n * sizeof(int32_t));
    for (i = 0; i < t->data.train.n; i++) t->cls[i] = hr_ids_find(&t->ix, t->data.train.pid[i]);
    net_build(&t->m, &o->arch, t->data.train.h, t->data.train.w, o->emb, t->ix.nids, B < 128 ? 128 : B);
    if (net_alloc(&t->m, o->seed)) exit(1);
    t->m.profile = o->profile;
    if (o->init && wt_load_net(&t->m, o->init)) exit(1);
    t->c = (float *)xmalloc(t->ix.nids * sizeof(float));
    t->p = (float *)xmalloc(t->ix.nids * sizeof(float));
    t->nearest = (int32_t *)xmalloc(t->ix.nids * sizeof(int32_t));
    t->alias_mem = xmalloc(hr_alias_size(t->ix.nids));
    t->opt_m = (float *)xmalloc(2 * t->m.nparams * sizeof(float));
    t->opt_v = t->opt_m + t->m.nparams;
    t->perm = (uint32_t *)xmalloc(t->ix.nsamples * sizeof(uint32_t));
    t->logu = (float *)xmalloc(t->data.train.n * sizeof(float));
    t->keys = (ep_key *)xmalloc(t->ix.nsamples * sizeof(ep_key));
    for (i = 0; i < t->data.train.n; i++) t->logu[i] = -1.0f; /* drawn by new_epoch */
    for (k = 0; k < t->ix.nsamples; k++) t->perm[k] = t->ix.sample[k];
    t->batch = (uint32_t *)xmalloc((B + 8) * sizeof(uint32_t));
    t->bx = (float *)xmalloc(B * t->m.h * t->m.w * 3 * sizeof(float));
    t->by = (int32_t *)xmalloc(B * sizeof(int32_t));
    t->demb = (float *)xmalloc(B * o->emb * sizeof(float));
    t->logits = (float *)xmalloc(B * t->ix.nids * sizeof(float));
    hr_rng_seed(&t->r_sample, o->seed);
    t->r_aug = t->r_sample;
    hr_rng_jump(&t->r_aug);
    new_epoch(t);
    for (k = 0; k < t->ix.nids; k++) { t->c[k] = 0.0f; t->nearest[k] = -1; }
}

static void trainer_free(trainer *t)
{
    rd_free(&t->data);
    net_free(&t->m);
    free(t->ix_mem); free(t->cls); free(t->c); free(t->p); free(t->nearest);
    free(t->alias_mem); free(t->opt_m); free(t->perm); free(t->logu); free(t->keys); free(t->batch);
    free(t->bx); free(t->by); free(t->demb); free(t->logits);
}

/* ---- sampling ------------------------------------------------------------------- */

/* the samplers that draw through p (an alias table, or hardepoch's keys) */
static int uses_table(sampler_kind s)
{
    return s == S_PROP || s == S_HARDPK || s == S_HARDEPOCH || s == S_UPROP;
}

/* p from the difficulties (uniform-prop: all 1), and its alias table */
static void build_table(trainer *t)
{
    const size_t n = t->ix.nids;
    hr_status s;
    if (t->o.sampler == S_UPROP) {
        size_t i;
        for (i = 0; i < n; i++) t->p[i] = 1.0f;
    } else if ((s = hr_weights(t->p, t->c, n, t->o.weighting, t->o.temp, t->o.eps)) != HR_OK) {
        die_hr("hr_weights", s);
    }
    if (t->o.sampler != S_HARDEPOCH && /* hardepoch reads p itself */
        (s = hr_alias_build(&t->alias, t->alias_mem, t->p, n)) != HR_OK)
        die_hr("hr_alias_build", s);
    t->alias_ok = 1;
}

/* Before each step. When due (every R steps): c, nearest from the head's
   W (every sampler: the CSV's statistics). Then the table, for a sampler
   that draws through one, when it follows c (due, and p is weighted by
   c: not uniform-prop's all-1 p) or none is built yet (uniform-prop's
   first; a resumed run's, from the saved c). */
static void refresh(trainer *t, int due)
{
    const size_t n = t->ix.nids;
    if (due) {
        hr_status s = hr_difficulty(t->c, t->nearest, t->m.params + t->m.head_w, n, t->m.emb,
                                    t->m.emb, 0);
        if (s != HR_OK) die_hr("hr_difficulty", s);
    }
    if (uses_table(t->o.sampler) && (!t->alias_ok || (due && t->o.sampler != S_UPROP)))
        build_table(t);
}

/* B sample indices for the next step into t->batch */
static void next_batch(trainer *t)
{
    const size_t P = t->o.P, K = t->o.K, B = P * K;
    hr_status s = HR_OK;
    switch (t->o.sampler) {
    case S_SHUFFLE:
        if (t->cursor + B > t->ix.nsamples) shuffle_perm(t);
        memcpy(t->batch, t->perm + t->cursor, B * sizeof(uint32_t));
        t->cursor += B;
        break;
    case S_PK: s = hr_batch_pk(t->batch, P, K, &t->ix, NULL, &t->r_sample); break;
    case S_HARD: {
        const size_t nk = t->o.hard_nearest && P >= 2 ? K : 0; /* parse() keeps P >= 2 here */
        s = hr_batch_hardest(t->batch, &t->ix, t->c, K, B - K - nk, t->nearest, nk, &t->r_sample);
        break;
    }
    case S_PROP: case S_UPROP:
        s = hr_batch_proportional(t->batch, B, &t->ix, &t->alias, &t->r_sample);
        break;
    case S_HARDPK: s = hr_batch_pk(t->batch, P, K, &t->ix, &t->alias, &t->r_sample); break;
    case S_HARDEPOCH: epoch_batch(t, B); break;
    default: break;
    }
    if (s != HR_OK) die_hr("the batch builder", s);
}

/* images of the batch into bx (random horizontal flips), classes into by */
static void gather(trainer *t, size_t B, int augment)
{
    const size_t h = t->m.h, w = t->m.w, sz = h * w * 3;
    size_t b, y, x;
    for (b = 0; b < B; b++) {
        const float *src = t->data.train.img + (size_t)t->batch[b] * sz;
        float *dst = t->bx + b * sz;
        t->by[b] = t->cls[t->batch[b]];
        if (augment && (hr_rng_next(&t->r_aug) >> 63)) {
            for (y = 0; y < h; y++)
                for (x = 0; x < w; x++) memcpy(dst + (y * w + x) * 3, src + (y * w + (w - 1 - x)) * 3, 3 * sizeof(float));
        } else {
            memcpy(dst, src, sz * sizeof(float));
        }
    }
}

/* ---- optimizer ------------------------------------------------------------------- */

/* Linear warmup from lr/10 over floor(warmup * steps) steps, then a cosine
   decay to 0 or a constant lr. On the glyph set the loss leaves its plateau
   around step 500 of 1000 whatever the lr, when a cosine has already halved
   it; the constant lr learns most there (examples/train/README.md, "Real
   images": the --data defaults are measured there). */
static float lr_at(const opts *o, size_t step)
{
    const double warm = floor(o->warmup * (double)o->steps);
    if ((double)step < warm) return (float)(o->lr * (0.1 + 0.9 * (double)step / warm));
    if (o->sched == SCHED_CONST) return o->lr;
    {
        const double span = (double)o->steps - warm, f = span > 0 ? ((double)step - warm) / span : 1.0;
        return (float)(o->lr * 0.5 * (1.0 + cos(3.141592653589793 * f)));
    }
}

/* SGD with momentum or Adam; weight decay as L2 on the decayed tensors (the
   way torch.optim does it, and torchreid's Adam recipe with it) */
static void opt_step(trainer *t, float lr)
{
    net *m = &t->m;
    const float b1 = 0.9f, b2 = 0.999f;
    const double k = (double)(t->step + 1);
    const float c1 = (float)(1.0 / (1.0 - pow(b1, k))), c2 = (float)(1.0 / (1.0 - pow(b2, k)));
    int pi;
    for (pi = 0; pi < m->np; pi++) {
        const ptensor *p = &m->p[pi];
        float *w = m->params + p->off, *g = m->grads + p->off;
        float *mm = t->opt_m + p->off, *vv = t->opt_v + p->off;
        const float wd = p->decay ? t->o.wd : 0.0f;
        size_t i;
        for (i = 0; i < p->size; i++) {
            const float gi = g[i] + wd * w[i];
            if (t->o.adam) {
                mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
                vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
                w[i] -= lr * (mm[i] * c1) / (sqrtf(vv[i] * c2) + 1e-8f);
            } else {
                mm[i] = t->o.momentum * mm[i] + gi;
                w[i] -= lr * mm[i];
            }
            g[i] = 0.0f;
        }
    }
}

/* ---- evaluation (Market-1501 protocol) -------------------------------------- */

typedef struct metrics { double r1, r5, r10, map; size_t nq; } metrics;

static void embed(trainer *t, float *f, const rd_set *s)
{
    const size_t sz = s->h * s->w * 3, bs = t->m.max_batch;
    size_t i;
    hr_status st;
    for (i = 0; i < s->n; i += bs) {
        const size_t nb = s->n - i < bs ? s->n - i : bs;
        const float *e = net_forward(&t->m, s->img + i * sz, nb, 0);
        memcpy(f + i * t->m.emb, e, nb * t->m.emb * sizeof(float));
    }
    if ((st = hr_normalize_rows(f, t->m.emb, f, t->m.emb, s->n, t->m.emb)) != HR_OK)
        die_hr("hr_normalize_rows", st);
}

static const float *g_sim; /* qsort's context: one query's similarities */
static int by_sim(const void *a, const void *b)
{
    const uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    if (g_sim[i] != g_sim[j]) return g_sim[i] > g_sim[j] ? -1 : 1;
    return i < j ? -1 : i > j; /* ties: gallery order, so results are stable */
}

/* select: NULL for every query, else pids to evaluate (sorted, nsel) */
static metrics evaluate_on(const rd_data *d, const float *sim, const int32_t *sel, size_t nsel,
                           uint32_t *order)
{
    metrics r;
    size_t q, g;
    const size_t G = d->gallery.n;
    memset(&r, 0, sizeof r);
    for (q = 0; q < d->query.n; q++) {
        const int32_t qp = d->query.pid[q], qc = d->query.cam[q];
        size_t rank = 0, hits = 0, first = 0, total = 0;
        double ap = 0.0;
        if (qp <= 0) continue;
        if (sel) {
            size_t k;
            for (k = 0; k < nsel && sel[k] != qp; k++) {}
            if (k == nsel) continue;
        }
        for (g = 0; g < G; g++) total += d->gallery.pid[g] == qp && d->gallery.cam[g] != qc;
        if (!total) continue; /* no valid match: not counted (Market) */
        for (g = 0; g < G; g++) order[g] = (uint32_t)g;
        g_sim = sim + q * G;
        qsort(order, G, sizeof(uint32_t), by_sim);
        for (g = 0; g < G && hits < total; g++) {
            const uint32_t k = order[g];
            const int32_t gp = d->gallery.pid[k];
            if (gp == -1 || (gp == qp && d->gallery.cam[k] == qc)) continue; /* junk, same view */
            rank++;
            if (gp == qp) {
                hits++;
                if (hits == 1) first = rank;
                ap += (double)hits / (double)rank;
            }
        }
        r.r1 += first <= 1; r.r5 += first <= 5; r.r10 += first <= 10;
        r.map += ap / (double)total;
        r.nq++;
    }
    if (r.nq) { r.r1 /= (double)r.nq; r.r5 /= (double)r.nq; r.r10 /= (double)r.nq; r.map /= (double)r.nq; }
    return r;
}

/* all queries, and the hardest tenth of the test identities: those whose
   mean embedding's nearest other identity (hr_difficulty) is closest */
static void evaluate(trainer *t, metrics *all, metrics *hard, float *hard_c)
{
    const rd_data *d = &t->data;
    const size_t e = t->m.emb, Q = d->query.n, G = d->gallery.n;
    float *qf = (float *)xmalloc(Q * e * sizeof(float)), *gf = (float *)xmalloc(G * e * sizeof(float));
    float *sim = (float *)xmalloc(Q * G * sizeof(float));
    uint32_t *order = (uint32_t *)xmalloc(G * sizeof(uint32_t));
    int32_t *ids = (int32_t *)xmalloc(Q * sizeof(int32_t)), *sel;
    float *mean, *c;
    size_t nid = 0, i, j, nsel;
    hr_status s;
    embed(t, qf, &d->query);
    embed(t, gf, &d->gallery);
    if ((s = hr_gemm(HR_NO_TRANS, HR_TRANS, Q, G, e, 1.0f, qf, e, gf, e, 0.0f, sim, G)) != HR_OK)
        die_hr("hr_gemm", s);
    *all = evaluate_on(d, sim, NULL, 0, order);
    /* test identities = the queries' (each has >= 1 query) */
    for (i = 0; i < Q; i++) {
        if (d->query.pid[i] <= 0) continue;
        for (j = 0; j < nid && ids[j] != d->query.pid[i]; j++) {}
        if (j == nid) ids[nid++] = d->query.pid[i];
    }
    mean = (float *)xmalloc((nid + 1) * e * sizeof(float));
    c = (float *)xmalloc((nid + 1) * sizeof(float));
    sel = (int32_t *)xmalloc((nid + 1) * sizeof(int32_t));
    for (j = 0; j < nid; j++) {
        const rd_set *sets[2];
        int k;
        sets[0] = &d->query; sets[1] = &d->gallery;
        for (k = 0; k < 2; k++) {
            const float *f = k ? gf : qf;
            size_t n;
            for (n = 0; n < sets[k]->n; n++)
                if (sets[k]->pid[n] == ids[j]) {
                    size_t q;
                    for (q = 0; q < e; q++) mean[j * e + q] += f[n * e + q];
                }
        }
    }
    *hard_c = 0.0f;
    nsel = (nid + 9) / 10;
    if (nid >= 2 && (s = hr_difficulty(c, NULL, mean, nid, e, e, 0)) == HR_OK) {
        for (i = 0; i < nsel; i++) { /* nsel largest c, ties to the smaller index */
            size_t best = nid;
            for (j = 0; j < nid; j++)
                if (c[j] > -2.0f && (best == nid || c[j] > c[best])) best = j;
            sel[i] = ids[best];
            *hard_c += c[best] / (float)nsel;
            c[best] = -3.0f;
        }
        *hard = evaluate_on(d, sim, sel, nsel, order);
    } else {
        memset(hard, 0, sizeof *hard);
    }
    free(qf); free(gf); free(sim); free(order); free(ids); free(mean); free(c); free(sel);
}

/* ---- checkpoints --------------------------------------------------------------- */
/* Native byte order. Header, then payload: params, BN state, optimizer m and
   v, difficulties, nearest, the shuffle permutation, hardepoch's keys
   (log u per image). The checksum (FNV-1a)
   covers the header (checksum field zero) and the payload. */

#define CKPT_MAGIC "HRTRAIN"
#define CKPT_VERSION 2u /* 2: the net's width, depth, stem; hardepoch's keys */

typedef struct ckpt_header {
    char magic[8];
    uint32_t version, net, sampler, adam;
    uint64_t h, w, emb, classes, nparams, nstate, nsamples;
    uint64_t data_hash, step, cursor;
    hr_rng r_sample, r_aug;
    uint64_t width_milli, depth, stem_stride; /* (version 2) */
    uint64_t payload, checksum;
} ckpt_header;

static void ckpt_fill(const trainer *t, ckpt_header *hd)
{
    memset(hd, 0, sizeof *hd);
    memcpy(hd->magic, CKPT_MAGIC, 8);
    hd->version = CKPT_VERSION;
    hd->net = (uint32_t)t->m.arch.kind; hd->sampler = (uint32_t)t->o.sampler; hd->adam = (uint32_t)t->o.adam;
    hd->h = t->m.h; hd->w = t->m.w; hd->emb = t->m.emb; hd->classes = t->m.classes;
    hd->width_milli = (uint64_t)(t->m.arch.width * 1000.0f + 0.5f);
    hd->depth = t->m.arch.depth; hd->stem_stride = t->m.arch.stem_stride;
    hd->nparams = t->m.nparams; hd->nstate = t->m.nstate; hd->nsamples = t->ix.nsamples;
    hd->data_hash = t->data_hash;
    hd->step = t->step; hd->cursor = t->cursor;
    hd->r_sample = t->r_sample; hd->r_aug = t->r_aug;
}

typedef struct chunk { void *p; size_t n; } chunk;
static int ckpt_chunks(trainer *t, chunk *ch)
{
    ch[0].p = t->m.params; ch[0].n = t->m.nparams * sizeof(float);
    ch[1].p = t->m.state;  ch[1].n = t->m.nstate * sizeof(float);
    ch[2].p = t->opt_m;    ch[2].n = 2 * t->m.nparams * sizeof(float);
    ch[3].p = t->c;        ch[3].n = t->ix.nids * sizeof(float);
    ch[4].p = t->nearest;  ch[4].n = t->ix.nids * sizeof(int32_t);
    ch[5].p = t->perm;     ch[5].n = t->ix.nsamples * sizeof(uint32_t);
    ch[6].p = t->logu;     ch[6].n = t->data.train.n * sizeof(float);
    return 7;
}

static void save_ckpt(trainer *t, const char *path)
{
    ckpt_header hd;
    chunk ch[8];
    int n = ckpt_chunks(t, ch), i;
    uint64_t sum;
    char tmp[4096];
    FILE *f;
    ckpt_fill(t, &hd);
    for (i = 0; i < n; i++) hd.payload += ch[i].n;
    sum = fnv1a(&hd, sizeof hd, FNV_SEED);
    for (i = 0; i < n; i++) sum = fnv1a(ch[i].p, ch[i].n, sum);
    hd.checksum = sum;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) { fprintf(stderr, "train: path too long: %s\n", path); exit(1); }
    f = fopen(tmp, "wb"); /* written aside, renamed into place: never half a file */
    if (!f) { perror(tmp); exit(1); }
    errno = 0;
    if (fwrite(&hd, sizeof hd, 1, f) != 1) goto fail;
    for (i = 0; i < n; i++)
        if (fwrite(ch[i].p, 1, ch[i].n, f) != ch[i].n) goto fail;
    /* synced before the rename: after a crash the checkpoint is the old
       one or the new one, never a torn one */
    if (fflush(f) || fsync(fileno(f))) goto fail;
    if (fclose(f)) { f = NULL; goto fail; }
    if (rename(tmp, path)) { perror(path); remove(tmp); exit(1); }
    return;
fail:
    fprintf(stderr, "train: cannot write checkpoint %s: %s\n", tmp, errno ? strerror(errno) : "I/O error");
    if (f) fclose(f);
    remove(tmp); /* the older checkpoint at path stands */
    exit(1);
}

static void ckpt_refuse(const char *path, const char *why)
{
    fprintf(stderr, "train: refusing checkpoint %s: %s\n", path, why);
    exit(1);
}

static void load_ckpt(trainer *t, const char *path)
{
    ckpt_header hd, want;
    chunk ch[8];
    int n = ckpt_chunks(t, ch), i;
    uint64_t sum, payload = 0, stored;
    char msg[256];
    FILE *f = fopen(path, "rb");
    void *buf[8];
    if (!f) { perror(path); exit(1); }
    if (fread(&hd, sizeof hd, 1, f) != 1) ckpt_refuse(path, "shorter than a header");
    if (memcmp(hd.magic, CKPT_MAGIC, 8)) ckpt_refuse(path, "not a trainer checkpoint (bad magic)");
    if (hd.version != CKPT_VERSION) {
        snprintf(msg, sizeof msg, "version %u, this trainer reads %u", hd.version, CKPT_VERSION);
        ckpt_refuse(path, msg);
    }
    ckpt_fill(t, &want);
#define SAME(field, what)                                                                    \
    if (hd.field != want.field) {                                                            \
        snprintf(msg, sizeof msg, "%s differs: file %llu, this run %llu", what,              \
                 (unsigned long long)hd.field, (unsigned long long)want.field);              \
        ckpt_refuse(path, msg);                                                              \
    }
    SAME(net, "network (0 res, 1 mobile, 2 shuffle, 3 res18)")
    SAME(width_milli, "network width (x 1000)") SAME(depth, "network depth")
    SAME(stem_stride, "stem stride")
    SAME(h, "image height") SAME(w, "image width") SAME(emb, "embedding size")
    SAME(classes, "number of classes") SAME(nparams, "parameter count") SAME(nstate, "BN state size")
    SAME(nsamples, "training images") SAME(data_hash, "training data (hash)")
    SAME(adam, "optimizer (0 sgd, 1 adam)") SAME(sampler, "sampler")
#undef SAME
    for (i = 0; i < n; i++) payload += ch[i].n;
    if (hd.payload != payload) ckpt_refuse(path, "payload size does not match the shapes");
    stored = hd.checksum;
    hd.checksum = 0;
    sum = fnv1a(&hd, sizeof hd, FNV_SEED);
    for (i = 0; i < n; i++) { /* read aside: a corrupt file changes nothing */
        buf[i] = xmalloc(ch[i].n);
        if (fread(buf[i], 1, ch[i].n, f) != ch[i].n) ckpt_refuse(path, "truncated");
        sum = fnv1a(buf[i], ch[i].n, sum);
    }
    if (fgetc(f) != EOF) ckpt_refuse(path, "trailing bytes after the payload");
    fclose(f);
    if (sum != stored) ckpt_refuse(path, "checksum mismatch (corrupt file)");
    { /* the values the loop indexes with: a checksum does not vouch for them
         (a crafted file matches it) */
        const uint32_t *perm = (const uint32_t *)buf[5];
        const int32_t *near = (const int32_t *)buf[4];
        size_t k;
        if (hd.cursor > t->ix.nsamples) ckpt_refuse(path, "sampler cursor out of range");
        for (k = 0; k < t->ix.nsamples; k++)
            if (perm[k] >= t->data.train.n) ckpt_refuse(path, "shuffle order holds an image index out of range");
        for (k = 0; k < t->ix.nids; k++)
            if (near[k] < -1 || near[k] >= (int32_t)t->ix.nids)
                ckpt_refuse(path, "nearest identity out of range");
        for (k = 0; k < t->data.train.n; k++) /* log u: finite, < 0 (NaN fails too) */
            if (!(((const float *)buf[6])[k] < 0.0f) || !(((const float *)buf[6])[k] > -1e30f))
                ckpt_refuse(path, "hardepoch key out of range");
    }
    for (i = 0; i < n; i++) { memcpy(ch[i].p, buf[i], ch[i].n); free(buf[i]); }
    t->step = hd.step; t->cursor = hd.cursor;
    t->r_sample = hd.r_sample; t->r_aug = hd.r_aug;
}

/* ---- weights files --------------------------------------------------------------- */

static void save_weights(const trainer *t, const char *path)
{
    wt_tensor *w = (wt_tensor *)xmalloc(wt_net_count(&t->m) * sizeof *w);
    const size_t n = wt_net_list(w, &t->m, "", t->m.params, t->m.state);
    if (wt_write(path, w, n)) exit(1);
    free(w);
}

/* the step's batch, loss, the weights and BN statistics before it (state0)
   and the gradients before the optimizer: one step to check against the
   PyTorch twin (examples/python/check_step.py) */
static void dump_step(const trainer *t, const char *path, const float *state0, float loss, size_t B)
{
    const net *m = &t->m;
    const size_t nw = wt_net_count(m);
    wt_tensor *w = (wt_tensor *)xmalloc((2 * nw + 3) * sizeof *w);
    float *labels = (float *)xmalloc(B * sizeof(float));
    size_t n = 3, i;
    for (i = 0; i < B; i++) labels[i] = (float)t->by[i];
    strcpy(w[0].name, "input"); w[0].ndim = 4;
    w[0].dims[0] = B; w[0].dims[1] = m->h; w[0].dims[2] = m->w; w[0].dims[3] = 3; w[0].data = t->bx;
    strcpy(w[1].name, "labels"); w[1].ndim = 1; w[1].dims[0] = B; w[1].data = labels;
    strcpy(w[2].name, "loss"); w[2].ndim = 1; w[2].dims[0] = 1; w[2].data = &loss;
    n += wt_net_list(w + n, m, "p:", m->params, state0);
    n += wt_net_list(w + n, m, "g:", m->grads, NULL);
    if (wt_write(path, w, n)) exit(1);
    free(w); free(labels);
}

/* ---- the loop -------------------------------------------------------------------- */

static void progress(const trainer *t, double loss, double acc, double ips, int tty, int final)
{
    const size_t steps = t->o.steps;
    const double eta = ips > 0 ? (double)((steps - t->step) * t->o.P * t->o.K) / ips : 0.0;
    if (tty) {
        char bar[31];
        size_t k, fill = steps ? 30 * t->step / steps : 30;
        for (k = 0; k < 30; k++) bar[k] = k < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] step %zu/%zu loss %.3f acc %.2f %.0f img/s ETA %.0fs ", bar, t->step,
                steps, loss, acc, ips, eta);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "step %zu/%zu loss %.4f acc %.3f %.0f img/s ETA %.0fs\n", t->step, steps,
                loss, acc, ips, eta);
    }
    fflush(stderr);
}

static void print_metrics(const char *what, const metrics *a)
{
    printf("%s: rank-1 %.1f%%  rank-5 %.1f%%  rank-10 %.1f%%  mAP %.1f%%  (%zu queries)\n", what,
           100 * a->r1, 100 * a->r5, 100 * a->r10, 100 * a->map, a->nq);
}

static void train(trainer *t)
{
    const opts *o = &t->o;
    const size_t B = o->P * o->K, N = t->ix.nids;
    const int tty = isatty(2) && !o->quiet;
    const size_t log_every = o->steps >= 10 ? o->steps / 10 : 1;
    FILE *csv = NULL;
    double t0 = now_s(), tlast = t0, loss_acc = 0, acc_acc = 0, t_bench = 0;
    size_t nacc = 0, imgs_since = 0;
    const size_t stop = o->stop_at && o->stop_at < o->steps ? o->stop_at : o->steps;
    float cmean = 0, cmax = 0;
    float *state0 = o->dump_step ? (float *)xmalloc((t->m.nstate + 1) * sizeof(float)) : NULL;
    int have_stats = 0;
    if (o->csv) {
        csv = fopen(o->csv, t->step ? "a" : "w");
        if (!csv) { perror(o->csv); exit(1); }
        if (!t->step) fprintf(csv, "step,loss,acc,lr,c_mean,c_max,img_s\n");
    }
    while (t->step < stop) {
        hr_head h = o->head;
        float loss, lr = lr_at(o, t->step);
        double acc = 0;
        size_t i, k;
        hr_status s;
        refresh(t, t->step % o->refresh == 0);
        if (t->step % o->refresh == 0 || !have_stats) { /* (a resumed run: the saved c) */
            cmean = 0; cmax = -1; have_stats = 1;
            for (i = 0; i < N; i++) { cmean += t->c[i] / (float)N; if (t->c[i] > cmax) cmax = t->c[i]; }
        }
        next_batch(t);
        gather(t, B, 1);
        if (state0) memcpy(state0, t->m.state, t->m.nstate * sizeof(float));
        {
            const float *emb = net_forward(&t->m, t->bx, B, 1);
            if (h.kind == HR_HEAD_SPHEREFACE) h.lambda = hr_sphereface_lambda(t->step);
            memset(t->demb, 0, B * o->emb * sizeof(float));
            s = hr_head_loss(&h, &loss, t->logits, t->demb, t->m.grads + t->m.head_w, emb,
                             t->m.params + t->m.head_w, t->by, B, o->emb, N);
            if (s != HR_OK) die_hr("hr_head_loss", s);
        }
        net_backward(&t->m, t->demb, B);
        if (state0) { dump_step(t, o->dump_step, state0, loss, B); free(state0); state0 = NULL; }
        opt_step(t, lr);
        for (i = 0; i < B; i++) { /* train accuracy: arg max of the final logits */
            const float *l = t->logits + i * N;
            size_t best = 0;
            for (k = 1; k < N; k++) if (l[k] > l[best]) best = k;
            acc += (int32_t)best == t->by[i];
        }
        acc /= (double)B;
        t->step++;
        imgs_since += B;
        loss_acc += loss; acc_acc += acc; nacc++;
        if (csv) fprintf(csv, "%zu,%.6f,%.4f,%.6g,%.5f,%.5f,%.1f\n", t->step, loss, acc, lr, cmean, cmax,
                         (double)imgs_since / (now_s() - tlast + 1e-9));
        if (!o->quiet && (t->step % log_every == 0 || t->step == stop || (tty && t->step % 5 == 0))) {
            const double tn = now_s(), ips = (double)imgs_since / (tn - tlast);
            progress(t, loss_acc / (double)nacc, acc_acc / (double)nacc, ips, tty, t->step == stop);
            if (!tty || t->step % log_every == 0) { loss_acc = acc_acc = 0; nacc = 0; }
            tlast = tn; imgs_since = 0;
        }
        if (o->bench && t->step == t->step0 + 3) t_bench = now_s(); /* after the warm-up */
        if (o->eval_every && t->step % o->eval_every == 0 && t->step < o->steps) {
            metrics a, hd;
            float hc;
            evaluate(t, &a, &hd, &hc);
            if (tty) fputc('\n', stderr);
            printf("step %zu ", t->step);
            print_metrics("test", &a);
        }
    }
    if (csv) fclose(csv);
    free(state0);
    t->train_s = now_s() - t0;
    if (o->bench && t->step > t->step0 + 3)
        printf("train img/s: %.1f (%zu steps of %zu images after 3 warm-up steps)\n",
               (double)((t->step - t->step0 - 3) * B) / (now_s() - t_bench), t->step - t->step0 - 3, B);
}

typedef struct result { metrics all, hard; float hard_c; double secs; } result;

static result run_one(const opts *o, const char *label)
{
    trainer *t = (trainer *)xmalloc(sizeof *t);
    result r;
    trainer_init(t, o);
    if (!o->quiet)
        fprintf(stderr, "train: %s, net %s x%g depth %zu stem /%zu (%zu parameters), %u identities, "
                        "%u images of %zux%zu, sampler %s, "
                        "head %s s %.3g m %.3g, %s lr %.3g %s, %zu steps of %zu x %zu, isa %s\n",
                label, net_name(o->arch.kind), (double)o->arch.width, o->arch.depth, o->arch.stem_stride,
                t->m.nparams - t->m.classes * t->m.emb, t->ix.nids, t->ix.nsamples, t->m.h, t->m.w,
                SAMPLERS[o->sampler], head_name(o->head.kind), o->head.s, o->head.m,
                o->adam ? "adam" : "sgd", o->lr, SCHEDS[o->sched], o->steps, o->P, o->K, hr_isa_name(hr_get_isa()));
    if (o->resume) {
        load_ckpt(t, o->resume);
        if (!o->quiet) fprintf(stderr, "train: resumed %s at step %zu\n", o->resume, t->step);
    }
    t->step0 = t->step;
    train(t);
    if (o->profile) {
        net_profile_print(&t->m, (t->step - t->step0) * o->P * o->K);
        fprintf(stderr, "  (the whole loop: %.1f ms per 1000 images)\n",
                1e6 * t->train_s / (double)((t->step - t->step0) * o->P * o->K + !(t->step - t->step0)));
    }
    if (o->save) save_ckpt(t, o->save);
    if (o->save_weights) save_weights(t, o->save_weights);
    if (o->bench) memset(&r, 0, sizeof r); /* timing only */
    else evaluate(t, &r.all, &r.hard, &r.hard_c);
    r.secs = t->train_s;
    trainer_free(t);
    free(t);
    return r;
}

int main(int argc, char **argv)
{
    opts o;
    parse(&o, argc, argv);
#ifdef _OPENMP
    /* Without --threads, let the runtime shrink teams while the machine is
       busy (libgomp: online CPUs minus the load average). A team waiting on
       a descheduled thread at every barrier is many times slower than one
       thread; results do not depend on the team size either way. */
    if (o.threads) omp_set_num_threads(o.threads);
    else omp_set_dynamic(1);
#endif
    if (o.export_dir) {
        rd_data d;
        if (rd_generate(&d, &o.data) || rd_save_market(&d, o.export_dir, o.export_jpeg)) return 1;
        printf("wrote %zu train, %zu query, %zu gallery images to %s\n", d.train.n, d.query.n, d.gallery.n,
               o.export_dir);
        rd_free(&d);
        return 0;
    }
    if (!o.compare) {
        result r = run_one(&o, "training");
        if (o.bench) return 0;
        print_metrics("test (all)", &r.all);
        print_metrics("test (hardest tenth)", &r.hard);
        printf("train time %.1f s\n", r.secs);
        return 0;
    }
    {
        char buf[512], *tok, *save = NULL;
        result res[S_COUNT];
        int which[S_COUNT], n = 0, i;
        if (strlen(o.compare) >= sizeof buf) bad_arg("--compare", o.compare);
        strcpy(buf, o.compare);
        for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int k = find_name(tok, SAMPLERS, S_COUNT);
            if (k < 0 || n == S_COUNT) bad_arg("--compare", o.compare);
            which[n++] = k;
        }
        if (o.save || o.resume || o.save_weights || o.dump_step) {
            fprintf(stderr, "train: --compare takes no --save/--resume/--save-weights/--dump-step\n");
            return 2;
        }
        for (i = 0; i < n; i++) {
            opts oi = o;
            char csv[4096];
            oi.sampler = (sampler_kind)which[i];
            if (o.csv) { /* one log per sampler: FILE.sampler */
                if (snprintf(csv, sizeof csv, "%s.%s", o.csv, SAMPLERS[which[i]]) >= (int)sizeof csv) bad_arg("--csv", o.csv);
                oi.csv = csv;
            }
            res[i] = run_one(&oi, SAMPLERS[which[i]]);
        }
        printf("\nnet %s, head %s s %g m %g, %s, %zu steps of %zu x %zu, refresh R = %zu, seed %llu\n",
               net_name(o.arch.kind), head_name(o.head.kind), o.head.s, o.head.m, o.adam ? "adam" : "sgd",
               o.steps, o.P, o.K, o.refresh, (unsigned long long)o.seed);
        printf("| sampler | rank-1 | rank-5 | mAP | hard-10%% rank-1 | hard-10%% mAP | time s |\n");
        printf("|---|---:|---:|---:|---:|---:|---:|\n");
        for (i = 0; i < n; i++)
            printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", SAMPLERS[which[i]],
                   100 * res[i].all.r1, 100 * res[i].all.r5, 100 * res[i].all.map,
                   100 * res[i].hard.r1, 100 * res[i].hard.map, res[i].secs);
        printf("shuffle, pk, uniform-prop ignore difficulty; hard, prop, hardpk draw by it (hr_difficulty\n"
               "every R steps). Controls: uniform-prop for prop, pk for hardpk. One seed: differences\n"
               "of a few points can be seed noise (--seed).\n");
    }
    return 0;
}
