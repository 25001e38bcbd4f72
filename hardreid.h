/* hardreid.h - v0.5.1 - hardness-aware identity sampling kernels for re-ID
   training. Public domain or MIT (see end of file). No warranty.

   ONE-LINE SUMMARY
     From a classifier weight matrix W (N identities x d), compute every
     identity's difficulty c_i = max_{n != i} cos(w_i, w_n) and its nearest
     identity, without ever storing the N x N cosine matrix; turn the
     difficulties into the next batch; and train the network with the same
     micro-kernels (GEMM, FC, convolution, margin heads).

   USAGE
     In exactly ONE C or C++ file:
         #define HARDREID_IMPLEMENTATION
         #include "hardreid.h"
     Elsewhere include it without the define. Link with -lm, and -lsleef
     for the heads' vector expf (without it they use libm's; see
     HR_SLEEF_STRONG); add -fopenmp for
     multi-threaded kernels. Example:

         float c[N]; int32_t nearest[N];
         hr_status s = hr_difficulty(c, nearest, W, N, d, d, 0);
         if (s != HR_OK) fprintf(stderr, "%s\n", hr_status_string(s));

   KERNELS (shapes: rows x columns; every matrix has an explicit row stride)
     hr_normalize_rows  out[n x d] = in[n x d] scaled to unit L2 rows
     hr_difficulty      c[n], nearest[n] from W[n x d] (fused Gram + row max)
     hr_neighbors_topk  sim[n x k], idx[n x k]: the k nearest other rows
     hr_difficulty_pairs  the same maxima over row blocks (one block with
                        itself, or two), global indices: for W split across
                        machines; hr_maxima_merge joins partial results
     hr_difficulty_update  refresh c, nearest after a few rows of W changed
     hr_rng_*           xoshiro256** generator: seed, next, jump, below
     hr_alias_build     alias table of w[n] in caller memory, O(n), exact
     hr_alias_draw      one draw, O(1); hr_alias_draw_n: out[m] (SIMD)
     hr_ids_build       identity index (CSR) from labels[n]; junk counted
     hr_weights         p[n] from difficulties c[n]: linear, shifted, softmax
     hr_batch_hardest   Mode A: arg max c's images (+ nearest's) + random
     hr_batch_proportional  Mode B: identities from an alias table
     hr_batch_pk        P distinct identities x K images
     hr_gemm            C = alpha op(A) op(B) + beta C (sgemm, row-major)
     hr_fc_forward      y = x W^T + b; hr_fc_backward: dx, dW, db (+=)
     hr_conv2d_*        NHWC convolution (stride, padding, groups,
                        depthwise): forward, backward data, backward weight
     hr_head_loss       softmax / SphereFace / CosFace / ArcFace + cross-
                        entropy, forward and backward in one call

   SEMANTICS (settled in docs/DESIGN.md, section 1)
     - Rows are normalized on the fly (fused into packing) unless flags has
       HR_UNIT_ROWS. A zero row stays zero and has similarity 0 with all.
     - Self is masked by index, never by value: two equal rows give 1.0 each,
       pointing at each other. Ties go to the smallest index.
     - n == 1: c = -INFINITY, nearest = -1. n == 0: nothing to do, HR_OK.
       A maximum equal to zero is returned as +0.0f.
     - Any NaN/Inf in W: HR_ENONFINITE, outputs untouched. Every error
       leaves every output untouched.
     - Results are bitwise identical for any OpenMP thread count. Different
       ISA paths may differ in the last bits (FMA contraction, summation
       order): see HR_TOL_ISA below; indices then agree except between
       candidates that close.

   ISA PATHS AND DISPATCH
     Every kernel has a scalar reference (plain C99: the specification) and
     optional AVX2+FMA and AVX-512F (x86-64) and NEON (AArch64) variants
     with the same signature, bound in one table per ISA; the tables are
     rows of one registry (section >>dispatch), indexed by hr_isa. On x86
     the SIMD variants are compiled with function-level target attributes,
     so a build without -mavx2 / -mavx512f still runs them on a CPU that
     has them (cpuid; for AVX-512 also XGETBV: the OS saves ZMM state). The
     best supported path is the default: AVX-512 where the CPU has it.
     hr_isa_name(hr_get_isa()) says which path runs. To force one:
     hr_set_isa(), or the environment variable HR_ISA=<hr_isa_name> (e.g.
     scalar, avx2, avx512, neon) read at first use, or the macro
     HR_FORCE_ISA at build time. Each call reads the choice once and runs
     on that path throughout.

   CONFIG MACROS (define before including the implementation)
     HARDREID_STATIC     all functions static (private to one translation unit)
     HR_MALLOC, HR_FREE  allocator (define both or neither)
     HR_ASSERT(x)        internal invariant checks (default: assert.h)
     HR_NO_SIMD          compile the scalar path only
     HR_NO_SLEEF         no SLEEF: the heads' vector expf falls back to libm's
                         expf (slower). By default the SIMD paths
                         call SLEEF (Debian libsleef-dev) where it is linked
                         (-lsleef), libm's expf where not (weak references
                         on ELF).
     HR_SLEEF_STRONG     plain references to SLEEF: a missing -lsleef is a
                         link error, and --as-needed or a static link keep it
                         (weak references alone do not).
     HR_FORCE_ISA        an hr_isa (e.g. HR_ISA_SCALAR): the path used,
                         if supported, unless hr_set_isa() says otherwise

   PROCESS-WIDE STATE
     The library keeps no mutable global state except the ISA choice of
     hr_set_isa() (an atomic int). Every public call reads it once and
     passes that path's kernel table down, so hr_set_isa() from another
     thread takes effect at the next call and never mixes two paths in
     one (tests/test_isa_race.c). Everything else is in the arguments.

   SECTIONS (grep for the marker: ">>name")
     >>public >>scale-api >>sampling-api >>train-api   declarations
     >>implementation     below HARDREID_IMPLEMENTATION:
       >>config             config hooks, includes, target attributes
       >>kernel-signatures  the per-ISA kernels' contracts, hr__kernels
       >>scalar             the reference kernels (the specification)
       >>simd               the simple kernels, written once over a small
                            vocabulary each ISA section defines
       >>kernels-avx2 >>kernels-neon >>kernels-avx512   one table each
       >>dispatch           the ISA registry, detection, HR_ISA
       >>helpers            status strings, checked sizes, alignment
       >>normalize >>gram >>pieces   normalization; the blocked Gram
                            driver (difficulty, top-k); difficulty in pieces
       >>gemm >>fc >>conv >>heads    the training kernels' drivers
       >>sampling           RNG, alias table, identity index, policies,
                            batch builders

   PORTING (adding SVE, RISC-V V, ...): a new ISA is its kernels + one row
     1. Add an enumerator to hr_isa, before HR_ISA_COUNT (detection takes
        the supported path with the highest enumerator: a new path comes
        after those it supersedes on its architecture).
     2. In a new >>kernels-NEWISA section write the variants whose
        signatures are fixed in >>kernel-signatures: the Gram micro-kernel
        (pick its register tile MR x NR, at most HR__MAX_TILE; packing and
        masking follow it; with ep != NULL it folds the tile into running
        maxima, up to HR__LANES lanes per row, instead of storing it;
        hr_gemm uses the same kernel) and its two siblings on the same
        tile, the direct kernel (A's rows through pointers: in-place GEMM,
        convolution) and the outer kernel (A's columns through pointers:
        the convolution's backward weight); the batched alias draw, the
        GEMM panel packing, the depthwise forward (and backward weight);
        the simple kernels (row sum-of-squares and scale, the tile store,
        the depthwise axpy / dot, the column sum, the softmax's expsum)
        come from >>simd: define its vocabulary as NAME_newisa (vector
        type, lanes, loads and stores with a partial tail, arithmetic,
        widening to double and back, a horizontal sum), set HR__SIMD_ISA
        and expand HR__SIMD_KERNELS (and HR__SIMD_EXPSUM where SLEEF has
        the ISA); then its
        hr__kernels table: its CPU test, its blocking (mc, kc, the Gram
        and GEMM B block sizes, the in-place-A threshold) and the kernels.
        Start from the scalar table: any entry you have not vectorized yet
        points at its scalar reference (the three tile kernels go together:
        the scalar ones are 4 x 4; a table may name one of narrower tiles
        for convolutions of few channels, `narrow`, and one of wider tiles
        for channels a multiple of 64, `wide`). End the
        section with
        #define HR__KERNELS_NEWISA (&table), and NULL where not compiled.
     3. Add its row {HR_ISA_NEWISA, "name", HR__KERNELS_NEWISA} to
        hr__isas (>>dispatch). Names, HR_ISA, hr_isa_from_name, support,
        detection and the tests, CLIs and Python binding follow the
        registry; tests/ run every supported path against the scalar one.
     The blocked drivers, threading, masking, merging and samplers are
     ISA-free.

   REVISION HISTORY
     0.5.2 (2026-12-05) convolution speed: AVX-512's wide 6 x 64 tile for
                        channels a multiple of 64; the direct kernel takes
                        row pointers and tap offsets; depthwise 3x3
                        forward with the weights in registers; the
                        backward weight's partials summed by colsum (dw
                        rounds differently). >>simd: the depthwise
                        axpy / dot and colsum written once; then row
                        sum-of-squares and scale, the tile store and
                        expsum too (their tails in one partial vector).
                        No API change.
     0.5.1 (2026-12-05) convolution speed: padded taps skipped by class in
                        every pass; the outer kernel reads B through row
                        pointers (dy in place); AVX-512's own 12 x 16
                        narrow tile; depthwise backward weight with 9 taps
                        in registers; dbias by a colsum kernel (the same
                        bits on every path). No API change.
     0.5.0 (2026-12-03) direct convolution: forward, stride-1 backward data
                        and backward weight read NHWC x in place through
                        two new micro-kernels per ISA (direct, outer), no
                        im2col buffer; depthwise register-blocked; dbias
                        without allocating.
     0.4.0 (2026-12-02) AVX-512F path (the default where present); the ISA
                        registry, HR_ISA_COUNT, hr_isa_from_name; each call
                        reads the ISA once (hr_set_isa during a call was a
                        heap overrun in conv).
     0.3.0 (2026-11-27) difficulty in pieces: hr_block, hr_difficulty_pairs,
                        hr_maxima_reset/merge, hr_difficulty_update; a zero
                        maximum is returned as +0.0f.
     0.2.0 (2026-11-27) training kernels: hr_gemm, FC, NHWC conv, margin
                        heads (SLEEF); hr_rng_next and hr_alias_draw inline.
     0.1.0 (2026-11-27) row normalization, fused difficulty, top-k; RNG, alias
                        sampler, identity index, weighting, batch builders.
*/
#ifndef HARDREID_H
#define HARDREID_H

#define HARDREID_VERSION_MAJOR 0
#define HARDREID_VERSION_MINOR 5
#define HARDREID_VERSION_PATCH 2
#define HARDREID_VERSION_STRING "0.5.2"

#include <stddef.h>
#include <stdint.h>

#ifndef HRDEF
#ifdef HARDREID_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define HRDEF static __attribute__((unused)) /* a TU may use only some */
#else
#define HRDEF static
#endif
#else
#define HRDEF extern
#endif
#endif

/* The few calls that sit in a user's inner loop are defined in the header
   itself, static inline, in every translation unit. */
#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#define HR__INLINE inline
#elif defined(_MSC_VER)
#define HR__INLINE __inline
#else
#define HR__INLINE
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* >>public ---------------------------------------------------------------*/

/* Status codes: HR_OK is zero, errors are negative. No call aborts. */
typedef enum hr_status {
    HR_OK = 0,
    HR_EINVAL = -1,       /* NULL pointer, stride < width, size out of range */
    HR_ENOMEM = -2,       /* allocation failed (HR_MALLOC returned NULL)     */
    HR_ENONFINITE = -3,   /* NaN or Inf in an input that must be finite      */
    HR_EOVERFLOW = -4,    /* a size computation would overflow size_t        */
    HR_EUNSUPPORTED = -5  /* ISA not compiled in or not supported by the CPU */
} hr_status;

HRDEF const char *hr_status_string(hr_status s);

typedef enum hr_isa {
    HR_ISA_AUTO = 0,      /* best supported path (hr_set_isa only)           */
    HR_ISA_SCALAR = 1,
    HR_ISA_AVX2 = 2,      /* x86-64 AVX2 + FMA                               */
    HR_ISA_NEON = 3,      /* AArch64 Advanced SIMD                           */
    HR_ISA_AVX512 = 4,    /* x86-64 AVX-512F (+ AVX2, FMA), ZMM state enabled */
    HR_ISA_COUNT          /* one past the last: for (isa = HR_ISA_SCALAR;
                             isa < HR_ISA_COUNT; isa++) visits every path   */
} hr_isa;

/* Path used by the next call. */
HRDEF hr_isa hr_get_isa(void);
/* Force a path (HR_ISA_AUTO: best supported). HR_EUNSUPPORTED if the path is
   not compiled in or the CPU lacks it; the previous choice then stands. */
HRDEF hr_status hr_set_isa(hr_isa isa);
/* 1 if the path is compiled in and this CPU runs it. */
HRDEF int hr_isa_supported(hr_isa isa);
/* "auto", "scalar", "avx2", "neon", "avx512"; "unknown" otherwise. */
HRDEF const char *hr_isa_name(hr_isa isa);
/* The path named name (hr_isa_name's spelling, "auto" included) into *isa.
   HR_EINVAL (and *isa untouched) for NULL or a name no path has; whether
   the path runs here is hr_isa_supported's answer, not this one's. */
HRDEF hr_status hr_isa_from_name(const char *name, hr_isa *isa);

/* Difference between ISA paths (and against a double-precision reference)
   in a cosine the kernels return, for d up to 4096, when the rounding
   errors of the d products do not all lean one way (rows of trained or
   random weights): they then grow like sqrt(d), and the tests hold every
   path to this on such rows. Rows whose products all round alike (e.g.
   two equal constant rows) accumulate linearly: the worst case is
   HR_TOL_ISA_WORST(d) = d 2^-24 (2.4e-4 at d = 4096). */
#define HR_TOL_ISA 2e-5f
#define HR_TOL_ISA_WORST(d) ((float)(d) * 5.9604645e-8f)

/* flags for hr_difficulty / hr_neighbors_topk */
#define HR_UNIT_ROWS 1u   /* rows of W are already unit length (or zero, as
                             hr_normalize_rows leaves a zero row): skip
                             scaling; a row with |sum w^2 - 1| > 1e-3 is
                             HR_EINVAL */

/* out[i, :] = in[i, :] / ||in[i, :]||_2 for i < n (d columns; row strides
   ldo, ldi in floats). A zero row stays zero. out may equal in (then ldo must
   equal ldi); other overlaps are undefined. The norm is accumulated in double,
   so huge and tiny finite rows normalize correctly.
   Errors: HR_EINVAL (NULL with n*d > 0, ldo < d or ldi < d),
   HR_ENONFINITE (NaN/Inf anywhere; out untouched), HR_EOVERFLOW. */
HRDEF hr_status hr_normalize_rows(float *out, size_t ldo, const float *in,
                                  size_t ldi, size_t n, size_t d);

/* Difficulty of each identity: c[i] = max_{j != i} cos(w_i, w_j) and
   nearest[i] = that j (smallest j on ties). w is n x d with row stride ldw
   (>= d), e.g. a PyTorch nn.Linear weight (out_features x in_features).
   nearest may be NULL. flags: 0 or HR_UNIT_ROWS.
   Cost: n(n-1)d flops (one triangle of W W^T), on all OpenMP threads.
   Extra memory: 8n bytes + per thread 8n bytes and a packed tile buffer of
   at most a few MiB; never O(n^2), never a copy of W.
   Errors: HR_EINVAL (c or w NULL with n > 0, ldw < d, n > INT32_MAX, a
   non-unit row under HR_UNIT_ROWS),
   HR_EOVERFLOW, HR_ENONFINITE, HR_ENOMEM; outputs untouched on error. */
HRDEF hr_status hr_difficulty(float *c, int32_t *nearest, const float *w,
                              size_t n, size_t d, size_t ldw, unsigned flags);

/* The k most similar other rows of each row: sim[i*k + r], idx[i*k + r] for
   r < k, by similarity descending, ties to the smaller index. Rows with fewer
   than k others are padded with -INFINITY / -1. k == 1 equals hr_difficulty
   exactly. idx may be NULL. Same masking, errors and threading as
   hr_difficulty; extra memory 8nk bytes per thread. k == 0: the arguments
   are checked (W is not read) and nothing is written. */
HRDEF hr_status hr_neighbors_topk(float *sim, int32_t *idx, size_t k,
                                  const float *w, size_t n, size_t d,
                                  size_t ldw, unsigned flags);

/* >>scale-api ------------------------------------------------------------*/
/* Difficulty in pieces: for W split into row blocks (one per MPI rank or
   per machine), and for refreshing a few changed rows between full runs.
   hr_difficulty itself is hr_maxima_reset + hr_difficulty_pairs(a, NULL)
   on one block holding all of W: the same driver, not a second copy.

   Running maxima: c[r] is the largest cosine found so far for row r and
   nearest[r] its global row index; (-INFINITY, -1) before anything is found.
   A candidate (v, j) replaces (c, i) when v > c, or v == c and j < i. This is
   a total order on candidates, so folding any set of pairs in any order, in
   any number of calls, over any split of the work, gives the same maxima:
   those hr_difficulty returns, bit for bit, on the same ISA path (every pair's
   cosine is one fixed rounding chain, whichever side of a call holds it). A
   maximum equal to zero is stored as +0.0f, so MPI's MAXLOC (larger value,
   then smaller index) merges these maxima exactly as hr_maxima_merge does. */

/* Consecutive rows first .. first + n - 1 of a larger W (global indices),
   stored at w with row stride ld (>= d), and their running maxima
   c[0..n), nearest[0..n). */
typedef struct hr_block {
    const float *w;
    size_t n, ld;
    size_t first;          /* global index of row 0; first + n <= INT32_MAX + 1 */
    float *c;
    int32_t *nearest;
} hr_block;

/* c[i] = -INFINITY, nearest[i] = -1 for i < n (a block before its first call). */
HRDEF void hr_maxima_reset(float *c, int32_t *nearest, size_t n);

/* Fold the cosines of pairs of rows into the blocks' running maxima.
   b == NULL (or b == a): every pair i < j within a, once. Otherwise every
   pair (i in a, j in b); a's and b's global ranges must not overlap. Rows
   are normalized on the fly as in hr_difficulty (flags: 0 or HR_UNIT_ROWS).
   Cost: n_a n_b d flops (n_a (n_a - 1) d / 2 for b == NULL); memory as
   hr_difficulty's. Errors: HR_EINVAL (NULL pointers with rows, ld < d,
   overlapping ranges, a global index past INT32_MAX, a non-unit row under
   HR_UNIT_ROWS), HR_ENONFINITE, HR_EOVERFLOW, HR_ENOMEM; both blocks'
   maxima untouched on error. */
HRDEF hr_status hr_difficulty_pairs(const hr_block *a, const hr_block *b,
                                    size_t d, unsigned flags);

/* (c[i], nearest[i]) = the better of it and (c2[i], nearest2[i]), i < n:
   the merge of two partial results over the same rows (e.g. from two
   machines). Errors: HR_EINVAL (NULL with n > 0). */
HRDEF hr_status hr_maxima_merge(float *c, int32_t *nearest, const float *c2,
                                const int32_t *nearest2, size_t n);

/* Incremental refresh. c, nearest: hr_difficulty's output for an earlier W
   that differs from w (n x d, stride ldw) only in the rows listed in
   changed[0..nchanged) (any order, duplicates allowed). Afterwards c and
   nearest are exactly hr_difficulty(w)'s, bit for bit:
     - a changed row is recomputed against all n rows;
     - an unchanged row i whose nearest[i] is unchanged keeps its maximum
       unless a changed row now beats it (the old maximum is still a real
       cosine, and every other unchanged pair is as before);
     - an unchanged row whose nearest[i] changed may have lost its maximum
       (the cosine went down), and the runner-up was never stored: that row
       is recomputed against all n rows too.
   So the call computes the rows R = changed + {i : nearest[i] changed}
   against everyone: |R| n d flops instead of n (n - 1) d. *recomputed (may
   be NULL) receives |R|. When |R| > n / 2 the rectangle would cost more
   than a full run: the call runs hr_difficulty instead and reports n.
   A nearest[i] of -1 (with n > 1) marks row i as unknown: recomputed too.
   Rows that changed but are not listed keep stale maxima (in training,
   momentum and weight decay move every row a little: a full refresh every
   few steps bounds that drift).
   Errors: as hr_difficulty, plus HR_EINVAL for changed NULL with
   nchanged > 0, an index >= n, or a nearest[i] outside -1..n-1 or equal
   to i; c and nearest untouched on error. */
HRDEF hr_status hr_difficulty_update(float *c, int32_t *nearest, const float *w,
                                     size_t n, size_t d, size_t ldw,
                                     const int32_t *changed, size_t nchanged,
                                     unsigned flags, size_t *recomputed);

/* >>sampling-api ---------------------------------------------------------*/
/* Turning difficulties into the next batch (docs/DESIGN.md section 1, steps 4-5):
   a seedable RNG, a Walker/Vose alias sampler, an identity index over
   per-sample labels, weighting policies c -> p, and three batch builders.
   Everything is deterministic for a seed and the same on every ISA; nothing
   allocates (memory is the caller's, sized by the _size calls) and nothing
   keeps global state; errors never abort and leave every output untouched.
   Between difficulty refreshes one alias table serves any number of batches
   (a refresh every R steps is the normal large-N use). */

/* xoshiro256** (Blackman & Vigna): 256-bit state, period 2^256 - 1, 64-bit
   outputs, every bit of good quality. One generator per thread. */
typedef struct hr_rng { uint64_t s[4]; } hr_rng;

/* s[k] = the k-th output of splitmix64 started at seed (the authors'
   recommended seeding; never all zero). Any seed is fine. */
HRDEF void hr_rng_seed(hr_rng *r, uint64_t seed);
/* The next 64-bit output. Inline: defined at the end of this section. */
static HR__INLINE uint64_t hr_rng_next(hr_rng *r);
/* Advance r by 2^128 outputs. Streams 2^128 apart never overlap in practice:
   for T threads seed one generator and give thread t a copy jumped t times. */
HRDEF void hr_rng_jump(hr_rng *r);
/* Exactly uniform on [0, n): Lemire's multiply-shift on the low 32 bits of
   one output, rejecting (and drawing again) with probability
   (2^32 mod n) / 2^32 < n / 2^32. n == 0 returns 0 and leaves r alone. */
HRDEF uint32_t hr_rng_below(hr_rng *r, uint32_t n);

/* Walker/Vose alias table over n categories. A draw picks a column c
   uniformly and returns c if a 32-bit coin is below c's integer threshold,
   else c's alias. The build scales the weights to integer masses W_i that
   sum exactly to n * 2^32 (each rounded to nearest, the rounding residual,
   at most about n/2, added to the largest weight) and runs Vose's pairing in
   integers, so category i is drawn with probability exactly
   W_i / (n 2^32), within 2^-32 of w_i / sum(w). A zero weight has W_i = 0:
   threshold 0 and never an alias, so it is never drawn; n == 1 always
   draws 0. Fields are read-only; tab points into the caller's memory. */
typedef struct hr_alias {
    const uint64_t *tab; /* n entries: threshold | (uint64_t)alias << 32 */
    uint32_t n;          /* categories, 1 .. INT32_MAX                    */
    uint32_t reject;     /* Lemire's rejection bound, 2^32 mod n          */
    uint32_t npos;       /* categories with nonzero probability           */
} hr_alias;

/* Bytes of memory a table of n categories needs: 8 per category (the
   table), n/8 more for the build's scratch bitmap, and alignment slack;
   0 if that overflows size_t. */
HRDEF size_t hr_alias_size(size_t n);
/* Build the table for weights w[0..n) in mem (hr_alias_size(n) bytes, any
   alignment), O(n) time, no other memory; a refers to mem afterwards.
   Weights must be finite and >= 0 with a positive sum; they need not be
   normalized. Errors: HR_ENONFINITE (NaN/Inf anywhere: reported first),
   HR_EINVAL (NULL, n == 0, n > INT32_MAX, a negative weight, all zero).
   On error nothing is written, neither *a nor mem: a table built earlier in
   the same memory stays valid, and an a never built stays unusable. The
   build is plain C, so every ISA gets the same table bit for bit. */
HRDEF hr_status hr_alias_build(hr_alias *a, void *mem, const float *w,
                               size_t n);
/* One draw, O(1): one generator output per try (low 32 bits: the column, by
   Lemire with rejection; high 32 bits: the coin) and one 8-byte table read.
   a must have been built successfully; it is only read, so any number of
   threads may draw from one table, each with its own hr_rng. Inline. */
static HR__INLINE uint32_t hr_alias_draw(const hr_alias *a, hr_rng *r);
/* out[0..m) = m draws, batched (SIMD where the ISA has it: AVX2 runs the
   generators, the multiply and the table gathers 8 draws at a time; NEON the
   generators and the multiply). The output for a given r is the same on
   every ISA; it is defined by:
     x = hr_rng_next(r)  (r advances by exactly one output; m == 0: none);
     8 lane generators, lane k as by hr_rng_seed(&lane_k,
       x + 4 * k * 0x9E3779B97F4A7C15), i.e. outputs 4k..4k+3 of one
       splitmix64 sequence started at x;
     out[i] = hr_alias_draw(a, &lane_(i % 8)) in order of i.
   Seeding the lanes costs a few dozen draws: for a handful of draws,
   loop over hr_alias_draw. m may be anything (no multiple of 8 needed). */
HRDEF void hr_alias_draw_n(uint32_t *out, size_t m, const hr_alias *a,
                           hr_rng *r);

/* Identity index over n samples with int32 labels (any values, not
   necessarily contiguous). Identities are the distinct labels >= 0,
   numbered 0..nids-1 by ascending label: identity k is the rank of its
   label, the order classifier rows usually have (torchreid and fast-reid
   relabel sorted pids 0..N-1), so c and nearest from hr_difficulty index
   identities when row k of W is identity k. Samples with a negative label
   (Market-1501's -1, "junk") are left out and counted; label 0 (Market's
   distractors) is an identity like any other. CSR layout: identity k's
   samples are sample[start[k] .. start[k+1]), ascending; every identity has
   at least one. Fields are read-only and point into the caller's memory. */
typedef struct hr_ids {
    uint32_t nids;          /* distinct labels >= 0                       */
    uint32_t nsamples;      /* samples indexed: n - njunk                 */
    uint32_t njunk;         /* samples with a negative label              */
    const int32_t *label;   /* nids: label of identity k, ascending       */
    const uint32_t *start;  /* nids + 1: start[0] = 0, start[nids] = nsamples */
    const uint32_t *sample; /* nsamples sample indices (0 .. n-1)         */
} hr_ids;

/* Bytes of memory hr_ids_build needs for n labels (12 per label plus slack:
   the sort runs in place there); 0 if that overflows size_t. */
HRDEF size_t hr_ids_size(size_t n);
/* Build the index of labels[0..n) in mem (hr_ids_size(n) bytes, any
   alignment): a stable LSD radix sort by label, O(n) (one pass per label
   byte in use). n == 0 or all junk gives nids == 0, a valid index that the
   batch builders reject. Errors: HR_EINVAL (ix or mem NULL, labels NULL
   with n > 0, n > INT32_MAX); nothing written on error. */
HRDEF hr_status hr_ids_build(hr_ids *ix, void *mem, const int32_t *labels,
                             size_t n);
/* Identity index of a label, or -1 if absent (or negative). O(log nids). */
HRDEF int32_t hr_ids_find(const hr_ids *ix, int32_t label);

/* Weighting policies: difficulty c_i -> weight q_i, then normalized. */
typedef enum hr_weighting {
    /* Default: the source's rule p_i = c_i / sum_k c_k, with negative c_i
       clamped to 0 (the source leaves c_i < 0 open). It reproduces the
       source's numbers, e.g. c = {0.98, 0.96, 0.9, 0.5, 0.46} gives
       p = {0.258, 0.253, 0.237, 0.132, 0.121}. */
    HR_WEIGHT_LINEAR = 0,
    /* (1 + c_i) / 2 (clamped to >= 0): cosines in [-1, 1] map to [0, 1], so
       an identity with a negative difficulty still gets drawn. */
    HR_WEIGHT_SHIFTED = 1,
    /* exp(c_i / T), computed as exp((c_i - max c) / T): T -> 0 approaches
       Mode A's arg max, large T approaches uniform. */
    HR_WEIGHT_SOFTMAX = 2
} hr_weighting;

/* p[0..n) = sampling probabilities of identities with difficulties
   c[0..n): q = the policy's weights normalized to sum 1 (if they are all
   zero, e.g. LINEAR with every c_i <= 0: uniform, never a division by zero),
   then p_i = (1 - eps) q_i + eps / n, so eps > 0 guarantees every identity
   at least eps / n. Computed in double, stored as float (sum 1 up to
   rounding; hr_alias_build needs no exact sum). temperature: SOFTMAX's
   T > 0, ignored by the others; eps in [0, 1].
   c[0] == -INFINITY is accepted for n == 1 (hr_difficulty's sentinel):
   p[0] = 1. Errors: HR_ENONFINITE (NaN/Inf in c, checked after the
   arguments), HR_EINVAL (NULL with n > 0, unknown policy, eps outside
   [0, 1], T not finite and > 0 for SOFTMAX); p untouched on error.
   n == 0: HR_OK, nothing written. */
HRDEF hr_status hr_weights(float *p, const float *c, size_t n,
                           hr_weighting policy, float temperature, float eps);

/* Batch builders. Each writes sample indices (into the labels given to
   hr_ids_build) to out, deterministically for r's state, and advances r.
   A GROUP of k images of one identity with s images is k distinct images
   (a uniformly random k-subset in random order: Floyd's algorithm plus a
   shuffle, O(k^2) compares) when s >= k, else k independent uniform draws
   with replacement: torchreid's / fast-reid's rule. Counts are batch-sized:
   the builders cost O(count^2) compares at worst. Difficulties c and
   nearest have ix->nids entries; for c the rule is hr_weights' (NaN/Inf is
   HR_ENONFINITE, -INFINITY only when nids == 1). Errors leave out
   untouched; NULL out, ix, c or r is HR_EINVAL, and so is an index with no
   identities. */

/* Mode A (hardest + random): out gets first_count + nearest_count +
   second_count indices, in this order:
     a group of first_count images of the target t = arg max_k c[k] (ties:
       the smallest k);
     a group of nearest_count images of identity nearest[t] (the confusable
       pair in one batch; nearest as from hr_difficulty, may be NULL when
       nearest_count == 0);
     second_count images drawn uniformly with replacement among all images
       of every identity other than t (per image; the nearest identity
       included).
   Errors: HR_EINVAL (first_count == 0, second_count > 0 while t has every
   image, nearest_count > 0 with nearest NULL or nearest[t] not another
   identity), HR_EOVERFLOW (the total count overflows), HR_ENONFINITE. */
HRDEF hr_status hr_batch_hardest(uint32_t *out, const hr_ids *ix,
                                 const float *c, size_t first_count,
                                 size_t second_count, const int32_t *nearest,
                                 size_t nearest_count, hr_rng *r);
/* Mode B (proportional): out[0..count): for each image an identity drawn
   from a (a table over the ix->nids identities, e.g. built from hr_weights'
   p; reuse it across batches), then one of its images uniformly. The
   identities come from hr_alias_draw_n, so batches are the same on every
   ISA. Errors: HR_EINVAL (count == 0, a NULL or a->n != ix->nids). */
HRDEF hr_status hr_batch_proportional(uint32_t *out, size_t count,
                                      const hr_ids *ix, const hr_alias *a,
                                      hr_rng *r);
/* P x K: out[p*K + k] = image k of the p-th identity; P distinct identities,
   drawn uniformly (a == NULL: a random P-subset in random order) or
   proportionally to a's weights without replacement (successive sampling:
   draw from a, redraw duplicates; when the first draw and 64 redraws
   are all duplicates, one exact draw among the remaining identities,
   O(n P)), then a group of K images of each. Errors: HR_EINVAL (P == 0,
   K == 0, P > ix->nids, a->n != ix->nids, P > a->npos: fewer identities
   of nonzero mass than P; a positive weight below 2^-33 / n of the sum can
   round to mass 0 and is then never drawn), HR_EOVERFLOW (P * K
   overflows). */
HRDEF hr_status hr_batch_pk(uint32_t *out, size_t P, size_t K,
                            const hr_ids *ix, const hr_alias *a, hr_rng *r);

/* The two calls of a draw loop are defined here, in every translation unit,
   rather than in the implementation: inlined, the loop keeps the generator
   state in registers and overlaps the table reads of successive draws (a
   call into the implementation's TU measured ~1.4x slower per draw). Both
   are plain C, so every ISA draws the same. */
static HR__INLINE uint64_t hr_rng_next(hr_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t x = s[1] * 5, t = s[1] << 17;
    const uint64_t out = ((x << 7) | (x >> 57)) * 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return out;
}

static HR__INLINE uint32_t hr_alias_draw(const hr_alias *a, hr_rng *r)
{
    for (;;) { /* low 32 bits: the column (Lemire, with rejection) */
        const uint64_t x = hr_rng_next(r), m = (x & 0xFFFFFFFFu) * a->n;
        if ((uint32_t)m >= a->reject) { /* high 32 bits: the coin */
            const uint32_t col = (uint32_t)(m >> 32);
            const uint64_t e = a->tab[col];
            return (uint32_t)(x >> 32) < (uint32_t)e ? col : (uint32_t)(e >> 32);
        }
    }
}
/* <<sampling-api */

/* >>train-api ------------------------------------------------------------*/
/* The kernels a re-ID trainer needs, on the same per-ISA micro-kernels and
   dispatch as hr_difficulty. Row-major throughout. Values are not checked
   (NaN/Inf propagate, as in BLAS) except where a call says so. */

typedef enum hr_trans {
    HR_NO_TRANS = 0,      /* op(X) = X   */
    HR_TRANS = 1          /* op(X) = X^T */
} hr_trans;

/* C = alpha op(A) op(B) + beta C, row-major (cblas_sgemm with CblasRowMajor).
   op(A) is m x k: A is m x k with lda >= k, or k x m with lda >= m when
   ta == HR_TRANS; op(B) is k x n: B is k x n with ldb >= n, or n x k with
   ldb >= k when tb == HR_TRANS; C is m x n with ldc >= n and must not
   overlap A or B. beta == 0: C is only written (NaN there does not
   propagate); alpha == 0 or k == 0: C = beta C, A and B not read.
   Packed, register-blocked (the Gram micro-kernel), on all OpenMP threads;
   each element is the same sum in the same order for any thread count.
   Extra memory: one packed B block (<= 4 MiB) + per thread an A block
   (<= 0.5 MiB). Errors: HR_EINVAL (bad trans, NULL with elements, a stride
   too small), HR_EOVERFLOW, HR_ENOMEM; C untouched on error. */
HRDEF hr_status hr_gemm(hr_trans ta, hr_trans tb, size_t m, size_t n,
                        size_t k, float alpha, const float *a, size_t lda,
                        const float *b, size_t ldb, float beta, float *c,
                        size_t ldc);

/* Fully connected layer, PyTorch's nn.Linear layout: x is batch x in, w is
   out x in, bias has out entries (NULL: none), y is batch x out, all
   contiguous. Forward: y = x w^T + bias (y overwritten). */
HRDEF hr_status hr_fc_forward(float *y, const float *x, const float *w,
                              const float *bias, size_t batch, size_t in,
                              size_t out);
/* Backward, accumulating into the gradients as llm.c does (zero them
   first; a parameter shared by several layers then just works):
   dx += dy w, dw += dy^T x, dbias += the column sums of dy (in batch
   order). Any of dx, dw, dbias may be NULL: that gradient is skipped (and x
   is not read without dw, w not without dx). Errors of both: HR_EINVAL
   (a needed pointer NULL with elements), HR_EOVERFLOW, HR_ENOMEM; outputs
   untouched on error. */
HRDEF hr_status hr_fc_backward(float *dx, float *dw, float *dbias,
                               const float *dy, const float *x,
                               const float *w, size_t batch, size_t in,
                               size_t out);

/* 2-D convolution, NHWC. A zero-initialized descriptor is filled in; a 0
   means the default where one exists:
     x: n x h x w x c_in (channels innermost), y: n x oh x ow x c_out with
       oh = (h + 2 pad_h - kh) / stride_h + 1 (likewise ow),
     w: c_out x kh x kw x (c_in / groups) (PyTorch's OIHW weight permuted
       to OHWI), bias: c_out floats or NULL.
   Why NHWC: a pixel's channels are contiguous, so the direct kernels read
   x in place: a tile of output pixels x output channels takes each tap's
   input channels through a pointer per pixel (implicit im2col, no im2col
   buffer; padding is a row of zeros or a skipped tap), the backward weight
   reads each pixel's run of kw c_in inputs under a kernel row, and
   depthwise vectorizes across channels (register-blocked pixels x
   channels); the backward data is the forward of the rotated kernel at
   stride 1, and by stride phases otherwise. See >>conv. */
typedef struct hr_conv2d {
    size_t n, h, w;           /* batch, input height and width (required)    */
    size_t c_in, c_out;       /* channels (required), multiples of groups     */
    size_t kh, kw;            /* kernel height, width: 0 means 1              */
    size_t stride_h, stride_w; /* 0 means 1                                   */
    size_t pad_h, pad_w;      /* zeros on each side (default 0)               */
    size_t groups;            /* 0 means 1; c_in for depthwise                */
} hr_conv2d;

/* Output height and width of a descriptor (NULL ow/oh allowed). Errors:
   HR_EINVAL (a required size 0 where the shape needs it, channels not
   multiples of groups, the kernel larger than the padded input),
   HR_EOVERFLOW (a tensor's size overflows size_t). */
HRDEF hr_status hr_conv2d_out_size(const hr_conv2d *cd, size_t *oh, size_t *ow);
/* y = conv(x, w) + bias (y overwritten). */
HRDEF hr_status hr_conv2d_forward(const hr_conv2d *cd, float *y, const float *x,
                                  const float *w, const float *bias);
/* dx += the gradient of the forward with respect to x, given dy. */
HRDEF hr_status hr_conv2d_backward_data(const hr_conv2d *cd, float *dx,
                                        const float *dy, const float *w);
/* dw += the gradient with respect to w; dbias += the column sums of dy
   (either may be NULL). Both backward calls accumulate, as hr_fc_backward,
   and sum in an order fixed by the shape: bitwise the same for any thread
   count. Errors of all three: those of hr_conv2d_out_size, HR_EINVAL (a
   needed pointer NULL), HR_ENOMEM; outputs untouched on error. */
HRDEF hr_status hr_conv2d_backward_weight(const hr_conv2d *cd, float *dw,
                                          float *dbias, const float *dy,
                                          const float *x);

/* Classification heads for re-ID / face training, fused: logits, margin,
   scale, softmax cross-entropy (optionally label-smoothed) and the backward
   to the embeddings x and the class weights w, in one call.
     HR_HEAD_SOFTMAX     logits x w^T (a plain FC layer, no bias); s, m,
                         lambda unused.
     HR_HEAD_SPHEREFACE  normalized: cos = <x/|x|, w/|w|>; target logit
                         s (lambda cos + psi(theta)) / (1 + lambda), psi the
                         A-Softmax piecewise (-1)^k cos(m theta) - 2k on
                         theta in [k pi/m, (k+1) pi/m], integer m; anneal
                         lambda with hr_sphereface_lambda(). (The original
                         keeps |x| instead of s; normalized features are the
                         common practice since.)
     HR_HEAD_COSFACE     target logit s (cos - m).
     HR_HEAD_ARCFACE     target logit s cos(theta + m) while theta + m <= pi,
                         else s (cos - m sin m) (the usual fallback, keeps
                         the logit monotone in theta).
   Other logits: s cos. Defaults (hr_head_default), as docs/DESIGN.md:
   SphereFace s 64, m 4, lambda 5; CosFace s 64, m 0.35; ArcFace s 64,
   m 0.5; label_smoothing 0. Large s and m can stall a small network for a
   long time: the trainer exposes both. */
typedef enum hr_head_kind {
    HR_HEAD_SOFTMAX = 0,
    HR_HEAD_SPHEREFACE = 1,
    HR_HEAD_COSFACE = 2,
    HR_HEAD_ARCFACE = 3
} hr_head_kind;

typedef struct hr_head {
    hr_head_kind kind;
    float s;               /* logit scale, > 0 (normalized heads)              */
    float m;               /* margin: SphereFace integer 1..16; CosFace any;   */
                           /* ArcFace an angle in [0, pi)                      */
    float lambda;          /* SphereFace's weight of plain cos, >= 0           */
    float label_smoothing; /* eps in [0, 1): target (1 - eps) onehot + eps/C   */
} hr_head;

HRDEF hr_head hr_head_default(hr_head_kind kind);
/* SphereFace's schedule: max(5, 1000 / (1 + 0.12 iter)) (the A-Softmax
   reference's base 1000, gamma 0.12, power 1, lambda_min 5). */
HRDEF float hr_sphereface_lambda(size_t iter);

/* One step of the head on a batch: x batch x d, w classes x d (PyTorch's
   nn.Linear layout), labels in [0, classes). loss = the mean cross-entropy
   over the batch; logits (batch x classes, may be NULL) = the final logits,
   margin and scale applied (arg max = the prediction); dx += dloss/dx and
   dw += dloss/dw (accumulating, each may be NULL). The normalized heads
   take gradients through the normalization; a zero row of x or w has cos 0
   and gets no gradient. sin(theta) is clamped at 1e-6 in the derivatives.
   The softmax's exponentials use SLEEF's vector expf on the AVX2 and NEON
   paths (see HR_NO_SLEEF). Errors: HR_EINVAL (NULL x, w, labels or loss;
   batch, d or classes 0; classes > INT32_MAX; a label out of range; s, m,
   lambda or
   label_smoothing out of range), HR_ENONFINITE (NaN/Inf in x or w),
   HR_EOVERFLOW, HR_ENOMEM; outputs untouched on error. */
HRDEF hr_status hr_head_loss(const hr_head *h, float *loss, float *logits,
                             float *dx, float *dw, const float *x,
                             const float *w, const int32_t *labels,
                             size_t batch, size_t d, size_t classes);
/* <<train-api */

#ifdef __cplusplus
}
#endif
#endif /* HARDREID_H */

/* ======================================================================== */
/* >>implementation                                                         */
/* ======================================================================== */
#ifdef HARDREID_IMPLEMENTATION
#ifndef HARDREID_IMPLEMENTATION_DONE
#define HARDREID_IMPLEMENTATION_DONE

/* >>config ----------------------------------------------------------------*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(HR_MALLOC) != defined(HR_FREE)
#error "hardreid.h: define both HR_MALLOC and HR_FREE, or neither"
#endif
#ifndef HR_MALLOC
#define HR_MALLOC(sz) malloc(sz)
#define HR_FREE(p) free(p)
#endif
#ifndef HR_ASSERT
#include <assert.h>
#define HR_ASSERT(x) assert(x)
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef __cplusplus
#define HR__RESTRICT __restrict
#else
#define HR__RESTRICT restrict
#endif

#if !defined(HR_NO_SIMD) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__x86_64__) || defined(__i386__))
#define HR__HAVE_AVX2 1
#include <immintrin.h>
#include <cpuid.h>
/* Compiled for AVX2+FMA whatever the command-line -m flags; only called after
   the cpuid check in hr__detect(). */
#define HR__TARGET_AVX2 __attribute__((target("avx2,fma")))
/* AVX-512F kernels, likewise: only called after hr__cpu_avx512() (cpuid
   and XGETBV: the OS saves the ZMM and mask registers). */
#define HR__HAVE_AVX512 1
#define HR__TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif
#if !defined(HR_NO_SIMD) && defined(__aarch64__) && defined(__ARM_NEON)
#define HR__HAVE_NEON 1
#include <arm_neon.h>
#endif

/* SLEEF's vector expf (libsleef, link -lsleef), declared here rather than
   through sleef.h, whose AVX2 declarations need -mavx2 on the command line:
   our AVX2 code is compiled by target attributes instead. Only the heads
   use it, so on ELF targets (GCC, Clang) the references are weak: a
   program that links -lm alone still links, and a path whose SLEEF
   function is absent at run time takes libm's expf (the scalar expsum).
   Weak references do not make the linker keep a library (--as-needed) or
   pull an archive member (static links): define HR_SLEEF_STRONG where
   SLEEF must be there (a missing -lsleef is then a link error), as
   hardreid's own builds do. */
#if defined(__ELF__) && (defined(__GNUC__) || defined(__clang__)) && !defined(HR_SLEEF_STRONG)
#define HR__SLEEF_REF __attribute__((weak))
#define HR__SLEEF_ABSENT(f) (!(f))
#else
#define HR__SLEEF_REF
#define HR__SLEEF_ABSENT(f) 0
#endif
#ifdef __cplusplus
extern "C" {
#endif
#if !defined(HR_NO_SLEEF) && defined(HR__HAVE_AVX2)
#define HR__SLEEF_AVX2 1
HR__TARGET_AVX2 extern __m256 Sleef_expf8_u10avx2(__m256) HR__SLEEF_REF;
#define HR__SLEEF_AVX512 1
HR__TARGET_AVX512 extern __m512 Sleef_expf16_u10avx512f(__m512) HR__SLEEF_REF;
#endif
#if !defined(HR_NO_SLEEF) && defined(HR__HAVE_NEON)
#define HR__SLEEF_NEON 1
extern float32x4_t Sleef_expf4_u10advsimd(float32x4_t) HR__SLEEF_REF;
#endif
#ifdef __cplusplus
}
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HR__ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define HR__ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#else
#define HR__ATOMIC_LOAD(p) (*(volatile int *)(p))
#define HR__ATOMIC_STORE(p, v) (*(volatile int *)(p) = (v))
#endif

/* A k loop run two steps a trip by the compiler (same order of sums):
   where a tile kernel's pointers outnumber the registers, what spills is
   reloaded once per trip instead of once per step (AVX-512's 14-row direct
   kernel: 2.5-4% faster, measured). */
#if defined(__clang__)
#define HR__UNROLL2 _Pragma("clang loop unroll_count(2)")
#elif defined(__GNUC__) && __GNUC__ >= 8
#define HR__UNROLL2 _Pragma("GCC unroll 2")
#else
#define HR__UNROLL2
#endif

#define HR__LANES 16  /* widest row-scratch a Gram epilogue may use */
#define HR__MAX_TILE 32 /* largest mr or nr of any micro-kernel */
#define HR__ALIGN 64  /* packed buffers: one cache line, any vector width */
/* Between one thread's written buffers and what other threads use: the L2
   prefetchers pull neighbouring lines, so 64 bytes apart still collide
   (measured: a depthwise forward went 1.05x -> 1.9x on 2 threads when its
   per-thread pointers moved from 64 to 256 bytes past the shared weights). */
#define HR__TGAP 256

/* >>kernel-signatures -----------------------------------------------------*/

/* Where a Gram tile's fused epilogue folds its maxima. The tile covers rows
   row0..row0+mr-1 (positions in the packed A rows) and columns
   col0..col0+nr-1 (positions in the B rows). Element (r, j), col = col0 + j,
   counts only if col < n and col lies outside row r's excluded interval
   lo[r]..hi[r]: the driver excludes col <= row for the triangle of a block
   with itself (lo = INT32_MIN, hi = row), the row's own column when it is
   also a B row, everything for padding rows (lo = INT32_MIN, hi =
   INT32_MAX), nothing otherwise (hi = -1). `masked` is zero when the driver
   knows no element of the tile is excluded; lo/hi are then not set.
   rbest/ridx: mr rows x HR__LANES lanes of running row maxima; a kernel may
   use lanes 0..L-1 any way it likes (lane l of row r holding the best of
   some subset of columns) as long as it updates with strict > while the
   driver feeds columns in increasing order, so ties keep the smaller index.
   ridx holds column positions (col0 + j).
   cbest/cidx: nr running column maxima, updated with strict > as rows come
   in increasing order; cidx holds row positions (row0 + r). The driver
   reduces and merges both with the full tie rule, so kernels never see it. */
typedef struct hr__ep {
    int32_t row0, col0, n;
    int masked;
    int32_t lo[HR__MAX_TILE], hi[HR__MAX_TILE];
    float *rbest;
    int32_t *ridx;
    float *cbest;
    int32_t *cidx;
} hr__ep;

/* Gram micro-kernel. a: an mr-row panel packed k-major, a[k*mr + r];
   b: an nr-row panel, b[k*nr + j]; both 64-byte aligned, padded with zero
   rows. T = (acc ? t : 0) + sum_k a[k*mr + r] * b[k*nr + j], accumulated in
   increasing k, one rounding chain per element (so T(i,j) == T(j,i) bitwise
   when the panels are swapped). ep == NULL: store T row-major into t
   (t[r*nr + j], 32-byte aligned). ep != NULL: fold T into ep's maxima and
   store nothing. kc may be 0. */
typedef void (*hr__gram_fn)(size_t kc, const float *a, const float *b,
                            float *t, int acc, const hr__ep *ep);
/* Sum of squares of x[0..d) in double: exact enough that 1/sqrt of it
   normalizes any finite row, and NaN/Inf iff some x is NaN/Inf. */
typedef double (*hr__sumsq_fn)(const float *x, size_t d);
/* out[j] = (float)((double)in[j] * s), correctly rounded per element, so
   every ISA scales a row identically given the same s. out may equal in. */
typedef void (*hr__scale_fn)(float *out, const float *in, size_t d, double s);
/* Batched alias draws (hr_alias_draw_n's kernel). lanes: the state of
   HR__DRAW_LANES xoshiro256** generators, word-major: lanes[w * 8 + k] is
   s[w] of lane k. out[i] = hr_alias_draw(a, &lane (i % 8)) for i < m, in
   order of i; lanes advance accordingly. Fixed at 8 lanes whatever the ISA,
   so every variant gives the reference's output bit for bit; a variant may
   hand groups (e.g. one where some lane rejects) and the tail to the
   reference, which continues from the lane states it is given. */
#define HR__DRAW_LANES 8
typedef void (*hr__draw_fn)(uint32_t *out, size_t m, const hr_alias *a,
                            uint64_t *lanes);

/* GEMM tile update: C[r*ldc + j] = alpha T[r*tr + j] + beta C[...] for
   r < mm, j < nn (T: a micro-kernel's stored tile, row stride tr, the
   kernel's nr); beta == 0: C is only written, never read. alpha t + beta c
   rounds twice (no fused multiply-add), as the reference. */
typedef void (*hr__tile_fn)(float *c, size_t ldc, const float *t, size_t tr, size_t mm,
                            size_t nn, float alpha, float beta);

/* Panel packing for hr_gemm: rows [0, rows) x columns [0, kc) of a strided
   view (element (i, p) at x[i*rs + p*cs]) into mr-row panels, k-major:
   dst[q*mr*kc + p*mr + r], rows past `rows` up to a multiple of mr zero.
   hr_gemm's views have cs == 1 (rows contiguous along k: a transpose) or
   rs == 1 (each k step a contiguous copy). A variant may do full panels of
   those two cases in registers and hand the rest to the reference. */
typedef void (*hr__pack_fn)(float *dst, const float *x, size_t rs, size_t cs,
                            size_t rows, size_t kc, size_t mr);

/* Depthwise convolution's two inner loops, across C channels of np pixels
   (pixel p's channels at y + p*ys, x + p*xs, ...):
     axpy: y[p*ys + c] += x[p*xs + c] * w[c]        (forward, backward data)
     dot:  acc[c] += sum_p a[p*as + c] * b[p*bs + c], p in order, one chain
           per c                                     (backward weight)
   Each element must round the same whichever position it has (vector body
   or tail), so that splitting channels over threads changes nothing: a
   fused variant fuses its tail too. */
typedef void (*hr__dw_axpy_fn)(float *y, size_t ys, const float *x, size_t xs,
                               const float *w, size_t C, size_t np);
typedef void (*hr__dw_dot_fn)(float *acc, const float *a, size_t as, const float *b,
                              size_t bs, size_t C, size_t np);

/* Column sums of np rows (a bias's gradient):
     acc[c] = (s0 + s1) + (s2 + s3),  sk = sum of a[p*as + c] over p = k mod 4,
   each sk from zero in increasing p. Four chains, not one: a single chain
   per column waits out the add latency at every row (a depthwise backward
   spent a quarter of its time there). Only adds, in an order fixed by
   np: the same bits on every path, vector body or tail. */
typedef void (*hr__colsum_fn)(float *acc, const float *a, size_t as, size_t C, size_t np);
/* The SIMD colsums' 4 chains x 4 vectors, as named registers s<k><v>. */
#define HR__CSV4(X) X(0) X(1) X(2) X(3)
#define HR__CS1x4(k, X) X(k, 0) X(k, 1) X(k, 2) X(k, 3)
#define HR__CS4x4(X) HR__CS1x4(0, X) HR__CS1x4(1, X) HR__CS1x4(2, X) HR__CS1x4(3, X)

/* Depthwise forward, register-blocked: np output pixels of one row, C
   channels each,
     y[p*C + c] = init + sum over s < nky, kx < kw of
                  x[s][(p*sw + kx)*C + c] * w[s][kx*C + c],
   init = y[p*C + c] (acc), else bias[c] (bias != NULL), else 0; taps in
   order (s, kx), one rounding chain per element, fused on the SIMD paths
   (channel tails too). x[s]: an input row at the first tap of pixel 0;
   w[s]: that row's kw taps of C weights (taps outermost). A block of
   pixels x a vector of channels stays in registers across all taps. */
typedef void (*hr__dw_fwd_fn)(float *y, const float *const *x, const float *const *w,
                              size_t nky, size_t kw, size_t sw, size_t C, size_t np,
                              const float *bias, int acc);

/* Depthwise backward weight of nky <= 3 kernel rows of 3 taps over nr rows
   of np pixels, register-blocked:
     acc[(s*3 + kx)*C + c] += sum over r < nr, p < np of
                      a[r*ars + p*C + c] * b[s*bks + r*brs + p*bs + kx*C + c],
   s < nky, kx < 3, (r, p) in order: per (s, kx, c) one chain, as dw_dot's
   over the same pixels in the same order. All 9 taps in one pass: each dy
   vector is loaded once for its 9 products (one pass per kernel row loaded
   it 3 times, and the pass was bound by what it brought from L2). NULL:
   dw_dot per row and tap. */
typedef void (*hr__dw_bw3_fn)(float *acc, const float *a, size_t ars, const float *b, size_t bs,
                              size_t bks, size_t brs, size_t nky, size_t C, size_t np, size_t nr);

/* Direct micro-kernel: A read in place through row pointers, in taps.
   For the taps s < nt in turn and k < kc in turn,
     T[r*ldt + j] = (c0 ? c0[r*c0rs + j] : 0) + sum a[r][to[s] + k] b[s][k*nr + j],
   one rounding chain per element, in increasing (s, k): for nt == 1 the
   Gram kernel's sum (ep == NULL) over a packed copy of the rows, bitwise.
   Row r of tap s is a[r] + to[s] (to NULL: 0), any addresses: mr
   pointers and nt offsets (a table of nt x mr pointers cost the forward's
   driver an eighth of its time at 32 channels). b[s]: an nr-column panel
   packed as the Gram kernel's B (kc rows of nr). T is stored in full, mr
   rows of nr at t + r ldt (any alignment: a tile buffer, or the output
   itself); c0 may be t (c0rs == ldt: accumulate) or one row for all
   (c0rs == 0: a bias). hr_gemm reads a row-major A in place with it
   (nt == 1) where packing A would cost as much as it saves; hr_conv2d
   reads its input pixels in place with it, a tap (ky, kx) per s: im2col
   without the im2col matrix. */
typedef void (*hr__direct_fn)(size_t nt, size_t kc, const float *const *a,
                              const ptrdiff_t *to, const float *const *b, float *t, size_t ldt,
                              const float *c0, size_t c0rs);

/* Outer-product micro-kernel: A's columns through pointers. For k < kc
   in turn,
     T[r*ldt + j] = (c0 ? c0[r*c0rs + j] : 0) + sum a[k][aoff + r] b[k][boff + j],
   one rounding chain per element, in increasing k; a[k] + aoff .. + mr - 1
   and b[k] + boff .. + nr - 1 must be readable (rows and columns past the
   caller's are computed and dropped); t, c0 as the direct kernel's. With
   a[k] = apack + k*mr and b[k] = bpack + k*nr it is the Gram kernel's sum.
   hr_conv2d's backward weight reads both sides in place with it: k a
   pixel, a[k] that pixel's run of inputs under one kernel row (implicit
   im2col), b[k] its row of the output gradient. */
typedef void (*hr__outer_fn)(size_t kc, const float *const *a, size_t aoff,
                             const float *const *b, size_t boff, float *t, size_t ldt,
                             const float *c0, size_t c0rs);

/* p[i] = expf(z[i] - zmax) for i < n; returns the sum of the p[i] (in
   double). The softmax of the heads; SLEEF's u10 expf (max error 1 ulp) on
   the SIMD paths, libm's on the scalar one. */
typedef double (*hr__expsum_fn)(float *p, const float *z, size_t n, float zmax);

/* One ISA's kernels and blocking: what the ISA-free drivers read, and all
   they read, of an ISA. A kernel the ISA has not vectorized points at its
   scalar reference. */
typedef struct hr__kernels {
    int (*cpu)(void);  /* 1 if this CPU (and OS) runs the path             */
    int mr, nr;        /* Gram register tile                               */
    size_t mc, kc;     /* cache blocking: rows of a packed A block, k depth */
    size_t gram_nb;    /* floats of packed B rows per Gram block (L3 share) */
    size_t gemm_nb;    /* floats of a packed GEMM B block                  */
    size_t ua_panels;  /* hr_gemm reads A in place (direct) when at most
                          this many nr-column panels reuse an A block      */
    hr__gram_fn gram;
    hr__sumsq_fn sumsq;
    hr__scale_fn scale;
    hr__draw_fn draw_n; /* NULL: the scalar reference */
    hr__tile_fn tile;
    hr__pack_fn pack;
    hr__dw_axpy_fn dw_axpy;
    hr__dw_dot_fn dw_dot;
    hr__colsum_fn colsum;
    hr__expsum_fn expsum;
    hr__direct_fn direct;
    hr__outer_fn outer;
    hr__dw_fwd_fn dw_fwd;
    hr__dw_bw3_fn dw_bw3;
    /* the table a convolution uses when its tile columns (output channels;
       input channels for backward data) fill at most half of nr: AVX-512's
       32-wide tile would leave half its FMAs idle at 16 channels, its
       12 x 16 narrow tile fills them (NULL: keep this table) */
    const struct hr__kernels *narrow;
    /* the table a convolution uses when its tile columns are a multiple of
       wide->nr (NULL: none): fewer loads per FMA than this table's tile */
    const struct hr__kernels *wide;
} hr__kernels;

/* >>scalar ---------------------------------------------------------------*/
/* The reference kernels: the specification every SIMD variant is tested
   against. Plain C99, no tricks. */

static void hr__fold_max_ref(const float *t, int mr, int nr, const hr__ep *ep)
{
    int r, j;
    for (r = 0; r < mr; r++)
        for (j = 0; j < nr; j++) {
            int32_t row = ep->row0 + r, col = ep->col0 + j;
            float v = t[r * nr + j];
            if (col >= ep->n || (ep->masked && col >= ep->lo[r] && col <= ep->hi[r])) continue;
            if (v > ep->rbest[r * HR__LANES]) {
                ep->rbest[r * HR__LANES] = v;
                ep->ridx[r * HR__LANES] = col;
            }
            if (v > ep->cbest[j]) { /* rows arrive in increasing order */
                ep->cbest[j] = v;
                ep->cidx[j] = row;
            }
        }
}

enum { HR__MR_SCALAR = 4, HR__NR_SCALAR = 4 };

static void hr__gram_scalar(size_t kc, const float *a, const float *b,
                            float *t, int acc, const hr__ep *ep)
{
    float tile[HR__MR_SCALAR * HR__NR_SCALAR];
    int r, j;
    size_t k;
    for (r = 0; r < HR__MR_SCALAR; r++)
        for (j = 0; j < HR__NR_SCALAR; j++) {
            float s = acc ? t[r * HR__NR_SCALAR + j] : 0.0f;
            for (k = 0; k < kc; k++)
                s += a[k * HR__MR_SCALAR + r] * b[k * HR__NR_SCALAR + j];
            tile[r * HR__NR_SCALAR + j] = s;
        }
    if (ep) hr__fold_max_ref(tile, HR__MR_SCALAR, HR__NR_SCALAR, ep);
    else memcpy(t, tile, sizeof tile);
}

static double hr__sumsq_scalar(const float *x, size_t d)
{
    double s = 0.0;
    size_t j;
    for (j = 0; j < d; j++) s += (double)x[j] * (double)x[j];
    return s;
}

static void hr__scale_scalar(float *out, const float *in, size_t d, double s)
{
    size_t j;
    for (j = 0; j < d; j++) out[j] = (float)((double)in[j] * s);
}

static void hr__pack_ref(float *dst, const float *x, size_t rs, size_t cs,
                         size_t rows, size_t kc, size_t mr)
{
    size_t q, p, r;
    for (q = 0; q < rows; q += mr, dst += mr * kc) {
        const size_t h = rows - q < mr ? rows - q : mr;
        const float *xq = x + q * rs;
        for (p = 0; p < kc; p++) { /* writes sequential */
            for (r = 0; r < h; r++) dst[p * mr + r] = xq[r * rs + p * cs];
            for (; r < mr; r++) dst[p * mr + r] = 0.0f;
        }
    }
}

static void hr__tile_ref(float *c, size_t ldc, const float *t, size_t tr,
                         size_t mm, size_t nn, float alpha, float beta)
{
    size_t r, j;
    for (r = 0; r < mm; r++, c += ldc, t += tr)
        for (j = 0; j < nn; j++) /* beta == 0: C not read, NaN there stays out */
            c[j] = beta == 0.0f ? alpha * t[j] : alpha * t[j] + beta * c[j];
}

static void hr__dw_axpy_scalar(float *y, size_t ys, const float *x, size_t xs,
                               const float *w, size_t C, size_t np)
{
    size_t p, c;
    for (p = 0; p < np; p++)
        for (c = 0; c < C; c++) y[p * ys + c] += x[p * xs + c] * w[c];
}

static void hr__dw_dot_scalar(float *acc, const float *a, size_t as, const float *b,
                              size_t bs, size_t C, size_t np)
{
    size_t p, c;
    for (c = 0; c < C; c++) {
        float s = acc[c];
        for (p = 0; p < np; p++) s += a[p * as + c] * b[p * bs + c];
        acc[c] = s;
    }
}

static void hr__colsum_scalar(float *acc, const float *a, size_t as, size_t C, size_t np)
{
    size_t p, c;
    for (c = 0; c < C; c++) {
        float sk[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (p = 0; p < np; p++) sk[p & 3] += a[p * as + c];
        acc[c] = (sk[0] + sk[1]) + (sk[2] + sk[3]);
    }
}

static double hr__expsum_scalar(float *p, const float *z, size_t n, float zmax)
{
    double sum = 0.0;
    size_t i;
    for (i = 0; i < n; i++) sum += (p[i] = expf(z[i] - zmax));
    return sum;
}

/* The direct kernel of hr__direct_fn for an mr x nr tile. */
static void hr__direct_ref(size_t nt, size_t kc, const float *const *a, const ptrdiff_t *to,
                           const float *const *b, float *t, size_t ldt, const float *c0,
                           size_t c0rs, int mr, int nr)
{
    int r, j;
    size_t s, k;
    for (r = 0; r < mr; r++)
        for (j = 0; j < nr; j++) {
            float v = c0 ? c0[(size_t)r * c0rs + (size_t)j] : 0.0f;
            for (s = 0; s < nt; s++)
                for (k = 0; k < kc; k++) v += a[r][(to ? to[s] : 0) + (ptrdiff_t)k] * b[s][k * (size_t)nr + (size_t)j];
            t[(size_t)r * ldt + (size_t)j] = v;
        }
}

static void hr__direct_scalar(size_t nt, size_t kc, const float *const *a, const ptrdiff_t *to,
                              const float *const *b, float *t, size_t ldt, const float *c0,
                              size_t c0rs)
{
    hr__direct_ref(nt, kc, a, to, b, t, ldt, c0, c0rs, HR__MR_SCALAR, HR__NR_SCALAR);
}

/* The outer kernel of hr__outer_fn for an mr x nr tile. */
static void hr__outer_ref(size_t kc, const float *const *a, size_t aoff, const float *const *b,
                          size_t boff, float *t, size_t ldt, const float *c0, size_t c0rs, int mr,
                          int nr)
{
    int r, j;
    size_t k;
    for (r = 0; r < mr; r++)
        for (j = 0; j < nr; j++) {
            float v = c0 ? c0[(size_t)r * c0rs + (size_t)j] : 0.0f;
            for (k = 0; k < kc; k++) v += a[k][aoff + (size_t)r] * b[k][boff + (size_t)j];
            t[(size_t)r * ldt + (size_t)j] = v;
        }
}

static void hr__outer_scalar(size_t kc, const float *const *a, size_t aoff,
                             const float *const *b, size_t boff, float *t, size_t ldt,
                             const float *c0, size_t c0rs)
{
    hr__outer_ref(kc, a, aoff, b, boff, t, ldt, c0, c0rs, HR__MR_SCALAR, HR__NR_SCALAR);
}

static void hr__dw_fwd_scalar(float *y, const float *const *x, const float *const *w,
                              size_t nky, size_t kw, size_t sw, size_t C, size_t np,
                              const float *bias, int acc)
{
    size_t p, c, s, kx;
    for (p = 0; p < np; p++)
        for (c = 0; c < C; c++) {
            float v = acc ? y[p * C + c] : bias ? bias[c] : 0.0f;
            for (s = 0; s < nky; s++)
                for (kx = 0; kx < kw; kx++) v += x[s][(p * sw + kx) * C + c] * w[s][kx * C + c];
            y[p * C + c] = v;
        }
}

/* The reference of the batched kernel: hr_alias_draw on lane i % 8. */
static void hr__draw_n_scalar(uint32_t *out, size_t m, const hr_alias *a,
                              uint64_t *lanes)
{
    hr_rng g[HR__DRAW_LANES];
    size_t i;
    int k, w;
    for (k = 0; k < HR__DRAW_LANES; k++)
        for (w = 0; w < 4; w++) g[k].s[w] = lanes[w * HR__DRAW_LANES + k];
    for (i = 0; i < m; i++) out[i] = hr_alias_draw(a, &g[i % HR__DRAW_LANES]);
    for (k = 0; k < HR__DRAW_LANES; k++)
        for (w = 0; w < 4; w++) lanes[w * HR__DRAW_LANES + k] = g[k].s[w];
}

static int hr__cpu_any(void) { return 1; }

static const hr__kernels hr__kernels_scalar = {
    hr__cpu_any, HR__MR_SCALAR, HR__NR_SCALAR, 64, 256, (size_t)1 << 19, (size_t)1 << 20, 0,
    hr__gram_scalar, hr__sumsq_scalar, hr__scale_scalar, hr__draw_n_scalar,
    hr__tile_ref, hr__pack_ref, hr__dw_axpy_scalar, hr__dw_dot_scalar, hr__colsum_scalar,
    hr__expsum_scalar,
    hr__direct_scalar, hr__outer_scalar, hr__dw_fwd_scalar, NULL, NULL, NULL
};

/* >>simd -----------------------------------------------------------------*/
/* The simple kernels, written once for every SIMD path (ggml's
   simd-mappings): each ISA section defines NAME_isa for every NAME of this
   vocabulary, sets HR__SIMD_ISA to isa (which NAME then means), expands
   HR__SIMD_KERNELS(isa, target attribute) (and HR__SIMD_EXPSUM), then
   #undefs HR__SIMD_ISA.
     HR__V              the vector type; HR__VN its float lanes
     HR__VLD(p)         load HR__VN floats (any alignment)
     HR__VST(p, v)      store them
     HR__VZERO()        zeros;  HR__VADD(a, b)  a + b
     HR__VFMA(a, b, c)  a b + c, one rounding
     HR__SFMA(a, b, c)  the same for one float: the channel tail
     HR__VSET1(x)       x in every lane; HR__VSUB, HR__VMUL  a - b, a b
     HR__VLDN(p, n, f)  load n < HR__VN floats, f in the other lanes
     HR__VSTN(p, n, v)  store v's first n lanes, nothing past them
     HR__VD             a vector of HR__VN / 2 doubles; HR__VDZERO(),
                        HR__VDSET1(x), HR__VDADD, HR__VDMUL, HR__VDFMA
     HR__VWLO(v), HR__VWHI(v)  v's low / high half widened to double
     HR__VNARROW(lo, hi)       two double vectors rounded to one of floats
     HR__VDSUM(d)       the sum of d's lanes
   Depthwise axpy / dot and colsum run their columns 4 vectors at a time,
   then 1, then one float at a time, and every element takes the same
   operations in the same order wherever it sits, so vector body and tail
   round alike (hr__dw_axpy_fn, hr__dw_dot_fn and hr__colsum_fn say why that
   matters). Sum of squares, scale, tile store and expsum end in one
   HR__VLDN / HR__VSTN vector: the tail goes through the same operations.
   The register-blocked kernels (Gram, direct, outer, depthwise forward and
   backward weight, batched draw) stay hand-written per ISA. */
#define HR__SIMD_CAT2(a, b) a##b
#define HR__SIMD_CAT(a, b) HR__SIMD_CAT2(a, b)
#define HR__V HR__SIMD_CAT(HR__V_, HR__SIMD_ISA)
#define HR__VN HR__SIMD_CAT(HR__VN_, HR__SIMD_ISA)
#define HR__VLD HR__SIMD_CAT(HR__VLD_, HR__SIMD_ISA)
#define HR__VST HR__SIMD_CAT(HR__VST_, HR__SIMD_ISA)
#define HR__VZERO HR__SIMD_CAT(HR__VZERO_, HR__SIMD_ISA)
#define HR__VADD HR__SIMD_CAT(HR__VADD_, HR__SIMD_ISA)
#define HR__VFMA HR__SIMD_CAT(HR__VFMA_, HR__SIMD_ISA)
#define HR__SFMA HR__SIMD_CAT(HR__SFMA_, HR__SIMD_ISA)
#define HR__VSET1 HR__SIMD_CAT(HR__VSET1_, HR__SIMD_ISA)
#define HR__VSUB HR__SIMD_CAT(HR__VSUB_, HR__SIMD_ISA)
#define HR__VMUL HR__SIMD_CAT(HR__VMUL_, HR__SIMD_ISA)
#define HR__VLDN HR__SIMD_CAT(HR__VLDN_, HR__SIMD_ISA)
#define HR__VSTN HR__SIMD_CAT(HR__VSTN_, HR__SIMD_ISA)
#define HR__VD HR__SIMD_CAT(HR__VD_, HR__SIMD_ISA)
#define HR__VDZERO HR__SIMD_CAT(HR__VDZERO_, HR__SIMD_ISA)
#define HR__VDSET1 HR__SIMD_CAT(HR__VDSET1_, HR__SIMD_ISA)
#define HR__VDADD HR__SIMD_CAT(HR__VDADD_, HR__SIMD_ISA)
#define HR__VDMUL HR__SIMD_CAT(HR__VDMUL_, HR__SIMD_ISA)
#define HR__VDFMA HR__SIMD_CAT(HR__VDFMA_, HR__SIMD_ISA)
#define HR__VWLO HR__SIMD_CAT(HR__VWLO_, HR__SIMD_ISA)
#define HR__VWHI HR__SIMD_CAT(HR__VWHI_, HR__SIMD_ISA)
#define HR__VNARROW HR__SIMD_CAT(HR__VNARROW_, HR__SIMD_ISA)
#define HR__VDSUM HR__SIMD_CAT(HR__VDSUM_, HR__SIMD_ISA)
#define HR__SIMD_4V(X) X(0) X(1) X(2) X(3)
#define HR__SIMD_KERNELS(SFX, TARGET) \
TARGET static void hr__dw_axpy_##SFX(float *y, size_t ys, const float *x, size_t xs, \
                                     const float *w, size_t C, size_t np) \
{ \
    size_t p, c = 0; \
    for (; c + 4 * HR__VN <= C; c += 4 * HR__VN) { \
        HR__SIMD_4V(HR__SIMD_W) \
        for (p = 0; p < np; p++) { \
            float *yp = y + p * ys + c; \
            const float *xp = x + p * xs + c; \
            HR__SIMD_4V(HR__SIMD_AXPY) \
        } \
    } \
    for (; c + HR__VN <= C; c += HR__VN) { \
        const HR__V w0 = HR__VLD(w + c); \
        for (p = 0; p < np; p++) \
            HR__VST(y + p * ys + c, HR__VFMA(HR__VLD(x + p * xs + c), w0, HR__VLD(y + p * ys + c))); \
    } \
    for (; c < C; c++) \
        for (p = 0; p < np; p++) y[p * ys + c] = HR__SFMA(x[p * xs + c], w[c], y[p * ys + c]); \
} \
TARGET static void hr__dw_dot_##SFX(float *acc, const float *a, size_t as, const float *b, \
                                    size_t bs, size_t C, size_t np) \
{ \
    size_t p, c = 0; \
    for (; c + 4 * HR__VN <= C; c += 4 * HR__VN) { \
        HR__SIMD_4V(HR__SIMD_S) \
        for (p = 0; p < np; p++) { \
            const float *ap = a + p * as + c, *bp = b + p * bs + c; \
            HR__SIMD_4V(HR__SIMD_DOT) \
        } \
        HR__SIMD_4V(HR__SIMD_SST) \
    } \
    for (; c + HR__VN <= C; c += HR__VN) { \
        HR__V s0 = HR__VLD(acc + c); \
        for (p = 0; p < np; p++) s0 = HR__VFMA(HR__VLD(a + p * as + c), HR__VLD(b + p * bs + c), s0); \
        HR__VST(acc + c, s0); \
    } \
    for (; c < C; c++) { \
        float s0 = acc[c]; \
        for (p = 0; p < np; p++) s0 = HR__SFMA(a[p * as + c], b[p * bs + c], s0); \
        acc[c] = s0; \
    } \
} \
TARGET static void hr__colsum_##SFX(float *acc, const float *a, size_t as, size_t C, size_t np) \
{ \
    size_t p, c0 = 0; \
    for (; c0 + 4 * HR__VN <= C; c0 += 4 * HR__VN) { \
        HR__CS4x4(HR__SIMD_CZ) \
        for (p = 0; p + 4 <= np; p += 4) { HR__CS4x4(HR__SIMD_CA) } \
        if (p < np) { HR__CS1x4(0, HR__SIMD_CA) } \
        if (p + 1 < np) { HR__CS1x4(1, HR__SIMD_CA) } \
        if (p + 2 < np) { HR__CS1x4(2, HR__SIMD_CA) } \
        HR__CSV4(HR__SIMD_CS) \
    } \
    for (; c0 + HR__VN <= C; c0 += HR__VN) { \
        HR__SIMD_CZ(0, 0) HR__SIMD_CZ(1, 0) HR__SIMD_CZ(2, 0) HR__SIMD_CZ(3, 0) \
        for (p = 0; p + 4 <= np; p += 4) { \
            HR__SIMD_CA(0, 0) HR__SIMD_CA(1, 0) HR__SIMD_CA(2, 0) HR__SIMD_CA(3, 0) \
        } \
        if (p < np) { HR__SIMD_CA(0, 0) } \
        if (p + 1 < np) { HR__SIMD_CA(1, 0) } \
        if (p + 2 < np) { HR__SIMD_CA(2, 0) } \
        HR__SIMD_CS(0) \
    } \
    if (c0 < C) hr__colsum_scalar(acc + c0, a + c0, as, C - c0, np); \
} \
TARGET static double hr__sumsq_##SFX(const float *x, size_t d) \
{ \
    HR__VD s0 = HR__VDZERO(), s1 = HR__VDZERO(); \
    HR__V v; \
    size_t j = 0; \
    for (; j + HR__VN <= d; j += HR__VN) { \
        v = HR__VLD(x + j); \
        s0 = HR__VDFMA(HR__VWLO(v), HR__VWLO(v), s0); \
        s1 = HR__VDFMA(HR__VWHI(v), HR__VWHI(v), s1); \
    } \
    if (j < d) { /* zeros past the end add nothing */ \
        v = HR__VLDN(x + j, d - j, 0.0f); \
        s0 = HR__VDFMA(HR__VWLO(v), HR__VWLO(v), s0); \
        s1 = HR__VDFMA(HR__VWHI(v), HR__VWHI(v), s1); \
    } \
    return HR__VDSUM(HR__VDADD(s0, s1)); \
} \
TARGET static void hr__scale_##SFX(float *out, const float *in, size_t d, double s) \
{ \
    const HR__VD sv = HR__VDSET1(s); \
    HR__V v; \
    size_t j = 0; \
    for (; j + HR__VN <= d; j += HR__VN) { \
        v = HR__VLD(in + j); \
        HR__VST(out + j, HR__VNARROW(HR__VDMUL(HR__VWLO(v), sv), HR__VDMUL(HR__VWHI(v), sv))); \
    } \
    if (j < d) { \
        v = HR__VLDN(in + j, d - j, 0.0f); \
        HR__VSTN(out + j, d - j, HR__VNARROW(HR__VDMUL(HR__VWLO(v), sv), HR__VDMUL(HR__VWHI(v), sv))); \
    } \
} \
TARGET static void hr__tile_##SFX(float *c, size_t ldc, const float *t, size_t tr, size_t mm, \
                                  size_t nn, float alpha, float beta) \
{ \
    const HR__V va = HR__VSET1(alpha), vb = HR__VSET1(beta); \
    HR__V v; \
    size_t r, j; \
    for (r = 0; r < mm; r++, c += ldc, t += tr) { \
        for (j = 0; j + HR__VN <= nn; j += HR__VN) { \
            v = HR__VMUL(va, HR__VLD(t + j)); \
            if (beta != 0.0f) v = HR__VADD(v, HR__VMUL(vb, HR__VLD(c + j))); /* two roundings */ \
            HR__VST(c + j, v); \
        } \
        if (j < nn) { \
            v = HR__VMUL(va, HR__VLDN(t + j, nn - j, 0.0f)); \
            if (beta != 0.0f) v = HR__VADD(v, HR__VMUL(vb, HR__VLDN(c + j, nn - j, 0.0f))); \
            HR__VSTN(c + j, nn - j, v); \
        } \
    } \
}
/* hr__expsum_fn over the ISA's SLEEF expf (EXPF), where SLEEF is there: the
   tail padded with -inf (exp = 0). Run-time weak SLEEF: the scalar one. */
#define HR__SIMD_EXPSUM(SFX, TARGET, EXPF) \
TARGET static double hr__expsum_##SFX(float *p, const float *z, size_t n, float zmax) \
{ \
    const HR__V mx = HR__VSET1(zmax); \
    HR__VD s0 = HR__VDZERO(), s1 = HR__VDZERO(); \
    HR__V e; \
    size_t i = 0; \
    if (HR__SLEEF_ABSENT(EXPF)) return hr__expsum_scalar(p, z, n, zmax); \
    for (; i + HR__VN <= n; i += HR__VN) { \
        e = EXPF(HR__VSUB(HR__VLD(z + i), mx)); \
        HR__VST(p + i, e); \
        s0 = HR__VDADD(s0, HR__VWLO(e)); \
        s1 = HR__VDADD(s1, HR__VWHI(e)); \
    } \
    if (i < n) { \
        e = EXPF(HR__VSUB(HR__VLDN(z + i, n - i, -INFINITY), mx)); \
        HR__VSTN(p + i, n - i, e); \
        s0 = HR__VDADD(s0, HR__VWLO(e)); \
        s1 = HR__VDADD(s1, HR__VWHI(e)); \
    } \
    return HR__VDSUM(HR__VDADD(s0, s1)); \
}
/* vector v of a 4-vector block: weights, axpy, dot sums, colsum chains */
#define HR__SIMD_W(v) const HR__V w##v = HR__VLD(w + c + (v) * HR__VN);
#define HR__SIMD_AXPY(v) HR__VST(yp + (v) * HR__VN, \
                                 HR__VFMA(HR__VLD(xp + (v) * HR__VN), w##v, HR__VLD(yp + (v) * HR__VN)));
#define HR__SIMD_S(v) HR__V s##v = HR__VLD(acc + c + (v) * HR__VN);
#define HR__SIMD_DOT(v) s##v = HR__VFMA(HR__VLD(ap + (v) * HR__VN), HR__VLD(bp + (v) * HR__VN), s##v);
#define HR__SIMD_SST(v) HR__VST(acc + c + (v) * HR__VN, s##v);
#define HR__SIMD_CZ(k, v) HR__V s##k##v = HR__VZERO();
#define HR__SIMD_CA(k, v) s##k##v = HR__VADD(s##k##v, HR__VLD(a + (p + (k)) * as + c0 + (v) * HR__VN));
#define HR__SIMD_CS(v) HR__VST(acc + c0 + (v) * HR__VN, \
                               HR__VADD(HR__VADD(s0##v, s1##v), HR__VADD(s2##v, s3##v)));

/* >>kernels-avx2 ---------------------------------------------------------*/
#ifdef HR__HAVE_AVX2
/* 6 x 16 register tile (BLIS's AVX2 shape): 12 accumulators, 2 B vectors,
   1 broadcast A: 15 of 16 ymm registers; 12 FMAs per 2 loads + 6 broadcasts.
   The fused epilogue keeps 8 lanes of running max per row (lane l: columns
   = l mod 8) and does FAISS's compare + blend arg-max; ties keep the
   earlier (smaller) index because updates use strict >. */
#define HR__AVX2_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

HR__TARGET_AVX2
static void hr__gram_avx2(size_t kc, const float *a, const float *b, float *t,
                          int acc, const hr__ep *ep)
{
    /* Named accumulators, not an array: an array indexed in the epilogue
       would be kept in memory through the k loop. */
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    __m256 c[6][2];
    size_t k;
#define HR__Z(r) if (acc) { c##r##0 = _mm256_load_ps(t + 16 * (r)); \
                            c##r##1 = _mm256_load_ps(t + 16 * (r) + 8); } \
                 else { c##r##0 = _mm256_setzero_ps(); c##r##1 = c##r##0; }
    HR__AVX2_ROWS(HR__Z)
#undef HR__Z
#define HR__F(r, kk) ar = _mm256_broadcast_ss(a + 6 * (kk) + (r)); \
                     c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0); \
                     c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);
#define HR__K(kk) b0 = _mm256_load_ps(b + 16 * (kk)); b1 = _mm256_load_ps(b + 16 * (kk) + 8); \
                  HR__F(0, kk) HR__F(1, kk) HR__F(2, kk) HR__F(3, kk) HR__F(4, kk) HR__F(5, kk)
    /* Not unrolled by hand: with 15 of 16 registers live, gcc's schedule of
       an unrolled body spills (measured 5-50% slower on Zen 4). */
    for (k = 0; k < kc; k++) {
        __m256 b0, b1, ar;
        HR__K(k)
    }
#undef HR__K
#undef HR__F
    if (!ep) {
#define HR__S(r) _mm256_store_ps(t + 16 * (r), c##r##0); \
                 _mm256_store_ps(t + 16 * (r) + 8, c##r##1);
        HR__AVX2_ROWS(HR__S)
#undef HR__S
        return;
    }
#define HR__A(r) c[r][0] = c##r##0; c[r][1] = c##r##1;
    HR__AVX2_ROWS(HR__A)
#undef HR__A
    {
        const __m256i j0 = _mm256_add_epi32(_mm256_set1_epi32(ep->col0),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256i j1 = _mm256_add_epi32(j0, _mm256_set1_epi32(8));
        __m256 g, m, old, mi, oi;
        int v;
        if (ep->masked) { /* keep col < n outside [lo[r], hi[r]] */
            const __m256 ninf = _mm256_set1_ps(-INFINITY);
            const __m256i nv = _mm256_set1_epi32(ep->n);
            const __m256i ok0 = _mm256_cmpgt_epi32(nv, j0), ok1 = _mm256_cmpgt_epi32(nv, j1);
            __m256i lo, hi;
#define HR__KEEP(j, ok) _mm256_castsi256_ps(_mm256_and_si256(_mm256_or_si256( \
                     _mm256_cmpgt_epi32(lo, j), _mm256_cmpgt_epi32(j, hi)), ok))
#define HR__M(r) lo = _mm256_set1_epi32(ep->lo[r]); hi = _mm256_set1_epi32(ep->hi[r]); \
                 c[r][0] = _mm256_blendv_ps(ninf, c[r][0], HR__KEEP(j0, ok0)); \
                 c[r][1] = _mm256_blendv_ps(ninf, c[r][1], HR__KEEP(j1, ok1));
            HR__AVX2_ROWS(HR__M)
#undef HR__M
#undef HR__KEEP
        }
        /* rows: the tile's 16 columns folded to 8 lanes, then into the scratch */
#define HR__R(r) g = _mm256_cmp_ps(c[r][1], c[r][0], _CMP_GT_OQ); \
                 m = _mm256_blendv_ps(c[r][0], c[r][1], g); \
                 mi = _mm256_blendv_ps(_mm256_castsi256_ps(j0), _mm256_castsi256_ps(j1), g); \
                 old = _mm256_loadu_ps(ep->rbest + (r) * HR__LANES); \
                 oi = _mm256_loadu_ps((const float *)(ep->ridx + (r) * HR__LANES)); \
                 g = _mm256_cmp_ps(m, old, _CMP_GT_OQ); \
                 _mm256_storeu_ps(ep->rbest + (r) * HR__LANES, _mm256_blendv_ps(old, m, g)); \
                 _mm256_storeu_ps((float *)(ep->ridx + (r) * HR__LANES), _mm256_blendv_ps(oi, mi, g));
        HR__AVX2_ROWS(HR__R)
#undef HR__R
        /* columns: the 6 rows folded vertically, then into the scratch */
        for (v = 0; v < 2; v++) {
            m = c[0][v];
            mi = _mm256_castsi256_ps(_mm256_set1_epi32(ep->row0));
#define HR__C(r) if (r) { g = _mm256_cmp_ps(c[r][v], m, _CMP_GT_OQ); \
                          m = _mm256_blendv_ps(m, c[r][v], g); \
                          mi = _mm256_blendv_ps(mi, _mm256_castsi256_ps( \
                                  _mm256_set1_epi32(ep->row0 + (r))), g); }
            HR__AVX2_ROWS(HR__C)
#undef HR__C
            old = _mm256_loadu_ps(ep->cbest + 8 * v);
            oi = _mm256_loadu_ps((const float *)(ep->cidx + 8 * v));
            g = _mm256_cmp_ps(m, old, _CMP_GT_OQ);
            _mm256_storeu_ps(ep->cbest + 8 * v, _mm256_blendv_ps(old, m, g));
            _mm256_storeu_ps((float *)(ep->cidx + 8 * v), _mm256_blendv_ps(oi, mi, g));
        }
    }
}

/* Batched alias draws: the 8 lanes' xoshiro256** in two 4 x 64-bit halves
   (lanes 0-3, 4-7; x*5 = (x<<2)+x, x*9 = (x<<3)+x, rotates by shifts),
   Lemire's column = high half of _mm256_mul_epu32(low 32 bits, n), one
   64-bit gather of (threshold, alias) per lane, the coin (high half of x)
   compared with the threshold in 32-bit lanes (unsigned, via max_epu32).
   A group's outputs depend on s1 only, so the rejection test runs before
   the state moves: a group where any lane rejects (probability < 8n/2^32)
   is handed, unmoved, to the reference, which redraws those lanes from
   their own streams exactly as it would have.
   A table past L2 (n > 2^15: 256 KiB) is latency-bound: there the
   generator runs 8 groups ahead, prefetching each draw's entry, and the
   gathers follow (Zen 4: 1.2-1.4x over the fused loop at n = 10^5..4 10^6;
   without the prefetches the split alone gained nothing measurable). */
typedef struct hr__x2_lanes { __m256i a[4], b[4]; } hr__x2_lanes; /* word w: lanes 0-3, 4-7 */
typedef struct hr__x2_draw {    /* what every group reads                        */
    __m256i nv, rj, pack;       /* n, the rejection bound, the output permutation */
    const hr_alias *al;
    int check;                  /* reject != 0: some remainders are rejected      */
} hr__x2_draw;

#define HR__ROTL(v, k) _mm256_or_si256(_mm256_slli_epi64((v), (k)), _mm256_srli_epi64((v), 64 - (k)))
HR__TARGET_AVX2 static HR__INLINE void hr__x2_load(hr__x2_lanes *s, const uint64_t *lanes)
{
    int w;
    for (w = 0; w < 4; w++) {
        s->a[w] = _mm256_loadu_si256((const __m256i *)(const void *)(lanes + 8 * w));
        s->b[w] = _mm256_loadu_si256((const __m256i *)(const void *)(lanes + 8 * w + 4));
    }
}
HR__TARGET_AVX2 static HR__INLINE void hr__x2_store(const hr__x2_lanes *s, uint64_t *lanes)
{
    int w;
    for (w = 0; w < 4; w++) {
        _mm256_storeu_si256((__m256i *)(void *)(lanes + 8 * w), s->a[w]);
        _mm256_storeu_si256((__m256i *)(void *)(lanes + 8 * w + 4), s->b[w]);
    }
}
/* the 8 outputs, x = rotl(s1 * 5, 7) * 9, in two halves */
HR__TARGET_AVX2 static HR__INLINE void hr__x2_out(const hr__x2_lanes *s, __m256i *xa, __m256i *xb)
{
    __m256i a = _mm256_add_epi64(_mm256_slli_epi64(s->a[1], 2), s->a[1]);
    __m256i b = _mm256_add_epi64(_mm256_slli_epi64(s->b[1], 2), s->b[1]);
    a = HR__ROTL(a, 7);
    b = HR__ROTL(b, 7);
    *xa = _mm256_add_epi64(_mm256_slli_epi64(a, 3), a);
    *xb = _mm256_add_epi64(_mm256_slli_epi64(b, 3), b);
}
/* one xoshiro256** step of 4 lanes */
HR__TARGET_AVX2 static HR__INLINE void hr__x2_step4(__m256i *s)
{
    const __m256i t = _mm256_slli_epi64(s[1], 17);
    s[2] = _mm256_xor_si256(s[2], s[0]);
    s[3] = _mm256_xor_si256(s[3], s[1]);
    s[1] = _mm256_xor_si256(s[1], s[2]);
    s[0] = _mm256_xor_si256(s[0], s[3]);
    s[2] = _mm256_xor_si256(s[2], t);
    s[3] = HR__ROTL(s[3], 45);
}
/* any lane's Lemire remainder (low half of x_lo * n) below 2^32 mod n:
   v < rj unsigned iff max(v, rj) != v */
HR__TARGET_AVX2 static HR__INLINE int hr__x2_rejects(const hr__x2_draw *d, __m256i xa, __m256i xb)
{
    __m256i rem;
    if (!d->check) return 0;
    rem = _mm256_blend_epi32(_mm256_mul_epu32(xa, d->nv), _mm256_slli_epi64(_mm256_mul_epu32(xb, d->nv), 32),
                             0xAA);
    return _mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_max_epu32(rem, d->rj), rem)) != -1;
}
/* 4 draws from one half: columns in the odd 32-bit lanes of the products,
   aliases in the odd lanes of the entries, coins in the odd lanes of x:
   compare and select there, thresholds copied up. */
HR__TARGET_AVX2 static HR__INLINE __m256i hr__x2_half(const hr__x2_draw *d, __m256i x)
{
    const __m256i p = _mm256_mul_epu32(x, d->nv);
    const __m256i e = _mm256_i64gather_epi64((const long long *)(const void *)d->al->tab,
                                             _mm256_srli_epi64(p, 32), 8);
    const __m256i t = _mm256_shuffle_epi32(e, 0xA0);
    return _mm256_blendv_epi8(p, e, _mm256_cmpeq_epi32(_mm256_max_epu32(x, t), x));
}
/* the group's 8 draws into dst, in lane order */
HR__TARGET_AVX2 static HR__INLINE void hr__x2_lookup(const hr__x2_draw *d, __m256i xa, __m256i xb,
                                                     uint32_t *dst)
{
    const __m256i r = _mm256_blend_epi32(_mm256_srli_epi64(hr__x2_half(d, xa), 32), hr__x2_half(d, xb), 0xAA);
    _mm256_storeu_si256((__m256i *)(void *)dst, _mm256_permutevar8x32_epi32(r, d->pack));
}
/* A table past L2: up to ng groups generated ahead (to the first that
   rejects, left unmoved), each group's 8 entries prefetched, then only
   independent lookups. Returns the groups drawn. */
HR__TARGET_AVX2 static size_t hr__x2_ahead(const hr__x2_draw *d, hr__x2_lanes *s, uint32_t *out, size_t ng)
{
    __m256i buf[2 * 8];
    uint64_t col[HR__DRAW_LANES];
    size_t g, k;
    int q;
    for (g = 0; g < ng; g++) {
        hr__x2_out(s, &buf[2 * g], &buf[2 * g + 1]);
        if (hr__x2_rejects(d, buf[2 * g], buf[2 * g + 1])) break;
        _mm256_storeu_si256((__m256i *)(void *)col, _mm256_srli_epi64(_mm256_mul_epu32(buf[2 * g], d->nv), 32));
        _mm256_storeu_si256((__m256i *)(void *)(col + 4),
                            _mm256_srli_epi64(_mm256_mul_epu32(buf[2 * g + 1], d->nv), 32));
        for (q = 0; q < HR__DRAW_LANES; q++) _mm_prefetch((const char *)(d->al->tab + col[q]), _MM_HINT_T0);
        hr__x2_step4(s->a);
        hr__x2_step4(s->b);
    }
    for (k = 0; k < g; k++) hr__x2_lookup(d, buf[2 * k], buf[2 * k + 1], out + HR__DRAW_LANES * k);
    return g;
}
#undef HR__ROTL

HR__TARGET_AVX2
static void hr__draw_n_avx2(uint32_t *out, size_t m, const hr_alias *a,
                            uint64_t *lanes)
{
    const size_t ahead = 8; /* groups generated ahead past L2 (hr__x2_ahead's buffer) */
    const int blocked = a->n > (1u << 15);
    hr__x2_draw d;
    hr__x2_lanes s;
    size_t i = 0;
    d.nv = _mm256_set1_epi64x((long long)a->n);
    d.rj = _mm256_set1_epi32((int)a->reject);
    d.pack = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    d.al = a;
    d.check = a->reject != 0;
    hr__x2_load(&s, lanes);
    while (i + HR__DRAW_LANES <= m) {
        if (blocked) {
            const size_t left = (m - i) / HR__DRAW_LANES, ng = left < ahead ? left : ahead;
            const size_t g = hr__x2_ahead(&d, &s, out + i, ng);
            i += HR__DRAW_LANES * g;
            if (g == ng) continue;
        } else {
            __m256i xa, xb;
            hr__x2_out(&s, &xa, &xb);
            if (!hr__x2_rejects(&d, xa, xb)) {
                hr__x2_lookup(&d, xa, xb, out + i);
                hr__x2_step4(s.a);
                hr__x2_step4(s.b);
                i += HR__DRAW_LANES;
                continue;
            }
        }
        /* rare: some lane rejects; the reference redraws this group */
        hr__x2_store(&s, lanes);
        hr__draw_n_scalar(out + i, HR__DRAW_LANES, a, lanes);
        hr__x2_load(&s, lanes);
        i += HR__DRAW_LANES;
    }
    hr__x2_store(&s, lanes);
    if (i < m) hr__draw_n_scalar(out + i, m - i, a, lanes);
}

/* The tile kernels' accumulators: from c0 (row stride c0rs) or zero, and
   stored to t (row stride ldt): shared by the direct and outer kernels. */
#define HR__AVX2_C0(r) if (c0) { c##r##0 = _mm256_loadu_ps(c0 + (r) * c0rs); \
                           c##r##1 = _mm256_loadu_ps(c0 + (r) * c0rs + 8); } \
                 else { c##r##0 = _mm256_setzero_ps(); c##r##1 = c##r##0; }
#define HR__AVX2_ST(r) _mm256_storeu_ps(t + (r) * ldt, c##r##0); \
                 _mm256_storeu_ps(t + (r) * ldt + 8, c##r##1);

/* The 6 x 16 loop of hr__gram_avx2 with the 6 broadcasts read through
   row pointers, tap after tap. */
HR__TARGET_AVX2
static void hr__direct_avx2(size_t nt, size_t kc, const float *const *a, const ptrdiff_t *to,
                            const float *const *b, float *t, size_t ldt, const float *c0,
                            size_t c0rs)
{
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    size_t s, k;
    HR__AVX2_ROWS(HR__AVX2_C0)
    for (s = 0; s < nt; s++) {
        const ptrdiff_t o = to ? to[s] : 0;
        const float *a0 = a[0] + o, *a1 = a[1] + o, *a2 = a[2] + o, *a3 = a[3] + o, *a4 = a[4] + o,
                    *a5 = a[5] + o;
        const float *bs = b[s];
        for (k = 0; k < kc; k++) {
            const __m256 b0 = _mm256_loadu_ps(bs + 16 * k), b1 = _mm256_loadu_ps(bs + 16 * k + 8);
            __m256 ar;
#define HR__F(r) ar = _mm256_broadcast_ss(a##r + k); \
                 c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0); \
                 c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);
            HR__AVX2_ROWS(HR__F)
#undef HR__F
        }
    }
    HR__AVX2_ROWS(HR__AVX2_ST)
}

/* The 6 x 16 loop of hr__gram_avx2, a column of A through a pointer per k. */
HR__TARGET_AVX2
static void hr__outer_avx2(size_t kc, const float *const *a, size_t aoff,
                           const float *const *b, size_t boff, float *t, size_t ldt,
                           const float *c0, size_t c0rs)
{
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    size_t k;
    HR__AVX2_ROWS(HR__AVX2_C0)
    for (k = 0; k < kc; k++) {
        const float *ak = a[k] + aoff, *bk = b[k] + boff;
        const __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8);
        __m256 ar;
#define HR__F(r) ar = _mm256_broadcast_ss(ak + (r)); \
                 c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0); \
                 c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);
        HR__AVX2_ROWS(HR__F)
#undef HR__F
    }
    HR__AVX2_ROWS(HR__AVX2_ST)
}

/* 4 pixels x 8 channels in registers; the channel tail through masked
   loads and stores (the same fused chain). */
#define HR__DW4(X) X(0) X(1) X(2) X(3)
HR__TARGET_AVX2
static void hr__dw_fwd_avx2(float *y, const float *const *x, const float *const *w,
                            size_t nky, size_t kw, size_t sw, size_t C, size_t np,
                            const float *bias, int acc)
{
    const size_t xs = sw * C;
    size_t c0, p0, s, kx;
    for (c0 = 0; c0 < C; c0 += 8) {
        const int nc = C - c0 < 8 ? (int)(C - c0) : 8;
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 b0 = !acc && bias ? _mm256_maskload_ps(bias + c0, m) : _mm256_setzero_ps();
        for (p0 = 0; p0 < np; p0 += 4) {
            float *yp = y + p0 * C + c0;
            if (np - p0 >= 4) {
#define HR__I(i) __m256 a##i = acc ? _mm256_maskload_ps(yp + (i) * C, m) : b0;
                HR__DW4(HR__I)
#undef HR__I
                for (s = 0; s < nky; s++) {
                    const float *xp = x[s] + p0 * xs + c0, *wp = w[s] + c0;
                    for (kx = 0; kx < kw; kx++, xp += C, wp += C) {
                        const __m256 wv = _mm256_maskload_ps(wp, m);
#define HR__F(i) a##i = _mm256_fmadd_ps(_mm256_maskload_ps(xp + (i) * xs, m), wv, a##i);
                        HR__DW4(HR__F)
#undef HR__F
                    }
                }
#define HR__S(i) _mm256_maskstore_ps(yp + (i) * C, m, a##i);
                HR__DW4(HR__S)
#undef HR__S
            } else {
                size_t p;
                for (p = p0; p < np; p++, yp += C) {
                    __m256 a = acc ? _mm256_maskload_ps(yp, m) : b0;
                    for (s = 0; s < nky; s++) {
                        const float *xp = x[s] + p * xs + c0, *wp = w[s] + c0;
                        for (kx = 0; kx < kw; kx++, xp += C, wp += C)
                            a = _mm256_fmadd_ps(_mm256_maskload_ps(xp, m), _mm256_maskload_ps(wp, m), a);
                    }
                    _mm256_maskstore_ps(yp, m, a);
                }
            }
        }
    }
}

/* 8 x 8 transpose in registers (the classic unpack / shuffle / permute2f128
   sequence): r[i] holds row i on entry, column i on exit. */
#define HR__TRANSPOSE8(r) do { \
    __m256 t0_ = _mm256_unpacklo_ps(r[0], r[1]), t1_ = _mm256_unpackhi_ps(r[0], r[1]); \
    __m256 t2_ = _mm256_unpacklo_ps(r[2], r[3]), t3_ = _mm256_unpackhi_ps(r[2], r[3]); \
    __m256 t4_ = _mm256_unpacklo_ps(r[4], r[5]), t5_ = _mm256_unpackhi_ps(r[4], r[5]); \
    __m256 t6_ = _mm256_unpacklo_ps(r[6], r[7]), t7_ = _mm256_unpackhi_ps(r[6], r[7]); \
    __m256 s0_ = _mm256_shuffle_ps(t0_, t2_, 0x44), s1_ = _mm256_shuffle_ps(t0_, t2_, 0xEE); \
    __m256 s2_ = _mm256_shuffle_ps(t1_, t3_, 0x44), s3_ = _mm256_shuffle_ps(t1_, t3_, 0xEE); \
    __m256 s4_ = _mm256_shuffle_ps(t4_, t6_, 0x44), s5_ = _mm256_shuffle_ps(t4_, t6_, 0xEE); \
    __m256 s6_ = _mm256_shuffle_ps(t5_, t7_, 0x44), s7_ = _mm256_shuffle_ps(t5_, t7_, 0xEE); \
    r[0] = _mm256_permute2f128_ps(s0_, s4_, 0x20); r[1] = _mm256_permute2f128_ps(s1_, s5_, 0x20); \
    r[2] = _mm256_permute2f128_ps(s2_, s6_, 0x20); r[3] = _mm256_permute2f128_ps(s3_, s7_, 0x20); \
    r[4] = _mm256_permute2f128_ps(s0_, s4_, 0x31); r[5] = _mm256_permute2f128_ps(s1_, s5_, 0x31); \
    r[6] = _mm256_permute2f128_ps(s2_, s6_, 0x31); r[7] = _mm256_permute2f128_ps(s3_, s7_, 0x31); \
} while (0)

/* Full panels of mr = 6 (A) or a multiple of 8 (B, nr = 16). Transposing
   (cs == 1), 8 k at a time: each group of 8 rows (for mr = 6: the 6 rows
   and 2 zero rows, stored as 4 + 2 lanes) is loaded, transposed and stored
   as 8 k steps. Copying (rs == 1): vector moves. The rest: the reference. */
HR__TARGET_AVX2
static void hr__pack_avx2(float *dst, const float *x, size_t rs, size_t cs,
                          size_t rows, size_t kc, size_t mr)
{
    const size_t kv = kc & ~(size_t)7;
    size_t q, p, g, i;
    if ((mr % 8 && mr != 6) || (cs != 1 && rs != 1) || (cs == 1 && !kv)) {
        hr__pack_ref(dst, x, rs, cs, rows, kc, mr);
        return;
    }
    for (q = 0; q + mr <= rows; q += mr, dst += mr * kc) {
        const float *xq = x + q * rs;
        if (cs != 1) { /* rs == 1: row p of the panel is mr contiguous floats */
            for (p = 0; p < kc; p++) {
                const float *src = xq + p * cs;
                float *d = dst + p * mr;
                if (mr == 6) {
                    _mm_storeu_ps(d, _mm_loadu_ps(src));
                    d[4] = src[4];
                    d[5] = src[5];
                } else {
                    for (g = 0; g < mr; g += 8) _mm256_storeu_ps(d + g, _mm256_loadu_ps(src + g));
                }
            }
            continue;
        }
        for (p = 0; p < kv; p += 8)
            for (g = 0; g < mr; g += 8) {
                __m256 r[8];
                for (i = 0; i < 8; i++)
                    r[i] = g + i < mr ? _mm256_loadu_ps(xq + (g + i) * rs + p) : _mm256_setzero_ps();
                HR__TRANSPOSE8(r);
                if (mr == 6)
                    for (i = 0; i < 8; i++) {
                        _mm_storeu_ps(dst + (p + i) * 6, _mm256_castps256_ps128(r[i]));
                        _mm_storel_pi((__m64 *)(void *)(dst + (p + i) * 6 + 4),
                                      _mm256_extractf128_ps(r[i], 1));
                    }
                else
                    for (i = 0; i < 8; i++) _mm256_storeu_ps(dst + (p + i) * mr + g, r[i]);
            }
        for (p = kv; p < kc; p++)
            for (i = 0; i < mr; i++) dst[p * mr + i] = xq[i * rs + p];
    }
    if (q < rows) hr__pack_ref(dst, x + q * rs, rs, cs, rows - q, kc, mr);
}

static int hr__cpu_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* The simple kernels (>>simd) on 8 lanes. */
#define HR__V_avx2 __m256
#define HR__VN_avx2 8
#define HR__VLD_avx2(p) _mm256_loadu_ps(p)
#define HR__VST_avx2(p, v) _mm256_storeu_ps(p, v)
#define HR__VZERO_avx2() _mm256_setzero_ps()
#define HR__VADD_avx2(a, b) _mm256_add_ps(a, b)
#define HR__VFMA_avx2(a, b, c) _mm256_fmadd_ps(a, b, c)
#define HR__SFMA_avx2(a, b, c) _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)))
#define HR__VSET1_avx2(x) _mm256_set1_ps(x)
#define HR__VSUB_avx2(a, b) _mm256_sub_ps(a, b)
#define HR__VMUL_avx2(a, b) _mm256_mul_ps(a, b)
#define HR__VLDN_avx2(p, n, f) _mm256_blendv_ps(_mm256_set1_ps(f), _mm256_maskload_ps(p, hr__lanes_avx2(n)), \
                                                _mm256_castsi256_ps(hr__lanes_avx2(n)))
#define HR__VSTN_avx2(p, n, v) _mm256_maskstore_ps(p, hr__lanes_avx2(n), v)
#define HR__VD_avx2 __m256d
#define HR__VDZERO_avx2() _mm256_setzero_pd()
#define HR__VDSET1_avx2(x) _mm256_set1_pd(x)
#define HR__VDADD_avx2(a, b) _mm256_add_pd(a, b)
#define HR__VDMUL_avx2(a, b) _mm256_mul_pd(a, b)
#define HR__VDFMA_avx2(a, b, c) _mm256_fmadd_pd(a, b, c)
#define HR__VWLO_avx2(v) _mm256_cvtps_pd(_mm256_castps256_ps128(v))
#define HR__VWHI_avx2(v) _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))
#define HR__VNARROW_avx2(lo, hi) _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), \
                                                      _mm256_cvtpd_ps(hi), 1)
#define HR__VDSUM_avx2(d) hr__dsum_avx2(d)
/* lanes [0, n) of a mask; the sum of 4 doubles */
HR__TARGET_AVX2 static __m256i hr__lanes_avx2(size_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
HR__TARGET_AVX2 static double hr__dsum_avx2(__m256d d)
{
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}
#define HR__SIMD_ISA avx2
HR__SIMD_KERNELS(avx2, HR__TARGET_AVX2)
#ifdef HR__SLEEF_AVX2
HR__SIMD_EXPSUM(avx2, HR__TARGET_AVX2, Sleef_expf8_u10avx2)
#define HR__EXPSUM_AVX2 hr__expsum_avx2
#else
#define HR__EXPSUM_AVX2 hr__expsum_scalar
#endif
#undef HR__SIMD_ISA

/* B blocks: 2 MiB of packed rows for the Gram driver (L3), 4 MiB for GEMM
   (BLIS's haswell size); A in place up to 8 panels (128 columns). */
static const hr__kernels hr__kernels_avx2 = {
    hr__cpu_avx2, 6, 16, 192, 512, (size_t)1 << 19, (size_t)1 << 20, 8,
    hr__gram_avx2, hr__sumsq_avx2, hr__scale_avx2, hr__draw_n_avx2,
    hr__tile_avx2, hr__pack_avx2, hr__dw_axpy_avx2, hr__dw_dot_avx2, hr__colsum_avx2,
    HR__EXPSUM_AVX2,
    hr__direct_avx2, hr__outer_avx2, hr__dw_fwd_avx2, NULL, NULL, NULL
};
#define HR__KERNELS_AVX2 (&hr__kernels_avx2)
#else
#define HR__KERNELS_AVX2 NULL
#endif /* HR__HAVE_AVX2 */

/* >>kernels-neon ---------------------------------------------------------*/
#ifdef HR__HAVE_NEON
/* 8 x 12 register tile (BLIS's NEON shape): 24 accumulators + 3 B + 2 A of
   the 32 q registers; vfmaq_laneq broadcasts A from a register. The fused
   epilogue keeps 4 lanes of running max per row. */
#define HR__NEON_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

static void hr__gram_neon(size_t kc, const float *a, const float *b, float *t,
                          int acc, const hr__ep *ep)
{
    /* named accumulators in the k loop (an array would live in memory) */
    float32x4_t c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32,
                c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
    float32x4_t c[8][3];
    size_t k;
    int r, v;
#define HR__Z(r) if (acc) { c##r##0 = vld1q_f32(t + 12 * (r)); c##r##1 = vld1q_f32(t + 12 * (r) + 4); \
                            c##r##2 = vld1q_f32(t + 12 * (r) + 8); } \
                 else { c##r##0 = vdupq_n_f32(0.0f); c##r##1 = c##r##0; c##r##2 = c##r##0; }
    HR__NEON_ROWS(HR__Z)
#undef HR__Z
    for (k = 0; k < kc; k++) {
        const float32x4_t b0 = vld1q_f32(b + 12 * k), b1 = vld1q_f32(b + 12 * k + 4),
                          b2 = vld1q_f32(b + 12 * k + 8);
        const float32x4_t a0 = vld1q_f32(a + 8 * k), a1 = vld1q_f32(a + 8 * k + 4);
#define HR__F(r) c##r##0 = vfmaq_laneq_f32(c##r##0, b0, (r) < 4 ? a0 : a1, (r) & 3); \
                 c##r##1 = vfmaq_laneq_f32(c##r##1, b1, (r) < 4 ? a0 : a1, (r) & 3); \
                 c##r##2 = vfmaq_laneq_f32(c##r##2, b2, (r) < 4 ? a0 : a1, (r) & 3);
        HR__NEON_ROWS(HR__F)
#undef HR__F
    }
#define HR__A(r) c[r][0] = c##r##0; c[r][1] = c##r##1; c[r][2] = c##r##2;
    HR__NEON_ROWS(HR__A)
#undef HR__A
    if (!ep) {
        for (r = 0; r < 8; r++)
            for (v = 0; v < 3; v++) vst1q_f32(t + 12 * r + 4 * v, c[r][v]);
        return;
    }
    {
        static const int32_t iota[4] = {0, 1, 2, 3};
        int32x4_t jv[3];
        jv[0] = vaddq_s32(vdupq_n_s32(ep->col0), vld1q_s32(iota));
        jv[1] = vaddq_s32(jv[0], vdupq_n_s32(4));
        jv[2] = vaddq_s32(jv[0], vdupq_n_s32(8));
        if (ep->masked) { /* keep col < n outside [lo[r], hi[r]] */
            const float32x4_t ninf = vdupq_n_f32(-INFINITY);
            const int32x4_t nv = vdupq_n_s32(ep->n);
            for (r = 0; r < 8; r++) {
                const int32x4_t lo = vdupq_n_s32(ep->lo[r]), hi = vdupq_n_s32(ep->hi[r]);
                for (v = 0; v < 3; v++)
                    c[r][v] = vbslq_f32(vandq_u32(vorrq_u32(vcltq_s32(jv[v], lo), vcgtq_s32(jv[v], hi)),
                                                  vcltq_s32(jv[v], nv)),
                                        c[r][v], ninf);
            }
        }
        for (r = 0; r < 8; r++) { /* rows: 12 columns to 4 lanes, then scratch */
            float32x4_t m = c[r][0], old;
            int32x4_t mi = jv[0], oi;
            uint32x4_t g;
            for (v = 1; v < 3; v++) {
                g = vcgtq_f32(c[r][v], m);
                m = vbslq_f32(g, c[r][v], m);
                mi = vbslq_s32(g, jv[v], mi);
            }
            old = vld1q_f32(ep->rbest + r * HR__LANES);
            oi = vld1q_s32(ep->ridx + r * HR__LANES);
            g = vcgtq_f32(m, old);
            vst1q_f32(ep->rbest + r * HR__LANES, vbslq_f32(g, m, old));
            vst1q_s32(ep->ridx + r * HR__LANES, vbslq_s32(g, mi, oi));
        }
        for (v = 0; v < 3; v++) { /* columns: 8 rows folded, then scratch */
            float32x4_t m = c[0][v], old;
            int32x4_t mi = vdupq_n_s32(ep->row0), oi;
            uint32x4_t g;
            for (r = 1; r < 8; r++) {
                g = vcgtq_f32(c[r][v], m);
                m = vbslq_f32(g, c[r][v], m);
                mi = vbslq_s32(g, vdupq_n_s32(ep->row0 + r), mi);
            }
            old = vld1q_f32(ep->cbest + 4 * v);
            oi = vld1q_s32(ep->cidx + 4 * v);
            g = vcgtq_f32(m, old);
            vst1q_f32(ep->cbest + 4 * v, vbslq_f32(g, m, old));
            vst1q_s32(ep->cidx + 4 * v, vbslq_s32(g, mi, oi));
        }
    }
}

/* Batched alias draws: the 8 lanes' xoshiro256** in four 2 x 64-bit
   vectors per state word and Lemire's 32 x 32 -> 64 multiply (vmull_u32)
   in NEON; NEON has no gather, so the table lookups stay scalar. As in the
   AVX2 variant, a group with a rejecting lane goes, unmoved, to the
   reference. */
static void hr__draw_n_neon(uint32_t *out, size_t m, const hr_alias *a,
                            uint64_t *lanes)
{
    const uint32x2_t nv = vdup_n_u32(a->n);
    const uint64x2_t rj = vdupq_n_u64(a->reject), lo = vdupq_n_u64(0xFFFFFFFFu);
    uint64x2_t s0[4], s1[4], s2[4], s3[4];
    uint64_t xs[HR__DRAW_LANES], ps[HR__DRAW_LANES];
    size_t i = 0;
    int v, k;
    for (v = 0; v < 4; v++) {
        s0[v] = vld1q_u64(lanes + 2 * v);
        s1[v] = vld1q_u64(lanes + 8 + 2 * v);
        s2[v] = vld1q_u64(lanes + 16 + 2 * v);
        s3[v] = vld1q_u64(lanes + 24 + 2 * v);
    }
    for (; i + HR__DRAW_LANES <= m; i += HR__DRAW_LANES) {
        uint64x2_t bad = vdupq_n_u64(0);
        for (v = 0; v < 4; v++) {
            uint64x2_t x = vaddq_u64(vshlq_n_u64(s1[v], 2), s1[v]);  /* s1 * 5 */
            uint64x2_t p;
            x = vsriq_n_u64(vshlq_n_u64(x, 7), x, 57);              /* rotl 7 */
            x = vaddq_u64(vshlq_n_u64(x, 3), x);                    /* * 9    */
            p = vmull_u32(vmovn_u64(x), nv);
            bad = vorrq_u64(bad, vcltq_u64(vandq_u64(p, lo), rj));
            vst1q_u64(xs + 2 * v, x);
            vst1q_u64(ps + 2 * v, p);
        }
        if (vgetq_lane_u64(bad, 0) | vgetq_lane_u64(bad, 1)) { /* rare */
            for (v = 0; v < 4; v++) {
                vst1q_u64(lanes + 2 * v, s0[v]);
                vst1q_u64(lanes + 8 + 2 * v, s1[v]);
                vst1q_u64(lanes + 16 + 2 * v, s2[v]);
                vst1q_u64(lanes + 24 + 2 * v, s3[v]);
            }
            hr__draw_n_scalar(out + i, HR__DRAW_LANES, a, lanes);
            for (v = 0; v < 4; v++) {
                s0[v] = vld1q_u64(lanes + 2 * v);
                s1[v] = vld1q_u64(lanes + 8 + 2 * v);
                s2[v] = vld1q_u64(lanes + 16 + 2 * v);
                s3[v] = vld1q_u64(lanes + 24 + 2 * v);
            }
            continue;
        }
        for (k = 0; k < HR__DRAW_LANES; k++) {
            const uint32_t col = (uint32_t)(ps[k] >> 32);
            const uint64_t e = a->tab[col];
            out[i + k] = (uint32_t)(xs[k] >> 32) < (uint32_t)e ? col : (uint32_t)(e >> 32);
        }
        for (v = 0; v < 4; v++) {
            const uint64x2_t t = vshlq_n_u64(s1[v], 17);
            s2[v] = veorq_u64(s2[v], s0[v]);
            s3[v] = veorq_u64(s3[v], s1[v]);
            s1[v] = veorq_u64(s1[v], s2[v]);
            s0[v] = veorq_u64(s0[v], s3[v]);
            s2[v] = veorq_u64(s2[v], t);
            s3[v] = vsriq_n_u64(vshlq_n_u64(s3[v], 45), s3[v], 19); /* rotl 45 */
        }
    }
    for (v = 0; v < 4; v++) {
        vst1q_u64(lanes + 2 * v, s0[v]);
        vst1q_u64(lanes + 8 + 2 * v, s1[v]);
        vst1q_u64(lanes + 16 + 2 * v, s2[v]);
        vst1q_u64(lanes + 24 + 2 * v, s3[v]);
    }
    if (i < m) hr__draw_n_scalar(out + i, m - i, a, lanes);
}

/* The tile kernels' accumulators: from c0 (row stride c0rs) or zero, and
   stored to t (row stride ldt): shared by the direct and outer kernels. */
#define HR__NEON_C0(r) if (c0) { c##r##0 = vld1q_f32(c0 + (r) * c0rs); c##r##1 = vld1q_f32(c0 + (r) * c0rs + 4); \
                           c##r##2 = vld1q_f32(c0 + (r) * c0rs + 8); } \
                 else { c##r##0 = vdupq_n_f32(0.0f); c##r##1 = c##r##0; c##r##2 = c##r##0; }
#define HR__NEON_ST(r) vst1q_f32(t + (r) * ldt, c##r##0); vst1q_f32(t + (r) * ldt + 4, c##r##1); \
                 vst1q_f32(t + (r) * ldt + 8, c##r##2);

/* The 8 x 12 loop of hr__gram_neon with the broadcasts read through row
   pointers (ld1r), tap after tap. */
static void hr__direct_neon(size_t nt, size_t kc, const float *const *a, const ptrdiff_t *to,
                            const float *const *b, float *t, size_t ldt, const float *c0,
                            size_t c0rs)
{
    float32x4_t c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32,
                c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
    size_t s, k;
    HR__NEON_ROWS(HR__NEON_C0)
    for (s = 0; s < nt; s++) {
        const float *bs = b[s];
        const ptrdiff_t o = to ? to[s] : 0;
#define HR__P(r) const float *a##r = a[r] + o;
        HR__NEON_ROWS(HR__P)
#undef HR__P
        for (k = 0; k < kc; k++) {
            const float32x4_t b0 = vld1q_f32(bs + 12 * k), b1 = vld1q_f32(bs + 12 * k + 4),
                              b2 = vld1q_f32(bs + 12 * k + 8);
            float32x4_t ar;
#define HR__F(r) ar = vld1q_dup_f32(a##r + k); \
                 c##r##0 = vfmaq_f32(c##r##0, ar, b0); \
                 c##r##1 = vfmaq_f32(c##r##1, ar, b1); \
                 c##r##2 = vfmaq_f32(c##r##2, ar, b2);
            HR__NEON_ROWS(HR__F)
#undef HR__F
        }
    }
    HR__NEON_ROWS(HR__NEON_ST)
}

/* The 8 x 12 loop of hr__gram_neon, a column of A through a pointer per k
   (two q loads, then vfmaq_laneq as the Gram kernel). */
static void hr__outer_neon(size_t kc, const float *const *a, size_t aoff,
                           const float *const *b, size_t boff, float *t, size_t ldt,
                           const float *c0, size_t c0rs)
{
    float32x4_t c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32,
                c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
    size_t k;
    HR__NEON_ROWS(HR__NEON_C0)
    for (k = 0; k < kc; k++) {
        const float *ak = a[k] + aoff, *bk = b[k] + boff;
        const float32x4_t b0 = vld1q_f32(bk), b1 = vld1q_f32(bk + 4), b2 = vld1q_f32(bk + 8);
        const float32x4_t a0 = vld1q_f32(ak), a1 = vld1q_f32(ak + 4);
#define HR__F(r) c##r##0 = vfmaq_laneq_f32(c##r##0, b0, (r) < 4 ? a0 : a1, (r) & 3); \
                 c##r##1 = vfmaq_laneq_f32(c##r##1, b1, (r) < 4 ? a0 : a1, (r) & 3); \
                 c##r##2 = vfmaq_laneq_f32(c##r##2, b2, (r) < 4 ? a0 : a1, (r) & 3);
        HR__NEON_ROWS(HR__F)
#undef HR__F
    }
    HR__NEON_ROWS(HR__NEON_ST)
}

/* 4 pixels x 4 channels in registers; the channel tail with fmaf (the
   same fused rounding). */
static void hr__dw_fwd_neon(float *y, const float *const *x, const float *const *w,
                            size_t nky, size_t kw, size_t sw, size_t C, size_t np,
                            const float *bias, int acc)
{
    const size_t xs = sw * C;
    size_t c0 = 0, p0, s, kx, p;
    for (; c0 + 4 <= C; c0 += 4) {
        const float32x4_t b0 = !acc && bias ? vld1q_f32(bias + c0) : vdupq_n_f32(0.0f);
        for (p0 = 0; p0 + 4 <= np; p0 += 4) {
            float *yp = y + p0 * C + c0;
            float32x4_t a0 = acc ? vld1q_f32(yp) : b0, a1 = acc ? vld1q_f32(yp + C) : b0;
            float32x4_t a2 = acc ? vld1q_f32(yp + 2 * C) : b0, a3 = acc ? vld1q_f32(yp + 3 * C) : b0;
            for (s = 0; s < nky; s++) {
                const float *xp = x[s] + p0 * xs + c0, *wp = w[s] + c0;
                for (kx = 0; kx < kw; kx++, xp += C, wp += C) {
                    const float32x4_t wv = vld1q_f32(wp);
                    a0 = vfmaq_f32(a0, vld1q_f32(xp), wv);
                    a1 = vfmaq_f32(a1, vld1q_f32(xp + xs), wv);
                    a2 = vfmaq_f32(a2, vld1q_f32(xp + 2 * xs), wv);
                    a3 = vfmaq_f32(a3, vld1q_f32(xp + 3 * xs), wv);
                }
            }
            vst1q_f32(yp, a0); vst1q_f32(yp + C, a1); vst1q_f32(yp + 2 * C, a2); vst1q_f32(yp + 3 * C, a3);
        }
        for (p = p0; p < np; p++) {
            float *yp = y + p * C + c0;
            float32x4_t a = acc ? vld1q_f32(yp) : b0;
            for (s = 0; s < nky; s++) {
                const float *xp = x[s] + p * xs + c0, *wp = w[s] + c0;
                for (kx = 0; kx < kw; kx++, xp += C, wp += C) a = vfmaq_f32(a, vld1q_f32(xp), vld1q_f32(wp));
            }
            vst1q_f32(yp, a);
        }
    }
    for (; c0 < C; c0++)
        for (p = 0; p < np; p++) {
            float v = acc ? y[p * C + c0] : bias ? bias[c0] : 0.0f;
            for (s = 0; s < nky; s++)
                for (kx = 0; kx < kw; kx++) v = fmaf(x[s][(p * sw + kx) * C + c0], w[s][kx * C + c0], v);
            y[p * C + c0] = v;
        }
}

/* The simple kernels (>>simd) on 4 lanes. */
#define HR__V_neon float32x4_t
#define HR__VN_neon 4
#define HR__VLD_neon(p) vld1q_f32(p)
#define HR__VST_neon(p, v) vst1q_f32(p, v)
#define HR__VZERO_neon() vdupq_n_f32(0.0f)
#define HR__VADD_neon(a, b) vaddq_f32(a, b)
#define HR__VFMA_neon(a, b, c) vfmaq_f32(c, a, b)
#define HR__SFMA_neon(a, b, c) fmaf(a, b, c)
#define HR__VSET1_neon(x) vdupq_n_f32(x)
#define HR__VSUB_neon(a, b) vsubq_f32(a, b)
#define HR__VMUL_neon(a, b) vmulq_f32(a, b)
#define HR__VLDN_neon(p, n, f) hr__ldn_neon(p, n, f)
#define HR__VSTN_neon(p, n, v) hr__stn_neon(p, n, v)
#define HR__VD_neon float64x2_t
#define HR__VDZERO_neon() vdupq_n_f64(0.0)
#define HR__VDSET1_neon(x) vdupq_n_f64(x)
#define HR__VDADD_neon(a, b) vaddq_f64(a, b)
#define HR__VDMUL_neon(a, b) vmulq_f64(a, b)
#define HR__VDFMA_neon(a, b, c) vfmaq_f64(c, a, b)
#define HR__VWLO_neon(v) vcvt_f64_f32(vget_low_f32(v))
#define HR__VWHI_neon(v) vcvt_high_f64_f32(v)
#define HR__VNARROW_neon(lo, hi) vcvt_high_f32_f64(vcvt_f32_f64(lo), hi)
#define HR__VDSUM_neon(d) vaddvq_f64(d)
/* a partial vector through a padded copy (NEON has no masked load) */
static float32x4_t hr__ldn_neon(const float *p, size_t n, float f)
{
    float b[4];
    b[0] = b[1] = b[2] = b[3] = f;
    memcpy(b, p, n * sizeof *b);
    return vld1q_f32(b);
}
static void hr__stn_neon(float *p, size_t n, float32x4_t v)
{
    float b[4];
    vst1q_f32(b, v);
    memcpy(p, b, n * sizeof *b);
}
#define HR__SIMD_ISA neon
HR__SIMD_KERNELS(neon, )
#ifdef HR__SLEEF_NEON
HR__SIMD_EXPSUM(neon, , Sleef_expf4_u10advsimd)
#define HR__EXPSUM_NEON hr__expsum_neon
#else
#define HR__EXPSUM_NEON hr__expsum_scalar
#endif
#undef HR__SIMD_ISA

static const hr__kernels hr__kernels_neon = {
    hr__cpu_any, 8, 12, 192, 512, (size_t)1 << 19, (size_t)1 << 20, 0, /* AdvSIMD is mandatory */
    hr__gram_neon, hr__sumsq_neon, hr__scale_neon, hr__draw_n_neon,
    hr__tile_neon, hr__pack_ref, hr__dw_axpy_neon, hr__dw_dot_neon, hr__colsum_neon,
    HR__EXPSUM_NEON,
    hr__direct_neon, hr__outer_neon, hr__dw_fwd_neon, NULL, NULL, NULL
};
#define HR__KERNELS_NEON (&hr__kernels_neon)
#else
#define HR__KERNELS_NEON NULL
#endif /* HR__HAVE_NEON */

/* >>kernels-avx512 -------------------------------------------------------*/
#ifdef HR__HAVE_AVX512
/* g++ 12's AVX-512 intrinsics pass _mm*_undefined_*() (a self-initialized
   variable) as the unused merge source: -Wuninitialized noise in C++ only. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
/* cpuid leaf 7 EBX bit 16 (AVX-512F) and leaf 1's OSXSAVE, then XCR0: the
   OS must save XMM, YMM, the opmask and both halves of the ZMM registers
   (bits 1, 2, 5, 6, 7), or the first zmm instruction faults. */
static int hr__cpu_avx512(void)
{
    unsigned a, b, c, d, lo, hi;
    if (!hr__cpu_avx2() || !__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 16))) return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 0xE6u) == 0xE6u;
}

/* 14 x 32 register tile: 28 accumulators, 2 B vectors and 1 broadcast of
   the 32 zmm registers; 28 FMAs per 2 loads + 14 broadcasts (measured on
   Zen 5 against 12 x 32 and 8 x 48, see README). The fused epilogue keeps
   16 lanes of running max per row (lane l: columns l mod 16) and folds
   with compare-into-mask + masked moves; strict > keeps ties on the
   smaller index, as on every path. */
#define HR__X5_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)
#define HR__X5_MR 14

HR__TARGET_AVX512
static void hr__gram_avx512(size_t kc, const float *a, const float *b, float *t,
                            int acc, const hr__ep *ep)
{
#define HR__D(r) __m512 c##r##_0, c##r##_1;
    HR__X5_ROWS(HR__D)
#undef HR__D
    __m512 c[HR__X5_MR][2];
    size_t k;
#define HR__Z(r) if (acc) { c##r##_0 = _mm512_loadu_ps(t + 32 * (r)); \
                            c##r##_1 = _mm512_loadu_ps(t + 32 * (r) + 16); } \
                 else { c##r##_0 = _mm512_setzero_ps(); c##r##_1 = c##r##_0; }
    HR__X5_ROWS(HR__Z)
#undef HR__Z
    for (k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(b + 32 * k), b1 = _mm512_load_ps(b + 32 * k + 16);
        __m512 ar;
#define HR__F(r) ar = _mm512_set1_ps(a[HR__X5_MR * k + (r)]); \
                 c##r##_0 = _mm512_fmadd_ps(ar, b0, c##r##_0); \
                 c##r##_1 = _mm512_fmadd_ps(ar, b1, c##r##_1);
        HR__X5_ROWS(HR__F)
#undef HR__F
    }
    if (!ep) {
#define HR__S(r) _mm512_storeu_ps(t + 32 * (r), c##r##_0); \
                 _mm512_storeu_ps(t + 32 * (r) + 16, c##r##_1);
        HR__X5_ROWS(HR__S)
#undef HR__S
        return;
    }
#define HR__A(r) c[r][0] = c##r##_0; c[r][1] = c##r##_1;
    HR__X5_ROWS(HR__A)
#undef HR__A
    {
        const __m512i j0 = _mm512_add_epi32(_mm512_set1_epi32(ep->col0),
                                            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                              11, 12, 13, 14, 15));
        const __m512i j1 = _mm512_add_epi32(j0, _mm512_set1_epi32(16));
        int r, v;
        if (ep->masked) { /* keep col < n outside [lo[r], hi[r]] */
            const __m512 ninf = _mm512_set1_ps(-INFINITY);
            const __m512i nv = _mm512_set1_epi32(ep->n);
            const __mmask16 ok0 = _mm512_cmpgt_epi32_mask(nv, j0), ok1 = _mm512_cmpgt_epi32_mask(nv, j1);
            for (r = 0; r < HR__X5_MR; r++) {
                const __m512i lo = _mm512_set1_epi32(ep->lo[r]), hi = _mm512_set1_epi32(ep->hi[r]);
                const __mmask16 k0 = ok0 & (_mm512_cmpgt_epi32_mask(lo, j0) | _mm512_cmpgt_epi32_mask(j0, hi));
                const __mmask16 k1 = ok1 & (_mm512_cmpgt_epi32_mask(lo, j1) | _mm512_cmpgt_epi32_mask(j1, hi));
                c[r][0] = _mm512_mask_mov_ps(ninf, k0, c[r][0]);
                c[r][1] = _mm512_mask_mov_ps(ninf, k1, c[r][1]);
            }
        }
        /* rows: the tile's 32 columns folded to 16 lanes, then into the scratch */
        for (r = 0; r < HR__X5_MR; r++) {
            float *rb = ep->rbest + r * HR__LANES;
            int32_t *ri = ep->ridx + r * HR__LANES;
            __mmask16 g = _mm512_cmp_ps_mask(c[r][1], c[r][0], _CMP_GT_OQ);
            const __m512 m = _mm512_mask_mov_ps(c[r][0], g, c[r][1]);
            const __m512i mi = _mm512_mask_mov_epi32(j0, g, j1);
            g = _mm512_cmp_ps_mask(m, _mm512_loadu_ps(rb), _CMP_GT_OQ);
            _mm512_mask_storeu_ps(rb, g, m);
            _mm512_mask_storeu_epi32(ri, g, mi);
        }
        /* columns: the rows folded vertically, then into the scratch */
        for (v = 0; v < 2; v++) {
            __m512 m = c[0][v];
            __m512i mi = _mm512_set1_epi32(ep->row0);
            __mmask16 g;
            for (r = 1; r < HR__X5_MR; r++) {
                g = _mm512_cmp_ps_mask(c[r][v], m, _CMP_GT_OQ);
                m = _mm512_mask_mov_ps(m, g, c[r][v]);
                mi = _mm512_mask_mov_epi32(mi, g, _mm512_set1_epi32(ep->row0 + r));
            }
            g = _mm512_cmp_ps_mask(m, _mm512_loadu_ps(ep->cbest + 16 * v), _CMP_GT_OQ);
            _mm512_mask_storeu_ps(ep->cbest + 16 * v, g, m);
            _mm512_mask_storeu_epi32(ep->cidx + 16 * v, g, mi);
        }
    }
}

/* The tile kernels' accumulators: from c0 (row stride c0rs) or zero, and
   stored to t (row stride ldt): shared by the direct and outer kernels. */
#define HR__X5_C0(r) if (c0) { c##r##_0 = _mm512_loadu_ps(c0 + (r) * c0rs); \
                           c##r##_1 = _mm512_loadu_ps(c0 + (r) * c0rs + 16); } \
                 else { c##r##_0 = _mm512_setzero_ps(); c##r##_1 = c##r##_0; }
#define HR__X5_ST(r) _mm512_storeu_ps(t + (r) * ldt, c##r##_0); \
                 _mm512_storeu_ps(t + (r) * ldt + 16, c##r##_1);

/* The 14 x 32 loop of hr__gram_avx512 with the broadcasts read through
   row pointers, tap after tap (same products, same order). */
HR__TARGET_AVX512
static void hr__direct_avx512(size_t nt, size_t kc, const float *const *a, const ptrdiff_t *to,
                              const float *const *b, float *t, size_t ldt, const float *c0,
                            size_t c0rs)
{
#define HR__D(r) __m512 c##r##_0, c##r##_1;
    HR__X5_ROWS(HR__D)
#undef HR__D
    size_t s, k;
    HR__X5_ROWS(HR__X5_C0)
    for (s = 0; s < nt; s++) {
        const float *bs = b[s];
        const ptrdiff_t o = to ? to[s] : 0;
#define HR__P(r) const float *a##r = a[r] + o;
        HR__X5_ROWS(HR__P)
#undef HR__P
#define HR__F(r) ar = _mm512_set1_ps(a##r[k]); \
                 c##r##_0 = _mm512_fmadd_ps(ar, b0, c##r##_0); \
                 c##r##_1 = _mm512_fmadd_ps(ar, b1, c##r##_1);
        HR__UNROLL2
        for (k = 0; k < kc; k++) {
            const __m512 b0 = _mm512_loadu_ps(bs + 32 * k), b1 = _mm512_loadu_ps(bs + 32 * k + 16);
            __m512 ar;
            HR__X5_ROWS(HR__F)
        }
#undef HR__F
    }
    HR__X5_ROWS(HR__X5_ST)
}

/* The 14 x 32 loop of hr__gram_avx512, a column of A through a pointer
   per k: one pointer, so nothing spills. */
HR__TARGET_AVX512
static void hr__outer_avx512(size_t kc, const float *const *a, size_t aoff,
                             const float *const *b, size_t boff, float *t, size_t ldt,
                             const float *c0, size_t c0rs)
{
#define HR__D(r) __m512 c##r##_0, c##r##_1;
    HR__X5_ROWS(HR__D)
#undef HR__D
    size_t k;
    HR__X5_ROWS(HR__X5_C0)
    HR__UNROLL2
    for (k = 0; k < kc; k++) {
        const float *ak = a[k] + aoff, *bk = b[k] + boff;
        const __m512 b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps(bk + 16);
        __m512 ar;
#define HR__F(r) ar = _mm512_set1_ps(ak[r]); \
                 c##r##_0 = _mm512_fmadd_ps(ar, b0, c##r##_0); \
                 c##r##_1 = _mm512_fmadd_ps(ar, b1, c##r##_1);
        HR__X5_ROWS(HR__F)
#undef HR__F
    }
    HR__X5_ROWS(HR__X5_ST)
}

/* The wide tile, 6 x 64: a convolution whose tile columns (output
   channels; input channels for backward data) are a multiple of 64 runs 4
   vectors a row, 24 chains: 10 loads per 24 FMAs (6 broadcasts, 4 rows of
   B) where the 14 x 32 tile has 16 per 28, and 6 row pointers, none
   spilled (the 14 x 32 direct kernel spills 3). In L1, kc = 64: 173 ->
   187 GFLOP/s of a 227 peak. */
#define HR__X5W_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define HR__X5W_MR 6
#define HR__X5W_C0(r) if (c0) { c##r##_0 = _mm512_loadu_ps(c0 + (r) * c0rs); \
                               c##r##_1 = _mm512_loadu_ps(c0 + (r) * c0rs + 16); \
                               c##r##_2 = _mm512_loadu_ps(c0 + (r) * c0rs + 32); \
                               c##r##_3 = _mm512_loadu_ps(c0 + (r) * c0rs + 48); } \
                      else { c##r##_0 = _mm512_setzero_ps(); c##r##_1 = c##r##_0; \
                             c##r##_2 = c##r##_0; c##r##_3 = c##r##_0; }
#define HR__X5W_ST(r) _mm512_storeu_ps(t + (r) * ldt, c##r##_0); \
                      _mm512_storeu_ps(t + (r) * ldt + 16, c##r##_1); \
                      _mm512_storeu_ps(t + (r) * ldt + 32, c##r##_2); \
                      _mm512_storeu_ps(t + (r) * ldt + 48, c##r##_3);
#define HR__X5W_D(r) __m512 c##r##_0, c##r##_1, c##r##_2, c##r##_3;
#define HR__X5W_F(r) ar = _mm512_set1_ps(HR__X5W_A(r)); \
                     c##r##_0 = _mm512_fmadd_ps(ar, b0, c##r##_0); \
                     c##r##_1 = _mm512_fmadd_ps(ar, b1, c##r##_1); \
                     c##r##_2 = _mm512_fmadd_ps(ar, b2, c##r##_2); \
                     c##r##_3 = _mm512_fmadd_ps(ar, b3, c##r##_3);
#define HR__X5W_B(bk) const __m512 b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps((bk) + 16), \
                      b2 = _mm512_loadu_ps((bk) + 32), b3 = _mm512_loadu_ps((bk) + 48);
HR__TARGET_AVX512
static void hr__direct_avx512w(size_t nt, size_t kc, const float *const *a, const ptrdiff_t *to,
                               const float *const *b, float *t, size_t ldt, const float *c0,
                               size_t c0rs)
{
    HR__X5W_ROWS(HR__X5W_D)
    size_t s, k;
    HR__X5W_ROWS(HR__X5W_C0)
    for (s = 0; s < nt; s++) {
        const float *bs = b[s];
        const ptrdiff_t o = to ? to[s] : 0;
#define HR__P(r) const float *a##r = a[r] + o;
        HR__X5W_ROWS(HR__P)
#undef HR__P
#define HR__X5W_A(r) a##r[k]
        HR__UNROLL2
        for (k = 0; k < kc; k++) {
            HR__X5W_B(bs + 64 * k)
            __m512 ar;
            HR__X5W_ROWS(HR__X5W_F)
        }
#undef HR__X5W_A
    }
    HR__X5W_ROWS(HR__X5W_ST)
}

HR__TARGET_AVX512
static void hr__outer_avx512w(size_t kc, const float *const *a, size_t aoff,
                              const float *const *b, size_t boff, float *t, size_t ldt,
                              const float *c0, size_t c0rs)
{
    HR__X5W_ROWS(HR__X5W_D)
    size_t k;
    HR__X5W_ROWS(HR__X5W_C0)
#define HR__X5W_A(r) ak[r]
    HR__UNROLL2
    for (k = 0; k < kc; k++) {
        const float *ak = a[k] + aoff;
        HR__X5W_B(b[k] + boff)
        __m512 ar;
        HR__X5W_ROWS(HR__X5W_F)
    }
#undef HR__X5W_A
    HR__X5W_ROWS(HR__X5W_ST)
}

/* The narrow tile, 12 x 16: a convolution whose tile columns (output
   channels; input channels for backward data) fill at most 16 lanes runs
   on one vector a row, 12 chains, instead of leaving half of each 32-wide
   row idle (AVX2's 6 x 16, used before, runs at half this core's FMA
   width). 12 rows: the row pointers fit the registers, and a 3 x 3 x 16
   kernel row (48 inputs) is 4 whole tiles of the backward weight. 16
   channels of 3 x 3 in the trainer's res18: 58-68 -> 67-79 GFLOP/s per
   pass (the drivers' per-tile work is a quarter of the time at 16
   channels). */
#define HR__X5N_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define HR__X5N_MR 12
#define HR__X5N_C0(r) v##r = c0 ? _mm512_loadu_ps(c0 + (r) * c0rs) : _mm512_setzero_ps();
#define HR__X5N_ST(r) _mm512_storeu_ps(t + (r) * ldt, v##r);
HR__TARGET_AVX512
static void hr__direct_avx512n(size_t nt, size_t kc, const float *const *a, const ptrdiff_t *to,
                               const float *const *b, float *t, size_t ldt, const float *c0,
                               size_t c0rs)
{
#define HR__D(r) __m512 v##r;
    HR__X5N_ROWS(HR__D)
#undef HR__D
    size_t s, k;
    HR__X5N_ROWS(HR__X5N_C0)
    for (s = 0; s < nt; s++) {
        const float *bs = b[s];
        const ptrdiff_t o = to ? to[s] : 0;
#define HR__P(r) const float *a##r = a[r] + o;
        HR__X5N_ROWS(HR__P)
#undef HR__P
#define HR__F(r) v##r = _mm512_fmadd_ps(_mm512_set1_ps(a##r[k]), b0, v##r);
        HR__UNROLL2
        for (k = 0; k < kc; k++) {
            const __m512 b0 = _mm512_loadu_ps(bs + 16 * k);
            HR__X5N_ROWS(HR__F)
        }
#undef HR__F
    }
    HR__X5N_ROWS(HR__X5N_ST)
}

HR__TARGET_AVX512
static void hr__outer_avx512n(size_t kc, const float *const *a, size_t aoff,
                              const float *const *b, size_t boff, float *t, size_t ldt,
                              const float *c0, size_t c0rs)
{
#define HR__D(r) __m512 v##r;
    HR__X5N_ROWS(HR__D)
#undef HR__D
    size_t k;
    HR__X5N_ROWS(HR__X5N_C0)
    HR__UNROLL2
    for (k = 0; k < kc; k++) {
        const float *ak = a[k] + aoff;
        const __m512 b0 = _mm512_loadu_ps(b[k] + boff);
#define HR__F(r) v##r = _mm512_fmadd_ps(_mm512_set1_ps(ak[r]), b0, v##r);
        HR__X5N_ROWS(HR__F)
#undef HR__F
    }
    HR__X5N_ROWS(HR__X5N_ST)
}
#undef HR__X5N_C0
#undef HR__X5N_ST

/* The low 8 floats of a zmm, by an extract rather than
   _mm512_castps512_ps256, which g++ 12's headers flag as uninitialized. */
#define HR__X5_LO(v) _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 0))
/* The high 8 floats. */
#define HR__X5_HI(v) _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))
/* The first n of 16 lanes. */
#define HR__X5_MASK(n) ((__mmask16)((n) >= 16 ? 0xFFFFu : (1u << (n)) - 1u))

/* A block of PB pixels x CV vectors of 16 channels in registers, PB CV =
   8 chains in flight, CV by C (8 x 1, 4 x 2, 2 x 4), the row's last odd
   pixels 1 x 4: chains, not FMA latency, set the pace of a short row.
   Full vectors load unmasked (a masked load costs a uop more), the
   channel tail masked. */
#define HR__DW8x1(X) X(0, 0) X(1, 0) X(2, 0) X(3, 0) X(4, 0) X(5, 0) X(6, 0) X(7, 0)
#define HR__DW4x2(X) X(0, 0) X(0, 1) X(1, 0) X(1, 1) X(2, 0) X(2, 1) X(3, 0) X(3, 1)
#define HR__DW2x4(X) X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(1, 0) X(1, 1) X(1, 2) X(1, 3)
#define HR__DW1x4(X) X(0, 0) X(0, 1) X(0, 2) X(0, 3)
#define HR__DWV1(X) X(0)
#define HR__DWV2(X) X(0) X(1)
#define HR__DWV4(X) X(0) X(1) X(2) X(3)
#define HR__DWM(v) const __mmask16 m##v = HR__X5_MASK(C - c0 > 16 * (v) ? C - c0 - 16 * (v) : 0);
#define HR__DWI(i, v) __m512 a##i##_##v = acc ? _mm512_maskz_loadu_ps(m##v, yp + (i) * C + 16 * (v)) \
                      : bias ? _mm512_maskz_loadu_ps(m##v, bias + c0 + 16 * (v)) : _mm512_setzero_ps();
#define HR__DWWU(v) const __m512 w##v = _mm512_loadu_ps(wp + 16 * (v));
#define HR__DWFU(i, v) a##i##_##v = _mm512_fmadd_ps(_mm512_loadu_ps(xp + (i) * xs + 16 * (v)), \
                                                    w##v, a##i##_##v);
#define HR__DWWM(v) const __m512 w##v = _mm512_maskz_loadu_ps(m##v, wp + 16 * (v));
#define HR__DWFM(i, v) a##i##_##v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m##v, xp + (i) * xs + 16 * (v)), \
                                                    w##v, a##i##_##v);
#define HR__DWS(i, v) _mm512_mask_storeu_ps(yp + (i) * C + 16 * (v), m##v, a##i##_##v);
#define HR__DWB(PB, CV, PAIRS, VECS) \
    for (; np - p0 >= (PB); p0 += (PB)) \
        for (c0 = 0; c0 < C; c0 += 16 * (CV)) { \
            float *yp = y + p0 * C + c0; \
            VECS(HR__DWM) \
            PAIRS(HR__DWI) \
            if (C - c0 >= 16 * (CV)) { \
                HR__DWB_TAPS(PAIRS, VECS, HR__DWWU, HR__DWFU) \
            } else { \
                HR__DWB_TAPS(PAIRS, VECS, HR__DWWM, HR__DWFM) \
            } \
            PAIRS(HR__DWS) \
        }
#define HR__DWB_TAPS(PAIRS, VECS, W, F) \
    for (s = 0; s < nky; s++) { \
        const float *xp = x[s] + p0 * xs + c0, *wp = w[s] + c0; \
        for (kx = 0; kx < kw; kx++, xp += C, wp += C) { \
            VECS(W) \
            PAIRS(F) \
        } \
    }
/* kw = 3, nky <= 3 (a 3x3 kernel's runs): a vector of 16 channels' 9
   weights stay in registers across the run's pixels, and the input is read
   as the FMAs' memory operand: one load per FMA, where the block above
   loads a weight and an input vector per FMA (bound by the loads). Blocks
   of 8, 4, 2, 1 pixels; the same taps in the same order per element. */
#define HR__DW3P8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define HR__DW3P4(X) X(0) X(1) X(2) X(3)
#define HR__DW3P2(X) X(0) X(1)
#define HR__DW3P1(X) X(0)
#define HR__DW3W(s, k, LD) if ((s) < nky) w##s##k = LD(w[s] + (k) * C + c0);
#define HR__DW3WS(LD) HR__DW3W(0, 0, LD) HR__DW3W(0, 1, LD) HR__DW3W(0, 2, LD) \
    HR__DW3W(1, 0, LD) HR__DW3W(1, 1, LD) HR__DW3W(1, 2, LD) \
    HR__DW3W(2, 0, LD) HR__DW3W(2, 1, LD) HR__DW3W(2, 2, LD)
#define HR__DW3I(i) __m512 a##i = acc ? _mm512_maskz_loadu_ps(m, yp + (i) * C) \
                    : bias ? _mm512_maskz_loadu_ps(m, bias + c0) : _mm512_setzero_ps();
#define HR__DW3FU(i) a##i = _mm512_fmadd_ps(_mm512_loadu_ps(xq + (i) * xs), wc, a##i);
#define HR__DW3FM(i) a##i = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xq + (i) * xs), wc, a##i);
#define HR__DW3T(s, k, PX, F) { const float *xq = x[s] + p0 * xs + c0 + (k) * C; \
                                const __m512 wc = w##s##k; PX(F) }
#define HR__DW3R(s, PX, F) if ((s) < nky) { HR__DW3T(s, 0, PX, F) HR__DW3T(s, 1, PX, F) HR__DW3T(s, 2, PX, F) }
#define HR__DW3S(i) _mm512_mask_storeu_ps(yp + (i) * C, m, a##i);
#define HR__DW3B(P, PX) \
    for (; np - p0 >= (P); p0 += (P)) \
        for (c0 = 0; c0 < C; c0 += 16) { \
            float *yp = y + p0 * C + c0; \
            const __mmask16 m = HR__X5_MASK(C - c0); \
            __m512 w00 = _mm512_setzero_ps(), w01 = w00, w02 = w00, w10 = w00, w11 = w00, \
                   w12 = w00, w20 = w00, w21 = w00, w22 = w00; \
            PX(HR__DW3I) \
            if (C - c0 >= 16) { \
                HR__DW3BODY(PX, _mm512_loadu_ps, HR__DW3FU) \
            } else { \
                HR__DW3BODY(PX, HR__DW3MLD, HR__DW3FM) \
            } \
            PX(HR__DW3S) \
        }
#define HR__DW3MLD(ptr) _mm512_maskz_loadu_ps(m, ptr)
#define HR__DW3BODY(PX, LD, F) HR__DW3WS(LD) HR__DW3R(0, PX, F) HR__DW3R(1, PX, F) HR__DW3R(2, PX, F)
HR__TARGET_AVX512
static void hr__dw_fwd3_avx512(float *y, const float *const *x, const float *const *w,
                               size_t nky, size_t sw, size_t C, size_t np,
                               const float *bias, int acc)
{
    const size_t xs = sw * C;
    size_t c0, p0 = 0;
    HR__DW3B(8, HR__DW3P8)
    HR__DW3B(4, HR__DW3P4)
    HR__DW3B(2, HR__DW3P2)
    HR__DW3B(1, HR__DW3P1)
}

HR__TARGET_AVX512
static void hr__dw_fwd_avx512(float *y, const float *const *x, const float *const *w,
                              size_t nky, size_t kw, size_t sw, size_t C, size_t np,
                              const float *bias, int acc)
{
    const size_t xs = sw * C;
    size_t c0, p0 = 0, s, kx;
    if (kw == 3 && nky <= 3) {
        hr__dw_fwd3_avx512(y, x, w, nky, sw, C, np, bias, acc);
        return;
    }
    if (C > 32) {
        HR__DWB(2, 4, HR__DW2x4, HR__DWV4)
    } else if (C > 16) {
        HR__DWB(4, 2, HR__DW4x2, HR__DWV2)
    } else {
        HR__DWB(8, 1, HR__DW8x1, HR__DWV1)
    }
    HR__DWB(1, 4, HR__DW1x4, HR__DWV4)
}

/* 3 kernel rows x 3 taps x 2 vectors of 16 channels: 18 chains; full
   vectors load unmasked, the channel tail masked (HR__BW9 instantiated for
   each, with HR__BW9_LD the load). A row s >= nky is skipped by a branch the predictor learns. */
#define HR__BW9_TAPS(X) X(0, 0) X(0, 1) X(0, 2) X(1, 0) X(1, 1) X(1, 2) X(2, 0) X(2, 1) X(2, 2)
#define HR__BW9_FULL(v, ptr) _mm512_loadu_ps(ptr)
#define HR__BW9_MASK(v, ptr) _mm512_maskz_loadu_ps(m##v, ptr)
#define HR__BW9 { \
    HR__BW9_TAPS(HR__BW9_D) \
    for (r = 0; r < nr; r++) \
        for (p = 0; p < np; p++) { \
            const float *ap = a + r * ars + p * C + c0, *bp = b + r * brs + p * bs + c0; \
            const __m512 g0 = HR__BW9_LD(0, ap), g1 = HR__BW9_LD(1, ap + 16); \
            HR__BW9_TAPS(HR__BW9_F) \
        } \
    HR__BW9_TAPS(HR__BW9_S) }
#define HR__BW9_D(s, k) __m512 t##s##k##0 = _mm512_setzero_ps(), t##s##k##1 = t##s##k##0; \
    if ((s) < nky) { t##s##k##0 = _mm512_maskz_loadu_ps(m0, acc + ((s) * 3 + (k)) * C + c0); \
                     t##s##k##1 = _mm512_maskz_loadu_ps(m1, acc + ((s) * 3 + (k)) * C + c0 + 16); }
#define HR__BW9_F(s, k) if ((s) < nky) { \
    t##s##k##0 = _mm512_fmadd_ps(g0, HR__BW9_LD(0, bp + (s) * bks + (k) * C), t##s##k##0); \
    t##s##k##1 = _mm512_fmadd_ps(g1, HR__BW9_LD(1, bp + (s) * bks + (k) * C + 16), t##s##k##1); }
#define HR__BW9_S(s, k) if ((s) < nky) { \
    _mm512_mask_storeu_ps(acc + ((s) * 3 + (k)) * C + c0, m0, t##s##k##0); \
    _mm512_mask_storeu_ps(acc + ((s) * 3 + (k)) * C + c0 + 16, m1, t##s##k##1); }
HR__TARGET_AVX512
static void hr__dw_bw3_avx512(float *acc, const float *a, size_t ars, const float *b, size_t bs,
                              size_t bks, size_t brs, size_t nky, size_t C, size_t np, size_t nr)
{
    size_t c0, p, r;
    for (c0 = 0; c0 < C; c0 += 32) {
        HR__DWV2(HR__DWM)
        if (C - c0 >= 32) {
#define HR__BW9_LD HR__BW9_FULL
            HR__BW9
#undef HR__BW9_LD
        } else {
#define HR__BW9_LD HR__BW9_MASK
            HR__BW9
#undef HR__BW9_LD
        }
    }
}
#undef HR__BW9_TAPS
#undef HR__BW9_FULL
#undef HR__BW9_MASK
#undef HR__BW9
#undef HR__BW9_D
#undef HR__BW9_F
#undef HR__BW9_S

/* Every panel, any mr <= 32, any kc, no scalar tails. Copying (rs == 1):
   row p of a panel is mr contiguous floats, two masked vectors (rows past
   `rows` masked to zero). Transposing (cs == 1): groups of 8 rows x 8 k
   loaded (the k tail and absent rows masked to zero), transposed in
   registers, stored as 8-float pieces of 8 k steps (the piece past mr and
   the k steps past kc masked off). Other strides: the reference. */
HR__TARGET_AVX512
static void hr__pack_avx512(float *dst, const float *x, size_t rs, size_t cs,
                            size_t rows, size_t kc, size_t mr)
{
    size_t q, p, g, i;
    if (cs != 1 && (rs != 1 || mr > 32)) { /* the wide tile's 64 rows: by 8 x 8 blocks only */
        hr__pack_ref(dst, x, rs, cs, rows, kc, mr);
        return;
    }
    for (q = 0; q < rows; q += mr, dst += mr * kc) {
        const size_t h = rows - q < mr ? rows - q : mr;
        const float *xq = x + q * rs;
        if (cs != 1) { /* rs == 1 */
            const __mmask16 l0 = HR__X5_MASK(h), l1 = HR__X5_MASK(h > 16 ? h - 16 : 0);
            const __mmask16 s0 = HR__X5_MASK(mr), s1 = HR__X5_MASK(mr > 16 ? mr - 16 : 0);
            for (p = 0; p < kc; p++) {
                const float *src = xq + p * cs;
                float *d = dst + p * mr;
                _mm512_mask_storeu_ps(d, s0, _mm512_maskz_loadu_ps(l0, src));
                if (s1) _mm512_mask_storeu_ps(d + 16, s1, _mm512_maskz_loadu_ps(l1, src + 16));
            }
            continue;
        }
        for (p = 0; p < kc; p += 8) {
            const size_t kn = kc - p < 8 ? kc - p : 8;
            const __mmask8 lk = (__mmask8)((1u << kn) - 1u);
            for (g = 0; g < mr; g += 8) {
                const __mmask16 sm = HR__X5_MASK(mr - g);
                __m256 r8[8];
                for (i = 0; i < 8; i++)
                    r8[i] = g + i < h ? HR__X5_LO(_mm512_maskz_loadu_ps(
                                            (__mmask16)lk, xq + (g + i) * rs + p))
                                      : _mm256_setzero_ps();
                HR__TRANSPOSE8(r8);
                for (i = 0; i < kn; i++)
                    _mm512_mask_storeu_ps(dst + (p + i) * mr + g, sm, _mm512_castps256_ps512(r8[i]));
            }
        }
    }
}

/* Batched alias draws: the 8 lanes' xoshiro256** in ONE register per state
   word (8 x 64 bits), native 64-bit rotates, Lemire's column = high half of
   _mm512_mul_epu32(low 32 bits, n), one 8-way 64-bit gather of (threshold,
   alias), the coin compared into a mask, vpmovqd to 8 x 32 bits. Same
   rejection hand-off and, past L2, the same run-ahead prefetch as AVX2. */
HR__TARGET_AVX512
static void hr__draw_n_avx512(uint32_t *out, size_t m, const hr_alias *a,
                              uint64_t *lanes)
{
    enum { BLOCK = 8 };
    __m512i buf[BLOCK];
    const __m512i nv = _mm512_set1_epi64((long long)a->n);
    const __m512i rj = _mm512_set1_epi64((long long)a->reject);
    const __m512i lo32 = _mm512_set1_epi64(0xFFFFFFFFll);
    const long long *tab = (const long long *)(const void *)a->tab;
    const int check = a->reject != 0, blocked = a->n > (1u << 15);
    __m512i s0, s1, s2, s3, x;
    size_t i = 0;
#define HR__LOAD() s0 = _mm512_loadu_si512(lanes + 0); s1 = _mm512_loadu_si512(lanes + 8); \
                   s2 = _mm512_loadu_si512(lanes + 16); s3 = _mm512_loadu_si512(lanes + 24);
#define HR__STORE() _mm512_storeu_si512(lanes + 0, s0); _mm512_storeu_si512(lanes + 8, s1); \
                    _mm512_storeu_si512(lanes + 16, s2); _mm512_storeu_si512(lanes + 24, s3);
    /* x = rotl(s1 * 5, 7) * 9 */
#define HR__OUT() x = _mm512_add_epi64(_mm512_slli_epi64(s1, 2), s1); \
                  x = _mm512_rol_epi64(x, 7); \
                  x = _mm512_add_epi64(_mm512_slli_epi64(x, 3), x);
    /* any lane's Lemire remainder (low half of x_lo * n) below 2^32 mod n */
#define HR__REJECTS() (check && _mm512_cmplt_epu64_mask( \
                          _mm512_and_epi64(_mm512_mul_epu32(x, nv), lo32), rj))
#define HR__STEP() { const __m512i t_ = _mm512_slli_epi64(s1, 17); \
                     s2 = _mm512_xor_si512(s2, s0); s3 = _mm512_xor_si512(s3, s1); \
                     s1 = _mm512_xor_si512(s1, s2); s0 = _mm512_xor_si512(s0, s3); \
                     s2 = _mm512_xor_si512(s2, t_); s3 = _mm512_rol_epi64(s3, 45); }
#define HR__LOOKUP(xv, dst) { const __m512i col_ = _mm512_srli_epi64(_mm512_mul_epu32(xv, nv), 32); \
        const __m512i e_ = _mm512_i64gather_epi64(col_, tab, 8); \
        const __mmask8 keep_ = _mm512_cmplt_epu64_mask(_mm512_srli_epi64(xv, 32), \
                                                       _mm512_and_epi64(e_, lo32)); \
        const __m512i r_ = _mm512_mask_mov_epi64(_mm512_srli_epi64(e_, 32), keep_, col_); \
        _mm256_storeu_si256((__m256i *)(void *)(dst), _mm512_cvtepi64_epi32(r_)); }
    HR__LOAD()
    while (i + HR__DRAW_LANES <= m) {
        if (!blocked) {
            HR__OUT()
            if (!HR__REJECTS()) {
                HR__LOOKUP(x, out + i)
                HR__STEP()
                i += HR__DRAW_LANES;
                continue;
            }
        } else {
            const size_t ng = (m - i) / HR__DRAW_LANES < (size_t)BLOCK ? (m - i) / HR__DRAW_LANES : (size_t)BLOCK;
            size_t g, k;
            for (g = 0; g < ng; g++) { /* generate ahead, up to a rejection */
                uint64_t col[HR__DRAW_LANES];
                int q;
                HR__OUT()
                if (HR__REJECTS()) break;
                buf[g] = x;
                _mm512_storeu_si512(col, _mm512_srli_epi64(_mm512_mul_epu32(x, nv), 32));
                for (q = 0; q < HR__DRAW_LANES; q++)
                    _mm_prefetch((const char *)(a->tab + col[q]), _MM_HINT_T0);
                HR__STEP()
            }
            for (k = 0; k < g; k++) HR__LOOKUP(buf[k], out + i + HR__DRAW_LANES * k)
            i += HR__DRAW_LANES * g;
            if (g == ng) continue;
        }
        /* rare: some lane rejects; the reference redraws this group */
        HR__STORE()
        hr__draw_n_scalar(out + i, HR__DRAW_LANES, a, lanes);
        HR__LOAD()
        i += HR__DRAW_LANES;
    }
    HR__STORE()
#undef HR__LOAD
#undef HR__STORE
#undef HR__OUT
#undef HR__REJECTS
#undef HR__STEP
#undef HR__LOOKUP
    if (i < m) hr__draw_n_scalar(out + i, m - i, a, lanes);
}

/* The simple kernels (>>simd) on 16 lanes. */
#define HR__V_avx512 __m512
#define HR__VN_avx512 16
#define HR__VLD_avx512(p) _mm512_loadu_ps(p)
#define HR__VST_avx512(p, v) _mm512_storeu_ps(p, v)
#define HR__VZERO_avx512() _mm512_setzero_ps()
#define HR__VADD_avx512(a, b) _mm512_add_ps(a, b)
#define HR__VFMA_avx512(a, b, c) _mm512_fmadd_ps(a, b, c)
#define HR__SFMA_avx512(a, b, c) _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)))
#define HR__VSET1_avx512(x) _mm512_set1_ps(x)
#define HR__VSUB_avx512(a, b) _mm512_sub_ps(a, b)
#define HR__VMUL_avx512(a, b) _mm512_mul_ps(a, b)
#define HR__VLDN_avx512(p, n, f) _mm512_mask_loadu_ps(_mm512_set1_ps(f), HR__X5_MASK(n), p)
#define HR__VSTN_avx512(p, n, v) _mm512_mask_storeu_ps(p, HR__X5_MASK(n), v)
#define HR__VD_avx512 __m512d
#define HR__VDZERO_avx512() _mm512_setzero_pd()
#define HR__VDSET1_avx512(x) _mm512_set1_pd(x)
#define HR__VDADD_avx512(a, b) _mm512_add_pd(a, b)
#define HR__VDMUL_avx512(a, b) _mm512_mul_pd(a, b)
#define HR__VDFMA_avx512(a, b, c) _mm512_fmadd_pd(a, b, c)
#define HR__VWLO_avx512(v) _mm512_cvtps_pd(HR__X5_LO(v))
#define HR__VWHI_avx512(v) _mm512_cvtps_pd(HR__X5_HI(v))
#define HR__VNARROW_avx512(lo, hi) _mm512_castpd_ps(_mm512_insertf64x4( \
    _mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo))), _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1))
#define HR__VDSUM_avx512(d) _mm512_reduce_add_pd(d)
#define HR__SIMD_ISA avx512
HR__SIMD_KERNELS(avx512, HR__TARGET_AVX512)
#ifdef HR__SLEEF_AVX512
HR__SIMD_EXPSUM(avx512, HR__TARGET_AVX512, Sleef_expf16_u10avx512f)
#define HR__EXPSUM_AVX512 hr__expsum_avx512
#else
#define HR__EXPSUM_AVX512 hr__expsum_scalar
#endif
#undef HR__SIMD_ISA

/* Blocking: mc a multiple of 14 near AVX2's 192 rows; B blocks as AVX2's
   (the L2/L3 of the CPUs that have both are alike); A in place up to 4
   panels (128 columns, as AVX2's 8 of 16). */
/* The narrow table: the 12 x 16 convolution kernels; what a convolution
   reads besides is the ISA's own (packing, depthwise, colsum, the tile
   store). No Gram kernel: only hr_conv2d reaches this table. */
static const hr__kernels hr__kernels_avx512n = {
    hr__cpu_avx512, HR__X5N_MR, 16, 196, 512, (size_t)1 << 19, (size_t)1 << 20, 4,
    NULL, hr__sumsq_avx512, hr__scale_avx512, hr__draw_n_avx512,
    hr__tile_avx512, hr__pack_avx512, hr__dw_axpy_avx512, hr__dw_dot_avx512, hr__colsum_avx512,
    HR__EXPSUM_AVX512,
    hr__direct_avx512n, hr__outer_avx512n, hr__dw_fwd_avx512, hr__dw_bw3_avx512, NULL, NULL
};

/* The wide table: the 6 x 64 convolution kernels; the rest as the narrow
   table's. No Gram kernel: only hr_conv2d reaches
   this table. */
static const hr__kernels hr__kernels_avx512w = {
    hr__cpu_avx512, HR__X5W_MR, 64, 196, 512, (size_t)1 << 19, (size_t)1 << 20, 4,
    NULL, hr__sumsq_avx512, hr__scale_avx512, hr__draw_n_avx512,
    hr__tile_avx512, hr__pack_avx512, hr__dw_axpy_avx512, hr__dw_dot_avx512, hr__colsum_avx512,
    HR__EXPSUM_AVX512,
    hr__direct_avx512w, hr__outer_avx512w, hr__dw_fwd_avx512, hr__dw_bw3_avx512, NULL, NULL
};

static const hr__kernels hr__kernels_avx512 = {
    hr__cpu_avx512, HR__X5_MR, 32, 196, 512, (size_t)1 << 19, (size_t)1 << 20, 4,
    hr__gram_avx512, hr__sumsq_avx512, hr__scale_avx512, hr__draw_n_avx512,
    hr__tile_avx512, hr__pack_avx512, hr__dw_axpy_avx512, hr__dw_dot_avx512, hr__colsum_avx512,
    HR__EXPSUM_AVX512,
    hr__direct_avx512, hr__outer_avx512, hr__dw_fwd_avx512, hr__dw_bw3_avx512, &hr__kernels_avx512n,
    &hr__kernels_avx512w
};
#define HR__KERNELS_AVX512 (&hr__kernels_avx512)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
#define HR__KERNELS_AVX512 NULL
#endif /* HR__HAVE_AVX512 */

/* >>dispatch -------------------------------------------------------------*/
/* The ISA registry: one row per hr_isa, in enum order (xxHash's dispatch
   array). A row whose kernels are NULL is not compiled in. Detection takes
   the supported row with the highest enumerator, so a new path is appended
   after the ones it supersedes on its architecture. Every question about
   ISAs (name, spelling in HR_ISA, support, detection, kernel table) is a
   look-up or a loop here. */
typedef struct hr__isa_row {
    hr_isa isa;
    const char *name;
    const hr__kernels *k;
} hr__isa_row;

static const hr__isa_row hr__isas[HR_ISA_COUNT] = {
    {HR_ISA_AUTO, "auto", NULL},
    {HR_ISA_SCALAR, "scalar", &hr__kernels_scalar},
    {HR_ISA_AVX2, "avx2", HR__KERNELS_AVX2},
    {HR_ISA_NEON, "neon", HR__KERNELS_NEON},
    {HR_ISA_AVX512, "avx512", HR__KERNELS_AVX512},
};

static int hr__isa_choice; /* 0: not chosen yet; else an hr_isa. See doc. */

HRDEF int hr_isa_supported(hr_isa isa)
{
    const hr__kernels *k;
    if ((int)isa <= (int)HR_ISA_AUTO || (int)isa >= (int)HR_ISA_COUNT) return 0;
    k = hr__isas[isa].k;
    return k && k->cpu();
}

static hr_isa hr__detect(void)
{
    int i;
    for (i = (int)HR_ISA_COUNT - 1; i > (int)HR_ISA_SCALAR; i--)
        if (hr_isa_supported((hr_isa)i)) return (hr_isa)i;
    return HR_ISA_SCALAR;
}

HRDEF const char *hr_isa_name(hr_isa isa)
{
    if ((int)isa < 0 || (int)isa >= (int)HR_ISA_COUNT) return "unknown";
    return hr__isas[isa].name;
}

HRDEF hr_status hr_isa_from_name(const char *name, hr_isa *isa)
{
    int i;
    if (!name || !isa) return HR_EINVAL;
    for (i = 0; i < (int)HR_ISA_COUNT; i++)
        if (!strcmp(name, hr__isas[i].name)) {
            *isa = hr__isas[i].isa;
            return HR_OK;
        }
    return HR_EINVAL;
}

static hr_isa hr__initial_isa(void)
{
    const char *e = getenv("HR_ISA");
    hr_isa want = HR_ISA_AUTO;
#ifdef HR_FORCE_ISA
    want = HR_FORCE_ISA;
#endif
    if (e) (void)hr_isa_from_name(e, &want); /* unknown: want stands */
    return (want != HR_ISA_AUTO && hr_isa_supported(want)) ? want : hr__detect();
}

HRDEF hr_isa hr_get_isa(void)
{
    int isa = HR__ATOMIC_LOAD(&hr__isa_choice);
    if (!isa) {
        isa = (int)hr__initial_isa();
        HR__ATOMIC_STORE(&hr__isa_choice, isa);
    }
    return (hr_isa)isa;
}

HRDEF hr_status hr_set_isa(hr_isa isa)
{
    if (isa == HR_ISA_AUTO) isa = hr__detect();
    else if (!hr_isa_supported(isa)) return HR_EUNSUPPORTED;
    HR__ATOMIC_STORE(&hr__isa_choice, (int)isa);
    return HR_OK;
}

/* The kernel table of the path chosen now. Every public call reads it ONCE
   and passes it down: a call that read it twice could plan with one ISA's
   tile sizes and run another's kernels, if another thread called
   hr_set_isa() in between. */
static const hr__kernels *hr__kernels_get(void)
{
    const hr__kernels *k = hr__isas[hr_get_isa()].k;
    return k ? k : &hr__kernels_scalar; /* hr_get_isa() only names a supported row */
}

/* >>helpers --------------------------------------------------------------*/
/* Status strings; overflow-checked sizes; alignment; argument checks. */

HRDEF const char *hr_status_string(hr_status s)
{
    switch (s) {
    case HR_OK: return "ok";
    case HR_EINVAL: return "invalid argument (NULL pointer, stride smaller than width, or size out of range)";
    case HR_ENOMEM: return "out of memory";
    case HR_ENONFINITE: return "input contains NaN or infinity";
    case HR_EOVERFLOW: return "size computation overflows";
    case HR_EUNSUPPORTED: return "instruction set not compiled in or not supported by this CPU";
    default: return "unknown status";
    }
}

/* a*b (+ c) in size_t, or 0 and *ok = 0 on overflow. */
static size_t hr__mul(size_t a, size_t b, int *ok)
{
    if (b && a > (size_t)-1 / b) { *ok = 0; return 0; }
    return a * b;
}
static size_t hr__add(size_t a, size_t b, int *ok)
{
    if (a > (size_t)-1 - b) { *ok = 0; return 0; }
    return a + b;
}
static size_t hr__round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
/* The first HR__ALIGN boundary at or after mem (allocations carry HR__ALIGN
   spare bytes for it). */
static char *hr__align_up(void *mem)
{
    return (char *)mem + (HR__ALIGN - (size_t)((uintptr_t)mem % HR__ALIGN)) % HR__ALIGN;
}

/* Count, then carve: a layout routine runs twice over the same pieces,
   with m NULL to count their bytes (off), then with m the block to set
   each piece's pointer; every piece starts HR__ALIGN-aligned. The routine
   names its block m, its running size off and its overflow flag ok (an
   int *); a piece's rounding up is checked too. */
#define HR__CARVE(ptr, count, type) \
    if (m) (ptr) = (type *)(void *)(m + off); \
    off = hr__add(off, hr__add(hr__mul((count), sizeof(type), ok), HR__ALIGN - 1, ok) / HR__ALIGN * \
                           HR__ALIGN, ok);

/* A team's block: `shared` bytes that every thread reads, then nt parts
   of `each` bytes, one a thread, HR__TGAP apart from the shared bytes and
   from each other (no false sharing), and room to align the start. */
static size_t hr__team_shared(size_t shared, int *ok)
{
    return hr__add(shared, 2 * HR__TGAP - 1, ok) / HR__TGAP * HR__TGAP;
}
static size_t hr__team_bytes(size_t shared, size_t each, size_t nt, int *ok)
{
    const size_t e = hr__add(each, HR__TGAP - 1, ok) / HR__TGAP * HR__TGAP;
    return hr__add(hr__add(hr__team_shared(shared, ok), hr__mul(e, nt, ok), ok), HR__ALIGN, ok);
}
/* Thread t's part of a block that hr__team_bytes counted (base aligned). */
static char *hr__team_part(char *base, size_t shared, size_t each, size_t t)
{
    int ok = 1;
    return base + hr__team_shared(shared, &ok) + t * ((each + HR__TGAP - 1) / HR__TGAP * HR__TGAP);
}

/* A strided n x d float matrix: pointer present when it has elements, stride
   at least the width, and its byte extent representable. */
static hr_status hr__check_matrix(const void *p, size_t n, size_t d, size_t ld)
{
    int ok = 1;
    if (ld < d) return HR_EINVAL;
    if (n == 0) return HR_OK;
    if (!p && d) return HR_EINVAL;
    hr__mul(hr__add(hr__mul(n - 1, ld, &ok), d, &ok), sizeof(float), &ok);
    return ok ? HR_OK : HR_EOVERFLOW;
}

/* >>normalize ------------------------------------------------------------*/

/* 1/||row||, or 0 for a zero row; exactly what hr_normalize_rows uses. */
static double hr__inv_norm(double sumsq) { return sumsq > 0.0 ? 1.0 / sqrt(sumsq) : 0.0; }

HRDEF hr_status hr_normalize_rows(float *out, size_t ldo, const float *in,
                                  size_t ldi, size_t n, size_t d)
{
    const hr__kernels *K = hr__kernels_get();
    hr_status s;
    size_t i;
    if ((s = hr__check_matrix(in, n, d, ldi)) != HR_OK) return s;
    if ((s = hr__check_matrix(out, n, d, ldo)) != HR_OK) return s;
    if (out == in && ldo != ldi && n > 1 && d) return HR_EINVAL;
    if (!n || !d) return HR_OK; /* no elements: in and out may be NULL */
    /* First pass checks everything so that an error leaves out untouched;
       no allocation, so this call cannot fail for memory. */
    for (i = 0; i < n; i++)
        if (!isfinite(K->sumsq(in + i * ldi, d))) return HR_ENONFINITE;
    for (i = 0; i < n; i++)
        K->scale(out + i * ldo, in + i * ldi, d, hr__inv_norm(K->sumsq(in + i * ldi, d)));
    return HR_OK;
}

/* >>gram -----------------------------------------------------------------*/
/* The blocked Gram driver.
   One driver for every difficulty call: the rows of A against the rows of
   B, where B is either A itself (the triangle of a block with itself:
   hr_difficulty, hr_neighbors_topk, hr_difficulty_pairs(a, NULL)) or other
   rows (a rectangle: hr_difficulty_pairs(a, b); hr_difficulty_update's
   rows to recompute, gathered from W, against all of W).
   Loops, outside in (BLIS's; in the triangle restricted to row < col):
     column block J (nc columns of A B^T): its rows of B packed once per
       thread into nr-row panels, all of k (a few MiB: L2/L3),
     row block I (mc rows) with some pair to compute in (I, J): a task,
       k block (kc deep): the A panels of I packed (L2),
         jr (nr columns), ir (mr rows): micro-kernel. In the triangle a
           micro-tile whose columns all lie at or left of its rows is
           skipped; a tile that straddles the diagonal, holds a row's own
           column, or reaches past A's or B's rows is masked by index.
   Partial sums over k blocks wait in a per-thread C buffer; the last k block
   folds the tile into running maxima (difficulty) or hands the stored tile
   to the top-k fold. Each pair is computed in one tile and offered to both
   its row's and its column's maxima.
   Threads: tasks are cut into contiguous runs of equal pair count; each
   thread keeps private maxima (global indices), merged at the end with the
   full tie rule. The max under a total order does not depend on who found
   what, so the result is bitwise the same for any thread count, and for
   any split of the pairs over calls (hr_difficulty_pairs).
   Early reject (skip a tile whose Cauchy-Schwarz bound cannot beat the
   current maxima) is deliberately absent: for unit rows the only a-priori
   bound is 1, and partial-k bounds (partial + |a_rest||b_rest|) stay above
   typical maxima until the last k block, so the test would never fire. */

typedef struct hr__side {  /* the rows on one side of A B^T */
    const float *w;
    size_t n, ld;          /* n rows (positions 0..n-1), row stride ld */
    const int32_t *pick;   /* NULL: position p is row p of w; else row
                              pick[p] (ascending, so positions keep the
                              order of global indices) */
    const double *inv;     /* scale of each row of w; NULL: HR_UNIT_ROWS */
    size_t first;          /* global index of w's row 0 */
} hr__side;

typedef struct hr__job {
    const hr__kernels *K;
    hr__side a, b;         /* rows x columns */
    int tri;               /* b is a: pairs row < col only */
    int self;              /* some row of a is also a row of b: mask it */
    size_t d;
    size_t mc, nc, kc, nk; /* block sizes; nk = number of k blocks */
    size_t ncb;            /* number of column blocks */
    size_t k;              /* 0: difficulty (max); else top-k (triangle) */
    double total;          /* pairs to compute, for the thread split */
} hr__job;

typedef struct hr__ws {    /* one thread's memory, one allocation */
    void *mem;
    float *bpack, *apack, *cbuf, *tmp;
    float *rbest, *cbest;  /* task scratch: mc x HR__LANES rows, nc cols */
    int32_t *ridx, *cidx;
    float *val, *valb;     /* running results of a's rows (n, or n*k for
                              top-k) and of b's (valb == val in the
                              triangle), with global indices */
    int32_t *idx, *idxb;
} hr__ws;

static int32_t hr__gid(const hr__side *s, size_t p)
{
    return (int32_t)(s->first + (s->pick ? (size_t)s->pick[p] : p));
}

/* Position in b of a's row p, or (size_t)-1 when b does not hold it. */
static size_t hr__self_col(const hr__job *jb, size_t p)
{
    const size_t g = (size_t)hr__gid(&jb->a, p);
    return g >= jb->b.first && g - jb->b.first < jb->b.n ? g - jb->b.first : (size_t)-1;
}

/* Pairs (r, c) with r < c inside rows [i0, i1) x columns [j0, j1). */
static double hr__pairs(size_t i0, size_t i1, size_t j0, size_t j1)
{
    double p = 0.0;
    size_t below = (i1 < j0 ? i1 : j0), s = (i0 > j0 ? i0 : j0), e = (i1 < j1 ? i1 : j1);
    if (below > i0) p += (double)(below - i0) * (double)(j1 - j0);
    if (e > s) p += ((double)(j1 - 1 - s) + (double)(j1 - e)) * (double)(e - s) / 2.0;
    return p;
}

static double hr__task_pairs(const hr__job *jb, size_t i0, size_t i1, size_t j0, size_t j1)
{
    return jb->tri ? hr__pairs(i0, i1, j0, j1) : (double)(i1 - i0) * (double)(j1 - j0);
}

/* Row blocks of column block J that hold a pair to compute. */
static size_t hr__row_blocks(const hr__job *jb, size_t J)
{
    size_t jend = (J + 1) * jb->nc < jb->b.n ? (J + 1) * jb->nc : jb->b.n;
    if (!jb->tri) return (jb->a.n + jb->mc - 1) / jb->mc;
    return jend >= 2 ? (jend - 1 + jb->mc - 1) / jb->mc : 0;
}

/* Pack positions [row0, row0 + rows) x columns [pc, pc + kc) of a side,
   scaled to unit length as hr_normalize_rows would, into panels of mr
   rows, k-major: dst[p*mr*kc + k*mr + r]; rows past `rows` up to a multiple
   of mr are 0. Unit rows in place go straight to the ISA's pack kernel
   (hr_gemm's); scaled or gathered rows are first scaled into tmp (mr x kc),
   one panel at a time, then packed by the same kernel. */
static void hr__pack(float *HR__RESTRICT dst, const hr__kernels *K, const hr__side *s,
                     size_t row0, size_t rows, size_t mr, size_t pc, size_t kc,
                     float *HR__RESTRICT tmp)
{
    size_t p, r;
    if (!s->inv && !s->pick) {
        K->pack(dst, s->w + row0 * s->ld + pc, s->ld, 1, rows, kc, mr);
        return;
    }
    for (p = 0; p < rows; p += mr, dst += mr * kc) {
        const size_t pr = rows - p < mr ? rows - p : mr;
        for (r = 0; r < pr; r++) {
            const size_t row = s->pick ? (size_t)s->pick[row0 + p + r] : row0 + p + r;
            K->scale(tmp + r * kc, s->w + row * s->ld + pc, kc, s->inv ? s->inv[row] : 1.0);
        }
        K->pack(dst, tmp, kc, 1, pr, kc, mr);
    }
}

/* Is (v, j) better than (bv, bj)? Larger value; on ties the smaller index;
   index -1 (empty) loses to everything. */
static int hr__better(float v, int32_t j, float bv, int32_t bj)
{
    return v > bv || (v == bv && (uint32_t)j < (uint32_t)bj);
}

/* Fold candidates (v[i], ix[i]) into running maxima (c[i], nearest[i]), or
   with merge == 0 overwrite them (nearest may then be NULL). A zero is
   stored as +0.0f, so that merging by value (MPI's MAXLOC) never sees the
   sign of a zero. */
static void hr__fold_out(float *c, int32_t *nearest, const float *v, const int32_t *ix,
                         size_t n, int merge)
{
    size_t i;
    for (i = 0; i < n; i++) {
        const float x = v[i] + 0.0f; /* -0 + +0 = +0; everything else as is */
        if (!merge) {
            c[i] = x;
            if (nearest) nearest[i] = ix[i];
        } else if (ix[i] >= 0 && hr__better(x, ix[i], c[i], nearest[i])) {
            c[i] = x;
            nearest[i] = ix[i];
        }
    }
}

static void hr__topk_insert(float *val, int32_t *idx, size_t k, float v, int32_t j)
{
    size_t p = k - 1;
    if (!hr__better(v, j, val[p], idx[p])) return;
    for (; p > 0 && hr__better(v, j, val[p - 1], idx[p - 1]); p--) {
        val[p] = val[p - 1];
        idx[p] = idx[p - 1];
    }
    val[p] = v;
    idx[p] = j;
}

/* Top-k fold of a stored tile (the generic epilogue of the top-k mode, in
   the triangle of one block starting at global index 0).
   Most elements beat neither list's current k-th entry: test against
   thresholds read once per tile (stale ones only let extra candidates
   through to hr__topk_insert, which decides exactly). */
static void hr__fold_topk(const float *t, int mr, int nr, int32_t row0,
                          int32_t col0, const hr__job *jb, hr__ws *ws)
{
    float rth[HR__MAX_TILE], cth[HR__MAX_TILE];
    const size_t k = jb->k, n = jb->a.n;
    int r, j;
    for (r = 0; r < mr; r++)
        rth[r] = (size_t)(row0 + r) < n ? ws->val[(size_t)(row0 + r) * k + k - 1] : INFINITY;
    for (j = 0; j < nr; j++)
        cth[j] = (size_t)(col0 + j) < n ? ws->val[(size_t)(col0 + j) * k + k - 1] : INFINITY;
    for (r = 0; r < mr; r++)
        for (j = 0; j < nr; j++) {
            const int32_t row = row0 + r, col = col0 + j;
            const float v = t[r * nr + j];
            if (!(v >= rth[r] || v >= cth[j]) || col <= row || (size_t)col >= n) continue;
            hr__topk_insert(ws->val + (size_t)row * k, ws->idx + (size_t)row * k, k, v, col);
            hr__topk_insert(ws->val + (size_t)col * k, ws->idx + (size_t)col * k, k, v, row);
        }
}

/* The excluded columns of each row of the tile at (row0, col0), in ep;
   0 when the tile excludes nothing (see hr__ep). */
static int hr__mask(const hr__job *jb, hr__ep *ep, size_t row0, size_t col0)
{
    const size_t mr = (size_t)jb->K->mr, nr = (size_t)jb->K->nr;
    size_t r, s;
    int any = row0 + mr > jb->a.n || col0 + nr > jb->b.n || (jb->tri && col0 < row0 + mr);
    for (r = 0; r < mr && !any && jb->self; r++)
        any = (s = hr__self_col(jb, row0 + r)) >= col0 && s - col0 < nr;
    if (!any) return 0;
    for (r = 0; r < mr; r++) {
        const size_t p = row0 + r;
        ep->lo[r] = INT32_MIN;
        ep->hi[r] = -1;                                   /* nothing */
        if (p >= jb->a.n) ep->hi[r] = INT32_MAX;          /* everything */
        else if (jb->tri) ep->hi[r] = (int32_t)p;         /* col <= row */
        else if (jb->self && (s = hr__self_col(jb, p)) != (size_t)-1)
            ep->lo[r] = ep->hi[r] = (int32_t)s;           /* its own column */
    }
    return 1;
}

static void hr__task(const hr__job *jb, hr__ws *ws, size_t I, size_t J)
{
    const hr__kernels *K = jb->K;
    const size_t mr = (size_t)K->mr, nr = (size_t)K->nr, L = HR__LANES;
    const size_t i0 = I * jb->mc, j0 = J * jb->nc;
    const size_t im = jb->a.n - i0 < jb->mc ? jb->a.n - i0 : jb->mc;
    const size_t jn = jb->b.n - j0 < jb->nc ? jb->b.n - j0 : jb->nc;
    const size_t mtiles = (im + mr - 1) / mr;
    size_t p, ir, jr, r;
    if (!jb->k) {
        for (r = 0; r < hr__round_up(im, mr) * L; r++) { ws->rbest[r] = -INFINITY; ws->ridx[r] = -1; }
        for (r = 0; r < hr__round_up(jn, nr); r++) { ws->cbest[r] = -INFINITY; ws->cidx[r] = -1; }
    }
    for (p = 0; p < jb->nk; p++) {
        const size_t pc = p * jb->kc, kc = jb->d - pc < jb->kc ? jb->d - pc : jb->kc;
        const float *bp = ws->bpack + pc * hr__round_up(jn, nr);
        const int last = p + 1 == jb->nk;
        hr__pack(ws->apack, K, &jb->a, i0, im, mr, pc, kc, ws->tmp);
        for (jr = 0; jr < jn; jr += nr)
            for (ir = 0; ir < im; ir += mr) {
                const size_t row0 = i0 + ir, col0 = j0 + jr;
                float *t = jb->nk == 1 ? ws->cbuf /* one tile at a time */
                                       : ws->cbuf + ((jr / nr) * mtiles + ir / mr) * mr * nr;
                if (jb->tri && col0 + nr - 1 <= row0) break; /* this and later ir: col <= row */
                if (!last) {
                    K->gram(kc, ws->apack + ir * kc, bp + jr * kc, t, p > 0, NULL);
                } else if (!jb->k) {
                    hr__ep ep;
                    ep.row0 = (int32_t)row0; ep.col0 = (int32_t)col0; ep.n = (int32_t)jb->b.n;
                    ep.masked = hr__mask(jb, &ep, row0, col0);
                    ep.rbest = ws->rbest + ir * L; ep.ridx = ws->ridx + ir * L;
                    ep.cbest = ws->cbest + jr; ep.cidx = ws->cidx + jr;
                    K->gram(kc, ws->apack + ir * kc, bp + jr * kc, t, p > 0, &ep);
                } else {
                    K->gram(kc, ws->apack + ir * kc, bp + jr * kc, t, p > 0, NULL);
                    hr__fold_topk(t, K->mr, K->nr, (int32_t)row0, (int32_t)col0, jb, ws);
                }
            }
    }
    if (!jb->k) { /* task scratch -> this thread's maxima, global indices,
                     full tie rule */
        size_t l;
        for (r = 0; r < im; r++)
            for (l = 0; l < L; l++) {
                const int32_t j = ws->ridx[r * L + l];
                if (j >= 0) {
                    const int32_t g = hr__gid(&jb->b, (size_t)j);
                    if (hr__better(ws->rbest[r * L + l], g, ws->val[i0 + r], ws->idx[i0 + r])) {
                        ws->val[i0 + r] = ws->rbest[r * L + l];
                        ws->idx[i0 + r] = g;
                    }
                }
            }
        for (r = 0; r < jn; r++) {
            const int32_t j = ws->cidx[r];
            if (j >= 0) {
                const int32_t g = hr__gid(&jb->a, (size_t)j);
                if (hr__better(ws->cbest[r], g, ws->valb[j0 + r], ws->idxb[j0 + r])) {
                    ws->valb[j0 + r] = ws->cbest[r];
                    ws->idxb[j0 + r] = g;
                }
            }
        }
    }
}

/* Thread `tid` of `nt`: the tasks whose pair-count prefix falls in its
   share, in column-block-major order so that each B block is packed once. */
static void hr__worker(const hr__job *jb, hr__ws *ws, int tid, int nt)
{
    const size_t nr = (size_t)jb->K->nr;
    double prefix = 0.0;
    size_t J, I;
    for (J = 0; J < jb->ncb; J++) {
        const size_t j0 = J * jb->nc, jn = jb->b.n - j0 < jb->nc ? jb->b.n - j0 : jb->nc;
        const size_t nI = hr__row_blocks(jb, J);
        int packed = 0;
        for (I = 0; I < nI; I++) {
            const size_t i0 = I * jb->mc, i1 = i0 + jb->mc < jb->a.n ? i0 + jb->mc : jb->a.n;
            double owner = jb->total > 0 ? prefix / jb->total * nt : 0;
            prefix += hr__task_pairs(jb, i0, i1, j0, j0 + jn);
            if ((int)owner != tid && !(tid == nt - 1 && (int)owner >= nt)) continue;
            if (!packed) {
                size_t p;
                for (p = 0; p < jb->nk; p++) {
                    const size_t pc = p * jb->kc, kc = jb->d - pc < jb->kc ? jb->d - pc : jb->kc;
                    hr__pack(ws->bpack + pc * hr__round_up(jn, nr), jb->K, &jb->b, j0, jn, nr,
                             pc, kc, ws->tmp);
                }
                packed = 1;
            }
            hr__task(jb, ws, I, J);
        }
    }
}

/* Carve one thread's buffers out of one allocation; with mem == NULL only
   count the bytes (0 on overflow). */
static size_t hr__ws_layout(hr__ws *ws, char *mem, const hr__job *jb)
{
    const size_t mr = (size_t)jb->K->mr, nr = (size_t)jb->K->nr;
    const size_t mcp = hr__round_up(jb->mc, mr), ncp = hr__round_up(jb->nc, nr);
    const size_t nres = jb->k ? jb->a.n * jb->k : jb->a.n; /* checked by caller */
    const size_t nresb = jb->tri ? 0 : jb->b.n;
    /* partial tiles wait here between k blocks; with one k block, only the
       tile being folded is stored */
    const size_t ctiles = jb->nk == 1 ? mr * nr : mcp * ncp;
    hr__ws w;
    size_t off = 0;
    int ok1 = 1, *ok = &ok1;
    char *m = mem ? hr__align_up(mem) : NULL;
    memset(&w, 0, sizeof w);
    HR__CARVE(w.bpack, hr__mul(ncp, jb->d ? jb->d : 1, ok), float)
    HR__CARVE(w.apack, mcp * jb->kc, float)
    HR__CARVE(w.cbuf, ctiles, float)
    HR__CARVE(w.tmp, (mr > nr ? mr : nr) * jb->kc, float)
    HR__CARVE(w.rbest, mcp * HR__LANES, float)
    HR__CARVE(w.ridx, mcp * HR__LANES, int32_t)
    HR__CARVE(w.cbest, ncp, float)
    HR__CARVE(w.cidx, ncp, int32_t)
    HR__CARVE(w.val, nres, float)
    HR__CARVE(w.idx, nres, int32_t)
    HR__CARVE(w.valb, nresb, float)
    HR__CARVE(w.idxb, nresb, int32_t)
    off = hr__add(off, HR__ALIGN, ok); /* room to align the start */
    if (!*ok) return 0;
    if (m) {
        w.mem = mem;
        hr_maxima_reset(w.val, w.idx, nres);
        hr_maxima_reset(w.valb, w.idxb, nresb);
        if (jb->tri) { w.valb = w.val; w.idxb = w.idx; }
        *ws = w;
    }
    return off;
}

/* Run a job whose sides are validated and scaled, on all threads, and fold
   its results into (va, ia) for a's rows and (vb, ib) for b's (unused in
   the triangle; top-k: n*k entries), merging (running maxima) or
   overwriting (ia may then be NULL). Everything that can fail happens
   before the first output is written. */
static hr_status hr__run(hr__job *jb, float *va, int32_t *ia, float *vb, int32_t *ib, int merge)
{
    const size_t nres = jb->k ? jb->a.n * jb->k : jb->a.n, d = jb->d;
    hr__ws *ws;
    size_t t, i, bytes;
    int nt = 1;
    jb->mc = jb->K->mc;
    jb->kc = jb->K->kc;
    jb->nk = d ? (d + jb->kc - 1) / jb->kc : 1;
    /* B block: gram_nb floats of packed rows (the ISA's L3 share); at least
       512 columns so that packing A stays a small fraction of the work. */
    jb->nc = hr__round_up(jb->K->gram_nb / (d ? d : 1), (size_t)jb->K->nr);
    if (jb->nc < 512) jb->nc = 512;
    if (jb->nc > 2048) jb->nc = 2048;
    if (jb->nc > hr__round_up(jb->b.n, (size_t)jb->K->nr)) jb->nc = hr__round_up(jb->b.n, (size_t)jb->K->nr);
    jb->ncb = (jb->b.n + jb->nc - 1) / jb->nc;
    jb->total = jb->tri ? hr__pairs(0, jb->a.n, 0, jb->a.n) : (double)jb->a.n * (double)jb->b.n;
#ifdef _OPENMP
    nt = omp_get_max_threads();
    /* One thread below ~0.8 GFLOP (N = 1024 at d = 512: 6 ms on one core):
       measured on 2 cores, a team there wins at best 1.5x and, when the
       other core is busy, loses 2-5x (a barrier waits for it). Counted in
       flops, not pairs, so N = 1024 at d = 2048 (2 GFLOP) is split. */
    if (jb->total * (double)(d ? d : 1) < 4e8) nt = 1;
    if (nt < 1) nt = 1;
#endif
    bytes = hr__ws_layout(NULL, NULL, jb);
    if (!bytes) return HR_EOVERFLOW;
    ws = (hr__ws *)HR_MALLOC(sizeof(hr__ws) * (size_t)nt);
    if (!ws) return HR_ENOMEM;
    for (t = 0; t < (size_t)nt; t++) {
        ws[t].mem = HR_MALLOC(bytes);
        if (!ws[t].mem) {
            while (t-- > 0) HR_FREE(ws[t].mem);
            HR_FREE(ws);
            return HR_ENOMEM;
        }
        hr__ws_layout(&ws[t], (char *)ws[t].mem, jb);
    }

#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    hr__worker(jb, &ws[omp_get_thread_num()], omp_get_thread_num(), omp_get_num_threads());
#else
    hr__worker(jb, &ws[0], 0, 1);
#endif

    for (t = 1; t < (size_t)nt; t++) { /* merge into thread 0's results */
        if (!jb->k) {
            hr__fold_out(ws[0].val, ws[0].idx, ws[t].val, ws[t].idx, jb->a.n, 1);
            if (!jb->tri) hr__fold_out(ws[0].valb, ws[0].idxb, ws[t].valb, ws[t].idxb, jb->b.n, 1);
        } else {
            const size_t k = jb->k;
            for (i = 0; i < jb->a.n; i++) {
                size_t r;
                for (r = 0; r < k && ws[t].idx[i * k + r] >= 0; r++)
                    hr__topk_insert(ws[0].val + i * k, ws[0].idx + i * k, k,
                                    ws[t].val[i * k + r], ws[t].idx[i * k + r]);
            }
        }
    }
    hr__fold_out(va, ia, ws[0].val, ws[0].idx, nres, merge);
    if (!jb->tri) hr__fold_out(vb, ib, ws[0].valb, ws[0].idxb, jb->b.n, merge);
    for (t = 0; t < (size_t)nt; t++) HR_FREE(ws[t].mem);
    HR_FREE(ws);
    return HR_OK;
}

/* The checks every difficulty call makes on a matrix of rows and flags
   (w must exist when there are rows, even of width 0). */
static hr_status hr__check_w(const float *w, size_t n, size_t d, size_t ldw, unsigned flags)
{
    hr_status s = hr__check_matrix(w, n, d, ldw);
    if (s != HR_OK) return s;
    return (flags & ~HR_UNIT_ROWS) || n > (size_t)INT32_MAX || (n && !w) ? HR_EINVAL : HR_OK;
}

/* One pass over n rows: finiteness, the scales inv[i] = 1/||w_i|| (NULL
   under HR_UNIT_ROWS: no scaling) and HR_UNIT_ROWS's promise (else a
   product could overflow to Inf). NaN is reported before a broken promise. */
static hr_status hr__scales(double *inv, const hr__kernels *K, const float *w,
                            size_t n, size_t d, size_t ld, unsigned flags)
{
    long i;
    int off_unit = 0, bad = 0;
    /* a memory pass over W: worth a team from a few MiB (hr_difficulty_update
       reads all of W for a few rows' work) */
#ifdef _OPENMP
#pragma omp parallel for schedule(static) reduction(|: off_unit, bad) if ((double)n * (double)d > 1e6)
#endif
    for (i = 0; i < (long)n; i++) {
        const double ss = K->sumsq(w + (size_t)i * ld, d);
        bad |= !isfinite(ss);
        off_unit |= ss != 0.0 && fabs(ss - 1.0) > 1e-3;
        inv[i] = hr__inv_norm(ss);
    }
    if (bad) return HR_ENONFINITE;
    return (flags & HR_UNIT_ROWS) && off_unit ? HR_EINVAL : HR_OK;
}

/* Shared body of hr_difficulty (k == 0) and hr_neighbors_topk (k >= 1):
   the triangle of one block holding all of W, overwriting the outputs. */
static hr_status hr__neighbors(float *val, int32_t *idx, size_t k, const float *w,
                               size_t n, size_t d, size_t ldw, unsigned flags)
{
    hr__job jb;
    double *inv;
    int ok = 1;
    hr_status s = hr__check_w(w, n, d, ldw, flags);
    if (s != HR_OK) return s;
    if (n && !val) return HR_EINVAL;
    hr__mul(hr__mul(n, k ? k : 1, &ok), sizeof(float) + sizeof(int32_t), &ok);
    hr__mul(n, sizeof(double), &ok);
    if (!ok) return HR_EOVERFLOW;
    if (n == 0) return HR_OK;
    memset(&jb, 0, sizeof jb);
    jb.K = hr__kernels_get();
    jb.d = d; jb.k = k; jb.tri = 1;
    if (!(inv = (double *)HR_MALLOC(n * sizeof(double)))) return HR_ENOMEM;
    if ((s = hr__scales(inv, jb.K, w, n, d, ldw, flags)) == HR_OK) {
        jb.a.w = w; jb.a.n = n; jb.a.ld = ldw;
        jb.a.inv = (flags & HR_UNIT_ROWS) ? NULL : inv;
        jb.b = jb.a;
        s = hr__run(&jb, val, idx, NULL, NULL, 0);
    }
    HR_FREE(inv);
    return s;
}

HRDEF hr_status hr_difficulty(float *c, int32_t *nearest, const float *w,
                              size_t n, size_t d, size_t ldw, unsigned flags)
{
    return hr__neighbors(c, nearest, 0, w, n, d, ldw, flags);
}

HRDEF hr_status hr_neighbors_topk(float *sim, int32_t *idx, size_t k,
                                  const float *w, size_t n, size_t d,
                                  size_t ldw, unsigned flags)
{
    if (k == 0) /* still validate, so bad input is never silently accepted */
        return hr__check_w(w, n, d, ldw, flags);
    return hr__neighbors(sim, idx, k, w, n, d, ldw, flags);
}

/* >>pieces ---------------------------------------------------------------*/
/* Difficulty in pieces (the calls of >>scale-api). */

HRDEF void hr_maxima_reset(float *c, int32_t *nearest, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) { c[i] = -INFINITY; nearest[i] = -1; }
}

HRDEF hr_status hr_maxima_merge(float *c, int32_t *nearest, const float *c2,
                                const int32_t *nearest2, size_t n)
{
    if (n && (!c || !nearest || !c2 || !nearest2)) return HR_EINVAL;
    hr__fold_out(c, nearest, c2, nearest2, n, 1);
    return HR_OK;
}

static hr_status hr__check_block(const hr_block *b, size_t d, unsigned flags)
{
    hr_status s = hr__check_w(b->w, b->n, d, b->ld, flags);
    if (s != HR_OK) return s;
    if (b->n && (!b->c || !b->nearest)) return HR_EINVAL;
    /* every global index fits int32_t */
    return b->first > (size_t)INT32_MAX || b->n > (size_t)INT32_MAX - b->first + 1 ? HR_EINVAL : HR_OK;
}

HRDEF hr_status hr_difficulty_pairs(const hr_block *a, const hr_block *b,
                                    size_t d, unsigned flags)
{
    hr__job jb;
    double *inv;
    size_t na, nb;
    int ok = 1;
    hr_status s;
    if (!a) return HR_EINVAL;
    if (b == a) b = NULL;
    if ((s = hr__check_block(a, d, flags)) != HR_OK) return s;
    if (b && (s = hr__check_block(b, d, flags)) != HR_OK) return s;
    na = a->n;
    nb = b ? b->n : 0;
    if (b && na && nb && a->first < b->first + nb && b->first < a->first + na)
        return HR_EINVAL; /* overlapping global ranges */
    hr__mul(hr__add(na, nb, &ok), sizeof(double), &ok);
    if (!ok) return HR_EOVERFLOW;
    if (!na && !nb) return HR_OK;
    memset(&jb, 0, sizeof jb);
    jb.K = hr__kernels_get();
    jb.d = d;
    if (!(inv = (double *)HR_MALLOC((na + nb) * sizeof(double)))) return HR_ENOMEM;
    /* both blocks are checked even when there is no pair to compute, so a
       block's NaN is reported by its first call */
    s = hr__scales(inv, jb.K, a->w, na, d, a->ld, flags);
    if (s == HR_OK && b) s = hr__scales(inv + na, jb.K, b->w, nb, d, b->ld, flags);
    if (s == HR_OK && (b ? na && nb : na > 1)) {
        jb.a.w = a->w; jb.a.n = na; jb.a.ld = a->ld; jb.a.first = a->first;
        jb.a.inv = (flags & HR_UNIT_ROWS) ? NULL : inv;
        jb.tri = !b;
        jb.b = jb.a;
        if (b) {
            jb.b.w = b->w; jb.b.n = nb; jb.b.ld = b->ld; jb.b.first = b->first;
            jb.b.inv = (flags & HR_UNIT_ROWS) ? NULL : inv + na;
        }
        s = hr__run(&jb, a->c, a->nearest, b ? b->c : NULL, b ? b->nearest : NULL, 1);
    }
    HR_FREE(inv);
    return s;
}

HRDEF hr_status hr_difficulty_update(float *c, int32_t *nearest, const float *w,
                                     size_t n, size_t d, size_t ldw,
                                     const int32_t *changed, size_t nchanged,
                                     unsigned flags, size_t *recomputed)
{
    hr__job jb;
    double *inv;
    float *cn, *rv;
    int32_t *nn, *ri, *pick;
    unsigned char *mark;
    size_t i, nr = 0, bytes;
    int ok = 1;
    hr_status s = hr__check_w(w, n, d, ldw, flags);
    if (s != HR_OK) return s;
    if (n && (!c || !nearest)) return HR_EINVAL;
    if (nchanged && !changed) return HR_EINVAL;
    for (i = 0; i < nchanged; i++)
        if (changed[i] < 0 || (size_t)changed[i] >= n) return HR_EINVAL;
    for (i = 0; i < n; i++) /* a nearest hr_difficulty could have returned */
        if (nearest[i] < -1 || (nearest[i] >= 0 && (size_t)nearest[i] >= n) ||
            (size_t)nearest[i] == i)
            return HR_EINVAL;
    /* one allocation: scales; the new maxima of all rows (cn, nn) and of the
       rows recomputed (rv, ri); those rows (pick); marks */
    bytes = hr__mul(n, sizeof(double) + 2 * sizeof(float) + 3 * sizeof(int32_t) + 1, &ok);
    if (!ok) return HR_EOVERFLOW;
    if (n == 0) {
        if (recomputed) *recomputed = 0;
        return HR_OK;
    }
    if (!(inv = (double *)HR_MALLOC(bytes))) return HR_ENOMEM;
    cn = (float *)(inv + n);
    rv = cn + n;
    nn = (int32_t *)(rv + n);
    ri = nn + n;
    pick = ri + n;
    mark = (unsigned char *)(pick + n);
    /* the rows to recompute, ascending: changed ones, and those whose
       nearest changed or is unknown (-1 although other rows exist) */
    memset(mark, 0, n);
    for (i = 0; i < nchanged; i++) mark[changed[i]] = 1;
    for (i = 0; i < n; i++)
        if (mark[i] || (nearest[i] < 0 ? n > 1 : mark[nearest[i]])) pick[nr++] = (int32_t)i;
    if (2 * nr > n) { /* the rectangle would cost more than the triangle */
        HR_FREE(inv);
        s = hr_difficulty(c, nearest, w, n, d, ldw, flags);
        if (s == HR_OK && recomputed) *recomputed = n;
        return s;
    }
    memset(&jb, 0, sizeof jb);
    jb.K = hr__kernels_get();
    jb.d = d;
    s = hr__scales(inv, jb.K, w, n, d, ldw, flags);
    if (s == HR_OK && nr) {
        /* the picked rows against all of W (their own column masked): they
           get fresh maxima; every row's maximum meets the picked rows'
           cosines, which are all it can have gained */
        memcpy(cn, c, n * sizeof(float));
        memcpy(nn, nearest, n * sizeof(int32_t));
        for (i = 0; i < nr; i++) { cn[pick[i]] = -INFINITY; nn[pick[i]] = -1; }
        hr_maxima_reset(rv, ri, nr);
        jb.a.w = w; jb.a.n = nr; jb.a.ld = ldw; jb.a.pick = pick;
        jb.a.inv = (flags & HR_UNIT_ROWS) ? NULL : inv;
        jb.b = jb.a;
        jb.b.n = n; jb.b.pick = NULL;
        jb.self = 1;
        s = hr__run(&jb, rv, ri, cn, nn, 1);
        if (s == HR_OK) {
            for (i = 0; i < nr; i++)
                hr__fold_out(cn + pick[i], nn + pick[i], rv + i, ri + i, 1, 1);
            memcpy(c, cn, n * sizeof(float));
            memcpy(nearest, nn, n * sizeof(int32_t));
        }
    }
    if (s == HR_OK && recomputed) *recomputed = nr;
    HR_FREE(inv);
    return s;
}

/* >>gemm -----------------------------------------------------------------*/
/* BLIS's five loops around the Gram micro-kernel, which with ep == NULL is
   a plain mr x nr GEMM tile into a small buffer:
     jc (nc columns of C), pc (kc of k): the op(B) block packed into nr-wide
       panels, shared by the team (~2 MiB: L2/L3);
     ic (mc rows of C), per thread: the op(A) block packed into mr-row
       panels (L2);
     jr (nr columns), ir (mr rows): the micro-kernel, then the tile is
       scaled into C (beta on the first k block, accumulated after).
   Tasks are (row block, share of the column panels), so that a small m (an
   FC layer's batch) still feeds every thread. The split decides who
   computes a tile, never how: results are bitwise the same for any thread
   count. */

typedef struct hr__gemm_job {
    const hr__kernels *K;
    size_t m, n, k, mc, nc, kc;
    const float *a, *b;
    size_t ars, acs;  /* op(A)(i, p) = a[i*ars + p*acs]                    */
    size_t brs, bcs;  /* op(B)(p, j) = b[p*brs + j*bcs]                    */
    float alpha, beta;
    float *c;
    size_t ldc;
    int nt;           /* team size                                         */
    size_t bytes;     /* the allocation (hr__gemm_layout)                  */
    size_t bbytes, tbytes; /* its parts: the shared B block, a thread's    */
    float *bpack;     /* shared: one packed op(B) block                    */
} hr__gemm_job;

/* A planned GEMM's memory (hr__team_bytes of these two), counted and (m
   != NULL, aligned) carved: the team's shared B block, then a thread's A
   block and tile. The A block is sized for the unbalanced block (>= mc), so
   that the bytes never decrease with m. */
static size_t hr__gemm_b_layout(hr__gemm_job *g, char *m, int *ok)
{
    size_t off = 0;
    HR__CARVE(g->bpack, hr__mul(g->nc, g->kc, ok), float)
    return off;
}
static size_t hr__gemm_tw_layout(const hr__gemm_job *g, char *m, float **apack, float **t, int *ok)
{
    const size_t mr = (size_t)g->K->mr, nr = (size_t)g->K->nr;
    const size_t mc = g->m < g->K->mc ? hr__round_up(g->m, mr) : g->K->mc;
    size_t off = 0;
    HR__CARVE(*apack, hr__mul(mc, g->kc, ok), float)
    HR__CARVE(*t, mr * nr, float)
    return off;
}

/* Thread tid of nt (inside the parallel region; the barriers are the
   team's). apack and t are the thread's own. */
static void hr__gemm_worker(const hr__gemm_job *g, float *apack, float *t, int tid, int nt)
{
    const hr__kernels *K = g->K;
    const size_t mr = (size_t)K->mr, nr = (size_t)K->nr;
    const size_t nic = (g->m + g->mc - 1) / g->mc;
    size_t jc, pc, q;
    for (jc = 0; jc < g->n; jc += g->nc) {
        const size_t jn = g->n - jc < g->nc ? g->n - jc : g->nc;
        const size_t npan = (jn + nr - 1) / nr;
        const size_t njs = nic >= (size_t)nt ? 1 : ((size_t)nt + nic - 1) / nic < npan
                               ? ((size_t)nt + nic - 1) / nic : npan;
        const size_t ntask = nic * njs;
        /* A in place when its rows run along k and at most ua_panels column
           panels reuse each A block: packing would cost about what it saves */
        const int ua = g->acs == 1 && npan <= K->ua_panels;
        for (pc = 0; pc < g->k; pc += g->kc) {
            const size_t kb = g->k - pc < g->kc ? g->k - pc : g->kc;
            const float beta = pc ? 1.0f : g->beta; /* later k blocks accumulate */
            const size_t t0 = (size_t)tid * ntask / (size_t)nt;
            const size_t t1 = ((size_t)tid + 1) * ntask / (size_t)nt;
            size_t task, last_ic = (size_t)-1;
            /* each thread packs a contiguous run of panels: with a column
               split (njs == nt) exactly the panels it then computes */
            for (q = (size_t)tid * npan / (size_t)nt; q < ((size_t)tid + 1) * npan / (size_t)nt; q++) {
                const size_t j = q * nr, w = jn - j < nr ? jn - j : nr;
                K->pack(g->bpack + q * nr * kb, g->b + (jc + j) * g->bcs + pc * g->brs,
                        g->bcs, g->brs, w, kb, nr);
            }
#ifdef _OPENMP
#pragma omp barrier
#endif
            for (task = t0; task < t1; task++) {
                const size_t ic = task / njs * g->mc, js = task % njs;
                const size_t im = g->m - ic < g->mc ? g->m - ic : g->mc;
                const size_t q0 = js * npan / njs, q1 = (js + 1) * npan / njs;
                size_t ir;
                if (ic != last_ic && !ua) { /* consecutive tasks share a row block */
                    K->pack(apack, g->a + ic * g->ars + pc * g->acs, g->ars, g->acs,
                            im, kb, mr);
                    last_ic = ic;
                }
                for (q = q0; q < q1; q++) {
                    const size_t jr = q * nr, nn = jn - jr < nr ? jn - jr : nr;
                    for (ir = 0; ir < im; ir += mr) {
                        const float *bp = g->bpack + q * nr * kb;
                        if (!ua) {
                            K->gram(kb, apack + ir * kb, bp, t, 0, NULL);
                        } else if (im - ir >= mr) {
                            const float *rows[HR__MAX_TILE];
                            size_t r;
                            for (r = 0; r < mr; r++) rows[r] = g->a + (ic + ir + r) * g->ars + pc;
                            K->direct(1, kb, rows, NULL, &bp, t, nr, NULL, 0);
                        } else { /* a partial panel: pack just it */
                            K->pack(apack, g->a + (ic + ir) * g->ars + pc, g->ars, 1, im - ir,
                                    kb, mr);
                            K->gram(kb, apack, bp, t, 0, NULL);
                        }
                        K->tile(g->c + (ic + ir) * g->ldc + jc + jr, g->ldc, t, nr,
                                im - ir < mr ? im - ir : mr, nn, g->alpha, beta);
                    }
                }
            }
#ifdef _OPENMP
#pragma omp barrier /* the next block overwrites bpack */
#endif
        }
    }
}

/* Validate a call and plan it: blocking, team size, and the bytes of its
   one allocation (g->bytes; 0 when no packing is needed). Writes nothing. */
static hr_status hr__gemm_plan(hr__gemm_job *g, const hr__kernels *K, hr_trans ta,
                               hr_trans tb, size_t m,
                               size_t n, size_t k, float alpha, const float *a,
                               size_t lda, const float *b, size_t ldb, float beta,
                               float *c, size_t ldc)
{
    size_t mr, nr;
    int ok = 1;
    hr_status s;
    if ((ta != HR_NO_TRANS && ta != HR_TRANS) || (tb != HR_NO_TRANS && tb != HR_TRANS))
        return HR_EINVAL;
    if ((s = ta ? hr__check_matrix(a, k, m, lda) : hr__check_matrix(a, m, k, lda)) != HR_OK) return s;
    if ((s = tb ? hr__check_matrix(b, n, k, ldb) : hr__check_matrix(b, k, n, ldb)) != HR_OK) return s;
    if ((s = hr__check_matrix(c, m, n, ldc)) != HR_OK) return s;
    memset(g, 0, sizeof *g);
    g->K = K;
    g->m = m; g->n = n; g->k = k;
    g->a = a; g->b = b; g->c = c; g->ldc = ldc;
    g->alpha = alpha; g->beta = beta;
    g->ars = ta ? 1 : lda; g->acs = ta ? lda : 1;
    g->brs = tb ? 1 : ldb; g->bcs = tb ? ldb : 1;
    g->nt = 1;
    if (m == 0 || n == 0 || k == 0 || alpha == 0.0f) return HR_OK; /* no packing */
    mr = (size_t)g->K->mr;
    nr = (size_t)g->K->nr;
    g->kc = k < g->K->kc ? k : g->K->kc;
    g->mc = m < g->K->mc ? hr__round_up(m, mr) : g->K->mc;
    /* B block: gemm_nb floats packed (the ISA's L3 share), at least 512
       columns: every B block repacks all of A */
    g->nc = hr__round_up(g->K->gemm_nb / g->kc, nr);
    if (g->nc < 512) g->nc = 512;
    if (g->nc > hr__round_up(n, nr)) g->nc = hr__round_up(n, nr);
#ifdef _OPENMP
    g->nt = omp_get_max_threads();
    if ((double)m * (double)n * (double)k < 1e6 || g->nt < 1) g->nt = 1; /* not worth a team */
    if (g->nt > 1 && m > g->mc) { /* row blocks in a multiple of the team, of
                                     near-equal size (which rows a tile holds
                                     never changes a sum) */
        const size_t nb = (m + g->mc - 1) / g->mc, nt = (size_t)g->nt;
        const size_t nbal = (nb + nt - 1) / nt * nt;
        g->mc = hr__round_up((m + nbal - 1) / nbal, mr);
    }
#endif
    g->bbytes = hr__gemm_b_layout(g, NULL, &ok);
    g->tbytes = hr__gemm_tw_layout(g, NULL, NULL, NULL, &ok);
    g->bytes = hr__team_bytes(g->bbytes, g->tbytes, (size_t)g->nt, &ok);
    return ok ? HR_OK : HR_EOVERFLOW;
}

/* Run a planned call; mem: g->bytes bytes (unused when g->bytes == 0). */
static void hr__gemm_exec(const hr__gemm_job *g, void *mem)
{
    hr__gemm_job j = *g;
    char *base;
    size_t r, c;
    int ok = 1;
    if (!g->m || !g->n) return;
    if (!g->bytes) { /* k == 0 or alpha == 0: C = beta C, beta == 0 not read */
        for (r = 0; r < g->m; r++)
            for (c = 0; c < g->n; c++)
                g->c[r * g->ldc + c] = g->beta == 0.0f ? 0.0f : g->beta * g->c[r * g->ldc + c];
        return;
    }
    base = hr__align_up(mem);
    (void)hr__gemm_b_layout(&j, base, &ok);
#ifdef _OPENMP
#pragma omp parallel num_threads(g->nt)
    {
        int lok = 1;
        float *apack, *t;
        (void)hr__gemm_tw_layout(g, hr__team_part(base, g->bbytes, g->tbytes, (size_t)omp_get_thread_num()),
                                 &apack, &t, &lok);
        hr__gemm_worker(&j, apack, t, omp_get_thread_num(), omp_get_num_threads());
    }
#else
    {
        float *apack, *t;
        (void)hr__gemm_tw_layout(g, hr__team_part(base, g->bbytes, g->tbytes, 0), &apack, &t, &ok);
        hr__gemm_worker(&j, apack, t, 0, 1);
    }
#endif
}

HRDEF hr_status hr_gemm(hr_trans ta, hr_trans tb, size_t m, size_t n,
                        size_t k, float alpha, const float *a, size_t lda,
                        const float *b, size_t ldb, float beta, float *c,
                        size_t ldc)
{
    const hr__kernels *K = hr__kernels_get();
    hr__gemm_job g;
    void *mem = NULL;
    hr_status s = hr__gemm_plan(&g, K, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (s != HR_OK) return s;
    if (g.bytes && !(mem = HR_MALLOC(g.bytes))) return HR_ENOMEM;
    hr__gemm_exec(&g, mem);
    HR_FREE(mem);
    return HR_OK;
}

/* >>fc -------------------------------------------------------------------*/
/* Thin layers over hr_gemm: the shapes are checked here, once, so that a
   failure is reported before any output is written. */

static hr_status hr__fc_check(size_t batch, size_t in, size_t out)
{
    int ok = 1;
    hr__mul(hr__mul(batch, in, &ok), sizeof(float), &ok);
    hr__mul(hr__mul(batch, out, &ok), sizeof(float), &ok);
    hr__mul(hr__mul(out, in, &ok), sizeof(float), &ok);
    return ok ? HR_OK : HR_EOVERFLOW;
}

HRDEF hr_status hr_fc_forward(float *y, const float *x, const float *w,
                              const float *bias, size_t batch, size_t in,
                              size_t out)
{
    const hr__kernels *K = hr__kernels_get();
    hr__gemm_job g;
    void *mem = NULL;
    size_t b;
    hr_status s = hr__fc_check(batch, in, out);
    if (s != HR_OK) return s;
    /* y = x w^T, or with a bias: y = bias rows, then y += x w^T (beta 1) */
    s = hr__gemm_plan(&g, K, HR_NO_TRANS, HR_TRANS, batch, out, in, 1.0f, x, in, w, in,
                      bias ? 1.0f : 0.0f, y, out);
    if (s != HR_OK) return s;
    if (g.bytes && !(mem = HR_MALLOC(g.bytes))) return HR_ENOMEM;
    if (bias)
        for (b = 0; b < batch; b++) memcpy(y + b * out, bias, out * sizeof(float));
    hr__gemm_exec(&g, mem);
    HR_FREE(mem);
    return HR_OK;
}

HRDEF hr_status hr_fc_backward(float *dx, float *dw, float *dbias,
                               const float *dy, const float *x,
                               const float *w, size_t batch, size_t in,
                               size_t out)
{
    const hr__kernels *K = hr__kernels_get();
    hr__gemm_job gx, gw;
    void *mem = NULL;
    size_t b, o;
    hr_status s = hr__fc_check(batch, in, out);
    if (s != HR_OK) return s;
    if (dbias && batch && out && !dy) return HR_EINVAL;
    memset(&gx, 0, sizeof gx);
    memset(&gw, 0, sizeof gw);
    /* plan both products (every check) and allocate once, before writing */
    if (dx && (s = hr__gemm_plan(&gx, K, HR_NO_TRANS, HR_NO_TRANS, batch, in, out, 1.0f,
                                 dy, out, w, in, 1.0f, dx, in)) != HR_OK) return s;
    if (dw && (s = hr__gemm_plan(&gw, K, HR_TRANS, HR_NO_TRANS, out, in, batch, 1.0f,
                                 dy, out, x, in, 1.0f, dw, in)) != HR_OK) return s;
    b = gx.bytes > gw.bytes ? gx.bytes : gw.bytes;
    if (b && !(mem = HR_MALLOC(b))) return HR_ENOMEM;
    if (dx) hr__gemm_exec(&gx, mem);
    if (dw) hr__gemm_exec(&gw, mem);
    HR_FREE(mem);
    if (dbias)
        for (b = 0; b < batch; b++)
            for (o = 0; o < out; o++) dbias[o] += dy[b * out + o];
    return HR_OK;
}

/* >>conv -----------------------------------------------------------------*/
/* Direct convolution, by shape (see hr_conv2d): the forward and the
   stride-1 backward data (the forward of the rotated kernel) read x (dy)
   in place through the direct kernel, the strided backward data does the
   same by stride phases, the backward weight reads through the outer
   kernel, and depthwise runs its own register-blocked loops across
   channels. No call builds an im2col matrix or calls hr_gemm. Memory is
   allocated once up front, so an error leaves every output untouched;
   every cut of the work (tiles, chunks of pixels, rows) is fixed by the
   shape, and sums over pieces are added in a fixed order: results never
   depend on the thread count. */

typedef struct hr__conv {
    size_t n, h, w, ci, co, kh, kw, sh, sw, ph, pw, g; /* resolved defaults */
    size_t oh, ow, cig, cog, K, taps;  /* K = kh kw cig: one weight row     */
    size_t xsz, ysz, wsz;              /* tensor sizes in floats            */
    size_t rows;                       /* output pixels of the batch        */
    int depthwise;
    const hr__kernels *kern;           /* read once by the public call      */
} hr__conv;

static hr_status hr__conv_resolve(const hr_conv2d *cd, hr__conv *c)
{
    int ok = 1;
    size_t hp, wp;
    if (!cd) return HR_EINVAL;
    memset(c, 0, sizeof *c);
    c->n = cd->n; c->h = cd->h; c->w = cd->w; c->ci = cd->c_in; c->co = cd->c_out;
    c->kh = cd->kh ? cd->kh : 1;
    c->kw = cd->kw ? cd->kw : 1;
    c->sh = cd->stride_h ? cd->stride_h : 1;
    c->sw = cd->stride_w ? cd->stride_w : 1;
    c->ph = cd->pad_h;
    c->pw = cd->pad_w;
    c->g = cd->groups ? cd->groups : 1;
    if (!c->h || !c->w || !c->ci || !c->co || c->ci % c->g || c->co % c->g) return HR_EINVAL;
    hp = hr__add(c->h, hr__mul(2, c->ph, &ok), &ok);
    wp = hr__add(c->w, hr__mul(2, c->pw, &ok), &ok);
    if (!ok) return HR_EOVERFLOW;
    if (hp < c->kh || wp < c->kw) return HR_EINVAL;
    c->oh = (hp - c->kh) / c->sh + 1;
    c->ow = (wp - c->kw) / c->sw + 1;
    c->cig = c->ci / c->g;
    c->cog = c->co / c->g;
    c->taps = hr__mul(c->kh, c->kw, &ok);
    c->K = hr__mul(c->taps, c->cig, &ok);
    c->xsz = hr__mul(hr__mul(hr__mul(c->n, c->h, &ok), c->w, &ok), c->ci, &ok);
    c->ysz = hr__mul(hr__mul(hr__mul(c->n, c->oh, &ok), c->ow, &ok), c->co, &ok);
    c->wsz = hr__mul(c->co, c->K, &ok);
    hr__mul(hr__add(c->xsz, c->ysz, &ok), sizeof(float), &ok);
    hr__mul(c->wsz, sizeof(float), &ok);
    c->rows = hr__mul(hr__mul(c->n, c->oh, &ok), c->ow, &ok);
    if (!ok) return HR_EOVERFLOW;
    c->depthwise = c->g > 1 && c->cig == 1 && c->cog == 1;
    return HR_OK;
}

/* dbias's chunk sums added in chunk order, then into dbias (below). */
static void hr__dbias_add(const hr__conv *c, float *dbias, float *sums, size_t nch);

/* --- depthwise: direct, across channels ---------------------------------
   For an output row oy and a tap (ky, kx), the output pixels whose input
   pixel lies inside the image form one range [lo, hi), and their input
   pixels are evenly spaced (stride sw): one dw_axpy / dw_dot call covers
   the whole range. Per element the taps still come in (ky, kx) order. */

/* wt[t*C + ch] = w[ch*T + t]: taps outermost, channels contiguous */
static void hr__dw_transpose(float *wt, const float *w, size_t C, size_t T)
{
    size_t ch, t;
    for (ch = 0; ch < C; ch++)
        for (t = 0; t < T; t++) wt[t * C + ch] = w[ch * T + t];
}

/* Output columns [lo, hi) whose input column ox*sw + kx - pw is inside. */
static void hr__dw_cols(const hr__conv *c, size_t kx, size_t *lo, size_t *hi)
{
    size_t a = c->pw > kx ? (c->pw - kx + c->sw - 1) / c->sw : 0, b;
    b = c->w + c->pw > kx ? (c->w + c->pw - kx - 1) / c->sw + 1 : 0;
    *lo = a;
    *hi = b < c->ow ? b : c->ow;
}

/* Output rows [o0, o1) whose input row oy sh + ky - ph is inside. */
static void hr__dw_orows(const hr__conv *c, size_t ky, size_t *o0, size_t *o1)
{
    const size_t b = c->h + c->ph > ky ? (c->h + c->ph - ky + c->sh - 1) / c->sh : 0;
    *o0 = ky >= c->ph ? 0 : (c->ph - ky + c->sh - 1) / c->sh;
    *o1 = b < c->oh ? b : c->oh;
}

/* Along one axis: the kernel positions [lo, hi) whose input o s + kk - p
   lies inside [0, in) (lo >= hi: none). The padding classes (hr__conv_spans)
   and the depthwise row runs are built on it. */
static void hr__inside(size_t o, size_t s, size_t p, size_t k, size_t in, size_t *lo, size_t *hi)
{
    const size_t at = o * s, end = in + p > at ? in + p - at : 0;
    *lo = p > at ? p - at : 0;
    *hi = end < k ? end : k;
}

/* cols[2 kx], cols[2 kx + 1]: hr__dw_cols of every kx, once per call (a
   division each: per row it cost as much as a short row's products). */
static void hr__dw_cols_all(const hr__conv *c, size_t *cols)
{
    size_t kx;
    for (kx = 0; kx < c->kw; kx++) hr__dw_cols(c, kx, cols + 2 * kx, cols + 2 * kx + 1);
}

/* For output row (img, oy), each tap whose input row is inside, with
   lo_/hi_ its column range (from cols) and xo_ the input offset of column
   lo_. */
#define HR__DW_TAPS(c, cols, img, oy, BODY) do { \
    size_t ky_, kx_, lo_, hi_; \
    for (ky_ = 0; ky_ < (c)->kh; ky_++) { \
        const size_t iy_ = (oy) * (c)->sh + ky_; \
        if (iy_ < (c)->ph || iy_ - (c)->ph >= (c)->h) continue; \
        for (kx_ = 0; kx_ < (c)->kw; kx_++) { \
            const size_t t_ = ky_ * (c)->kw + kx_; \
            size_t xo_; \
            lo_ = (cols)[2 * kx_]; \
            hi_ = (cols)[2 * kx_ + 1]; \
            if (lo_ >= hi_) continue; \
            xo_ = (((img) * (c)->h + iy_ - (c)->ph) * (c)->w + lo_ * (c)->sw + kx_ - (c)->pw) * (c)->ci; \
            BODY \
        } \
    } \
} while (0)

/* y = dconv(x, w) + bias, or y += dconv(x, w) (acc, bias NULL), by output
   rows (in parallel: rows are independent): per row, the kernel rows ky
   inside the image, then the pixels whose taps are all inside in one
   dw_fwd call, and each edge pixel with its kx range cut to the inside
   (padded taps are skipped, not multiplied by zero). */
static hr_status hr__dw_forward(const hr__conv *c, float *y, const float *x, const float *w,
                                const float *bias, int acc)
{
    const hr__kernels *K = c->kern;
    const size_t C = c->ci, nrow = c->n * c->oh;
    /* interior pixels [oxa, oxb): ox sw >= pw and ox sw - pw + kw <= w */
    const size_t oxa = (c->pw + c->sw - 1) / c->sw;
    size_t oxb = c->w + c->pw >= c->kw ? (c->w + c->pw - c->kw) / c->sw + 1 : 0;
    int ok = 1, nt = 1;
    /* the transposed weights, then per thread 4 kh pointers: each kernel
       row's input row and weights, and the same at a run's first tap */
    const size_t wtb = hr__mul(hr__mul(c->taps, C, &ok), sizeof(float), &ok);
    const size_t pb = hr__mul(4 * c->kh, sizeof(float *), &ok);
    size_t bytes;
    float *wt;
    char *mem;
    long row;
    if (oxb > c->ow) oxb = c->ow;
    if (oxb < oxa) oxb = oxa;
#ifdef _OPENMP
    nt = omp_get_max_threads();
    if (nrow < 2 || c->ysz * c->taps < 65536 || nt < 1) nt = 1;
#endif
    bytes = hr__team_bytes(wtb, pb, (size_t)nt, &ok);
    if (!ok) return HR_EOVERFLOW;
    if (!(mem = (char *)HR_MALLOC(bytes))) return HR_ENOMEM;
    wt = (float *)(void *)hr__align_up(mem);
    hr__dw_transpose(wt, w, C, c->taps);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt)
#endif
    for (row = 0; row < (long)nrow; row++) {
        int tid = 0;
        const size_t img = (size_t)row / c->oh, oy = (size_t)row % c->oh;
        float *yr = y + (size_t)row * c->ow * C;
        const float **xs, **ws, **xo, **wo;
        size_t ky, nky = 0, ox, s;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        xs = (const float **)(void *)hr__team_part((char *)wt, wtb, pb, (size_t)tid);
        ws = xs + c->kh;
        xo = ws + c->kh;
        wo = xo + c->kh;
        for (ky = 0; ky < c->kh; ky++) {
            const size_t iy = oy * c->sh + ky;
            if (iy < c->ph || iy - c->ph >= c->h) continue;
            xs[nky] = x + (img * c->h + iy - c->ph) * c->w * C; /* input column 0 */
            ws[nky++] = wt + ky * c->kw * C;
        }
        for (ox = 0; ox < c->ow;) {
            /* the interior in one run, each edge pixel alone: a run shares one kx range */
            const size_t np = ox == oxa && oxb > oxa ? oxb - oxa : 1, ix = ox * c->sw;
            const size_t kx0 = ix < c->pw ? c->pw - ix : 0;
            const size_t lim = c->w + c->pw > ix ? c->w + c->pw - ix : 0;
            const size_t kx1 = lim < c->kw ? lim : c->kw;
            if (kx1 > kx0) {
                for (s = 0; s < nky; s++) {
                    xo[s] = xs[s] + (ix + kx0 - c->pw) * C;
                    wo[s] = ws[s] + kx0 * C;
                }
                K->dw_fwd(yr + ox * C, xo, wo, nky, kx1 - kx0, c->sw, C, np, bias, acc);
            } else { /* every tap outside */
                K->dw_fwd(yr + ox * C, xo, wo, 0, 0, c->sw, C, np, bias, acc);
            }
            ox += np;
        }
    }
    HR_FREE(mem);
    return HR_OK;
}

static hr_status hr__dw_backward_data(const hr__conv *c, float *dx, const float *dy,
                                      const float *w)
{
    const hr__kernels *K = c->kern;
    const size_t C = c->ci, wtf = hr__round_up(c->taps * C, 2);
    float *wt = (float *)HR_MALLOC(wtf * sizeof(float) + 2 * c->kw * sizeof(size_t));
    size_t *cols;
    long img;
    if (!wt) return HR_ENOMEM;
    cols = (size_t *)(void *)(wt + wtf);
    hr__dw_transpose(wt, w, C, c->taps);
    hr__dw_cols_all(c, cols);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (c->n > 1 && c->ysz * c->taps > 65536)
#endif
    for (img = 0; img < (long)c->n; img++) { /* windows overlap within an image only */
        size_t oy;
        for (oy = 0; oy < c->oh; oy++) {
            const float *g = dy + ((size_t)img * c->oh + oy) * c->ow * C;
            HR__DW_TAPS(c, cols, (size_t)img, oy,
                        K->dw_axpy(dx + xo_, c->sw * C, g + lo_ * C, C, wt + t_ * C, C, hi_ - lo_););
        }
    }
    HR_FREE(wt);
    return HR_OK;
}

/* dw += sum over pixels of dy x, one dw_dot per (output row, tap) across
   all channels. The batch is cut into at most 64 chunks of whole images (a
   cut fixed by n alone); each chunk sums its images into its own partial
   while they are in cache, in parallel, and the partials are added in
   chunk order: the same sums in the same order for any thread count. */
static hr_status hr__dw_backward_weight(const hr__conv *c, float *dw, float *dbias,
                                        const float *dy, const float *x)
{
    const hr__kernels *K = c->kern;
    const size_t C = c->ci, TC = c->taps * C;
    const size_t nch = c->n < 64 ? c->n : 64, per = (c->n + nch - 1) / nch;
    const size_t oxa = (c->pw + c->sw - 1) / c->sw; /* all 3 taps inside: [oxa, oxb) */
    const size_t oxb0 = c->w + c->pw >= c->kw ? (c->w + c->pw - c->kw) / c->sw + 1 : 0;
    const size_t oxb = oxb0 < c->ow ? oxb0 : c->ow;
    /* the partials, dbias's chunk sums, the column ranges */
    const size_t pf = hr__round_up(nch * TC + (dbias ? nch * C : 0), 2);
    float *part = (float *)HR_MALLOC(pf * sizeof(float) + 2 * c->kw * sizeof(size_t));
    float *dbs;
    size_t ch, t, q, *cols;
    long k;
    if (!part) return HR_ENOMEM;
    cols = (size_t *)(void *)(part + pf);
    dbs = part + nch * TC;
    hr__dw_cols_all(c, cols);
    memset(part, 0, nch * TC * sizeof(float));
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (nch > 1 && c->ysz * c->taps > 65536)
#endif
    for (k = 0; k < (long)nch; k++) {
        const size_t i0 = (size_t)k * per, i1 = i0 + per < c->n ? i0 + per : c->n;
        float *acc = part + (size_t)k * TC;
        size_t img, oy;
        if (dbias && i0 < i1) /* this chunk's column sums, as hr__conv_dbias's */
            K->colsum(dbs + (size_t)k * C, dy + i0 * c->oh * c->ow * C, C, C, (i1 - i0) * c->oh * c->ow);
        for (img = i0; img < i1; img++) {
            if (K->dw_bw3 && c->kw == 3 && oxb > oxa) {
                /* the edge columns tap by tap (dw_dot down a column), left
                   ones first; between them the interior, by runs of output
                   rows with the same inside kernel rows, up to 3 kernel
                   rows of 3 taps in registers a call. Each tap's chain:
                   its left column, the interior in row order, its right
                   column. */
                size_t ky, kx, ox, o0, o1, k0, k1, kk;
#define HR__DW_COL(ox, kx) if (o0 < o1) \
    K->dw_dot(acc + (ky * 3 + (kx)) * C, dy + ((img * c->oh + o0) * c->ow + (ox)) * C, c->ow * C, \
              x + ((img * c->h + o0 * c->sh + ky - c->ph) * c->w + (ox) * c->sw + (kx) - c->pw) * C, \
              c->sh * c->w * C, C, o1 - o0)
                for (ky = 0; ky < c->kh; ky++) {
                    hr__dw_orows(c, ky, &o0, &o1);
                    for (kx = 0; kx < 3; kx++)
                        for (ox = cols[2 * kx]; ox < oxa && ox < cols[2 * kx + 1]; ox++) HR__DW_COL(ox, kx);
                }
                for (o0 = 0; o0 < c->oh; o0 = o1) {
                    hr__inside(o0, c->sh, c->ph, c->kh, c->h, &k0, &k1);
                    for (o1 = o0 + 1; o1 < c->oh; o1++) {
                        hr__inside(o1, c->sh, c->ph, c->kh, c->h, &kk, &ky);
                        if (kk != k0 || ky != k1) break;
                    }
                    for (kk = k0; kk < k1; kk += 3)
                        K->dw_bw3(acc + kk * 3 * C, dy + ((img * c->oh + o0) * c->ow + oxa) * C, c->ow * C,
                                  x + ((img * c->h + o0 * c->sh + kk - c->ph) * c->w + oxa * c->sw - c->pw) * C,
                                  c->sw * C, c->w * C, c->sh * c->w * C, k1 - kk < 3 ? k1 - kk : 3, C,
                                  oxb - oxa, o1 - o0);
                }
                for (ky = 0; ky < c->kh; ky++) {
                    hr__dw_orows(c, ky, &o0, &o1);
                    for (kx = 0; kx < 3; kx++)
                        for (ox = cols[2 * kx] > oxb ? cols[2 * kx] : oxb; ox < cols[2 * kx + 1]; ox++)
                            HR__DW_COL(ox, kx);
                }
#undef HR__DW_COL
                continue;
            }
            for (oy = 0; oy < c->oh; oy++) {
                const float *g = dy + (img * c->oh + oy) * c->ow * C;
                HR__DW_TAPS(c, cols, img, oy,
                            K->dw_dot(acc + t_ * C, g + lo_ * C, C, x + xo_, c->sw * C, C,
                                      hi_ - lo_););
            }
        }
    }
    for (q = 1; q < nch; q++) /* chunk order */
        for (t = 0; t < TC; t++) part[t] += part[q * TC + t];
    for (ch = 0; ch < C; ch++)
        for (t = 0; t < c->taps; t++) dw[ch * c->taps + t] += part[t * C + ch];
    if (dbias) hr__dbias_add(c, dbias, dbs, nch);
    HR_FREE(part);
    return HR_OK;
}

/* --- the public calls ----------------------------------------------------*/

HRDEF hr_status hr_conv2d_out_size(const hr_conv2d *cd, size_t *oh, size_t *ow)
{
    hr__conv c;
    hr_status s = hr__conv_resolve(cd, &c);
    if (s != HR_OK) return s;
    if (oh) *oh = c.oh;
    if (ow) *ow = c.ow;
    return HR_OK;
}

/* --- direct convolution: im2col without the matrix ----------------------
   The output pixels fall in classes by which taps are inside the image:
   the rows oy whose inside kernel rows are the same [ky0, ky1) make a row
   span, likewise the columns, and a class is a row span x a column span
   (of a 3x3 pad-1 layer: the interior, four edges and four corners; of an
   unpadded layer: one class, all pixels). A tile is mr pixels of one class
   (in order image, oy, ox: a tile may span rows and images, so small
   images fill tiles too) x nr output channels of one group, and lists
   exactly its class's taps: no tap is multiplied by padding. For each tap
   (ky, kx) the direct kernel reads each pixel's cig input channels in
   place in x, through one pointer per pixel (at the class's first tap)
   and one offset per tap; rows past the class's last pixel repeat the
   last pixel and are not written. Weights are packed once per call into
   nr-column panels along k = (ky, kx, i), OHWI's own order. A pixel's sum starts at the
   bias (or at y, beta 1) and runs over its inside taps in order, so which
   tile or thread computes it never changes it. */

/* A run of output rows (or columns) [o0, o1) whose inside kernel rows
   (columns) are [k0, k1). */
typedef struct hr__span { size_t o0, o1, k0, k1; } hr__span;

/* The spans of one axis: outputs o < no at stride s, padding p, kernel k,
   input size in. Stores them to sp unless NULL; returns their count. */
static size_t hr__conv_spans(size_t no, size_t s, size_t p, size_t k, size_t in, hr__span *sp)
{
    size_t o, n = 0, k0 = 0, k1 = 0, lo, hi;
    for (o = 0; o < no; o++) {
        hr__inside(o, s, p, k, in, &lo, &hi);
        if (!o || lo != k0 || hi != k1) {
            if (sp) {
                sp[n].o0 = sp[n].o1 = o;
                sp[n].k0 = lo;
                sp[n].k1 = hi;
            }
            n++;
            k0 = lo;
            k1 = hi;
        }
        if (sp) sp[n - 1].o1 = o + 1;
    }
    return n;
}

/* The classes of a call: ny x nx spans, class cl = (cl / nx, cl % nx);
   its tiles are [first[cl], first[cl + 1]). */
typedef struct hr__conv_cls {
    size_t ny, nx;
    hr__span *sy, *sx;
    size_t *first;
} hr__conv_cls;

/* One thread's buffers in a call's allocation (after the packed weights
   and the zero row). */
typedef struct hr__conv_tw {
    float *t;               /* the mr x nr tile                            */
    const float **tab, **ag, **bp; /* row pointers: group 0's, group gi's;
                               the listed taps' weight panels             */
    size_t *tap, *pix;      /* the listed taps; the tile's output pixels   */
    ptrdiff_t *po, *to, t0; /* x offsets: of each pixel's window corner;
                               of each listed tap from the first; of the
                               first from the corner                      */
    size_t cl, ns;          /* the class whose taps tap and to hold, and
                               their count (cl = -1: none yet)             */
    size_t next, img, oy, ox; /* the pixel after the last tile (its place
                               in the class, and where it is)              */
} hr__conv_tw;

static size_t hr__conv_tw_layout(hr__conv_tw *tw, char *m, const hr__conv *c, size_t mr,
                                 size_t nr, int *ok)
{
    size_t off = 0;
    HR__CARVE(tw->t, mr * nr, float)
    HR__CARVE(tw->tab, hr__mul(c->taps, mr, ok), const float *)
    HR__CARVE(tw->ag, hr__mul(c->taps, mr, ok), const float *)
    HR__CARVE(tw->bp, c->taps, const float *)
    HR__CARVE(tw->tap, c->taps, size_t)
    HR__CARVE(tw->pix, mr, size_t)
    HR__CARVE(tw->po, mr, ptrdiff_t)
    HR__CARVE(tw->to, c->taps, ptrdiff_t)
    return off;
}

/* Tile `tile` of class cl: its mm pixels to tw->pix, row pointers for
   group 0 at the class's first tap to tw->tab (mr of them), its taps to
   tw->tap and their offsets from the first to tw->to; returns the tap
   count. */
static size_t hr__conv_rows(const hr__conv *c, const hr__conv_cls *k, size_t cl, size_t tile,
                            const float *x, size_t mr, size_t *mm, hr__conv_tw *tw)
{
    const hr__span *sy = &k->sy[cl / k->nx], *sx = &k->sx[cl % k->nx];
    const size_t ny = sy->o1 - sy->o0, nx = sx->o1 - sx->o0, e0 = (tile - k->first[cl]) * mr;
    const size_t all = c->n * ny * nx;
    const ptrdiff_t ci = (ptrdiff_t)c->ci, w = (ptrdiff_t)c->w;
    size_t img, oy, ox, r, s, ky, kx, ns = 0;
    *mm = all - e0 < mr ? all - e0 : mr;
    /* a thread's tiles come in order: the class's taps and the place of
       the next pixel carry over from the tile before (at 16 channels the
       per-tile work is a quarter of the time) */
    if (cl != tw->cl) {
        for (ky = sy->k0; ky < sy->k1; ky++)
            for (kx = sx->k0; kx < sx->k1; kx++) {
                tw->tap[ns] = ky * c->kw + kx;
                tw->to[ns++] = (((ptrdiff_t)ky - (ptrdiff_t)c->ph) * w + (ptrdiff_t)kx - (ptrdiff_t)c->pw) * ci;
            }
        /* the rows point at the first listed tap; the taps are offsets from it */
        tw->t0 = ns ? tw->to[0] : 0;
        for (s = 0; s < ns; s++) tw->to[s] -= tw->t0;
        tw->cl = cl;
        tw->ns = ns;
        tw->next = (size_t)-1;
    }
    ns = tw->ns;
    if (e0 == tw->next) {
        img = tw->img; oy = tw->oy; ox = tw->ox;
    } else {
        img = e0 / (ny * nx); oy = sy->o0 + e0 % (ny * nx) / nx; ox = sx->o0 + e0 % nx;
    }
    /* a pointer is the pixel's offset plus the tap's: one add an entry */
    for (r = 0; r < *mm; r++) {
        tw->pix[r] = (img * c->oh + oy) * c->ow + ox;
        tw->po[r] = ((ptrdiff_t)((img * c->h + oy * c->sh) * c->w) + (ptrdiff_t)(ox * c->sw)) * ci;
        if (++ox == sx->o1) {
            ox = sx->o0;
            if (++oy == sy->o1) { oy = sy->o0; img++; }
        }
    }
    tw->next = e0 + *mm;
    tw->img = img; tw->oy = oy; tw->ox = ox;
    /* a pixel's first listed tap is inside (>= 0); rows past mm repeat
       the last pixel (computed, not written) */
    for (r = 0; r < *mm; r++) tw->tab[r] = ns ? x + (tw->po[r] + tw->t0) : x;
    for (; r < mr; r++) tw->tab[r] = tw->tab[*mm - 1];
    return ns;
}

/* hr__conv_fwd's shared pieces: the weights packed in panels (pw = the
   panels' columns), the bias padded to them, the classes' spans and
   first tiles (k->ny, k->nx set). */
static size_t hr__conv_fwd_layout(char *m, const hr__conv *c, size_t pw, float **wp, float **bpad,
                                  hr__conv_cls *k, int *ok)
{
    size_t off = 0;
    HR__CARVE(*wp, hr__mul(hr__mul(c->g, pw, ok), c->K, ok), float)
    HR__CARVE(*bpad, hr__mul(c->g, pw, ok), float)
    HR__CARVE(k->sy, k->ny, hr__span)
    HR__CARVE(k->sx, k->nx, hr__span)
    HR__CARVE(k->first, hr__add(k->ny * k->nx, 1, ok), size_t)
    return off;
}

/* y = conv(x, w) + bias (beta 0), or y += conv(x, w) (beta 1, bias NULL),
   for a resolved, non-depthwise c. Allocates before it writes. */
static hr_status hr__conv_fwd(const hr__conv *c, float *y, const float *x, const float *w,
                              const float *bias, float beta)
{
    const hr__kernels *K = c->kern;
    const size_t mr = (size_t)K->mr, nr = (size_t)K->nr, Kt = c->K;
    const size_t npan = (c->cog + nr - 1) / nr;
    size_t shared, each, total, gi, j, ncl, cl, ntile = 0;
    int ok = 1, nt = 1;
    char *mem, *base;
    float *wp = NULL, *bpad = NULL;
    hr__conv_tw probe;
    hr__conv_cls k;
    k.ny = hr__conv_spans(c->oh, c->sh, c->ph, c->kh, c->h, NULL);
    k.nx = hr__conv_spans(c->ow, c->sw, c->pw, c->kw, c->w, NULL);
    ncl = k.ny * k.nx; /* <= oh ow */
    shared = hr__conv_fwd_layout(NULL, c, npan * nr, &wp, &bpad, &k, &ok);
    each = hr__conv_tw_layout(&probe, NULL, c, mr, nr, &ok);
#ifdef _OPENMP
    nt = omp_get_max_threads();
    if ((double)c->rows * (double)c->co * (double)Kt < 1e6 || nt < 1) nt = 1; /* not worth a team */
    if ((size_t)nt > c->rows / mr + ncl) nt = (int)(c->rows / mr + ncl); /* >= the tiles */
#endif
    total = hr__team_bytes(shared, each, (size_t)nt, &ok);
    if (!ok) return HR_EOVERFLOW;
    if (!(mem = (char *)HR_MALLOC(total))) return HR_ENOMEM;
    base = hr__align_up(mem);
    (void)hr__conv_fwd_layout(base, c, npan * nr, &wp, &bpad, &k, &ok);
    (void)hr__conv_spans(c->oh, c->sh, c->ph, c->kh, c->h, k.sy);
    (void)hr__conv_spans(c->ow, c->sw, c->pw, c->kw, c->w, k.sx);
    for (cl = 0; cl < ncl; cl++) {
        const hr__span *sy = &k.sy[cl / k.nx], *sx = &k.sx[cl % k.nx];
        k.first[cl] = ntile;
        ntile += (c->n * (sy->o1 - sy->o0) * (sx->o1 - sx->o0) + mr - 1) / mr;
    }
    k.first[ncl] = ntile;
    if (bias)
        for (gi = 0; gi < c->g; gi++)
            for (j = 0; j < npan * nr; j++)
                bpad[gi * npan * nr + j] = j < c->cog ? bias[gi * c->cog + j] : 0.0f;
    for (gi = 0; gi < c->g; gi++) /* panel (gi, q): wp[((gi npan + q) Kt + k) nr + j] */
        K->pack(wp + gi * npan * nr * Kt, w + gi * c->cog * Kt, Kt, 1, c->cog, Kt, nr);
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int tid = 0, team = 1, lok = 1;
        hr__conv_tw tw;
        size_t tile, t1, kl = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        (void)hr__conv_tw_layout(&tw, hr__team_part(base, shared, each, (size_t)tid), c, mr, nr, &lok);
        tw.cl = (size_t)-1;
        t1 = ((size_t)tid + 1) * ntile / (size_t)team;
        for (tile = (size_t)tid * ntile / (size_t)team; tile < t1; tile++) {
            size_t mm, g, q, s, r;
            while (tile >= k.first[kl + 1]) kl++;
            const size_t ns = hr__conv_rows(c, &k, kl, tile, x, mr, &mm, &tw);
            /* consecutive pixels (one class spans whole rows, or the tile
               stays in one output row) are written in place */
            const int inplace = mm == mr && tw.pix[mm - 1] - tw.pix[0] == mm - 1;
            for (g = 0; g < c->g; g++) {
                const float **ag = tw.tab;
                if (g) { /* the same pixels, the next group's channels */
                    for (r = 0; r < mr; r++) tw.ag[r] = tw.tab[r] + g * c->cig;
                    ag = tw.ag;
                }
                for (q = 0; q < npan; q++) {
                    const float *panel = wp + (g * npan + q) * Kt * nr;
                    const size_t nn = c->cog - q * nr < nr ? c->cog - q * nr : nr;
                    const size_t col = g * c->cog + q * nr;
                    const float *bq = bias ? bpad + (g * npan + q) * nr : NULL;
                    for (s = 0; s < ns; s++) tw.bp[s] = panel + tw.tap[s] * c->cig * nr;
                    /* sums start at the bias, or at y (beta 1) */
                    if (inplace && nn == nr) {
                        float *yt = y + tw.pix[0] * c->co + col;
                        K->direct(ns, c->cig, ag, tw.to, tw.bp, yt, c->co, bq ? bq : beta != 0.0f ? yt : NULL,
                                  bq ? 0 : c->co);
                        continue;
                    }
                    if (!bq && beta != 0.0f) { /* y's rows into the tile, then back */
                        if (mm < mr || nn < nr) memset(tw.t, 0, mr * nr * sizeof(float));
                        for (r = 0; r < mm; r++) memcpy(tw.t + r * nr, y + tw.pix[r] * c->co + col, nn * sizeof(float));
                        K->direct(ns, c->cig, ag, tw.to, tw.bp, tw.t, nr, tw.t, nr);
                    } else {
                        K->direct(ns, c->cig, ag, tw.to, tw.bp, tw.t, nr, bq, 0);
                    }
                    for (r = 0; r < mm; r++) memcpy(y + tw.pix[r] * c->co + col, tw.t + r * nr, nn * sizeof(float));
                }
            }
        }
    }
    HR_FREE(mem);
    return HR_OK;
}

/* --- backward weight: im2col without the matrix, the other way ---------
   dw[o][k'] += sum over pixels p of dy[p][o] col[p][k'], the pixels along
   the outer kernel's k. k' runs in segments whose inputs are contiguous in
   x: one kernel row ky (kw ci floats) when groups == 1, one tap (ky, kx)
   (cig floats) otherwise. A tile's rows are mr consecutive k' of a
   segment, its columns nr output channels of dy. The pixels are cut in
   chunks (about 512 KiB of x and dy, a cut fixed by the shape); within a
   chunk they are taken class by class (the forward's padding classes, in
   increasing pixel order within each), and a tile sums over a class only
   if some of its k' are inside the image for it: the pixels under a
   kernel row that is padding, and under taps a column span leaves out,
   are skipped, not multiplied by zeros. a[p] points at pixel p's run in
   place, or at a copy with zeros where some kx falls outside (the left and
   right edges; also a run within R floats of x's end, which the kernel
   reads past). dy's rows are read in place in the same order (a panel
   that would run past a pixel's row is copied, padded). Each chunk sums
   into its own partial, in parallel, and the partials are summed by the
   colsum kernel (4 chains in an order fixed by the chunk count): the same
   sums in the same order for any thread count. */

#define HR__BW_KB 128 /* pixels per outer-kernel call: 16 KiB of dy at nr = 32 */

typedef struct hr__bw {
    size_t nseg, L, R, rt, npan; /* segments, run length, run rounded to mr,
                                    row tiles per segment, column panels  */
    size_t per, nch, ptile;      /* pixels per chunk, chunks, floats of a
                                    chunk's partial                        */
    size_t slots;                /* run copies a thread may need at once   */
    size_t ny, nx;               /* row and column spans: classes ny nx    */
} hr__bw;

/* The call's spans and each output row's and column's span index. */
typedef struct hr__bw_cls {
    hr__span *sy, *sx;
    size_t *ry, *rx;
} hr__bw_cls;

/* One thread's buffers. */
typedef struct hr__bw_tw {
    float *dyp, *slot;   /* a chunk's dy of a panel past its group's end,
                            packed in class order; run copies              */
    const float **a;     /* a class's runs                                  */
    const float **dr;    /* the chunk's dy rows (of group g) in class order */
    const float **pk;    /* pk[e] = dyp + e nr                              */
    size_t *pl, *start;  /* the chunk's pixels in class order; class cl's
                            are pl[start[cl] .. start[cl + 1])              */
    ptrdiff_t *xo;       /* pl[e]'s input offset: of (oy sh - ph, ox sw - pw) */
    unsigned char *seen; /* a segment's row tiles written this chunk        */
} hr__bw_tw;

/* a[e] for the np pixels of one class from tw's place e0, segment seg of
   group gi, every one with its kernel row inside (and, grouped, its tap);
   `whole`: the class has every kx of a kernel row inside. Copies go to
   tw->slot (R floats each). */
static void hr__bw_runs(const hr__conv *c, const hr__bw *b, const float *x, hr__bw_tw *tw,
                        size_t e0, size_t np, size_t gi, size_t seg, int whole)
{
    const size_t ky = c->g == 1 ? seg : seg / c->kw, kx0 = c->g == 1 ? 0 : seg % c->kw;
    const size_t nkx = c->g == 1 ? c->kw : 1, cl = c->g == 1 ? c->ci : c->cig;
    const ptrdiff_t rel = (ptrdiff_t)((ky * c->w + kx0) * c->ci + (c->g == 1 ? 0 : gi * c->cig));
    size_t p, kx, used = 0;
    for (p = 0; p < np; p++) {
        const ptrdiff_t at = tw->xo[e0 + p] + rel; /* the run's first float in x */
        if (whole && at + (ptrdiff_t)b->R <= (ptrdiff_t)c->xsz) {
            tw->a[p] = x + at;
        } else { /* a copy: zeros outside, and past the run up to R */
            const ptrdiff_t ix0 = (ptrdiff_t)((tw->pl[e0 + p] % c->ow) * c->sw + kx0) - (ptrdiff_t)c->pw;
            float *d = tw->slot + used++ * b->R;
            HR_ASSERT(used <= b->slots);
            for (kx = 0; kx < nkx; kx++) {
                const ptrdiff_t ix = ix0 + (ptrdiff_t)kx;
                if (ix < 0 || ix >= (ptrdiff_t)c->w) memset(d + kx * cl, 0, cl * sizeof(float));
                else memcpy(d + kx * cl, x + at + (ptrdiff_t)(kx * c->ci), cl * sizeof(float));
            }
            memset(d + b->L, 0, (b->R - b->L) * sizeof(float));
            tw->a[p] = d;
        }
    }
}

static size_t hr__bw_tw_layout(hr__bw_tw *tw, char *m, const hr__bw *b, size_t nr, int *ok)
{
    size_t off = 0;
    /* dy's copied panel; after the chunks, a tile's sums (R >= mr rows) */
    HR__CARVE(tw->dyp, hr__mul(b->per > b->R ? b->per : b->R, nr, ok), float)
    HR__CARVE(tw->dr, b->per, const float *)
    HR__CARVE(tw->pk, b->per, const float *)
    HR__CARVE(tw->slot, hr__mul(b->slots, b->R, ok), float)
    HR__CARVE(tw->a, b->per, const float *)
    HR__CARVE(tw->pl, b->per, size_t)
    HR__CARVE(tw->xo, b->per, ptrdiff_t)
    HR__CARVE(tw->start, hr__add(hr__mul(b->ny, b->nx, ok), 1, ok), size_t)
    HR__CARVE(tw->seen, b->rt, unsigned char)
    return off;
}

/* hr__conv_bwd_w's shared pieces: the spans and each output row's and
   column's span index, the chunks' partials, dbias's chunk sums (db). */
static size_t hr__bw_layout(char *m, const hr__conv *c, const hr__bw *b, int db, hr__bw_cls *k,
                            float **part, float **dbs, int *ok)
{
    size_t off = 0;
    HR__CARVE(k->sy, b->ny, hr__span)
    HR__CARVE(k->sx, b->nx, hr__span)
    HR__CARVE(k->ry, c->oh, size_t)
    HR__CARVE(k->rx, c->ow, size_t)
    HR__CARVE(*part, hr__mul(b->nch, b->ptile, ok), float)
    HR__CARVE(*dbs, db ? hr__mul(b->nch, c->co, ok) : 0, float)
    return off;
}

/* The np pixels from p0 by class: tw->pl, tw->xo, tw->start (a counting
   sort, class cl = its row span ny + its column span). */
static void hr__bw_order(const hr__conv *c, const hr__bw *b, const hr__bw_cls *k, size_t p0,
                         size_t np, hr__bw_tw *tw)
{
    const size_t ncl = b->ny * b->nx, hw = c->oh * c->ow;
    size_t p, cl, sum = 0, img, oy, ox;
    for (cl = 0; cl <= ncl; cl++) tw->start[cl] = 0;
    for (p = p0, oy = p0 % hw / c->ow, ox = p0 % c->ow; p < p0 + np; p++) {
        tw->start[k->ry[oy] * b->nx + k->rx[ox] + 1]++;
        if (++ox == c->ow) {
            ox = 0;
            if (++oy == c->oh) oy = 0;
        }
    }
    for (cl = 0; cl < ncl; cl++) { /* start[cl + 1] becomes class cl's next place */
        const size_t n = tw->start[cl + 1];
        tw->start[cl + 1] = sum;
        sum += n;
    }
    img = p0 / hw; oy = p0 % hw / c->ow; ox = p0 % c->ow;
    for (p = p0; p < p0 + np; p++) {
        const size_t e = tw->start[k->ry[oy] * b->nx + k->rx[ox] + 1]++;
        tw->pl[e] = p;
        tw->xo[e] = ((ptrdiff_t)((img * c->h + oy * c->sh) * c->w + ox * c->sw) -
                     (ptrdiff_t)(c->ph * c->w + c->pw)) * (ptrdiff_t)c->ci;
        if (++ox == c->ow) {
            ox = 0;
            if (++oy == c->oh) { oy = 0; img++; }
        }
    }
}

/* Whether rows [r0, r0 + mr) of a segment have a kx inside column span sx:
   with groups 1 a segment is a kernel row (kw runs of ci), and the rows
   under kx outside are skipped; a grouped segment is one tap, checked by
   the caller. */
static int hr__bw_rows_in(const hr__conv *c, const hr__bw *b, const hr__span *sx, size_t r0)
{
    const size_t mr = (size_t)c->kern->mr, hi = r0 + mr < b->L ? r0 + mr : b->L;
    return c->g > 1 || (r0 / c->ci < sx->k1 && (hi - 1) / c->ci >= sx->k0);
}

/* The backward weight's plan: segments, tiles, and the cut of the pixels
   into chunks (also dbias's cut, so that its sums are the same whether or
   not dw is asked for). 0 on overflow. */
static int hr__bw_plan(const hr__conv *c, hr__bw *bp)
{
    const size_t mr = (size_t)c->kern->mr, nr = (size_t)c->kern->nr, P = c->rows;
    hr__bw b;
    size_t ox, ecols = 0;
    int ok = 1;
    memset(&b, 0, sizeof b);
    b.nseg = c->g == 1 ? c->kh : c->taps;
    b.L = c->g == 1 ? hr__mul(c->kw, c->ci, &ok) : c->cig;
    b.R = hr__round_up(b.L, mr);
    b.rt = b.R / mr;
    b.npan = (c->cog + nr - 1) / nr;
    b.ptile = hr__mul(hr__mul(hr__mul(c->g, b.nseg, &ok), hr__mul(b.rt, b.npan, &ok), &ok),
                      mr * nr, &ok);
    if (!ok) return 0;
    b.per = ((size_t)1 << 17) / (c->ci + c->co); /* ~512 KiB of x and dy */
    if (b.per < 64) b.per = 64;
    if (b.per > P) b.per = P;
    b.nch = (P + b.per - 1) / b.per;
    while (b.nch > 1 && (double)b.nch * (double)b.ptile > (double)((size_t)1 << 23)) {
        b.per *= 2; /* partials within 32 MiB */
        b.nch = (P + b.per - 1) / b.per;
    }
    if (c->g == 1)
        for (ox = 0; ox < c->ow; ox++) {
            const ptrdiff_t ix0 = (ptrdiff_t)(ox * c->sw) - (ptrdiff_t)c->pw;
            ecols += ix0 < 0 || ix0 + (ptrdiff_t)c->kw > (ptrdiff_t)c->w;
        }
    /* edge pixels of the rows a chunk touches, and the runs near x's end */
    b.slots = (b.per / c->ow + 2) * ecols;
    if (b.slots > b.per) b.slots = b.per;
    b.slots += b.R / c->ci + 2;
    b.ny = hr__conv_spans(c->oh, c->sh, c->ph, c->kh, c->h, NULL);
    b.nx = hr__conv_spans(c->ow, c->sw, c->pw, c->kw, c->w, NULL);
    *bp = b;
    return 1;
}

/* dbias's cut of the pixels: the weight pass's chunks (depthwise: whole
   images, at most 64 chunks). */
static size_t hr__dbias_per(const hr__conv *c)
{
    hr__bw b;
    if (c->depthwise) {
        const size_t nch = c->n < 64 ? c->n : 64;
        return (c->n + nch - 1) / nch * c->oh * c->ow;
    }
    return hr__bw_plan(c, &b) ? b.per : c->rows;
}

/* dbias += the column sums of dy: per chunk of pixels (hr__dbias_per) a
   sum from zero by the ISA's colsum (four chains of rows per column, the
   same bits on every path), the chunk sums added in chunk order, then
   added to dbias.
   Without allocating: 64 columns at a time on the stack. The weight
   passes compute the same chunk sums while dy is in cache (hr__dbias_add
   adds them), so dbias's bits do not depend on whether dw is asked for. */
#define HR__DB_BLOCK 64
static void hr__conv_dbias(const hr__conv *c, float *dbias, const float *dy)
{
    const size_t per = hr__dbias_per(c);
    float acc[HR__DB_BLOCK], tot[HR__DB_BLOCK];
    size_t o0, j, p0;
    for (o0 = 0; o0 < c->co; o0 += HR__DB_BLOCK) {
        const size_t nb = c->co - o0 < HR__DB_BLOCK ? c->co - o0 : HR__DB_BLOCK;
        for (p0 = 0; p0 < c->rows; p0 += per) {
            const size_t np = c->rows - p0 < per ? c->rows - p0 : per;
            c->kern->colsum(acc, dy + p0 * c->co + o0, c->co, nb, np);
            for (j = 0; j < nb; j++) tot[j] = p0 ? tot[j] + acc[j] : acc[j];
        }
        for (j = 0; j < nb; j++) dbias[o0 + j] += tot[j];
    }
}

/* The weight passes' side of dbias: sums[ch*co + o] of each of the nch
   chunks (computed as hr__conv_dbias does) added in chunk order. */
static void hr__dbias_add(const hr__conv *c, float *dbias, float *sums, size_t nch)
{
    size_t q, o;
    for (q = 1; q < nch; q++)
        for (o = 0; o < c->co; o++) sums[o] += sums[q * c->co + o];
    for (o = 0; o < c->co; o++) dbias[o] += sums[o];
}

/* dw += the weight gradient of a resolved, non-depthwise c; dbias (may be
   NULL) += the column sums of dy, from the same chunks. */
static hr_status hr__conv_bwd_w(const hr__conv *c, float *dw, float *dbias, const float *dy,
                                const float *x)
{
    const hr__kernels *K = c->kern;
    const size_t mr = (size_t)K->mr, nr = (size_t)K->nr, P = c->rows;
    hr__bw b;
    hr__bw_cls k;
    size_t shared, each, total, ntl, t, r;
    int ok = 1, nt = 1;
    char *mem, *base;
    float *part = NULL, *dbs = NULL;
    if (!hr__bw_plan(c, &b)) return HR_EOVERFLOW;
    ntl = c->g * b.nseg * b.rt * b.npan; /* tiles of dw: ptile = ntl mr nr */
    shared = hr__bw_layout(NULL, c, &b, dbias != NULL, &k, &part, &dbs, &ok);
    each = hr__bw_tw_layout(NULL, NULL, &b, nr, &ok);
#ifdef _OPENMP
    nt = omp_get_max_threads();
    if ((double)P * (double)c->co * (double)c->K < 1e6 || nt < 1) nt = 1;
    if ((size_t)nt > b.nch) nt = (int)b.nch;
#endif
    total = hr__team_bytes(shared, each, (size_t)nt, &ok);
    if (!ok) return HR_EOVERFLOW;
    if (!(mem = (char *)HR_MALLOC(total))) return HR_ENOMEM;
    base = hr__align_up(mem);
    (void)hr__bw_layout(base, c, &b, dbias != NULL, &k, &part, &dbs, &ok);
    (void)hr__conv_spans(c->oh, c->sh, c->ph, c->kh, c->h, k.sy);
    (void)hr__conv_spans(c->ow, c->sw, c->pw, c->kw, c->w, k.sx);
    for (t = 0; t < b.ny; t++)
        for (r = k.sy[t].o0; r < k.sy[t].o1; r++) k.ry[r] = t;
    for (t = 0; t < b.nx; t++)
        for (r = k.sx[t].o0; r < k.sx[t].o1; r++) k.rx[r] = t;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int tid = 0, team = 1, lok = 1;
        hr__bw_tw tw;
        size_t ch, c1, tq;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        (void)hr__bw_tw_layout(&tw, hr__team_part(base, shared, each, (size_t)tid), &b, nr, &lok);
        for (tq = 0; tq < b.per; tq++) tw.pk[tq] = tw.dyp + tq * nr;
        c1 = ((size_t)tid + 1) * b.nch / (size_t)team;
        for (ch = (size_t)tid * b.nch / (size_t)team; ch < c1; ch++) {
            const size_t p0 = ch * b.per, np = P - p0 < b.per ? P - p0 : b.per;
            float *pt = part + ch * b.ptile;
            size_t g, sg, rr, qq, p, jj, k0, cl;
            if (dbias) { /* this chunk's column sums, as hr__conv_dbias's */
                K->colsum(dbs + ch * c->co, dy + p0 * c->co, c->co, c->co, np);
            }
            hr__bw_order(c, &b, &k, p0, np, &tw);
            for (g = 0; g < c->g; g++) {
                /* dy is read in place, but for a last panel whose nr
                   columns would run past a pixel's row: that one is copied
                   (zeros past the group's columns) */
                const size_t qpk = g * c->cog + b.npan * nr > c->co ? b.npan - 1 : b.npan;
                for (p = 0; p < np; p++) tw.dr[p] = dy + tw.pl[p] * c->co + g * c->cog;
                if (qpk < b.npan) {
                    const size_t nn = c->cog - qpk * nr;
                    for (p = 0; p < np; p++) {
                        float *d = tw.dyp + p * nr;
                        memcpy(d, tw.dr[p] + qpk * nr, nn * sizeof(float));
                        for (jj = nn; jj < nr; jj++) d[jj] = 0.0f;
                    }
                }
                for (sg = 0; sg < b.nseg; sg++) {
                    const size_t ky = c->g == 1 ? sg : sg / c->kw;
                    float *ts = pt + (g * b.nseg + sg) * b.rt * b.npan * mr * nr;
                    memset(tw.seen, 0, b.rt);
                    for (cl = 0; cl < b.ny * b.nx; cl++) {
                        const hr__span *sy = &k.sy[cl / b.nx], *sx = &k.sx[cl % b.nx];
                        const size_t e0 = tw.start[cl], ne = tw.start[cl + 1] - e0;
                        if (!ne || ky < sy->k0 || ky >= sy->k1) continue; /* kernel row outside */
                        if (c->g > 1 && (sg % c->kw < sx->k0 || sg % c->kw >= sx->k1)) continue;
                        hr__bw_runs(c, &b, x, &tw, e0, ne, g, sg,
                                    c->g > 1 || (sx->k0 == 0 && sx->k1 == c->kw));
                        /* a panel's piece of dy stays in L1 across the row tiles */
                        for (k0 = 0; k0 < ne; k0 += HR__BW_KB) {
                            const size_t kc = ne - k0 < HR__BW_KB ? ne - k0 : HR__BW_KB;
                            for (qq = 0; qq < b.npan; qq++)
                                for (rr = 0; rr < b.rt; rr++) {
                                    float *tl = ts + (rr * b.npan + qq) * mr * nr;
                                    if (!hr__bw_rows_in(c, &b, sx, rr * mr)) continue;
                                    if (qq < qpk)
                                        K->outer(kc, tw.a + k0, rr * mr, tw.dr + e0 + k0, qq * nr, tl, nr,
                                                 tw.seen[rr] ? tl : NULL, nr);
                                    else
                                        K->outer(kc, tw.a + k0, rr * mr, tw.pk + e0 + k0, 0, tl, nr,
                                                 tw.seen[rr] ? tl : NULL, nr);
                                }
                            for (rr = 0; rr < b.rt; rr++)
                                if (hr__bw_rows_in(c, &b, sx, rr * mr)) tw.seen[rr] = 1;
                        }
                    }
                    for (rr = 0; rr < b.rt; rr++) /* no pixel of the chunk reached these */
                        if (!tw.seen[rr]) memset(ts + rr * b.npan * mr * nr, 0, b.npan * mr * nr * sizeof(float));
                }
            }
        }
        /* every tile's chunk partials summed (colsum: an order fixed by the
           chunk count, the same bits on every path), then into dw: the
           tiles shared out among the threads */
#ifdef _OPENMP
#pragma omp barrier
#endif
        for (tq = (size_t)tid * ntl / (size_t)team; tq < ((size_t)tid + 1) * ntl / (size_t)team; tq++) {
            /* tile tq = ((gi nseg + seg) rt + rt) npan + qq */
            const size_t qq = tq % b.npan, rt = tq / b.npan % b.rt, seg = tq / b.npan / b.rt % b.nseg;
            const size_t gi = tq / b.npan / b.rt / b.nseg;
            float *sums = tw.dyp;
            size_t rr, jj;
            K->colsum(sums, part + tq * mr * nr, b.ptile, mr * nr, b.nch);
            for (rr = 0; rr < mr && rt * mr + rr < b.L; rr++)
                for (jj = 0; jj < nr && qq * nr + jj < c->cog; jj++)
                    dw[(gi * c->cog + qq * nr + jj) * c->K + seg * b.L + rt * mr + rr] += sums[rr * nr + jj];
        }
    }
    if (dbias) hr__dbias_add(c, dbias, dbs, b.nch);
    HR_FREE(mem);
    return HR_OK;
}

/* The call's kernel table (read once): the ISA's wide one when the tile's
   cols columns are a multiple of its nr, its narrow one when they would
   fill at most half of nr, else the ISA's. Depthwise runs across channels
   and keeps the ISA's. */
static const hr__kernels *hr__conv_kern(const hr__conv *c, size_t cols)
{
    const hr__kernels *k = hr__kernels_get();
    if (c->depthwise) return k;
    if (k->wide && cols % (size_t)k->wide->nr == 0) return k->wide;
    return k->narrow && 2 * cols <= (size_t)k->nr ? k->narrow : k;
}

HRDEF hr_status hr_conv2d_forward(const hr_conv2d *cd, float *y, const float *x,
                                  const float *w, const float *bias)
{
    hr__conv c;
    hr_status s = hr__conv_resolve(cd, &c);
    if (s != HR_OK) return s;
    c.kern = hr__conv_kern(&c, c.cog);
    if (!w || (c.n && (!y || !x))) return HR_EINVAL;
    if (!c.n) return HR_OK;
    if (c.depthwise) return hr__dw_forward(&c, y, x, w, bias, 0);
    return hr__conv_fwd(&c, y, x, w, bias, 0.0f);
}

/* Backward data of a stride-1 convolution as a forward one: dx += conv(dy,
   w') with w' the kernel rotated 180 degrees and each group's in and out
   channels swapped, padding kh - 1 - ph: the efficient forward GEMM (a
   cog-deep im2col row per pixel) instead of a GEMM only cog deep plus a
   scatter-add of its kh kw cig wide output. */
static hr_status hr__conv_bwd_data_flipped(const hr__conv *c, float *dx, const float *dy,
                                           const float *w)
{
    hr__conv f;
    hr_conv2d d;
    float *wf;
    size_t gi, o, i, ky, kx;
    hr_status s;
    memset(&d, 0, sizeof d);
    d.n = c->n; d.h = c->oh; d.w = c->ow; d.c_in = c->co; d.c_out = c->ci;
    d.kh = c->kh; d.kw = c->kw; d.pad_h = c->kh - 1 - c->ph; d.pad_w = c->kw - 1 - c->pw;
    d.groups = c->g;
    if ((s = hr__conv_resolve(&d, &f)) != HR_OK) return s;
    f.kern = c->kern;
    HR_ASSERT(f.oh == c->h && f.ow == c->w);
    if (!(wf = (float *)HR_MALLOC(c->wsz * sizeof(float)))) return HR_ENOMEM;
    /* wf[g][i][ky'][kx'][o] = w[g][o][kh-1-ky'][kw-1-kx'][i] */
    for (gi = 0; gi < c->g; gi++)
        for (o = 0; o < c->cog; o++)
            for (ky = 0; ky < c->kh; ky++)
                for (kx = 0; kx < c->kw; kx++)
                    for (i = 0; i < c->cig; i++)
                        wf[(((gi * c->cig + i) * c->kh + (c->kh - 1 - ky)) * c->kw +
                            (c->kw - 1 - kx)) * c->cog + o] =
                            w[(((gi * c->cog + o) * c->kh + ky) * c->kw + kx) * c->cig + i];
    s = f.depthwise ? hr__dw_forward(&f, dx, dy, wf, NULL, 1) : hr__conv_fwd(&f, dx, dy, wf, NULL, 1.0f);
    HR_FREE(wf);
    return s;
}

/* Phase ph = py sw + px of a stride: its first dx row / column (the
   smallest iy with (iy + ph) mod sh == py) and its row / column counts. */
#define HR__PH_Y0(c, f) (((f) / (c)->sw + (c)->sh - (c)->ph % (c)->sh) % (c)->sh)
#define HR__PH_X0(c, f) (((f) % (c)->sw + (c)->sw - (c)->pw % (c)->sw) % (c)->sw)
#define HR__PH_NY(c, f) (HR__PH_Y0(c, f) < (c)->h ? ((c)->h - 1 - HR__PH_Y0(c, f)) / (c)->sh + 1 : 0)
#define HR__PH_NX(c, f) (HR__PH_X0(c, f) < (c)->w ? ((c)->w - 1 - HR__PH_X0(c, f)) / (c)->sw + 1 : 0)

/* hr__conv_bwd_data_phases's shared pieces: the transposed weights
   packed in panels (pw = the panels' columns), a zero row of dy, the
   phases' first tiles. */
static size_t hr__conv_phases_layout(char *m, const hr__conv *c, size_t pw, size_t nph, float **wp,
                                     float **zero, size_t **first, int *ok)
{
    size_t off = 0;
    HR__CARVE(*wp, hr__mul(hr__mul(c->g, pw, ok), hr__mul(c->taps, c->cog, ok), ok), float)
    HR__CARVE(*zero, c->co, float)
    HR__CARVE(*first, hr__add(nph, 1, ok), size_t)
    return off;
}

/* Backward data at any stride, by phases: dx += conv^T(dy, w). The dx
   pixels with one phase ((iy + ph) mod sh, (ix + pw) mod sw) receive from
   one set of taps (ky = that phase mod sh, kx likewise): a tile is mr
   consecutive pixels of one phase's subgrid (image-major), its taps the
   phase's, each row pointer the dy pixel a tap maps that dx pixel from (or
   zeros), and the weights are packed transposed (k = (tap, o), columns the
   group's input channels). Each dx pixel lies in one tile: added to by one
   thread, once, in tap order. */
static hr_status hr__conv_bwd_data_phases(const hr__conv *c, float *dx, const float *dy,
                                          const float *w)
{
    const hr__kernels *K = c->kern;
    const size_t mr = (size_t)K->mr, nr = (size_t)K->nr, Kt = c->taps * c->cog;
    const size_t npan = (c->cig + nr - 1) / nr;
    size_t nph, shared, each, total, ntile = 0, ph, g, q, t, o, j;
    size_t *first = NULL; /* phase ph's tiles: [first[ph], first[ph + 1]) */
    int ok = 1, nt = 1;
    char *mem, *base;
    float *wp = NULL, *zero = NULL;
    hr__conv_tw probe;
    nph = hr__mul(c->sh, c->sw, &ok);
    shared = hr__conv_phases_layout(NULL, c, npan * nr, nph, &wp, &zero, &first, &ok);
    each = hr__conv_tw_layout(&probe, NULL, c, mr, nr, &ok);
#ifdef _OPENMP
    nt = omp_get_max_threads();
    if ((double)c->rows * (double)c->co * (double)c->K < 1e6 || nt < 1) nt = 1;
#endif
    total = hr__team_bytes(shared, each, (size_t)nt, &ok);
    if (!ok) return HR_EOVERFLOW;
    if (!(mem = (char *)HR_MALLOC(total))) return HR_ENOMEM;
    base = hr__align_up(mem);
    (void)hr__conv_phases_layout(base, c, npan * nr, nph, &wp, &zero, &first, &ok);
    memset(zero, 0, c->co * sizeof(float));
    for (ph = 0; ph < nph; ph++) {
        first[ph] = ntile;
        ntile += (c->n * HR__PH_NY(c, ph) * HR__PH_NX(c, ph) + mr - 1) / mr;
    }
    first[nph] = ntile;
    /* panel (g, q): wp[((g npan + q) Kt + t cog + o) nr + j] = w[g cog + o][t][q nr + j] */
    for (g = 0; g < c->g; g++)
        for (q = 0; q < npan; q++)
            for (t = 0; t < c->taps; t++)
                for (o = 0; o < c->cog; o++) {
                    float *d = wp + ((g * npan + q) * Kt + t * c->cog + o) * nr;
                    const float *src = w + (g * c->cog + o) * c->K + t * c->cig + q * nr;
                    for (j = 0; j < nr; j++) d[j] = q * nr + j < c->cig ? src[j] : 0.0f;
                }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int tid = 0, team = 1, lok = 1;
        hr__conv_tw tw;
        size_t tile, t1, phs = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        (void)hr__conv_tw_layout(&tw, hr__team_part(base, shared, each, (size_t)tid), c, mr, nr, &lok);
        t1 = ((size_t)tid + 1) * ntile / (size_t)team;
        for (tile = (size_t)tid * ntile / (size_t)team; tile < t1; tile++) {
            size_t img[HR__MAX_TILE], ry[HR__MAX_TILE], rx[HR__MAX_TILE];
            size_t p0, mm, nyp, nxp, iy0, ix0, r, ky, kx, ns = 0, gg, qq, s2, a, b, e;
            while (tile >= first[phs + 1]) phs++;
            nyp = HR__PH_NY(c, phs);
            nxp = HR__PH_NX(c, phs);
            iy0 = HR__PH_Y0(c, phs);
            ix0 = HR__PH_X0(c, phs);
            p0 = (tile - first[phs]) * mr;
            mm = c->n * nyp * nxp - p0 < mr ? c->n * nyp * nxp - p0 : mr;
            /* row r: dx pixel p0 + r of the phase's subgrid, (iy0 + ry sh, ix0 + rx sw) */
            e = p0 / (nyp * nxp);
            a = p0 % (nyp * nxp) / nxp;
            b = p0 % nxp;
            for (r = 0; r < mm; r++) {
                img[r] = e;
                ry[r] = a;
                rx[r] = b;
                if (++b == nxp) {
                    b = 0;
                    if (++a == nyp) { a = 0; e++; }
                }
            }
            /* the phase's taps: (iy + ph - ky) a multiple of sh, so the dy
               row is ry + a per-tap offset (likewise x) */
            for (ky = (iy0 + c->ph) % c->sh; ky < c->kh; ky += c->sh)
                for (kx = (ix0 + c->pw) % c->sw; kx < c->kw; kx += c->sw) {
                    const ptrdiff_t dyo = ((ptrdiff_t)(iy0 + c->ph) - (ptrdiff_t)ky) / (ptrdiff_t)c->sh;
                    const ptrdiff_t dxo = ((ptrdiff_t)(ix0 + c->pw) - (ptrdiff_t)kx) / (ptrdiff_t)c->sw;
                    int any = 0;
                    for (r = 0; r < mr; r++) {
                        const float *pt = zero;
                        if (r < mm) {
                            const ptrdiff_t oy = (ptrdiff_t)ry[r] + dyo, ox = (ptrdiff_t)rx[r] + dxo;
                            if (oy >= 0 && oy < (ptrdiff_t)c->oh && ox >= 0 && ox < (ptrdiff_t)c->ow) {
                                pt = dy + ((img[r] * c->oh + (size_t)oy) * c->ow + (size_t)ox) * c->co;
                                any = 1;
                            }
                        }
                        tw.tab[ns * mr + r] = pt;
                    }
                    if (any) tw.tap[ns++] = ky * c->kw + kx;
                }
            if (!ns) continue; /* these dx pixels receive nothing */
            for (gg = 0; gg < c->g; gg++) {
                const float **ag = tw.tab;
                if (gg) {
                    for (s2 = 0; s2 < ns * mr; s2++) tw.ag[s2] = tw.tab[s2] + gg * c->cog;
                    ag = tw.ag;
                }
                for (qq = 0; qq < npan; qq++) {
                    const float *panel = wp + (gg * npan + qq) * Kt * nr;
                    const size_t nn = c->cig - qq * nr < nr ? c->cig - qq * nr : nr;
                    for (s2 = 0; s2 < ns; s2++) tw.bp[s2] = panel + tw.tap[s2] * c->cog * nr;
                    for (s2 = 0; s2 < ns; s2++) /* a tap a call: its rows are not one offset apart */
                        K->direct(1, c->cog, ag + s2 * mr, NULL, tw.bp + s2, tw.t, nr, s2 ? tw.t : NULL,
                                  s2 ? nr : 0);
                    for (r = 0; r < mm; r++) /* a phase's dx pixels are not evenly spaced */
                        K->tile(dx + ((img[r] * c->h + iy0 + ry[r] * c->sh) * c->w + ix0 + rx[r] * c->sw) *
                                         c->ci + gg * c->cig + qq * nr,
                                0, tw.t + r * nr, nr, 1, nn, 1.0f, 1.0f);
                }
            }
        }
    }
    HR_FREE(mem);
    return HR_OK;
}

HRDEF hr_status hr_conv2d_backward_data(const hr_conv2d *cd, float *dx,
                                        const float *dy, const float *w)
{
    hr__conv c;
    hr_status s = hr__conv_resolve(cd, &c);
    if (s != HR_OK) return s;
    c.kern = hr__conv_kern(&c, c.cig); /* dx's channels are the tile's columns */
    if (!w || (c.n && (!dx || !dy))) return HR_EINVAL;
    if (!c.n) return HR_OK;
    if (c.sh == 1 && c.sw == 1 && c.ph < c.kh && c.pw < c.kw)
        return hr__conv_bwd_data_flipped(&c, dx, dy, w);
    if (c.depthwise) return hr__dw_backward_data(&c, dx, dy, w);
    return hr__conv_bwd_data_phases(&c, dx, dy, w);
}

HRDEF hr_status hr_conv2d_backward_weight(const hr_conv2d *cd, float *dw,
                                          float *dbias, const float *dy,
                                          const float *x)
{
    hr__conv c;
    hr_status s = hr__conv_resolve(cd, &c);
    if (s != HR_OK) return s;
    c.kern = hr__conv_kern(&c, c.cog);
    if ((c.n && !dy) || (dw && c.n && !x)) return HR_EINVAL;
    if (!c.n || (!dw && !dbias)) return HR_OK;
    if (!dw) {
        hr__conv_dbias(&c, dbias, dy);
        return HR_OK;
    }
    return c.depthwise ? hr__dw_backward_weight(&c, dw, dbias, dy, x)
                       : hr__conv_bwd_w(&c, dw, dbias, dy, x);
}

/* >>heads ----------------------------------------------------------------*/
/* One call does the whole head; the steps, for the normalized heads:
     xn = x / |x|, wn = w / |w| (double norms, as hr_normalize_rows);
     Z = xn wn^T (hr_gemm's machinery), cos of every pair;
     per sample: the target logit f(cos_y) and f'(cos_y) in double, the
       others s cos; softmax (the ISA's expsum) and cross-entropy;
     dZ = dloss/dlogits * dlogits/dcos;
     dxn = dZ wn, dwn = dZ^T xn (GEMMs), then through the normalization:
       du = (dv - v <v, dv>) / |u| per row, added into dx / dw.
   HR_HEAD_SOFTMAX skips the normalization and the margin: Z = x w^T and
   the two backward GEMMs accumulate straight into dx and dw. */

HRDEF hr_head hr_head_default(hr_head_kind kind)
{
    hr_head h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    switch (kind) {
    case HR_HEAD_SPHEREFACE: h.s = 64.0f; h.m = 4.0f; h.lambda = 5.0f; break;
    case HR_HEAD_COSFACE: h.s = 64.0f; h.m = 0.35f; break;
    case HR_HEAD_ARCFACE: h.s = 64.0f; h.m = 0.5f; break;
    default: h.kind = HR_HEAD_SOFTMAX; h.s = 1.0f; break;
    }
    return h;
}

HRDEF float hr_sphereface_lambda(size_t iter)
{
    const double l = 1000.0 / (1.0 + 0.12 * (double)iter);
    return (float)(l > 5.0 ? l : 5.0);
}

static hr_status hr__head_check(const hr_head *h)
{
    const double s = h->s, m = h->m, eps = h->label_smoothing;
    if (!(eps >= 0.0 && eps < 1.0)) return HR_EINVAL;
    switch (h->kind) {
    case HR_HEAD_SOFTMAX: return HR_OK;
    case HR_HEAD_SPHEREFACE:
        if (!(m >= 1.0 && m <= 16.0 && m == floor(m)) || !(h->lambda >= 0.0f && isfinite(h->lambda)))
            return HR_EINVAL;
        break;
    case HR_HEAD_COSFACE: if (!isfinite(m)) return HR_EINVAL; break;
    case HR_HEAD_ARCFACE: if (!(m >= 0.0 && m < 3.141592653589793)) return HR_EINVAL; break;
    default: return HR_EINVAL;
    }
    return s > 0.0 && isfinite(s) ? HR_OK : HR_EINVAL;
}

/* Target logit (before the scale s) and its derivative in cos = c. */
static void hr__margin(const hr_head *h, double c, double *f, double *df)
{
    const double pi = 3.141592653589793;
    double sn;
    c = c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c;
    sn = sqrt(1.0 - c * c);
    sn = sn > 1e-6 ? sn : 1e-6;
    switch (h->kind) {
    case HR_HEAD_COSFACE:
        *f = c - h->m;
        *df = 1.0;
        return;
    case HR_HEAD_ARCFACE: {
        const double m = h->m;
        if (c > cos(pi - m)) { /* theta + m < pi: cos(theta + m) */
            *f = c * cos(m) - sn * sin(m);
            *df = cos(m) + sin(m) * c / sn;
        } else { /* past pi: keep it monotone, as insightface does */
            *f = c - m * sin(m);
            *df = 1.0;
        }
        return;
    }
    case HR_HEAD_SPHEREFACE: {
        /* psi = (-1)^k T_m(c) - 2k, k = floor(m theta / pi), with the
           Chebyshev polynomials T_m(c) = cos(m theta) and
           d/dc T_m = m U_{m-1}(c) (no division by sin theta) */
        const int m = (int)h->m;
        const double lam = h->lambda;
        double t0 = 1.0, t1 = c, u0 = 1.0, u1 = 2.0 * c, T, U, psi, dpsi;
        int k = (int)floor(m * acos(c) / pi), j;
        if (k > m - 1) k = m - 1;
        for (j = 1; j < m; j++) { /* t1 = T_{j}, u0 = U_{j-1} */
            const double t2 = 2.0 * c * t1 - t0, u2 = 2.0 * c * u1 - u0;
            t0 = t1; t1 = t2; u0 = u1; u1 = u2;
        }
        T = m == 1 ? c : t1;
        U = u0; /* U_{m-1} */
        psi = (k % 2 ? -T : T) - 2.0 * k;
        dpsi = (k % 2 ? -1.0 : 1.0) * m * U;
        *f = (lam * c + psi) / (1.0 + lam);
        *df = (lam + dpsi) / (1.0 + lam);
        return;
    }
    default:
        *f = c;
        *df = 1.0;
        return;
    }
}

/* Rows of a (n x d) scaled to unit length into out, inverse norms into
   inv; HR_ENONFINITE if any value is NaN/Inf (nothing else written then
   matters: out is scratch). */
static hr_status hr__head_normalize(const hr__kernels *K, float *out, double *inv,
                                    const float *a, size_t n, size_t d)
{
    size_t i;
    for (i = 0; i < n; i++) {
        const double ss = K->sumsq(a + i * d, d);
        if (!isfinite(ss)) return HR_ENONFINITE;
        inv[i] = hr__inv_norm(ss);
        K->scale(out + i * d, a + i * d, d, inv[i]);
    }
    return HR_OK;
}

/* grad += (dv - v <v, dv>) * inv for each row: the backward of v = u / |u|
   (v recomputed from u exactly as hr__head_normalize made it). */
static void hr__head_unnormalize(const hr__kernels *K, float *grad, const float *dv,
                                 const float *u, const double *inv, size_t n, size_t d,
                                 float *vrow)
{
    size_t i, j;
    for (i = 0; i < n; i++) {
        double dot = 0.0;
        if (inv[i] == 0.0) continue; /* a zero row: no gradient */
        K->scale(vrow, u + i * d, d, inv[i]);
        for (j = 0; j < d; j++) dot += (double)vrow[j] * dv[i * d + j];
        for (j = 0; j < d; j++)
            grad[i * d + j] += (float)(((double)dv[i * d + j] - (double)vrow[j] * dot) * inv[i]);
    }
}

/* The head's per-row part, on Z = the batch x classes cosines (or plain
   logits): margin and scale, the logits out (may be NULL), the softmax
   cross-entropy, and dloss/dz into Z in cos units (dZ for the backward
   GEMMs). Returns the loss summed over the batch. */
static double hr__head_rows(const hr_head *h, const hr__kernels *K, float *Z, float *logits,
                            const int32_t *labels, size_t batch, size_t classes)
{
    const int norm = h->kind != HR_HEAD_SOFTMAX;
    const double scale = norm ? h->s : 1.0, eps = h->label_smoothing;
    double total = 0.0;
    size_t b, j;
    for (b = 0; b < batch; b++) {
        float *z = Z + b * classes;
        const size_t y = (size_t)labels[b];
        double f = z[y], df = 1.0, lse, zsum = 0.0, sum;
        float zmax = -INFINITY;
        if (norm) {
            hr__margin(h, z[y], &f, &df);
            for (j = 0; j < classes; j++) z[j] = (float)(scale * z[j]);
            z[y] = (float)(scale * f);
        }
        for (j = 0; j < classes; j++) {
            zmax = z[j] > zmax ? z[j] : zmax;
            zsum += z[j];
        }
        if (logits) memcpy(logits + b * classes, z, classes * sizeof(float));
        /* loss_b = lse - sum_j q_j z_j, q = (1 - eps) onehot + eps / C */
        {
            const double zy = z[y];
            sum = K->expsum(z, z, classes, zmax); /* z now holds exp(z - max) */
            lse = (double)zmax + log(sum);
            total += lse - (1.0 - eps) * zy - eps / (double)classes * zsum;
        }
        /* dloss/dz_j = (p_j - q_j) / batch, then into cos units */
        for (j = 0; j < classes; j++) {
            const double g = ((double)z[j] / sum - eps / (double)classes -
                              (j == y ? 1.0 - eps : 0.0)) / (double)batch;
            z[j] = (float)(g * scale * (j == y ? df : 1.0));
        }
    }
    return total;
}

/* hr_head_loss's one block, counted and (m != NULL, aligned) carved: Z
   (then dZ); for the normalized heads xn, wn (then dwn), dxn, one row of
   scratch and the inverse norms (x's, then w's); then the largest GEMM's
   packing memory. */
typedef struct hr__head_mem {
    float *Z, *xn, *wn, *dxn, *vrow;
    double *inv;
    char *work;
} hr__head_mem;
static size_t hr__head_layout(hr__head_mem *hm, char *m, int norm, size_t batch, size_t classes,
                              size_t d, size_t gbytes, int *ok)
{
    const size_t nx = norm ? hr__mul(batch, d, ok) : 0, nw = norm ? hr__mul(classes, d, ok) : 0;
    size_t off = 0;
    HR__CARVE(hm->Z, hr__mul(batch, classes, ok), float)
    HR__CARVE(hm->xn, nx, float)
    HR__CARVE(hm->wn, nw, float)
    HR__CARVE(hm->dxn, nx, float)
    HR__CARVE(hm->vrow, norm ? d : 0, float)
    HR__CARVE(hm->inv, norm ? hr__add(batch, classes, ok) : 0, double)
    HR__CARVE(hm->work, gbytes, char)
    return off;
}

/* The head's three GEMMs, planned before anything is allocated: every check
   (labels, sizes, NaN/Inf in the plain head's inputs) is made here, so an
   error leaves the outputs untouched. The plans are made on the raw pointers
   (the normalized copies have the same shapes); gbytes is the largest GEMM
   workspace. */
typedef struct hr__head_plan {
    hr__gemm_job gz, gx, gw; /* Z = x w^T; dx = dZ w; dw = dZ^T x */
    size_t gbytes;
} hr__head_plan;
static hr_status hr__head_prepare(hr__head_plan *p, const hr_head *h, const hr__kernels *K,
                                  float *dx, float *dw, const float *x, const float *w,
                                  const int32_t *labels, size_t batch, size_t d, size_t classes)
{
    const int norm = h->kind != HR_HEAD_SOFTMAX;
    size_t b, j;
    int ok = 1;
    hr_status s;
    if ((s = hr__head_check(h)) != HR_OK) return s;
    if (classes > (size_t)INT32_MAX) return HR_EINVAL;
    for (b = 0; b < batch; b++)
        if (labels[b] < 0 || (size_t)labels[b] >= classes) return HR_EINVAL;
    hr__mul(hr__mul(batch, classes, &ok), sizeof(float), &ok);
    hr__mul(hr__mul(classes, d, &ok), sizeof(float), &ok);
    hr__mul(hr__mul(batch, d, &ok), sizeof(float), &ok);
    if (!ok) return HR_EOVERFLOW;
    if (!norm) { /* the plain head must still refuse NaN/Inf */
        for (b = 0; b < batch; b++)
            if (!isfinite(K->sumsq(x + b * d, d))) return HR_ENONFINITE;
        for (j = 0; j < classes; j++)
            if (!isfinite(K->sumsq(w + j * d, d))) return HR_ENONFINITE;
    }
    memset(p, 0, sizeof *p);
    if ((s = hr__gemm_plan(&p->gz, K, HR_NO_TRANS, HR_TRANS, batch, classes, d, 1.0f, x, d, w, d,
                           0.0f, (float *)x, classes)) != HR_OK) return s;
    if (dx && (s = hr__gemm_plan(&p->gx, K, HR_NO_TRANS, HR_NO_TRANS, batch, d, classes, 1.0f, x,
                                 classes, w, d, norm ? 0.0f : 1.0f, dx, d)) != HR_OK) return s;
    if (dw && (s = hr__gemm_plan(&p->gw, K, HR_TRANS, HR_NO_TRANS, classes, d, batch, 1.0f, x,
                                 classes, x, d, norm ? 0.0f : 1.0f, dw, d)) != HR_OK) return s;
    p->gbytes = p->gz.bytes > p->gx.bytes ? p->gz.bytes : p->gx.bytes;
    p->gbytes = p->gbytes > p->gw.bytes ? p->gbytes : p->gw.bytes;
    return HR_OK;
}

/* Backward from dZ (in hm->Z): the plain head accumulates dZ w and dZ^T x
   into dx and dw; the normalized heads make dxn = dZ wn (and dwn = dZ^T xn,
   in wn's memory: wn is not needed now), then go back through each row's
   normalization. */
static void hr__head_backward(hr__head_plan *p, const hr__kernels *K, const hr__head_mem *hm,
                              int norm, float *dx, float *dw, const float *x, const float *w,
                              size_t batch, size_t classes, size_t d)
{
    if (dx) {
        p->gx.a = hm->Z, p->gx.b = norm ? hm->wn : w, p->gx.c = norm ? hm->dxn : dx;
        hr__gemm_exec(&p->gx, hm->work);
        if (norm) hr__head_unnormalize(K, dx, hm->dxn, x, hm->inv, batch, d, hm->vrow);
    }
    if (dw) {
        p->gw.a = hm->Z, p->gw.b = norm ? hm->xn : x, p->gw.c = norm ? hm->wn : dw;
        hr__gemm_exec(&p->gw, hm->work);
        if (norm) hr__head_unnormalize(K, dw, hm->wn, w, hm->inv + batch, classes, d, hm->vrow);
    }
}

HRDEF hr_status hr_head_loss(const hr_head *h, float *loss, float *logits,
                             float *dx, float *dw, const float *x,
                             const float *w, const int32_t *labels,
                             size_t batch, size_t d, size_t classes)
{
    const hr__kernels *K = hr__kernels_get();
    const int norm = h && h->kind != HR_HEAD_SOFTMAX;
    hr__head_plan p;
    hr__head_mem hm;
    size_t bytes;
    int ok = 1;
    char *mem;
    hr_status s;
    if (!h || !loss || !x || !w || !labels || !batch || !d || !classes) return HR_EINVAL;
    if ((s = hr__head_prepare(&p, h, K, dx, dw, x, w, labels, batch, d, classes)) != HR_OK)
        return s;
    bytes = hr__add(hr__head_layout(&hm, NULL, norm, batch, classes, d, p.gbytes, &ok),
                    HR__ALIGN, &ok);
    if (!ok) return HR_EOVERFLOW;
    if (!(mem = (char *)HR_MALLOC(bytes))) return HR_ENOMEM;
    (void)hr__head_layout(&hm, hr__align_up(mem), norm, batch, classes, d, p.gbytes, &ok);
    if (norm && ((s = hr__head_normalize(K, hm.xn, hm.inv, x, batch, d)) != HR_OK ||
                 (s = hr__head_normalize(K, hm.wn, hm.inv + batch, w, classes, d)) != HR_OK)) {
        HR_FREE(mem);
        return s;
    }
    /* Z = xn wn^T (or x w^T) */
    p.gz.a = norm ? hm.xn : x, p.gz.b = norm ? hm.wn : w, p.gz.c = hm.Z;
    hr__gemm_exec(&p.gz, hm.work);
    /* logits, softmax, loss and dlogits -> dZ, row by row */
    *loss = (float)(hr__head_rows(h, K, hm.Z, logits, labels, batch, classes) / (double)batch);
    hr__head_backward(&p, K, &hm, norm, dx, dw, x, w, batch, classes, d);
    HR_FREE(mem);
    return HR_OK;
}

/* >>sampling -------------------------------------------------------------*/

/* --- RNG: xoshiro256** and splitmix64 (Blackman & Vigna's reference) ----*/

#define HR__GOLDEN 0x9E3779B97F4A7C15ull /* splitmix64's increment */

static uint64_t hr__splitmix64(uint64_t *x)
{
    uint64_t z = (*x += HR__GOLDEN);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

HRDEF void hr_rng_seed(hr_rng *r, uint64_t seed)
{
    int k;
    for (k = 0; k < 4; k++) r->s[k] = hr__splitmix64(&seed);
}

HRDEF void hr_rng_jump(hr_rng *r)
{
    static const uint64_t jump[4] = {0x180ec6d33cfd0abaull, 0xd5a61266f0c9392cull,
                                     0xa9582618e03fc9aaull, 0x39abdc4529b1661cull};
    uint64_t t[4] = {0, 0, 0, 0};
    int i, b, k;
    for (i = 0; i < 4; i++)
        for (b = 0; b < 64; b++) {
            if (jump[i] & ((uint64_t)1 << b))
                for (k = 0; k < 4; k++) t[k] ^= r->s[k];
            hr_rng_next(r);
        }
    for (k = 0; k < 4; k++) r->s[k] = t[k];
}

HRDEF uint32_t hr_rng_below(hr_rng *r, uint32_t n)
{
    uint64_t m;
    if (n == 0) return 0;
    m = (hr_rng_next(r) & 0xFFFFFFFFu) * n;
    if ((uint32_t)m < n) { /* only then can it fall in the biased sliver */
        const uint32_t t = (uint32_t)(((uint64_t)1 << 32) % n);
        while ((uint32_t)m < t) m = (hr_rng_next(r) & 0xFFFFFFFFu) * n;
    }
    return (uint32_t)(m >> 32);
}

/* Uniform on [0, n), n >= 1, over 64 bits: reject the lowest 2^64 mod n
   outputs, then reduce (OpenBSD's arc4random_uniform, no 128-bit multiply;
   the rare-path helper of hr_batch_pk). */
static uint64_t hr__below64(hr_rng *r, uint64_t n)
{
    const uint64_t t = (0 - n) % n;
    uint64_t x;
    do x = hr_rng_next(r); while (x < t);
    return x % n;
}

/* --- Alias table ---------------------------------------------------------
   Entry c of tab: threshold (low 32 bits) | alias << 32, in one 8-byte word
   so that a draw touches one cache line. A full column (all its mass is its
   own) is alias == c, so the coin does not matter there. */

#define HR__MASS ((uint64_t)1 << 32) /* integer mass of one column */

/* The table's memory, counted and (m != NULL, aligned) carved: the table
   (n words), then the build's class bitmap (bit i: W_i >= 2^32). */
static size_t hr__alias_layout(char *m, size_t n, uint64_t **tab, uint64_t **heavy, int *ok)
{
    size_t off = 0;
    HR__CARVE(*tab, n, uint64_t)
    HR__CARVE(*heavy, n / 64 + 1, uint64_t)
    return off;
}

HRDEF size_t hr_alias_size(size_t n)
{
    uint64_t *tab, *heavy;
    int ok = 1;
    const size_t b = hr__add(hr__alias_layout(NULL, n, &tab, &heavy, &ok), HR__ALIGN, &ok);
    return ok ? b : 0;
}

static int hr__ctz64(uint64_t x) /* x != 0 */
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(x);
#else
    int k = 0;
    while (!(x & 1)) { x >>= 1; k++; }
    return k;
#endif
}

/* hr_alias_build's pass 1: validate before writing anything, sum, find
   the largest (its first index to *bigp). Blocks of 1024 summed in 4
   double chains (relative error <= 2^-45), blocks added with Neumaier's
   compensation: the scale must be right to far better than 2^-32, since
   the whole rounding residual lands on one category (a plain sum of 2^31
   terms can be off by 2^-22). A block is valid iff its min is >= 0 and
   its sum finite: no finite non-negative floats overflow a double sum of
   1024. */
static hr_status hr__alias_sum(const float *w, size_t n, double *sump, size_t *bigp)
{
    double sum = 0.0, comp = 0.0;
    size_t i, j, big = 0;
    float wmax = -1.0f;
    for (i = 0; i < n; i += 1024) {
        const size_t e = n - i < 1024 ? n - i : 1024;
        const float *x = w + i;
        double b0 = 0.0, b1 = 0.0, b2 = 0.0, b3 = 0.0, bs, t;
        float lo = 0.0f, hi = 0.0f;
        size_t k = 0;
#define HR__MINMAX(v) lo = (v) < lo ? (v) : lo; hi = (v) > hi ? (v) : hi;
        for (; k + 4 <= e; k += 4) {
            b0 += x[k]; b1 += x[k + 1]; b2 += x[k + 2]; b3 += x[k + 3];
            HR__MINMAX(x[k]) HR__MINMAX(x[k + 1]) HR__MINMAX(x[k + 2]) HR__MINMAX(x[k + 3])
        }
        for (; k < e; k++) { b0 += x[k]; HR__MINMAX(x[k]) }
#undef HR__MINMAX
        bs = (b0 + b1) + (b2 + b3);
        if (!(lo >= 0.0f) || !isfinite(bs)) { /* NaN/Inf first, as documented */
            for (j = i; j < n; j++)
                if (!isfinite(w[j])) return HR_ENONFINITE;
            return HR_EINVAL;
        }
        if (hi > wmax) { /* first index of the new maximum */
            wmax = hi;
            for (k = 0; x[k] != hi; k++) {}
            big = i + k;
        }
        t = sum + bs;
        comp += fabs(sum) >= fabs(bs) ? (sum - t) + bs : (bs - t) + sum;
        sum = t;
    }
    sum += comp;
    if (!(sum > 0.0)) return HR_EINVAL;
    *sump = sum;
    *bigp = big;
    return HR_OK;
}

/* hr_alias_build's pass 2: integer masses W_i = round(w_i * n 2^32 / sum)
   < 2^63 (n < 2^31; the clamp only guards the conversion), and the class
   bitmap; returns the count of positive masses. */
static uint32_t hr__alias_masses(uint64_t *tab, uint64_t *heavy, const float *w, size_t n,
                                 double sum, size_t big)
{
    const uint64_t T = HR__MASS;
    uint64_t total = 0, target, rest;
    double scale;
    size_t i, j;
    uint32_t npos = 0;
    target = (uint64_t)n * T;
    scale = (double)target / sum;
    for (i = 0; i < n; i += 64) {
        const size_t e = n - i < 64 ? n - i : 64;
        uint64_t bits = 0;
        for (j = 0; j < e; j++) {
            double x = (double)w[i + j] * scale + 0.5;
            uint64_t W;
            x = x < 9.2e18 ? x : 9.2e18;
            W = (uint64_t)(int64_t)x;
            tab[i + j] = W;
            total += W;
            npos += W != 0;
            bits |= (uint64_t)(W >= T) << j;
        }
        heavy[i >> 6] = bits;
    }
    /* The residual target - total (rounding: <= n/2; the sum's error:
       <= n 2^-12) goes to the largest mass: it stays positive (>= 2^32 - 1
       - 2^30 - ...), a zero weight is never touched, and that probability
       moves by at most 2^-33 + 2^-44. Every other one is off by at most
       2^-33 / n (rounding) + p 2^-44 (scale): all within 2^-32. */
    rest = tab[big];
    tab[big] = total > target ? rest - (total - target) : rest + (target - total);
    heavy[big >> 6] = (heavy[big >> 6] & ~((uint64_t)1 << (big & 63))) |
                      (uint64_t)(tab[big] >= T) << (big & 63);
    return npos;
}

/* hr_alias_build's pass 3: Vose's pairing as a sweep (Huebschle-Schneider
   & Sanders): one cursor walks the light columns (W < 2^32), one the heavy
   ones, both forward, a bitmap word at a time; the current heavy j's
   remaining mass stays in rest. A light takes its W as threshold and j as alias,
   and j gives up 2^32 - W; once rest < 2^32, j itself is filled from the
   next heavy. Integer masses keep it exact, so when the lights run out
   the current and all later heavies hold exactly 2^32: full columns
   (alias = self; the coin then does not matter). Each entry is written
   once and never read after. */
static void hr__alias_pair(uint64_t *tab, const uint64_t *heavy, size_t n)
{
    const uint64_t T = HR__MASS;
    uint64_t rest;
    size_t j;
    const size_t nw = (n + 63) >> 6;
    const uint64_t last = (n & 63) ? ((uint64_t)1 << (n & 63)) - 1 : ~(uint64_t)0;
    size_t lwi = 0, hwi = 0;
    uint64_t lw, hw;
#define HR__LIGHT(k) (~heavy[k] & ((k) == nw - 1 ? last : ~(uint64_t)0))
    lw = HR__LIGHT(0);
    while (!lw && ++lwi < nw) lw = HR__LIGHT(lwi);
    hw = heavy[0];
    while (!hw && ++hwi < nw) hw = heavy[hwi];
    HR_ASSERT(hw); /* the largest mass is >= 2^32 */
    j = (hwi << 6) + (size_t)hr__ctz64(hw);
    rest = tab[j];
    for (;;) {
        if (rest < T) {
            size_t jn;
            hw &= hw - 1;
            while (!hw && ++hwi < nw) hw = heavy[hwi];
            if (!hw) break; /* only if the masses were inexact */
            jn = (hwi << 6) + (size_t)hr__ctz64(hw);
            tab[j] = rest | (uint64_t)jn << 32;
            rest = tab[jn] - (T - rest);
            j = jn;
        } else if (lw) {
            const size_t li = (lwi << 6) + (size_t)hr__ctz64(lw);
            const uint64_t wl = tab[li];
            tab[li] = wl | (uint64_t)j << 32;
            rest -= T - wl;
            lw &= lw - 1;
            while (!lw && ++lwi < nw) lw = HR__LIGHT(lwi);
        } else {
            break;
        }
    }
#undef HR__LIGHT
    HR_ASSERT(rest == T);
    for (;;) {
        tab[j] = 0xFFFFFFFFu | (uint64_t)j << 32;
        hw &= hw - 1;
        while (!hw && ++hwi < nw) hw = heavy[hwi];
        if (!hw) break;
        j = (hwi << 6) + (size_t)hr__ctz64(hw);
    }
}

HRDEF hr_status hr_alias_build(hr_alias *a, void *mem, const float *w, size_t n)
{
    uint64_t *tab, *heavy;
    double sum;
    size_t big;
    uint32_t npos;
    int ok = 1;
    hr_status s;
    if (!a || !mem || !w || n == 0 || n > (size_t)INT32_MAX) return HR_EINVAL;
    if ((s = hr__alias_sum(w, n, &sum, &big)) != HR_OK) return s;
    (void)hr__alias_layout(hr__align_up(mem), n, &tab, &heavy, &ok); /* n <= INT32_MAX */
    npos = hr__alias_masses(tab, heavy, w, n, sum, big);
    hr__alias_pair(tab, heavy, n);
    a->tab = tab;
    a->n = (uint32_t)n;
    a->reject = (uint32_t)(HR__MASS % n);
    a->npos = npos;
    return HR_OK;
}

HRDEF void hr_alias_draw_n(uint32_t *out, size_t m, const hr_alias *a, hr_rng *r)
{
    const hr__kernels *K;
    uint64_t lanes[4 * HR__DRAW_LANES], x;
    int k, w;
    if (m == 0) return;
    x = hr_rng_next(r);
    for (k = 0; k < HR__DRAW_LANES; k++) /* lane k: splitmix outputs 4k..4k+3 */
        for (w = 0; w < 4; w++) lanes[w * HR__DRAW_LANES + k] = hr__splitmix64(&x);
    K = hr__kernels_get();
    (K->draw_n ? K->draw_n : hr__draw_n_scalar)(out, m, a, lanes);
}

/* --- Identity index ------------------------------------------------------*/

/* The index's memory, counted and (m != NULL, aligned) carved: the sorted
   samples and a second radix buffer (then the labels) of n + 1 words each
   (the extra word keeps a zero-length array a valid pointer), the nids + 1
   <= n + 1 starts. */
static size_t hr__ids_layout(char *m, size_t n, uint32_t **sample, uint32_t **lab,
                             uint32_t **start, int *ok)
{
    const size_t n1 = hr__add(n, 1, ok);
    size_t off = 0;
    HR__CARVE(*sample, n1, uint32_t)
    HR__CARVE(*lab, n1, uint32_t)
    HR__CARVE(*start, n1, uint32_t)
    return off;
}

HRDEF size_t hr_ids_size(size_t n)
{
    uint32_t *sample, *lab, *start;
    int ok = 1;
    const size_t b = hr__add(hr__ids_layout(NULL, n, &sample, &lab, &start, &ok), HR__ALIGN, &ok);
    return ok ? b : 0;
}

HRDEF hr_status hr_ids_build(hr_ids *ix, void *mem, const int32_t *labels, size_t n)
{
    uint32_t cnt[4][256];
    uint32_t *sample, *lab, *start, *src, *dst, *tmp;
    int32_t maxl = 0;
    size_t i, ns = 0, nids = 0;
    int pass, npass = 0, act[4], ok = 1;
    if (!ix || !mem || (n && !labels) || n > (size_t)INT32_MAX) return HR_EINVAL;
    (void)hr__ids_layout(hr__align_up(mem), n, &sample, &lab, &start, &ok); /* n <= INT32_MAX */
    /* one pass: the byte histograms of every label >= 0 */
    memset(cnt, 0, sizeof cnt);
    for (i = 0; i < n; i++) {
        const int32_t l = labels[i];
        if (l < 0) continue;
        cnt[0][l & 255]++;
        cnt[1][(l >> 8) & 255]++;
        cnt[2][(l >> 16) & 255]++;
        cnt[3][(l >> 24) & 255]++;
        if (l > maxl) maxl = l;
        ns++;
    }
    /* passes over the bytes in which the labels differ (a byte shared by all
       keys leaves a stable sort unchanged) */
    for (pass = 0; pass < 4; pass++) {
        const int32_t l0 = maxl; /* any present label shows the shared byte */
        if (ns && cnt[pass][(l0 >> (8 * pass)) & 255] != ns) act[npass++] = pass;
    }
    /* start in the buffer that makes the last pass land in sample */
    src = npass % 2 ? lab : sample;
    dst = npass % 2 ? sample : lab;
    for (i = 0, ns = 0; i < n; i++)
        if (labels[i] >= 0) src[ns++] = (uint32_t)i;
    for (pass = 0; pass < npass; pass++) {
        const int sh = 8 * act[pass];
        uint32_t off[256], run = 0;
        int d;
        for (d = 0; d < 256; d++) { off[d] = run; run += cnt[act[pass]][d]; }
        for (i = 0; i < ns; i++) {
            const uint32_t v = src[i];
            dst[off[((uint32_t)labels[v] >> sh) & 255]++] = v;
        }
        tmp = src; src = dst; dst = tmp;
    }
    HR_ASSERT(!ns || src == sample);
    for (i = 0; i < ns; i++) { /* runs of equal labels -> identities */
        const int32_t l = labels[sample[i]];
        if (i == 0 || l != (int32_t)lab[nids - 1]) {
            lab[nids] = (uint32_t)l;
            start[nids++] = (uint32_t)i;
        }
    }
    start[nids] = (uint32_t)ns;
    ix->nids = (uint32_t)nids;
    ix->nsamples = (uint32_t)ns;
    ix->njunk = (uint32_t)(n - ns);
    ix->label = (const int32_t *)lab;
    ix->start = start;
    ix->sample = sample;
    return HR_OK;
}

HRDEF int32_t hr_ids_find(const hr_ids *ix, int32_t label)
{
    size_t lo = 0, hi = ix ? ix->nids : 0;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (ix->label[mid] < label) lo = mid + 1;
        else hi = mid;
    }
    return ix && lo < ix->nids && ix->label[lo] == label ? (int32_t)lo : -1;
}

/* --- Weighting policies --------------------------------------------------*/

/* Difficulties must be finite; -INFINITY is hr_difficulty's n == 1 value. */
static hr_status hr__check_c(const float *c, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(c[i]) && !(n == 1 && c[i] == -INFINITY)) return HR_ENONFINITE;
    return HR_OK;
}

static double hr__policy_weight(hr_weighting policy, double c, double cmax, double inv_t)
{
    double q;
    switch (policy) {
    case HR_WEIGHT_SHIFTED: q = 0.5 * (1.0 + c); break;
    case HR_WEIGHT_SOFTMAX: return exp((c - cmax) * inv_t);
    default: q = c; break;
    }
    return q > 0.0 ? q : 0.0;
}

HRDEF hr_status hr_weights(float *p, const float *c, size_t n,
                           hr_weighting policy, float temperature, float eps)
{
    double cmax = -HUGE_VAL, inv_t = 0.0, sum = 0.0, keep, floor_;
    size_t i;
    hr_status s;
    if ((n && (!p || !c)) || !(eps >= 0.0f && eps <= 1.0f)) return HR_EINVAL;
    if (policy != HR_WEIGHT_LINEAR && policy != HR_WEIGHT_SHIFTED &&
        policy != HR_WEIGHT_SOFTMAX) return HR_EINVAL;
    if (policy == HR_WEIGHT_SOFTMAX) {
        if (!(temperature > 0.0f && isfinite(temperature))) return HR_EINVAL;
        inv_t = 1.0 / (double)temperature;
    }
    if ((s = hr__check_c(c, n)) != HR_OK) return s;
    if (n == 0) return HR_OK;
    if (n == 1) { p[0] = 1.0f; return HR_OK; }
    for (i = 0; i < n; i++) if (c[i] > cmax) cmax = c[i];
    /* in double, no overflow: n < 2^31 terms of at most 3.4e38 (softmax's
       are <= 1, and its sum >= 1: the max term is exp(0)) */
    for (i = 0; i < n; i++) sum += hr__policy_weight(policy, c[i], cmax, inv_t);
    keep = 1.0 - (double)eps;
    floor_ = (double)eps / (double)n;
    for (i = 0; i < n; i++) /* q / sum first: a tiny sum cannot overflow */
        p[i] = sum > 0.0 ? (float)(keep * (hr__policy_weight(policy, c[i], cmax, inv_t) / sum) + floor_)
                         : (float)(1.0 / (double)n);
    return HR_OK;
}

/* --- Batch builders ------------------------------------------------------*/

/* A group of k images of identity id into out[0..k): see the API. */
static void hr__pick_images(uint32_t *out, size_t k, const hr_ids *ix,
                            uint32_t id, hr_rng *r)
{
    const uint32_t *smp = ix->sample + ix->start[id];
    const uint32_t s = ix->start[id + 1] - ix->start[id];
    size_t t, q;
    if (s < k) {
        for (t = 0; t < k; t++) out[t] = smp[hr_rng_below(r, s)];
        return;
    }
    for (t = 0; t < k; t++) { /* Floyd: a uniform k-subset of s, no scratch */
        const uint32_t j = (uint32_t)(s - k + t);
        uint32_t v = smp[hr_rng_below(r, j + 1)];
        for (q = 0; q < t; q++)
            if (out[q] == v) { v = smp[j]; break; }
        out[t] = v;
    }
    for (t = k; t > 1; t--) { /* Floyd's order is not uniform: shuffle */
        const uint32_t u = hr_rng_below(r, (uint32_t)t), v = out[t - 1];
        out[t - 1] = out[u];
        out[u] = v;
    }
}

HRDEF hr_status hr_batch_hardest(uint32_t *out, const hr_ids *ix,
                                 const float *c, size_t first_count,
                                 size_t second_count, const int32_t *nearest,
                                 size_t nearest_count, hr_rng *r)
{
    size_t k, t = 0, others;
    uint32_t sz, s0;
    int ok = 1;
    hr_status s;
    if (!out || !ix || !c || !r || !ix->nids || first_count == 0) return HR_EINVAL;
    hr__add(hr__add(first_count, nearest_count, &ok), second_count, &ok);
    if (!ok) return HR_EOVERFLOW;
    if ((s = hr__check_c(c, ix->nids)) != HR_OK) return s;
    for (k = 1; k < ix->nids; k++)
        if (c[k] > c[t]) t = k; /* strict: ties keep the smallest index */
    s0 = ix->start[t];
    sz = ix->start[t + 1] - s0;
    others = ix->nsamples - sz;
    if (second_count && !others) return HR_EINVAL;
    if (nearest_count && (!nearest || nearest[t] < 0 ||
                          (size_t)nearest[t] >= ix->nids || (size_t)nearest[t] == t))
        return HR_EINVAL;
    hr__pick_images(out, first_count, ix, (uint32_t)t, r);
    out += first_count;
    if (nearest_count) hr__pick_images(out, nearest_count, ix, (uint32_t)nearest[t], r);
    out += nearest_count;
    for (k = 0; k < second_count; k++) { /* skip t's run in sample[] */
        const uint32_t u = hr_rng_below(r, (uint32_t)others);
        out[k] = ix->sample[u < s0 ? u : u + sz];
    }
    return HR_OK;
}

static int hr__alias_ok(const hr_alias *a, const hr_ids *ix)
{
    return a->tab && a->n >= 1 && a->n == ix->nids;
}

HRDEF hr_status hr_batch_proportional(uint32_t *out, size_t count,
                                      const hr_ids *ix, const hr_alias *a,
                                      hr_rng *r)
{
    size_t i;
    if (!out || !ix || !a || !r || count == 0 || !hr__alias_ok(a, ix)) return HR_EINVAL;
    hr_alias_draw_n(out, count, a, r); /* identities first, then images */
    for (i = 0; i < count; i++) {
        const uint32_t id = out[i], s0 = ix->start[id];
        out[i] = ix->sample[s0 + hr_rng_below(r, ix->start[id + 1] - s0)];
    }
    return HR_OK;
}

static int hr__in(const uint32_t *v, size_t n, uint32_t x)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

/* A draw from a restricted to the categories not in ex[0..nex), exactly in
   proportion to their masses read off the table: column j gives its
   threshold to j and the rest to its alias. O(n nex); for hr_batch_pk's
   rare case where redrawing duplicates keeps failing. */
static uint32_t hr__alias_draw_excluding(const hr_alias *a, const uint32_t *ex,
                                         size_t nex, hr_rng *r)
{
    uint64_t total = 0, u = 0;
    uint32_t j, last = 0;
    int pass;
    for (pass = 0; pass < 2; pass++) {
        if (pass) u = hr__below64(r, total);
        for (j = 0; j < a->n; j++) {
            const uint64_t e = a->tab[j];
            const uint32_t al = (uint32_t)(e >> 32);
            const uint64_t own = al == j ? HR__MASS : (uint32_t)e;
            uint64_t part[2];
            uint32_t who[2];
            int q;
            part[0] = own; who[0] = j;
            part[1] = HR__MASS - own; who[1] = al;
            for (q = 0; q < 2; q++) {
                if (!part[q] || hr__in(ex, nex, who[q])) continue;
                if (!pass) { total += part[q]; continue; }
                if (u < part[q]) return who[q];
                u -= part[q];
                last = who[q];
            }
        }
    }
    return last; /* not reached: u < total */
}

HRDEF hr_status hr_batch_pk(uint32_t *out, size_t P, size_t K,
                            const hr_ids *ix, const hr_alias *a, hr_rng *r)
{
    size_t p, q;
    int ok = 1;
    if (!out || !ix || !r || P == 0 || K == 0 || P > ix->nids) return HR_EINVAL;
    if (a && (!hr__alias_ok(a, ix) || P > a->npos)) return HR_EINVAL;
    hr__mul(P, K, &ok);
    if (!ok) return HR_EOVERFLOW;
    /* the identities first, in out[0..P) */
    if (!a) {
        const uint32_t n = ix->nids;
        for (p = 0; p < P; p++) { /* Floyd, then a shuffle, as for images */
            const uint32_t j = (uint32_t)(n - P + p);
            uint32_t v = hr_rng_below(r, j + 1);
            out[p] = hr__in(out, p, v) ? j : v;
        }
        for (p = P; p > 1; p--) {
            const uint32_t u = hr_rng_below(r, (uint32_t)p), v = out[p - 1];
            out[p - 1] = out[u];
            out[u] = v;
        }
    } else {
        for (p = 0; p < P; p++) {
            uint32_t v = hr_alias_draw(a, r);
            for (q = 0; q < 64 && hr__in(out, p, v); q++) v = hr_alias_draw(a, r);
            out[p] = hr__in(out, p, v) ? hr__alias_draw_excluding(a, out, p, r) : v;
        }
    }
    /* then the groups, last first: group p's slots [pK, pK + K) hold only
       identities of groups >= p, already expanded (or p's own, read first) */
    for (p = P; p-- > 0;) {
        const uint32_t id = out[p];
        hr__pick_images(out + p * K, K, ix, id, r);
    }
    return HR_OK;
}

/* <<sampling */

#endif /* HARDREID_IMPLEMENTATION_DONE */
#endif /* HARDREID_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the hardreid authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
------------------------------------------------------------------------------
*/
