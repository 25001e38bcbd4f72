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

int main(int argc, char **argv)
{
    opts o;
    npy_info info;
    npy_status ns;
    hr_status hs;
    float *w = NULL, *c = NULL, *sim = NULL;
    int32_t *nn = NULL, *idx = NULL;
    size_t n = 0, d = 0, i, j, k, nout = 0;
    outfile out[OUT_ALL];
    char err[1024];
    double t0 = 0, t_read, t_comp, t_write, tp;
    int rc, status = 1, show;
    const int tty = isatty(2);
    char *base = NULL;

    memset(out, 0, sizeof out);
    if ((rc = parse_args(argc, argv, &o)) >= 0) return rc;
    cli_catch_signals(); /* Ctrl-C while writing: no temp file left */
    show = tty && !o.quiet;

    if (o.isa) {
        hr_isa want = HR_ISA_AUTO;
        char msg[160];
        if (hr_isa_from_name(o.isa, &want) != HR_OK)
            return usage_error(cli_isa_error(msg, sizeof msg), o.isa);
        if ((hs = hr_set_isa(want)) != HR_OK) {
            fprintf(stderr, "hardreid-difficulty: --isa %s: %s\n", o.isa, hr_status_string(hs));
            return 1;
        }
    }
    if (o.threads) {
#ifdef _OPENMP
        omp_set_num_threads(o.threads);
#else
        if (o.threads > 1)
            fprintf(stderr, "hardreid-difficulty: built without OpenMP: --threads %d ignored, 1 thread\n", o.threads);
#endif
    }

    /* output paths: explicit ones, else PREFIX.<what>.npy */
    {
        static const char *const suffix[4] = { ".difficulty.npy", ".nearest.npy", ".topk_sim.npy", ".topk_idx.npy" };
        size_t len;
        if (o.prefix) base = cat2(o.prefix, "");
        else {
            base = cat2(o.in, "");
            len = base ? strlen(base) : 0;
            if (len > 4 && !strcmp(base + len - 4, ".npy")) base[len - 4] = 0;
        }
        if (!base) goto oom;
        nout = o.topk ? 4 : 2;
        for (k = 0; k < nout; k++) {
            out[k].path = o.path[k] ? cat2(o.path[k], "") : cat2(base, suffix[k]);
            if (!out[k].path) goto oom;
        }
        if (o.csv) {
            if (!(out[nout].path = cat2(o.csv, ""))) goto oom;
            nout++; /* always the last one */
        }
        for (k = 0; k < nout; k++)
            if (!strcmp(out[k].path, o.in)) {
                fprintf(stderr, "hardreid-difficulty: %s: an output path equals the input\n", o.in);
                goto done;
            }
        /* where each output lands, links followed: a bad path fails now,
           not after the computation */
        if (out_prepare_all(out, nout, o.in, err, sizeof err) != 0) {
            fprintf(stderr, "hardreid-difficulty: %s\n", err);
            goto done;
        }
    }

    /* ---- read ---- */
    tp = now();
    phase(show, "reading", o.in, &t0);
    ns = npy_read_matrix_file(o.in, &w, &n, &d, &info);
    if (ns != NPY_OK) {
        if (show) fputc('\n', stderr);
        npy_error(o.in, ns, &info);
        goto done;
    }
    if (n == 0 || d == 0) {
        if (show) fputc('\n', stderr);
        fprintf(stderr, "hardreid-difficulty: %s: empty matrix, shape (%lu, %lu): need at least one identity and one feature\n",
                o.in, (unsigned long)n, (unsigned long)d);
        goto done;
    }
    if (n > INT32_MAX) {
        if (show) fputc('\n', stderr);
        fprintf(stderr, "hardreid-difficulty: %s: %lu rows: more identities than int32 indices hold\n",
                o.in, (unsigned long)n);
        goto done;
    }
    /* hr_difficulty would say HR_ENONFINITE; say where, which it cannot */
    for (i = 0; i < n * d; i++)
        if (!isfinite(w[i])) {
            if (show) fputc('\n', stderr);
            fprintf(stderr, "hardreid-difficulty: %s: non-finite value %g at row %lu, column %lu%s\n",
                    o.in, (double)w[i], (unsigned long)(i / d), (unsigned long)(i % d),
                    info.elsize == 8 && !isnan(w[i]) ? " (NaN/Inf, or a float64 beyond float32's range)" : "");
            goto done;
        }
    t_read = now() - tp;

    /* ---- compute ---- */
    tp = now();
    phase(show, "computing", o.topk ? "top-k neighbours" : "difficulty", &t0);
    c = (float *)malloc(n * sizeof *c);
    nn = (int32_t *)malloc(n * sizeof *nn);
    if (!c || !nn) goto oom;
    if (o.topk) {
        /* k = 1 of the top-k equals hr_difficulty bitwise, so the first
           column is c and nearest: one pass, not two */
        int ok = 1;
        size_t nk = n * o.topk;
        if (nk / o.topk != n) ok = 0;
        sim = ok ? (float *)malloc(nk * sizeof *sim) : NULL;
        idx = ok ? (int32_t *)malloc(nk * sizeof *idx) : NULL;
        if (!sim || !idx) goto oom;
        hs = hr_neighbors_topk(sim, idx, o.topk, w, n, d, d, o.unit_rows ? HR_UNIT_ROWS : 0);
        if (hs == HR_OK)
            for (i = 0; i < n; i++) { c[i] = sim[i * o.topk]; nn[i] = idx[i * o.topk]; }
    } else {
        hs = hr_difficulty(c, nn, w, n, d, d, o.unit_rows ? HR_UNIT_ROWS : 0);
    }
    if (hs != HR_OK) {
        if (show) fputc('\n', stderr);
        if (hs == HR_EINVAL && o.unit_rows) /* the inputs were checked: it is the promise */
            fprintf(stderr, "hardreid-difficulty: %s: " CLI_NOT_UNIT "\n", o.in);
        else
            fprintf(stderr, "hardreid-difficulty: %s: %s: %s\n", o.in,
                    o.topk ? "hr_neighbors_topk" : "hr_difficulty", hr_status_string(hs));
        goto done;
    }
    t_comp = now() - tp;

    /* ---- write: every output to its temp file, then all renamed ---- */
    tp = now();
    phase(show, "writing", base, &t0);
    for (k = 0; k < nout; k++) {
        size_t shape[2];
        ns = NPY_OK;
        errno = 0;
        if (out_open(&out[k], o.in, err, sizeof err) != 0) {
            fprintf(stderr, "hardreid-difficulty: %s\n", err);
            goto fail_write;
        }
        shape[0] = n;
        shape[1] = o.topk;
        if (o.csv && k == nout - 1)
            ns = write_csv(out[k].f, c, nn, sim, idx, n, o.topk) ? NPY_EIO : NPY_OK;
        else if (k == OUT_C) ns = npy_write(out[k].f, "<f4", 1, shape, c);
        else if (k == OUT_NEAREST) ns = npy_write(out[k].f, "<i4", 1, shape, nn);
        else if (k == OUT_SIM) ns = npy_write(out[k].f, "<f4", 2, shape, sim);
        else ns = npy_write(out[k].f, "<i4", 2, shape, idx);
        if (ns != NPY_OK || out_close(&out[k]) != 0) {
            fprintf(stderr, "hardreid-difficulty: %s: writing %s failed: %s\n", o.in, out[k].path,
                    errno ? strerror(errno) : "I/O error");
            goto fail_write;
        }
        if (k == 0) cli_fault("written", SIGINT);
    }
    if (out_commit_all(out, nout, o.in, err, sizeof err) != 0) {
        /* the ones already renamed are complete files; the rest go */
        fprintf(stderr, "hardreid-difficulty: %s\n", err);
        goto fail_write;
    }
    t_write = now() - tp;
    phase(show, NULL, NULL, &t0);

    if (!o.quiet) {
        double flops = (double)n * (double)(n - 1) * (double)d;
        size_t m = o.hardest < n ? o.hardest : n, *top;
        fprintf(stderr, "%s: N = %lu identities, d = %lu (%s, %s order), isa %s, %d thread%s\n",
                o.in, (unsigned long)n, (unsigned long)d, dtype_name(info.descr),
                info.fortran_order ? "Fortran" : "C", hr_isa_name(hr_get_isa()),
#ifdef _OPENMP
                omp_get_max_threads(), omp_get_max_threads() == 1 ? "" : "s"
#else
                1, ""
#endif
        );
        fprintf(stderr, "time: read %.3f s, compute %.3f s, write %.3f s; %.1f GFLOP/s (N(N-1)d flops)\n",
                t_read, t_comp, t_write, t_comp > 0 ? flops / t_comp * 1e-9 : 0.0);
        if (m && (top = (size_t *)malloc(m * sizeof *top)) != NULL) {
            hardest(top, m, c, n);
            fprintf(stderr, "hardest identities (difficulty, nearest):\n");
            for (j = 0; j < m; j++)
                fprintf(stderr, "  %8lu  %.6f  %ld\n", (unsigned long)top[j], (double)c[top[j]], (long)nn[top[j]]);
            free(top);
        }
        for (k = 0; k < nout; k++) fprintf(stderr, "wrote %s\n", out_name(&out[k]));
    }
    status = 0;
    goto done;

oom:
    fprintf(stderr, "hardreid-difficulty: %s: out of memory\n", o.in ? o.in : "");
    goto done;
fail_write:
    if (show) fputc('\n', stderr);
done:
    for (k = 0; k < OUT_ALL; k++) { out_discard(&out[k]); free(out[k].path); }
    free(base);
    free(w); free(c); free(nn); free(sim); free(idx);
    return status;
}
