#!/usr/bin/python3
"""hrweights.py - the weights file of examples/train (weights.c), in numpy.

The container (little-endian):
    magic "HRWEIGHT" (8 bytes), u32 version (1), u32 count;
    per tensor: u32 name length, the name (no NUL), u32 ndim, ndim x u64
    dims, float32 data (C order);
    then a u64 FNV-1a (offset 0xcbf29ce484222325, prime 0x100000001b3) of
    every byte before it.
A network's file holds its parameters in the C trainer's build order
(conv{i}.w as OHWI, bn{i}.gamma, bn{i}.beta, fc.w, fc.b, head.w), then the
running statistics bn{i}.mean, bn{i}.var of every BN in order. The trainer's
--dump-step writes the same container with other names ("input", "labels",
"loss", "p:<name>", "g:<name>"; see check_step.py).

    import hrweights
    t = hrweights.read("w.hrw")          # dict name -> float32 array, file order
    hrweights.write("w.hrw", t)

As a program (train_ref.py's model is the torch side):
    hrweights.py show FILE
    hrweights.py to-torch IN.hrw OUT.pt --net N [--width F --depth D --stem-stride S]
    hrweights.py from-torch IN.pt OUT.hrw
to-torch builds train_ref.py's model for the arch options, loads the file
into it strictly (a file of another net is refused) and writes its
state_dict; from-torch takes such a state_dict (or a checkpoint dict
holding one under "model" / "state_dict").
"""
import argparse
import os
import struct
import sys

import numpy as np

MAGIC = b"HRWEIGHT"
VERSION = 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF


class WeightsError(ValueError):
    """A weights file that cannot be used; the message names the file."""


def fnv1a(data, h=FNV_OFFSET):
    """FNV-1a 64 of a bytes-like object (a sequential chain: a plain loop,
    about 10 MB/s)."""
    prime, mask = FNV_PRIME, _MASK
    for x in memoryview(data).cast("B"):
        h = ((h ^ x) * prime) & mask
    return h


def encode(tensors):
    """The file's bytes for an ordered mapping (or list of pairs) name -> array."""
    items = list(tensors.items()) if hasattr(tensors, "items") else list(tensors)
    parts = [MAGIC, struct.pack("<II", VERSION, len(items))]
    for name, a in items:
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
        nb = name.encode("utf-8")
        if a.ndim > 8:
            raise ValueError(f"tensor '{name}': {a.ndim} dimensions (at most 8)")
        parts.append(struct.pack("<I", len(nb)) + nb + struct.pack("<I", a.ndim))
        parts.append(struct.pack("<%dQ" % a.ndim, *a.shape))
        parts.append(a.astype("<f4", copy=False).tobytes())
    body = b"".join(parts)
    return body + struct.pack("<Q", fnv1a(body))


def write(path, tensors):
    """Write tensors (name -> array, in order) to path: aside, then renamed."""
    data = encode(tensors)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def decode(data, path="(bytes)"):
    """name -> float32 array (file order) from a file's bytes; WeightsError
    naming path and the problem for a wrong magic or version, a bad
    checksum, truncation or trailing bytes."""
    def refuse(why):
        raise WeightsError(f"refusing weights {path}: {why}")
    n = len(data)
    if n < 8 or data[:8] != MAGIC:
        refuse("not a weights file (bad magic)")
    if n < 24:
        refuse("truncated (shorter than a header and a checksum)")
    version, count = struct.unpack_from("<II", data, 8)
    if version != VERSION:
        refuse(f"version {version}, this reader reads {VERSION}")
    stored = struct.unpack_from("<Q", data, n - 8)[0]
    if fnv1a(memoryview(data)[:n - 8]) != stored:
        refuse("checksum mismatch (corrupt or truncated file)")
    end = n - 8
    pos = 16
    out = {}
    for i in range(count):
        if pos + 4 > end:
            refuse(f"truncated tensor header (tensor {i} of {count})")
        (nl,) = struct.unpack_from("<I", data, pos)
        if pos + 8 + nl > end:
            refuse(f"truncated tensor header (tensor {i} of {count})")
        name = bytes(data[pos + 4:pos + 4 + nl]).decode("utf-8", "replace")
        pos += 4 + nl
        (nd,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if nd > 8 or pos + 8 * nd > end:
            refuse(f"truncated tensor header ('{name}')")
        dims = struct.unpack_from("<%dQ" % nd, data, pos)
        pos += 8 * nd
        el = int(np.prod(dims, dtype=np.uint64)) if nd else 1
        if pos + 4 * el > end:
            refuse(f"truncated data ('{name}')")
        if name in out:
            refuse(f"tensor '{name}' twice")
        out[name] = np.frombuffer(data, "<f4", el, pos).astype(np.float32).reshape(dims)
        pos += 4 * el
    if pos != end:
        refuse("trailing bytes before the checksum")
    return out


def read(path):
    """name -> float32 array, in file order (see decode)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise WeightsError(f"cannot read weights {path}: {e.strerror}") from None
    return decode(data, path)


# ---- torch <-> file (the model is train_ref.py's) --------------------------

def state_dict_to_tensors(sd, path="(state_dict)"):
    """A train_ref.Net state_dict -> name -> array in the C file's order.
    Its buffer 'hr_order' lists the layers in build order (2 i: conv i,
    2 i + 1: BN i), which the names alone do not tell."""
    if "hr_order" not in sd:
        raise WeightsError(f"{path}: no 'hr_order' entry (not a train_ref.py model's state_dict)")
    out = {}

    def arr(k):
        if k not in sd:
            raise WeightsError(f"{path}: no '{k}' in the state_dict")
        return np.ascontiguousarray(sd[k].detach().cpu().float().numpy())
    codes = [int(v) for v in sd["hr_order"].tolist()]
    for code in codes:
        i = code // 2
        if code % 2 == 0:  # OIHW -> OHWI
            out[f"conv{i}.w"] = np.ascontiguousarray(arr(f"convs.{i}.weight").transpose(0, 2, 3, 1))
        else:
            out[f"bn{i}.gamma"] = arr(f"bns.{i}.weight")
            out[f"bn{i}.beta"] = arr(f"bns.{i}.bias")
    out["fc.w"] = arr("fc.weight")
    out["fc.b"] = arr("fc.bias")
    out["head.w"] = arr("head_w")
    for code in codes:
        if code % 2:
            out[f"bn{code // 2}.mean"] = arr(f"bns.{code // 2}.running_mean")
            out[f"bn{code // 2}.var"] = arr(f"bns.{code // 2}.running_var")
    return out


def tensors_to_state_dict(t, prefix=""):
    """name -> array (a file's; only names starting with prefix, which is
    dropped) -> the entries of a train_ref.Net state_dict (all but
    hr_order and num_batches_tracked). Unknown names raise WeightsError."""
    import torch
    sd = {}
    for name, a in t.items():
        if not name.startswith(prefix):
            continue
        n = name[len(prefix):]
        base, _, field = n.partition(".")
        x = torch.from_numpy(np.array(a, dtype=np.float32))
        if base.startswith("conv") and base[4:].isdigit() and field == "w" and x.dim() == 4:
            sd[f"convs.{int(base[4:])}.weight"] = x.permute(0, 3, 1, 2).contiguous()  # OHWI -> OIHW
        elif base.startswith("bn") and base[2:].isdigit() and field in ("gamma", "beta", "mean", "var"):
            key = {"gamma": "weight", "beta": "bias", "mean": "running_mean", "var": "running_var"}[field]
            sd[f"bns.{int(base[2:])}.{key}"] = x
        elif n == "fc.w":
            sd["fc.weight"] = x
        elif n == "fc.b":
            sd["fc.bias"] = x
        elif n == "head.w":
            sd["head_w"] = x
        else:
            raise WeightsError(f"tensor '{name}' is not a network tensor")
    return sd


def model_tensors(model, params=True, stats=True):
    """A train_ref.Net's tensors in the file's order (what --save-weights
    writes): parameters, then BN statistics."""
    t = state_dict_to_tensors(model.state_dict())
    return {k: v for k, v in t.items()
            if (stats if k.endswith(".mean") or k.endswith(".var") else params)}


def load_into(model, t, path="(weights)", prefix="", stats=True):
    """Load tensors t (a file's, names with prefix) into a train_ref.Net:
    the file must hold exactly the model's tensors (the statistics too
    unless stats is False), same names and shapes, any order; otherwise
    WeightsError naming path and the difference, and nothing is changed."""
    import torch
    want = model_tensors(model, stats=stats)
    have = {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)}
    if not stats:
        have = {k: v for k, v in have.items() if not (k.endswith(".mean") or k.endswith(".var"))}
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    if extra:
        raise WeightsError(f"refusing weights {path}: tensor '{prefix}{extra[0]}' is not in this network "
                           f"({len(have)} tensors, this network has {len(want)}: another --net, --width or "
                           "--depth?)")
    if missing:
        raise WeightsError(f"refusing weights {path}: no tensor '{prefix}{missing[0]}' "
                           f"({len(have)} tensors, this network has {len(want)})")
    for k, v in want.items():
        if tuple(have[k].shape) != tuple(v.shape):
            raise WeightsError(f"refusing weights {path}: tensor '{prefix}{k}' is {tuple(have[k].shape)}, "
                               f"this network's is {tuple(v.shape)}")
    sd = tensors_to_state_dict({prefix + k: v for k, v in have.items()}, prefix)
    with torch.no_grad():
        cur = model.state_dict()
        for k, v in sd.items():
            cur[k].copy_(v)


def _main(argv=None):
    ap = argparse.ArgumentParser(prog="hrweights.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("show", help="list a file's tensors")
    s.add_argument("file")
    s = sub.add_parser("to-torch", help="weights file -> torch state_dict (.pt)")
    s.add_argument("inp")
    s.add_argument("out")
    s.add_argument("--net", choices=["res", "res18", "mobile", "shuffle"], required=True)
    s.add_argument("--width", type=float, default=0.0)
    s.add_argument("--depth", type=int, default=0)
    s.add_argument("--stem-stride", type=int, default=0)
    s = sub.add_parser("from-torch", help="torch state_dict (.pt) -> weights file")
    s.add_argument("inp")
    s.add_argument("out")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "show":
            t = read(a.file)
            total = 0
            for name, x in t.items():
                total += x.size
                print(f"{name:24s} {'x'.join(map(str, x.shape)) or 'scalar':>18s}  "
                      f"mean {float(x.mean()) if x.size else 0:+.4g}  max|.| "
                      f"{float(np.abs(x).max()) if x.size else 0:.4g}")
            print(f"{len(t)} tensors, {total} floats, checksum ok")
            return 0
        import torch
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        if a.cmd == "to-torch":
            import train_ref
            t = read(a.inp)
            if "head.w" not in t or "fc.w" not in t:
                raise WeightsError(f"refusing weights {a.inp}: no fc.w / head.w (not a network's file)")
            arch = train_ref.arch_defaults(a.net, a.width, a.depth, a.stem_stride)
            m = train_ref.Net(arch, emb=t["head.w"].shape[1], classes=t["head.w"].shape[0])
            load_into(m, t, a.inp)
            sd = m.state_dict()
            torch.save(sd, a.out)
            print(f"wrote {a.out}: {len(sd)} state_dict entries ({train_ref.arch_str(arch)})")
            return 0
        if a.cmd == "from-torch":
            sd = torch.load(a.inp, map_location="cpu")
            if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
                sd = sd["state_dict"]
            elif isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
                sd = sd["model"]
            t = state_dict_to_tensors(sd)
            write(a.out, t)
            print(f"wrote {a.out}: {len(t)} tensors")
            return 0
    except WeightsError as e:
        print(f"hrweights: {e}", file=sys.stderr)
        return 1
    except (OSError, KeyError, ValueError) as e:
        print(f"hrweights: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(_main())
