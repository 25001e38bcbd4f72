#!/usr/bin/python3
"""make_glyphset.py - a real-image re-identification data set from typefaces.

Identities are CJK characters, cameras are typefaces from Debian font
packages (one face per camera, each with its own rendering style), images
are 64 x 128 JPEGs in the Market-1501 layout that examples/train/market.c
reads:

    OUT/bounding_box_train/PPPP_cCs1_FFFFFF_NN.jpg   training identities
    OUT/query/...                                    one per test id and camera
    OUT/bounding_box_test/...                        the rest, distractors
                                                     (0000) and junk (-1)
    OUT/glyphset.tsv                                 person id -> character

Same options and seed -> byte-identical files (on the same Debian release:
FreeType, Pillow and libjpeg render and encode them). See scripts/glyphset.md.

    /usr/bin/python3 scripts/make_glyphset.py --out /tmp/glyphs
    /usr/bin/python3 scripts/make_glyphset.py --out /tmp/glyphs-quick --quick
"""
import argparse
import io
import os
import re
import sys
import time

# camera -> typeface. Paths are Debian 12's; the package is what apt installs.
FONTS = [
    # (camera, face, path, ttc index, package)
    (1, "AR PL UKai CN", "/usr/share/fonts/truetype/arphic/ukai.ttc", 0, "fonts-arphic-ukai"),
    (2, "AR PL KaitiM GB", "/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf", 0, "fonts-arphic-gkai00mp"),
    (3, "AR PL UMing CN", "/usr/share/fonts/truetype/arphic/uming.ttc", 0, "fonts-arphic-uming"),
    (4, "IPAMincho", "/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf", 0, "fonts-ipafont-mincho"),
    (5, "HanaMinA", "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf", 0, "fonts-hanazono"),
    (6, "WenQuanYi Zen Hei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "fonts-wqy-zenhei"),
    (7, "WenQuanYi Micro Hei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, "fonts-wqy-microhei"),
    (8, "VL Gothic", "/usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf", 0, "fonts-vlgothic"),
]

# per-camera rendering style: background top/bottom colour, ink colour,
# stroke weight (-1 thinner, 0 as designed, 1..2 bolder, at render size),
# blur sigma, noise sigma, glyph aspect (height / width), JPEG quality
STYLES = {
    1: dict(bg=(224, 214, 188), bg2=(196, 184, 152), ink=(62, 36, 20), stroke=0, blur=0.5, noise=4, aspect=1.75, q=90),
    2: dict(bg=(172, 182, 198), bg2=(118, 128, 150), ink=(20, 30, 84), stroke=1, blur=0.8, noise=6, aspect=1.60, q=80),
    3: dict(bg=(112, 116, 128), bg2=(78, 80, 88), ink=(16, 16, 24), stroke=1, blur=0.6, noise=5, aspect=1.90, q=85),
    4: dict(bg=(188, 214, 188), bg2=(146, 178, 148), ink=(12, 42, 12), stroke=2, blur=1.0, noise=8, aspect=1.70, q=70),
    5: dict(bg=(244, 244, 244), bg2=(212, 212, 220), ink=(150, 22, 22), stroke=0, blur=0.4, noise=3, aspect=1.50, q=92),
    6: dict(bg=(150, 140, 120), bg2=(108, 100, 90), ink=(58, 50, 40), stroke=-1, blur=0.7, noise=7, aspect=1.85, q=75),
    7: dict(bg=(232, 204, 70), bg2=(196, 170, 60), ink=(62, 32, 82), stroke=-1, blur=0.9, noise=5, aspect=1.65, q=85),
    8: dict(bg=(160, 210, 222), bg2=(204, 232, 236), ink=(30, 30, 30), stroke=0, blur=1.2, noise=4, aspect=1.80, q=80),
}

# per-image jitter (the calibration in scripts/glyphset.md was measured
# with these values)
JITTER = dict(
    rot=4.0,            # rotation, degrees (+-)
    dx=3.0, dy=6.0,     # shift, px (+-)
    width=(0.80, 0.95), # glyph width / frame width
    aspect=0.08,        # aspect jitter (+- fraction) around the camera's
    occluder=0.15,      # probability of an occluding rectangle
    neighbour=0.1,      # probability of a neighbour glyph peeking in
    tint=10.0,          # background colour jitter (sigma, per channel)
    ink=14.0,           # ink colour jitter (sigma, per channel)
)

W, H = 64, 128        # Market-1501's crop size
SS = 2                # supersampling of the render
RENDER = 112          # font size (px) of the cached glyph masks
NOTDEF_PROBE = "\U0010FFFD"  # a private-use code point no CJK font maps
NAME_RE = re.compile(r"^-?\d+_c\d+s\d+_\d{6}_\d{2}\.jpg$")


def die(msg, code=2):
    sys.stderr.write("make_glyphset: " + msg + "\n")
    sys.exit(code)


def apt_line(pkgs):
    return "apt-get install -y " + " ".join(pkgs)


try:
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter, ImageFont
except ImportError as e:  # the message names the packages to install
    die("%s; install with: %s" % (e, apt_line(["python3-numpy", "python3-pil"] + sorted({f[4] for f in FONTS}))))


# ---------------------------------------------------------------- characters

def gb2312_level(level):
    """GB2312 hanzi of level 1 (3755 common, rows 16-55) or 2 (rows 56-87),
    in code order."""
    rows = range(0xB0, 0xD8) if level == 1 else range(0xD8, 0xF8)
    out = []
    for b1 in rows:
        for b2 in range(0xA1, 0xFF):
            try:
                out.append(bytes([b1, b2]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return out


def glyph_present(font, ch, notdef):
    """1 if the font draws ch: an ink box, and not the .notdef glyph."""
    m = font.getmask(ch)
    if m.getbbox() is None:
        return False
    return notdef is None or (m.size != notdef[0] or bytes(m) != notdef[1])


def covered(fonts, chars):
    """the chars every font draws (order kept)."""
    out = []
    probes = []
    for f in fonts:
        nd = f.getmask(NOTDEF_PROBE)
        probes.append((nd.size, bytes(nd)) if nd.getbbox() is not None else None)
    for ch in chars:
        if all(glyph_present(f, ch, p) for f, p in zip(fonts, probes)):
            out.append(ch)
    return out


# ------------------------------------------------------------------ rendering

class Renderer:
    def __init__(self, fonts):
        self.fonts = fonts  # camera -> ImageFont at RENDER px
        self.cache = {}

    def mask(self, ch, cam):
        """the glyph of ch in camera cam's face and stroke weight, cropped
        to its ink box: a float32 array in [0, 1]."""
        key = (ch, cam)
        m = self.cache.get(key)
        if m is not None:
            return m
        st = STYLES[cam]["stroke"]
        pad = RENDER // 4
        im = Image.new("L", (RENDER + 2 * pad, RENDER + 2 * pad), 0)
        ImageDraw.Draw(im).text((pad, pad), ch, font=self.fonts[cam], fill=255,
                                stroke_width=max(st, 0), stroke_fill=255)
        if st < 0:
            im = im.filter(ImageFilter.MinFilter(3))
        box = im.getbbox()
        if box is None:
            box = (0, 0, 1, 1)
        m = im.crop(box)
        self.cache[key] = m
        return m


def place(mask, cx, cy, gw, gh, rot_deg):
    """mask placed in an (SS*W) x (SS*H) frame: centre (cx, cy), size
    gw x gh (output px), rotated; returns float32 [0,1] of H x W."""
    mw, mh = mask.size
    t = np.deg2rad(rot_deg)
    c, s = np.cos(t), np.sin(t)
    sx, sy = mw / (gw * SS), mh / (gh * SS)
    a, b = c * sx, s * sx
    d, e = -s * sy, c * sy
    ox, oy = cx * SS, cy * SS
    x0 = mw / 2 - (a * ox + b * oy)
    y0 = mh / 2 - (d * ox + e * oy)
    big = mask.transform((W * SS, H * SS), Image.AFFINE, (a, b, x0, d, e, y0), resample=Image.BILINEAR)
    small = big.reduce(SS)
    return np.asarray(small, dtype=np.float32) / 255.0


def background(rng, st):
    """vertical gradient in the camera's colours, a per-image tint and a
    low-frequency texture: H x W x 3 float32."""
    top = np.array(st["bg"], np.float32) + rng.normal(0, JITTER["tint"], 3)
    bot = np.array(st["bg2"], np.float32) + rng.normal(0, JITTER["tint"], 3)
    g = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    bg = top * (1 - g) + bot * g
    bg = np.broadcast_to(bg, (H, W, 3)).copy()
    tex = rng.normal(0, 10, (4, 2)).astype(np.float32)
    tex = np.asarray(Image.fromarray(tex, mode="F").resize((W, H), Image.BILINEAR))
    bg += tex[:, :, None]
    return bg


def finish(rgb, rng, st):
    """blur, noise, 8-bit, JPEG bytes."""
    im = Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")
    sigma = st["blur"] * rng.uniform(0.5, 1.5)
    if sigma > 0.2:
        im = im.filter(ImageFilter.GaussianBlur(sigma))
    a = np.asarray(im, np.float32)
    a = a + rng.normal(0, st["noise"] * rng.uniform(0.5, 1.5), a.shape)
    im = Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8), "RGB")
    q = int(np.clip(st["q"] + rng.integers(-10, 11), 50, 95))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q, subsampling=2, optimize=False)
    return buf.getvalue()


def occlude(rgb, rng):
    """a solid or two-tone rectangle (a bag, a pole, another person's arm)."""
    ow = int(rng.integers(12, 40))
    oh = int(rng.integers(12, 48))
    x = int(rng.integers(-ow // 2, W - ow // 2))
    y = int(rng.integers(0, H - oh // 2))
    col = rng.uniform(0, 255, 3).astype(np.float32)
    x0, x1, y0, y1 = max(x, 0), min(x + ow, W), max(y, 0), min(y + oh, H)
    if x1 > x0 and y1 > y0:
        rgb[y0:y1, x0:x1] = col


def compose(rng, st, alpha_list):
    bg = background(rng, st)
    ink = np.clip(np.array(st["ink"], np.float32) + rng.normal(0, JITTER["ink"], 3), 0, 255)
    rgb = bg
    for a, scale in alpha_list:
        a = a[:, :, None] * scale
        rgb = rgb * (1 - a) + ink * a
    gain = rng.uniform(0.8, 1.2)
    rgb = (rgb - 128) * rng.uniform(0.8, 1.1) + 128 * gain
    return rgb


def render_person(r, rng, ch, cam, neighbours):
    """one image of identity ch seen by camera cam."""
    st = STYLES[cam]
    j = JITTER
    asp = st["aspect"] * rng.uniform(1 - j["aspect"], 1 + j["aspect"])
    gw = W * rng.uniform(*j["width"])
    gh = gw * asp
    if gh > H * 0.96:
        gw, gh = gw * H * 0.96 / gh, H * 0.96
    cx = W / 2 + rng.uniform(-j["dx"], j["dx"])
    cy = H / 2 + rng.uniform(-j["dy"], j["dy"])
    alphas = [(place(r.mask(ch, cam), cx, cy, gw, gh, rng.uniform(-j["rot"], j["rot"])), 1.0)]
    if neighbours and rng.random() < j["neighbour"]:  # a neighbour peeking in (top or bottom)
        other = neighbours[int(rng.integers(len(neighbours)))]
        ny = cy + (1 if rng.random() < 0.5 else -1) * gh * rng.uniform(0.75, 0.95)
        alphas.append((place(r.mask(other, cam), cx + rng.uniform(-12, 12), ny, gw, gh,
                             rng.uniform(-j["rot"], j["rot"])), rng.uniform(0.6, 1.0)))
    rgb = compose(rng, st, alphas)
    if rng.random() < j["occluder"]:
        occlude(rgb, rng)
    return finish(rgb, rng, st)


def render_junk(r, rng, cam, chars):
    """a bad detection: background only, a zoomed-in fragment, a garbled
    (tile-shuffled) glyph, or a glyph mostly out of the frame."""
    st = STYLES[cam]
    kind = int(rng.integers(4))
    ch = chars[int(rng.integers(len(chars)))]
    alphas = []
    if kind == 1:  # fragment: 3-5x too large
        gw = W * rng.uniform(3, 5)
        alphas.append((place(r.mask(ch, cam), W / 2 + rng.uniform(-60, 60), H / 2 + rng.uniform(-80, 80),
                             gw, gw * st["aspect"], rng.uniform(-20, 20)), 1.0))
    elif kind == 2:  # garbled: the glyph cut in 4 x 8 tiles, shuffled
        a = place(r.mask(ch, cam), W / 2, H / 2, W * 0.85, min(W * 0.85 * st["aspect"], H * 0.96), 0)
        tiles = [a[y:y + H // 8, x:x + W // 4] for y in range(0, H, H // 8) for x in range(0, W, W // 4)]
        order = rng.permutation(len(tiles))
        rows = [np.concatenate([tiles[order[i * 4 + j]] for j in range(4)], 1) for i in range(8)]
        alphas.append((np.concatenate(rows, 0), 1.0))
    elif kind == 3:  # mostly outside the frame
        gw = W * rng.uniform(0.8, 1.0)
        side = rng.integers(4)
        cx = W / 2 + (0 if side < 2 else (1 if side == 2 else -1) * W * 0.8)
        cy = H / 2 + (0 if side >= 2 else (1 if side == 0 else -1) * H * 0.75)
        alphas.append((place(r.mask(ch, cam), cx, cy, gw, gw * st["aspect"], rng.uniform(-10, 10)), 1.0))
    rgb = compose(rng, st, alphas)
    if rng.random() < 0.5:
        occlude(rgb, rng)
    return finish(rgb, rng, st)


# ---------------------------------------------------------------------- plan

def split_counts(rng, n, cams, min_per_cam):
    """n images over the cameras, at least min_per_cam each."""
    k = len(cams)
    n = max(n, k * min_per_cam)
    counts = np.full(k, min_per_cam)
    extra = rng.multinomial(n - k * min_per_cam, rng.dirichlet(np.full(k, 2.0)))
    return counts + extra


def main():
    ap = argparse.ArgumentParser(description="Market-1501-layout re-ID set of CJK glyphs: identities are "
                                             "characters, cameras are typefaces (Debian font packages).")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ids-train", type=int, default=None, help="training identities (400; --quick 40)")
    ap.add_argument("--ids-test", type=int, default=None, help="test identities (400; --quick 40)")
    ap.add_argument("--imgs", type=int, default=None, help="mean images per identity (15; --quick 8)")
    ap.add_argument("--distractors", type=int, default=None, help="gallery distractors, id 0000 (500; --quick 40)")
    ap.add_argument("--junk", type=int, default=None, help="gallery junk, id -1 (200; --quick 20)")
    ap.add_argument("--quick", action="store_true", help="a small set for tests (seconds)")
    ap.add_argument("--force", action="store_true", help="replace the images of an existing set in --out")
    a = ap.parse_args()
    t0 = time.time()
    q = a.quick
    n_tr = a.ids_train if a.ids_train is not None else (40 if q else 400)
    n_te = a.ids_test if a.ids_test is not None else (40 if q else 400)
    imgs = a.imgs if a.imgs is not None else (8 if q else 15)
    n_dis = a.distractors if a.distractors is not None else (40 if q else 500)
    n_junk = a.junk if a.junk is not None else (20 if q else 200)
    if n_tr < 1 or n_te < 1 or imgs < 4 or n_dis < 0 or n_junk < 0:
        die("need --ids-train, --ids-test >= 1, --imgs >= 4, --distractors, --junk >= 0", 1)
    if n_tr + n_te > 9999:
        die("at most 9999 identities (4-digit person ids)", 1)

    missing = sorted({f[4] for f in FONTS if not os.path.isfile(f[2])})
    if missing:
        die("font files missing; install with: " + apt_line(missing))
    fonts = {cam: ImageFont.truetype(path, RENDER, index=idx) for cam, _, path, idx, _ in FONTS}
    probe = {cam: ImageFont.truetype(path, 32, index=idx) for cam, _, path, idx, _ in FONTS}
    cams = sorted(fonts)

    # characters every face draws: GB2312 level 1 (common hanzi) first,
    # level 2 only when more are asked for
    need = n_tr + n_te + min(n_dis, 500) + 8
    root = np.random.SeedSequence([a.seed, 0x61796C67])  # "glya"
    rng = np.random.default_rng(root.spawn(1)[0])
    pool = []
    for level in (1, 2):
        cand = gb2312_level(level)
        cand = [cand[i] for i in rng.permutation(len(cand))]
        # check coverage only as far as needed (cheap for the default set)
        i = 0
        while len(pool) < need and i < len(cand):
            pool += covered([probe[c] for c in cams], cand[i:i + 512])
            i += 512
        if len(pool) >= need:
            break
    if len(pool) < n_tr + n_te + (1 if n_dis else 0):
        die("only %d characters in all faces: not enough for %d identities%s; ask for fewer"
            % (len(pool), n_tr + n_te, " and distractors" if n_dis else ""), 1)
    pool = pool[:need]
    id_chars = pool[:n_tr + n_te]
    rest = pool[n_tr + n_te:]           # distractors, junk and neighbours
    pids = np.arange(1, n_tr + n_te + 1)
    is_train = np.zeros(n_tr + n_te, bool)
    is_train[rng.permutation(n_tr + n_te)[:n_tr]] = True

    # output
    subs = ["bounding_box_train", "query", "bounding_box_test"]
    for s in subs:
        d = os.path.join(a.out, s)
        if os.path.isdir(d):
            old = [f for f in os.listdir(d) if not f.startswith(".")]
            if old and not a.force:
                die("%s is not empty (%d files); --force replaces the set" % (d, len(old)), 1)
            for f in old:
                p = os.path.join(d, f)
                if NAME_RE.match(f) and os.path.isfile(p):
                    os.remove(p)
                else:
                    die("%s: not a file of this set; remove it by hand" % p, 1)
        os.makedirs(d, exist_ok=True)

    r = Renderer(fonts)
    frame = {c: 0 for c in cams}
    counts = {s: 0 for s in subs}
    written = set()

    def write(sub, pid, cam, data, k):
        frame[cam] += 1 + int(frng.integers(0, 40))
        name = ("-1" if pid < 0 else "%04d" % pid) + "_c%ds1_%06d_%02d.jpg" % (cam, frame[cam], k % 100)
        assert name not in written
        written.add(name)
        with open(os.path.join(a.out, sub, name), "wb") as f:
            f.write(data)
        counts[sub] += 1

    frng = np.random.default_rng(root.spawn(2)[1])
    n_cams_hi = min(6, len(cams))
    neighbours = rest  # neighbours and junk come from outside the identities
    for i, (pid, ch) in enumerate(zip(pids, id_chars)):
        g = np.random.default_rng(np.random.SeedSequence([a.seed, 1, int(pid)]))
        k = int(g.integers(2, n_cams_hi + 1))
        mycams = sorted(int(c) for c in g.choice(cams, k, replace=False))
        n = int(round(imgs * g.uniform(0.7, 1.3)))
        per = split_counts(g, n, mycams, 1 if is_train[i] else 2)
        for cam, m in zip(mycams, per):
            for j in range(int(m)):
                data = render_person(r, g, ch, cam, neighbours)
                if is_train[i]:
                    write("bounding_box_train", int(pid), cam, data, j)
                else:
                    write("query" if j == 0 else "bounding_box_test", int(pid), cam, data, j)
    for i in range(n_dis):
        g = np.random.default_rng(np.random.SeedSequence([a.seed, 2, i]))
        ch = rest[i % len(rest)]
        cam = int(g.choice(cams))
        write("bounding_box_test", 0, cam, render_person(r, g, ch, cam, neighbours), 0)
    for i in range(n_junk):
        g = np.random.default_rng(np.random.SeedSequence([a.seed, 3, i]))
        cam = int(g.choice(cams))
        write("bounding_box_test", -1, cam, render_junk(r, g, cam, rest or id_chars), 0)

    with open(os.path.join(a.out, "glyphset.tsv"), "w", encoding="utf-8") as f:
        f.write("# make_glyphset.py --seed %d: pid, split, code point, character\n" % a.seed)
        for pid, ch, tr in zip(pids, id_chars, is_train):
            f.write("%04d\t%s\tU+%04X\t%s\n" % (pid, "train" if tr else "test", ord(ch), ch))
        f.write("# cameras: " + "; ".join("c%d %s (%s)" % (c, n, p) for c, n, _, _, p in FONTS) + "\n")

    dt = time.time() - t0
    print("glyphset: %s (seed %d)" % (a.out, a.seed))
    print("  identities: %d train, %d test; %d characters in use, each drawn by every face"
          % (n_tr, n_te, len(pool)))
    print("  images: train %d, query %d, gallery %d (incl. %d distractors, %d junk)"
          % (counts["bounding_box_train"], counts["query"], counts["bounding_box_test"], n_dis, n_junk))
    print("  cameras (typefaces):")
    for cam, name, path, _, pkg in FONTS:
        print("    c%d  %-20s %s" % (cam, name, pkg))
    print("  %.1f s" % dt)


if __name__ == "__main__":
    main()
