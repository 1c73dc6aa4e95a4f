#!/usr/bin/python3
"""Writes the .pth fixtures of tests/test_pth.cpp and tests/test_checkpoint.cpp into tests/data/pth/,
with torch.save from Debian's PyTorch 1.13, plus for each readable one an `.expected.safetensors`
(our own writer, scripts/safetensors_writer.py) holding what the C++ reader must return:

    /usr/bin/python3 scripts/make_pth_fixtures.py

Every value comes from a seeded torch.Generator or a formula; sizes are a few elements so each file
stays a few KB. The broken files are built here too (zip without data.pkl, bad pickle, missing or
short storage record, legacy format, a global outside the allowlist) so each error path has a file.
"""
import argparse
import collections
import io
import os
import pathlib
import sys
import zipfile

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from safetensors_writer import write_safetensors  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "pth"
GEN = torch.Generator().manual_seed(20221125)


def randn(*shape):
    return torch.randn(*shape, generator=GEN)


def save(obj, name, expected=None, **kw):
    torch.save(obj, OUT / f"{name}.pth", **kw)
    if expected is not None:
        write_safetensors(OUT / f"{name}.expected.safetensors", expected)


# ---------------------------------------------------------------- a tiny ViT-like backbone
class TinyBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 3)


class TinyBackbone(nn.Module):
    """Same parameter names as tests/test_checkpoint.cpp's TinyBackbone module."""

    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(randn(1, 1, 4))
        self.blocks = nn.ModuleList([TinyBlock(), TinyBlock()])
        self.norm = nn.LayerNorm(3)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(randn(*p.shape))


class TinyHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, 5), nn.GELU(), nn.Linear(5, 2))
        self.last_layer = nn.utils.weight_norm(nn.Linear(2, 6, bias=False))


class MultiCropWrapper(nn.Module):  # DINO's: backbone + head
    def __init__(self):
        super().__init__()
        self.backbone = TinyBackbone()
        self.head = TinyHead()


class DDP(nn.Module):  # what DistributedDataParallel adds to the names: `module.`
    def __init__(self, m):
        super().__init__()
        self.module = m


def backbone_of(state, prefix):
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)  # the default initialisers of nn.Linear and friends

    # A plain state_dict (OrderedDict + BUILD of _metadata).
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2, bias=False))
    sd = model.state_dict()
    save(sd, "plain_state_dict", dict(sd))

    # Views of one storage: offsets, a transpose, a step, stride 0, a 0-d tensor; a dict twice.
    big = torch.arange(24, dtype=torch.float32) * 0.5 - 3
    inner = {"w": randn(2, 2)}
    views = {
        "big": big,
        "view": big[4:10].view(2, 3),
        "transposed": big[:12].view(3, 4).t(),
        "stepped": big[1::5],
        "expanded": big[7:8].expand(3, 2),
        "permuted": big.view(2, 3, 4).permute(2, 0, 1),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 3),
        "nested": inner,
        "nested_again": inner,
    }
    expected = {k: v.contiguous() for k, v in views.items() if isinstance(v, torch.Tensor)}
    expected["nested.w"] = inner["w"]
    expected["nested_again.w"] = inner["w"]
    save(views, "views", expected)
    save(views, "views_protocol4", expected, pickle_protocol=4)

    # Every dtype the reader supports, as a plain dict.
    base = torch.tensor([[-2.5, 0.0, 1.25], [3.0, -0.125, 100.0]])
    dtypes = {
        "float": base.float(), "double": base.double() / 3, "half": base.half(), "bfloat16": base.bfloat16(),
        "long": torch.tensor([-(2**40), 0, 7], dtype=torch.int64), "int": torch.tensor([-5, 2**30], dtype=torch.int32),
        "uint8": torch.tensor([0, 255, 7], dtype=torch.uint8), "bool": torch.tensor([True, False, True]),
    }
    save(dtypes, "dtypes", dtypes)

    # Memo past 255 entries (LONG_BINPUT / LONG_BINGET), a Parameter, the scalar kinds.
    many = {f"layer{i}.weight": torch.full((2,), float(i)) for i in range(150)}
    save(many, "many", many)
    scalars = {
        "p": nn.Parameter(randn(2, 3)),
        "stats": {"long": 2**40, "huge": 2**70, "neg": -5, "byte": 200, "short": 60000, "f": 1.5, "s": "x\u00e9",
                  "t": True, "n": None, "list": [1, 2, (3, 4)], "bytes": b"ab"},
    }
    save(scalars, "scalars", {"p": scalars["p"].detach()})

    # A DINO training checkpoint as main_dino.py writes it (tiny), teacher and student differing.
    teacher, student = MultiCropWrapper(), DDP(MultiCropWrapper())
    opt = torch.optim.AdamW(student.parameters(), lr=0.1)
    for p in student.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    ckpt = {
        "student": student.state_dict(),
        "teacher": teacher.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": 5,
        "args": argparse.Namespace(arch="vit_small", patch_size=16, out_dim=6, lr=0.0005, use_fp16=True,
                                   local_crops_scale=(0.05, 0.4), output_dir=None),
        "dino_loss": {"center": randn(1, 6)},
        "fp16_scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 10},
    }
    save(ckpt, "dino", None)
    write_safetensors(OUT / "dino_teacher.expected.safetensors", backbone_of(ckpt["teacher"], "backbone."))
    write_safetensors(OUT / "dino_student.expected.safetensors", backbone_of(ckpt["student"], "module.backbone."))
    # The same backbone in half precision, under 'state_dict' (another common layout).
    half = {"state_dict": {k: v.half() for k, v in teacher.backbone.state_dict().items()}}
    save(half, "backbone_f16", {k: v for k, v in half["state_dict"].items()})

    # Layouts a backbone cannot come from: a list at the top, a 'teacher' that is a tensor.
    save([base], "list_root")
    save({"teacher": base}, "teacher_tensor")

    # A global outside the allowlist that is harmless to name (torch.device) and one that is not.
    save({"w": base, "dev": torch.device("cpu")}, "opaque_device", {"w": base})

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should never run",))

    save({"w": base, "evil": Evil()}, "evil")

    # Broken files.
    torch.save({"w": base}, OUT / "legacy.pth", _use_new_zipfile_serialization=False)
    good = zipfile.ZipFile(OUT / "plain_state_dict.pth")
    entries = {n: good.read(n) for n in good.namelist()}

    def rewrite(name, change):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
            for n, data in entries.items():
                n2, data2 = change(n, data)
                if n2 is not None:  # a fixed date keeps the file the same from run to run
                    z.writestr(zipfile.ZipInfo(n2, date_time=(2022, 1, 1, 0, 0, 0)), data2)
        (OUT / f"{name}.pth").write_bytes(out.getvalue())

    rewrite("no_data_pkl", lambda n, d: (None, d) if n.endswith("data.pkl") else (n, d))
    rewrite("bad_pickle", lambda n, d: (n, b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01\xffgarbage")
            if n.endswith("data.pkl") else (n, d))
    rewrite("cut_pickle", lambda n, d: (n, d[: len(d) // 2]) if n.endswith("data.pkl") else (n, d))
    rewrite("missing_storage", lambda n, d: (None, d) if n.endswith("data/0") else (n, d))
    rewrite("short_storage", lambda n, d: (n, d[:4]) if n.endswith("data/0") else (n, d))
    # A tuple nested 300,000 deep (deflated), deeper than recursive freeing survives.
    deep = b"\x80\x02}X\x01\x00\x00\x00x]" + b"\x85" * 300_000 + b"s."
    with zipfile.ZipFile(OUT / "deep_nesting.pth", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("deep_nesting/data.pkl", date_time=(2022, 1, 1, 0, 0, 0)), deep,
                   compress_type=zipfile.ZIP_DEFLATED)
    for p in sorted(OUT.iterdir()):
        print(f"{p.name}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
