#!/usr/bin/python3
"""Writes tests/data/coords/clam_patches.h5: a patch-coordinate file laid out as CLAM's patching
(create_patches_fp.py -> WholeSlideImage.process_contours -> wsi_utils.save_hdf5) leaves it, for
io/coords' reader (tests/test_coords.cpp, ClamFixture).

The layout, as CLAM writes it: dataset `coords`, int64 [M, 2] (x, y level-0 corners), chunked one
row per chunk, maxshape (None, 2); the first contour's rows create it (mode 'w') with the patching
attributes, each later contour's rows are appended by resizing it (mode 'a', no attributes).

Run with Debian's Python (h5py): /usr/bin/python3 scripts/make_coords_fixture.py
"""
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "coords", "clam_patches.h5")

# Two contours' region corners of a 4096-pixel grid at level 0 (values the test states again).
CONTOURS = [
    np.array([[0, 0], [4096, 0], [0, 4096]], dtype=np.int64),
    np.array([[12288, 8192], [16384, 8192]], dtype=np.int64),
]
ATTRIBUTES = {  # the types CLAM's values have: Python ints, a float tuple, int tuples, str
    "patch_size": 4096,
    "patch_level": 0,
    "downsample": (1.0, 1.0),
    "downsampled_level_dim": tuple(np.array((46000, 32914))),
    "level_dim": (46000, 32914),
    "name": "fixture-slide",
    "save_path": "RESULTS_DIRECTORY/patches",
}


def append_rows(path, rows, first):
    with h5py.File(path, "w" if first else "a") as f:
        if first:
            d = f.create_dataset("coords", shape=rows.shape, maxshape=(None, 2), chunks=(1, 2), dtype=rows.dtype)
            d[:] = rows
            for k, v in ATTRIBUTES.items():
                d.attrs[k] = v
        else:
            d = f["coords"]
            d.resize(len(d) + len(rows), axis=0)
            d[-len(rows):] = rows


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    for i, rows in enumerate(CONTOURS):
        append_rows(OUT, rows, i == 0)
    with h5py.File(OUT, "r") as f:
        d = f["coords"]
        print(OUT, d.shape, d.dtype, d.chunks, d.maxshape, dict(d.attrs))


if __name__ == "__main__":
    main()
