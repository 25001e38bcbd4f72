/* tests/impl.c - the one translation unit with the implementation (and, for
   HR_TEST_MINI builds, the mini runner's main). */
#define HR_TEST_MINI_MAIN
#define HARDREID_IMPLEMENTATION
#include "harness.h"
#include "hardreid.h"
