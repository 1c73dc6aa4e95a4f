#!/usr/bin/python3
"""Writes tests/data/adamw_torch.txt: parameters after Adam, AdamW and SGD steps taken by PyTorch.

Run with Debian's interpreter and PyTorch (apt-get install python3-torch):
    /usr/bin/python3 scripts/make_adamw_fixture.py

Inputs come from formulas, so the test rebuilds them without reading anything but the results:
    param[i]      = sin(0.37 * i + 0.1)               i = 0 .. 12   (shape [13], odd on purpose)
    grad_t[i]     = cos(0.11 * i * t + 0.3) * 0.5     at step t = 1, 2, 3
Two parameter groups (rows "<optimizer>.groups <step> <13 values of w> <5 values of b>"), 5 steps:
    w = param above (group 0: lr 1e-2, weight decay 0.05), its grads as above
    b[i]          = cos(0.23 * i + 0.2) * 0.3         i = 0 .. 4    (group 1: lr 3e-3, weight decay 0)
    gb_t[i]       = sin(0.17 * i * t + 0.5) * 0.25    at step t = 1 .. 5
Values are written as float.hex() of the float32 results, so they are exact.
"""
import math
import pathlib

import torch

N, STEPS = 13, 3
NB, GROUP_STEPS = 5, 5
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "adamw_torch.txt"


def param0():
    return torch.tensor([math.sin(0.37 * i + 0.1) for i in range(N)], dtype=torch.float32)


def grad(t):
    return torch.tensor([math.cos(0.11 * i * t + 0.3) * 0.5 for i in range(N)], dtype=torch.float32)


def run(make_opt):
    p = torch.nn.Parameter(param0())
    opt = make_opt([p])
    rows = []
    for t in range(1, STEPS + 1):
        p.grad = grad(t)
        opt.step()
        rows.append(p.detach().clone())
    return rows


def bias0():
    return torch.tensor([math.cos(0.23 * i + 0.2) * 0.3 for i in range(NB)], dtype=torch.float32)


def bias_grad(t):
    return torch.tensor([math.sin(0.17 * i * t + 0.5) * 0.25 for i in range(NB)], dtype=torch.float32)


def run_groups(make_opt):
    w, b = torch.nn.Parameter(param0()), torch.nn.Parameter(bias0())
    opt = make_opt([{"params": [w], "lr": 1e-2, "weight_decay": 0.05}, {"params": [b], "lr": 3e-3, "weight_decay": 0.0}])
    rows = []
    for t in range(1, GROUP_STEPS + 1):
        w.grad, b.grad = grad(t), bias_grad(t)
        opt.step()
        rows.append(torch.cat([w.detach(), b.detach()]))
    return rows


def main():
    cases = {
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    }
    lines = [f"# torch {torch.__version__}; see scripts/make_adamw_fixture.py"]
    for name, make in cases.items():
        for t, row in enumerate(run(make), start=1):
            lines.append(f"{name} {t} " + " ".join(float(v).hex() for v in row.tolist()))
    group_cases = {
        "adam.groups": lambda gs: torch.optim.Adam(gs, betas=(0.85, 0.995), eps=1e-6, foreach=False),
        "adamw.groups": lambda gs: torch.optim.AdamW(gs, betas=(0.9, 0.999), eps=1e-8, foreach=False),
    }
    for name, make in group_cases.items():
        for t, row in enumerate(run_groups(make), start=1):
            lines.append(f"{name} {t} " + " ".join(float(v).hex() for v in row.tolist()))
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
