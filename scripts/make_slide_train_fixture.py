#!/usr/bin/python3
"""Writes tests/data/slide_train_step.safetensors: one training step of HIPT_LGP_FC in PyTorch, for
tests/test_slide_train.cpp.

    /usr/bin/python3 scripts/make_slide_train_fixture.py

The model is make_slide_model_fixture.py's (weights from the hash formulas), dropout off (eval
mode). A step is the reference's: loss / gc (gc = 32), backward, torch.optim.Adam (lr 2e-4,
weight_decay 1e-5 as coupled L2) over the parameters that require gradients.
    subtype  2 classes, ViT-4K frozen, region features h [5, 192] = unit(i, 1007), label 1
    survival 4 bins, ViT-4K fine-tuned, x_256 [2, 256, 384] = unit(i, 1008), bin 2, uncensored, alpha 0
Stored: each loss, and for a few parameters their gradient and their value after the step.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_slide_model_fixture import HiptLgpFc, nll_loss  # noqa: E402
from make_vit_fixtures import formula, formula_weights, write_safetensors  # noqa: E402

GC = 32
WATCH = ["classifier.weight", "classifier.bias", "global_phi.0.bias", "global_rho.0.bias",
         "global_transformer.layers.0.self_attn.in_proj_bias", "global_transformer.layers.1.linear2.bias",
         "global_attn_pool.attention_a.0.bias", "global_attn_pool.attention_c.weight"]


def global_forward(model, h):
    h = model.global_phi(h)
    h = model.global_transformer(h.unsqueeze(1)).squeeze(1)
    A, h = model.global_attn_pool(h)
    A = F.softmax(torch.transpose(A, 1, 0), dim=1)
    return model.classifier(model.global_rho(torch.mm(A, h)))


def step(model, loss_fn, watch, prefix, out):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=2e-4, weight_decay=1e-5)
    loss = loss_fn()
    (loss / GC).backward()
    opt.step()
    out[prefix + "loss"] = loss.detach().reshape(1)
    named = dict(model.named_parameters())
    for name in watch:
        out[prefix + "grad." + name] = named[name].grad.clone()
        out[prefix + "after." + name] = named[name].detach().clone()


def main():
    torch.manual_seed(0)
    out = {}
    model = HiptLgpFc(2).eval()
    formula_weights(model)
    for p in model.local_vit.parameters():
        p.requires_grad_(False)
    h = formula((5, 192), 1007, 1.0)
    step(model, lambda: F.cross_entropy(global_forward(model, h), torch.tensor([1])), WATCH, "subtype.", out)

    model = HiptLgpFc(4).eval()
    formula_weights(model)
    x = formula((2, 256, 384), 1008, 1.0)

    def survival_loss():
        logits = model(x)[0]
        hazards = torch.sigmoid(logits)
        S = torch.cumprod(1 - hazards, dim=1)
        return nll_loss(hazards, S, torch.tensor([2]), torch.tensor([0]), alpha=0.0)

    step(model, survival_loss, WATCH + ["local_vit.blocks.0.attn.qkv.bias", "local_vit.phi.0.bias", "local_vit.cls_token"],
         "survival.", out)
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "slide_train_step.safetensors")
    write_safetensors(path, out, {"script": "scripts/make_slide_train_fixture.py", "torch": torch.__version__})


if __name__ == "__main__":
    main()
