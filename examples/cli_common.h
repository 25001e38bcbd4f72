/* examples/cli_common.h - what hardreid's command-line tools share
   (hardreid_difficulty.c, mpi/hardreid_mpi.c): size arguments, outputs
   written to a temp file and renamed at the end (through symlinks; "-",
   devices and FIFOs written directly), the text of an .npy reader error,
   the hardest rows for the summary. Static functions, included by each
   tool after npy.h (with its implementation); errors are returned as text
   so that each tool reports them its own way (stderr, or agreed on by MPI
   ranks). Needs _XOPEN_SOURCE >= 700 (POSIX 2008: mkstemp, fchmod,
   open_memstream; XSI: realpath). */
#ifndef HR_CLI_COMMON_H
#define HR_CLI_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

/* The options both tools take (getopt_long's val; a tool's own start at
   OPT_OWN), as the first entries of each tool's long_opts. */
enum { OPT_PREFIX = 256, OPT_NEAREST, OPT_UNIT, OPT_THREADS, OPT_ISA, OPT_HARDEST, OPT_VERSION,
       OPT_OWN };
#define CLI_COMMON_OPTS \
    { "prefix", required_argument, NULL, OPT_PREFIX }, \
    { "difficulty", required_argument, NULL, 'o' }, \
    { "nearest", required_argument, NULL, OPT_NEAREST }, \
    { "unit-rows", no_argument, NULL, OPT_UNIT }, \
    { "threads", required_argument, NULL, OPT_THREADS }, \
    { "isa", required_argument, NULL, OPT_ISA }, \
    { "hardest", required_argument, NULL, OPT_HARDEST }, \
    { "quiet", no_argument, NULL, 'q' }, \
    { "help", no_argument, NULL, 'h' }, \
    { "version", no_argument, NULL, OPT_VERSION }

/* What getopt_long's error return ch (opterr = 0, optstring starting with
   ':') means, and the option as the user typed it (*arg; buf holds a short
   one). glibc leaves the option's val in optopt for a long option given a
   value it takes none of, and 0 for an unknown or ambiguous long one. */
static const char *cli_opt_error(int ch, char **argv, const char *shorts, const char **arg, char buf[3])
{
    *arg = argv[optind - 1]; /* a long option, or the end of a cluster */
    if (ch == ':') return "missing value after";
    if (optopt == 0) return "unknown option";
    if (optopt >= 256 || strchr(shorts, optopt)) return "option takes no value";
    buf[0] = '-'; buf[1] = (char)optopt; buf[2] = 0;
    *arg = buf;
    return "unknown option";
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
   died), or SIGPIPE (standard output piped into a reader that quit) unlinks
   them and then dies of the signal as it would have, so an
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
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
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

/* ---- outputs: temp file beside the target, rename at the end -------------

   An output named by a path is written to a temp file in the directory of
   the file it names and renamed onto that file once every output is
   complete, so a failed or interrupted run leaves the older outputs as they
   were. Symlinks are followed first: the rename replaces the link's target,
   never the link. A target that is not a regular file (a character device,
   a FIFO, a socket) cannot be replaced by a rename and is not meant to be:
   it is written directly, as is "-" (standard output) and anything reached
   through /proc (/dev/stdout is a link to /proc/self/fd/1, which names an
   open descriptor, not a path). Direct outputs are collected in memory and
   written at commit, before any rename: a run that fails earlier sends them
   nothing either. */

typedef struct outfile {
    char *path;   /* as named (malloc'd by the tool, freed by it); "-": stdout */
    char *dest;   /* owned: the file the rename replaces, links resolved */
    char *tmp;    /* temp path (owned), NULL until created */
    FILE *f;
    int ready;    /* out_prepare done */
    int direct;   /* written at commit to path itself (stdout, device, FIFO) */
    char *buf;    /* a direct output's bytes (open_memstream) */
    size_t len;
} outfile;

/* malloc'd "dir/name", or NULL */
static char *cli_join(const char *dir, const char *name)
{
    char *s, *t = cat2(dir, strcmp(dir, "/") ? "/" : "");
    if (!t) return NULL;
    s = cat2(t, name);
    free(t);
    return s;
}

/* Where a write to path lands: o->dest (a regular file, or a name to
   create), or o->direct. Each hop of a symlink chain is taken in the
   canonical directory of the link (realpath), so relative links and
   linked directories resolve as the kernel resolves them. -1 with errno
   set on failure (ENOENT: a directory on the way is missing). */
static int out_resolve(outfile *o)
{
    char *cur = cat2(o->path, ""), *dir = NULL, *full = NULL, *slash, link[4096];
    const char *base;
    struct stat st;
    int hops, r = -1;
    ssize_t len;
    for (hops = 0; cur; hops++) {
        slash = strrchr(cur, '/');
        base = slash ? slash + 1 : cur;
        if (slash == cur) dir = cat2("/", "");
        else if (slash) { *slash = 0; dir = realpath(cur, NULL); *slash = '/'; }
        else dir = realpath(".", NULL);
        if (!dir) break;
        if (!strncmp(dir, "/proc/", 6) || !strcmp(dir, "/proc")) { o->direct = 1; r = 0; break; }
        if (!(full = cli_join(dir, base))) break;
        if (lstat(full, &st) != 0) {
            if (errno == ENOENT) { o->dest = full; full = NULL; r = 0; } /* a new file */
            break;
        }
        if (S_ISREG(st.st_mode)) { o->dest = full; full = NULL; r = 0; break; }
        if (S_ISDIR(st.st_mode)) { errno = EISDIR; break; }
        if (!S_ISLNK(st.st_mode)) { o->direct = 1; r = 0; break; }
        if (hops == 40) { errno = ELOOP; break; } /* the kernel's limit */
        if ((len = readlink(full, link, sizeof link)) < 0) break;
        if ((size_t)len == sizeof link) { errno = ENAMETOOLONG; break; }
        link[len] = 0;
        free(cur);
        cur = link[0] == '/' ? cat2(link, "") : cli_join(dir, link);
        free(dir); free(full);
        dir = full = NULL;
    }
    if (!cur && r) errno = ENOMEM;
    free(cur); free(dir); free(full);
    return r;
}

/* Resolve o->path (see out_resolve) before anything is computed, so a bad
   output path fails in seconds; refuse an output that is the input file
   under another name. -1 with "IN: cannot create output PATH: ..." in err. */
static int out_prepare(outfile *o, const char *in, char *err, size_t cap)
{
    struct stat si, so;
    if (o->ready) return 0;
    if (!strcmp(o->path, "-")) o->direct = 1;
    else if (out_resolve(o) != 0) {
        say(err, cap, "%s: cannot create output %s: %s", in, o->path, strerror(errno));
        return -1;
    }
    if (o->dest && stat(in, &si) == 0 && stat(o->dest, &so) == 0 && si.st_dev == so.st_dev &&
        si.st_ino == so.st_ino) {
        say(err, cap, "%s: an output path equals the input (%s)", in, o->path);
        return -1;
    }
    o->ready = 1;
    return 0;
}

/* Outputs a tool names together: the checks out_prepare cannot make on one
   output alone (the same file twice; more than one on standard output). */
static int out_prepare_all(outfile *o, size_t n, const char *in, char *err, size_t cap)
{
    size_t i, j;
    for (i = 0; i < n; i++)
        if (out_prepare(&o[i], in, err, cap) != 0) return -1;
    for (i = 0; i < n; i++)
        for (j = 0; j < i; j++)
            if (!strcmp(o[i].path, "-") && !strcmp(o[j].path, "-")) {
                say(err, cap, "%s: more than one output is - (standard output)", in);
                return -1;
            } else if (o[i].dest && o[j].dest && !strcmp(o[i].dest, o[j].dest)) {
                say(err, cap, "%s: two outputs name the same file: %s and %s", in, o[j].path, o[i].path);
                return -1;
            }
    return 0;
}

/* Open o->f for writing: the temp file "DEST.tmp.XXXXXX" (same directory as
   the target, so the final rename is atomic and cannot cross file
   systems), or the memory buffer of a direct output. -1 with the reason in
   err ("IN: cannot create output PATH: ...") on failure. */
static int out_open(outfile *o, const char *in, char *err, size_t cap)
{
    int fd;
    mode_t mask;
    if (out_prepare(o, in, err, cap) != 0) return -1;
    if (o->direct) {
        if (!(o->f = open_memstream(&o->buf, &o->len))) {
            say(err, cap, "%s: out of memory", in);
            return -1;
        }
        return 0;
    }
    if (!(o->tmp = cat2(o->dest, ".tmp.XXXXXX"))) {
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
        if (!o->direct) bad |= fsync(fileno(o->f)) != 0;
        bad |= fclose(o->f) != 0;
        o->f = NULL;
    }
    return bad ? -1 : 0;
}

/* A direct output's bytes to its target (O_APPEND: a file that the shell
   opened for `>>` behind /dev/stdout keeps what it had). -1, errno set. */
static int out_write_direct(outfile *o)
{
    const int fd = strcmp(o->path, "-") ? open(o->path, O_WRONLY | O_APPEND) : 1;
    size_t done = 0;
    ssize_t w;
    int e = 0;
    if (fd < 0) return -1;
    while (done < o->len && !e) {
        if ((w = write(fd, o->buf + done, o->len - done)) >= 0) done += (size_t)w;
        else if (errno != EINTR) e = errno;
    }
    if (fd != 1 && close(fd) != 0 && !e) e = errno;
    errno = e;
    return e ? -1 : 0;
}

/* Publish every closed output: the direct ones first (the step that can
   still fail, a reader gone or a device full), then the renames. -1 with
   the reason in err; outputs already renamed are complete files, the temp
   files left go with out_discard. */
static int out_commit_all(outfile *o, size_t n, const char *in, char *err, size_t cap)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (o[i].direct && out_write_direct(&o[i]) != 0) {
            say(err, cap, "%s: writing %s failed: %s", in, o[i].path, strerror(errno));
            return -1;
        }
    for (i = 0; i < n; i++) {
        if (o[i].direct) continue;
        if (rename(o[i].tmp, o[i].dest) != 0) {
            say(err, cap, "%s: cannot rename %s to %s: %s", in, o[i].tmp, o[i].dest, strerror(errno));
            return -1;
        }
        cli_tmp_track(o[i].tmp, 0);
        free(o[i].tmp);
        o[i].tmp = NULL;
    }
    return 0;
}

/* Close and remove the temp file and buffer (a failed run leaves nothing
   behind); frees what out_prepare resolved. */
static void out_discard(outfile *o)
{
    if (o->f) { fclose(o->f); o->f = NULL; }
    if (o->tmp) { cli_tmp_track(o->tmp, 0); remove(o->tmp); free(o->tmp); o->tmp = NULL; }
    free(o->buf); o->buf = NULL;
    free(o->dest); o->dest = NULL;
}

/* The output's name for "wrote ..." */
static const char *out_name(const outfile *o)
{
    return strcmp(o->path, "-") ? o->path : "- (standard output)";
}

/* ---- input ---------------------------------------------------------------- */

static const char *dtype_name(const char *descr)
{
    if (descr[1] == 'f' && descr[2] == '4') return "float32";
    if (descr[1] == 'f' && descr[2] == '8') return "float64";
    return descr;
}

/* What a file that is not .npy is likely to be, for a hint: PyTorch's
   torch.save (a zip since PyTorch 1.6, a pickle before) or NumPy's .npz (a
   zip), by its name or its first bytes. NULL: no idea. */
static const char *cli_not_npy_kind(const char *path)
{
    static const char *const ext[] = { ".pth", ".pt", ".npz", ".ckpt" };
    unsigned char b[4] = { 0, 0, 0, 0 };
    size_t i, len = strlen(path), e;
    FILE *f;
    for (i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (len > (e = strlen(ext[i])) && !strcmp(path + len - e, ext[i]))
            return i == 2 ? "a NumPy .npz archive" : "a PyTorch checkpoint (torch.save)";
    if ((f = fopen(path, "rb")) != NULL) {
        i = fread(b, 1, sizeof b, f);
        fclose(f);
        if (i == 4 && !memcmp(b, "PK\3\4", 4)) return "a zip archive (torch.save or np.savez)";
        if (i >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) return "a pickle (torch.save before PyTorch 1.6)";
    }
    return NULL;
}

/* "PATH: problem (what the header said)" for an npy.h reader error (errno
   still set for NPY_EIO), and a hint where the file is something else that
   a user of PyTorch or NumPy would have at hand. */
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
    if (s == NPY_ENOTNPY && cli_not_npy_kind(path)) {
        size_t len = strlen(err);
        say(err + len, cap - len, "\n  hint: this looks like %s; save the weight matrix as .npy,"
            " e.g. np.save(\"fc.npy\", model.fc.weight.detach().cpu().numpy())", cli_not_npy_kind(path));
    }
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
