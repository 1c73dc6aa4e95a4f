#!/usr/bin/python3
"""Writes tests/data/dino_tiny.safetensors: DINO's head, loss and two full training steps as
PyTorch computes them, for tests/test_dino.cpp.

Run with Debian's interpreter and PyTorch 1.13 (apt-get install python3-torch):
    /usr/bin/python3 scripts/make_dino_fixture.py

The DINO pieces are written here from the method's definition: a head (3-layer MLP with GELU,
L2 normalisation, weight-normalised last layer without bias whose lengths are frozen at 1), the
loss (student temperature 0.1, teacher softmax of the centred output at a scheduled temperature,
every teacher-global / student-view pair except the same view, center EMA 0.9), the multi-crop
wrapper (backbone per resolution group, [CLS] outputs concatenated, then the head) and one step
(lr / weight-decay schedules, AdamW with a decayed and a non-decayed group, per-tensor clipping,
last layer's gradients dropped during the first epoch, teacher EMA). The backbone is the ViT-4K
module of scripts/make_vit_fixtures.py at a tiny size.

Everything the test needs is stored: initial weights ("init.<name>"), inputs, results.
  head.*   head alone: x [6, 32] -> out [6, 64]; loss = sum(out * w), gradients "head.grad.<name>"
  loss.*   loss alone: student [8, 64] (4 views of 2), teacher [4, 64], center [1, 64], temperature
           0.07 -> loss, the new center
  step.*   two steps of the tiny setup (STEP below); crops "crop.<v>" [2, 24, s, s] (v 0, 1: 14x14
           globals, 2, 3: 6x6 locals); per step t (1, 2): "step<t>.loss", "step<t>.grad.<name>"
           (student gradients after clipping and cancelling, as the optimizer sees them),
           "step<t>.student.<name>", "step<t>.teacher.<name>", "step<t>.center"
"""
import json
import math
import pathlib
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_vit_fixtures import VisionTransformer4K  # noqa: E402
from safetensors_writer import write_safetensors  # noqa: E402

torch.set_num_threads(2)
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "dino_tiny.safetensors"

BACKBONE = dict(in_dim=24, dim=32, depth=2, heads=2, img_size=224)
HEAD = dict(in_dim=32, out_dim=64, hidden_dim=32, bottleneck_dim=16)
STEP = dict(batch=2, epochs=4, niter_per_ep=1, lr=1e-2, min_lr=1e-3, wd=0.04, wd_end=0.4, momentum=0.9,
            warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_epochs=2, clip=0.3,
            freeze_last_layer=1, center_momentum=0.9, student_temp=0.1, adam_eps=1e-4)
# adam_eps: AdamW's first steps are lr·sign(g) where |g| >> eps, so with DINO's 1e-8 the elements
# whose gradient is rounding noise (the key bias, whose gradient is zero in exact arithmetic) would
# move by ±lr on a coin flip; 1e-4 keeps the comparison of updated weights meaningful.


class DINOHead(nn.Module):
    def __init__(self, in_dim, out_dim, hidden_dim, bottleneck_dim):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, hidden_dim),
                                 nn.GELU(), nn.Linear(hidden_dim, bottleneck_dim))
        self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        self.last_layer.weight_g.data.fill_(1)
        self.last_layer.weight_g.requires_grad = False

    def forward(self, x):
        x = self.mlp(x)
        x = F.normalize(x, dim=-1, p=2)
        return self.last_layer(x)


class MultiCrop(nn.Module):
    def __init__(self, backbone, head):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, crops):
        outs, start = [], 0
        while start < len(crops):
            end = start
            while end < len(crops) and crops[end].shape[-1] == crops[start].shape[-1]:
                end += 1
            outs.append(self.backbone(torch.cat(crops[start:end]), with_attention=False)[0])
            start = end
        return self.head(torch.cat(outs))


def dino_loss(student_output, teacher_output, center, temp, ncrops):
    student_out = (student_output / STEP["student_temp"]).chunk(ncrops)
    teacher_out = F.softmax((teacher_output - center) / temp, dim=-1).detach().chunk(2)
    total, n = 0, 0
    for iq, q in enumerate(teacher_out):
        for v in range(ncrops):
            if v == iq:
                continue
            total = total + torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1).mean()
            n += 1
    total = total / n
    with torch.no_grad():
        batch_center = torch.sum(teacher_output, dim=0, keepdim=True) / len(teacher_output)
        new_center = center * STEP["center_momentum"] + batch_center * (1 - STEP["center_momentum"])
    return total, new_center


def cosine_scheduler(base, final, epochs, niter_per_ep, warmup_epochs=0):
    warmup = np.array([])
    warmup_iters = warmup_epochs * niter_per_ep
    if warmup_epochs > 0:
        warmup = np.linspace(0, base, warmup_iters)
    iters = np.arange(epochs * niter_per_ep - warmup_iters)
    schedule = final + 0.5 * (base - final) * (1 + np.cos(np.pi * iters / len(iters)))
    return np.concatenate((warmup, schedule))


def randomize(module, gen):
    """Weights of a visible size (DINO's std-0.02 init would make the outputs nearly constant)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("weight_g"):
                continue
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[-1]))
            elif name.endswith(".weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def head_case(gen, out):
    head = DINOHead(**HEAD)
    randomize(head, gen)
    for name, p in head.named_parameters():
        out[f"head.init.{name}"] = p.detach().clone()
    x = torch.randn(6, HEAD["in_dim"], generator=gen)
    w = torch.randn(6, HEAD["out_dim"], generator=gen)
    y = head(x)
    (y * w).sum().backward()
    out.update({"head.x": x, "head.w": w, "head.out": y.detach()})
    for name, p in head.named_parameters():
        if p.grad is not None:
            out[f"head.grad.{name}"] = p.grad.clone()


def loss_case(gen, out):
    s = torch.randn(8, HEAD["out_dim"], generator=gen) * 2
    t = torch.randn(4, HEAD["out_dim"], generator=gen) * 2
    c = torch.randn(1, HEAD["out_dim"], generator=gen) * 0.5
    loss, new_center = dino_loss(s, t, c, 0.07, 4)
    out.update({"loss.student": s, "loss.teacher": t, "loss.center": c, "loss.value": loss.reshape(1),
                "loss.new_center": new_center})


def step_case(gen, out):
    student = MultiCrop(VisionTransformer4K(**BACKBONE), DINOHead(**HEAD)).train()
    randomize(student, gen)
    teacher = MultiCrop(VisionTransformer4K(**BACKBONE), DINOHead(**HEAD)).train()
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad = False
    center = torch.zeros(1, HEAD["out_dim"])
    for name, p in student.named_parameters():
        out[f"init.{name}"] = p.detach().clone()

    B, C = STEP["batch"], BACKBONE["in_dim"]
    crops = [torch.randn(B, C, s, s, generator=gen) for s in (14, 14, 6, 6)]
    for v, x in enumerate(crops):
        out[f"crop.{v}"] = x

    regularized, not_regularized = [], []
    for name, p in student.named_parameters():
        if not p.requires_grad:
            continue
        (not_regularized if name.endswith(".bias") or len(p.shape) == 1 else regularized).append(p)
    opt = torch.optim.AdamW([{"params": regularized}, {"params": not_regularized, "weight_decay": 0.0}],
                            eps=STEP["adam_eps"])
    E, N = STEP["epochs"], STEP["niter_per_ep"]
    lr_s = cosine_scheduler(STEP["lr"], STEP["min_lr"], E, N)
    wd_s = cosine_scheduler(STEP["wd"], STEP["wd_end"], E, N)
    mom_s = cosine_scheduler(STEP["momentum"], 1, E, N)
    W = STEP["warmup_teacher_temp_epochs"]
    temp_s = np.concatenate((np.linspace(STEP["warmup_teacher_temp"], STEP["teacher_temp"], W),
                             np.ones(E - W) * STEP["teacher_temp"]))

    for it in range(2):
        epoch = it // N
        for i, g in enumerate(opt.param_groups):
            g["lr"] = lr_s[it]
            if i == 0:
                g["weight_decay"] = wd_s[it]
        teacher_output = teacher(crops[:2])
        student_output = student(crops)
        loss, center = dino_loss(student_output, teacher_output, center, temp_s[epoch], len(crops))
        opt.zero_grad()
        loss.backward()
        for p in student.parameters():
            if p.grad is not None:
                norm = p.grad.data.norm(2)
                clip_coef = STEP["clip"] / (norm + 1e-6)
                if clip_coef < 1:
                    p.grad.data.mul_(clip_coef)
        if epoch < STEP["freeze_last_layer"]:
            for name, p in student.named_parameters():
                if "last_layer" in name:
                    p.grad = None
        t = it + 1
        for name, p in student.named_parameters():
            if p.grad is not None:
                out[f"step{t}.grad.{name}"] = p.grad.clone()
        opt.step()
        with torch.no_grad():
            m = mom_s[it]
            for ps, pt in zip(student.parameters(), teacher.parameters()):
                pt.data.mul_(m).add_((1 - m) * ps.detach().data)
        out[f"step{t}.loss"] = loss.detach().reshape(1)
        out[f"step{t}.center"] = center.clone()
        for name, p in student.named_parameters():
            out[f"step{t}.student.{name}"] = p.detach().clone()
        for name, p in teacher.named_parameters():
            out[f"step{t}.teacher.{name}"] = p.detach().clone()


def main():
    gen = torch.Generator().manual_seed(0)
    out = {}
    head_case(gen, out)
    loss_case(gen, out)
    step_case(gen, out)
    meta = {"torch": torch.__version__, "backbone": json.dumps(BACKBONE), "head": json.dumps(HEAD),
            "step": json.dumps(STEP)}
    write_safetensors(OUT, {k: v.float().contiguous() for k, v in out.items()}, meta)
    print(f"wrote {OUT} ({len(out)} tensors)")


if __name__ == "__main__":
    main()
