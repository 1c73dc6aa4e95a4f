#!/usr/bin/python3
"""Writes tests/data/weight_norm_torch.txt: a weight-normalised Linear's output and gradients as
PyTorch computes them, and the state_dict key order of a small module with buffers.

Run with Debian's interpreter and PyTorch (apt-get install python3-torch):
    /usr/bin/python3 scripts/make_weight_norm_fixture.py

The layer is torch.nn.utils.weight_norm(torch.nn.Linear(IN, OUT), name="weight", dim=0), IN = 5,
OUT = 4, applied to x [ROWS = 3, IN]. Inputs come from formulas, so the test rebuilds them without
reading anything but the results (o < OUT, i < IN, r < ROWS):
    weight_v[o, i] = sin(0.37 * (o * IN + i) + 0.1) * 0.6
    weight_g[o, 0] = 0.5 + 0.3 * cos(1.3 * o)                    case "free"
    weight_g[o, 0] = 1, requires_grad False                        case "unit" (DINO's frozen last layer)
    bias[o]        = cos(0.7 * o) * 0.1
    x[r, i]        = cos(0.23 * (r * IN + i) - 0.4)
    loss           = sum(y * u),  u[r, o] = sin(0.5 * (r * OUT + o) + 0.2)
Each case runs in float32 and in float64. Lines:
    <dtype> <case> <tensor> <values, row-major, as float.hex()>
with <tensor> one of y, grad_g, grad_v, grad_bias, grad_x (no grad_g in case "unit"), and
    keys <state_dict keys of Net below, in PyTorch's order>
"""
import math
import pathlib

import torch

IN, OUT, ROWS = 5, 4, 3
OUT_PATH = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "weight_norm_torch.txt"


def table(rows, cols, f, dtype):
    return torch.tensor([[f(r, c) for c in range(cols)] for r in range(rows)], dtype=dtype)


def run(case, dtype):
    layer = torch.nn.utils.weight_norm(torch.nn.Linear(IN, OUT), name="weight", dim=0).to(dtype)
    assert [n for n, _ in layer.named_parameters()] == ["bias", "weight_g", "weight_v"]
    with torch.no_grad():
        layer.weight_v.copy_(table(OUT, IN, lambda o, i: math.sin(0.37 * (o * IN + i) + 0.1) * 0.6, dtype))
        if case == "free":
            layer.weight_g.copy_(table(OUT, 1, lambda o, _: 0.5 + 0.3 * math.cos(1.3 * o), dtype))
        else:
            layer.weight_g.fill_(1)
        layer.bias.copy_(torch.tensor([math.cos(0.7 * o) * 0.1 for o in range(OUT)], dtype=dtype))
    if case == "unit":
        layer.weight_g.requires_grad = False
    x = table(ROWS, IN, lambda r, i: math.cos(0.23 * (r * IN + i) - 0.4), dtype).requires_grad_()
    u = table(ROWS, OUT, lambda r, o: math.sin(0.5 * (r * OUT + o) + 0.2), dtype)
    y = layer(x)
    (y * u).sum().backward()
    out = {"y": y.detach(), "grad_v": layer.weight_v.grad, "grad_bias": layer.bias.grad, "grad_x": x.grad}
    if case == "free":
        out["grad_g"] = layer.weight_g.grad
    else:
        assert layer.weight_g.grad is None
    return out


class Head(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = torch.nn.Linear(3, 3)
        self.register_buffer("center", torch.zeros(1, 2))
        self.last_layer = torch.nn.utils.weight_norm(torch.nn.Linear(3, 2))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.head = Head()
        self.register_buffer("step", torch.zeros(1))
        self.gamma = torch.nn.Parameter(torch.ones(3))


def main():
    lines = [f"# torch {torch.__version__}; see scripts/make_weight_norm_fixture.py"]
    for dtype, name in ((torch.float32, "f32"), (torch.float64, "f64")):
        for case in ("free", "unit"):
            for tensor, value in run(case, dtype).items():
                values = " ".join(float(v).hex() for v in value.reshape(-1).tolist())
                lines.append(f"{name} {case} {tensor} {values}")
    lines.append("keys " + " ".join(Net().state_dict().keys()))
    OUT_PATH.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT_PATH}")


if __name__ == "__main__":
    main()
