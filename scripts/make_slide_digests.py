#!/usr/bin/python3
"""Writes tests/data/slide_digests.txt: sha256[:16] of the RGBA bytes of every level of the two
samples OpenSlide 3.4.1 decodes wrongly (boxes.tiff levels 2-3, yb10kx5k.zstd.tiff's edge tiles),
from the oracles SOURCES.md names: tifffile for boxes.tiff (deflate), `vips tiffload` for the
ZSTD file (Debian's tifffile has no ZSTD). Run with /usr/bin/python3 from the repository root."""
import hashlib
import os
import subprocess
import sys
import tempfile

import numpy as np
import tifffile

SAMPLES = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'wsi-samples')
OUT = os.path.join(os.path.dirname(__file__), '..', 'tests', 'data', 'slide_digests.txt')


def rgba(rgb):
    a = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    return np.ascontiguousarray(np.concatenate([rgb[..., :3], a], axis=2))


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a, np.uint8).tobytes()).hexdigest()[:16]


def main():
    lines = ['# sha256[:16] of whole-level RGBA bytes; made by scripts/make_slide_digests.py']
    with tifffile.TiffFile(os.path.join(SAMPLES, 'boxes.tiff')) as t:
        for i, page in enumerate(t.pages):
            lines.append(f'boxes.tiff level{i} {digest(rgba(page.asarray()))}')
    yb = os.path.join(SAMPLES, 'yb10kx5k.zstd.tiff')
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(5):
            raw = os.path.join(tmp, f'l{i}.v')
            subprocess.run(['vips', 'tiffload', yb, raw, '--page', str(i)], check=True)
            w = int(subprocess.check_output(['vipsheader', '-f', 'width', raw]))
            h = int(subprocess.check_output(['vipsheader', '-f', 'height', raw]))
            bands = int(subprocess.check_output(['vipsheader', '-f', 'bands', raw]))
            out = os.path.join(tmp, f'l{i}.raw')
            subprocess.run(['vips', 'rawsave', raw, out], check=True)
            a = np.fromfile(out, np.uint8).reshape(h, w, bands)
            lines.append(f'yb10kx5k.zstd.tiff level{i} {digest(rgba(a))}')
    with open(OUT, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    sys.exit(main())
