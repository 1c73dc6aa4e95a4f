#!/usr/bin/python3
"""PyTorch peer of bench/bench_embed.cpp: one 4096x4096 region through HIPT-4K, inference only.

    python bench/hipt4k_torch.py THREADS [MIN_SECONDS]

Prints one line per stage, "<name> <regions/s>":
  vit256_patches  ViT-256 over the region's 256 patches of 256x256, batches of 64
  vit4k_grid      ViT-4K on the 16x16 grid of [CLS] features
  region_encoder  the whole region from u8 pixels as HIPT_4K.forward does it (scale, normalise,
                  unfold into patches, ViT-256, grid, ViT-4K)
The modules are scripts/make_vit_fixtures.py's (imported, so the fixtures and this benchmark run one
definition). Random weights: values do not change the speed. MIN_SECONDS 0 (default): one timed
pass per stage after a short warm-up (ViT-4K, much faster, repeats for 3 s).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
min_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
os.environ.setdefault("OMP_NUM_THREADS", str(threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
os.environ.setdefault("MKL_NUM_THREADS", str(threads))

import torch  # noqa: E402

torch.set_num_threads(threads)
from make_vit_fixtures import VisionTransformer, VisionTransformer4K  # noqa: E402

REGION, PATCH, BATCH = 4096, 256, 64


def rate(fn, at_least=0.0):
    """Regions per second: fn() encodes one region; runs for max(MIN_SECONDS, at_least)."""
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= max(min_seconds, at_least):
            return n / elapsed


def main():
    torch.manual_seed(0)
    vit256, vit4k = VisionTransformer().eval(), VisionTransformer4K().eval()
    side = REGION // PATCH
    batch = torch.rand(BATCH, 3, PATCH, PATCH) * 2 - 1
    grid = torch.rand(1, 384, side, side) * 2 - 1
    region = torch.randint(0, 256, (REGION, REGION, 3), dtype=torch.uint8)

    def patches_pass():
        for _ in range(side * side // BATCH):
            vit256(batch, False)

    def encode():
        x = region.permute(2, 0, 1).float().div(255)
        x = ((x - 0.5) / 0.5).unsqueeze(0)
        p = x.unfold(2, PATCH, PATCH).unfold(3, PATCH, PATCH)  # [1, 3, rows, cols, 256, 256]
        p = p.permute(0, 2, 3, 1, 4, 5).reshape(side * side, 3, PATCH, PATCH)
        feats = torch.cat([vit256(p[i:i + BATCH], False)[0] for i in range(0, side * side, BATCH)])
        return vit4k(feats.reshape(side, side, 384).permute(2, 0, 1).unsqueeze(0), False)[0]

    with torch.no_grad():
        vit256(batch, False)  # warm-up
        vit4k(grid, False)
        print(f"vit256_patches {rate(patches_pass):.5f}", flush=True)
        print(f"vit4k_grid {rate(lambda: vit4k(grid, False), 3.0):.5f}", flush=True)  # ~0.1 s: repeat
        print(f"region_encoder {rate(encode):.5f}", flush=True)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}", file=sys.stderr)


if __name__ == "__main__":
    main()
