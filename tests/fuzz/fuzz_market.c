/* tests/fuzz/fuzz_market.c - the Market-1501 file-name parser of
   examples/train/market.c (parse_name, static there: the file is included
   here whole) on arbitrary bytes as a name (up to the first NUL).

   What market.c promises: "PPPP_cC..." -> (pid, cam), 0 if the name is not
   of that form; persons -1 (junk) .. 1000000, cameras 1 .. 1000. Checks:
   no crash or sanitizer report; the outputs untouched when the name is
   refused; the verdict and (pid, cam) those of an independent parser of
   that grammar (an optional '-', decimal digits, "_c", decimal digits,
   anything after); a pair the parser accepts survives the writer's name
   formats (rd_save_market's "%04d_c%ds1_%06zu_00.png", "-1_c%d...") back
   through the parser; has_image_ext does not crash. */
#include "../../examples/train/market.c"

#include "fuzz.h"

/* market.c calls rd_free (data.c); no data set is loaded here */
void rd_free(rd_data *d) { (void)d; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the grammar, independently: 1 and (pid, cam) or 0 */
static int ref_parse(const char *s, long *pid, long *cam) {
    int neg = 0, nd = 0;
    long p = 0, c = 0;
    if (*s == '-') { neg = 1; s++; }
    while (*s >= '0' && *s <= '9') {
        if (p <= 2000000) p = p * 10 + (*s - '0'); /* saturate: out of range anyway */
        s++; nd++;
    }
    if (!nd || s[0] != '_' || s[1] != 'c' || !(s[2] >= '0' && s[2] <= '9')) return 0;
    s += 2;
    while (*s >= '0' && *s <= '9') {
        if (c <= 2000000) c = c * 10 + (*s - '0');
        s++;
    }
    if (neg) p = -p;
    if (p < -1 || p > 1000000 || c < 1 || c > 1000) return 0;
    *pid = p;
    *cam = c;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *name = (char *)malloc(size + 1);
    int32_t pid = 0x5a5a5a5a, cam = 0x5a5a5a5a;
    long rp = 0, rc = 0;
    int ok, rok;
    if (!name) abort();
    memcpy(name, data, size);
    name[size] = 0;
    ok = parse_name(name, &pid, &cam);
    rok = ref_parse(name, &rp, &rc);
    (void)has_image_ext(name);
    FZ_CHECK(ok == 0 || ok == 1, "parse_name returned %d", ok);
    FZ_CHECK(ok == rok, "'%s': parse_name %d, the grammar says %d", name, ok, rok);
    if (!ok) {
        FZ_CHECK(pid == 0x5a5a5a5a && cam == 0x5a5a5a5a, "'%s' refused, outputs written", name);
    } else {
        char again[64];
        int32_t p2 = 0, c2 = 0;
        FZ_CHECK(pid == rp && cam == rc, "'%s': pid %d cam %d, the grammar says %ld %ld", name,
                 (int)pid, (int)cam, rp, rc);
        FZ_CHECK(pid >= -1 && pid <= 1000000 && cam >= 1 && cam <= 1000, "'%s': pid %d cam %d", name,
                 (int)pid, (int)cam);
        /* the writer's formats (save_dir) */
        if (pid < 0) snprintf(again, sizeof again, "-1_c%ds1_%06zu_00.png", (int)cam, size);
        else snprintf(again, sizeof again, "%04d_c%ds1_%06zu_00.jpg", (int)pid, (int)cam, size);
        FZ_CHECK(parse_name(again, &p2, &c2) == 1 && p2 == pid && c2 == cam && has_image_ext(again),
                 "'%s' (from '%s'): %d %d, want %d %d", again, name, (int)p2, (int)c2, (int)pid, (int)cam);
    }
    free(name);
    return 0;
}
