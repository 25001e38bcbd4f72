#!/usr/bin/python3
"""train_torch.py - the throughput peer of build/train --bench: the trainer's
res18 preset (model.c: 3x3 stem stride 2, stages 64-128-256-512 x width of
`depth` basic blocks, zero-init last BN, GAP, FC to emb) with its CosFace
head (s 16, m 0.2, normalized rows) and SGD (momentum 0.9, L2 5e-4) in
PyTorch, channels_last, on random 64 x 32 images: images/s of a training
step (forward, loss, backward, optimizer) after 3 warm-up steps.

  /usr/bin/python3 bench/train_torch.py --threads 1 --steps 30 [--width 0.25 --depth 2]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def ch(c, width):
    return max(8, int(c * width / 8.0 + 0.5) * 8)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        nn.init.zeros_(self.b2.weight)
        self.sc = None
        if stride != 1 or cin != cout:
            self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (x if self.sc is None else self.sc(x)))


def res18(width, depth, emb):
    layers = [nn.Conv2d(3, ch(64, width), 3, 2, 1, bias=False), nn.BatchNorm2d(ch(64, width)), nn.ReLU()]
    cin = ch(64, width)
    for c, s in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for r in range(depth):
            layers.append(Block(cin, ch(c, width), s if r == 0 else 1))
            cin = ch(c, width)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, emb)]
    return nn.Sequential(*layers)


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
    net = res18(o.width, o.depth, o.emb).to(memory_format=torch.channels_last)
    head = nn.Parameter(0.01 * torch.randn(o.classes, o.emb))
    decay = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() > 1] + [head]
    rest = [p for n, p in net.named_parameters() if not (n.endswith("weight") and p.dim() > 1)]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}],
                          lr=0.01, momentum=0.9)
    x = torch.randn(o.batch, 3, h, w).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, o.classes, (o.batch,))
    onehot = F.one_hot(y, o.classes).float()
    for i in range(o.steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        cos = F.normalize(net(x)) @ F.normalize(head).t()
        loss = F.cross_entropy(16.0 * (cos - 0.2 * onehot), y)
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    print("train img/s: %.1f (%d steps of %d images after 3 warm-up steps; torch %s, %d threads)" % (
        o.steps * o.batch / dt, o.steps, o.batch, torch.__version__, torch.get_num_threads()))


if __name__ == "__main__":
    main()
