/* tests/install_app.c - a user's program built against an installed
 * hardreid (tests/install_test.sh: through CMake's find_package, pkg-config,
 * or the header alone): with -DHEADER_ONLY it compiles the implementation
 * itself, else it links libhardreid.so. Checks docs/DESIGN.md's worked
 * example and prints which path ran.
 */
#ifdef HEADER_ONLY
#define HARDREID_IMPLEMENTATION
#endif
#include <hardreid.h>

#include <math.h>
#include <stdio.h>

int main(void)
{
    /* rows (2,0) (0,2) (0.4,1.96): c = {0.19996, 0.97980, 0.97980} */
    const float w[6] = { 2.0f, 0.0f, 0.0f, 2.0f, 0.4f, 1.96f };
    const float want[3] = { 0.19996f, 0.97980f, 0.97980f };
    const int32_t want_nn[3] = { 2, 2, 1 };
    float c[3];
    int32_t nn[3];
    int i, bad = 0;
    hr_status s = hr_difficulty(c, nn, w, 3, 2, 2, 0);
    if (s != HR_OK) {
        fprintf(stderr, "hr_difficulty: %s\n", hr_status_string(s));
        return 1;
    }
    for (i = 0; i < 3; i++)
        if (fabsf(c[i] - want[i]) > 1e-5f || nn[i] != want_nn[i]) bad = 1;
    printf("%s: hardreid %s, isa %s, c = %.5f %.5f %.5f, nearest = %d %d %d: %s\n",
#ifdef HEADER_ONLY
           "header-only",
#else
           "libhardreid.so",
#endif
           HARDREID_VERSION_STRING, hr_isa_name(hr_get_isa()), (double)c[0],
           (double)c[1], (double)c[2], (int)nn[0], (int)nn[1], (int)nn[2],
           bad ? "WRONG" : "ok");
    return bad;
}
