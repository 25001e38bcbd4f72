#!/usr/bin/env python3
"""tests/fuzz/market_dir_seeds.py - writes the seed corpus of
tests/fuzz/fuzz_market_dir.c into tests/fuzz/corpus/market_dir/ (run from the
repository root; standard library only). Each seed is a tree in the
harness's input format (see make_name / make_content / build_tree there):

  flags u8 (bits 0-2: a set missing, 3: skip_bad, 4-5: image size,
            6: a missing set is a file, 7: the root is a file)
  entries u8 (% 16), then per entry:
    where u8 (% 5: train, query, test, the root, train/nested)
    name:    kind u8 (bits 0-2 the form, bits 5-7 the extension), cam u8,
             seq u16, then per form: pid u16 + u8 (0, 1), u8 u8 (4),
             u16 (5), len u8 + bytes (6, 7)
    content: kind u8 (% 8), stock u8 (% 9), then per kind: count u8 +
             (u16 at, u8 xor) (2), u16 (3), count u8 + bytes (4),
             len u16 + bytes (5)
The stock images are the harness's (stb_image_write at start-up: 0-3 and
8 PNG, 4-6 JPEG, 7 BMP); raw contents below add PNGs of kinds stb's writer
does not make (16-bit, palette, grey + alpha, Adam7 interlaced)."""
import os
import struct
import zlib

OUT = "tests/fuzz/corpus/market_dir"


def u8(v): return struct.pack("<B", v & 255)
def u16(v): return struct.pack("<H", v & 65535)


def market(pid, cam=1, seq=1, frame=0, ext=0):
    return u8(0 | ext << 5) + u8(cam) + u16(seq) + u16(pid) + u8(frame)


def junk(cam=1, seq=1):
    return u8(2) + u8(cam) + u16(seq)


def distractor(cam=1, seq=1):
    return u8(3) + u8(cam) + u16(seq)


def odd(p, c, seq=1):  # form 4: pids[p], cams[c]
    return u8(4) + u8(1) + u16(seq) + u8(p) + u8(c)


def hidden(pid, seq=1):
    return u8(5) + u8(1) + u16(seq) + u16(pid)


def raw_name(s, ext=7):
    b = s.encode()
    return u8(6 | ext << 5) + u8(1) + u16(1) + u8(len(b)) + b


def stock(k):
    return u8(0) + u8(k)


def flipped(k, flips):
    return u8(2) + u8(k) + u8(len(flips) - 1) + b"".join(u16(a) + u8(x) for a, x in flips)


def cut(k, at):
    return u8(3) + u8(k) + u16(at)


def raw(b):
    return u8(5) + u8(0) + u16(len(b)) + b


def empty():
    return u8(6) + u8(0)


def directory():
    return u8(7) + u8(0)


def png(w, h, ctype, depth, rows, plte=b"", interlace=0):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + (chunk(b"PLTE", plte) if plte else b"") +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def raw_pngs():
    rgb16 = png(2, 2, 2, 16, b"".join(b"\0" + bytes(range(r * 12, r * 12 + 12)) for r in range(2)))
    pal = png(3, 2, 3, 8, b"\0\0\1\2\0\2\1\0", plte=bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]))
    ga = png(2, 3, 4, 8, b"".join(b"\0" + bytes([40 * r, 255, 40 * r + 9, 128]) for r in range(3)))
    # Adam7 on 2x2: pass 1 (0,0), pass 6 (1,0), pass 7 row 1 (0,1),(1,1)
    il = png(2, 2, 0, 8, b"\0\x10" + b"\0\x20" + b"\0\x30\x40", interlace=1)
    return [rgb16, pal, ga, il]


def tree(flags, entries):
    return u8(flags) + u8(len(entries)) + b"".join(u8(w) + n + c for w, n, c in entries)


T, Q, G, ROOT, NEST = 0, 1, 2, 3, 4
seeds = {}
good = [
    (T, market(2, 1, 1), stock(4)), (T, market(2, 2, 2), stock(0)), (T, market(5, 1, 3), stock(6)),
    (T, market(7, 3, 4), stock(7)), (T, junk(1, 5), stock(4)), (T, distractor(2, 6), stock(4)),
    (Q, market(2, 1, 7), stock(5)), (Q, market(5, 2, 8), stock(1)),
    (G, market(2, 3, 9), stock(2)), (G, market(5, 1, 10), stock(3)), (G, junk(2, 11), stock(8)),
    (G, distractor(1, 12), stock(4)),
]
seeds["good"] = tree(0, good)
seeds["good_16x8"] = tree(16, good)
seeds["good_3x5"] = tree(48, good)
for i, b in enumerate(raw_pngs()):
    seeds["raw_png_%d" % i] = tree(0, [(T, market(3), raw(b)), (Q, market(3, 2), raw(b)),
                                       (G, market(3, 3), raw(b))])
minimal = [(T, market(1), stock(0)), (Q, market(1, 2), stock(4)), (G, market(1, 3), stock(7))]
seeds["minimal"] = tree(0, minimal)
seeds["bad_image"] = tree(0, minimal + [(T, market(4, 1, 40), flipped(4, [(20, 0xff), (60, 0x80)]))])
seeds["bad_image_skip"] = tree(8, minimal + [(T, market(4, 1, 40), cut(4, 100)),
                                             (Q, market(9, 1, 41), empty())])
seeds["bad_name"] = tree(0, minimal + [(Q, raw_name("Thumbs_c1.jpg", 0), stock(0))])
seeds["bad_name_skip"] = tree(8, minimal + [(Q, odd(0, 0), stock(0)), (G, odd(4, 3), stock(0)),
                                            (T, odd(2, 1), stock(0))])
seeds["ignored"] = tree(0, minimal + [(T, hidden(3), stock(0)), (T, raw_name("readme.txt"), raw(b"hi")),
                                      (ROOT, market(3), stock(0)), (NEST, market(6), stock(0)),
                                      (G, market(4, 1, 2, 0, 6), raw(b"GIF89a"))])
seeds["dir_as_image"] = tree(0, minimal + [(G, market(8), directory())])
seeds["only_junk_train"] = tree(0, [(T, junk(), stock(0)), (T, distractor(), stock(0))] + minimal[1:])
seeds["empty_query"] = tree(0, [minimal[0], minimal[2]])
seeds["missing_query"] = tree(2, minimal)
seeds["query_is_file"] = tree(2 | 64, minimal)
seeds["root_is_file"] = tree(128, minimal)
seeds["extended"] = tree(0, minimal + [(G, market(6), u8(4) + u8(5) + u8(3) + b"abc")])

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(seeds), OUT))
