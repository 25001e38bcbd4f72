// tests/compile_cpp.cpp - the header as C++11 under -Wall -Wextra -pedantic
// -Werror, with the implementation in this translation unit.
#define HARDREID_IMPLEMENTATION
#include "hardreid.h"

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    const float w[6] = {2.0f, 0.0f, 0.0f, 2.0f, 0.4f, 1.96f};
    const double s = std::sqrt(0.4 * 0.4 + 1.96 * 1.96);
    std::vector<float> c(3), sim(6);
    std::vector<int32_t> j(3), idx(6);
    int bad = 0;
    hr_status st = hr_difficulty(c.data(), j.data(), w, 3, 2, 2, 0);
    if (st != HR_OK || std::fabs(c[1] - 1.96 / s) > 1e-6 || j[0] != 2 ||
        j[1] != 2 || j[2] != 1)
        bad = 1;
    st = hr_neighbors_topk(sim.data(), idx.data(), 2, w, 3, 2, 2, 0);
    if (st != HR_OK || idx[0] != 2 || idx[1] != 1) bad = 1;
    if (hr_set_isa(HR_ISA_SCALAR) != HR_OK) bad = 1;
    std::printf("compile_cpp (%s, %s): %s\n", hr_status_string(st),
                hr_isa_name(hr_get_isa()), bad ? "FAILED" : "ok");
    return bad;
}
