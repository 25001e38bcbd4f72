/* train.h - what the trainer's files share: the data set, the network and
   a few helpers. See train.c for the program and README there for usage. */
#ifndef TRAIN_H
#define TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "../../hardreid.h"

/* ---- data (data.c) ------------------------------------------------------ */

/* A set of images, NHWC floats, already normalized for the network. */
typedef struct rd_set {
    size_t n, h, w;     /* images, height, width (3 channels)          */
    float *img;         /* n x h x w x 3                               */
    int32_t *pid;       /* person id; -1 junk, 0 distractor (Market)   */
    int32_t *cam;       /* camera, 1-based                             */
} rd_set;

typedef struct rd_data {
    rd_set train, query, gallery;
} rd_data;

/* The embedded procedural data set: everything follows from these. */
typedef struct rd_config {
    uint64_t seed;
    size_t ids_train, ids_test;   /* disjoint identities                     */
    size_t imgs_per_id;           /* images of one identity, over its cameras */
    size_t cams;                  /* cameras (an identity is seen by >= 2)    */
    size_t distractors;           /* gallery images of people outside the sets */
    size_t junk;                  /* gallery images labelled -1 (ignored)     */
    float twins;                  /* share of identities that have a near twin */
    size_t h, w;                  /* image size                               */
} rd_config;

rd_config rd_default_config(void);
/* Generate train/query/gallery. 0 on success, -1 (message printed) if out
   of memory. Bitwise the same for a config on any machine with IEEE floats. */
int rd_generate(rd_data *d, const rd_config *cfg);
/* Load a Market-1501 directory (bounding_box_train/, query/,
   bounding_box_test/), resized to h x w. skip_bad: skip (and count) images
   that cannot be read or named, instead of failing. 0 or -1 (printed). */
int rd_load_market(rd_data *d, const char *dir, size_t h, size_t w, int skip_bad);
/* Write d in the Market-1501 layout under dir (PNG, or JPEG quality 95). */
int rd_save_market(const rd_data *d, const char *dir, int jpeg);
void rd_free(rd_data *d);
/* FNV-1a of a set's images and labels (checkpoints check the data). */
uint64_t rd_hash(const rd_set *s, uint64_t h);
uint64_t fnv1a(const void *p, size_t n, uint64_t h);
#define FNV_SEED 0xcbf29ce484222325ull

/* ---- network (model.c) -------------------------------------------------- */

typedef enum { NET_RES = 0, NET_MOBILE = 1, NET_SHUFFLE = 2, NET_RES18 = 3, NET_COUNT } net_kind;

/* The backbone's shape: its kind, a channel multiplier (channels are
   rounded to multiples of 8), blocks per stage, and the stem's stride. */
typedef struct net_arch {
    net_kind kind;
    float width;          /* 1: the preset's channels                    */
    size_t depth;         /* blocks per stage (res18: 2 is ResNet-18)    */
    size_t stem_stride;   /* 1 keeps full resolution, 2 halves it         */
} net_arch;

/* A tensor in the activation arena: n x h x w x c (NHWC); n is the batch. */
typedef struct tensor { size_t off, h, w, c; } tensor;

typedef enum { OP_CONV, OP_BN, OP_RELU, OP_ADD, OP_SHUFFLE, OP_GAP, OP_FC, OP_KINDS } op_kind;
/* profile slots: forward per kind, backward per kind, then conv's backward
   split into data and weight */
#define NET_PROF (2 * OP_KINDS + 2)

typedef struct op {
    op_kind kind;
    int in, in2, out;       /* tensor indices (in2: OP_ADD's second input)   */
    hr_conv2d cd;           /* OP_CONV (n set per call)                      */
    size_t w, b;            /* parameter offsets (b: SIZE_MAX = none)        */
    size_t stat;            /* OP_BN: offset of running mean, var in state   */
    size_t save;            /* OP_BN: offset of batch mean, 1/std in bn_save */
    size_t groups;          /* OP_SHUFFLE                                    */
    int relu;               /* OP_BN, OP_ADD: a ReLU on the output, fused    */
    int first_in, first_in2; /* the backward's first write to d(in), d(in2):
                                it stores, later ones add (net_build)        */
} op;

/* A parameter tensor: a slice of the one parameter allocation. Its name
   (conv3.w, bn2.gamma, fc.b, head.w) and shape are those of the weights
   file (train.c: --init, --save-weights); conv weights are OHWI. */
typedef struct ptensor {
    size_t off, size;
    int decay;            /* L2 weight decay applies (conv, FC, head W)  */
    int zero;             /* starts at 0 (the last BN gamma of a block)   */
    char name[16];
    size_t ndim, dims[4];
} ptensor;

#define NET_MAX_OPS 768      /* res18 at --depth 8 fits */
#define NET_MAX_TENSORS 768
#define NET_MAX_PARAMS 512

typedef struct net {
    net_arch arch;
    size_t h, w, emb, classes, max_batch;
    op ops[NET_MAX_OPS];        int nops;
    tensor t[NET_MAX_TENSORS];  int nt;
    ptensor p[NET_MAX_PARAMS];  int np;
    size_t nparams;             /* floats in params (head W included)       */
    size_t head_w;              /* offset of the head's W (classes x emb)    */
    size_t nstate;              /* BN running statistics (floats)            */
    size_t nacts;               /* floats of one activation arena            */
    int zero_dacts;             /* a tensor no backward writes: zero them all */
    float *params, *grads;      /* nparams each                              */
    float *state;               /* nstate                                    */
    float *acts, *dacts;        /* nacts each (max_batch images)             */
    float *bn_save;             /* per BN op: batch mean, inv std (2c each)  */
    size_t nbn_save;
    float *bn_tmp;              /* BN's scratch: chunk sums and coefficients */
    size_t bn_c;                /*   of the widest BN (channels)             */
    void *mem;                  /* the one block all of the above are carved
                                   from, each piece 64-byte aligned          */
    int nconv, nbn;             /* layers named so far (conv{i}, bn{i})      */
    int profile;                /* time each layer kind (--profile)          */
    double prof[NET_PROF];      /* seconds: see net_profile_print            */
    double prof_op[NET_MAX_OPS][3]; /* per op: forward, backward (data), weight */
} net;

/* Lay out the network (no allocation), then allocate and initialize it. */
int net_build(net *m, const net_arch *a, size_t h, size_t w, size_t emb,
              size_t classes, size_t max_batch);
int net_alloc(net *m, uint64_t seed);
void net_free(net *m);
/* Forward of n images x (n x h x w x 3) to the embeddings; train: BN with
   batch statistics (and running averages updated), else running ones.
   Returns a pointer to the n x emb embeddings (inside the arena). */
const float *net_forward(net *m, const float *x, size_t n, int train);
/* Backward from d(embeddings) (n x emb): grads += (call after forward). */
void net_backward(net *m, const float *demb, size_t n);
const char *net_name(net_kind k);
void net_profile_print(const net *m, size_t images);
extern const char *const NET_NAMES[NET_COUNT];

/* ---- the weights file (weights.c; examples/python/hrweights.py) -------- */

typedef struct wt_tensor { char name[24]; size_t ndim, dims[4]; float *data; } wt_tensor;
/* tensors of a network's file: parameters, then the BN statistics */
size_t wt_net_count(const net *m);
size_t wt_net_list(wt_tensor *t, const net *m, const char *prefix, const float *params,
                   const float *state);
/* 0, or -1 with the file named and the problem printed (nothing changed) */
int wt_write(const char *path, const wt_tensor *t, size_t n);
int wt_load_net(net *m, const char *path);

/* ---- misc --------------------------------------------------------------- */
double now_s(void);
void die_hr(const char *what, hr_status s);

#endif
