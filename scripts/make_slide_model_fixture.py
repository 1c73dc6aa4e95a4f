#!/usr/bin/python3
"""Writes tests/data/slide_model_hipt_lgp.safetensors: PyTorch outputs of HIPT_LGP_FC and of MCAT's
survival head and NLL loss, for tests/test_slide_model.cpp.

    /usr/bin/python3 scripts/make_slide_model_fixture.py

The reference modules are written here from the specification (shared/reference/hipt-model.md
§6.1, 6.2, 6.5) on top of torch.nn.TransformerEncoder; ViT-4K is make_vit_fixtures.py's. Weights
and inputs come from make_vit_fixtures.py's hash formulas (tests/vit_fixture_formula.h is the C++
twin), so only outputs are stored:
    x_256 [M, 256, 384]       -> unit(i, 1005)          (M = 3 regions)
    survival logits [6, 4]    -> 3 unit(i, 1006)
Eval mode (dropout off), float32.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vit_fixtures import VisionTransformer4K, formula, formula_weights, param_table, write_safetensors  # noqa: E402

M, N_CLASSES = 3, 4


class AttnNetGated(nn.Module):
    def __init__(self, L=192, D=192, dropout=True, n_classes=1):
        super().__init__()
        a, b = [nn.Linear(L, D), nn.Tanh()], [nn.Linear(L, D), nn.Sigmoid()]
        if dropout:
            a.append(nn.Dropout(0.25))
            b.append(nn.Dropout(0.25))
        self.attention_a, self.attention_b = nn.Sequential(*a), nn.Sequential(*b)
        self.attention_c = nn.Linear(D, n_classes)

    def forward(self, x):
        return self.attention_c(self.attention_a(x).mul(self.attention_b(x))), x


class HiptLgpFc(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.local_vit = VisionTransformer4K()
        self.global_phi = nn.Sequential(nn.Linear(192, 192), nn.ReLU(), nn.Dropout(0.25))
        layer = nn.TransformerEncoderLayer(d_model=192, nhead=3, dim_feedforward=192, dropout=0.25, activation="relu")
        self.global_transformer = nn.TransformerEncoder(layer, num_layers=2)
        self.global_attn_pool = AttnNetGated(L=192, D=192, dropout=True, n_classes=1)
        self.global_rho = nn.Sequential(nn.Linear(192, 192), nn.ReLU(), nn.Dropout(0.25))
        self.classifier = nn.Linear(192, n_classes)

    def forward(self, x_256):
        h_4096, _ = self.local_vit(x_256.unfold(1, 16, 16).transpose(1, 2))
        regions = h_4096
        h_4096 = self.global_phi(h_4096)
        h_4096 = self.global_transformer(h_4096.unsqueeze(1)).squeeze(1)
        A_4096, h_4096 = self.global_attn_pool(h_4096)
        A_4096 = F.softmax(torch.transpose(A_4096, 1, 0), dim=1)
        h_path = torch.mm(A_4096, h_4096)
        logits = self.classifier(self.global_rho(h_path))
        y_hat = torch.topk(logits, 1, dim=1)[1]
        return logits, F.softmax(logits, dim=1), y_hat, A_4096, regions


def nll_loss(hazards, S, Y, c, alpha=0.4, eps=1e-7):  # MCAT utils/utils.py, as specified in §6.5
    batch_size = len(Y)
    Y = Y.view(batch_size, 1)
    c = c.view(batch_size, 1).float()
    S_padded = torch.cat([torch.ones_like(c), S], 1)
    uncensored = -(1 - c) * (torch.log(torch.gather(S_padded, 1, Y).clamp(min=eps))
                             + torch.log(torch.gather(hazards, 1, Y).clamp(min=eps)))
    censored = -c * torch.log(torch.gather(S_padded, 1, Y + 1).clamp(min=eps))
    return ((1 - alpha) * (censored + uncensored) + alpha * uncensored).mean()


def main():
    torch.manual_seed(0)
    model = HiptLgpFc(N_CLASSES).eval()
    formula_weights(model)
    x = formula((M, 256, 384), 1005, 1.0)
    out = {}
    with torch.no_grad():
        logits, probs, y_hat, attention, regions = model(x)
    out.update(logits=logits, probs=probs, y_hat=y_hat, attention=attention, region_features=regions)
    hazards = torch.sigmoid(logits)
    S = torch.cumprod(1 - hazards, dim=1)
    out.update(hazards=hazards, survival=S, risk=-torch.sum(S, dim=1))

    # The loss on a batch: every bin, censored and not; value for alpha 0 and 0.4, gradient for 0.
    z = formula((6, 4), 1006, 3.0).requires_grad_()
    Y = torch.tensor([0, 1, 2, 3, 0, 3])
    c = torch.tensor([0, 0, 1, 1, 1, 0])
    h = torch.sigmoid(z)
    s = torch.cumprod(1 - h, dim=1)
    loss = nll_loss(h, s, Y, c, alpha=0.0)
    loss.backward()
    out.update(loss_alpha0=loss.detach().reshape(1), loss_grad_alpha0=z.grad.clone(),
               loss_alpha04=nll_loss(h, s, Y, c, alpha=0.4).detach().reshape(1))
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "slide_model_hipt_lgp.safetensors")
    write_safetensors(path, out, {"script": "scripts/make_slide_model_fixture.py", "torch": torch.__version__,
                                  "params": param_table(model)})


if __name__ == "__main__":
    main()
