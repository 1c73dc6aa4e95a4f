#!/usr/bin/python3
"""The PyTorch side of bench_slide_model: HIPT_LGP_FC forward (eval, no grad) on M regions, and
torch.load of a checkpoint (teacher taken), best of N, with the same thread count.

    HIPT_NUM_THREADS=2 /usr/bin/python3 bench/slide_model_torch.py [checkpoint.pth]
    /usr/bin/python3 bench/slide_model_torch.py --make-dino out.pth   # a ViT-256-sized DINO file
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_slide_model_fixture import HiptLgpFc  # noqa: E402
from make_vit_fixtures import VisionTransformer  # noqa: E402


def best_of(f, n):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def make_dino(path):
    """teacher + student ViT-S/16 with a DINO head (65536 outputs), AdamW state: the layout and size
    of HIPT's vit256_small_dino.pth (about 704 MB)."""
    torch.manual_seed(0)

    def wrapper():
        m = torch.nn.Module()
        m.backbone = VisionTransformer()
        head = torch.nn.Module()
        head.mlp = torch.nn.Sequential(torch.nn.Linear(384, 2048), torch.nn.GELU(), torch.nn.Linear(2048, 2048),
                                       torch.nn.GELU(), torch.nn.Linear(2048, 256))
        head.last_layer = torch.nn.utils.weight_norm(torch.nn.Linear(256, 65536, bias=False))
        m.head = head
        return m

    teacher, student = wrapper(), torch.nn.Module()
    student.module = wrapper()
    opt = torch.optim.AdamW(student.parameters())
    for p in student.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    torch.save({"student": student.state_dict(), "teacher": teacher.state_dict(), "optimizer": opt.state_dict(),
                "epoch": 100, "args": argparse.Namespace(arch="vit_small"), "dino_loss": {"center": torch.zeros(1, 65536)}},
               path)
    print(f"wrote {path}: {os.path.getsize(path)} bytes")


def main():
    threads = int(os.environ.get("HIPT_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    if len(sys.argv) == 3 and sys.argv[1] == "--make-dino":
        return make_dino(sys.argv[2])
    model = HiptLgpFc(2).eval()
    for m in (1, 38):
        x = torch.randn(m, 256, 384)
        with torch.no_grad():
            model(x)
            t = best_of(lambda: model(x), 5)
        print(f"torch {torch.__version__} HIPT_LGP_FC forward M={m}: {t * 1e3:.1f} ms ({threads} threads)")
    if len(sys.argv) == 2:
        t = best_of(lambda: torch.load(sys.argv[1], map_location="cpu")["teacher"], 3)
        print(f"torch.load {sys.argv[1]} (teacher taken): {t * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
