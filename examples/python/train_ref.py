#!/usr/bin/python3
"""train_ref.py - the PyTorch twin of examples/train (build/train --data DIR).

The same backbones (model.c: the same layers in the same order, so the
weights file of hrweights.py / train.c --init / --save-weights moves
between the two), the same margin heads (hr_head_loss), optimizer and
schedule, augmentation, samplers (the library's own batch builders through
the Python binding, with the same generators and seeds) and evaluation
(Market-1501 protocol, plus the hardest tenth of the test identities), on
the same Market-layout directory; it prints the same final lines:

    test (all): rank-1 ..%  rank-5 ..%  rank-10 ..%  mAP ..%  (N queries)
    test (hardest tenth): ...
    train time X s

    /usr/bin/python3 examples/python/train_ref.py --data DIR [build/train's options]
    /usr/bin/python3 examples/python/train_ref.py --data DIR --bench 20 --threads 1

The two runs start the same: the initial weights are model.c's bit for bit
(Net.init_like_c: the same xoshiro256** draws and Box-Muller; --torch-init
uses torch's generator instead, faster for wide nets), and every sampler's
indices come from the same generator streams as train.c's (r_sample seeded
with --seed, r_aug = r_sample jumped; the library's batch builders through
the binding, the same calls in the same order), so the first batch (images,
flips, labels) is the C trainer's bit for bit; the images are decoded by
stb_image itself (libstb0) and area-resized with the C rounding. From there
the weights differ in the last bits (other summation orders) and so do the
difficulties: the samplers that read them (hard, prop, hardpk, hardepoch)
drift apart after a while; shuffle, pk and uniform-prop never read the
weights and keep drawing the C trainer's batches.

Needs the shared library (make lib, or $HARDREID_LIB; build-ref/ is tried
too) and torch + numpy (Debian: /usr/bin/python3 with python3-torch).
"""
import argparse
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hrweights  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

NETS = ("res", "mobile", "shuffle", "res18")  # train.c's NET_NAMES order
SAMPLERS = ("shuffle", "pk", "hard", "prop", "hardpk", "uniform-prop", "hardepoch")
HEADS = ("softmax", "sphere", "cos", "arc")
BN_EPS = 1e-5
BN_MOMENTUM = 0.1
SHUFFLE_GROUPS = 4
MASK64 = 0xFFFFFFFFFFFFFFFF


def hardreid_lib():
    """The binding (python/hardreid through the shim), with the library
    found as _core.find_library does, else this tree's build-ref/ or build/."""
    if not os.environ.get("HARDREID_LIB"):
        root = os.path.join(HERE, "..", "..")
        pkg = os.path.join(root, "python", "hardreid", "libhardreid.so")
        if not os.path.exists(pkg) and not os.path.exists(os.path.join(root, "build", "libhardreid.so")):
            cand = os.path.join(root, "build-ref", "libhardreid.so")
            if os.path.exists(cand):
                os.environ["HARDREID_LIB"] = os.path.abspath(cand)
    import hardreid  # noqa: F401  (examples/python/hardreid.py: the package in place)
    return sys.modules["hardreid"]


# ---- the generator: xoshiro256** on the binding's Rng state ---------------

def rng_next_n(rng, n):
    """n outputs of hr_rng_next (the header's inline xoshiro256**, which the
    library does not export) on a hardreid.Rng, advancing its state."""
    s0, s1, s2, s3 = rng.getstate()
    out = [0] * n
    for k in range(n):
        x = (s1 * 5) & MASK64
        out[k] = ((((x << 7) | (x >> 57)) & MASK64) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK64
    rng.setstate((s0, s1, s2, s3))
    return out


def rng_below_py(rng, n):
    """hr_rng_below in Python on rng_next_n (a self-check of rng_next_n)."""
    if n == 0:
        return 0
    m = (rng_next_n(rng, 1)[0] & 0xFFFFFFFF) * n
    if (m & 0xFFFFFFFF) < n:
        t = (1 << 32) % n
        while (m & 0xFFFFFFFF) < t:
            m = (rng_next_n(rng, 1)[0] & 0xFFFFFFFF) * n
    return m >> 32


# ---- data: the Market-1501 layout as market.c reads it -------------------

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".PNG")


def parse_name(name):
    """market.c parse_name: 'PPPP_cC...' -> (pid, cam) or None."""
    if not name or not (name[0] == "-" or name[0].isdigit()):
        return None
    i = 1 if name[0] == "-" else 0
    j = i
    while j < len(name) and name[j].isdigit():
        j += 1
    if j == i:  # strtol read nothing
        return None
    p = int(name[:j])
    if len(name) < j + 3 or name[j] != "_" or name[j + 1] != "c" or not name[j + 2].isdigit():
        return None
    k = j + 2
    while k < len(name) and name[k].isdigit():
        k += 1
    c = int(name[j + 2:k])
    if p < -1 or p > 1000000 or c < 1 or c > 1000:
        return None
    return p, c


def area_resize(px, h, w):
    """market.c resize_into: area average of an H x W x 3 uint8 image to
    h x w, then (x / 255 - 0.45) / 0.25, every step rounded as the C float
    arithmetic rounds it."""
    H, W = px.shape[:2]
    y0 = np.arange(h) * H // h
    y1 = np.maximum((np.arange(h) + 1) * H // h, y0 + 1)
    x0 = np.arange(w) * W // w
    x1 = np.maximum((np.arange(w) + 1) * W // w, x0 + 1)
    ii = np.zeros((H + 1, W + 1, 3), np.int64)  # integral image: exact sums
    ii[1:, 1:] = px.astype(np.int64).cumsum(0).cumsum(1)
    s = (ii[y1][:, x1] - ii[y0][:, x1] - ii[y1][:, x0] + ii[y0][:, x0]).astype(np.float32)
    cnt = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).astype(np.float32)[:, :, None]
    v = s / cnt / np.float32(255.0) - np.float32(0.45)
    return (v / np.float32(0.25)).astype(np.float32)


class ImageSet:
    def __init__(self, img, pid, cam):
        self.img, self.pid, self.cam = img, pid, cam
        self.n = len(pid)


# -- decoding: stb_image itself (Debian's libstb0, the library build of the
# header market.c compiles in), so the pixels are the C trainer's; PIL where
# it is missing (JPEG then differs by a level here and there: libjpeg's IDCT
# and colour conversion are not stb_image's). market.c's checks run first:
# Debian 12's stb_image (2.27) trusts a JPEG DHT's code counts, a PNG chunk's
# length and the declared size, so a hostile file is refused before it.

MAX_IMAGE_BYTES = 64 << 20
MAX_IMAGE_PIXELS = 1 << 25


def jpeg_tables_ok(b):
    """market.c jpeg_tables_ok: False if a DHT segment defines > 256 codes."""
    n = len(b)

    def at(k):
        return b[k] if k < n else 0
    if n < 2 or b[0] != 0xFF or b[1] != 0xD8:
        return True
    i = 2
    while i + 1 < n:
        if b[i] != 0xFF:  # market.c steps byte by byte to the next 0xFF: find it
            i = b.find(b"\xff", i)
            if i < 0:
                break
            continue
        m = b[i + 1]
        if m == 0xFF:
            i += 1
            continue
        if m == 0xD9:
            break
        if m in (0x00, 0x01) or 0xD0 <= m <= 0xD8:
            i += 2
            continue
        if m == 0xC4:
            j = i + 4
            left = (at(i + 2) << 8 | at(i + 3)) - 2
            while left > 0:
                codes = sum(at(j + k) for k in range(1, 17))
                if codes > 256:
                    return False
                left -= 17 + codes
                j += 17 + codes
        i += 2 + (at(i + 2) << 8 | at(i + 3))
    return True


def png_chunks_ok(b):
    """market.c png_chunks_ok: False if a chunk claims more than the file has."""
    n = len(b)
    if n < 8 or b[:8] != b"\x89PNG\r\n\x1a\n":
        return True
    i = 8
    while i + 8 <= n:
        ln = int.from_bytes(b[i:i + 4], "big")
        if ln > n - i - 8:
            return False
        if b[i + 4:i + 8] == b"IEND":
            break
        i += 12 + ln
    return True


_stb = None


def stb_library():
    """libstb.so.0 through ctypes, or None."""
    global _stb
    if _stb is None:
        import ctypes
        try:
            lib = ctypes.CDLL("libstb.so.0")
            P = ctypes.POINTER(ctypes.c_int)
            lib.stbi_info_from_memory.restype = ctypes.c_int
            lib.stbi_info_from_memory.argtypes = [ctypes.c_char_p, ctypes.c_int, P, P, P]
            lib.stbi_load_from_memory.restype = ctypes.POINTER(ctypes.c_ubyte)
            lib.stbi_load_from_memory.argtypes = [ctypes.c_char_p, ctypes.c_int, P, P, P, ctypes.c_int]
            lib.stbi_image_free.argtypes = [ctypes.c_void_p]
            lib.stbi_failure_reason.restype = ctypes.c_char_p
            _stb = lib
        except OSError:
            _stb = False
    return _stb or None


def decode(path, decoder="stb"):
    """H x W x 3 uint8 pixels of an image file, as market.c decode_file gets
    them (decoder 'stb': stb_image; 'pil': PIL). ValueError: why not."""
    with open(path, "rb") as f:
        b = f.read(MAX_IMAGE_BYTES + 1)
    if len(b) > MAX_IMAGE_BYTES:
        raise ValueError("file larger than 64 MiB")
    if not jpeg_tables_ok(b):
        raise ValueError("corrupt JPEG: a Huffman table with more than 256 codes")
    if not png_chunks_ok(b):
        raise ValueError("corrupt PNG: a chunk longer than the file")
    lib = stb_library() if decoder == "stb" else None
    if lib is None:
        from PIL import Image
        import io
        with Image.open(io.BytesIO(b)) as im:
            if im.size[0] * im.size[1] > MAX_IMAGE_PIXELS:
                raise ValueError("more than 2^25 pixels")
            px = np.asarray(im.convert("RGB"), dtype=np.uint8)
        if px.size == 0:
            raise ValueError("an image of 0 pixels")
        return px
    import ctypes
    w, h, comp = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    if not lib.stbi_info_from_memory(b, len(b), ctypes.byref(w), ctypes.byref(h), ctypes.byref(comp)):
        raise ValueError((lib.stbi_failure_reason() or b"?").decode())
    if w.value * h.value > MAX_IMAGE_PIXELS:
        raise ValueError("more than 2^25 pixels")
    p = lib.stbi_load_from_memory(b, len(b), ctypes.byref(w), ctypes.byref(h), ctypes.byref(comp), 3)
    if not p:
        raise ValueError((lib.stbi_failure_reason() or b"?").decode())
    try:
        if w.value <= 0 or h.value <= 0:
            raise ValueError("an image of 0 pixels")
        return np.ctypeslib.as_array(p, (h.value, w.value, 3)).copy()
    finally:
        lib.stbi_image_free(p)


def load_dir(root, sub, which, h, w, skip_bad, counts, decoder="stb"):
    """which: 0 train, 1 query, 2 gallery (market.c load_dir)."""
    path = os.path.join(root, sub)
    try:
        names = [e for e in os.listdir(path) if not e.startswith(".") and os.path.splitext(e)[1] in IMAGE_EXTS
                 and "." in e]
    except OSError as e:
        sys.exit(f"train_ref: cannot open directory {path}: {e.strerror} (a Market-1501 directory has "
                 "bounding_box_train/, query/ and bounding_box_test/)")
    names.sort(key=os.fsencode)  # strcmp order
    imgs, pids, cams, dropped = [], [], [], 0
    for name in names:
        f = os.path.join(path, name)
        pc = parse_name(name)
        if pc is None:
            if not skip_bad:
                sys.exit(f"train_ref: {f}: name is not PPPP_cC..._NN.jpg (person, camera); "
                         "--skip-bad skips such files")
            counts[0] += 1
            continue
        if which in (0, 1) and pc[0] <= 0:
            dropped += 1
            continue
        try:
            px = decode(f, decoder)
        except Exception as e:  # noqa: BLE001 (PIL raises many kinds)
            if not skip_bad:
                sys.exit(f"train_ref: {f}: cannot decode image ({e}); --skip-bad skips such files")
            counts[0] += 1
            continue
        imgs.append(area_resize(px, h, w))
        pids.append(pc[0])
        cams.append(pc[1])
    if dropped:
        print(f"train_ref: {path}: {dropped} junk/distractor images left out (protocol)", file=sys.stderr)
    if not pids:
        sys.exit(f"train_ref: {path}: no usable images")
    return ImageSet(np.stack(imgs), np.array(pids, np.int32), np.array(cams, np.int32))


def load_market(root, h, w, skip_bad=False, decoder="stb"):
    """train (ids > 0), query (ids > 0), gallery (all), as market.c reads
    them (see decode: stb_image where libstb0 is installed, else PIL)."""
    if decoder == "stb" and stb_library() is None:
        print("train_ref: libstb.so.0 not found (Debian: libstb0): decoding with PIL, whose JPEG pixels "
              "differ from the C trainer's by a level here and there", file=sys.stderr)
        decoder = "pil"
    counts = [0]
    tr = load_dir(root, "bounding_box_train", 0, h, w, skip_bad, counts, decoder)
    q = load_dir(root, "query", 1, h, w, skip_bad, counts, decoder)
    g = load_dir(root, "bounding_box_test", 2, h, w, skip_bad, counts, decoder)
    if counts[0]:
        print(f"train_ref: {root}: skipped {counts[0]} bad files (--skip-bad)", file=sys.stderr)
    print(f"train_ref: {root}: {tr.n} train, {q.n} query, {g.n} gallery images", file=sys.stderr)
    return tr, q, g


# ---- the network (model.c) ---------------------------------------------

class Arch:
    def __init__(self, net, width, depth, stem_stride):
        self.net, self.width, self.depth, self.stem_stride = net, width, depth, stem_stride


def arch_defaults(net, width=0.0, depth=0, stem_stride=0):
    """train.c parse(): res18 0.25 / 2 / 2, the others 1 / 1 / 1."""
    r18 = net == "res18"
    return Arch(net, float(width) if width else (0.25 if r18 else 1.0), int(depth) if depth else (2 if r18 else 1),
                int(stem_stride) if stem_stride else (2 if r18 else 1))


def arch_str(a):
    return f"net {a.net} x{a.width:g} depth {a.depth} stem /{a.stem_stride}"


class Net(nn.Module):
    """model.c's net_build as a list of ops over numbered tensors (tensor 0
    the input; op k makes tensor k + 1): conv k x k (no bias, pad k / 2),
    BN, ReLU, add, channel shuffle; then global average pooling, FC (with
    bias) to emb, and the head's W (classes x emb). convs[i] is conv{i},
    bns[i] is bn{i} of the weights file; hr_order lists them in build order
    (2 i conv i, 2 i + 1 BN i)."""

    RES = ((16, 1), (32, 2), (64, 2))
    RES18 = ((64, 1), (128, 2), (256, 2), (512, 2))
    MOBILE = ((32, 1), (64, 2), (64, 1), (128, 2), (128, 1))
    SHUFFLE = ((24, 1), (48, 2), (48, 1), (96, 2), (96, 1))

    def __init__(self, arch, emb, classes, seed=None):
        super().__init__()
        self.arch, self.emb, self.classes = arch, emb, classes
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        self.ops = []          # (kind, module index / groups, in, in2)
        self.chan = [3]        # channels of each tensor
        self.zero = []         # BN i starts with gamma 0
        order = []
        self.width32 = float(np.float32(arch.width))  # train.c keeps width as a float

        def conv(x, cout, k, s, g):
            m = nn.Conv2d(self.chan[x], cout, k, s, k // 2, groups=g, bias=False)
            order.append(2 * len(self.convs))
            self.convs.append(m)
            return self._op("conv", len(self.convs) - 1, x, -1, cout)

        def bn(x, zero=False):
            order.append(2 * len(self.bns) + 1)
            self.bns.append(nn.BatchNorm2d(self.chan[x], eps=BN_EPS, momentum=BN_MOMENTUM))
            self.zero.append(bool(zero))
            return self._op("bn", len(self.bns) - 1, x, -1, self.chan[x])

        def relu(x):
            return self._op("relu", 0, x, -1, self.chan[x])

        def cbr(x, cout, k, s, g):
            return relu(bn(conv(x, cout, k, s, g)))

        def res_block(x, cout, s):
            y = cbr(x, cout, 3, s, 1)
            y = bn(conv(y, cout, 3, 1, 1), True)
            sc = x
            if s != 1 or self.chan[x] != cout:
                sc = bn(conv(x, cout, 1, s, 1))
            return relu(self._op("add", 0, y, sc, cout))

        def dws_block(x, cout, s):
            y = cbr(x, self.chan[x], 3, s, self.chan[x])  # depthwise
            return cbr(y, cout, 1, 1, 1)                  # pointwise

        def shuffle_unit(x, cout, s):
            cin, mid, g = self.chan[x], cout // 2, SHUFFLE_GROUPS
            y = cbr(x, mid, 1, 1, g)
            y = self._op("shuffle", g, y, -1, mid)
            y = bn(conv(y, mid, 3, s, mid))               # depthwise
            y = bn(conv(y, cout, 1, 1, g), s == 1 and cin == cout)
            sc = x
            if s != 1 or cin != cout:  # ShuffleNet v2's downsampling branch
                sc = bn(conv(bn(conv(x, cin, 3, s, cin)), cout, 1, 1, 1))
            return relu(self._op("add", 0, y, sc, cout))

        def stages(x, f, blocks):
            for c, s in blocks:
                for r in range(arch.depth):
                    x = f(x, self.ch(c), 1 if r else s)
            return x

        s = arch.stem_stride
        if arch.net == "res":
            x = stages(cbr(0, self.ch(16), 3, s, 1), res_block, self.RES)
        elif arch.net == "res18":
            x = stages(cbr(0, self.ch(64), 3, s, 1), res_block, self.RES18)
        elif arch.net == "mobile":
            x = stages(cbr(0, self.ch(16), 3, s, 1), dws_block, self.MOBILE)
        elif arch.net == "shuffle":
            x = stages(cbr(0, self.ch(24), 3, s, 1), shuffle_unit, self.SHUFFLE)
        else:
            raise ValueError(f"unknown net '{arch.net}' ({', '.join(NETS)})")
        self.fc = nn.Linear(self.chan[x], emb, bias=True)
        self.head_w = nn.Parameter(torch.empty(classes, emb))
        self.register_buffer("hr_order", torch.tensor(order, dtype=torch.int32))
        self.reset_parameters(seed)

    def ch(self, c):
        x = math.floor(c * self.width32 / 8.0 + 0.5) * 8.0
        return 8 if x < 8.0 else int(x)

    def _op(self, kind, a, x, x2, cout):
        self.ops.append((kind, a, x, x2))
        self.chan.append(cout)
        return len(self.chan) - 1

    def reset_parameters(self, seed=None):
        """model.c net_alloc's rules (He normal for conv / FC, FC bias 0, BN
        gamma 1 or 0, head W 0.01 N(0, 1)) from torch's generator."""
        g = torch.Generator().manual_seed(int(seed if seed is not None else 1) ^ 0x1417)
        with torch.no_grad():
            for m in self.convs:
                fan_in = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
            for b, z in zip(self.bns, self.zero):
                b.weight.fill_(0.0 if z else 1.0)
                b.bias.zero_()
                b.running_mean.zero_()
                b.running_var.fill_(1.0)
            self.fc.weight.copy_(torch.randn(self.fc.weight.shape, generator=g) *
                                 math.sqrt(2.0 / self.fc.in_features))
            self.fc.bias.zero_()
            self.head_w.copy_(0.01 * torch.randn(self.head_w.shape, generator=g))

    def init_like_c(self, seed):
        """model.c net_alloc exactly: the same generator (xoshiro256** seeded
        seed ^ 0x1417), the same Box-Muller draws in the same order (conv
        weights as OHWI, then FC, then the head), so the weights are the C
        trainer's bit for bit (libm's log and cos: Python's math module is
        glibc's, as the C program's). Pure Python: about 1 s per 0.5 M
        weights."""
        hr = hardreid_lib()
        r = hr.Rng((int(seed) ^ 0x1417) & MASK64)
        sizes = [(m, m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups) for m in self.convs]
        sizes.append((self.fc, self.fc.in_features))
        total = sum(m.weight.numel() for m, _ in sizes) + self.head_w.numel()
        x = rng_next_n(r, 2 * total)
        log, cos, sqrt = math.log, math.cos, math.sqrt
        tp = 6.283185307179586
        v = np.array([sqrt(-2.0 * log(((a >> 11) + 0.5) / 9007199254740992.0)) *
                      cos(tp * ((b >> 11) / 9007199254740992.0)) for a, b in zip(x[0::2], x[1::2])],
                     np.float64).astype(np.float32)
        k = 0
        with torch.no_grad():
            for m, fan_in in sizes:
                n = m.weight.numel()
                w = v[k:k + n] * np.float32(math.sqrt(2.0 / fan_in))
                k += n
                if m is self.fc:
                    m.weight.copy_(torch.from_numpy(w.reshape(m.weight.shape)))
                else:
                    o, i, kh, kw = m.weight.shape
                    m.weight.copy_(torch.from_numpy(w.reshape(o, kh, kw, i)).permute(0, 3, 1, 2))
            self.fc.bias.zero_()
            self.head_w.copy_(torch.from_numpy(np.float32(0.01) * v[k:k + self.head_w.numel()])
                              .reshape(self.head_w.shape))
            for b, z in zip(self.bns, self.zero):
                b.weight.fill_(0.0 if z else 1.0)
                b.bias.zero_()
                b.running_mean.zero_()
                b.running_var.fill_(1.0)

    def decay_groups(self):
        """(decayed, not decayed): conv weights, fc.w, head W / BN, fc.b."""
        dec = [m.weight for m in self.convs] + [self.fc.weight, self.head_w]
        nodec = [p for b in self.bns for p in (b.weight, b.bias)] + [self.fc.bias]
        return dec, nodec

    def backbone_params(self):
        return sum(p.numel() for n, p in self.named_parameters() if n != "head_w")

    def forward(self, x):
        """x: n x 3 x h x w (channels_last is fastest) -> n x emb."""
        t = [x]
        for kind, a, i, j in self.ops:
            if kind == "conv":
                y = self.convs[a](t[i])
            elif kind == "bn":
                y = self.bns[a](t[i])
            elif kind == "relu":
                y = F.relu(t[i])
            elif kind == "add":
                y = t[i] + t[j]
            else:  # channel shuffle: out channel j g + i = in channel i (c / g) + j
                n, c, hh, ww = t[i].shape
                y = (t[i].permute(0, 2, 3, 1).reshape(n, hh, ww, a, c // a).transpose(3, 4)
                     .reshape(n, hh, ww, c).permute(0, 3, 1, 2))
            t.append(y)
        return self.fc(t[-1].mean((2, 3)))


# ---- the heads (hr_head_loss) -------------------------------------------------

def sphereface_lambda(it):
    """hr_sphereface_lambda: max(5, 1000 / (1 + 0.12 iter)), as a float."""
    return float(np.float32(max(5.0, 1000.0 / (1.0 + 0.12 * it))))


def _margin(kind, m, lam, c):
    """hr__margin on a float64 tensor of cos: target logit f and df/dcos
    (before the scale), with the C code's clamps."""
    c = c.clamp(-1.0, 1.0)
    sn = torch.sqrt(1.0 - c * c).clamp_min(1e-6)
    if kind == "cos":
        return c - m, torch.ones_like(c)
    if kind == "arc":
        inside = c > math.cos(math.pi - m)
        f = torch.where(inside, c * math.cos(m) - sn * math.sin(m), c - m * math.sin(m))
        df = torch.where(inside, math.cos(m) + math.sin(m) * c / sn, torch.ones_like(c))
        return f, df
    if kind == "sphere":
        mi = int(m)
        k = torch.floor(mi * torch.acos(c) / math.pi).clamp(max=mi - 1)
        t0, t1 = torch.ones_like(c), c
        u0, u1 = torch.ones_like(c), 2.0 * c
        for _ in range(1, mi):
            t2, u2 = 2.0 * c * t1 - t0, 2.0 * c * u1 - u0
            t0, t1, u0, u1 = t1, t2, u1, u2
        T = c if mi == 1 else t1
        U = u0
        odd = torch.remainder(k, 2) == 1
        psi = torch.where(odd, -T, T) - 2.0 * k
        dpsi = torch.where(odd, -1.0, 1.0) * mi * U
        return (lam * c + psi) / (1.0 + lam), (lam + dpsi) / (1.0 + lam)
    return c, torch.ones_like(c)


class _Target(torch.autograd.Function):
    """The target logit s f(cos_y) (double, rounded to float as the C code
    does) with the C code's derivative s f'(cos_y)."""

    @staticmethod
    def forward(ctx, c, kind, s, m, lam):
        f, df = _margin(kind, m, lam, c.double())
        ctx.save_for_backward((s * df).to(c.dtype))
        return (s * f).to(c.dtype)

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        return g * d, None, None, None, None


def head_loss(kind, s, m, lam, eps, x, W, labels):
    """hr_head_loss: mean over the batch of the (label-smoothed, eps) softmax
    cross-entropy of the final logits; returns (loss, logits). softmax: x W^T
    (no normalization, s and m unused); the others: cos of the L2-normalized
    rows (a zero row: cos 0), logits s cos with the target s f(cos_y)."""
    y = labels.view(-1, 1)
    if kind == "softmax":
        z = x @ W.t()
    else:
        cos = F.normalize(x, dim=1, eps=1e-30) @ F.normalize(W, dim=1, eps=1e-30).t()
        tgt = _Target.apply(cos.gather(1, y), kind, float(s), float(m), float(lam))
        z = (float(s) * cos).scatter(1, y, tgt)
    C = z.shape[1]
    lse = torch.logsumexp(z, 1)
    loss = lse - (1.0 - eps) * z.gather(1, y).squeeze(1)
    if eps:
        loss = loss - eps / C * z.sum(1)
    return loss.mean(), z


# ---- options (train.c parse) ------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="train_ref.py", description="The PyTorch twin of build/train --data DIR.")
    A = ap.add_argument
    A("--data", required=True, help="Market-1501 layout: bounding_box_train/, query/, bounding_box_test/")
    A("--skip-bad", action="store_true")
    A("--decoder", choices=("stb", "pil"), default="stb",
      help="stb: stb_image via libstb.so.0, the C trainer's pixels (default; PIL if missing)")
    A("--net", choices=NETS, default="res18", help="backbone (res18, as train.c with --data)")
    A("--width", type=float, default=0.0)
    A("--depth", type=int, default=0)
    A("--stem-stride", type=int, default=0)
    A("--emb", type=int, default=128, help="128 (train.c with --data)")
    A("--head", choices=HEADS, default="cos")
    A("--s", type=float, default=None)
    A("--m", type=float, default=None)
    A("--ls", type=float, default=0.0, help="label smoothing")
    A("--opt", choices=("sgd", "adam"), default="adam", help="adam (train.c with --data)")
    A("--lr", type=float, default=None, help="4e-3 (adam), 0.1 (sgd): train.c with --data")
    A("--wd", type=float, default=5e-4)
    A("--momentum", type=float, default=0.9)
    A("--warmup", type=float, default=0.1)
    A("--sched", choices=("cos", "const"), default="const", help="const (train.c with --data)")
    A("--steps", type=int, default=1000, help="1000 (train.c with --data)")
    A("--P", type=int, default=16)
    A("--K", type=int, default=4)
    A("--sampler", choices=SAMPLERS, default="pk")
    A("--refresh", type=int, default=1)
    A("--weighting", choices=("linear", "shifted", "softmax"), default="linear")
    A("--temp", type=float, default=0.1)
    A("--eps", type=float, default=0.0)
    A("--nearest", type=int, choices=(0, 1), default=1)
    A("--seed", type=int, default=1)
    A("--threads", type=int, default=0)
    A("--size", default="64x32", help="HxW (64x32)")
    A("--init", default=None, help="weights file to start from (train.c --save-weights, hrweights.py)")
    A("--save-weights", default=None)
    A("--csv", default=None, help="per-step log: step,loss,acc,lr,c_mean,c_max,img_s")
    A("--eval-every", type=int, default=0)
    A("--quiet", action="store_true")
    A("--bench", type=int, default=0, help="3 warm-up steps, then N timed: print 'train img/s'")
    A("--device", default="cpu")
    A("--torch-init", action="store_true",
      help="initialize from torch's generator (fast) instead of the C trainer's exact weights")
    A("--no-channels-last", action="store_true", help="NCHW activations (default: channels_last)")
    o = ap.parse_args(argv)
    try:
        hh, ww = (int(v) for v in o.size.split("x"))
        if not (8 <= hh <= 512 and 8 <= ww <= 512):
            raise ValueError
    except ValueError:
        ap.error(f"bad value '{o.size}' for --size")
    o.h, o.w = hh, ww
    if o.lr is None:  # train.c parse() with --data
        o.lr = 4e-3 if o.opt == "adam" else 0.1
    if o.steps == 0 and not o.init:
        ap.error("--steps 0 evaluates an --init file")
    if o.bench:
        o.steps = o.bench + 3
    o.arch = arch_defaults(o.net, o.width, o.depth, o.stem_stride)
    if o.P < 2 and o.sampler == "hard":
        ap.error("mode A (--sampler hard) needs --P >= 2")
    if o.head in ("cos", "arc"):
        o.s = 16.0 if o.s is None else o.s
        o.m = (0.2 if o.head == "cos" else 0.3) if o.m is None else o.m
    elif o.head == "sphere":
        o.s = 16.0 if o.s is None else o.s
        o.m = 2.0 if o.m is None else o.m
    else:  # softmax: hr_head_default's s 1 (unused), m 0
        o.s = 1.0 if o.s is None else o.s
        o.m = 0.0 if o.m is None else o.m
    # the C trainer's options are floats: use those values
    for k in ("s", "m", "ls", "lr", "wd", "momentum", "warmup", "temp", "eps"):
        setattr(o, k, float(np.float32(getattr(o, k))))
    return o


def lr_at(o, step):
    """train.c lr_at: linear warmup from 0.1 lr over floor(warmup steps) steps,
    then cosine to 0 or constant (float32 like the C value)."""
    warm = math.floor(o.warmup * o.steps)
    if step < warm:
        return float(np.float32(o.lr * (0.1 + 0.9 * step / warm)))
    if o.sched == "const":
        return o.lr
    span = o.steps - warm
    f = (step - warm) / span if span > 0 else 1.0
    return float(np.float32(o.lr * 0.5 * (1.0 + math.cos(math.pi * f))))


# ---- the trainer -------------------------------------------------------------

class Trainer:
    """train.c's trainer: data, net, samplers, optimizer; the same calls into
    the library in the same order (trainer_init, refresh, build_table,
    next_batch, gather)."""

    def __init__(self, o, data=None):
        self.o = o
        self.hr = hardreid_lib()
        self.L = self.hr.library()
        self.train_set, self.query, self.gallery = data or load_market(o.data, o.h, o.w, o.skip_bad, o.decoder)
        tr = self.train_set
        B = o.P * o.K
        self.ix = self.hr.Identities(tr.pid)
        N = self.ix.nids
        if N < 2 or N < o.P:
            sys.exit(f"train_ref: {N} training identities, need at least max(2, P = {o.P})")
        if o.sampler in ("shuffle", "hardepoch") and B > self.ix.nsamples:
            sys.exit(f"train_ref: batch of {B} images, the training set has {self.ix.nsamples}")
        labels = self.ix.identity_labels
        self.cls = np.searchsorted(labels, tr.pid).astype(np.int64)
        self.device = torch.device(o.device)
        self.cl = not o.no_channels_last
        self.model = Net(o.arch, o.emb, N, seed=o.seed)
        if not o.init and not o.torch_init:
            self.model.init_like_c(o.seed)
        if o.init:
            try:
                hrweights.load_into(self.model, hrweights.read(o.init), o.init)
            except hrweights.WeightsError as e:
                sys.exit(f"train_ref: {e}")
        self.model.to(self.device)
        if self.cl:
            self.model.to(memory_format=torch.channels_last)
        dec, nodec = self.model.decay_groups()
        groups = [{"params": dec, "weight_decay": o.wd}, {"params": nodec, "weight_decay": 0.0}]
        if o.opt == "adam":
            self.opt = torch.optim.Adam(groups, lr=o.lr, betas=(0.9, 0.999), eps=1e-8)
        else:
            self.opt = torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, dampening=0, nesterov=False)
        self.c = np.zeros(N, np.float32)
        self.nearest = np.full(N, -1, np.int32)
        self.p = np.zeros(N, np.float32)
        self.alias = None
        self.alias_ok = False
        # perm starts as ix.sample (the samples grouped by identity), as train.c's
        self.perm = np.ctypeslib.as_array(self.ix.index.sample, (self.ix.nsamples,)).astype(np.uint32).copy()
        self.logu = np.full(tr.n, -1.0, np.float32)
        self.cursor = 0
        self.r_sample = self.hr.Rng(o.seed)
        self.r_aug = self.r_sample.copy()
        self.r_aug.jump()
        self.step = 0
        self.new_epoch()

    # -- sampling (train.c) --
    def shuffle_perm(self):
        perm, r = self.perm, self.r_sample
        for i in range(len(perm) - 1, 0, -1):
            j = r.below(i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        self.cursor = 0

    def new_epoch(self):
        if self.o.sampler != "hardepoch":
            self.shuffle_perm()
            return
        x = rng_next_n(self.r_sample, len(self.perm))  # u in (0, 1): log u < 0, finite
        u = (np.array([v >> 40 for v in x], np.float64) + 0.5) / 16777216.0
        self.logu[self.perm] = np.log(u).astype(np.float32)
        self.cursor = 0

    def epoch_batch(self, B):
        n = len(self.perm)
        if self.cursor + B > n:
            self.new_epoch()
        rest = self.perm[self.cursor:]
        w = self.p[self.cls[rest]]
        with np.errstate(divide="ignore", invalid="ignore"):
            key = np.where(w > 0, self.logu[rest] / np.where(w > 0, w, np.float32(1)),
                           np.float32(-np.inf)).astype(np.float32)
        order = np.lexsort((rest, -key))  # larger key first, ties: smaller sample
        self.perm[self.cursor:] = rest[order]
        b = self.perm[self.cursor:self.cursor + B].copy()
        self.cursor += B
        return b

    def uses_difficulty(self):
        return self.o.sampler in ("hard", "prop", "hardpk", "hardepoch")

    def refresh(self):
        W = self.model.head_w.detach().cpu().contiguous().numpy()
        c, near = self.L.difficulty(W)
        self.c = np.asarray(c, np.float32)
        self.nearest = np.asarray(near, np.int32)

    def build_table(self):
        o = self.o
        N = self.ix.nids
        if o.sampler == "uniform-prop":
            self.p = np.ones(N, np.float32)
        else:
            self.p = np.asarray(self.L.weights(self.c, o.weighting, o.temp, o.eps), np.float32)
        if o.sampler != "hardepoch":
            self.alias = self.hr.AliasTable(self.p)
        self.alias_ok = True

    def next_batch(self):
        o = self.o
        P, K = o.P, o.K
        B = P * K
        if o.sampler == "shuffle":
            if self.cursor + B > self.ix.nsamples:
                self.shuffle_perm()
            b = self.perm[self.cursor:self.cursor + B].copy()
            self.cursor += B
            return b
        if o.sampler == "pk":
            return np.asarray(self.ix.batch_pk(P, K, None, self.r_sample))
        if o.sampler == "hard":
            nk = K if o.nearest and P >= 2 else 0
            return np.asarray(self.ix.batch_hardest(self.c, K, B - K - nk, self.r_sample,
                                                    nearest=self.nearest, nearest_count=nk))
        if o.sampler in ("prop", "uniform-prop"):
            return np.asarray(self.ix.batch_proportional(B, self.alias, self.r_sample))
        if o.sampler == "hardpk":
            return np.asarray(self.ix.batch_pk(P, K, self.alias, self.r_sample))
        return self.epoch_batch(B)

    def gather(self, batch, augment=True):
        """the batch's images (random horizontal flips from r_aug), classes"""
        x = self.train_set.img[batch.astype(np.int64)]
        if augment:
            flips = np.array([v >> 63 for v in rng_next_n(self.r_aug, len(batch))], bool)
            x[flips] = x[flips][:, :, ::-1, :]
        return np.ascontiguousarray(x), self.cls[batch.astype(np.int64)]

    def to_input(self, x):
        t = torch.from_numpy(x).to(self.device).permute(0, 3, 1, 2)  # NHWC memory = channels_last
        return t if self.cl else t.contiguous()

    # -- one step --
    def lam(self):
        return sphereface_lambda(self.step) if self.o.head == "sphere" else 0.0

    def train_step(self, x, y, lr):
        o = self.o
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.model.train()
        emb = self.model(self.to_input(x))
        loss, z = head_loss(o.head, o.s, o.m, self.lam(), o.ls, emb, self.model.head_w,
                            torch.from_numpy(y).to(self.device))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        acc = float((z.detach().argmax(1).cpu().numpy() == y).mean())
        return float(loss.detach()), acc

    def train(self):
        o = self.o
        B, N = o.P * o.K, self.ix.nids
        log_every = o.steps // 10 if o.steps >= 10 else 1
        csv = open(o.csv, "w") if o.csv else None
        if csv:
            csv.write("step,loss,acc,lr,c_mean,c_max,img_s\n")
        t0 = tlast = time.perf_counter()
        loss_acc = acc_acc = 0.0
        nacc = imgs_since = 0
        cmean = cmax = 0.0
        have_stats = False
        t_bench = 0.0
        t_loop = t0
        while self.step < o.steps:
            lr = lr_at(o, self.step)
            if self.step % o.refresh == 0:
                self.refresh()
                if o.sampler in ("prop", "hardpk", "hardepoch"):
                    self.build_table()
            if self.step % o.refresh == 0 or not have_stats:
                have_stats = True
                cmean = float(np.cumsum(self.c / np.float32(N), dtype=np.float32)[-1])
                cmax = float(max(-1.0, float(self.c.max())))
            if not self.alias_ok and (o.sampler == "uniform-prop" or self.uses_difficulty()) and o.sampler != "hard":
                self.build_table()
            batch = self.next_batch()
            x, y = self.gather(batch)
            ts = time.perf_counter()
            loss, acc = self.train_step(x, y, lr)
            if self.step >= 3:
                t_bench += time.perf_counter() - ts
            self.step += 1
            imgs_since += B
            loss_acc += loss
            acc_acc += acc
            nacc += 1
            if csv:
                csv.write("%d,%.6f,%.4f,%.6g,%.5f,%.5f,%.1f\n" % (self.step, loss, acc, lr, cmean, cmax,
                                                                imgs_since / (time.perf_counter() - tlast + 1e-9)))
            if not o.quiet and (self.step % log_every == 0 or self.step == o.steps):
                tn = time.perf_counter()
                ips = imgs_since / (tn - tlast)
                eta = (o.steps - self.step) * B / ips if ips > 0 else 0.0
                print("step %d/%d loss %.4f acc %.3f %.0f img/s ETA %.0fs" %
                      (self.step, o.steps, loss_acc / nacc, acc_acc / nacc, ips, eta), file=sys.stderr, flush=True)
                loss_acc = acc_acc = 0.0
                nacc = 0
                tlast, imgs_since = tn, 0
            if o.bench and self.step == 3:
                t_loop = time.perf_counter()
            if o.eval_every and self.step % o.eval_every == 0 and self.step < o.steps:
                a, _, _ = self.evaluate()
                print("step %d " % self.step, end="")
                print_metrics("test", a)
        if csv:
            csv.close()
        self.train_s = time.perf_counter() - t0
        if o.bench and self.step > 3:
            n = self.step - 3
            print("train img/s: %.1f (%d steps of %d images after 3 warm-up steps)" % (n * B / t_bench, n, B))
            print("train_ref: the whole loop (sampling, gather, difficulty too): %.1f img/s"
                  % (n * B / (time.perf_counter() - t_loop)), file=sys.stderr)

    # -- evaluation (train.c evaluate) --
    @torch.no_grad()
    def embed(self, s, bs=128):
        self.model.eval()
        out = []
        for i in range(0, s.n, bs):
            out.append(self.model(self.to_input(np.ascontiguousarray(s.img[i:i + bs]))).float().cpu())
        f = torch.cat(out).numpy()
        return np.asarray(self.L.normalize_rows(np.ascontiguousarray(f)), np.float32)

    def evaluate(self):
        qf, gf = self.embed(self.query), self.embed(self.gallery)
        sim = qf @ gf.T
        q, g = self.query, self.gallery
        all_ = evaluate_on(q, g, sim, None)
        ids = []
        for p in q.pid:
            if p > 0 and p not in ids:
                ids.append(int(p))
        nid = len(ids)
        e = qf.shape[1]
        mean = np.zeros((max(nid, 1), e), np.float32)
        for j, pid in enumerate(ids):
            for f, s in ((qf, q), (gf, g)):
                for n in np.nonzero(s.pid == pid)[0]:
                    mean[j] += f[n]
        nsel = (nid + 9) // 10
        hard_c = 0.0
        if nid >= 2:
            c, _ = self.L.difficulty(np.ascontiguousarray(mean[:nid]))
            c = np.asarray(c, np.float32)
            sel = [ids[j] for j in np.argsort(-c, kind="stable")[:nsel]]
            hard_c = float(np.sort(c)[::-1][:nsel].mean())
            hard = evaluate_on(q, g, sim, sel)
        else:
            hard = Metrics()
        return all_, hard, hard_c


class Metrics:
    def __init__(self):
        self.r1 = self.r5 = self.r10 = self.map = 0.0
        self.nq = 0


def evaluate_on(q, g, sim, sel):
    """train.c evaluate_on: per query (id > 0, in sel if given, with a valid
    match) the gallery ranked by similarity (ties: gallery order), junk and
    same id + camera left out; rank-1/5/10 and mAP averaged over queries."""
    r = Metrics()
    for i in range(q.n):
        qp, qc = q.pid[i], q.cam[i]
        if qp <= 0 or (sel is not None and qp not in sel):
            continue
        good = (g.pid == qp) & (g.cam != qc)
        total = int(good.sum())
        if not total:
            continue
        order = np.argsort(-sim[i], kind="stable")
        gp, gc = g.pid[order], g.cam[order]
        keep = ~((gp == -1) | ((gp == qp) & (gc == qc)))
        hit = (gp[keep] == qp)
        ranks = np.nonzero(hit)[0] + 1  # 1-based among the kept
        first = int(ranks[0])
        ap = float(np.sum(np.arange(1, total + 1) / ranks[:total]))
        r.r1 += first <= 1
        r.r5 += first <= 5
        r.r10 += first <= 10
        r.map += ap / total
        r.nq += 1
    if r.nq:
        r.r1 /= r.nq
        r.r5 /= r.nq
        r.r10 /= r.nq
        r.map /= r.nq
    return r


def print_metrics(what, a):
    print("%s: rank-1 %.1f%%  rank-5 %.1f%%  rank-10 %.1f%%  mAP %.1f%%  (%d queries)" %
          (what, 100 * a.r1, 100 * a.r5, 100 * a.r10, 100 * a.map, a.nq), flush=True)


def main(argv=None):
    o = parse_args(argv)
    if o.threads:
        torch.set_num_threads(o.threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    t = Trainer(o)
    if not o.quiet:
        print("train_ref: training, %s (%d parameters), %d identities, %d images of %dx%d, sampler %s, "
              "head %s s %.3g m %.3g, %s lr %.3g, %d steps of %d x %d, torch %s, %d threads" %
              (arch_str(o.arch), t.model.backbone_params(), t.ix.nids, t.ix.nsamples, o.h, o.w, o.sampler,
               o.head, o.s, o.m, o.opt, o.lr, o.steps, o.P, o.K, torch.__version__, torch.get_num_threads()),
              file=sys.stderr)
    t.train()
    if o.save_weights:
        hrweights.write(o.save_weights, hrweights.model_tensors(t.model.cpu()))
        t.model.to(t.device)
    if o.bench:
        return 0
    a, h, _ = t.evaluate()
    print_metrics("test (all)", a)
    print_metrics("test (hardest tenth)", h)
    print("train time %.1f s" % t.train_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
