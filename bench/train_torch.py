#!/usr/bin/python3
"""train_torch.py - the throughput peer of build/train --bench: the PyTorch
twin's own network (examples/python/train_ref.py's Net: the trainer's res18
preset, layer for layer) with its CosFace head (s 16, m 0.2) and SGD
(momentum 0.9, L2 5e-4 on the same tensors), channels_last, on random
64 x 32 images: images/s of a training step (forward, loss, backward,
optimizer) after 3 warm-up steps. The twin's --bench does the same on a
real data directory; this one needs no data.

  /usr/bin/python3 bench/train_torch.py --threads 1 --steps 30 [--width 0.25 --depth 2]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "python"))

import torch  # noqa: E402

import train_ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--emb", type=int, default=64)
    ap.add_argument("--classes", type=int, default=400)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", default="64x32")
    o = ap.parse_args()
    torch.set_num_threads(o.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    h, w = (int(v) for v in o.size.split("x"))
    net = train_ref.Net(train_ref.arch_defaults("res18", o.width, o.depth), o.emb, o.classes, seed=1)
    net.to(memory_format=torch.channels_last)
    dec, nodec = net.decay_groups()
    opt = torch.optim.SGD([{"params": dec, "weight_decay": 5e-4}, {"params": nodec, "weight_decay": 0.0}],
                          lr=0.01, momentum=0.9)
    x = torch.randn(o.batch, 3, h, w).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, o.classes, (o.batch,))
    net.train()
    for i in range(o.steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        loss, _ = train_ref.head_loss("cos", 16.0, 0.2, 0.0, 0.0, net(x), net.head_w, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    print("train img/s: %.1f (%d steps of %d images after 3 warm-up steps; torch %s, %d threads)" % (
        o.steps * o.batch / dt, o.steps, o.batch, torch.__version__, torch.get_num_threads()))


if __name__ == "__main__":
    main()
