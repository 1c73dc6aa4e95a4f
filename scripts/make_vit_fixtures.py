#!/usr/bin/python3
"""Writes the PyTorch parity fixtures for hipt's vision transformers (tests/test_vit*.cpp).

Run with Debian's torch 1.13 CPU:  /usr/bin/python3 scripts/make_vit_fixtures.py [out_dir]

The reference modules below are written here from the specification (shared/reference/hipt-model.md
sections 2-5: DINO's VisionTransformer, HIPT's VisionTransformer4K, the HIPT_4K region encoder); no
HIPT or DINO code is imported.

Weights and inputs are NOT stored: both sides build them from the formulas below, so full-size models
cost nothing in the repository and only the outputs are committed. The C++ twin of these formulas is
tests/vit_fixture_formula.h; keep the two identical.

  A hash gives uniform numbers (integer arithmetic, so both sides agree bit for bit):
    mix(i, salt)  = fmix32((i * 0x9E3779B1 + salt * 0x85EBCA77) mod 2^32)   (MurmurHash3's finaliser:
                    h ^= h >> 16; h *= 0x85EBCA6B; h ^= h >> 13; h *= 0xC2B2AE35; h ^= h >> 16, mod 2^32)
    unit(i, salt) = mix(i, salt) / 2^32 * 2 - 1                            (in [-1, 1), exact in double)

  Parameter k (its index in named_parameters() order, 0-based), element i (row-major flat index),
  u = unit(i, k + 1):
    cls_token, pos_embed           -> 0.5 u
    any other tensor with dim >= 2 -> u * 1.5 * sqrt(3) / sqrt(numel / shape[0])   (Linear / conv weights)
    1-d "*.weight" (LayerNorm)     -> 1 + 0.2 u
    1-d "*.bias"                   -> 0.1 u
  then rounded to float32. (A hash, not a sine of i: sin(a i + b) makes every weight matrix rank 2.)

  Inputs (element i row-major, then float32):
    image x [B, 3, H, W]          -> 0.95 unit(i, 1001)
    grid  g [B, 384, Hg, Wg]      -> unit(i, 1002)
    tiny-train target t [B, E]    -> 0.3 unit(i, 1003)
    region u8 [H, W, 3]           -> mix(i, 1004) >> 24

Files are safetensors (8-byte little-endian header length, JSON header, raw little-endian data),
written by the small writer below.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)


# ----------------------------------------------------------------------------- reference modules
class Mlp(nn.Module):
    def __init__(self, dim, hidden, drop=0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        attn = self.attn_drop(attn)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x)), attn


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x, return_attention=False):
        y, attn = self.attn(self.norm1(x))
        if return_attention:
            return attn
        x = x + y
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


def interpolate_pos(pos_embed, npatch, w0, h0):
    """The DINO rule: w0, h0 are the grid rows / cols (pixels // patch)."""
    N = pos_embed.shape[1] - 1
    if npatch == N and w0 == h0:
        return pos_embed
    dim = pos_embed.shape[-1]
    g = math.sqrt(N)
    w0, h0 = w0 + 0.1, h0 + 0.1
    grid = pos_embed[:, 1:].reshape(1, int(g), int(g), dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=(w0 / g, h0 / g), mode="bicubic")
    assert int(w0) == grid.shape[-2] and int(h0) == grid.shape[-1]
    grid = grid.permute(0, 2, 3, 1).view(1, -1, dim)
    return torch.cat((pos_embed[:, :1], grid), dim=1)


class Backbone(nn.Module):
    def run_blocks(self, x, w0, h0, with_attention):
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = x + interpolate_pos(self.pos_embed, x.shape[1] - 1, w0, h0)
        if not with_attention:  # the plain DINO forward (what bench/vit_torch.py times)
            for blk in self.blocks:
                x = blk(x)
            return self.norm(x)[:, 0], None
        for blk in self.blocks[:-1]:
            x = blk(x)
        attn = self.blocks[-1](x, return_attention=True)
        x = self.blocks[-1](x)
        return self.norm(x)[:, 0], attn


class VisionTransformer(Backbone):
    def __init__(self, dim=384, depth=12, heads=6, patch=16, img_size=224):
        super().__init__()
        self.patch = patch
        self.patch_embed = PatchEmbed(patch, 3, dim)
        n = (img_size // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x, with_attention=True):
        _, _, w, h = x.shape
        return self.run_blocks(self.patch_embed(x), w // self.patch, h // self.patch, with_attention)


class VisionTransformer4K(Backbone):
    def __init__(self, in_dim=384, dim=192, depth=6, heads=6, img_size=224):
        super().__init__()
        self.phi = nn.Sequential(nn.Linear(in_dim, dim), nn.GELU(), nn.Dropout(0.0))
        n = (img_size // 16) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x, with_attention=True):
        _, _, w, h = x.shape
        return self.run_blocks(self.phi(x.flatten(2, 3).transpose(1, 2)), w, h, with_attention)


# ----------------------------------------------------------------------------- formulas
M32 = np.uint64(0xFFFFFFFF)


def mix(n, salt):
    h = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B1) + np.uint64(salt) * np.uint64(0x85EBCA77)) & M32
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & M32
    h ^= h >> np.uint64(16)
    return h


def unit(n, salt):
    return mix(n, salt).astype(np.float64) / 2.0**32 * 2.0 - 1.0


def formula_weights(model):
    with torch.no_grad():
        for k, (name, p) in enumerate(model.named_parameters()):
            u = unit(p.numel(), k + 1)
            if name in ("cls_token", "pos_embed"):
                v = 0.5 * u
            elif p.dim() >= 2:
                v = u * (1.5 * math.sqrt(3.0) / math.sqrt(p.numel() / p.shape[0]))
            elif name.endswith(".weight"):
                v = 1.0 + 0.2 * u
            else:
                v = 0.1 * u
            p.copy_(torch.from_numpy(v.astype(np.float32)).reshape(p.shape))


def formula(shape, salt, scale):
    n = int(np.prod(shape))
    return torch.from_numpy((scale * unit(n, salt)).astype(np.float32)).reshape(shape)


def image_input(shape):
    return formula(shape, 1001, 0.95)


def grid_input(shape):
    return formula(shape, 1002, 1.0)


def region_u8(h, w):
    return (mix(h * w * 3, 1004) >> np.uint64(24)).astype(np.uint8).reshape(h, w, 3)


# ----------------------------------------------------------------------------- safetensors writer
def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().numpy() if isinstance(t, torch.Tensor) else t)
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8", np.dtype(np.int64): "I64"}[a.dtype]
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    print(f"{path}: {os.path.getsize(path)} bytes, {len(tensors)} tensors")


# ----------------------------------------------------------------------------- fixtures
def param_table(model):
    """'name:d0xd1x...' for every parameter, in named_parameters() order (the C++ order must match)."""
    return ",".join(f"{n}:{'x'.join(map(str, p.shape))}" for n, p in model.named_parameters())


def vit256_fixture(out):
    m = VisionTransformer().eval()
    formula_weights(m)
    x = image_input((1, 3, 256, 256))
    with torch.no_grad():
        cls, attn = m(x)
    write_safetensors(os.path.join(out, "vit256_patch.safetensors"),
                      {"cls": cls, "attn_cls_row": attn[:, :, 0, :].contiguous()},
                      {"script": "scripts/make_vit_fixtures.py", "torch": torch.__version__,
                       "params": param_table(m)})


def vit4k_fixture(out):
    m = VisionTransformer4K().eval()
    formula_weights(m)
    t = {}
    with torch.no_grad():
        for tag, (rows, cols) in {"16x16": (16, 16), "12x9": (12, 9), "14x14": (14, 14)}.items():
            cls, attn = m(grid_input((1, 384, rows, cols)))
            t[f"cls_{tag}"] = cls
            t[f"attn_cls_row_{tag}"] = attn[:, :, 0, :].contiguous()
        t["pos_12x9"] = interpolate_pos(m.pos_embed, 108, 12, 9)
    write_safetensors(os.path.join(out, "vit4k_grid.safetensors"), t,
                      {"script": "scripts/make_vit_fixtures.py", "torch": torch.__version__,
                       "params": param_table(m)})


def center_crop_offset(size, crop):
    return int(round((size - crop) / 2.0))  # torchvision center_crop: Python round, half to even


def region_fixture(out, h=1061, w=1030):
    vit256, vit4k = VisionTransformer().eval(), VisionTransformer4K().eval()
    formula_weights(vit256)
    formula_weights(vit4k)
    u8 = region_u8(h, w)
    x = torch.from_numpy(u8).permute(2, 0, 1).contiguous().float().div(255)  # ToTensor
    x = (x - 0.5) / 0.5  # Normalize(0.5, 0.5)
    hc, wc = h - h % 256, w - w % 256
    top, left = center_crop_offset(h, hc), center_crop_offset(w, wc)
    x = x[:, top:top + hc, left:left + wc].unsqueeze(0)
    rows, cols = hc // 256, wc // 256
    patches = x.unfold(2, 256, 256).unfold(3, 256, 256)  # [1, 3, rows, cols, 256, 256]
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(rows * cols, 3, 256, 256)
    with torch.no_grad():
        feats, attn256 = vit256(patches)
        grid = feats.reshape(rows, cols, 384).permute(2, 0, 1).unsqueeze(0)
        region, attn4k = vit4k(grid)
    write_safetensors(os.path.join(out, "hipt4k_region.safetensors"),
                      {"patch_features": feats, "region_feature": region[0],
                       "attn256_cls": attn256[:, :, 0, 1:].contiguous(), "attn4k": attn4k[0],
                       "crop_offsets": np.array([top, left], dtype=np.int64)},
                      {"script": "scripts/make_vit_fixtures.py", "torch": torch.__version__,
                       "region": f"{h}x{w}"})


TINY = dict(dim=32, depth=2, heads=2, patch=8, img_size=32)  # pos_embed for a 4x4 grid
TINY_INPUT = (2, 3, 24, 40)                                   # a 3x5 grid: the resize runs, non-square
TINY_ADAMW = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
TINY_STEPS = 10


def tiny_train_fixture(out):
    m = VisionTransformer(**TINY).train()
    formula_weights(m)
    x = image_input(TINY_INPUT)
    target = formula((TINY_INPUT[0], TINY["dim"]), 1003, 0.3)
    t = {}
    opt = torch.optim.AdamW(m.parameters(), **TINY_ADAMW)
    losses = []
    for step in range(TINY_STEPS):
        opt.zero_grad()
        cls, _ = m(x)
        loss = ((cls - target) ** 2).mean()
        loss.backward()
        if step == 0:
            t["cls"] = cls.detach()
            for name, p in m.named_parameters():
                t["grad." + name] = p.grad.clone()
        losses.append(loss.item())
        opt.step()
    t["losses"] = torch.tensor(losses, dtype=torch.float32)
    write_safetensors(os.path.join(out, "vit_tiny_train.safetensors"), t,
                      {"script": "scripts/make_vit_fixtures.py", "torch": torch.__version__})


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data")
    vit256_fixture(out)
    vit4k_fixture(out)
    region_fixture(out)
    tiny_train_fixture(out)
