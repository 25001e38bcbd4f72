/* npy_rows_test.c - npy_read_rows_file against npy_read_matrix_file: every
 * slice [row0, row0 + nrows) of a file, in every layout npy_gen writes, must
 * be exactly those rows of the whole matrix; the header-only checks must
 * fail the way the whole reader does.
 *   usage: npy_rows_test FILE.npy ...   (prints "ok" lines, exit 1 on a miss)
 */
#define NPY_IMPLEMENTATION
#include "../npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(const char *path)
{
    float *all = NULL, *part = NULL;
    size_t n, d, n2, d2, row0, nrows, bad = 0, slices = 0;
    npy_info info;
    npy_status s = npy_read_matrix_file(path, &all, &n, &d, &info), s2, s3;

    /* a file the whole reader refuses for its header or length is refused
       by the header check and by every slice with the same status */
    s2 = npy_read_header_file(path, &info);
    s3 = npy_read_rows_file(path, 0, 0, &part, &n2, &d2, &info);
    free(part);
    part = NULL;
    if (s != NPY_OK) {
        free(all);
        if (s2 != s || s3 != s) {
            fprintf(stderr, "%s: whole reader says %d, header %d, slice %d\n", path, s, s2, s3);
            return 1;
        }
        printf("ok %s: refused (%s)\n", path, npy_status_string(s));
        return 0;
    }
    if (s2 != NPY_OK || s3 != NPY_OK) {
        fprintf(stderr, "%s: header %d, empty slice %d on a good file\n", path, s2, s3);
        return 1;
    }
    /* slices of 0, step, 2 step, ... rows and the one to the end */
    for (row0 = 0; row0 <= n; row0 += 1 + n / 7)
        for (nrows = 0;; nrows += 1 + n / 5) {
            if (nrows > n - row0) nrows = n - row0;
            s = npy_read_rows_file(path, row0, nrows, &part, &n2, &d2, &info);
            slices++;
            if (s != NPY_OK || n2 != n || d2 != d ||
                memcmp(part, all + row0 * d, nrows * d * sizeof *all) != 0) {
                fprintf(stderr, "%s: rows %lu + %lu: status %d, shape %lu x %lu\n", path,
                        (unsigned long)row0, (unsigned long)nrows, s, (unsigned long)n2,
                        (unsigned long)d2);
                bad++;
            }
            free(part);
            part = NULL;
            if (nrows == n - row0) break;
        }
    /* past the end: NPY_EINVAL, nothing allocated, the shape still told */
    s = npy_read_rows_file(path, n, 1, &part, &n2, &d2, &info);
    if (s != NPY_EINVAL || part || info.shape[0] != n) {
        fprintf(stderr, "%s: slice past the end: status %d\n", path, s);
        bad++;
    }
    free(all);
    if (bad) return 1;
    printf("ok %s: %lu slices of %lu x %lu\n", path, (unsigned long)slices,
           (unsigned long)n, (unsigned long)d);
    return 0;
}

int main(int argc, char **argv)
{
    int i, fail = 0;
    for (i = 1; i < argc; i++) fail |= check(argv[i]);
    return fail;
}
