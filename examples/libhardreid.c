/* libhardreid.c - the whole library as one translation unit, for
 * build/libhardreid.so (`make lib`): what C callers link with -lhardreid and
 * what Python loads with ctypes (examples/python/). Built -fPIC -fopenmp, so
 * the kernels are multi-threaded whoever calls them.
 */
#define HARDREID_IMPLEMENTATION
#include "../hardreid.h"
