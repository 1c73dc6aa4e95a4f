"""Reference numbers for tests/test_heatmap.cpp: the HIPT attention-heatmap pipeline
(HIPT_4K/hipt_4k.py get_region_attention_heatmaps, one pass) rebuilt with numpy, scipy, matplotlib
OpenCV and Pillow on a small 2 x 3 patch region, so the C++ heatmap functions can be checked against the
libraries the reference calls.

Run: /usr/bin/python3 scripts/make_heatmap_fixture.py  (writes tests/data/heatmap_fixture.safetensors)
"""
import os

import cv2
import matplotlib
import matplotlib.colors
import numpy as np
import torch
from PIL import Image
from scipy.stats import rankdata

from safetensors_writer import write_safetensors

ROWS, COLS, SCALE, HEADS = 2, 3, 8, 6
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "heatmap_fixture.safetensors")


def light_jet():
    """The reference's cmap_map(lambda x: x / 2 + 0.5, jet): jet sampled (through its 256-entry
    table) at every segment break, lightened, rebuilt as a 1024-entry segmented colormap. A break
    is kept in a channel when the channel has it, or when lightening changed its value."""
    jet = matplotlib.cm.get_cmap("jet")
    seg = jet._segmentdata
    breaks = sorted({p[0] for key in ("red", "green", "blue") for p in seg[key]})
    old = np.array([jet(b)[:3] for b in breaks])
    new = old / 2 + 0.5
    cdict = {}
    for c, key in enumerate(("red", "green", "blue")):
        own = {p[0] for p in seg[key]}
        pts = [(b, new[k, c], new[k, c]) for k, b in enumerate(breaks) if b in own or new[k, c] != old[k, c]]
        cdict[key] = pts
    return matplotlib.colors.LinearSegmentedColormap("light_jet", cdict, 1024)


def rank(v):  # the reference's percentile rank
    return rankdata(v) * 100 / len(v)


def region_image(h, w):  # the same formula in the C++ test: no image data in the fixture
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((y * 7 + x * 13 + c * 50) % 256).astype(np.uint8)


def main():
    rng = np.random.default_rng(5)
    n = ROWS * COLS
    # Few distinct values, so ties are everywhere (rankdata 'average' must split them).
    # Stored as u8 levels (value = level / 64, level / 8) to keep the fixture small.
    patch_levels = rng.integers(0, 12, size=(n, HEADS, 256)).astype(np.uint8)
    region_levels = rng.integers(0, 4, size=(HEADS, n + 1, n + 1)).astype(np.uint8)
    patch_attention = (patch_levels / 64).astype(np.float32)
    region_attention = (region_levels / 8).astype(np.float32)

    cell = 16 // SCALE           # output pixels per ViT-256 token
    side = 256 // SCALE          # output pixels per patch
    h, w = ROWS * side, COLS * side
    head = 0

    # ViT-256: [CLS] row -> 16x16 token grid -> nearest upsample -> ranks within each patch ->
    # patches laid out row-major (concat_scores256).
    blocks = []
    for p in range(n):
        grid = patch_attention[p, head].reshape(16, 16)
        up = grid.repeat(cell, 0).repeat(cell, 1)
        blocks.append(rank(up.flatten()).reshape(side, side))
    ranks256 = np.concatenate([np.concatenate(blocks[r * COLS:(r + 1) * COLS], axis=1) for r in range(ROWS)])

    # ViT-4K: [CLS] row over the cells -> rows x cols grid -> nearest upsample -> ranks over the map.
    grid4k = region_attention[head, 0, 1:].reshape(ROWS, COLS)
    up4k = grid4k.repeat(side, 0).repeat(side, 1)
    ranks4k = rank(up4k.flatten()).reshape(h, w)

    cmap = light_jet()
    image = region_image(h, w)
    blends = {}
    for name, ranks in (("blend256", ranks256), ("blend4k", ranks4k)):
        colour = (cmap(ranks / 100) * 255)[:, :, :3].astype(np.uint8)
        blends[name] = cv2.addWeighted(colour, 0.5, image, 0.5, 0, image.copy())
    factorized = (ranks4k * 100 + ranks256 * 100) / 200 / 100
    colour = (cmap(factorized) * 255)[:, :, :3].astype(np.uint8)
    blends["blend_factorized"] = cv2.addWeighted(colour, 0.5, image, 0.5, 0, image.copy())

    # The colormap on a fine grid, exact break points and both ends included.
    xs = np.linspace(0, 1, 4097)
    lut = (cmap(xs) * 255)[:, :3].astype(np.uint8)

    # cv2.addWeighted for alpha 0.5 (ties: round half to even) on a = 0..255, b = 0, 2, ..., 254,
    # and for alpha 0.3 on b = 1, 4, ..., 253.
    a = np.repeat(np.arange(256), 256).astype(np.uint8).reshape(256, 256)
    b = np.tile(np.arange(256), 256).astype(np.uint8).reshape(256, 256)
    add05 = cv2.addWeighted(a[:, ::2], 0.5, b[:, ::2], 0.5, 0)
    add03 = cv2.addWeighted(a[:, 1::3], 0.3, b[:, 1::3], 0.7, 0)

    # The background: PIL's default resize (bicubic, antialiased) of the region, on the formula
    # image by 8 and on noise (negative lobes, clipping) by 4.
    pil8 = np.array(Image.fromarray(region_image(64, 96)).resize((12, 8)))
    noise = rng.integers(0, 256, size=(40, 56, 3)).astype(np.uint8)
    pil4 = np.array(Image.fromarray(noise).resize((14, 10)))

    t = torch.from_numpy
    write_safetensors(OUT, {
        "patch_levels_64": t(patch_levels), "region_levels_8": t(region_levels),
        "ranks256_head0": t(ranks256.astype(np.float32)), "ranks4k_head0": t(ranks4k.astype(np.float32)),
        "blend256_head0": t(blends["blend256"]), "blend4k_head0": t(blends["blend4k"]),
        "blend_factorized_head0": t(blends["blend_factorized"]),
        "light_jet_4097": t(lut), "add_weighted_05": t(add05), "add_weighted_03": t(add03),
        "pil_resize_by8": t(pil8), "noise": t(noise), "pil_resize_noise_by4": t(pil4),
    }, metadata={"rows": str(ROWS), "cols": str(COLS), "scale": str(SCALE),
                 "made_by": "scripts/make_heatmap_fixture.py", "matplotlib": matplotlib.__version__,
                 "opencv": cv2.__version__, "pillow": Image.__version__})
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
