/* examples/cli_common.h - what hardreid's command-line tools share
   (hardreid_difficulty.c, mpi/hardreid_mpi.c): size arguments, outputs
   written to a temp file and renamed at the end, the text of an .npy reader
   error, the hardest rows for the summary. Static functions, included by
   each tool after npy.h (with its implementation); errors are returned as
   text so that each tool reports them its own way (stderr, or agreed on by
   MPI ranks). Needs _POSIX_C_SOURCE >= 200809L (mkstemp, fchmod). */
#ifndef HR_CLI_COMMON_H
#define HR_CLI_COMMON_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The --isa refusal, every name of the library's ISA registry spelt out:
   "--isa must be one of: auto, scalar, avx2, neon, avx512". */
static const char *cli_isa_error(char *buf, size_t n)
{
    int i;
    size_t len = (size_t)snprintf(buf, n, "--isa must be one of:");
    for (i = HR_ISA_AUTO; i < HR_ISA_COUNT && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s %s", i ? "," : "", hr_isa_name((hr_isa)i));
    return buf;
}

/* --help's line of paths: each name, and whether this build and CPU run it. */
static void cli_isa_help(FILE *f)
{
    int i;
    fputs("ISA paths (--isa, HR_ISA):", f);
    for (i = HR_ISA_SCALAR; i < HR_ISA_COUNT; i++)
        fprintf(f, " %s%s", hr_isa_name((hr_isa)i), hr_isa_supported((hr_isa)i) ? "" : " (not here)");
    fprintf(f, "; auto runs %s\n", hr_isa_name(hr_get_isa()));
}

/* A decimal size_t: digits only, no sign, no overflow. */
static int parse_size(const char *s, size_t *v)
{
    char *end;
    unsigned long long x;
    if (!s || !*s || *s == '-') return 0;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (errno || *end || x > (unsigned long long)(size_t)-1) return 0;
    *v = (size_t)x;
    return 1;
}

static char *cat2(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = (char *)malloc(la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

static void say(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* What HR_EINVAL means from a difficulty call under --unit-rows, once the
   tool has checked everything else itself. */
#define CLI_NOT_UNIT "--unit-rows, but a row is not unit length (|sum w^2 - 1| > 1e-3) nor zero"

/* ---- a signal during a run: temp files removed, then the default action */

/* The temp files that exist now (a tool's own state, not the library's):
   SIGINT, SIGTERM or SIGHUP (Ctrl-C, mpirun killing the ranks after one
   died) unlinks them and then dies of the signal as it would have, so an
   interrupted run leaves no partial output, and the older outputs stand. */
#define CLI_MAX_TMP 8
static char *volatile cli_tmps[CLI_MAX_TMP];

static void cli_on_signal(int sig)
{
    int i;
    for (i = 0; i < CLI_MAX_TMP; i++)
        if (cli_tmps[i]) unlink(cli_tmps[i]); /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void cli_catch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    size_t i;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cli_on_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

static void cli_tmp_track(char *path, int on)
{
    int i;
    for (i = 0; i < CLI_MAX_TMP; i++)
        if (on ? !cli_tmps[i] : cli_tmps[i] == path) {
            cli_tmps[i] = on ? path : NULL;
            return;
        }
}

/* Fault injection for the tests (tests/faults_test.sh, test_mpi.sh): with
   HR_CLI_FAULT=NAME in the environment, the tool signals itself at the
   point called NAME ("written": after its first output's temp file is
   complete; "ring": on the last MPI rank, in the middle of the ring,
   SIGKILL: a rank that dies without a word). */
static void cli_fault(const char *name, int sig)
{
    const char *e = getenv("HR_CLI_FAULT");
    if (e && !strcmp(e, name)) raise(sig);
}

/* ---- outputs: temp file in the destination directory, rename at the end */

typedef struct outfile {
    char *path;   /* final path (malloc'd by the tool, freed by it) */
    char *tmp;    /* temp path (owned), NULL until created */
    FILE *f;
} outfile;

/* Create path's temp file "path.tmp.XXXXXX": same directory, so the final
   rename is atomic and cannot cross file systems. -1 with the reason in
   err ("IN: cannot create output PATH: ...") on failure. */
static int out_open(outfile *o, const char *in, char *err, size_t cap)
{
    int fd;
    mode_t mask;
    if (!(o->tmp = cat2(o->path, ".tmp.XXXXXX"))) {
        say(err, cap, "%s: out of memory", in);
        return -1;
    }
    if ((fd = mkstemp(o->tmp)) < 0) {
        say(err, cap, "%s: cannot create output %s: %s", in, o->path, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        return -1;
    }
    cli_tmp_track(o->tmp, 1);
    /* mkstemp makes 0600; give the file the mode a plain fopen would */
    mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    if (!(o->f = fdopen(fd, "wb"))) {
        say(err, cap, "%s: cannot open output %s: %s", in, o->path, strerror(errno));
        close(fd);
        return -1;
    }
    return 0;
}

/* Flush, sync and close the stream; -1 (errno set) if anything written to
   it failed, a full disk included. The sync makes the rename that follows
   publish a complete file even across a crash. */
static int out_close(outfile *o)
{
    int bad = 0;
    if (o->f) {
        bad = ferror(o->f) != 0;
        bad |= fflush(o->f) != 0;
        bad |= fsync(fileno(o->f)) != 0;
        bad |= fclose(o->f) != 0;
        o->f = NULL;
    }
    return bad ? -1 : 0;
}

/* Rename the finished temp file to the output's path; -1 (errno set) on
   failure, the temp file still there for out_discard. */
static int out_commit(outfile *o)
{
    if (rename(o->tmp, o->path) != 0) return -1;
    cli_tmp_track(o->tmp, 0);
    free(o->tmp);
    o->tmp = NULL;
    return 0;
}

/* Close and remove the temp file (a failed run leaves nothing behind). */
static void out_discard(outfile *o)
{
    if (o->f) { fclose(o->f); o->f = NULL; }
    if (o->tmp) { cli_tmp_track(o->tmp, 0); remove(o->tmp); free(o->tmp); o->tmp = NULL; }
}

/* ---- input ---------------------------------------------------------------- */

static const char *dtype_name(const char *descr)
{
    if (descr[1] == 'f' && descr[2] == '4') return "float32";
    if (descr[1] == 'f' && descr[2] == '8') return "float64";
    return descr;
}

/* "PATH: problem (what the header said)" for an npy.h reader error (errno
   still set for NPY_EIO). */
static void npy_error_text(char *err, size_t cap, const char *path, npy_status s,
                           const npy_info *info)
{
    char extra[160] = "";
    int i;
    if (s == NPY_EIO) {
        say(err, cap, "%s: cannot read: %s", path, strerror(errno));
        return;
    }
    if (s == NPY_EDTYPE)
        sprintf(extra, " (the file has dtype '%.15s')", info->descr);
    else if (s == NPY_ENDIM) {
        size_t len = (size_t)sprintf(extra, " (the file has a %d-D array, shape (", info->ndim);
        for (i = 0; i < info->ndim && i < 4 && len < 100; i++)
            len += (size_t)sprintf(extra + len, "%s%llu", i ? ", " : "", (unsigned long long)info->shape[i]);
        sprintf(extra + len, "%s))", info->ndim > 4 ? ", ..." : info->ndim == 1 ? "," : "");
    } else if ((s == NPY_ETRUNCATED || s == NPY_ETRAILING) && info->ndim == 2) {
        sprintf(extra, " (header: shape (%llu, %llu) of %s = %lu data bytes after a %lu-byte header)",
                (unsigned long long)info->shape[0], (unsigned long long)info->shape[1],
                dtype_name(info->descr), (unsigned long)info->nbytes, (unsigned long)info->data_offset);
    }
    say(err, cap, "%s: %s%s", path, npy_status_string(s), extra);
}

/* ---- summary -------------------------------------------------------------- */

/* the m largest c (ties: smaller index), O(n m): m is a handful */
static void hardest(size_t *top, size_t m, const float *c, size_t n)
{
    size_t i, k, j;
    for (k = 0; k < m; k++) top[k] = (size_t)-1;
    for (i = 0; i < n; i++) {
        for (k = 0; k < m; k++)
            if (top[k] == (size_t)-1 || c[i] > c[top[k]]) break;
        if (k == m) continue;
        for (j = m - 1; j > k; j--) top[j] = top[j - 1];
        top[k] = i;
    }
}

#endif /* HR_CLI_COMMON_H */
