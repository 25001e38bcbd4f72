/* bench/peer.h - the C interface of the benchmark's C++ peer (FAISS).
   Kept apart so bench_difficulty.c stays plain C99. */
#ifndef HR_BENCH_PEER_H
#define HR_BENCH_PEER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Difficulty by FAISS: faiss::knn_inner_product with k = 2 of wn against
   itself (wn: n x d, rows already unit length, row stride d), then self
   removed by index: c[i] = best similarity among the two neighbours whose
   index != i (ties to the smaller index), nearest[i] = that index; -INFINITY
   and -1 when there is none. Returns 0, or -1 if the scratch allocation
   (24 n bytes) failed or FAISS threw. */
int peer_faiss_difficulty(float *c, int32_t *nearest, const float *wn,
                          size_t n, size_t d);

/* FAISS version, e.g. "1.7.3". */
const char *peer_faiss_version(void);

#ifdef __cplusplus
}
#endif
#endif
