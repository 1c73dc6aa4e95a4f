#!/usr/bin/python3
"""The PyTorch side of bench_slide_train: one training step of HIPT_LGP_FC (train mode, dropout
0.25, cross-entropy, loss / 32, backward, torch.optim.Adam lr 2e-4 weight_decay 1e-5) on one bag of
M = 38 regions, frozen ViT-4K on region features [M, 192] and fine-tuned on patch features
[M, 256, 384]; bags/s as the best of N steps after 2 warm-up steps, with the same thread count.

    HIPT_NUM_THREADS=2 /usr/bin/python3 bench/slide_train_torch.py [steps, default 10]
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_slide_model_fixture import HiptLgpFc  # noqa: E402
from make_slide_train_fixture import global_forward  # noqa: E402

M = 38


def bench(finetune, steps):
    torch.manual_seed(0)
    model = HiptLgpFc(2).train()
    if not finetune:
        for p in model.local_vit.parameters():
            p.requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-4, weight_decay=1e-5)
    x = torch.randn(M, 256, 384) if finetune else torch.randn(M, 192)
    y = torch.tensor([1])

    def step():
        logits = model(x)[0] if finetune else global_forward(model, x)
        loss = F.cross_entropy(logits, y) / 32
        loss.backward()
        opt.step()
        opt.zero_grad()

    for _ in range(2):
        step()
    best = float("inf")
    for _ in range(steps):
        t = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    threads = int(os.environ.get("HIPT_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for name, finetune in (("Frozen/38", False), ("Finetune/38", True)):
        s = bench(finetune, steps)
        print(f"{name}: {s * 1e3:.1f} ms/step, {1 / s:.2f} bags/s (torch {torch.__version__}, {threads} threads)")


if __name__ == "__main__":
    main()
