/* tests/fuzz/fuzz_ckpt.c - the trainer's checkpoint reader (load_ckpt in
   examples/train/train.c, static there: the file is included here whole,
   its main renamed; model.c, data.c and market.c are linked beside it, see
   FUZZ_EXTRA_ckpt in tests/tests.mk) on arbitrary files.

   One tiny trainer is set up once (the configuration of CKPT_ARGS below;
   the seed corpus holds a checkpoint that build/train saved with the same
   flags). Each input is written to a temp file and loaded twice: as it is,
   and with its checksum recomputed (so that what lies behind the checksum,
   the header's fields and sizes, is reached too: a crafted file, or a
   corruption the FNV-1a sum misses).

   What train.c promises: a checkpoint that does not match this run or is
   corrupt is refused with a message and exit status 1 ("read aside: a
   corrupt file changes nothing"). Checks: no crash or sanitizer report (the
   trainer's exit() is caught with longjmp, what load_ckpt had opened or
   allocated is released); every exit is status 1; a refused file leaves the
   trainer's state (parameters, BN state, optimizer, difficulties, nearest,
   permutation, step, cursor, generators) bitwise as it was; an accepted one
   sets it to the file's bytes. Accepted checkpoints are also checked for
   what the loop relies on (cursor <= images, the permutation a permutation
   of the training images, nearest in [-1, classes)): load_ckpt does not
   validate these, so with FUZZ_CKPT_STRICT=1 a violation aborts, else it
   is counted and reported once (see tests/fuzz/repro/ckpt_README.txt). */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static jmp_buf fz_jb;
static int fz_armed;
static void *fz_live[16];
static int fz_nlive;
static FILE *fz_file;

static __attribute__((noreturn)) void fz_exit(int code) {
    if (fz_armed) {
        fz_armed = 0;
        longjmp(fz_jb, code + 1000);
    }
    exit(code);
}
static void *fz_calloc(size_t n, size_t s) {
    void *p = calloc(n, s);
    if (fz_armed && p) {
        if (fz_nlive == 16) abort();
        fz_live[fz_nlive++] = p;
    }
    return p;
}
static void fz_free(void *p) {
    int i;
    for (i = 0; i < fz_nlive; i++)
        if (fz_live[i] == p) { fz_live[i] = fz_live[--fz_nlive]; break; }
    free(p);
}
static FILE *fz_fopen(const char *path, const char *mode) {
    FILE *f = fopen(path, mode);
    if (fz_armed) fz_file = f;
    return f;
}
static int fz_fclose(FILE *f) {
    if (f == fz_file) fz_file = NULL;
    return fclose(f);
}

/* the refusals' messages: dropped while load_ckpt runs (the log would
   hold one per input) */
static int fz_fprintf(FILE *f, const char *fmt, ...) {
    va_list ap;
    int r = 0;
    if (fz_armed && f == stderr) return 0;
    va_start(ap, fmt);
    r = vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

/* train.c sets its own (the headers above are read already) */
#undef _POSIX_C_SOURCE

#define exit(c) fz_exit(c)
#define calloc(n, s) fz_calloc(n, s)
#define free(p) fz_free(p)
#define fopen(p, m) fz_fopen(p, m)
#define fclose(f) fz_fclose(f)
#define main train_main
#define fprintf fz_fprintf
#include "../../examples/train/train.c"
#undef main
#undef fprintf
#undef fclose
#undef fopen
#undef free
#undef calloc
#undef exit

#include "fuzz.h"

/* the trainer's configuration; tests/fuzz/corpus/ckpt/ holds
   build/train $(CKPT_ARGS) --steps 1 --save FILE */
static const char *CKPT_ARGS[] = {"train", "--net", "shuffle", "--size", "8x8", "--emb", "2",
                                  "--ids-train", "2", "--ids-test", "2", "--imgs", "2", "--cams", "2",
                                  "--distractors", "0", "--P", "2", "--K", "2", "--sampler", "shuffle",
                                  "--threads", "1", "--quiet"};

static trainer *g_t;
static char g_path[64];
static unsigned char *g_snap, *g_buf;
static size_t g_snap_n;
static int g_strict;
static unsigned long g_accepted, g_unsound;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rm_tmp(void) {
    if (g_path[0]) unlink(g_path);
    if (g_accepted || g_unsound)
        fprintf(stderr, "fuzz_ckpt: %lu checkpoints accepted, %lu of them with a state the loop "
                        "cannot use\n", g_accepted, g_unsound);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    opts o;
    chunk ch[8];
    int fd, n, i;
    (void)argc; (void)argv;
    parse(&o, (int)(sizeof CKPT_ARGS / sizeof *CKPT_ARGS), (char **)CKPT_ARGS);
    g_t = (trainer *)xmalloc(sizeof *g_t);
    trainer_init(g_t, &o);
    n = ckpt_chunks(g_t, ch);
    for (i = 0; i < n; i++) g_snap_n += ch[i].n;
    g_snap = (unsigned char *)malloc(g_snap_n + 256);
    strcpy(g_path, "/tmp/fuzz_ckpt_XXXXXX");
    fd = mkstemp(g_path);
    if (fd < 0 || !g_snap) { perror("fuzz_ckpt setup"); abort(); }
    close(fd);
    g_strict = getenv("FUZZ_CKPT_STRICT") && atoi(getenv("FUZZ_CKPT_STRICT"));
    atexit(rm_tmp);
    return 0;
}

/* the state a checkpoint holds, in file order: the chunks, then step,
   cursor and the generators */
static size_t state_bytes(unsigned char *out) {
    chunk ch[8];
    int n = ckpt_chunks(g_t, ch), i;
    size_t off = 0;
    for (i = 0; i < n; i++) { memcpy(out + off, ch[i].p, ch[i].n); off += ch[i].n; }
    memcpy(out + off, &g_t->step, sizeof g_t->step); off += sizeof g_t->step;
    memcpy(out + off, &g_t->cursor, sizeof g_t->cursor); off += sizeof g_t->cursor;
    memcpy(out + off, &g_t->r_sample, sizeof g_t->r_sample); off += sizeof g_t->r_sample;
    memcpy(out + off, &g_t->r_aug, sizeof g_t->r_aug); off += sizeof g_t->r_aug;
    return off;
}

static int cmp_u32(const void *a, const void *b) {
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* what train()'s loop relies on and load_ckpt does not check */
static const char *unsound(void) {
    const size_t n = g_t->ix.nsamples, nids = g_t->ix.nids;
    uint32_t *a = (uint32_t *)malloc((n + 1) * sizeof *a), *b = (uint32_t *)malloc((n + 1) * sizeof *b);
    const char *why = NULL;
    size_t k;
    if (!a || !b) abort();
    memcpy(a, g_t->perm, n * sizeof *a);
    memcpy(b, g_t->ix.sample, n * sizeof *b);
    qsort(a, n, sizeof *a, cmp_u32);
    qsort(b, n, sizeof *b, cmp_u32);
    if (g_t->cursor > n) why = "cursor beyond the training images";
    else if (memcmp(a, b, n * sizeof *a)) why = "permutation is not one of the training images";
    for (k = 0; !why && k < nids; k++)
        if (g_t->nearest[k] < -1 || g_t->nearest[k] >= (int32_t)nids) why = "nearest out of range";
    free(a);
    free(b);
    return why;
}

/* load path; 1 accepted, 0 refused (exit status 1) */
static int try_load(const uint8_t *file, size_t size) {
    volatile int code;
    size_t before, after;
    unsigned char *now;
    FILE *f = fopen(g_path, "wb");
    FZ_CHECK(f && fwrite(file, 1, size, f) == size && fclose(f) == 0, "cannot write %s", g_path);
    before = state_bytes(g_snap);
    fz_nlive = 0;
    fz_file = NULL;
    code = setjmp(fz_jb);
    if (code == 0) {
        fz_armed = 1;
        load_ckpt(g_t, g_path);
        fz_armed = 0;
        FZ_CHECK(fz_nlive == 0 && fz_file == NULL, "accepted, but %d buffers / a FILE left", fz_nlive);
    } else {
        int i;
        for (i = 0; i < fz_nlive; i++) free(fz_live[i]);
        fz_nlive = 0;
        if (fz_file) fclose(fz_file);
        fz_file = NULL;
        FZ_CHECK(code - 1000 == 1, "the loader exited with status %d", code - 1000);
    }
    now = (unsigned char *)malloc(g_snap_n + 256);
    if (!now) abort();
    after = state_bytes(now);
    FZ_CHECK(after == before, "state size changed");
    if (code) {
        FZ_CHECK(memcmp(now, g_snap, before) == 0, "a refused checkpoint changed the trainer's state");
    } else {
        /* the payload, then step, cursor, generators from the header */
        const ckpt_header *hd = (const ckpt_header *)g_buf;
        const size_t pay = before - 2 * sizeof(size_t) - 2 * sizeof(hr_rng);
        memcpy(g_buf, file, sizeof *hd); /* aligned copy of the header */
        FZ_CHECK(size == sizeof *hd + pay && memcmp(now, file + sizeof *hd, pay) == 0,
                 "accepted: state is not the file's payload");
        FZ_CHECK(g_t->step == hd->step && g_t->cursor == hd->cursor &&
                     !memcmp(&g_t->r_sample, &hd->r_sample, sizeof hd->r_sample) &&
                     !memcmp(&g_t->r_aug, &hd->r_aug, sizeof hd->r_aug),
                 "accepted: step / cursor / generators not the file's");
    }
    free(now);
    return code == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *fixed;
    if (!g_buf) g_buf = (unsigned char *)malloc(sizeof(ckpt_header));
    if (!g_buf) abort();
    if (try_load(data, size)) g_accepted++;
    if (size < sizeof(ckpt_header)) return 0;
    /* the same with a checksum that matches */
    fixed = (uint8_t *)malloc(size);
    if (!fixed) abort();
    memcpy(fixed, data, size);
    {
        ckpt_header hd;
        uint64_t sum;
        memcpy(&hd, fixed, sizeof hd);
        hd.checksum = 0;
        sum = fnv1a(&hd, sizeof hd, FNV_SEED);
        sum = fnv1a(fixed + sizeof hd, size - sizeof hd, sum);
        hd.checksum = sum;
        memcpy(fixed, &hd, sizeof hd);
    }
    if (try_load(fixed, size)) {
        const char *why = unsound();
        g_accepted++;
        if (why) {
            FZ_CHECK(!g_strict, "accepted a checkpoint the loop cannot use: %s (cursor %zu)", why,
                     g_t->cursor);
            if (!g_unsound++)
                fprintf(stderr, "fuzz_ckpt: accepted a checkpoint the loop cannot use: %s "
                                "(FUZZ_CKPT_STRICT=1 stops here)\n", why);
        }
    }
    free(fixed);
    return 0;
}
