/* tests/test_errors.c - the lines of README's "Bad input" catalogue that the
   other suites do not test: each refusal below gives its documented status
   and leaves every output (and the caller's memory, and the generator)
   bitwise as it was. The rest of the catalogue names its tests in the
   suites of the calls (test_core, test_difficulty, test_sampling,
   test_gemm, test_conv, test_heads) and in tests/alloc_fail.c.

   With -DHR_TSAN_CANARY (make test-tsan only) one more test races on
   purpose, so that test-tsan can show that ThreadSanitizer sees the
   library's threads. */
#include "harness.h"
#include "hardreid.h"

/* ----------------------------------------------------------- status, ISA */

Test(errors, status_string_unknown) {
    cr_assert(strcmp(hr_status_string((hr_status)-99), "unknown status") == 0,
              "code -99: \"%s\"", hr_status_string((hr_status)-99));
    cr_assert(strcmp(hr_status_string((hr_status)1), "unknown status") == 0,
              "code 1: \"%s\"", hr_status_string((hr_status)1));
}

/* an unknown value is HR_EUNSUPPORTED (not compiled in, whatever it is),
   and the choice made before stands */
Test(errors, set_isa_unknown) {
    static const int bad[3] = {42, -1, 99};
    int k;
    cr_assert_eq(hr_set_isa(HR_ISA_SCALAR), HR_OK, "set scalar");
    for (k = 0; k < 3; k++) {
        const hr_status s = hr_set_isa((hr_isa)bad[k]);
        cr_assert_eq(s, HR_EUNSUPPORTED, "hr_set_isa(%d): status %d", bad[k],
                     (int)s);
        cr_assert_eq(hr_get_isa(), HR_ISA_SCALAR, "hr_set_isa(%d) changed the path to %s",
                     bad[k], hr_isa_name(hr_get_isa()));
    }
    cr_assert_eq(hr_isa_supported((hr_isa)99), 0, "isa 99 supported");
    cr_assert_eq(hr_set_isa(HR_ISA_AUTO), HR_OK, "restore AUTO");
}

/* ---------------------------------------------------- hr_normalize_rows */

/* in place (out == in) needs ldo == ldi once there are two rows; one row
   has no stride to disagree on */
Test(errors, normalize_in_place_strides) {
    float buf[3 * 6], keep[3 * 6];
    size_t i;
    hr_status s;
    for (i = 0; i < 3 * 6; i++) buf[i] = (float)i - 7.5f;
    memcpy(keep, buf, sizeof buf);
    s = hr_normalize_rows(buf, 6, buf, 5, 3, 4);
    cr_assert_eq(s, HR_EINVAL, "in place, ldo 6 != ldi 5: status %d", (int)s);
    s = hr_normalize_rows(buf, 4, buf, 6, 3, 4);
    cr_assert_eq(s, HR_EINVAL, "in place, ldo 4 != ldi 6: status %d", (int)s);
    cr_assert(memcmp(buf, keep, sizeof buf) == 0, "buffer written on error");
    s = hr_normalize_rows(buf, 6, buf, 5, 1, 4);
    cr_assert_eq(s, HR_OK, "in place, one row, strides differ: status %d", (int)s);
}

/* ------------------------------------- hr_difficulty / hr_neighbors_topk */

/* flags other than HR_UNIT_ROWS: HR_EINVAL before anything is read (w
   holds a NaN, which would be HR_ENONFINITE), outputs untouched; k == 0
   checks the arguments too, but does not read W */
static void unknown_flag_one(hr_isa isa, void *ctx) {
    static const unsigned flags[4] = {2u, 4u, 0x80000000u, HR_UNIT_ROWS | 2u};
    float w[4 * 3], c[4 * 2];
    int32_t j[4 * 2];
    size_t f, i;
    hr_status s;
    (void)ctx;
    for (i = 0; i < 4 * 3; i++) w[i] = (float)(i % 5) - 2.0f;
    w[7] = NAN;
    for (f = 0; f < 4; f++) {
        hr_t_fill_f(c, 8, HR_T_SENT_F);
        hr_t_fill_i(j, 8, HR_T_SENT_I);
        s = hr_difficulty(c, j, w, 4, 3, 3, flags[f]);
        cr_assert_eq(s, HR_EINVAL, "[%s] difficulty flags 0x%x: status %d", hr_isa_name(isa),
                     flags[f], (int)s);
        s = hr_neighbors_topk(c, j, 2, w, 4, 3, 3, flags[f]);
        cr_assert_eq(s, HR_EINVAL, "[%s] topk flags 0x%x: status %d", hr_isa_name(isa), flags[f],
                     (int)s);
        s = hr_neighbors_topk(c, j, 0, w, 4, 3, 3, flags[f]);
        cr_assert_eq(s, HR_EINVAL, "[%s] topk k=0 flags 0x%x: status %d", hr_isa_name(isa),
                     flags[f], (int)s);
        cr_assert(hr_t_count_ne_f(c, 8, HR_T_SENT_F) == 0 && hr_t_count_ne_i(j, 8, HR_T_SENT_I) == 0,
                  "[%s] flags 0x%x: outputs written on error", hr_isa_name(isa), flags[f]);
    }
}

Test(errors, difficulty_unknown_flag) { for_each_isa(unknown_flag_one, NULL); }

Test(errors, topk_k0_checks_arguments) {
    float w[4 * 3], c[2];
    int32_t j[2];
    size_t i;
    hr_status s;
    for (i = 0; i < 4 * 3; i++) w[i] = (float)i;
    hr_t_fill_f(c, 2, HR_T_SENT_F);
    hr_t_fill_i(j, 2, HR_T_SENT_I);
    s = hr_neighbors_topk(c, j, 0, w, 4, 3, 2, 0);
    cr_assert_eq(s, HR_EINVAL, "k=0, ldw < d: status %d", (int)s);
    s = hr_neighbors_topk(c, j, 0, NULL, 4, 3, 3, 0);
    cr_assert_eq(s, HR_EINVAL, "k=0, w NULL: status %d", (int)s);
    s = hr_neighbors_topk(c, j, 0, w, 2, 1, SIZE_MAX / 2 + 1, 0);
    cr_assert(s == HR_EOVERFLOW, "k=0, n*ldw overflows: status %d", (int)s);
#if SIZE_MAX > 0xFFFFFFFFu
    s = hr_neighbors_topk(c, j, 0, w, (size_t)INT32_MAX + 1, 1, 1, 0);
    cr_assert_eq(s, HR_EINVAL, "k=0, n > INT32_MAX: status %d", (int)s);
#endif
    /* W is not read: a NaN is not looked for */
    w[5] = NAN;
    s = hr_neighbors_topk(NULL, NULL, 0, w, 4, 3, 3, 0);
    cr_assert_eq(s, HR_OK, "k=0 with a NaN in W: status %d", (int)s);
    cr_assert(hr_t_count_ne_f(c, 2, HR_T_SENT_F) == 0 && hr_t_count_ne_i(j, 2, HR_T_SENT_I) == 0,
              "k=0: outputs written");
}

/* ------------------------------------------------------------- sampling */

/* the caller's memory stays bitwise as it was after every refused build
   (the header promises "nothing written, neither *a nor mem") */
Test(errors, alias_build_mem_untouched) {
    static const float ok[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    const float bad[6][4] = {
        {1.0f, NAN, 3.0f, 4.0f},   {1.0f, 2.0f, INFINITY, 4.0f}, {-INFINITY, 1.0f, 1.0f, 1.0f},
        {1.0f, -2.0f, 3.0f, 4.0f}, {0.0f, 0.0f, 0.0f, 0.0f},     {0.0f, -0.0f, 0.0f, -0.0f},
    };
    static const hr_status want[6] = {HR_ENONFINITE, HR_ENONFINITE, HR_ENONFINITE,
                                      HR_EINVAL,     HR_EINVAL,     HR_EINVAL};
    unsigned char mem[512], keep[512];
    hr_alias a, akeep;
    hr_rng r;
    size_t k, i;
    cr_assert(hr_alias_size(4) <= sizeof mem, "size");
    cr_assert_eq(hr_alias_build(&a, mem, ok, 4), HR_OK, "a table first");
    memcpy(keep, mem, sizeof mem);
    akeep = a;
    for (k = 0; k < 6; k++) {
        const hr_status s = hr_alias_build(&a, mem, bad[k], 4);
        cr_assert_eq(s, want[k], "case %zu: status %d, want %d", k, (int)s, (int)want[k]);
        cr_assert(memcmp(mem, keep, sizeof mem) == 0, "case %zu: mem written on error", k);
        cr_assert(memcmp(&a, &akeep, sizeof a) == 0, "case %zu: *a written on error", k);
    }
    cr_assert_eq(hr_alias_build(&a, mem, ok, 0), HR_EINVAL, "n = 0");
    cr_assert(memcmp(mem, keep, sizeof mem) == 0 && memcmp(&a, &akeep, sizeof a) == 0,
              "n = 0: written on error");
    /* the table built before still draws what it did */
    hr_rng_seed(&r, 9);
    for (i = 0; i < 200; i++) cr_assert(hr_alias_draw(&a, &r) < 4, "draw");
}

Test(errors, ids_build_mem_untouched) {
    static const int32_t lab[5] = {7, -1, 3, 7, 9};
    unsigned char mem[512], keep[512];
    hr_ids ix, ixkeep;
    cr_assert(hr_ids_size(5) <= sizeof mem, "size");
    cr_assert_eq(hr_ids_build(&ix, mem, lab, 5), HR_OK, "an index first");
    memcpy(keep, mem, sizeof mem);
    ixkeep = ix;
    cr_assert_eq(hr_ids_build(&ix, mem, NULL, 5), HR_EINVAL, "labels NULL");
    cr_assert_eq(hr_ids_build(NULL, mem, lab, 5), HR_EINVAL, "ix NULL");
#if SIZE_MAX > 0xFFFFFFFFu
    cr_assert_eq(hr_ids_build(&ix, mem, lab, (size_t)INT32_MAX + 1), HR_EINVAL, "n > INT32_MAX");
#endif
    cr_assert(memcmp(mem, keep, sizeof mem) == 0, "mem written on error");
    cr_assert(memcmp(&ix, &ixkeep, sizeof ix) == 0, "ix written on error");
    cr_assert(hr_ids_find(&ix, 9) == 2 && hr_ids_find(&ix, -1) == -1 &&
                  hr_ids_find(&ix, INT32_MIN) == -1 && hr_ids_find(&ix, INT32_MAX) == -1,
              "the index built before still answers");
}

/* the arguments are judged before the values: a NaN with a NULL p is
   HR_EINVAL, not HR_ENONFINITE */
Test(errors, weights_arguments_first) {
    const float c[3] = {0.1f, NAN, 0.3f};
    float p[3];
    hr_t_fill_f(p, 3, HR_T_SENT_F);
    cr_assert_eq(hr_weights(NULL, c, 3, HR_WEIGHT_LINEAR, 0.0f, 0.0f), HR_EINVAL, "p NULL");
    cr_assert_eq(hr_weights(p, c, 3, (hr_weighting)3, 0.0f, 0.0f), HR_EINVAL, "policy 3");
    cr_assert_eq(hr_weights(p, c, 3, HR_WEIGHT_LINEAR, 0.0f, 2.0f), HR_EINVAL, "eps 2");
    cr_assert_eq(hr_weights(p, c, 3, HR_WEIGHT_SOFTMAX, NAN, 0.0f), HR_EINVAL, "T NaN");
    cr_assert_eq(hr_weights(p, c, 3, HR_WEIGHT_SHIFTED, 0.0f, 0.0f), HR_ENONFINITE, "then the NaN");
    cr_assert_eq(hr_t_count_ne_f(p, 3, HR_T_SENT_F), (size_t)0, "p written on error");
}

/* m == 0: nothing drawn, the generator not advanced */
Test(errors, draw_n_zero) {
    static const float w[3] = {1.0f, 0.0f, 2.0f};
    unsigned char mem[256];
    uint32_t out[4] = {7, 7, 7, 7};
    hr_alias a;
    hr_rng r, keep;
    cr_assert_eq(hr_alias_build(&a, mem, w, 3), HR_OK, "table");
    hr_rng_seed(&r, 3);
    keep = r;
    hr_alias_draw_n(out, 0, &a, &r);
    hr_alias_draw_n(NULL, 0, &a, &r);
    cr_assert(memcmp(&r, &keep, sizeof r) == 0, "m = 0 advanced r");
    cr_assert(out[0] == 7 && out[3] == 7, "m = 0 wrote out");
}

/* An index with no identities (all junk) refused by every builder; no
   builder writes out or advances r on any refusal. */
Test(errors, batch_empty_index_and_rng) {
    static const int32_t junk[3] = {-1, -1, -2}, lab[6] = {4, 4, 8, 8, 8, 1};
    static const float one = 1.0f, c[3] = {0.5f, 0.2f, 0.9f}, p[3] = {1.0f, 1.0f, 1.0f};
    unsigned char mem[512], amem[256], amem1[256];
    hr_ids none, ix;
    hr_alias a1, a3;
    hr_rng r, keep;
    uint32_t out[16];
    hr_status s;
    cr_assert_eq(hr_ids_build(&none, mem, junk, 3), HR_OK, "all junk");
    cr_assert_eq(none.nids, 0u, "no identities");
    cr_assert_eq(hr_alias_build(&a1, amem1, &one, 1), HR_OK, "1-category table");
    hr_rng_seed(&r, 11);
    keep = r;
    hr_t_fill_i((int32_t *)out, 16, HR_T_SENT_I);
    s = hr_batch_hardest(out, &none, c, 1, 0, NULL, 0, &r);
    cr_assert_eq(s, HR_EINVAL, "hardest, no identities: %d", (int)s);
    s = hr_batch_proportional(out, 4, &none, &a1, &r);
    cr_assert_eq(s, HR_EINVAL, "proportional, no identities: %d", (int)s);
    s = hr_batch_pk(out, 1, 1, &none, NULL, &r);
    cr_assert_eq(s, HR_EINVAL, "pk, no identities: %d", (int)s);
    /* hr_batch_proportional's other refusals: r and out untouched */
    cr_assert_eq(hr_ids_build(&ix, mem, lab, 6), HR_OK, "ids");
    cr_assert_eq(hr_alias_build(&a3, amem, p, 3), HR_OK, "table");
    cr_assert_eq(hr_batch_proportional(out, 0, &ix, &a3, &r), HR_EINVAL, "count 0");
    cr_assert_eq(hr_batch_proportional(out, 4, &ix, &a1, &r), HR_EINVAL, "a->n != nids");
    cr_assert_eq(hr_batch_proportional(out, 4, &ix, NULL, &r), HR_EINVAL, "a NULL");
    cr_assert(memcmp(&r, &keep, sizeof r) == 0, "r advanced on error");
    cr_assert_eq(hr_t_count_ne_i((int32_t *)out, 16, HR_T_SENT_I), (size_t)0, "out written on error");
    cr_assert_eq(hr_batch_proportional(out, 4, &ix, &a3, &r), HR_OK, "the valid call");
}

/* ---------------------------------------------------------------- heads */

Test(errors, head_default_unknown_kind) {
    const hr_head h = hr_head_default((hr_head_kind)9), s = hr_head_default(HR_HEAD_SOFTMAX);
    cr_assert(h.kind == HR_HEAD_SOFTMAX && memcmp(&h, &s, sizeof h) == 0,
              "unknown kind: kind %d s %g", (int)h.kind, (double)h.s);
}

/* sizes no buffer has: refused before x or w is read (both are a few
   floats); the labels (batch of them) are read first */
Test(errors, head_sizes) {
    float x[4] = {1, 2, 3, 4}, w[4] = {4, 3, 2, 1}, loss[2], lg[8], dx[8], dw[8];
    const int32_t lab[2] = {0, 1};
    int k;
    for (k = 0; k < 4; k++) {
        const hr_head h = hr_head_default((hr_head_kind)k);
        hr_status s;
        hr_t_fill_f(loss, 2, HR_T_SENT_F);
        hr_t_fill_f(lg, 8, HR_T_SENT_F);
        hr_t_fill_f(dx, 8, HR_T_SENT_F);
        hr_t_fill_f(dw, 8, HR_T_SENT_F);
        s = hr_head_loss(&h, loss, lg, dx, dw, x, w, lab, 2, SIZE_MAX / 2, 2);
        cr_assert_eq(s, HR_EOVERFLOW, "kind %d: d = SIZE_MAX/2: status %d", k, (int)s);
        s = hr_head_loss(&h, loss, lg, dx, dw, x, w, lab, 1, (SIZE_MAX / 4) / 3 + 1, 3);
        cr_assert_eq(s, HR_EOVERFLOW, "kind %d: classes d floats overflow: status %d", k, (int)s);
#if SIZE_MAX > 0xFFFFFFFFu
        s = hr_head_loss(&h, loss, lg, dx, dw, x, w, lab, 2, 2, (size_t)INT32_MAX + 1);
        cr_assert_eq(s, HR_EINVAL, "kind %d: classes > INT32_MAX: status %d", k, (int)s);
#endif
        cr_assert(hr_t_count_ne_f(loss, 2, HR_T_SENT_F) == 0 && hr_t_count_ne_f(lg, 8, HR_T_SENT_F) == 0 &&
                      hr_t_count_ne_f(dx, 8, HR_T_SENT_F) == 0 && hr_t_count_ne_f(dw, 8, HR_T_SENT_F) == 0,
                  "kind %d: an output written on error", k);
    }
}

/* ---------------------------------------------------------- TSan canary */

#if defined(HR_TSAN_CANARY) && defined(_OPENMP)
/* Two threads of a team call hr_difficulty on the same outputs: a race
   the caller made, inside the library's memcpy of its results. make
   test-tsan requires ThreadSanitizer to report it: a run that cannot see
   this would pass the suite without meaning anything. */
Test(tsan, canary) {
    enum { N = 64, D = 8 };
    static float w[N * D], c[N];
    static int32_t j[N];
    uint64_t seed = 5;
    size_t i;
    for (i = 0; i < N * D; i++) w[i] = hr_t_unif(&seed);
#pragma omp parallel num_threads(2)
    (void)hr_difficulty(c, j, w, N, D, D, 0);
    cr_assert(c[0] > -2.0f, "ran");
}
#endif
