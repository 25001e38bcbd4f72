/* tests/fuzz/fuzz_weights.c - hr_weights on arbitrary c, policy,
   temperature and eps (float bit patterns), then hr_alias_build on its
   output.

   Checks: the documented status (HR_EINVAL for NULL with n > 0, an unknown
   policy, eps outside [0, 1] or NaN, a SOFTMAX temperature that is not
   finite and > 0; then HR_ENONFINITE for NaN/Inf in c, except c[0] ==
   -INFINITY when n == 1); p untouched on error; on HR_OK every p_i finite,
   >= 0 and at least about eps / n, the p_i summing to 1 up to float
   rounding, each within float rounding of a double-precision evaluation of
   the documented formula; and hr_alias_build accepts p (a weighting
   always gives a valid sampling distribution). */
#define HARDREID_IMPLEMENTATION
#include "fuzz.h"

#define MAXN 4096

static double policy_q(int policy, double c, double cmax, double inv_t) {
    double q;
    if (policy == HR_WEIGHT_SOFTMAX) return exp((c - cmax) * inv_t);
    q = policy == HR_WEIGHT_SHIFTED ? 0.5 * (1.0 + c) : c;
    return q > 0.0 ? q : 0.0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in;
    size_t n, i;
    int mode, policy, nonfinite = 0, null_p, null_c;
    uint8_t pb, eb, tb;
    float T, eps, *c, *p;
    void *cb, *pb_;
    hr_status want, s;

    fz_init(&in, data, size);
    n = fz_u16(&in) % (MAXN + 1);
    mode = fz_u8(&in) % FZ_NMODES;
    pb = fz_u8(&in);
    eb = fz_u8(&in);
    tb = fz_u8(&in);
    /* policy: mostly the three valid ones; 0x80 of pb: any int */
    policy = (pb & 0x80) ? (int)(int8_t)fz_u8(&in) : pb % 3;
    null_p = (pb & 0x70) == 0x10;
    null_c = (pb & 0x70) == 0x20;
    /* eps: raw bits, or k / 255 */
    eps = (eb & 1) ? fz_float(&in, FZ_RAW) : (float)(eb >> 1) / 127.0f;
    /* temperature: raw bits, or a power of two from 2^-60 to 2^30 */
    T = (tb & 1) ? fz_float(&in, FZ_RAW) : ldexpf(1.0f, (int)(tb >> 1) % 91 - 60);

    c = (float *)fz_alloc(n * sizeof(float), 0, &cb);
    p = (float *)fz_alloc(n * sizeof(float), 0, &pb_);
    for (i = 0; i < n; i++) {
        c[i] = fz_float(&in, mode);
        if (mode == FZ_SMALL) c[i] /= 3.0f; /* cosines: [-1, 1] */
        p[i] = 12345.5f;
    }
    if (n == 1 && (pb & 8)) c[0] = -INFINITY;
    for (i = 0; i < n; i++)
        if (!isfinite(c[i]) && !(n == 1 && c[i] == -INFINITY)) nonfinite = 1;

    if ((n && (null_p || null_c)) || !(eps >= 0.0f && eps <= 1.0f) ||
        (policy != HR_WEIGHT_LINEAR && policy != HR_WEIGHT_SHIFTED &&
         policy != HR_WEIGHT_SOFTMAX) ||
        (policy == HR_WEIGHT_SOFTMAX && !(T > 0.0f && isfinite(T))))
        want = HR_EINVAL;
    else if (nonfinite) want = HR_ENONFINITE;
    else want = HR_OK;

    s = hr_weights(null_p ? NULL : p, null_c ? NULL : c, n, (hr_weighting)policy, T, eps);
    FZ_CHECK(s == want, "n=%zu policy %d T %g eps %g: status %d, want %d", n, policy,
             (double)T, (double)eps, (int)s, (int)want);
    if (s != HR_OK || null_p) {
        for (i = 0; i < n; i++)
            FZ_CHECK(fz_ubits(p[i]) == fz_ubits(12345.5f), "p written on error");
    } else if (n > 0) {
        double cmax = -HUGE_VAL, inv_t = 0.0, sum = 0.0, total = 0.0;
        const double floor_ = (double)eps / (double)n;
        void *mem;
        hr_alias a;
        hr_status sa;
        if (n == 1) FZ_CHECK(p[0] == 1.0f, "n == 1: p[0] = %g", (double)p[0]);
        if (policy == HR_WEIGHT_SOFTMAX) inv_t = 1.0 / (double)T;
        for (i = 0; i < n; i++)
            if (c[i] > cmax) cmax = c[i];
        for (i = 0; i < n; i++) sum += policy_q(policy, c[i], cmax, inv_t);
        for (i = 0; i < n; i++) {
            const double want_p = n == 1 ? 1.0
                : sum > 0.0 ? (1.0 - (double)eps) * (policy_q(policy, c[i], cmax, inv_t) / sum) + floor_
                            : 1.0 / (double)n;
            FZ_CHECK(isfinite(p[i]) && p[i] >= 0.0f, "p[%zu] = %g", i, (double)p[i]);
            FZ_CHECK(fabs((double)p[i] - want_p) <= 0x1p-23 * want_p + 0x1p-149,
                     "p[%zu] = %.9g, formula %.17g (policy %d, c %.9g, T %g, eps %g)",
                     i, (double)p[i], want_p, policy, (double)c[i], (double)T, (double)eps);
            FZ_CHECK((double)p[i] >= floor_ * (1.0 - 0x1p-23) - 0x1p-149,
                     "p[%zu] = %g below eps / n = %g", i, (double)p[i], floor_);
            total += p[i];
        }
        FZ_CHECK(fabs(total - 1.0) <= 0x1p-23 * (double)(n + 1),
                 "sum of p = %.17g", total);
        mem = malloc(hr_alias_size(n));
        sa = hr_alias_build(&a, mem, p, n);
        FZ_CHECK(sa == HR_OK, "hr_alias_build(hr_weights(...)): %d", (int)sa);
        free(mem);
    }
    free(cb);
    free(pb_);
    return 0;
}
