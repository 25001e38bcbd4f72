/* market.c - Market-1501 directory input (not yet). */
#include "train.h"
#include <stdio.h>
int rd_load_market(rd_data *d, const char *dir, size_t h, size_t w, int skip_bad)
{
    (void)d; (void)h; (void)w; (void)skip_bad;
    fprintf(stderr, "train: --data %s: Market-1501 input is not built in\n", dir);
    return -1;
}
