/* tests/test_core.c - status strings, ISA selection, version macros,
   hr_normalize_rows. */
#include "harness.h"
#include "hardreid.h"

/* elementwise tolerance of a normalized float row against double: a few
   float ulps of values <= 1 */
#define TOL_NORM 1e-6

/* ---------------------------------------------------------------- status */

Test(core, status_strings) {
    static const hr_status codes[] = {HR_OK,       HR_EINVAL,
                                      HR_ENOMEM,   HR_ENONFINITE,
                                      HR_EOVERFLOW, HR_EUNSUPPORTED};
    size_t i, j, nc = sizeof codes / sizeof codes[0];
    cr_assert_eq(HR_OK, 0, "HR_OK is zero");
    for (i = 0; i < nc; i++) {
        const char *s = hr_status_string(codes[i]);
        cr_assert(s != NULL, "hr_status_string(%d) is NULL", (int)codes[i]);
        cr_assert(s[0] != '\0', "hr_status_string(%d) is empty",
                  (int)codes[i]);
        if (i > 0) cr_assert((int)codes[i] < 0, "error %d not negative",
                             (int)codes[i]);
        for (j = 0; j < i; j++)
            cr_assert(strcmp(s, hr_status_string(codes[j])) != 0,
                      "codes %d and %d share the string \"%s\"",
                      (int)codes[i], (int)codes[j], s);
    }
    /* codes outside the enum still get a string, never NULL or a crash */
    cr_assert(hr_status_string((hr_status)-99) != NULL, "unknown code -99");
    cr_assert(hr_status_string((hr_status)7) != NULL, "unknown code 7");
}

/* ------------------------------------------------------------------- ISA */

/* Must be the first library call of its process: Criterion and the mini
   runner both run each test in a fresh process. */
Test(core, isa_env_var) {
    const char *e = getenv("HR_ISA");
    hr_isa want = HR_ISA_AUTO;
    hr_isa got = hr_get_isa();
    if (!e) {
        hr_t_log("HR_ISA not set; default path %s", hr_isa_name(got));
        cr_assert(got != HR_ISA_AUTO, "hr_get_isa returns a concrete path");
        return;
    }
    (void)hr_isa_from_name(e, &want); /* unknown: want stays AUTO */
    hr_t_log("HR_ISA=%s: library runs %s", e, hr_isa_name(got));
    if (want != HR_ISA_AUTO && hr_isa_supported(want))
        cr_assert_eq(got, want, "HR_ISA=%s but hr_get_isa() = %s", e,
                     hr_isa_name(got));
}

Test(core, isa_names) {
    static const char *const want[HR_ISA_COUNT] = {"auto", "scalar", "avx2", "neon",
                                                   "avx512"};
    int k;
    hr_isa got;
    for (k = 0; k < HR_ISA_COUNT; k++) {
        cr_assert(strcmp(hr_isa_name((hr_isa)k), want[k]) == 0, "name of %d: %s", k,
                  hr_isa_name((hr_isa)k));
        got = (hr_isa)99;
        cr_assert_eq(hr_isa_from_name(want[k], &got), HR_OK, "from_name(%s)", want[k]);
        cr_assert_eq(got, (hr_isa)k, "from_name(%s) = %d", want[k], (int)got);
    }
    cr_assert(strcmp(hr_isa_name(HR_ISA_COUNT), "unknown") == 0, "HR_ISA_COUNT");
    cr_assert(strcmp(hr_isa_name((hr_isa)42), "unknown") == 0, "42");
    cr_assert(strcmp(hr_isa_name((hr_isa)-1), "unknown") == 0, "-1");
    got = (hr_isa)99;
    cr_assert_eq(hr_isa_from_name("AVX2", &got), HR_EINVAL, "names are lower case");
    cr_assert_eq(hr_isa_from_name("", &got), HR_EINVAL, "empty name");
    cr_assert_eq(hr_isa_from_name("unknown", &got), HR_EINVAL, "'unknown' is no path");
    cr_assert_eq(hr_isa_from_name(NULL, &got), HR_EINVAL, "NULL name");
    cr_assert_eq((int)got, 99, "*isa untouched on error");
    cr_assert_eq(hr_isa_from_name("scalar", NULL), HR_EINVAL, "NULL out");
}

Test(core, isa_paths) {
    unsigned req = hr_t_required_isas();
    int k;
    char list[96] = "";
    for (k = HR_ISA_SCALAR; k < HR_ISA_COUNT; k++)
        if (hr_isa_supported((hr_isa)k)) {
            strcat(list, " ");
            strcat(list, hr_isa_name((hr_isa)k));
        }
    hr_t_log("ISA paths tested:%s", list);
    for (k = HR_ISA_SCALAR; k < HR_ISA_COUNT; k++)
        if (req & (1u << k))
            cr_assert(hr_isa_supported((hr_isa)k),
                      "%s must be supported on this build and CPU",
                      hr_isa_name((hr_isa)k));
    cr_assert_eq(hr_isa_supported((hr_isa)42), 0, "isa 42 supported");
    cr_assert_eq(hr_isa_supported(HR_ISA_AUTO), 0, "AUTO is no path");
    cr_assert_eq(hr_isa_supported(HR_ISA_COUNT), 0, "HR_ISA_COUNT is no path");
#if defined(__x86_64__)
    cr_assert_eq(hr_isa_supported(HR_ISA_NEON), 0, "NEON on x86");
#if !defined(HR_NO_SIMD)
    cr_assert_eq(hr_isa_supported(HR_ISA_AVX2), (int)(req >> HR_ISA_AVX2 & 1u),
                 "AVX2 support must match cpuid (avx2 && fma)");
    cr_assert_eq(hr_isa_supported(HR_ISA_AVX512), (int)(req >> HR_ISA_AVX512 & 1u),
                 "AVX-512 support must match cpuid (avx512f) and XGETBV (ZMM state)");
#endif
#elif defined(__aarch64__)
    cr_assert_eq(hr_isa_supported(HR_ISA_AVX2), 0, "AVX2 on aarch64");
    cr_assert_eq(hr_isa_supported(HR_ISA_AVX512), 0, "AVX-512 on aarch64");
#endif
    /* AUTO picks the best supported path */
    cr_assert_eq(hr_set_isa(HR_ISA_AUTO), HR_OK, "set AUTO");
    cr_assert(hr_get_isa() != HR_ISA_AUTO, "AUTO resolves to a path");
    cr_assert(hr_isa_supported(hr_get_isa()), "AUTO path is supported");
#if !defined(HR_NO_SIMD) && defined(__x86_64__)
    if (hr_t_cpu_has_avx512())
        cr_assert_eq(hr_get_isa(), HR_ISA_AVX512, "AUTO on an AVX-512 CPU is %s",
                     hr_isa_name(hr_get_isa()));
    else if (hr_t_cpu_has_avx2())
        cr_assert_eq(hr_get_isa(), HR_ISA_AVX2, "AUTO on AVX2 CPU is %s",
                     hr_isa_name(hr_get_isa()));
#elif !defined(HR_NO_SIMD) && defined(__aarch64__)
    cr_assert_eq(hr_get_isa(), HR_ISA_NEON, "AUTO on aarch64 is %s",
                 hr_isa_name(hr_get_isa()));
#endif
}

Test(core, isa_set_unsupported) {
    hr_status s;
#if defined(__aarch64__)
    const hr_isa foreign = HR_ISA_AVX2;
#else
    const hr_isa foreign = HR_ISA_NEON;
#endif
    cr_assert_eq(hr_set_isa(HR_ISA_SCALAR), HR_OK, "set scalar");
    s = hr_set_isa(foreign);
    cr_assert_eq(s, HR_EUNSUPPORTED, "set %s gave %d", hr_isa_name(foreign),
                 (int)s);
    cr_assert_eq(hr_get_isa(), HR_ISA_SCALAR, "choice changed to %s",
                 hr_isa_name(hr_get_isa()));
    s = hr_set_isa((hr_isa)42);
    cr_assert(s == HR_EUNSUPPORTED || s == HR_EINVAL, "set isa 42 gave %d",
              (int)s);
    cr_assert_eq(hr_get_isa(), HR_ISA_SCALAR, "choice changed to %s",
                 hr_isa_name(hr_get_isa()));
    cr_assert_eq(hr_set_isa(HR_ISA_AUTO), HR_OK, "restore AUTO");
}

/* --------------------------------------------------------------- version */

Test(core, version_macros) {
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", HARDREID_VERSION_MAJOR,
             HARDREID_VERSION_MINOR, HARDREID_VERSION_PATCH);
    cr_assert(strcmp(buf, HARDREID_VERSION_STRING) == 0,
              "version macros %s vs string %s", buf, HARDREID_VERSION_STRING);
    cr_assert(HARDREID_VERSION_MAJOR >= 0 && HARDREID_VERSION_MINOR >= 0 &&
                  HARDREID_VERSION_PATCH >= 0,
              "non-negative version numbers");
}

/* ------------------------------------------------------ hr_normalize_rows */

/* Double reference of one row; returns ||row|| in double. */
static double ref_norm_row(double *out, const float *in, size_t d) {
    double ss = 0.0, s;
    size_t j;
    for (j = 0; j < d; j++) ss += (double)in[j] * (double)in[j];
    s = sqrt(ss);
    for (j = 0; j < d; j++) out[j] = s > 0.0 ? (double)in[j] / s : 0.0;
    return s;
}

/* Check out (n rows, stride ldo) against the reference of in (stride ldi):
   every element within TOL_NORM, zero rows exactly zero, and (pad_sentinel)
   out's padding columns [d, ldo) still the sentinel. */
static void check_normalized(const float *out, size_t ldo, const float *in,
                             size_t ldi, size_t n, size_t d, const char *what,
                             hr_isa isa, int pad_sentinel) {
    double *ref = (double *)hr_t_alloc(d * sizeof *ref);
    size_t i, j;
    for (i = 0; i < n; i++) {
        double s = ref_norm_row(ref, in + i * ldi, d);
        for (j = 0; j < d; j++) {
            float o = out[i * ldo + j];
            if (s == 0.0)
                cr_assert(o == 0.0f,
                          "%s [%s] n=%zu d=%zu: zero row %zu col %zu -> %g",
                          what, hr_isa_name(isa), n, d, i, j, (double)o);
            else
                cr_assert(fabs((double)o - ref[j]) <= TOL_NORM,
                          "%s [%s] n=%zu d=%zu ldi=%zu ldo=%zu: (%zu,%zu) "
                          "got %.9g want %.9g",
                          what, hr_isa_name(isa), n, d, ldi, ldo, i, j,
                          (double)o, ref[j]);
        }
        if (pad_sentinel)
            cr_assert_eq(hr_t_count_ne_f(out + i * ldo + d, ldo - d,
                                         HR_T_SENT_F),
                         0u, "%s [%s] n=%zu d=%zu ldo=%zu: padding written in "
                             "row %zu",
                         what, hr_isa_name(isa), n, d, ldo, i);
    }
    free(ref);
}

static void norm_shapes(hr_isa isa, void *ctx) {
    static const size_t ns[] = {0, 1, 3, 17, 65};
    static const size_t ds[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 255, 257};
    static const size_t ei[] = {0, 5}, eo[] = {0, 2};
    size_t a, b, x, y, i, j;
    uint64_t seed = 0x1234;
    (void)ctx;
    for (a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (b = 0; b < sizeof ds / sizeof ds[0]; b++)
            for (x = 0; x < 2; x++)
                for (y = 0; y < 2; y++) {
                    size_t n = ns[a], d = ds[b], ldi = d + ei[x],
                           ldo = d + eo[y];
                    float *in = (float *)hr_t_alloc(n * ldi * sizeof(float));
                    float *keep = (float *)hr_t_alloc(n * ldi * sizeof(float));
                    float *out = (float *)hr_t_alloc(n * ldo * sizeof(float));
                    hr_status s;
                    for (i = 0; i < n; i++)
                        for (j = 0; j < ldi; j++)
                            in[i * ldi + j] =
                                j >= d ? NAN
                                : i % 5 == 3 ? 0.0f /* zero rows */
                                : i % 7 == 2 ? 1e3f * hr_t_unif(&seed)
                                             : hr_t_unif(&seed);
                    memcpy(keep, in, n * ldi * sizeof(float));
                    hr_t_fill_f(out, n * ldo, HR_T_SENT_F);
                    s = hr_normalize_rows(out, ldo, in, ldi, n, d);
                    cr_assert_eq(s, HR_OK,
                                 "[%s] n=%zu d=%zu ldi=%zu ldo=%zu: status %d",
                                 hr_isa_name(isa), n, d, ldi, ldo, (int)s);
                    cr_assert(memcmp(keep, in, n * ldi * sizeof(float)) == 0,
                              "input modified");
                    check_normalized(out, ldo, in, ldi, n, d, "shapes", isa, 1);
                    free(in);
                    free(keep);
                    free(out);
                }
}

Test(core, normalize_shapes) { for_each_isa(norm_shapes, NULL); }

static void norm_inplace(hr_isa isa, void *ctx) {
    static const size_t ds[] = {1, 3, 8, 9, 16, 17, 31, 33, 257};
    size_t b, i, j, n = 19;
    uint64_t seed = 77;
    (void)ctx;
    for (b = 0; b < sizeof ds / sizeof ds[0]; b++) {
        size_t d = ds[b], ld;
        for (ld = d; ld <= d + 3; ld += 3) {
            float *buf = (float *)hr_t_alloc(n * ld * sizeof(float));
            float *orig = (float *)hr_t_alloc(n * ld * sizeof(float));
            hr_status s;
            for (i = 0; i < n; i++)
                for (j = 0; j < ld; j++)
                    buf[i * ld + j] = j >= d        ? NAN
                                      : i % 4 == 1 ? 0.0f
                                                   : hr_t_unif(&seed) * 50.0f;
            memcpy(orig, buf, n * ld * sizeof(float));
            s = hr_normalize_rows(buf, ld, buf, ld, n, d);
            cr_assert_eq(s, HR_OK, "[%s] in place d=%zu ld=%zu: status %d",
                         hr_isa_name(isa), d, ld, (int)s);
            check_normalized(buf, ld, orig, ld, n, d, "in place", isa, 0);
            for (i = 0; i < n; i++)
                cr_assert(memcmp(buf + i * ld + d, orig + i * ld + d,
                                 (ld - d) * sizeof(float)) == 0,
                          "[%s] in place d=%zu ld=%zu: padding of row %zu "
                          "written",
                          hr_isa_name(isa), d, ld, i);
            free(buf);
            free(orig);
        }
    }
}

Test(core, normalize_in_place) { for_each_isa(norm_inplace, NULL); }

/* Rows whose sum of squares overflows or underflows float: the double
   accumulation must still give unit rows. */
static void norm_extreme(hr_isa isa, void *ctx) {
    enum { N = 9, D = 17 };
    static const float mags[N] = {1e30f, 1e-30f, 1e-40f, 3e38f, FLT_MAX,
                                  FLT_MIN, 1e-45f, 1.0f,  0.0f};
    float in[N * D], out[N * D];
    size_t i, j;
    uint64_t seed = 4242;
    hr_status s;
    (void)ctx;
    for (i = 0; i < N; i++)
        for (j = 0; j < D; j++) {
            float sign = hr_t_unif(&seed) < 0 ? -1.0f : 1.0f;
            /* row 6: one lone smallest subnormal; row 7: exact 3-4-5 */
            if (i == 6) in[i * D + j] = j == 5 ? -mags[i] : 0.0f;
            else if (i == 7) in[i * D + j] = j == 0 ? 3.0f : j == 1 ? 4.0f : 0;
            else in[i * D + j] = sign * mags[i];
        }
    /* a mixed row: one huge element among ordinary ones */
    in[8 * D + 3] = 1e30f;
    in[8 * D + 4] = 1.0f;
    s = hr_normalize_rows(out, D, in, D, N, D);
    cr_assert_eq(s, HR_OK, "[%s] extreme rows: status %d", hr_isa_name(isa),
                 (int)s);
    check_normalized(out, D, in, D, N, D, "extreme", isa, 1);
    for (i = 0; i < N; i++) {
        double ss = 0.0;
        for (j = 0; j < D; j++) ss += (double)out[i * D + j] * out[i * D + j];
        cr_assert(fabs(sqrt(ss) - 1.0) <= TOL_NORM,
                  "[%s] row %zu (magnitude %g): norm %.9g", hr_isa_name(isa),
                  i, (double)mags[i], sqrt(ss));
    }
}

Test(core, normalize_extreme_magnitudes) { for_each_isa(norm_extreme, NULL); }

static void norm_nonfinite(hr_isa isa, void *ctx) {
    enum { N = 5, D = 9, LDI = 11, LDO = 10 };
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const size_t pos[4][2] = {{0, 0}, {N - 1, D - 1}, {N / 2, 0}, {1, D - 1}};
    float in[N * LDI], out[N * LDO], inplace[N * LDI], orig[N * LDI];
    size_t v, p, i;
    uint64_t seed = 99;
    (void)ctx;
    for (v = 0; v < 3; v++)
        for (p = 0; p < 4; p++) {
            hr_status s;
            for (i = 0; i < N * LDI; i++) in[i] = hr_t_unif(&seed);
            in[pos[p][0] * LDI + pos[p][1]] = bad[v];
            hr_t_fill_f(out, N * LDO, HR_T_SENT_F);
            s = hr_normalize_rows(out, LDO, in, LDI, N, D);
            cr_assert_eq(s, HR_ENONFINITE, "[%s] %g at (%zu,%zu): status %d",
                         hr_isa_name(isa), (double)bad[v], pos[p][0],
                         pos[p][1], (int)s);
            cr_assert_eq(hr_t_count_ne_f(out, N * LDO, HR_T_SENT_F), 0u,
                         "[%s] %g at (%zu,%zu): out written on error",
                         hr_isa_name(isa), (double)bad[v], pos[p][0],
                         pos[p][1]);
            /* in place: the buffer stays bitwise as it was */
            memcpy(inplace, in, sizeof in);
            memcpy(orig, in, sizeof in);
            s = hr_normalize_rows(inplace, LDI, inplace, LDI, N, D);
            cr_assert_eq(s, HR_ENONFINITE, "[%s] in place: status %d",
                         hr_isa_name(isa), (int)s);
            cr_assert(memcmp(inplace, orig, sizeof in) == 0,
                      "[%s] in place %g at (%zu,%zu): buffer written on error",
                      hr_isa_name(isa), (double)bad[v], pos[p][0], pos[p][1]);
        }
}

Test(core, normalize_nonfinite) { for_each_isa(norm_nonfinite, NULL); }

Test(core, normalize_errors) {
    float in[4 * 8], out[4 * 8], dummy[8];
    hr_status s;
    size_t i;
    for (i = 0; i < 4 * 8; i++) in[i] = (float)i + 1.0f;
    for (i = 0; i < 8; i++) dummy[i] = 1.0f;
#define NORM_ERR(expr, ok1, ok2, what)                                       \
    do {                                                                     \
        hr_t_fill_f(out, 4 * 8, HR_T_SENT_F);                                \
        s = (expr);                                                          \
        cr_assert(s == (ok1) || s == (ok2), "%s: status %d", what, (int)s);  \
        cr_assert_eq(hr_t_count_ne_f(out, 4 * 8, HR_T_SENT_F), 0u,           \
                     "%s: out written on error", what);                      \
    } while (0)
    NORM_ERR(hr_normalize_rows(out, 2, in, 3, 4, 3), HR_EINVAL, HR_EINVAL,
             "ldo < d");
    NORM_ERR(hr_normalize_rows(out, 3, in, 2, 4, 3), HR_EINVAL, HR_EINVAL,
             "ldi < d");
    NORM_ERR(hr_normalize_rows(NULL, 3, in, 3, 4, 3), HR_EINVAL, HR_EINVAL,
             "out NULL");
    NORM_ERR(hr_normalize_rows(out, 3, NULL, 3, 4, 3), HR_EINVAL, HR_EINVAL,
             "in NULL");
    /* sizes no address space holds: refused before any access */
    NORM_ERR(hr_normalize_rows(out, 1, dummy, SIZE_MAX / 2, 4, 1),
             HR_EOVERFLOW, HR_EINVAL, "n*ldi overflows");
    NORM_ERR(hr_normalize_rows(out, SIZE_MAX / 2, dummy, 1, 4, 1),
             HR_EOVERFLOW, HR_EINVAL, "n*ldo overflows");
    NORM_ERR(hr_normalize_rows(out, SIZE_MAX / 2, dummy, SIZE_MAX / 2, 1,
                               SIZE_MAX / 2),
             HR_EOVERFLOW, HR_EINVAL, "d*sizeof(float) overflows");
#undef NORM_ERR
    /* nothing to do: NULL is fine when n*d == 0 */
    s = hr_normalize_rows(NULL, 3, NULL, 3, 0, 3);
    cr_assert_eq(s, HR_OK, "n = 0 with NULL: status %d", (int)s);
    s = hr_normalize_rows(NULL, 0, NULL, 0, 3, 0);
    cr_assert_eq(s, HR_OK, "d = 0 with NULL: status %d", (int)s);
    hr_t_fill_f(out, 4 * 8, HR_T_SENT_F);
    s = hr_normalize_rows(out, 8, in, 8, 4, 0);
    cr_assert_eq(s, HR_OK, "d = 0: status %d", (int)s);
    cr_assert_eq(hr_t_count_ne_f(out, 4 * 8, HR_T_SENT_F), 0u,
                 "d = 0 wrote padding");
}
