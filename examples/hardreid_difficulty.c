/* hardreid_difficulty.c - the difficulty CLI (installed as hardreid-difficulty).
 *
 * Reads a classifier weight matrix W (rows = identities, columns = features,
 * e.g. a PyTorch nn.Linear weight saved with np.save) from a .npy file and
 * writes every identity's difficulty c_i = max_{j != i} cos(w_i, w_j), its
 * nearest identity and optionally its top-k neighbours as .npy (and CSV).
 * Outputs go to temporary files in the destination directory (a symlink's
 * target's) and are renamed into place only when everything has been
 * written, so a failed run leaves no partial output behind; "-", devices and
 * FIFOs are written directly at that point (examples/cli_common.h). Run with
 * --help for the options, or see docs/man/hardreid-difficulty.1.
 */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with XSI: realpath (cli_common.h) */
#define HARDREID_IMPLEMENTATION
#include "../hardreid.h"
#define NPY_IMPLEMENTATION
#include "npy.h"
#include "cli_common.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const char usage_text[] =
"usage: hardreid-difficulty [options] W.npy\n"
"\n"
"W.npy: a 2-D float32 or float64 array (C or Fortran order, .npy format 1-3,\n"
"either byte order), one row per identity: e.g. a classifier weight saved with\n"
"np.save(path, model.fc.weight.detach().cpu().numpy()).\n"
"\n"
"Writes (PREFIX defaults to W without its .npy):\n"
"  PREFIX.difficulty.npy  float32 [N]: c_i = max_{j != i} cos(w_i, w_j)\n"
"  PREFIX.nearest.npy     int32 [N]: that j (smallest j on ties; -1 if N = 1)\n"
"  PREFIX.topk_sim.npy    float32 [N, K] and\n"
"  PREFIX.topk_idx.npy    int32 [N, K]: the K nearest, most similar first\n"
"                         (only with --topk; padded with -inf / -1 if N <= K)\n"
"\n"
"options (a value follows as --opt V or --opt=V):\n"
"  --prefix PREFIX      output prefix (see above)\n"
"  -o, --difficulty P   path of the difficulty .npy (overrides PREFIX)\n"
"  --nearest P          path of the nearest-identity .npy\n"
"  --topk K             also the K nearest neighbours of every identity\n"
"  --topk-sim P, --topk-idx P   their paths\n"
"  --csv P              also a CSV: id,difficulty,nearest[,nbr1,sim1,...]\n"
"  --unit-rows          rows are already unit length: skip normalization\n"
"  --threads T          OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
"  --isa NAME           auto or an ISA path listed below (default: auto / HR_ISA)\n"
"  --hardest M          list the M hardest identities in the summary (10)\n"
"  -q, --quiet          no summary on stderr\n"
"  -h, --help           this text\n"
"  --version            the version of hardreid this tool was built from\n"
"\n"
"An output path of - is standard output (one output at most). A symlink is\n"
"written through: its target is replaced, the link stays. A device or FIFO\n"
"(or /dev/stdout) is written directly, at the end, once everything else is\n"
"complete. See hardreid-difficulty(1).\n"
"\n"
"The summary on stderr gives N, d, the time of each phase and GFLOP/s of the\n"
"computation counted as N(N-1)d flops: one triangle of W W^T, the work actually\n"
"done (a full sgemm of W W^T would count 2 N^2 d, twice as much), the same\n"
"count as `make bench`. On a terminal the phases are shown as they start.\n"
"Exit status: 0 ok, 1 bad input or failure (no output is left behind), 2 usage.\n";

typedef struct opts {
    const char *in, *prefix, *csv;
    const char *path[4];     /* difficulty, nearest, topk_sim, topk_idx */
    size_t topk, hardest;
    int unit_rows, threads, quiet;
    const char *isa;
} opts;

enum { OUT_C, OUT_NEAREST, OUT_SIM, OUT_IDX, OUT_ALL = 5 }; /* + the CSV */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "hardreid-difficulty: %s%s%s\n(run with --help for usage)\n",
            msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

enum { OPT_TOPK = OPT_OWN, OPT_SIM, OPT_IDX, OPT_CSV };

static const struct option long_opts[] = {
    CLI_COMMON_OPTS,
    { "topk", required_argument, NULL, OPT_TOPK },
    { "topk-sim", required_argument, NULL, OPT_SIM },
    { "topk-idx", required_argument, NULL, OPT_IDX },
    { "csv", required_argument, NULL, OPT_CSV },
    { NULL, 0, NULL, 0 }
};

/* returns -1 to go on, else an exit status */
static int parse_args(int argc, char **argv, opts *o)
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
        case 'h': fputs(usage_text, stdout); cli_isa_help(stdout); return 0;
        case OPT_VERSION: printf("hardreid-difficulty (hardreid) %s\n", HARDREID_VERSION_STRING); return 0;
        case 'q': o->quiet = 1; break;
        case OPT_UNIT: o->unit_rows = 1; break;
        case OPT_PREFIX: o->prefix = v; break;
        case 'o': o->path[OUT_C] = v; break;
        case OPT_NEAREST: o->path[OUT_NEAREST] = v; break;
        case OPT_SIM: o->path[OUT_SIM] = v; break;
        case OPT_IDX: o->path[OUT_IDX] = v; break;
        case OPT_CSV: o->csv = v; break;
        case OPT_ISA: o->isa = v; break;
        case OPT_TOPK:
            if (!parse_size(v, &o->topk) || o->topk == 0 || o->topk > 1024)
                return usage_error("--topk needs an integer 1..1024", v);
            break;
        case OPT_THREADS:
            if (!parse_size(v, &t) || t == 0 || t > 4096)
                return usage_error("--threads needs an integer 1..4096", v);
            o->threads = (int)t;
            break;
        case OPT_HARDEST:
            if (!parse_size(v, &o->hardest)) return usage_error("--hardest needs an integer >= 0", v);
            break;
        default: {
            const char *arg, *msg = cli_opt_error(ch, argv, "oqh", &arg, opt);
            return usage_error(msg, arg);
        }
        }
    }
    if (optind == argc) return usage_error("no input file", NULL);
    if (optind + 1 < argc) return usage_error("more than one input file", argv[optind + 1]);
    o->in = argv[optind];
    return -1;
}

/* ---- summary ----------------------------------------------------------- */

static void phase(int show, const char *what, const char *arg, double *t0)
{
    double t = now();
    if (show && *t0 > 0) fprintf(stderr, " %.3f s\n", t - *t0);
    if (show && what) fprintf(stderr, "hardreid-difficulty: %s%s%s ...", what, arg ? " " : "", arg ? arg : "");
    if (show) fflush(stderr);
    *t0 = what ? t : 0;
}

static int write_csv(FILE *f, const float *c, const int32_t *nn, const float *sim,
                     const int32_t *idx, size_t n, size_t k)
{
    size_t i, r;
    fprintf(f, "id,difficulty,nearest");
    for (r = 0; r < k; r++) fprintf(f, ",nbr%lu,sim%lu", (unsigned long)r + 1, (unsigned long)r + 1);
    fputc('\n', f);
    for (i = 0; i < n; i++) {
        /* %.9g round-trips a float exactly */
        fprintf(f, "%lu,%.9g,%ld", (unsigned long)i, (double)c[i], (long)nn[i]);
        for (r = 0; r < k; r++)
            fprintf(f, ",%ld,%.9g", (long)idx[i * k + r], (double)sim[i * k + r]);
        if (fputc('\n', f) == EOF) return -1;
    }
    return ferror(f) ? -1 : 0;
}

/* Explain a reader error with what the header said. */
static void npy_error(const char *path, npy_status s, const npy_info *info)
{
    char err[512];
    npy_error_text(err, sizeof err, path, s, info);
    fprintf(stderr, "hardreid-difficulty: %s\n", err);
}

/* One run's state: the options, the matrix, the results, the outputs. */
typedef struct run {
    opts o;
    npy_info info;
    float *w, *c, *sim;
    int32_t *nn, *idx;
    size_t n, d, nout;
    outfile out[OUT_ALL];
    char *base;             /* PREFIX */
    int show;               /* phases on a terminal */
    double t0, t_read, t_comp, t_write;
} run;

/* Each step returns 0, or -1 having said why on stderr. */

static int oom(const run *r)
{
    fprintf(stderr, "hardreid-difficulty: %s: out of memory\n", r->o.in ? r->o.in : "");
    return -1;
}

/* A failure after a phase line: end that line first. */
static int fail_line(const run *r)
{
    if (r->show) fputc('\n', stderr);
    return -1;
}

/* --isa and --threads. Returns an exit status, or -1 to go on. */
static int apply_runtime(const opts *o)
{
    hr_status hs;
    if (o->isa) {
        hr_isa want = HR_ISA_AUTO;
        char msg[160];
        if (hr_isa_from_name(o->isa, &want) != HR_OK)
            return usage_error(cli_isa_error(msg, sizeof msg), o->isa);
        if ((hs = hr_set_isa(want)) != HR_OK) {
            fprintf(stderr, "hardreid-difficulty: --isa %s: %s\n", o->isa, hr_status_string(hs));
            return 1;
        }
    }
    if (o->threads) {
#ifdef _OPENMP
        omp_set_num_threads(o->threads);
#else
        if (o->threads > 1)
            fprintf(stderr, "hardreid-difficulty: built without OpenMP: --threads %d ignored, 1 thread\n", o->threads);
#endif
    }
    return -1;
}

/* Output paths: explicit ones, else PREFIX.<what>.npy; the CSV last. Where
   each lands, links followed: a bad path fails now, not after the
   computation. */
static int plan_outputs(run *r)
{
    static const char *const suffix[4] = { ".difficulty.npy", ".nearest.npy", ".topk_sim.npy", ".topk_idx.npy" };
    const opts *o = &r->o;
    char err[1024];
    size_t k, len;
    if (o->prefix) r->base = cat2(o->prefix, "");
    else {
        r->base = cat2(o->in, "");
        len = r->base ? strlen(r->base) : 0;
        if (len > 4 && !strcmp(r->base + len - 4, ".npy")) r->base[len - 4] = 0;
    }
    if (!r->base) return oom(r);
    r->nout = o->topk ? 4 : 2;
    for (k = 0; k < r->nout; k++) {
        r->out[k].path = o->path[k] ? cat2(o->path[k], "") : cat2(r->base, suffix[k]);
        if (!r->out[k].path) return oom(r);
    }
    if (o->csv) {
        if (!(r->out[r->nout].path = cat2(o->csv, ""))) return oom(r);
        r->nout++;
    }
    for (k = 0; k < r->nout; k++)
        if (!strcmp(r->out[k].path, o->in)) {
            fprintf(stderr, "hardreid-difficulty: %s: an output path equals the input\n", o->in);
            return -1;
        }
    if (out_prepare_all(r->out, r->nout, o->in, err, sizeof err) != 0) {
        fprintf(stderr, "hardreid-difficulty: %s\n", err);
        return -1;
    }
    return 0;
}

/* W from the .npy, checked: not empty, rows fit int32, every value finite. */
static int read_input(run *r)
{
    const char *in = r->o.in;
    const double tp = now();
    npy_status ns;
    size_t i, n, d;
    phase(r->show, "reading", in, &r->t0);
    ns = npy_read_matrix_file(in, &r->w, &r->n, &r->d, &r->info);
    if (ns != NPY_OK) {
        fail_line(r);
        npy_error(in, ns, &r->info);
        return -1;
    }
    n = r->n;
    d = r->d;
    if (n == 0 || d == 0) {
        fprintf(stderr, "%shardreid-difficulty: %s: empty matrix, shape (%lu, %lu): need at least one identity and one feature\n",
                r->show ? "\n" : "", in, (unsigned long)n, (unsigned long)d);
        return -1;
    }
    if (n > INT32_MAX) {
        fprintf(stderr, "%shardreid-difficulty: %s: %lu rows: more identities than int32 indices hold\n",
                r->show ? "\n" : "", in, (unsigned long)n);
        return -1;
    }
    /* hr_difficulty would say HR_ENONFINITE; say where, which it cannot */
    for (i = 0; i < n * d; i++)
        if (!isfinite(r->w[i])) {
            fprintf(stderr, "%shardreid-difficulty: %s: non-finite value %g at row %lu, column %lu%s\n",
                    r->show ? "\n" : "", in, (double)r->w[i], (unsigned long)(i / d), (unsigned long)(i % d),
                    r->info.elsize == 8 && !isnan(r->w[i]) ? " (NaN/Inf, or a float64 beyond float32's range)" : "");
            return -1;
        }
    r->t_read = now() - tp;
    return 0;
}

/* Difficulty and nearest identity; with --topk the K nearest, whose first
   column is c and nearest (k = 1 of the top-k equals hr_difficulty
   bitwise: one pass, not two). */
static int compute(run *r)
{
    const opts *o = &r->o;
    const double tp = now();
    const unsigned flags = o->unit_rows ? HR_UNIT_ROWS : 0;
    const size_t n = r->n, k = o->topk;
    hr_status hs;
    size_t i;
    phase(r->show, "computing", k ? "top-k neighbours" : "difficulty", &r->t0);
    r->c = (float *)malloc(n * sizeof *r->c);
    r->nn = (int32_t *)malloc(n * sizeof *r->nn);
    if (!r->c || !r->nn) return oom(r);
    if (k) {
        const size_t nk = n * k;
        if (nk / k == n) {
            r->sim = (float *)malloc(nk * sizeof *r->sim);
            r->idx = (int32_t *)malloc(nk * sizeof *r->idx);
        }
        if (!r->sim || !r->idx) return oom(r);
        hs = hr_neighbors_topk(r->sim, r->idx, k, r->w, n, r->d, r->d, flags);
        if (hs == HR_OK)
            for (i = 0; i < n; i++) { r->c[i] = r->sim[i * k]; r->nn[i] = r->idx[i * k]; }
    } else {
        hs = hr_difficulty(r->c, r->nn, r->w, n, r->d, r->d, flags);
    }
    if (hs != HR_OK) {
        fail_line(r);
        if (hs == HR_EINVAL && o->unit_rows) /* the inputs were checked: it is the promise */
            fprintf(stderr, "hardreid-difficulty: %s: " CLI_NOT_UNIT "\n", o->in);
        else
            fprintf(stderr, "hardreid-difficulty: %s: %s: %s\n", o->in,
                    k ? "hr_neighbors_topk" : "hr_difficulty", hr_status_string(hs));
        return -1;
    }
    r->t_comp = now() - tp;
    return 0;
}

/* Every output to its temp file, then all renamed into place. */
static int write_outputs(run *r)
{
    const opts *o = &r->o;
    const double tp = now();
    char err[1024];
    size_t k;
    phase(r->show, "writing", r->base, &r->t0);
    for (k = 0; k < r->nout; k++) {
        outfile *f = &r->out[k];
        size_t shape[2];
        npy_status ns = NPY_OK;
        errno = 0;
        if (out_open(f, o->in, err, sizeof err) != 0) {
            fail_line(r);
            fprintf(stderr, "hardreid-difficulty: %s\n", err);
            return -1;
        }
        shape[0] = r->n;
        shape[1] = o->topk;
        if (o->csv && k == r->nout - 1)
            ns = write_csv(f->f, r->c, r->nn, r->sim, r->idx, r->n, o->topk) ? NPY_EIO : NPY_OK;
        else if (k == OUT_C) ns = npy_write(f->f, "<f4", 1, shape, r->c);
        else if (k == OUT_NEAREST) ns = npy_write(f->f, "<i4", 1, shape, r->nn);
        else if (k == OUT_SIM) ns = npy_write(f->f, "<f4", 2, shape, r->sim);
        else ns = npy_write(f->f, "<i4", 2, shape, r->idx);
        if (ns != NPY_OK || out_close(f) != 0) {
            fail_line(r);
            fprintf(stderr, "hardreid-difficulty: %s: writing %s failed: %s\n", o->in, f->path,
                    errno ? strerror(errno) : "I/O error");
            return -1;
        }
        if (k == 0) cli_fault("written", SIGINT);
    }
    if (out_commit_all(r->out, r->nout, o->in, err, sizeof err) != 0) {
        /* the ones already renamed are complete files; the rest go */
        fail_line(r);
        fprintf(stderr, "hardreid-difficulty: %s\n", err);
        return -1;
    }
    r->t_write = now() - tp;
    phase(r->show, NULL, NULL, &r->t0);
    return 0;
}

/* N, d, the phases' times and GFLOP/s, the hardest identities, the files. */
static void summary(const run *r)
{
    const double flops = (double)r->n * (double)(r->n - 1) * (double)r->d;
    const size_t m = r->o.hardest < r->n ? r->o.hardest : r->n;
    size_t *top, j, k;
    fprintf(stderr, "%s: N = %lu identities, d = %lu (%s, %s order), isa %s, %d thread%s\n",
            r->o.in, (unsigned long)r->n, (unsigned long)r->d, dtype_name(r->info.descr),
            r->info.fortran_order ? "Fortran" : "C", hr_isa_name(hr_get_isa()),
#ifdef _OPENMP
            omp_get_max_threads(), omp_get_max_threads() == 1 ? "" : "s"
#else
            1, ""
#endif
    );
    fprintf(stderr, "time: read %.3f s, compute %.3f s, write %.3f s; %.1f GFLOP/s (N(N-1)d flops)\n",
            r->t_read, r->t_comp, r->t_write, r->t_comp > 0 ? flops / r->t_comp * 1e-9 : 0.0);
    if (m && (top = (size_t *)malloc(m * sizeof *top)) != NULL) {
        hardest(top, m, r->c, r->n);
        fprintf(stderr, "hardest identities (difficulty, nearest):\n");
        for (j = 0; j < m; j++)
            fprintf(stderr, "  %8lu  %.6f  %ld\n", (unsigned long)top[j], (double)r->c[top[j]],
                    (long)r->nn[top[j]]);
        free(top);
    }
    for (k = 0; k < r->nout; k++) fprintf(stderr, "wrote %s\n", out_name(&r->out[k]));
}

int main(int argc, char **argv)
{
    run r;
    size_t k;
    int rc, status = 1;
    memset(&r, 0, sizeof r);
    if ((rc = parse_args(argc, argv, &r.o)) >= 0) return rc;
    cli_catch_signals(); /* Ctrl-C while writing: no temp file left */
    r.show = isatty(2) && !r.o.quiet;
    if ((rc = apply_runtime(&r.o)) >= 0) return rc;
    if (plan_outputs(&r) == 0 && read_input(&r) == 0 && compute(&r) == 0 && write_outputs(&r) == 0) {
        if (!r.o.quiet) summary(&r);
        status = 0;
    }
    for (k = 0; k < OUT_ALL; k++) { out_discard(&r.out[k]); free(r.out[k].path); }
    free(r.base);
    free(r.w); free(r.c); free(r.nn); free(r.sim); free(r.idx);
    return status;
}
