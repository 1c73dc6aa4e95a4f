#!/usr/bin/python3
"""Writes tests/data/safetensors_py.safetensors with a writer of our own (struct + numpy, no
safetensors package), so the C++ reader is checked against bytes it did not write itself.

    /usr/bin/python3 scripts/make_safetensors_fixture.py

Values come from formulas the test rebuilds: element i of every tensor is (i * 3 - 5) in its dtype
(bool: i % 3 == 0; u8: (i * 3 - 5) mod 256). bf16 is float32 with the low 16 bits cut (exact here).
The header is written with keys in an unsorted order, spaces before the JSON and padded to 8.
"""
import json
import pathlib
import struct

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "safetensors_py.safetensors"


def values(n):
    return np.arange(n, dtype=np.int64) * 3 - 5


def main():
    specs = [  # name, dtype, shape
        ("a.f64", "F64", [2, 2]),
        ("b.f32", "F32", [2, 3]),
        ("c.i64", "I64", [3]),
        ("d.i32", "I32", [2, 1]),
        ("e.f16", "F16", [5]),
        ("f.bf16", "BF16", [2, 2]),
        ("g.u8", "U8", []),
        ("h.bool", "BOOL", [7]),
        ("i.empty", "F32", [0, 4]),
    ]
    header, data = {}, b""
    for name, dt, shape in specs:
        n = int(np.prod(shape)) if shape else 1
        v = values(n)
        raw = {
            "F64": lambda: v.astype("<f8").tobytes(),
            "F32": lambda: v.astype("<f4").tobytes(),
            "I64": lambda: v.astype("<i8").tobytes(),
            "I32": lambda: v.astype("<i4").tobytes(),
            "F16": lambda: v.astype("<f2").tobytes(),
            "BF16": lambda: (v.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes(),
            "U8": lambda: (v % 256).astype("u1").tobytes(),
            "BOOL": lambda: (np.arange(n) % 3 == 0).astype("u1").tobytes(),
        }[dt]()
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    header["__metadata__"] = {"format": "pt", "writer": "make_safetensors_fixture.py"}
    items = list(header.items())[::-1]  # reverse order: the reader must not depend on it
    text = ("  " + json.dumps(dict(items))).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    OUT.write_bytes(struct.pack("<Q", len(text)) + text + data)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
