#!/usr/bin/python3
"""Writes tests/data/schedule_dino.txt and tests/data/clip_torch.txt.

Run with Debian's interpreter, numpy and PyTorch (apt-get install python3-numpy python3-torch):
    /usr/bin/python3 scripts/make_schedule_clip_fixture.py

schedule_dino.txt: the per-step values of DINO's cosine_scheduler (utils.py) for several settings,
computed with numpy the way DINO does: np.linspace warm-up, then
final + 0.5 * (base - final) * (1 + np.cos(np.pi * iters / len(iters))). One line per setting:
    cosine <base> <final> <epochs> <niter_per_ep> <warmup_epochs> <start_warmup> <n> <n values>
with every float as float.hex(), so the test compares bits. numpy's AVX-512 cos differs from the C
library's by a few ulp (3 at most in 6594 angles tried); it is switched off below so that the
values are the C library's, which is what std::cos gives. The script checks that this took effect.

clip_torch.txt: gradients after DINO's clip_gradients (per-tensor norms) and after
torch.nn.utils.clip_grad_norm_ (global norm), with the norms they return. The gradients come from
a formula, so the test rebuilds them without reading anything but the results:
    grad_k[i] = a_k * sin(0.37 * i + 0.3 * k + 0.1)   (computed in double, then cast to the dtype)
for the shapes and scales in SHAPES / SCALES. Lines:
    <case> norms <values>      (per-tensor norms, or the one total norm)
    <case> grad<k> <values>    (gradient k after clipping, flattened)
"""
import math
import os
import pathlib

# Must be set before numpy is imported.
os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL")

import numpy as np  # noqa: E402
import torch  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"

# (base, final, epochs, niter_per_ep, warmup_epochs, start_warmup)
SCHEDULES = [
    (0.0005 * 64 / 256, 1e-6, 10, 7, 2, 0.0),   # DINO's lr: warm-up then cosine
    (0.04, 0.4, 5, 3, 0, 0.0),                   # DINO's weight decay: rising, no warm-up
    (0.996, 1.0, 4, 5, 0, 0.0),                  # DINO's teacher momentum (final given as an int there)
    (0.1, 0.001, 3, 1, 1, 0.01),                 # one warm-up step: linspace with num = 1
    (1.0, 0.0, 2, 3, 2, 0.0),                    # warm-up over the whole schedule
    (0.5, 0.2, 3, 2, 1, 0.5),                    # warm-up from the base value itself (step 0)
    (0.3, 0.3, 2, 2, 0, 0.0),                    # base == final
    (2.5e-4, 1e-6, 30, 13, 10, 1e-5),            # longer, warm-up from a non-zero start
    (1e-3, 0.0, 1, 1, 0, 0.0),                   # a single step
]

SHAPES = [(13,), (4, 5), (3, 2, 2), (16, 21)]
SCALES = [0.1, 2.0, 0.35, 0.05]
# (case, function, threshold, dtype)
CLIPS = [
    ("per_tensor_1", "per_tensor", 1.0, torch.float32),
    ("per_tensor_0.25", "per_tensor", 0.25, torch.float32),
    ("per_tensor_100", "per_tensor", 100.0, torch.float32),
    ("global_2", "global", 2.0, torch.float32),
    ("global_100", "global", 100.0, torch.float32),
    ("global_f64_2", "global", 2.0, torch.float64),
    ("per_tensor_f64_1", "per_tensor", 1.0, torch.float64),
]


def dino_cosine(base, final, epochs, niter_per_ep, warmup_epochs, start_warmup):
    warmup_iters = warmup_epochs * niter_per_ep
    warmup = np.linspace(start_warmup, base, warmup_iters) if warmup_epochs > 0 else np.array([])
    iters = np.arange(epochs * niter_per_ep - warmup_iters)
    angles = np.pi * iters / len(iters)
    cosines = np.cos(angles)
    if any(c != math.cos(a) for c, a in zip(cosines.tolist(), angles.tolist())):
        raise SystemExit("numpy's cos is not the C library's here; set NPY_DISABLE_CPU_FEATURES for this CPU")
    values = np.concatenate((warmup, final + 0.5 * (base - final) * (1 + cosines)))
    assert len(values) == epochs * niter_per_ep
    return values


def grads(dtype):
    out = []
    for k, (shape, a) in enumerate(zip(SHAPES, SCALES)):
        n = math.prod(shape)
        out.append(torch.tensor([a * math.sin(0.37 * i + 0.3 * k + 0.1) for i in range(n)],
                                dtype=dtype).reshape(shape))
    return out


def dino_clip(params, clip):
    norms = []
    for p in params:
        if p.grad is not None:
            norm = p.grad.data.norm(2)
            norms.append(norm.item())
            coef = clip / (norm + 1e-6)
            if coef < 1:
                p.grad.data.mul_(coef)
    return norms


def main():
    lines = [f"# numpy {np.__version__}; see scripts/make_schedule_clip_fixture.py"]
    for base, final, epochs, niter, warmup, start in SCHEDULES:
        v = dino_cosine(base, final, epochs, niter, warmup, start)
        head = [float(base).hex(), float(final).hex(), str(epochs), str(niter), str(warmup), float(start).hex()]
        lines.append(" ".join(["cosine", *head, str(len(v))] + [float(x).hex() for x in v.tolist()]))
    (DATA / "schedule_dino.txt").write_text("\n".join(lines) + "\n")

    lines = [f"# torch {torch.__version__}; see scripts/make_schedule_clip_fixture.py"]
    for case, kind, threshold, dtype in CLIPS:
        params = []
        for g in grads(dtype):
            p = torch.nn.Parameter(torch.zeros_like(g))
            p.grad = g
            params.append(p)
        if kind == "per_tensor":
            norms = dino_clip(params, threshold)
        else:
            norms = [torch.nn.utils.clip_grad_norm_(params, threshold).item()]
        lines.append(f"{case} norms " + " ".join(float(x).hex() for x in norms))
        for k, p in enumerate(params):
            lines.append(f"{case} grad{k} " + " ".join(float(x).hex() for x in p.grad.flatten().tolist()))
    (DATA / "clip_torch.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {DATA / 'schedule_dino.txt'} and {DATA / 'clip_torch.txt'}")


if __name__ == "__main__":
    main()
