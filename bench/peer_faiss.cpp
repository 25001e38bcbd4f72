// bench/peer_faiss.cpp - FAISS as a difficulty peer: k = 2 exhaustive inner
// product search of W against itself, then the self match dropped by index.
// Threads: FAISS runs the sgemm blocks on OpenBLAS threads and the heap
// updates on OpenMP threads; the caller sets both counts.

#include "peer.h"

#include <faiss/Index.h>
#include <faiss/utils/distances.h>

#include <cmath>
#include <cstdlib>
#include <exception>

#define PEER_STR2(x) #x
#define PEER_STR(x) PEER_STR2(x)

extern "C" const char *peer_faiss_version(void) {
    return PEER_STR(FAISS_VERSION_MAJOR) "." PEER_STR(FAISS_VERSION_MINOR) "."
            PEER_STR(FAISS_VERSION_PATCH);
}

extern "C" int peer_faiss_difficulty(float *c, int32_t *nearest,
                                     const float *wn, size_t n, size_t d) {
    if (n == 0) return 0;
    const size_t k = 2;
    float *dist = static_cast<float *>(std::malloc(n * k * sizeof(float)));
    int64_t *lab = static_cast<int64_t *>(std::malloc(n * k * sizeof(int64_t)));
    if (!dist || !lab) {
        std::free(dist);
        std::free(lab);
        return -1;
    }
    try {
        faiss::knn_inner_product(wn, wn, d, n, n, k, dist, lab);
    } catch (const std::exception &) {
        std::free(dist);
        std::free(lab);
        return -1;
    }
    // Usually one of the two is i itself. With duplicate rows both may be
    // other rows (self tied with them and lost the heap order): the best
    // non-self one is then still exact, and ties go to the smaller index.
    for (size_t i = 0; i < n; i++) {
        float best = -INFINITY;
        int64_t arg = -1;
        for (size_t r = 0; r < k; r++) {
            int64_t j = lab[i * k + r];
            float v = dist[i * k + r];
            if (j < 0 || static_cast<size_t>(j) == i) continue;
            if (arg < 0 || v > best || (v == best && j < arg)) {
                best = v;
                arg = j;
            }
        }
        c[i] = best;
        if (nearest) nearest[i] = static_cast<int32_t>(arg);
    }
    std::free(dist);
    std::free(lab);
    return 0;
}
