#!/usr/bin/python3
"""Writes the PyTorch parity fixtures read by tests/test_resize.cpp and tests/test_cast.cpp.

Run with Debian's interpreter, which has torch 1.13:  /usr/bin/python3 scripts/make_fixtures_rng_resize.py
The tests themselves never need Python; the outputs are committed under tests/data/.

tests/data/bicubic_torch.txt -- F.interpolate(x, scale_factor=(sh, sw), mode='bicubic', align_corners=False)
  '#' lines are comments. Each case is one header line
      case <name> <dtype f32|f64> <N> <C> <H> <W> <sh as C99 %a> <sw as %a> <OH> <OW>
  followed by N*C*OH*OW lines, the output in row-major order, each the raw IEEE bits in hex
  (8 digits for f32, 16 for f64). The input is not stored: element i (row-major flat index) is
      x[i] = ((37*i) % 101 - 50) / 32
  which is exact in both dtypes, so the C++ side rebuilds it bit for bit.

tests/data/cast_torch.txt -- torch's f32 -> bf16 and f32 -> f16 conversions (Tensor.to)
  '#' lines are comments; every other line is "<f32 bits> <bf16 bits> <f16 bits>" in hex.
"""
import os
import random
import struct

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")


def pattern(shape, dtype):
    n = 1
    for s in shape:
        n *= s
    v = [((37 * i) % 101 - 50) / 32 for i in range(n)]
    return torch.tensor(v, dtype=dtype).reshape(shape)


def bits(v, dtype):
    if dtype == torch.float32:
        return "%08x" % struct.unpack("<I", struct.pack("<f", v))[0]
    return "%016x" % struct.unpack("<Q", struct.pack("<d", v))[0]


def write_bicubic():
    # The HIPT positional-embedding rule (reference §2.1): scale = (n + 0.1) / 14 for an n-wide grid.
    cases = [
        ("hipt_14_to_16", torch.float32, (1, 8, 14, 14), (16 + 0.1) / 14, (16 + 0.1) / 14),
        ("hipt_14_to_6", torch.float32, (1, 8, 14, 14), (6 + 0.1) / 14, (6 + 0.1) / 14),
        ("nonsquare", torch.float32, (2, 3, 10, 12), 1.7, 0.55),
        ("nonsquare_f64", torch.float64, (1, 2, 5, 7), 2.3, 0.8),
    ]
    lines = ["# torch %s, F.interpolate(mode='bicubic', align_corners=False); format: scripts/make_fixtures_rng_resize.py"
             % torch.__version__]
    for name, dtype, shape, sh, sw in cases:
        x = pattern(shape, dtype)
        y = F.interpolate(x, scale_factor=(sh, sw), mode="bicubic", align_corners=False)
        dname = "f32" if dtype == torch.float32 else "f64"
        lines.append("case %s %s %d %d %d %d %s %s %d %d" % (name, dname, *shape, float.hex(sh), float.hex(sw),
                                                             y.shape[2], y.shape[3]))
        lines.extend(bits(v, dtype) for v in y.flatten().tolist())
    with open(os.path.join(OUT, "bicubic_torch.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def f32(b):
    return struct.unpack("<f", struct.pack("<I", b))[0]


def write_casts():
    vals = []
    # bf16 keeps the top 16 bits: ties have low half 0x8000.
    for hi in (0x3f80, 0x3f81, 0x4049, 0x7f7f, 0x0000, 0x0001, 0x8000, 0xbf80, 0xbf81, 0x007f, 0x0080):
        for lo in (0x7fff, 0x8000, 0x8001, 0x0000, 0xffff):
            vals.append((hi << 16) | lo)
    # f16 keeps 10 of 23 mantissa bits: ties have the dropped 13 bits = 0x1000.
    for base in (0x3f800000, 0x3f802000, 0x477fe000, 0x38800000, 0x38802000, 0xc0490000):
        for d in (0x0fff, 0x1000, 0x1001, 0x0000, 0x1fff):
            vals.append(base | d)
    # f16 subnormals (m · 2^-24) and their ties, largest finite, overflow boundary.
    for m in range(0, 12):
        vals.append(struct.unpack("<I", struct.pack("<f", m * 2.0 ** -25))[0])
    for v in (65504.0, 65519.0, 65519.99609375, 65520.0, 65536.0, 1e10, -65520.0, 2.0 ** -24, 2.0 ** -25,
              1.5 * 2.0 ** -25, 2.0 ** -26, 6.103515625e-05, 6.097555160522461e-05, 3.0e38, 3.4028234663852886e38,
              float("inf"), float("-inf"), 0.1, -0.1, 1.0 / 3, 3.14159265):
        vals.append(struct.unpack("<I", struct.pack("<f", v))[0])
    vals += [0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000, 0x00000001, 0x807fffff, 0x7f7fffff, 0x7f7f8000]
    rng = random.Random(1234)
    for _ in range(200):  # random finite values spread over the f16 range and beyond
        e = rng.randrange(90, 160)
        vals.append((rng.randrange(2) << 31) | (e << 23) | rng.randrange(1 << 23))
    x = torch.tensor([f32(b) for b in vals], dtype=torch.float32)
    bf = x.to(torch.bfloat16).view(torch.int16).tolist()
    hf = x.to(torch.float16).view(torch.int16).tolist()
    lines = ["# torch %s: f32 bits, then Tensor.to(bfloat16) and Tensor.to(float16) bits" % torch.__version__]
    for b, p, q in zip(vals, bf, hf):
        lines.append("%08x %04x %04x" % (b, p & 0xffff, q & 0xffff))
    with open(os.path.join(OUT, "cast_torch.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write_bicubic()
    write_casts()
