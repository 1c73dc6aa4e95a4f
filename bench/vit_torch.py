#!/usr/bin/python3
"""PyTorch peer of bench/bench_vit.cpp: ViT-256 (vit_small, patch 16), batch 16 of 256-px patches,
inference forward (no_grad) and one training step (forward, MSE on [CLS], backward, AdamW).

    python bench/vit_torch.py THREADS [MIN_SECONDS]

Prints one line per benchmark: "<name> <img/s>". The model is the same module as in
scripts/make_vit_fixtures.py (imported from there, so both stay one definition).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
min_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
os.environ.setdefault("OMP_NUM_THREADS", str(threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
os.environ.setdefault("MKL_NUM_THREADS", str(threads))

import torch  # noqa: E402

torch.set_num_threads(threads)
from make_vit_fixtures import VisionTransformer  # noqa: E402

BATCH = 16


def rate(fn):
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and n >= 2:
            return BATCH * n / elapsed


def main():
    torch.manual_seed(0)
    x = torch.rand(BATCH, 3, 256, 256) * 2 - 1
    model = VisionTransformer().eval()
    with torch.no_grad():
        fwd = rate(lambda: model(x, False))
    print(f"forward {fwd:.3f}", flush=True)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.04)
    target = torch.zeros(BATCH, 384)

    def step():
        opt.zero_grad()
        cls, _ = model(x, False)
        loss = ((cls - target) ** 2).mean()
        loss.backward()
        opt.step()

    print(f"train_step {rate(step):.3f}", flush=True)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}", file=sys.stderr)


if __name__ == "__main__":
    main()
