/* hardreid_mpi.c - hardreid-difficulty over MPI ranks (built as hardreid-mpi).
 *
 * The same outputs as the single-process CLI (examples/hardreid_difficulty.c),
 * byte for byte, for any number of ranks: c_i = max_{j != i} cos(w_i, w_j)
 * and the nearest j of every row of W (N x d, .npy). Rank r reads only its
 * rows [r N / P, (r + 1) N / P) and keeps them; the other blocks travel
 * around a ring so that every pair of rows is computed once, on one rank:
 *
 *   step 0        every rank: its own block, pairs i < j within it
 *   step s, 1 <= s < P/2 (P odd: s <= (P-1)/2)
 *                 rank r: its block x the block of rank r - s (mod P)
 *   step P/2, P even
 *                 ranks r and r + P/2 hold each other's block: one pair of
 *                 blocks for two ranks, so the lower rank takes its block x
 *                 the first half of the visitor's rows and the upper rank
 *                 the second half of its own rows x the whole visitor
 *
 * Blocks r and q are d = (r - q) mod P apart one way and P - d the other;
 * step min(d, P - d) meets them once (twice, split in halves, when d = P/2),
 * so about half the P - 1 steps of a full ring suffice. Each step's block
 * goes on to the next rank (MPI_Isend / MPI_Irecv into a second buffer)
 * while the current one is computed.
 *
 * Every rank folds its pairs into running maxima over all N rows
 * (hr_difficulty_pairs with global row indices); one MPI_MAXLOC reduction
 * on MPI_FLOAT_INT merges them on rank 0. The library's maxima are a total
 * order (larger value, then smaller index; zero stored as +0.0f) and a
 * pair's cosine does not depend on the block it is computed in, so any
 * split gives hr_difficulty's result bit for bit: see README.md here.
 *
 * Errors (unreadable or bad file, NaN, --unit-rows on rows that are not,
 * out of memory, an unwritable output) are agreed on by all ranks with an
 * MPI_Allreduce before the ring starts and at the end: every rank exits 1,
 * the lowest failing rank alone prints one line, no output is left behind.
 */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with XSI: realpath (cli_common.h) */
#define HARDREID_IMPLEMENTATION
#include "../../hardreid.h"
#define NPY_IMPLEMENTATION
#include "../npy.h"
#include "../cli_common.h"

#include <mpi.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const char usage_text[] =
"usage: mpirun -np P hardreid-mpi [options] W.npy\n"
"\n"
"hardreid-difficulty distributed over P MPI ranks: the same outputs, byte for\n"
"byte, for any P. W.npy: a 2-D float32 or float64 array (C or Fortran order,\n"
".npy format 1-3, either byte order) that every rank can read at the same path\n"
"(a shared file system); rank r reads only its rows [r N/P, (r+1) N/P).\n"
"\n"
"Writes on rank 0 (PREFIX defaults to W without its .npy):\n"
"  PREFIX.difficulty.npy  float32 [N]: c_i = max_{j != i} cos(w_i, w_j)\n"
"  PREFIX.nearest.npy     int32 [N]: that j (smallest j on ties; -1 if N = 1)\n"
"\n"
"options (a value follows as --opt V or --opt=V):\n"
"  --prefix PREFIX      output prefix (see above)\n"
"  -o, --difficulty P   path of the difficulty .npy (overrides PREFIX)\n"
"  --nearest P          path of the nearest-identity .npy\n"
"  --unit-rows          rows are already unit length: skip normalization\n"
"  --threads T          OpenMP threads per rank (default: OMP_NUM_THREADS, else\n"
"                       the cores the rank may run on / the ranks on its node,\n"
"                       at least 1)\n"
"  --isa NAME           auto or an ISA path listed below (default: auto / HR_ISA)\n"
"  --hardest M          list the M hardest identities in the summary (10)\n"
"  -q, --quiet          no summary on stderr\n"
"  -h, --help           this text\n"
"  --version            the version of hardreid this tool was built from\n"
"\n"
"Outputs as hardreid-difficulty's: - is standard output (rank 0's), a symlink\n"
"is written through, a device or FIFO directly. See hardreid-mpi(1).\n"
"\n"
"The summary on stderr (rank 0) gives N, d, ranks, threads, the slowest rank's\n"
"time per phase, GFLOP/s counted as N(N-1)d flops (as hardreid-difficulty) and\n"
"the bytes each rank sends per ring step.\n"
"Exit status: 0 ok, 1 bad input or failure (one message, from the lowest failing\n"
"rank; no output is left behind), 2 usage. mpirun adds its own report of the\n"
"non-zero status unless run as mpirun -q.\n";

#define TOOL "hardreid-mpi"

typedef struct opts {
    const char *in, *prefix, *path[2], *isa;
    size_t hardest;
    int unit_rows, threads, quiet;
} opts;

/* one rank's view of the run */
typedef struct ctx {
    int rank, nranks;
    char err[1024];       /* this rank's message, printed if it is the lowest to fail */
    int failed;
} ctx;

static void fail(ctx *x, const char *fmt, ...)
{
    va_list ap;
    size_t len;
    if (x->failed) return; /* the first problem is the one to report */
    x->failed = 1;
    len = (size_t)snprintf(x->err, sizeof x->err, TOOL ": ");
    va_start(ap, fmt);
    vsnprintf(x->err + len, sizeof x->err - len, fmt, ap);
    va_end(ap);
}

/* 1 if some rank failed. All ranks call it at the same points; the lowest
   failing rank prints its message, so a bad input gives one line however
   many ranks saw it. */
static int agree_failed(ctx *x)
{
    int mine = x->failed ? x->rank : INT_MAX, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == INT_MAX) return 0;
    if (first == x->rank) {
        fprintf(stderr, "%s\n", x->err);
        fflush(stderr);
    }
    return 1;
}

static int usage_error(int talk, const char *msg, const char *arg)
{
    if (talk)
        fprintf(stderr, TOOL ": %s%s%s\n(run with --help for usage)\n", msg, arg ? ": " : "",
                arg ? arg : "");
    return 2;
}

static const struct option long_opts[] = {
    CLI_COMMON_OPTS,
    { NULL, 0, NULL, 0 }
};

/* -1 to go on, else an exit status; every rank parses the same argv, only
   rank 0 (talk) says anything */
static int parse_args(int argc, char **argv, opts *o, int talk)
{
    int ch;
    size_t t;
    char opt[3];
    memset(o, 0, sizeof *o);
    o->hardest = 10;
    opterr = 0; /* its messages are ours: usage_error */
    while ((ch = getopt_long(argc, argv, ":o:qh", long_opts, NULL)) != -1) {
        const char *v = optarg;
        switch (ch) {
        case 'h':
            if (talk) { fputs(usage_text, stdout); cli_isa_help(stdout); }
            return 0;
        case OPT_VERSION:
            if (talk) printf(TOOL " (hardreid) %s\n", HARDREID_VERSION_STRING);
            return 0;
        case 'q': o->quiet = 1; break;
        case OPT_UNIT: o->unit_rows = 1; break;
        case OPT_PREFIX: o->prefix = v; break;
        case 'o': o->path[0] = v; break;
        case OPT_NEAREST: o->path[1] = v; break;
        case OPT_ISA: o->isa = v; break;
        case OPT_THREADS:
            if (!parse_size(v, &t) || t == 0 || t > 4096)
                return usage_error(talk, "--threads needs an integer 1..4096", v);
            o->threads = (int)t;
            break;
        case OPT_HARDEST:
            if (!parse_size(v, &o->hardest)) return usage_error(talk, "--hardest needs an integer >= 0", v);
            break;
        default: {
            const char *arg, *msg = cli_opt_error(ch, argv, "oqh", &arg, opt);
            return usage_error(talk, msg, arg);
        }
        }
    }
    if (optind == argc) return usage_error(talk, "no input file", NULL);
    if (optind + 1 < argc) return usage_error(talk, "more than one input file", argv[optind + 1]);
    o->in = argv[optind];
    if (o->isa) {
        hr_isa want;
        char msg[160];
        if (hr_isa_from_name(o->isa, &want) != HR_OK)
            return usage_error(talk, cli_isa_error(msg, sizeof msg), o->isa);
    }
    return -1;
}

/* ---- outputs (rank 0) and input errors, as the CLI's (cli_common.h) --- */

/* A temp output is made (and removed) before anything is read, so a bad
   output path fails in seconds, not after the computation; the real ones
   are made only to be written, after the ring, so that a rank killed
   mid-ring (mpirun then SIGKILLs the rest) leaves no temp file behind. */
static int out_open_x(outfile *o, ctx *x, const char *in)
{
    char err[sizeof x->err];
    if (out_open(o, in, err, sizeof err) == 0) return 0;
    fail(x, "%s", err);
    return -1;
}

/* The message hardreid-difficulty gives for the same reader error. */
static void npy_fail(ctx *x, const char *path, npy_status s, const npy_info *info)
{
    char err[sizeof x->err];
    npy_error_text(err, sizeof err, path, s, info);
    fail(x, "%s", err);
}

/* first row of block k of P over n rows: balanced, sizes differ by <= 1 */
static size_t blk_first(size_t k, size_t n, int p)
{
    return (size_t)((uint64_t)k * n / (uint64_t)p);
}
static size_t blk_rows(size_t k, size_t n, int p)
{
    return blk_first(k + 1, n, p) - blk_first(k, n, p);
}

/* Rows of its visitor that rank q computes with at ring step t, and so
   receives for it: the whole block, except the lower rank of an antipodal
   pair (P even, t = P/2), which takes the first half. */
static size_t step_rows(int q, int t, size_t n, int p)
{
    size_t b = (size_t)((q - t % p + p) % p), rows = blk_rows(b, n, p);
    return p % 2 == 0 && t == p / 2 && q < p / 2 ? rows / 2 : rows;
}

/* Post ring step t's exchange: src (the block this rank computes with
   before step t) to rank + 1, which computes with it at step t, and step
   t's visitor from rank - 1 into dst. Returns the bytes sent. */
static double post_step(int t, const float *src, float *dst, size_t n, size_t d, int rank, int p,
                        MPI_Datatype rowtype, MPI_Request req[2])
{
    const int next = (rank + 1) % p, prev = (rank + p - 1) % p;
    const size_t rs = step_rows(next, t, n, p), rr = step_rows(rank, t, n, p);
    MPI_Irecv(dst, (int)rr, rowtype, prev, t, MPI_COMM_WORLD, &req[0]);
    MPI_Isend(src, (int)rs, rowtype, next, t, MPI_COMM_WORLD, &req[1]);
    return (double)rs * (double)d * sizeof(float);
}

typedef struct float_int { float v; int i; } float_int; /* MPI_FLOAT_INT */

/* One rank's run: what main's steps hand on to each other. */
typedef struct run {
    ctx x;
    opts o;
    npy_info info;
    outfile out[2];
    char *base;
    float *own, *buf[2], *cmax; /* own rows; the visitor buffers; maxima */
    int32_t *nmax;
    float_int *pairs;           /* the reduction's interleaved copy */
    size_t n, d, row0, nown;
    unsigned flags;
    int nsteps, threads;
    MPI_Datatype rowtype;
    /* seconds: read, compute, of which waiting for blocks, reduce, write;
       bytes sent per full and per half step */
    double t_read, t_comp, t_wait, t_red, t_write, sent_full, sent_half;
    uint64_t npairs;            /* pairs of rows this rank computed */
} run;

/* hr_set_isa and the team size: --threads, else the node's cores shared
   among the ranks on it. */
static void set_threads(run *r)
{
    ctx *x = &r->x;
    const opts *o = &r->o;
    hr_status hs;
    if (o->isa) {
        hr_isa want = HR_ISA_AUTO;
        (void)hr_isa_from_name(o->isa, &want); /* checked in parse_args */
        if ((hs = hr_set_isa(want)) != HR_OK)
            fail(x, "--isa %s: %s", o->isa, hr_status_string(hs));
    }
#ifdef _OPENMP
    if (o->threads) omp_set_num_threads(o->threads);
    else if (!getenv("OMP_NUM_THREADS")) {
        /* ranks on one node share its cores; omp_get_num_procs is what this
           rank's binding lets it use */
        MPI_Comm node;
        int local;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
        omp_set_num_threads(omp_get_num_procs() / local > 1 ? omp_get_num_procs() / local : 1);
    }
    r->threads = omp_get_max_threads();
#else
    if (o->threads > 1 && x->rank == 0)
        fprintf(stderr, TOOL ": built without OpenMP: --threads %d ignored, 1 thread per rank\n", o->threads);
#endif
}

/* rank 0: the output paths and a probe of their temp files */
static void prepare_outputs(run *r)
{
    ctx *x = &r->x;
    const opts *o = &r->o;
    size_t k;
    static const char *const suffix[2] = { ".difficulty.npy", ".nearest.npy" };
    size_t len;
    r->base = cat2(o->prefix ? o->prefix : o->in, "");
    if (r->base && !o->prefix && (len = strlen(r->base)) > 4 && !strcmp(r->base + len - 4, ".npy"))
        r->base[len - 4] = 0;
    for (k = 0; k < 2 && r->base; k++)
        if (!(r->out[k].path = o->path[k] ? cat2(o->path[k], "") : cat2(r->base, suffix[k]))) break;
    if (!r->base || k < 2) fail(x, "%s: out of memory", o->in);
    for (k = 0; k < 2 && !x->failed; k++)
        if (!strcmp(r->out[k].path, o->in)) fail(x, "%s: an output path equals the input", o->in);
    if (!x->failed) {
        char err[sizeof x->err];
        if (out_prepare_all(r->out, 2, o->in, err, sizeof err) != 0) fail(x, "%s", err);
    }
    for (k = 0; k < 2 && !x->failed; k++)
        if (!r->out[k].direct && out_open_x(&r->out[k], x, o->in) == 0) { /* a probe: the temp file goes */
            fclose(r->out[k].f);
            r->out[k].f = NULL;
            cli_tmp_track(r->out[k].tmp, 0);
            remove(r->out[k].tmp);
            free(r->out[k].tmp);
            r->out[k].tmp = NULL;
        }
}

/* the header, then this rank's rows only, checked finite; the ring's
   buffers, the running maxima, the reduction's copy */
static void read_rows(run *r)
{
    ctx *x = &r->x;
    const opts *o = &r->o;
    npy_status ns;
    size_t n2 = 0, d2 = 0, maxrows, i, k;
    double t0;
    t0 = MPI_Wtime();
    if (!x->failed) {
        ns = npy_read_header_file(o->in, &r->info);
        if (ns == NPY_OK) {
            r->n = (size_t)r->info.shape[0];
            r->d = (size_t)r->info.shape[1];
            if (r->n == 0 || r->d == 0)
                fail(x, "%s: empty matrix, shape (%lu, %lu): need at least one identity and one feature",
                     o->in, (unsigned long)r->n, (unsigned long)r->d);
            else if (r->n > INT32_MAX)
                fail(x, "%s: %lu rows: more identities than int32 indices hold", o->in, (unsigned long)r->n);
            else if (r->d > INT_MAX)
                fail(x, "%s: %lu columns: more than an MPI count holds", o->in, (unsigned long)r->d);
        }
        if (ns == NPY_OK && !x->failed) {
            r->row0 = blk_first((size_t)x->rank, r->n, x->nranks);
            r->nown = blk_rows((size_t)x->rank, r->n, x->nranks);
            ns = npy_read_rows_file(o->in, r->row0, r->nown, &r->own, &n2, &d2, &r->info);
            if (ns == NPY_OK && (n2 != r->n || d2 != r->d)) {
                fail(x, "%s: the file changed while it was being read", o->in);
            }
        }
        if (ns != NPY_OK) npy_fail(x, o->in, ns, &r->info);
    }
    /* say where: hr_difficulty_pairs would only say HR_ENONFINITE */
    for (i = 0; !x->failed && i < r->nown * r->d; i++)
        if (!isfinite(r->own[i]))
            fail(x, "%s: non-finite value %g at row %lu, column %lu%s", o->in, (double)r->own[i],
                 (unsigned long)(r->row0 + i / r->d), (unsigned long)(i % r->d),
                 r->info.elsize == 8 && !isnan(r->own[i]) ? " (NaN/Inf, or a float64 beyond float32's range)" : "");
    if (!x->failed) {
        /* two visitor buffers (one computed, one arriving), running maxima
           over all N rows, the reduction's interleaved copy */
        maxrows = blk_rows((size_t)x->nranks - 1, r->n, x->nranks); /* the last is ceil(N / P) */
        for (k = 0; k < 2; k++) r->buf[k] = (float *)malloc(maxrows * r->d * sizeof(float) + 1);
        r->cmax = (float *)malloc(r->n * sizeof *r->cmax);
        r->nmax = (int32_t *)malloc(r->n * sizeof *r->nmax);
        r->pairs = (float_int *)malloc(r->n * sizeof *r->pairs);
        if (!r->buf[0] || !r->buf[1] || !r->cmax || !r->nmax || !r->pairs)
            fail(x, "%s: out of memory (rank %d: %lu rows of %lu)", o->in, x->rank,
                 (unsigned long)r->nown, (unsigned long)r->n);
    }
    r->t_read = MPI_Wtime() - t0;
}

/* 1 if every rank read the same shape (one file for all: a path that is
   a different file on another node would make the ring's message sizes
   disagree); rank 0 says so otherwise. */
static int same_file(const run *r)
{
    const ctx *x = &r->x;
    const opts *o = &r->o;
    uint64_t mine[4] = { r->n, ~(uint64_t)r->n, r->d, ~(uint64_t)r->d }, all[4];
    MPI_Allreduce(mine, all, 4, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (all[0] != ~all[1] || all[2] != ~all[3]) {
        if (x->rank == 0)
            fprintf(stderr, TOOL ": %s: the ranks read different shapes (%llu..%llu rows, %llu..%llu "
                    "columns): not one file on a shared file system?\n", o->in,
                    (unsigned long long)~all[1], (unsigned long long)all[0],
                    (unsigned long long)~all[3], (unsigned long long)all[2]);
        return 0;
    }
    return 1;
}

/* the own block, then the ring; 1 if the ranks agreed that one failed
   after the own block (the rows are valid everywhere before any rank goes
   round) */
static int compute(run *r)
{
    const size_t n = r->n, d = r->d, nown = r->nown, row0 = r->row0;
    float *const own = r->own, *const cmax = r->cmax;
    int32_t *const nmax = r->nmax;
    ctx *x = &r->x;
    const opts *o = &r->o;
    MPI_Request req[2];
    hr_block a, b;
    hr_status hs;
    double t0, tw, bytes;
    int t;
    t0 = MPI_Wtime();
    MPI_Type_contiguous((int)d, MPI_FLOAT, &r->rowtype);
    MPI_Type_commit(&r->rowtype);
    hr_maxima_reset(cmax, nmax, n);
    r->nsteps = x->nranks / 2; /* (P-1)/2 full steps, + 1 half step when P is even */

    /* the block of rank r - 1 for step 1 arrives while the own block runs */
    if (r->nsteps > 0) {
        bytes = post_step(1, own, r->buf[1], n, d, x->rank, x->nranks, r->rowtype, req);
        *(r->nsteps == 1 && x->nranks % 2 == 0 ? &r->sent_half : &r->sent_full) = bytes;
    }
    a.w = own; a.n = nown; a.ld = d; a.first = row0; a.c = cmax + row0; a.nearest = nmax + row0;
    hs = hr_difficulty_pairs(&a, NULL, d, r->flags);
    r->npairs += (uint64_t)nown * (nown ? nown - 1 : 0) / 2;
    if (hs == HR_EINVAL && o->unit_rows)
        fail(x, "%s: " CLI_NOT_UNIT " (rows %lu..%lu)", o->in, (unsigned long)row0,
             (unsigned long)(row0 + nown - 1));
    else if (hs != HR_OK)
        fail(x, "%s: hr_difficulty_pairs: %s (rows %lu..%lu)", o->in, hr_status_string(hs),
             (unsigned long)row0, (unsigned long)(row0 + nown - 1));
    tw = MPI_Wtime();
    if (r->nsteps > 0) MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
    r->t_wait += MPI_Wtime() - tw;
    /* the rows are valid everywhere before any rank goes round */
    if (agree_failed(x)) return 1;

    for (t = 1; t <= r->nsteps; t++) {
        const size_t vb = (size_t)((x->rank - t % x->nranks + x->nranks) % x->nranks);
        const size_t vrows = step_rows(x->rank, t, n, x->nranks), vfirst = blk_first(vb, n, x->nranks);
        float *vis = r->buf[t % 2];
        if (x->rank == x->nranks - 1 && t == (r->nsteps + 1) / 2) cli_fault("ring", SIGKILL);
        if (t < r->nsteps) {
            bytes = post_step(t + 1, vis, r->buf[(t + 1) % 2], n, d, x->rank, x->nranks, r->rowtype, req);
            if (t + 1 == r->nsteps && x->nranks % 2 == 0) r->sent_half = bytes;
            else if (bytes > r->sent_full) r->sent_full = bytes;
        }
        a.w = own; a.n = nown; a.first = row0; a.c = cmax + row0; a.nearest = nmax + row0;
        b.w = vis; b.n = vrows; b.ld = d; b.first = vfirst; b.c = cmax + vfirst; b.nearest = nmax + vfirst;
        if (x->nranks % 2 == 0 && t == x->nranks / 2 && x->rank >= x->nranks / 2) {
            /* upper rank of the antipodal pair: the second half of its
               own rows against all of the visitor (the lower rank has
               its block x the visitor's first half = our first half) */
            const size_t h = nown / 2;
            a.w = own + h * d; a.n = nown - h; a.first = row0 + h;
            a.c = cmax + row0 + h; a.nearest = nmax + row0 + h;
        }
        r->npairs += (uint64_t)a.n * b.n;
        if (!x->failed && (hs = hr_difficulty_pairs(&a, &b, d, r->flags)) != HR_OK)
            fail(x, "%s: hr_difficulty_pairs: %s (ring step %d, rows %lu..%lu x %lu..%lu)", o->in,
                 hr_status_string(hs), t, (unsigned long)a.first, (unsigned long)(a.first + a.n - 1),
                 (unsigned long)b.first, (unsigned long)(b.first + b.n - 1));
        tw = MPI_Wtime();
        if (t < r->nsteps) MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
        r->t_wait += MPI_Wtime() - tw;
    }
    r->t_comp = MPI_Wtime() - t0;
    return 0;
}

/* MAXLOC = the library's order on (value, index), onto rank 0 */
static void reduce_maxima(run *r)
{
    const ctx *x = &r->x;
    double t0;
    size_t i;
    t0 = MPI_Wtime();
    for (i = 0; i < r->n; i++) { r->pairs[i].v = r->cmax[i]; r->pairs[i].i = r->nmax[i]; }
    MPI_Reduce(x->rank == 0 ? MPI_IN_PLACE : (void *)r->pairs, r->pairs, (int)r->n, MPI_FLOAT_INT,
               MPI_MAXLOC, 0, MPI_COMM_WORLD);
    if (x->rank == 0)
        for (i = 0; i < r->n; i++) { r->cmax[i] = r->pairs[i].v; r->nmax[i] = r->pairs[i].i; }
    r->t_red = MPI_Wtime() - t0;
}

/* rank 0: both temp files, then both renamed */
static void write_outputs(run *r)
{
    ctx *x = &r->x;
    const opts *o = &r->o;
    npy_status ns;
    double t0;
    size_t k;
    t0 = MPI_Wtime();
    if (x->rank == 0) {
        for (k = 0; k < 2 && !x->failed; k++) out_open_x(&r->out[k], x, o->in);
        for (k = 0; k < 2 && !x->failed; k++) {
            errno = 0;
            ns = npy_write(r->out[k].f, k == 0 ? "<f4" : "<i4", 1, &r->n,
                           k == 0 ? (const void *)r->cmax : (const void *)r->nmax);
            if (ns != NPY_OK || out_close(&r->out[k]) != 0)
                fail(x, "%s: writing %s failed: %s", o->in, r->out[k].path,
                     errno ? strerror(errno) : "I/O error");
        }
        if (!x->failed) {
            char err[sizeof x->err];
            if (out_commit_all(r->out, 2, o->in, err, sizeof err) != 0) fail(x, "%s", err);
        }
    }
    r->t_write = MPI_Wtime() - t0;
}

/* the slowest rank's times, the pairs per rank, the hardest rows */
static void summary(run *r)
{
    const size_t n = r->n;
    const float *const cmax = r->cmax;
    const int32_t *const nmax = r->nmax;
    const ctx *x = &r->x;
    const opts *o = &r->o;
    size_t k;
    double mine[8] = { r->t_read, r->t_comp, r->t_wait, r->t_red, r->sent_full, r->sent_half,
                       (double)r->threads, -(double)r->threads };
    double mx[8];
    /* every pair once: the total, and the busiest and idlest rank */
    uint64_t pm[3] = { r->npairs, r->npairs, ~r->npairs }, psum = 0, pmax[3];
    MPI_Reduce(mine, mx, 8, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(pm, &psum, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(pm + 1, pmax + 1, 2, MPI_UINT64_T, MPI_MAX, 0, MPI_COMM_WORLD);
    if (x->rank == 0 && !o->quiet) {
        const double flops = (double)n * (double)(n - 1) * (double)r->d;
        size_t m = o->hardest < n ? o->hardest : n, *top, j;
        char thr[32];
        if (mx[6] == -mx[7]) sprintf(thr, "%d thread%s", (int)mx[6], mx[6] == 1 ? "" : "s");
        else sprintf(thr, "%d-%d threads", (int)-mx[7], (int)mx[6]);
        fprintf(stderr, "%s: N = %lu identities, d = %lu (%s, %s order), isa %s, %d rank%s x %s\n",
                o->in, (unsigned long)n, (unsigned long)r->d, dtype_name(r->info.descr),
                r->info.fortran_order ? "Fortran" : "C", hr_isa_name(hr_get_isa()), x->nranks,
                x->nranks == 1 ? "" : "s", thr);
        fprintf(stderr, "time: read %.3f s, compute %.3f s (of which waiting for blocks %.3f s), "
                "reduce %.3f s, write %.3f s; %.1f GFLOP/s (N(N-1)d flops)\n",
                mx[0], mx[1], mx[2], mx[3], r->t_write, mx[1] > 0 ? flops / mx[1] * 1e-9 : 0.0);
        fprintf(stderr, "ring: %d step%s (%d full, %d half); bytes sent per rank per step: %.0f full, %.0f half\n",
                r->nsteps, r->nsteps == 1 ? "" : "s", (x->nranks - 1) / 2, x->nranks % 2 == 0 && x->nranks > 1,
                mx[4], mx[5]);
        fprintf(stderr, "pairs: %llu computed, N(N-1)/2 = %llu; per rank %llu..%llu\n",
                (unsigned long long)psum, (unsigned long long)n * (n - 1) / 2,
                (unsigned long long)~pmax[2], (unsigned long long)pmax[1]);
        if (m && (top = (size_t *)malloc(m * sizeof *top)) != NULL) {
            hardest(top, m, cmax, n);
            fprintf(stderr, "hardest identities (difficulty, nearest):\n");
            for (j = 0; j < m; j++)
                fprintf(stderr, "  %8lu  %.6f  %ld\n", (unsigned long)top[j], (double)cmax[top[j]],
                        (long)nmax[top[j]]);
            free(top);
        }
        for (k = 0; k < 2; k++) fprintf(stderr, "wrote %s\n", out_name(&r->out[k]));
    }
}

int main(int argc, char **argv)
{
    run r;
    size_t k;
    int rc, status = 1;

    MPI_Init(&argc, &argv);
    memset(&r, 0, sizeof r);
    r.rowtype = MPI_DATATYPE_NULL;
    r.threads = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r.x.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r.x.nranks);
    cli_catch_signals(); /* rank 0's temp outputs go if the run is killed */
    if ((rc = parse_args(argc, argv, &r.o, r.x.rank == 0)) >= 0) {
        MPI_Finalize();
        return rc;
    }
    r.flags = r.o.unit_rows ? HR_UNIT_ROWS : 0;
    set_threads(&r);
    if (r.x.rank == 0 && !r.x.failed) prepare_outputs(&r);
    read_rows(&r);
    /* every rank calls agree_failed at the same points, in this order */
    if (agree_failed(&r.x) || !same_file(&r)) goto done;
    if (compute(&r) || agree_failed(&r.x)) goto done;
    reduce_maxima(&r);
    write_outputs(&r);
    if (agree_failed(&r.x)) goto done;
    summary(&r);
    status = 0;

done:
    for (k = 0; k < 2; k++) { out_discard(&r.out[k]); free(r.out[k].path); }
    if (r.rowtype != MPI_DATATYPE_NULL) MPI_Type_free(&r.rowtype);
    free(r.base); free(r.own); free(r.buf[0]); free(r.buf[1]); free(r.cmax); free(r.nmax); free(r.pairs);
    MPI_Finalize();
    return status;
}
